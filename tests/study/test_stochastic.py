"""Brownian paths, Itô and Stratonovich sums, recorded Euler–Maruyama paths and the exact solutions driven by
the same noise.  Monte Carlo checks use 4 standard errors (a correct claim fails with probability ~6e-5)."""

from __future__ import annotations

import math

import pytest
import torch

import tutorial_pkg as tp
from tutorial_pkg import exact, study


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_brownian_increments_have_the_grid_variances_and_a_batch_first_layout():
    ts = torch.tensor([0.0, 0.1, 0.4, 1.0])
    dW = study.brownian_increments(40_000, ts, (2,), generator=_gen())
    assert dW.shape == (40_000, 3, 2)
    var, h = dW.var(0), ts.diff()[:, None].expand(3, 2)
    assert bool(((var - h).abs() < 4 * h * math.sqrt(2 / 40_000)).all())
    W = study.brownian_path(dW)
    assert W.shape == (40_000, 4, 2) and torch.equal(W[:, 0], torch.zeros(40_000, 2))
    torch.testing.assert_close(W[:, -1], dW.sum(1))


def test_coarsening_sums_increments_and_quadratic_variation_telescopes():
    dW = study.brownian_increments(3, torch.linspace(0, 1, 9), generator=_gen(1))
    coarse = study.coarsen_increments(dW, 4)
    torch.testing.assert_close(coarse, dW.reshape(3, 2, 4).sum(-1))
    with pytest.raises(ValueError, match="dividing N = 8"):
        study.coarsen_increments(dW, 3)
    qv = study.quadratic_variation(study.brownian_path(dW))
    torch.testing.assert_close(qv[:, -1], (dW**2).sum(1))


def test_ito_and_stratonovich_sums_of_w_dw():
    dW = study.brownian_increments(5, torch.linspace(0, 1, 101), generator=_gen(2))
    W = study.brownian_path(dW)
    ito, strat = study.ito_integral(W, dW), study.stratonovich_integral(W, dW)
    torch.testing.assert_close(strat, W**2 / 2, rtol=1e-12, atol=1e-12)  # the chain rule, exactly
    torch.testing.assert_close(ito, (W**2 - study.quadratic_variation(W)) / 2, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="N \\+ 1 grid times"):
        study.ito_integral(W[:, :-1], dW)


def test_record_path_and_recover_increments_round_trip():
    sde = tp.OU(theta=1.0, sigma=1.5, mu=0.7, T=2.0)
    ts = torch.linspace(0, 2.0, 41)
    x0 = torch.randn(6, 2, generator=_gen(3))
    path = study.record_path(sde, x0, ts, generator=_gen(4))
    assert path.shape == (6, 41, 2) and torch.equal(path[:, 0], x0)
    torch.testing.assert_close(path[:, -1], tp.integrate_sde(sde, x0, ts, generator=_gen(4)))
    dW = study.recover_increments(sde, path, ts)
    noise = dW / ts.diff()[None, :, None].sqrt()  # the standard normal draws, batch first
    torch.testing.assert_close(tp.integrate_sde(sde, x0, ts, noise=noise), path[:, -1], rtol=1e-10, atol=1e-10)


def test_exact_ou_path_has_the_kernel_law_and_tracks_euler_maruyama():
    sde = tp.OU(theta=2.0, sigma=1.0, mu=0.5)
    x0 = torch.full((40_000, 1), -1.0)
    strong = []
    for n_steps in (10, 40):
        ts = torch.linspace(0, 1, n_steps + 1)
        em = study.record_path(sde, x0, ts, generator=_gen(5))
        truth = study.ou_exact_path(sde, x0, ts, study.recover_increments(sde, em, ts), generator=_gen(6))
        mean, std = sde.marginal(x0[:1], 1.0)
        x_T = truth[:, -1, 0]
        assert abs(float(x_T.mean() - mean)) < 4 * float(std) / math.sqrt(40_000)
        assert abs(float(x_T.std() / std) - 1) < 4 / math.sqrt(2 * 40_000)
        strong.append(float((truth[:, -1] - em[:, -1]).abs().mean()))
    # the same Brownian motion drives both, so the paths are close: additive noise, strong order 1 (4x for 4x the
    # steps); 2.5 leaves room for the pre-asymptotic constant and the Monte Carlo error (~1%)
    assert strong[0] / strong[1] > 2.5, strong


def test_gbm_scheme_and_solution():
    ts = torch.linspace(0, 1, 65)
    dW = study.brownian_increments(20_000, ts, (1,), generator=_gen(7))
    x0 = torch.ones(20_000, 1)
    em = study.gbm_euler_maruyama(x0, 0.5, 0.3, ts, dW)
    truth = study.gbm_exact(x0, 0.5, 0.3, ts, dW)
    m, se = tp.mean_stderr(truth[:, -1, 0])
    assert abs(float(m) - math.exp(0.5)) < 4 * float(se)  # E X_T = x0 e^{aT}
    m_em, se_em = tp.mean_stderr(em[:, -1, 0])
    assert abs(float(m_em) - (1 + 0.5 / 64) ** 64) < 4 * float(se_em)  # E Y_N = (1 + a h)^N exactly


def test_forward_em_moments_match_a_simulation():
    sde = tp.OU(theta=1.0, sigma=1.5, mu=0.5)
    ts = torch.linspace(0, 1, 9)
    c, v = exact.forward_em_moments(sde, ts)
    x0 = torch.full((40_000, 1), 2.0)
    out = tp.integrate_sde(sde, x0, ts, generator=_gen(8))[:, 0]
    assert abs(float(out.mean()) - (0.5 + 1.5 * float(c))) < 4 * math.sqrt(float(v) / 40_000)
    assert abs(float(out.var()) / float(v) - 1) < 4 * math.sqrt(2 / 40_000)
    # first order: twice the steps, half the bias (exactly computable, no sampling)
    alpha, var = float(sde.mean_coeff(1.0)), float(sde.variance(1.0))
    bias = [abs(float(exact.forward_em_moments(sde, torch.linspace(0, 1, n + 1))[1]) - var) for n in (64, 128)]
    assert 1.9 < bias[0] / bias[1] < 2.1 and abs(float(c) - alpha) < 0.1
    with pytest.raises(ValueError, match="strictly increasing"):
        exact.forward_em_moments(sde, ts.flip(0))
