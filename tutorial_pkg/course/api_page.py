"""Write the book's API reference page, ``book/api.md``, from the package's own ``__all__`` lists.

The page is Sphinx autodoc directives, one section per module, in tier order: the library (every name as
``tp.<name>``), then ``exact``, ``study`` and ``recipes``; ``checks`` and ``course`` by their module docstrings.
The docstrings are the text; this module only decides the order.  Run
``python -m tutorial_pkg.course.api_page`` after adding a public name, or with ``--check`` to fail when the page
is out of date (the test suite does this).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

__all__ = ["LIBRARY_MODULES", "TIER_MODULES", "render", "missing_names", "sync"]

#: The library's modules in reading order (each section lists the public names that module defines).
LIBRARY_MODULES = (
    "sde",
    "distributions",
    "datasets",
    "grids",
    "losses",
    "nets",
    "samplers",
    "likelihood",
    "consistency",
    "training",
    "metrics",
    "stats",
    "autodiff",
    "utils",
)
TIER_MODULES = {
    "exact": ("forward", "bounds", "reverse", "samplers", "score_matching", "likelihood", "consistency"),
    "study": ("stochastic", "score_error", "score_matching", "samplers", "likelihood", "consistency"),
}

HEADER = """# API reference

The companion package in its tiers (`CONTRIBUTING.md` has the rules). The **library** is flat: every name below
is `tp.<name>` after `import tutorial_pkg as tp`. The **exact** tier holds closed forms that never sample
(`from tutorial_pkg import exact`), the **study** tier the procedures that measure (`from tutorial_pkg import
study`), **recipes** the trained models that chapters share. This page is generated from the docstrings by
`python -m tutorial_pkg.course.api_page`.
"""


def _defined_in(package: str, names, module: str) -> list[str]:
    """The classes and functions of ``package`` defined in ``module`` (or its submodules), in source order."""
    pkg = importlib.import_module(package)
    found = []
    for name in names:
        obj = getattr(pkg, name)
        home = getattr(obj, "__module__", None) if (inspect.isclass(obj) or inspect.isfunction(obj)) else None
        if home is not None and (home == module or home.startswith(module + ".")):
            found.append((home, inspect.getsourcelines(obj)[1], name))
    return [name for _, _, name in sorted(found)]


def _constants(package: str, names, module: str) -> list[str]:
    """The data names of ``package`` (not classes or functions) that ``module`` lists in its own ``__all__``."""
    pkg, mod = importlib.import_module(package), importlib.import_module(module)
    own = getattr(mod, "__all__", ())
    out = []
    for name in names:
        obj = getattr(pkg, name)
        if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj) or name == "__version__":
            continue
        if name in own:
            out.append(name)
    return out


def _home_of(module: str, name: str) -> str:
    """The module (``module`` or one of its submodules) whose source assigns ``name``: where its ``#:`` doc lives."""
    mod = importlib.import_module(module)
    candidates = [module]
    if hasattr(mod, "__path__"):
        candidates += [f"{module}.{info.name}" for info in pkgutil.iter_modules(mod.__path__)]
    for candidate in candidates:
        source = inspect.getsource(importlib.import_module(candidate))
        if re.search(rf"^{name}\s*[:=]", source, re.M):
            return candidate
    raise LookupError(f"no module under {module} assigns {name}")


def _entries(names: list[str], package: str) -> list[str]:
    pkg = importlib.import_module(package)
    lines = []
    for name in names:
        obj = getattr(pkg, name)
        if inspect.isclass(obj):
            lines.append(f".. autoclass:: {name}\n   :members:\n")
        elif inspect.isfunction(obj):
            lines.append(f".. autofunction:: {name}\n")
    return lines


def _section(title: str, module: str, package: str, documented: set[str]) -> str:
    pkg = importlib.import_module(package)
    names = list(pkg.__all__)
    functions_and_classes = _defined_in(package, names, module)
    data = _constants(package, names, module)
    documented |= {f"{package}.{name}" for name in functions_and_classes + data}
    body = [f".. automodule:: {module}\n   :no-members:\n", f".. currentmodule:: {package}\n"]
    body += _entries(functions_and_classes, package)
    body += [f".. autodata:: {_home_of(module, name)}.{name}\n   :no-value:\n" for name in data]
    return f"### `{title}`\n\n```{{eval-rst}}\n" + "\n".join(body) + "```\n"


def _render() -> tuple[str, set[str]]:
    documented: set[str] = set()
    parts = [HEADER, "## The library\n"]
    parts += [_section(f"tutorial_pkg.{m}", f"tutorial_pkg.{m}", "tutorial_pkg", documented) for m in LIBRARY_MODULES]
    for tier, modules in TIER_MODULES.items():
        parts.append(f"## The `{tier}` tier\n")
        parts += [
            _section(f"{tier}.{m}", f"tutorial_pkg.{tier}.{m}", f"tutorial_pkg.{tier}", documented) for m in modules
        ]
    parts.append("## Recipes\n")
    parts.append(_section("tutorial_pkg.recipes", "tutorial_pkg.recipes", "tutorial_pkg.recipes", documented))
    parts.append("## Checkers and course tooling\n")
    for module in ("tutorial_pkg.checks", "tutorial_pkg.course.exercise_notebooks", "tutorial_pkg.course.plotting"):
        parts.append(f"### `{module}`\n\n```{{eval-rst}}\n.. automodule:: {module}\n   :no-members:\n```\n")
    return "\n".join(parts), documented


def render() -> str:
    """The text of ``book/api.md``."""
    return _render()[0]


def missing_names() -> list[str]:
    """Public names of the library, ``exact``, ``study`` and ``recipes`` that no section of the page documents."""
    documented = _render()[1]
    public = {
        f"{package}.{name}"
        for package in ("tutorial_pkg", "tutorial_pkg.exact", "tutorial_pkg.study", "tutorial_pkg.recipes")
        for name in importlib.import_module(package).__all__
        if name != "__version__"
    }
    return sorted(public - documented)


def sync(root: Path, check: bool = False) -> bool:
    """Write (or with ``check=True`` only compare) ``book/api.md``; returns True when it was up to date."""
    target = Path(root) / "book" / "api.md"
    text = render()
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if current == text:
        return True
    if not check:
        target.write_text(text, encoding="utf-8")
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=".", help="repository root (default: current folder)")
    parser.add_argument("--check", action="store_true", help="only report whether book/api.md is out of date")
    args = parser.parse_args(argv)
    fresh = sync(Path(args.root), check=args.check)
    if args.check and not fresh:
        print("book/api.md is out of date; run `python -m tutorial_pkg.course.api_page`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
