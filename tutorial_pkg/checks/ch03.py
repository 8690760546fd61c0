"""Checkers for the exercises of chapter 03 (time reversal).

The oracles are the package's own exact formulas: the generative family ``sde.reverse(score, h_ratio)``
with the exact score, and the closed forms of :mod:`tutorial_pkg.exact.reverse`.
"""

from __future__ import annotations

import math

import torch

from ..datasets import ring_mixture
from ..distributions import ExactScore, Gaussian
from ..exact import contraction, gaussian_marginal, generative_gaussian_law
from ..sde import OU, VE, VP, Brownian
from ._common import as_tensor, assert_close, call_student, fail, passed

__all__ = [
    "check_bm_reverse_drift",
    "check_bm_posterior",
    "check_ou_output_law",
    "check_vp_generative_drift",
    "check_pf_ode_map",
]

F64 = torch.float64


def _pair(exercise: str, result, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Unpack a student's ``(mean, variance)`` answer into two 0-d float64 tensors."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(exercise, f"{what} should return a pair (mean, variance), got {type(result).__name__}")
    mean = as_tensor(exercise, result[0], name="the mean").to(F64).reshape(-1)
    var = as_tensor(exercise, result[1], name="the variance").to(F64).reshape(-1)
    if mean.numel() != 1 or var.numel() != 1:
        fail(exercise, "return two numbers (or 0-d tensors): the mean and the variance of a 1-D law")
    return mean[0], var[0]


def check_bm_reverse_drift(fn) -> bool:
    """Exercise 1.1: ``fn(y, tau, s0, T)`` is the reverse-time drift of dX = dB with data N(0, s0^2)."""
    ex = "ex-03-1 (reverse drift)"
    y = torch.linspace(-3.0, 3.0, 7, dtype=F64)
    for s0, T in [(0.5, 1.0), (1.0, 2.0), (0.1, 1.0)]:
        sde = Brownian(T=T)
        score = ExactScore(Gaussian(torch.zeros(1, dtype=F64), s0), sde)
        for tau in [0.0, 0.3 * T, 0.9 * T]:
            # the package runs in forward time t = T - tau; the reverse-time drift is its negative
            expected = -sde.reverse(score).drift(y[:, None], T - tau)[:, 0]
            got = as_tensor(ex, call_student(ex, fn, y.clone(), tau, s0, T), like=expected, name="the drift")
            if torch.allclose(got, -expected, rtol=1e-6, atol=1e-12) and not torch.allclose(got, expected):
                fail(ex, "the sign is flipped: in reverse time the drift pulls y back towards the data mean 0")
            forward_time = -y / (s0**2 + tau)
            if torch.allclose(got, forward_time, rtol=1e-6) and not torch.allclose(got, expected):
                fail(ex, "the score must be evaluated at the forward time t = T - tau, not at tau")
            assert_close(
                ex, got, expected, rtol=1e-8, atol=1e-12, what=f"the drift at tau = {tau:g} (s0 = {s0}, T = {T})"
            )
    return passed(ex, "b(y, tau) = -y / (s0^2 + T - tau)")


def check_bm_posterior(fn) -> bool:
    """Exercise 1.2: ``fn(y, s0, T)`` returns the mean and variance of Y_T started from Y_0 = y."""
    ex = "ex-03-1 (law of Y_T)"
    for y, s0, T in [(1.5, 0.5, 1.0), (-2.0, 1.0, 2.0), (0.7, 0.1, 1.0), (3.0, 2.0, 0.5)]:
        data = Gaussian(torch.zeros(1, dtype=F64), s0)
        mean, cov = generative_gaussian_law(Brownian(T=T), data, init_mean=y, init_cov=0.0, t_min=0.0, h_ratio=1.0)
        got_m, got_v = _pair(ex, call_student(ex, fn, y, s0, T), "bm_posterior")
        if math.isclose(float(got_m), y * T / (s0**2 + T), rel_tol=1e-6) and not math.isclose(
            float(got_m), float(mean[0]), rel_tol=1e-6
        ):
            fail(ex, "the mean shrinks y by the factor s0^2 / (s0^2 + T) (the posterior mean of X_0 given X_T = y)")
        assert_close(ex, got_m, mean[0], rtol=1e-8, atol=1e-12, what=f"the mean (y = {y}, s0 = {s0}, T = {T})")
        assert_close(ex, got_v, cov[0, 0], rtol=1e-8, atol=1e-12, what=f"the variance (y = {y}, s0 = {s0}, T = {T})")
    return passed(ex, "Y_T ~ N(s0^2 y / (s0^2 + T), s0^2 T / (s0^2 + T)), the posterior of X_0 given X_T = y")


def check_ou_output_law(fn) -> bool:
    """Exercise 2: ``fn(theta, sigma, T, m, s0, h_ratio)`` is the output law at t = 0 from the OU prior."""
    ex = "ex-03-2"
    cases = [(2.0, 2.0, 1.0, 1.5, 0.5, 1.0), (1.0, 1.0, 0.5, -1.0, 0.3, 0.0), (0.5, 1.5, 2.0, 2.0, 1.2, 0.5)]
    cases += [(1.0, 2.0, 0.3, 3.0, 0.8, 2.0)]
    for theta, sigma, T, m, s0, h in cases:
        sde = OU(theta=theta, sigma=sigma, T=T)
        data = Gaussian(torch.tensor([m], dtype=F64), s0)
        mean, cov = generative_gaussian_law(sde, data, t_min=0.0, h_ratio=h)
        got_m, got_v = _pair(ex, call_student(ex, fn, theta, sigma, T, m, s0, h), "ou_output_law")
        where = f"(theta = {theta}, sigma = {sigma}, T = {T}, m = {m}, s0 = {s0}, h_ratio = {h})"
        if math.isclose(float(got_m), m, rel_tol=1e-9) and math.isclose(float(got_v), s0**2, rel_tol=1e-9):
            fail(
                ex, f"N(m, s0^2) is the output when starting from p_T; here the start is the prior N(0, kappa) {where}"
            )
        if h != 1.0:
            m1, _ = generative_gaussian_law(sde, data, t_min=0.0, h_ratio=1.0)
            if math.isclose(float(got_m), float(m1[0]), rel_tol=1e-7) and not math.isclose(
                float(got_m), float(mean[0]), rel_tol=1e-7
            ):
                fail(ex, f"your answer ignores h_ratio: Phi = sqrt(v_0 / v_T) * rho^(h_ratio^2) {where}")
        assert_close(ex, got_m, mean[0], rtol=1e-7, atol=1e-10, what=f"the output mean {where}")
        assert_close(ex, got_v, cov[0, 0], rtol=1e-7, atol=1e-10, what=f"the output variance {where}")
    return passed(ex, "mean m (1 - Phi e^{-theta T}), variance s0^2 + Phi^2 (kappa - v_T)")


def check_vp_generative_drift(fn) -> bool:
    """Exercise 3: ``fn(x, t, score, beta_min, beta_max, T, h_ratio)`` is the VP generative drift."""
    ex = "ex-03-3"
    gen = torch.Generator().manual_seed(3)
    mix = ring_mixture(dtype=F64)
    for beta_min, beta_max, T in [(0.1, 20.0, 1.0), (0.5, 10.0, 2.0)]:
        sde = VP(beta_min=beta_min, beta_max=beta_max, T=T)
        score = ExactScore(mix, sde)
        x = 2.0 * torch.randn(64, 2, generator=gen, dtype=F64)
        t = 1e-3 + (T - 1e-3) * torch.rand(64, generator=gen, dtype=F64)
        for h in [1.0, 0.0, 0.5]:
            expected = sde.reverse(score, h).drift(x, t)
            got = as_tensor(
                ex, call_student(ex, fn, x.clone(), t.clone(), score, beta_min, beta_max, T, h), like=expected
            )
            if torch.allclose(got, -expected, rtol=1e-6, atol=1e-12):
                fail(ex, "the sign is flipped: return the drift in the package's forward-time convention, f - ... s")
            if h != 1.0 and torch.allclose(got, sde.reverse(score, 1.0).drift(x, t), rtol=1e-6, atol=1e-12):
                fail(ex, "h_ratio is ignored: the score term carries the factor (1 + h_ratio^2) / 2")
            assert_close(ex, got, expected, rtol=1e-8, atol=1e-10, what=f"the drift (h_ratio = {h}, T = {T})")
    return passed(ex, "-beta/2 x - (1 + h^2)/2 beta s(x, t), as sde.reverse(score, h_ratio).drift")


def check_pf_ode_map(fn) -> bool:
    """Exercise 4: ``fn(x_T, sde, data, t)`` is the probability-flow map from T down to t, Gaussian data."""
    ex = "ex-03-4"
    gen = torch.Generator().manual_seed(4)
    data = Gaussian(torch.tensor([1.0, -0.5], dtype=F64), torch.tensor([0.5, 1.2], dtype=F64))
    for sde in [VP(), VE(sigma_min=0.01, sigma_max=5.0), OU(theta=1.0, sigma=1.5, mu=0.5, T=2.0)]:
        x_T = data.diffuse(sde, sde.T).sample(32, generator=gen)
        m_T, _ = gaussian_marginal(sde, data, sde.T)
        for t in [1e-3, 0.4 * sde.T]:
            m_t, _ = gaussian_marginal(sde, data, t)
            expected = m_t + contraction(sde, data, t, sde.T, 0.0) * (x_T - m_T)
            got = as_tensor(ex, call_student(ex, fn, x_T.clone(), sde, data, t), like=expected, name="the map")
            sde_version = m_t + contraction(sde, data, t, sde.T, 1.0) * (x_T - m_T)
            if torch.allclose(got, sde_version, rtol=1e-6, atol=1e-10) and not torch.allclose(got, expected):
                fail(ex, "this is the reverse SDE's mean map; the ODE's factor is sqrt(v_t / v_T), without rho")
            assert_close(
                ex, got, expected, rtol=1e-8, atol=1e-10, what=f"the map for {type(sde).__name__} at t = {t:g}"
            )
    return passed(ex, "x_T -> m_t + sqrt(v_t / v_T) (x_T - m_T)")
