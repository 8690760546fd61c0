"""Time to quality on the Swiss roll: ``tutorial_pkg.train`` against smalldiffusion's ``training_loop``.

Both contestants train on the same tensor of Swiss-roll points (``tp.swiss_roll``, std about 1.35 per
coordinate; smalldiffusion's log-linear schedule, sigma in [0.005, 10], covers that scale, so the data
are not rescaled), with an MLP of the same width and depth and the same batch size, each with its own
defaults otherwise.  Every ``--every`` steps the model is sampled with the contestant's own sampler and
scored by the sliced Wasserstein distance to held-out data, divided by the data-vs-data value at
2,000 samples (``ratio``; 1 is the noise floor).  The threshold is ``ratio <= 1.2``.  Evaluation time is
excluded from the training wall time.

    python bench/train_toy.py --quick     # 2,500 steps, one seed: about 2 minutes idle, 5 on a busy machine
    python bench/train_toy.py             # 6,000 steps, two seeds run interleaved: about 15 minutes on 2 cores

Needs the ``bench`` extra: ``pip install -e .[bench]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("TQDM_DISABLE", "1")  # smalldiffusion's training_loop always draws an epoch bar

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import torch  # noqa: E402

import tutorial_pkg as tp  # noqa: E402

SD_VERSION = "0.5.0"
try:
    import smalldiffusion as sd
except ImportError as err:
    raise SystemExit(
        f"bench/train_toy.py needs smalldiffusion: run `pip install -e .[bench]` in the repository "
        f"(or `pip install smalldiffusion=={SD_VERSION}`)"
    ) from err

CHUNK = 2000  # the sample size the metric and its noise floor refer to
THRESHOLD = 1.2
OUR_STEPS = 25  # ode_heun steps: 2 network evaluations each
PEER_STEPS, PEER_GAM = 20, 2.0  # smalldiffusion's README: samples(model, schedule.sample_sigmas(20), gam=2)

History = list[tuple[int, float, float]]  # (step, training seconds so far, ratio)
Run = tuple[History, tuple[float, float]]  # the history, (wall, CPU) training seconds over the budget


def make_metric(blocks: int, projections: int) -> tp.SlicedW2Floor:
    """Sliced W2 between samples and held-out data, in blocks of 2,000, divided by its data-vs-data value
    (at least 16 blocks of fresh data for the floor; the same projections for every evaluation)."""
    g = torch.Generator().manual_seed(12345)
    n = blocks * CHUNK
    held_out = tp.swiss_roll(n, generator=g)
    fresh = [tp.swiss_roll(n, generator=g) for _ in range(math.ceil(16 / blocks))]
    return tp.SlicedW2Floor(held_out, fresh, chunk=CHUNK, n_projections=projections, seed=777)


class Clock:
    """Wall and CPU time since creation, less the time spent in evaluations."""

    def __init__(self) -> None:
        self.start, self.cpu_start, self.paused, self.cpu_paused = time.perf_counter(), time.process_time(), 0.0, 0.0

    def now(self) -> tuple[float, float]:
        return time.perf_counter() - self.start - self.paused, time.process_time() - self.cpu_start - self.cpu_paused

    def evaluate(self, history: History, step: int, fn: Callable[[], float]) -> None:
        seconds, tic, cpu_tic = self.now()[0], time.perf_counter(), time.process_time()
        history.append((step, seconds, fn()))
        self.paused += time.perf_counter() - tic
        self.cpu_paused += time.process_time() - cpu_tic


class Rows(torch.utils.data.Dataset):
    """Our tensor as a Dataset that hands the DataLoader a whole batch at once (no per-row collation)."""

    def __init__(self, x: torch.Tensor):
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]

    def __getitems__(self, indices: list[int]) -> torch.Tensor:
        return self.x[indices]


def _batch(rows: torch.Tensor) -> torch.Tensor:
    return rows


def run_ours(data: torch.Tensor, args: argparse.Namespace, seed: int, metric: tp.SlicedW2Floor) -> Run:
    net = {"hidden": args.hidden, "depth": args.depth}
    config = tp.TrainConfig(sde="vp", net_kwargs=net, batch_size=args.batch, steps=args.steps, seed=seed)
    sde = config.make_sde()
    grid = tp.uniform_grid(sde, OUR_STEPS)
    history: History = []
    clock = Clock()

    def sample(model: torch.nn.Module) -> float:
        g = torch.Generator().manual_seed(seed + 1)
        x_T = sde.prior_sample((metric.reference.shape[0], 2), generator=g)
        return metric.ratio(tp.ode_heun(sde, model, x_T, grid))

    def callback(step: int, model: torch.nn.Module) -> None:  # called under torch.no_grad
        clock.evaluate(history, step, lambda: sample(model))

    tp.train(config, data, device="cpu", callback=callback, callback_every=args.every)
    return history, clock.now()


def run_peer(data: torch.Tensor, args: argparse.Namespace, seed: int, metric: tp.SlicedW2Floor) -> Run:
    clock = Clock()
    torch.manual_seed(seed)  # smalldiffusion draws everything from the global generator
    model = sd.TimeInputMLP(dim=2, hidden_dims=(args.hidden,) * args.depth)
    schedule = sd.ScheduleLogLinear(N=200, sigma_min=0.005, sigma_max=10)  # its README's toy settings
    loader = torch.utils.data.DataLoader(Rows(data), batch_size=args.batch, shuffle=True, drop_last=True,
                                         collate_fn=_batch)
    sigmas = schedule.sample_sigmas(PEER_STEPS)
    history: History = []

    def sample() -> float:
        with torch.random.fork_rng(devices=[]):  # leave the training draws untouched
            g = torch.Generator().manual_seed(seed + 1)
            x_T = torch.randn(metric.reference.shape[0], 2, generator=g) * sigmas[0]
            *_, x = sd.samples(model, sigmas, gam=PEER_GAM, xt=x_T)
        return metric.ratio(x)

    loop = sd.training_loop(loader, model, schedule, epochs=10**9)
    for i, _ in enumerate(loop):  # the i-th yield comes after i optimiser steps (it precedes backward)
        if i > 0 and (i % args.every == 0 or i == args.steps):
            clock.evaluate(history, i, sample)
        if i == args.steps:
            break
    seconds = clock.now()
    loop.close()
    return history, seconds


def summarise(history: History, seconds: tuple[float, float], steps: int) -> dict:
    hit = next(((s, t) for s, t, r in history if r <= THRESHOLD), None)
    return {"steps": hit[0] if hit else None, "time": hit[1] if hit else None, "ms": 1e3 * seconds[0] / steps,
            "cpu": 1e3 * seconds[1] / steps, "final": history[-1][2], "best": min(r for _, _, r in history)}


def cells(r: dict, budget: str) -> list[str]:
    steps = budget if r["steps"] is None else f"{r['steps']:.0f}"
    time_ = "-" if r["time"] is None else f"{r['time']:.1f}"
    return [steps, time_] + [f"{r[k]:.2f}" for k in ("ms", "cpu", "final", "best")]


def median(runs: list[dict]) -> dict:
    """Medians over seeds; a run that never reached the threshold counts as infinitely slow."""
    out = {}
    for key in runs[0]:
        m = statistics.median(float("inf") if r[key] is None else r[key] for r in runs)
        out[key] = None if m == float("inf") else m
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small budget (a few minutes)")
    parser.add_argument("--seeds", type=int, default=None, help="repetitions (default 2, or 1 with --quick)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 6000; 2500 with --quick)")
    parser.add_argument("--every", type=int, default=250, help="evaluate every so many steps")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--blocks", type=int, default=4, help="2,000-sample blocks per evaluation")
    parser.add_argument("--projections", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    args.seeds = args.seeds or (1 if args.quick else 2)
    args.steps = args.steps or (2500 if args.quick else 6000)
    torch.set_num_threads(args.threads)

    data = tp.swiss_roll(20_000, generator=torch.Generator().manual_seed(0))
    metric = make_metric(args.blocks, args.projections)
    peer = f"smalldiffusion {importlib.metadata.version('smalldiffusion')}"
    contestants = [("tutorial_pkg", run_ours, 2 * OUR_STEPS), (peer, run_peer, PEER_STEPS)]
    print(f"# Swiss roll, MLP {args.depth}x{args.hidden}, batch {args.batch}, {args.steps} steps, "
          f"threshold ratio <= {THRESHOLD} (floor SW {metric.floor:.4f} at {CHUNK} samples), "
          f"torch {torch.__version__}, {args.threads} thread(s), {platform.machine()} x{os.cpu_count()}")
    results: dict[str, list[dict]] = {name: [] for name, _, _ in contestants}
    nfe = {name: n for name, _, n in contestants}
    for rep in range(args.seeds):
        order = contestants if rep % 2 == 0 else contestants[::-1]  # interleave, alternate who goes first
        for name, run, _ in order:
            history, seconds = run(data, args, rep, metric)
            results[name].append(summarise(history, seconds, args.steps))
            curve = " ".join(f"{s}:{r:.2f}" for s, _, r in history)
            print(f"seed {rep} {name}: {seconds[0]:.1f} s training ({seconds[1]:.1f} s CPU); ratio by step {curve}",
                  flush=True)

    budget = f">{args.steps}"
    header = ["contestant", "seed", "steps to 1.2", "train s to 1.2", "ms/step", "CPU ms/step", "final ratio",
              "best ratio", "sampler NFE"]
    print("\n" + "\n".join("| " + " | ".join(r) + " |" for r in [header, ["---"] * len(header)]))
    for name, runs in results.items():
        rows = [(str(seed), r) for seed, r in enumerate(runs)] + ([("median", median(runs))] if len(runs) > 1 else [])
        for seed, r in rows:
            print("| " + " | ".join([name, seed, *cells(r, budget), str(nfe[name])]) + " |")


if __name__ == "__main__":
    main()
