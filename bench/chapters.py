"""Execution time of every chapter notebook, optionally side by side with another checkout of the course.

    python bench/chapters.py                                  # this checkout's book/ chapters
    python bench/chapters.py --other ../old-checkout          # both, interleaved, with the ratio
    python bench/chapters.py --folder solutions --repeat 3

Each notebook runs top to bottom in a fresh kernel (as nbval and the site build run it), with the kernel's
``tutorial_pkg`` imported from the checkout that owns the notebook (``PYTHONPATH``) and that checkout's own model
cache (``--cache``, default ``$TUTORIAL_CACHE_DIR`` or ``~/.cache/tutorial_pkg``, one subfolder per checkout).
A first, untimed pass fills the caches unless ``--cold``.  The two checkouts alternate notebook by notebook, so
a load on the machine hits both alike.  Prints the median (and min .. max) seconds per notebook and the ratio
``this / other``.  The course's budget: a chapter <= 90 s, an exercise notebook <= 30 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def run(notebook: Path, checkout: Path, cache: Path, timeout: int) -> tuple[float, float]:
    """``(wall, cpu)`` seconds to execute ``notebook`` in a fresh kernel whose ``tutorial_pkg`` comes from
    ``checkout``: the wall time of the run and the kernel's own CPU time (steadier on a shared machine)."""
    import nbformat
    from nbclient import NotebookClient

    env = {
        "PYTHONPATH": str(checkout),
        "TUTORIAL_CACHE_DIR": str(cache),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        "TQDM_DISABLE": "1",
    }
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import time as _t\nprint('__cpu__', _t.process_time())"))
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(notebook.parent)}})
        tic = time.perf_counter()
        client.execute()
        wall = time.perf_counter() - tic
        text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
        return wall, float(text.split("__cpu__", 1)[1])
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--other", type=Path, help="another checkout of the course to time side by side")
    parser.add_argument("--folder", default="book", choices=["book", "solutions", "exercises"])
    parser.add_argument("--only", nargs="*", default=None, help="notebook name prefixes, e.g. 05 06")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per notebook (median reported)")
    parser.add_argument("--cold", action="store_true", help="no untimed warm-up pass (times include training)")
    parser.add_argument("--cache", type=Path, default=None, help="cache root (a subfolder per checkout)")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    args = parser.parse_args(argv)

    default_cache = os.environ.get("TUTORIAL_CACHE_DIR") or str(Path.home() / ".cache" / "tutorial_pkg")
    root = args.cache or Path(default_cache)
    sides = {"this": HERE} | ({"other": args.other.resolve()} if args.other else {})
    caches = {name: root / f"bench-{name}" for name in sides}
    names = sorted(p.name for p in (HERE / args.folder).glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        names = [n for n in names if any(n.startswith(prefix) for prefix in args.only)]
    for name, checkout in sides.items():
        missing = [n for n in names if not (checkout / args.folder / n).exists()]
        if missing:
            print(f"{name} ({checkout}) has no {missing}; they are skipped", file=sys.stderr)
    names = [n for n in names if all((c / args.folder / n).exists() for c in sides.values())]

    if not args.cold:
        for n in names:
            for side, checkout in sides.items():
                run(checkout / args.folder / n, checkout, caches[side], args.timeout)
    runs: dict[str, dict[str, list[tuple[float, float]]]] = {n: {side: [] for side in sides} for n in names}
    for _ in range(args.repeat):
        for n in names:
            for side, checkout in sides.items():
                runs[n][side].append(run(checkout / args.folder / n, checkout, caches[side], args.timeout))

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):7.1f} ({min(values):.1f}..{max(values):.1f})"

    state = "cold" if args.cold else "warm cache"
    for k, what in enumerate(("wall", "kernel CPU")):
        runs_note = f"{args.repeat} timed run(s) each"
        print(f"\n{args.folder}/ notebooks, {state}, {runs_note}: {what} seconds, median (min..max)")
        head = f"{'notebook':32s} {'this':>22s}" + (f" {'other':>22s} {'this/other':>11s}" if args.other else "")
        print(head)
        totals = dict.fromkeys(sides, 0.0)
        for n in names:
            values = {side: [r[k] for r in runs[n][side]] for side in sides}
            for side in sides:
                totals[side] += statistics.median(values[side])
            row = f"{n:32s} {cell(values['this']):>22s}"
            if args.other:
                ratio = statistics.median(values["this"]) / statistics.median(values["other"])
                row += f" {cell(values['other']):>22s} {ratio:11.2f}"
            print(row)
        summary = f"{'total':32s} {totals['this']:7.1f}"
        if args.other:
            summary += f"{'':15s} {totals['other']:7.1f}{'':15s} {totals['this'] / totals['other']:11.2f}"
        print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
