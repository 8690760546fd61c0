"""Closed forms about the forward SDEs: the DDPM chain, prior gaps, TV between isotropic Gaussians, and the VP
noise-term bounds (the corrected forms hold, the printed ones fail where the errata say)."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import ALL_SDES, sde_id

import tutorial_pkg as tp
from tutorial_pkg import exact


def test_ddpm_chain_tends_to_the_vp_kernel_at_first_order():
    sde = tp.VP()
    alpha, var = float(sde.mean_coeff(1.0)), float(sde.variance(1.0))
    errs = []
    for n in (100, 200, 400, 800):
        c, v = exact.ddpm_chain_moments(sde, n)
        errs.append(abs(math.log(float(c) / alpha)))
        assert abs(float(v) - var) < 0.01
    order = tp.fit_order([1 / n for n in (100, 200, 400, 800)], errs).order
    assert 0.9 < order < 1.1
    with pytest.raises(ValueError, match="take more steps"):
        exact.ddpm_chain_moments(sde, 10)
    with pytest.raises(TypeError, match="discretises the VP SDE"):
        exact.ddpm_chain_moments(tp.VE(), 100)


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_prior_gaps_are_the_gaussian_formulas(sde):
    data = tp.Gaussian(torch.tensor([0.3, -0.2]), torch.tensor([0.5, 1.5]))
    p_T = data.diffuse(sde, sde.T)
    prior_mean = torch.as_tensor(sde.prior_mean(), dtype=torch.float64).expand(2)
    prior_cov = sde.prior_std() ** 2 * torch.eye(2, dtype=torch.float64)
    kl = tp.gaussian_kl(p_T.mean(), p_T.covariance(), prior_mean, prior_cov)
    torch.testing.assert_close(exact.prior_kl(sde, data), kl)
    w2 = tp.gaussian_w2(p_T.mean(), p_T.covariance(), prior_mean, prior_cov)
    torch.testing.assert_close(exact.prior_w2(sde, data), w2)
    torch.testing.assert_close(exact.prior_kl_lower_bound(sde, data), kl)  # equality for Gaussian data
    mix = tp.ring_mixture()
    assert float(exact.prior_kl_lower_bound(sde, mix)) >= 0
    with pytest.raises(ValueError, match="needs Gaussian data"):
        exact.prior_kl(sde, mix)


def test_gaussian_tv_same_mean_against_quadrature():
    from scipy.integrate import quad

    def dens(x, v):
        return math.exp(-(x**2) / (2 * v)) / math.sqrt(2 * math.pi * v)

    for v1, v2 in [(1.0, 2.0), (0.3, 0.25), (4.0, 1.0)]:
        tv, _ = quad(lambda x, v1=v1, v2=v2: 0.5 * abs(dens(x, v1) - dens(x, v2)), -30, 30, points=[0.0], limit=200)
        assert float(exact.gaussian_tv_same_mean(v1, v2, 1)) == pytest.approx(tv, abs=1e-8)
    assert float(exact.gaussian_tv_same_mean(1.0, 1.0, 3)) == 0.0


def test_contractive_limit_is_approached_as_T_grows():
    data = tp.Gaussian(torch.tensor([0.5]), 0.4)
    for cls in (tp.COU, tp.CVP):
        limit = float(exact.contractive_prior_kl_limit(cls(), data))
        far = float(exact.prior_kl(cls(T=8.0), data))
        assert limit > 0 and abs(far - limit) < 1e-3 * limit
    with pytest.raises(TypeError, match="only the contractive SDEs"):
        exact.contractive_prior_kl_limit(tp.VP(), data)


def test_vp_noise_bounds_corrected_hold_and_printed_fail_for_data_at_the_origin():
    d, B = 4, torch.linspace(0.5, 8.0, 16, dtype=torch.float64)
    x = torch.exp(-B)
    # data at the origin: p_T = N(0, (1 - e^{-B}) I), the exact KL and W2^2 to N(0, I)
    kl = exact.vp_kernel_kl(0.0, d, B)
    w2sq = exact.vp_kernel_w2_sq(0.0, d, B)
    torch.testing.assert_close(kl, 0.5 * d * (-x - torch.log1p(-x)))
    assert bool((kl <= exact.vp_noise_kl_bound(0.0, d, B) + 1e-15).all())
    assert bool((w2sq <= exact.vp_noise_w2_sq_bound(0.0, d, B) + 1e-15).all())
    assert bool((exact.vp_noise_kl_bound(0.0, d, B, as_printed=True) < kl).all())  # Claustre Cor. 5.5 as printed
    assert bool((exact.vp_noise_w2_sq_bound(0.0, d, B, as_printed=True) < w2sq).all())  # Tang & Zhao's d/4
    tv = exact.gaussian_tv_same_mean(1 - x, torch.ones_like(x), d)
    assert bool((tv <= exact.vp_noise_tv_bound(0.0, d, B)).all())
    assert bool((exact.vp_noise_tv_bound(0.0, d, B, as_printed=True) < tv).all())
