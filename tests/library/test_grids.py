"""Time grids: one signature, their shapes and ends, the noise-to-signal ratio and its inverse, the one check."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import ALL_SDES, sde_id

import tutorial_pkg as tp

T_MIN = 1e-3


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
@pytest.mark.parametrize("name", sorted(tp.GRIDS))
def test_grids_share_one_signature_and_run_from_T_down_to_t_min(sde, name):
    ts = tp.make_grid(name, sde, 12, T_MIN)
    assert ts.shape == (13,) and ts.dtype == torch.float64
    assert float(ts[0]) == pytest.approx(sde.T, rel=1e-12) and float(ts[-1]) == pytest.approx(T_MIN, rel=1e-9)
    assert bool((ts[1:] < ts[:-1]).all())
    assert tp.make_grid(name, sde, 4, T_MIN, dtype=torch.float32).dtype == torch.float32


def test_quadratic_grid_shrinks_towards_t_min():
    ts = tp.quadratic_grid(tp.VP(), 10, T_MIN)
    steps = ts[:-1] - ts[1:]
    assert bool((steps[1:] < steps[:-1]).all())
    torch.testing.assert_close(ts, T_MIN + (1 - T_MIN) * torch.linspace(1, 0, 11, dtype=torch.float64) ** 2)


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_noise_to_signal_ratio_and_its_inverse(sde):
    t = torch.linspace(0.01, 1.0, 25, dtype=torch.float64) * sde.T
    nu = sde.noise_to_signal(t)
    torch.testing.assert_close(nu, sde.std(t) / sde.mean_coeff(t))
    assert bool((nu[1:] > nu[:-1]).all())
    torch.testing.assert_close(sde.time_at_noise_to_signal(nu), t, rtol=1e-10, atol=1e-12)
    assert float(sde.time_at_noise_to_signal(0.0)) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match=r"nu must lie in \[0, nu\(T\)\]"):
        sde.time_at_noise_to_signal(2 * float(sde.noise_to_signal(sde.T)))


def test_karras_grid_is_even_in_nu_to_the_one_over_rho():
    sde = tp.VE(sigma_min=0.01, sigma_max=10.0)
    ts = tp.karras_grid(sde, 16, T_MIN, rho=7.0)
    u = sde.noise_to_signal(ts) ** (1 / 7)
    torch.testing.assert_close(u.diff(), torch.full((16,), float(u.diff().mean()), dtype=torch.float64), rtol=1e-8,
                               atol=1e-10)
    inc = tp.increasing_karras_grid(sde, 16, T_MIN)
    torch.testing.assert_close(inc, ts.flip(0))
    with pytest.raises(ValueError, match=r"t_min must lie in \(0, T\)"):
        tp.karras_grid(sde, 10, 0.0)


def test_check_grid():
    assert tp.check_grid([1.0, 0.5, 0.1]).dtype == torch.float64
    like = torch.zeros(2, dtype=torch.float32)
    assert tp.check_grid(torch.tensor([1.0, 0.5]), like=like).dtype == torch.float32
    for ts, decreasing, match in [
        ([1.0], True, "at least two times"),
        ([1.0, 0.5, 0.7], True, "strictly decreasing"),
        ([0.0, 0.5, 0.4], False, "strictly increasing"),
        ([0.0, 0.5, 0.4], None, "strictly monotone"),
        ([1.0, float("nan")], True, "NaN"),
    ]:
        with pytest.raises(ValueError, match=match):
            tp.check_grid(ts, decreasing=decreasing)
    with pytest.raises(ValueError, match=r"must lie in \[0, T\] = \[0, 1\]"):
        tp.check_grid([1.5, 0.1], T=1.0)


@pytest.mark.parametrize("bad", [0, -2, 1.5])
def test_bad_step_counts(bad):
    with pytest.raises(ValueError, match="n_steps must be a positive int"):
        tp.uniform_grid(tp.VP(), bad)
    with pytest.raises(ValueError, match="unknown grid"):
        tp.make_grid("cosine", tp.VP(), 10)
    assert math.isfinite(float(tp.uniform_grid(tp.VP(), 3)[0]))
