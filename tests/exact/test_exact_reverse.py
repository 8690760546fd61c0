"""The generative family's exact laws for Gaussian data: the closed forms against the moment ODEs solved
numerically, the contraction's limits, and the path covariances' diagonal."""

from __future__ import annotations

import pytest
import torch
from conftest import ALL_SDES, sde_id

import tutorial_pkg as tp
from tutorial_pkg import exact

DATA = tp.Gaussian(torch.tensor([0.8, -0.4], dtype=torch.float64), torch.tensor([0.5, 1.3], dtype=torch.float64))


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
@pytest.mark.parametrize("h_ratio", [0.0, 1.0, 2.0])
def test_closed_form_law_solves_the_moment_odes(sde, h_ratio):
    mean, cov = exact.generative_gaussian_law(sde, DATA, init_mean=0.3, init_cov=2.0, t_min=1e-3, h_ratio=h_ratio)
    m_ode, v_ode = exact.gaussian_moment_odes(sde, DATA, init_mean=0.3, init_var=2.0, t_min=1e-3, h_ratio=h_ratio)
    torch.testing.assert_close(m_ode, mean, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(v_ode, cov.diagonal(), rtol=1e-7, atol=1e-9)
    m32, _ = exact.gaussian_moment_odes(sde, DATA.to(torch.float32), init_mean=0.3, init_var=2.0, h_ratio=h_ratio)
    assert m32.dtype == torch.float32  # solved in float64 inside: float32 data cannot stall the solver


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_from_p_T_every_member_returns_p_t_min(sde):
    m_T, v_T = exact.gaussian_marginal(sde, DATA, sde.T)
    m_0, v_0 = exact.gaussian_marginal(sde, DATA, 1e-3)
    for h in (0.0, 0.5, 1.0, 3.0):
        mean, cov = exact.generative_gaussian_law(sde, DATA, init_mean=m_T, init_cov=v_T, t_min=1e-3, h_ratio=h)
        torch.testing.assert_close(mean, m_0)
        torch.testing.assert_close(cov, torch.diag(v_0))
        torch.testing.assert_close(exact.path_covariance(sde, DATA, 0.5 * sde.T, 0.5 * sde.T, h),
                                   exact.gaussian_marginal(sde, DATA, 0.5 * sde.T)[1])


def test_the_reverse_sde_contracts_more_than_the_ode_by_rho():
    sde = tp.VP()
    ode = exact.contraction(sde, DATA, 1e-3, 1.0, 0.0)
    rev = exact.contraction(sde, DATA, 1e-3, 1.0, 1.0)
    torch.testing.assert_close(rev, ode * exact.forward_correlation(sde, DATA, 1e-3, 1.0))
    assert bool((rev < ode).all())
    with pytest.raises(ValueError, match="need s <= t"):
        exact.contraction(sde, DATA, 0.9, 0.1)
    with pytest.raises(ValueError, match="need Gaussian data"):
        exact.contraction(sde, tp.ring_mixture(), 0.1, 0.9)
