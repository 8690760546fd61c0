"""The course as a whole: layout, notebook rules, the book's configuration, exercises in sync."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tutorial_pkg.course import api_page
from tutorial_pkg.course import exercise_notebooks as gen

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
ALL_NOTEBOOKS = sorted(p for d in ("book", "solutions", "exercises") for p in (ROOT / d).glob("*.ipynb"))


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def test_top_level_layout():
    for name in ["book", "tutorial_pkg", "exercises", "solutions", "tests"]:
        assert (ROOT / name).is_dir(), name
    for name in ["requirements.txt", "README.md", "_config.yml", "_toc.yml", "pyproject.toml", ".ci/run"]:
        assert (ROOT / name).is_file(), name


def test_requirements_pin_the_stack_and_install_the_package():
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    reqs = [ln for ln in lines if ln and not ln.startswith("#")]
    assert reqs[-1] == "-e ."
    names = {re.split(r"[=<>!~ ]", r)[0].lower() for r in reqs[:-1]}
    for needed in [
        "jupyter-book",
        "sphinx-exercise",
        "sphinx-proof",
        "sphinxcontrib-bibtex",
        "jupyterlab",
        "torch",
        "torchvision",
        "numpy",
        "matplotlib",
        "ipywidgets",
        "nbval",
        "pytest",
        "tqdm",
        "scikit-learn",
        "ruff",
    ]:
        assert needed in names, needed
    jb = next(r for r in reqs if r.startswith("jupyter-book"))
    assert re.search(r"==1\.|<2", jb), "Jupyter Book 2 cannot build offline: pin 1.x"


def test_readme_states_the_commands_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    assert "pip install -r requirements.txt && jupyter-book build ." in readme
    assert "pytest" in readme and "jupyter lab" in readme
    assert re.search(r"^\s*pytest\b", ci, re.M), ".ci/run must call the README's test command"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_committed_clean(path):
    nb = load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name}: commit notebooks without outputs"
            assert cell.get("execution_count") is None


def test_toc_lists_every_chapter_and_only_existing_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    for f in files:
        assert any((ROOT / f).with_suffix(ext).exists() for ext in (".md", ".ipynb")), f
    for chapter in CHAPTERS:
        assert f"book/{chapter.stem}" in files, f"{chapter.name} is not in _toc.yml"


def test_every_chapter_has_exercise_notebooks():
    assert CHAPTERS, "no chapters found"
    for chapter in CHAPTERS:
        assert (ROOT / "solutions" / chapter.name).exists(), chapter.name
        assert (ROOT / "exercises" / chapter.name).exists(), chapter.name


def _macros_from_config() -> dict[str, str]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_macros_match_the_site(path):
    """JupyterLab gets the macros from a hidden first cell; the site from _config.yml: they must agree."""
    cells = load(path)["cells"]
    cell = next(c for c in cells if "\\newcommand" in source(c))
    found = dict(re.findall(r"\\newcommand\{\\(\w+)\}\{(.*)\}\s*$", source(cell), re.M))
    assert found == _macros_from_config()
    if path.parent.name == "book":
        assert "remove-cell" in cell["metadata"].get("tags", [])


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_structure(path):
    cells = load(path)["cells"]
    md = "\n".join(source(c) for c in cells if c["cell_type"] == "markdown")
    code = "\n".join(source(c) for c in cells if c["cell_type"] == "code")
    assert len(re.findall(r"^# ", md, re.M)) == 1, "exactly one top-level title per chapter"
    assert re.search(r"learning goals", md, re.I) and re.search(r"prerequisites", md, re.I)
    assert re.search(r"^#+ .*summary", md, re.I | re.M)
    assert len(re.findall(r"^\s*assert\b", code, re.M)) >= 3, "at least three asserted claims"
    assert len(re.findall(r"```\{exercise\}", md)) >= 3, "at least three exercises"
    assert len(re.findall(r"```\{solution\}", md)) >= 3, "every exercise has a solution"


def test_citations_exist_in_the_bibliography():
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    for path in CHAPTERS:
        md = "\n".join(source(c) for c in load(path)["cells"] if c["cell_type"] == "markdown")
        for group in re.findall(r"\{cite[pt]?\}`([^`]+)`", md):
            for key in group.split(","):
                assert key.strip() in keys, f"{path.name} cites unknown key {key!r}"


def test_api_page_is_in_sync_and_complete():
    assert api_page.sync(ROOT, check=True), "run `python -m tutorial_pkg.course.api_page`"
    assert not api_page.missing_names(), api_page.missing_names()


def test_exercises_are_in_sync_with_solutions():
    stale = gen.sync(ROOT, check=True)
    assert not stale, f"run `python -m tutorial_pkg.course.exercise_notebooks`: {stale}"


# --- the generator itself --------------------------------------------------------------------


def _nb(*cells):
    return {"cells": list(cells), "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}


def _code(src, tags=()):
    return {
        "cell_type": "code",
        "source": src,
        "metadata": {"tags": list(tags)},
        "outputs": [],
        "execution_count": None,
    }


def test_generator_replaces_solutions_and_tags_cells():
    nb = _nb(
        _code("def f(x):\n    # BEGIN SOLUTION\n    y = 2 * x\n    return y\n    # END SOLUTION\n"),
        _code("check(f)", tags=["uses-solution"]),
        {
            "cell_type": "markdown",
            "source": "Why? <!-- BEGIN SOLUTION -->Because.<!-- END SOLUTION -->",
            "metadata": {},
        },
        _code("secret = 1", tags=["solution-only"]),
    )
    student = gen.make_student_notebook(nb)
    code = [c for c in student["cells"] if c["cell_type"] == "code"]
    assert code[0]["source"] == f"def f(x):\n    {gen.STUB}\n"
    assert "raises-exception" in code[0]["metadata"]["tags"] and "raises-exception" in code[1]["metadata"]["tags"]
    assert len(code) == 2, "solution-only cells are dropped"
    assert "Because" not in json.dumps(student) and gen.MD_PROMPT in json.dumps(student)


@pytest.mark.parametrize(
    "src, message",
    [
        ("# BEGIN SOLUTION\nx = 1\n", "without END"),
        ("x = 1\n# END SOLUTION\n", "without BEGIN"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "nested"),
    ],
)
def test_generator_rejects_unbalanced_markers(src, message):
    with pytest.raises(ValueError, match=message):
        gen.make_student_notebook(_nb(_code(src)))


def test_generator_rejects_a_notebook_without_exercises():
    with pytest.raises(ValueError, match="no BEGIN SOLUTION region"):
        gen.make_student_notebook(_nb(_code("x = 1")))
