"""Chapter 06's measuring tools: exact sampler laws for Gaussian data, order fits, sweeps, the Langevin bias."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import ALL_SDES, sde_id

import tutorial_pkg as tp
from tutorial_pkg import exact, study

T_MIN = 1e-3
DATA = tp.Gaussian(torch.tensor([1.0, -0.5], dtype=torch.float64), torch.tensor([0.5, 1.2], dtype=torch.float64))


def within_4_se(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> None:
    z_mean, z_cov = tp.moment_z_scores(x, mean, torch.diag(var))
    assert z_mean.abs().max() < 4 and z_cov.diagonal().abs().max() < 4, (z_mean, z_cov)


# --- exact output moments ----------------------------------------------------------------------


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
@pytest.mark.parametrize("h_ratio", [1.0, 0.5])
def test_exponential_integrator_moments_match_simulation(sde, h_ratio):
    """The closed-form recursion agrees with the package's sampler (20,000 draws, 4 standard errors)."""
    gen = torch.Generator().manual_seed(1)
    ts = tp.uniform_grid(sde, 8, T_MIN)
    x_T = DATA.diffuse(sde, sde.T).sample(20_000, generator=gen)
    out = tp.exponential_integrator(sde, tp.ExactScore(DATA, sde), x_T, ts, h_ratio=h_ratio, generator=gen)
    within_4_se(out, *exact.exponential_integrator_moments(sde, DATA, ts, h_ratio=h_ratio))


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_deterministic_ei_equals_the_affine_probe(sde):
    """h_ratio = 0: the recursion and the probe of tp.ddim give the same law (two independent routes)."""
    ts = tp.uniform_grid(sde, 7, T_MIN)
    mean, var = exact.exponential_integrator_moments(sde, DATA, ts, h_ratio=0.0)
    probe = exact.deterministic_sampler_moments("ddim", sde, DATA, ts)
    torch.testing.assert_close(probe.mean, mean, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(probe.var, var, rtol=1e-10, atol=1e-12)
    assert probe.nfe == 7


def test_exponential_integrator_is_exact_for_a_point_mass():
    """A constant denoiser is what the integrator freezes: one step returns p_{t_min} exactly."""
    point = tp.Gaussian(torch.tensor([1.0, -0.5]), 0.0)
    for sde in [tp.VP(), tp.VE(), tp.COU(), tp.OU(mu=0.7)]:
        target_mean, target_var = exact.gaussian_marginal(sde, point, T_MIN)
        for h in [0.0, 1.0, 2.0]:
            mean, var = exact.exponential_integrator_moments(sde, point, tp.uniform_grid(sde, 1, T_MIN), h_ratio=h)
            torch.testing.assert_close(mean, target_mean, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(var, target_var, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("name", ["ode_euler", "ode_heun", "ddim"])
def test_deterministic_moments_match_a_direct_run(name):
    """The probe's law is the push-forward of N(m_T, v_T): check it on samples (no sampling error in the map)."""
    sde, gen = tp.VP(), torch.Generator().manual_seed(2)
    ts = tp.uniform_grid(sde, 12, T_MIN)
    x_T = DATA.diffuse(sde, sde.T).sample(5000, generator=gen)
    out = tp.get_sampler(name)(sde, tp.ExactScore(DATA, sde), x_T, ts)
    law = exact.deterministic_sampler_moments(name, sde, DATA, ts)
    m_T, v_T = exact.gaussian_marginal(sde, DATA, sde.T)
    gain = law.var.sqrt() / v_T.sqrt()
    torch.testing.assert_close(out, law.mean + gain * (x_T - m_T), rtol=1e-9, atol=1e-10)


def test_output_moments_dispatch_and_errors():
    sde = tp.VP()
    ts = tp.uniform_grid(sde, 10, T_MIN)
    em = exact.output_moments("euler_maruyama", sde, DATA, ts, h_ratio=0.5)
    m_T, v_T = exact.gaussian_marginal(sde, DATA, sde.T)
    mean, var = exact.em_chain_moments(sde, DATA, ts, init_mean=m_T, init_var=v_T, h_ratio=0.5)
    torch.testing.assert_close(em.mean, mean)
    torch.testing.assert_close(em.var, var)
    ddpm = exact.output_moments("ddim", sde, DATA, ts, eta=1.0)
    ei = exact.output_moments("exponential_integrator", sde, DATA, ts)
    torch.testing.assert_close(ddpm.var, ei.var)
    assert exact.output_moments("ode_heun", sde, DATA, ts).nfe == 20
    with pytest.raises(ValueError, match="Langevin step size depends on the batch"):
        exact.output_moments("predictor_corrector", sde, DATA, ts)
    with pytest.raises(ValueError, match="eta = 0"):
        exact.output_moments("ddim", sde, DATA, ts, eta=0.5)
    with pytest.raises(ValueError, match="unknown sampler"):
        exact.output_moments("heun", sde, DATA, ts)
    with pytest.raises(ValueError, match="strictly decreasing"):
        exact.output_moments("ode_euler", sde, DATA, torch.tensor([0.1, 0.5]))


def test_probe_rejects_a_non_affine_sampler():
    sde = tp.VP()
    with pytest.raises(ValueError, match="not affine"):
        exact.deterministic_sampler_moments(
            lambda sde, score, x, ts, **kw: x**2, sde, DATA, tp.uniform_grid(sde, 3, T_MIN)
        )


def test_output_kl_and_moment_error_vanish_at_the_target():
    sde = tp.VP()
    m, v = exact.gaussian_marginal(sde, DATA, T_MIN)
    assert abs(float(exact.output_kl(sde, DATA, T_MIN, m, v))) < 1e-12
    assert exact.moment_error(m, v, m, v) == 0.0
    assert math.isclose(exact.moment_error(m + v.sqrt(), 2 * v, m, v), 4.0)


# --- orders, sweeps ------------------------------------------------------------------------------


def test_fit_order_recovers_a_power_law():
    h = [1 / k for k in (10, 20, 40, 80)]
    fit = tp.fit_order(h, [3.0 * k**1.5 for k in h])
    assert math.isclose(fit.order, 1.5, rel_tol=1e-12) and fit.stderr < 1e-12
    assert math.isclose(fit.constant, 3.0, rel_tol=1e-12)
    torch.testing.assert_close(fit.local, torch.full((3,), 1.5, dtype=torch.float64))
    with pytest.raises(ValueError, match="positive"):
        tp.fit_order(h, [1.0, 0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="distinct"):
        tp.fit_order([0.1, 0.1], [1.0, 2.0])


def test_measured_weak_orders_of_euler_maruyama_and_heun():
    """The chapter's claim, on another SDE (OU): weak order 1 for EM, 2 for Heun on the PF-ODE."""
    sde = tp.OU()
    m, v = exact.gaussian_marginal(sde, DATA, T_MIN)
    steps = [40, 80, 160, 320]
    for name, p in [("euler_maruyama", 1.0), ("ode_heun", 2.0)]:
        errors = [
            exact.moment_error(*exact.output_moments(name, sde, DATA, tp.uniform_grid(sde, k, T_MIN))[:2], m, v)
            for k in steps
        ]
        assert abs(tp.fit_order([1 / k for k in steps], errors).order - p) < 0.1


def test_nfe_sweep_counts_and_budgets():
    sde, mix = tp.VP(), tp.ring_mixture()
    score = tp.ExactScore(mix, sde)
    x = mix.diffuse(sde, sde.T).sample(50, generator=torch.Generator().manual_seed(3))
    samplers = {"EM": ("euler_maruyama", {}), "Heun": ("ode_heun", {}), "PC": ("predictor_corrector", {})}
    points = study.nfe_sweep(
        samplers,
        sde,
        score,
        x,
        [8, 16],
        lambda out: float(out.norm()),
        lambda k: tp.uniform_grid(sde, k, T_MIN),
        generator=torch.Generator().manual_seed(4),
    )
    got = {(p.sampler, p.nfe): p.steps for p in points}
    assert got == {("EM", 8): 8, ("EM", 16): 16, ("Heun", 8): 4, ("Heun", 16): 8, ("PC", 8): 4, ("PC", 16): 8}
    assert all(math.isfinite(p.error) and p.seconds >= 0 for p in points)


# --- the Langevin corrector ------------------------------------------------------------------------


def test_ula_closed_forms():
    assert math.isclose(float(exact.ula_stationary_variance(2.0, 0.5)), 8 / 3.5)
    # the closed form is the fixed point of the variance recursion, and ula_variance_after converges to it
    v, eps = 1.3, 0.7
    V = 0.2
    for _ in range(50):
        V = (1 - eps / v) ** 2 * V + 2 * eps
    assert math.isclose(float(exact.ula_variance_after(v, eps, 0.2, 50)), V, rel_tol=1e-12)
    assert math.isclose(float(exact.snr_stationary_variance(2.0, 0.16)), 2.0 * 1.0256)
    with pytest.raises(ValueError, match="0 < eps < 2 v"):
        exact.ula_stationary_variance(1.0, 2.0)


@pytest.mark.parametrize("rule", [{"step_size": 0.5}, {"snr": 0.4}])
def test_langevin_chain_reaches_the_predicted_variance(rule):
    """The Langevin corrector's stationary variance (Claustre 2025, eq. 14): fixed eps; SNR rule v (1 + snr^2)."""
    v, n = 2.0, 40_000
    gen = torch.Generator().manual_seed(5)
    x = math.sqrt(v) * torch.randn(n, 2, generator=gen)
    x = study.langevin_chain(lambda y, t: -y / v, x, 0.5, 80, generator=gen, **rule)
    expected = float(
        exact.ula_stationary_variance(v, 0.5) if "step_size" in rule else exact.snr_stationary_variance(v, 0.4)
    )
    se = expected * math.sqrt(2 / (2 * n))
    assert abs(float(x.var(0).mean()) - expected) < 4 * se
    assert abs(float(x.mean())) < 4 * math.sqrt(expected / (2 * n))


def test_langevin_chain_arguments():
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="exactly one"):
        study.langevin_chain(lambda y, t: -y, x, 0.5, 3)
    with pytest.raises(ValueError, match="exactly one"):
        study.langevin_chain(lambda y, t: -y, x, 0.5, 3, step_size=0.1, snr=0.1)


def test_ddpm_step_is_the_exponential_integrator_with_h_1():
    sde, mix = tp.VP(), tp.ring_mixture()
    score = tp.ExactScore(mix, sde)
    x = mix.diffuse(sde, 0.6).sample(100, generator=torch.Generator().manual_seed(6))
    grid = torch.tensor([0.6, 0.45])
    out = tp.exponential_integrator(sde, score, x, grid, generator=torch.Generator().manual_seed(7))
    z = tp.randn(x.shape, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(exact.ddpm_step(sde, score, x, 0.6, 0.45, z), out, rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match="VP"):
        exact.ddpm_step(tp.VE(), score, x, 0.6, 0.45, z)


def test_affine_gaussian_chain_is_the_step_by_step_recursion():
    gen = torch.Generator().manual_seed(11)
    G = 0.5 + torch.rand(30, 3, generator=gen, dtype=torch.float64)
    b, q = torch.randn(30, 3, generator=gen, dtype=torch.float64), torch.rand(30, 1, generator=gen, dtype=torch.float64)
    mean, var, gain = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64), torch.full((3,), 0.7), torch.ones(3)
    m, v = mean.clone(), var.clone().double()
    for k in range(30):  # the recursion, written out
        m, v, gain = G[k] * m + b[k], G[k] ** 2 * v + q[k], G[k] * gain
    out = exact.affine_gaussian_chain(G, b, q, mean, var)
    torch.testing.assert_close(out.mean, m, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.var, v, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.gain, gain.double(), rtol=1e-12, atol=1e-12)
