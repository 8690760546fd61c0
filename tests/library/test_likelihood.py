"""PF-ODE log-likelihoods against the exact log-density of mixture data; bits per dimension."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import sde_id

import tutorial_pkg as tp
from tutorial_pkg.likelihood import bits_per_dim, dequantize, pf_ode_log_likelihood

T_MIN = 1e-3


@pytest.mark.parametrize("sde", [tp.VP(), tp.VE()], ids=sde_id)
def test_pf_ode_nll_of_mixture_data_matches_the_exact_value(sde):
    mix = tp.ring_mixture()
    x = mix.sample(150, generator=torch.Generator().manual_seed(0))
    score = tp.ExactScore(mix, sde)
    ll, info = pf_ode_log_likelihood(sde, score, x, t_min=T_MIN, rtol=1e-6, atol=1e-6)
    exact = mix.diffuse(sde, T_MIN).log_prob(x)
    # measured error of the mean: ~1e-5 nats (VP) and ~1e-4 (VE); point by point the stated prior differs from
    # p_T by up to 0.1 nats for VE, so the pointwise check uses the exact log p_T (measured error <= 1e-3)
    assert abs(ll.mean() - exact.mean()) < 0.02
    assert info["nfe"] > 10 and torch.allclose(ll, info["prior"] + info["delta"])
    p_T = mix.diffuse(sde, sde.T)
    ll_exact_prior, _ = pf_ode_log_likelihood(
        sde, score, x, t_min=T_MIN, rtol=1e-6, atol=1e-6, prior_log_prob=p_T.log_prob
    )
    assert (ll_exact_prior - exact).abs().max() < 0.02


def test_heun_likelihood_converges_with_the_steps():
    sde, mix = tp.SubVP(), tp.ring_mixture()
    x = mix.sample(100, generator=torch.Generator().manual_seed(1))
    exact = mix.diffuse(sde, T_MIN).log_prob(x)
    errors = [
        (pf_ode_log_likelihood(sde, tp.ExactScore(mix, sde), x, solver="heun", n_steps=n)[0] - exact).abs().mean()
        for n in (5, 20)
    ]
    assert errors[1] < 0.25 * errors[0], errors  # second order: 16x in theory


def test_hutchinson_likelihood_is_unbiased():
    sde, mix = tp.SubVP(), tp.ring_mixture()
    x = mix.sample(100, generator=torch.Generator().manual_seed(2))
    score = tp.ExactScore(mix, sde)
    exact_div, _ = pf_ode_log_likelihood(sde, score, x, solver="heun", n_steps=20)
    gen = torch.Generator().manual_seed(3)
    diffs = torch.stack(
        [
            pf_ode_log_likelihood(
                sde, score, x, solver="heun", n_steps=20, divergence="hutchinson", probe=probe, generator=gen
            )[0]
            - exact_div
            for probe in ("rademacher", "gaussian") * 4
        ]
    )
    se = diffs.std() / diffs.numel() ** 0.5
    assert abs(diffs.mean()) < 4 * se, (diffs.mean(), se)
    assert diffs.std() > 0  # it is an estimate, not the exact divergence in disguise


def test_bits_per_dim_of_a_uniform_density_is_eight_bits():
    d = 5
    log_uniform = torch.full((3,), -d * math.log(2.0))  # the uniform density on [-1, 1]^d
    assert torch.allclose(bits_per_dim(log_uniform, d, n_bins=256), torch.full((3,), 8.0))
    assert torch.allclose(bits_per_dim(log_uniform, d, n_bins=None), torch.full((3,), 1.0))


def test_dequantize_fills_each_bin():
    k = torch.tensor([[0, 255], [128, 7]], dtype=torch.uint8)
    x = dequantize(k, generator=torch.Generator().manual_seed(0))
    lo, hi = 2 * k.double() / 256 - 1, 2 * (k.double() + 1) / 256 - 1
    assert ((x >= lo) & (x < hi)).all()
    with pytest.raises(ValueError, match="not scaled data"):
        dequantize(torch.tensor([0.5]))
    with pytest.raises(ValueError, match="levels must lie"):
        dequantize(torch.tensor([256]))


def test_bad_likelihood_arguments():
    sde, score, x = tp.VP(), (lambda x, t: -x), torch.zeros(4, 2)
    with pytest.raises(ValueError, match="divergence"):
        pf_ode_log_likelihood(sde, score, x, divergence="trace")
    with pytest.raises(ValueError, match="solver"):
        pf_ode_log_likelihood(sde, score, x, solver="euler")
    with pytest.raises(ValueError, match="n_probes"):
        pf_ode_log_likelihood(sde, score, x, divergence="hutchinson", n_probes=0)
    with pytest.raises(ValueError, match=r"shape \(B, \*D\)"):
        pf_ode_log_likelihood(sde, score, torch.zeros(4))
