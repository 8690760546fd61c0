"""The README's quick start, executed as it stands: own data -> TrainConfig -> load_or_train -> two samplers ->
the PF-ODE likelihood of held-out points against the exact value."""

from __future__ import annotations

import re
from pathlib import Path

import torch

import tutorial_pkg as tp

README = Path(__file__).resolve().parents[2] / "README.md"


def quick_start() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Using the package on your own data", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the quick start is one python block"
    return blocks[0]


def test_readme_quick_start_runs_and_its_numbers_hold(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TUTORIAL_CACHE_DIR", str(tmp_path))
    threads = torch.get_num_threads()
    namespace: dict = {}
    try:
        exec(compile(quick_start(), str(README), "exec"), namespace)  # noqa: S102  (the README's own code)
    finally:
        torch.set_num_threads(threads)
    assert "NLL of held-out points" in capsys.readouterr().out
    run, mix, sde = namespace["run"], namespace["mix"], namespace["sde"]
    assert run.finished and run.path is not None and run.path.parent == tmp_path
    # The model's held-out NLL is above the exact one (Gibbs, in expectation) by its score error near t_min:
    # seeds 0-4 of the block gave 0.33-0.46 nats (mean 0.40, sd 0.06); 0.7 is 5 sd above the mean.
    gap = float(namespace["exact"].mean() - namespace["log_p"].mean())
    assert 0 < gap < 0.7, gap
    # Both samplers land on the data: sliced W2 over the data floor, seeds 0-4: 0.89-1.15 (sd 0.08).
    quality = tp.SlicedW2Floor(mix.sample(2000, generator=torch.Generator().manual_seed(1)).float(),
                               [mix.sample(2000, generator=torch.Generator().manual_seed(k)).float() for k in (2, 3)],
                               chunk=1000)
    for name in ("x_sde", "x_ode"):
        assert quality.ratio(namespace[name]) < 1.5, name
    assert sde is run.model.sde
