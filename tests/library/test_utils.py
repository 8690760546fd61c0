from __future__ import annotations

import numpy as np
import pytest
import torch

import tutorial_pkg as tp


def test_seed_everything_reproduces_all_generators():
    g1 = tp.seed_everything(7)
    # np.random.rand: the legacy global generator is exactly what seed_everything seeds
    a = (torch.randn(3), np.random.rand(3), torch.randn(3, generator=g1))  # noqa: NPY002
    g2 = tp.seed_everything(7)
    b = (torch.randn(3), np.random.rand(3), torch.randn(3, generator=g2))  # noqa: NPY002
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and torch.equal(a[2], b[2])
    with pytest.raises(TypeError, match="seed must be an int"):
        tp.seed_everything(1.5)


def test_get_device_is_usable():
    device = tp.get_device()
    assert torch.zeros(1, device=device).device.type == device.type


def test_append_dims_and_sum_except_batch():
    v = torch.arange(3.0)
    assert tp.append_dims(v, 4).shape == (3, 1, 1, 1)
    assert torch.equal(tp.sum_except_batch(torch.ones(3, 2, 5)), torch.full((3,), 10.0))
    with pytest.raises(ValueError, match="cannot broadcast"):
        tp.append_dims(torch.zeros(2, 2), 1)


def test_randn_same_numbers_for_any_target_device():
    a = tp.randn((4,), generator=torch.Generator().manual_seed(0), device="cpu")
    b = tp.randn((4,), generator=torch.Generator().manual_seed(0), device=tp.get_device())
    assert torch.equal(a, b.cpu())


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("TUTORIAL_PROFILE", "full")
    assert tp.get_profile() == "full"
    monkeypatch.delenv("TUTORIAL_PROFILE")
    assert tp.get_profile() == ("full" if torch.cuda.is_available() else "quick")
    monkeypatch.setenv("TUTORIAL_PROFILE", "fast")
    with pytest.raises(ValueError, match="is not a profile; use one of quick, full"):
        tp.get_profile()
