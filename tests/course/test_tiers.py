"""The package's tiers and their rules, read from the source (imports parsed with ``ast``, nothing run).

* the library never imports ``exact``, ``study``, ``recipes``, ``checks`` or ``course``;
* ``exact`` imports only the library and itself, and never draws a random number;
* ``study`` imports the library and ``exact``; ``recipes`` the library only; nothing imports ``course``;
* no notebook imports (or reaches through a module for) a private name;
* the package docstring names every top-level module and subpackage, each subpackage's docstring its modules,
  and CONTRIBUTING.md every module file.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "tutorial_pkg"
TIERS = ("exact", "study", "recipes", "checks", "course")
MODULES = sorted(p for p in PKG.rglob("*.py"))
NOTEBOOKS = sorted(p for d in ("book", "solutions", "exercises") for p in (ROOT / d).glob("*.ipynb"))


def dotted(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def tier(module: str) -> str:
    """'library' or the tier a dotted module name belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in TIERS else "library"


def imported_modules(path: Path) -> set[str]:
    """The package modules that ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = dotted(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("tutorial_pkg")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("tutorial_pkg"):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}  # `from . import exact` imports a module
    return found


ALLOWED = {
    "library": {"library"},
    "exact": {"library", "exact"},
    "study": {"library", "exact", "study"},
    "recipes": {"library"},
    "checks": {"library", "exact", "study", "checks"},
    "course": {"library", "exact", "study", "recipes", "checks", "course"},
}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_import_rules(path):
    own = tier(dotted(path))
    for module in imported_modules(path):
        if module == "tutorial_pkg" and own != "library":
            raise AssertionError(f"{dotted(path)} imports the whole package; import the modules it needs")
        other = tier(module)
        assert other in ALLOWED[own], f"{dotted(path)} ({own}) must not import {module} ({other})"


#: Calls and attributes that draw random numbers (torch's, NumPy's, Python's, and the package's samplers).
RANDOM = {
    "randn", "rand", "randint", "randperm", "randn_like", "rand_like", "normal", "normal_", "uniform_",
    "bernoulli", "multinomial", "poisson", "manual_seed", "Generator", "random", "sample", "sample_marginal",
    "prior_sample", "draw_probes", "draw_batch", "sample_times", "random_projections", "seed_everything",
    "default_rng",
}  # fmt: skip


@pytest.mark.parametrize("path", [p for p in MODULES if tier(dotted(p)) == "exact"], ids=lambda p: p.name)
def test_exact_tier_never_draws_random_numbers(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    drawn = sorted(names & RANDOM)
    assert not drawn, f"{path.name} uses {drawn}: closed forms never sample (move the procedure to study/)"
    args = {a.arg for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) for a in n.args.kwonlyargs + n.args.args}
    assert "generator" not in args, f"{path.name} takes a generator: closed forms never sample"


def _code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in code]


#: ``tp._x``, ``exact._y``, ``study.module._z``: a private name reached through a module of the package.
PRIVATE_ATTRIBUTE = re.compile(r"\b(tp|exact|study|recipes|checks|tutorial_pkg)\.(\w+\.)*_[a-z]\w*")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebooks_use_public_names_only(path):
    for source in _code_cells(path):
        m = PRIVATE_ATTRIBUTE.search(source)
        assert m is None, f"{path.parent.name}/{path.name} uses a private name: {m.group(0)!r}"
        try:
            tree = ast.parse(source)
        except SyntaxError:  # a student stub or a magic: nothing to import there
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tutorial_pkg"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private and "._" not in node.module, f"{path.name} imports {private or node.module}"
            if isinstance(node, ast.Import):
                bad = [a.name for a in node.names if a.name.startswith("tutorial_pkg") and "._" in a.name]
                assert not bad, f"{path.name} imports the private module {bad}"


def _docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def test_package_docstring_names_every_module_and_tier():
    doc = _docstring(PKG / "__init__.py")
    top = sorted(p.stem for p in PKG.glob("*.py") if not p.name.startswith("_"))
    subpackages = sorted(p.name for p in PKG.iterdir() if (p / "__init__.py").exists())
    for name in top + subpackages:
        assert f"tutorial_pkg.{name}`" in doc, f"the package docstring does not list tutorial_pkg.{name}"


@pytest.mark.parametrize("package", sorted(p for p in PKG.iterdir() if (p / "__init__.py").exists()), ids=str)
def test_subpackage_docstrings_name_their_modules(package):
    if package.name == "checks":  # one module per chapter, named chNN: the docstring says so
        return
    doc = _docstring(package / "__init__.py")
    for module in sorted(p.stem for p in package.glob("*.py") if not p.name.startswith("_")):
        assert f".{module}`" in doc, f"{package.name}/__init__.py does not list its module {module}"


def test_contributing_lists_every_module_and_its_tier():
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for path in MODULES:
        rel = path.relative_to(PKG)
        if rel.name == "__init__.py" or rel.parts[0] == "checks":
            continue
        assert str(rel) in text, f"CONTRIBUTING.md does not list {rel}"
    for name in ("library", *TIERS):
        assert re.search(rf"\b{name}\b", text), name


def test_nothing_imports_the_course_tier():
    for path in MODULES:
        if tier(dotted(path)) == "course":
            continue
        for module in imported_modules(path):
            assert tier(module) != "course", f"{dotted(path)} imports {module}: the course tier is book tooling"
