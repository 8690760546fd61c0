"""Checkers for the exercises of chapter 02 (the forward-SDE zoo).

Each compares the student's function with the package's closed forms (``tutorial_pkg.sde`` and
``tutorial_pkg.exact``) in float64.
"""

from __future__ import annotations

import torch

from ..distributions import Gaussian
from ..exact import contractive_prior_kl_limit, ddpm_chain_moments, prior_kl
from ..sde import COU, CVP, OU, VE, VP, SubVP
from ._common import as_tensor, assert_close, call_student, fail, passed

__all__ = ["check_variance_ode", "check_ddpm_moments", "check_vp_prior_kl", "check_cou_kl_limit"]


def _zoo() -> list:
    return [OU(), VE(), VP(), SubVP(), COU(), CVP(), OU(theta=0.5, sigma=1.5, mu=0.7, T=2.0)]


def check_variance_ode(variance_by_ode) -> bool:
    """Exercise 02-1: ``variance_by_ode(sde, t, n_steps)`` integrates v' = 2 a(t) v + g(t)^2, v(0) = 0."""
    ex = "02-1"
    for sde in _zoo():
        for frac in (0.3, 1.0):
            t = frac * sde.T
            with torch.no_grad():
                got = call_student(ex, variance_by_ode, sde, t, 1000)
            got = as_tensor(ex, got, name=f"variance_by_ode({type(sde).__name__}, t={t:g})")
            if got.numel() != 1:
                fail(ex, f"return one number (the variance per coordinate), got shape {tuple(got.shape)}")
            expected = sde.variance(torch.tensor(t, dtype=torch.float64))
            if float(got) == 0.0:
                fail(ex, "your function returned 0 = v(0): did the loop run over the steps up to t?")
            assert_close(
                ex,
                got.reshape(()).to(torch.float64),
                expected,
                rtol=1e-6,
                atol=1e-10,
                what=f"variance of {type(sde).__name__} at t={t:g} (hint: v' = 2 a v + g^2 with a = sde.drift_coeff)",
            )
    return passed(ex, "your ODE solution matches sigma(t)^2 for OU, VE, VP, sub-VP, COU and CVP")


def check_ddpm_moments(ddpm_moments) -> bool:
    """Exercise 02-2: ``ddpm_moments(sde, n_steps)`` returns (mean coefficient, variance) of the DDPM chain."""
    ex = "02-2"
    for sde in (VP(), VP(beta_min=0.5, beta_max=5.0, T=2.0)):
        for n in (25, 100, 1000):
            out = call_student(ex, ddpm_moments, sde, n)
            if not isinstance(out, tuple | list) or len(out) != 2:
                fail(ex, "return a pair (mean_coeff, variance)")
            c_exp, v_exp = ddpm_chain_moments(sde, n)
            got_c = as_tensor(ex, out[0], name="mean_coeff").to(torch.float64).reshape(())
            got_v = as_tensor(ex, out[1], name="variance").to(torch.float64).reshape(())
            hint = (
                "beta_i = beta(i T / N) T / N for i = 1..N, mean prod sqrt(1 - beta_i), variance 1 - prod(1 - beta_i)"
            )
            assert_close(ex, got_c, c_exp, rtol=1e-9, atol=0, what=f"mean coefficient for N={n} ({hint})")
            assert_close(ex, got_v, v_exp, rtol=1e-9, atol=1e-15, what=f"variance for N={n}")
    return passed(ex, "your DDPM chain moments are exact; they approach the VP kernel like 1/N")


def check_vp_prior_kl(vp_prior_kl) -> bool:
    """Exercise 02-3: ``vp_prior_kl(m, s0, B)`` = KL(p_T || N(0, I)) for VP and data N(m, s0^2 I)."""
    ex = "02-3"
    cases = [
        (torch.tensor([1.0, -0.5]), 0.5, 0.3),
        (torch.tensor([0.0, 0.0, 0.0]), 0.2, 0.1),
        (torch.tensor([2.0]), 1.0, 1.0),
        (torch.tensor([0.5, 0.5]), 2.0, 0.05),
    ]
    for m, s0, T in cases:
        sde = VP(T=T)
        B = sde.beta_integral(torch.tensor(T, dtype=torch.float64))
        got = call_student(ex, vp_prior_kl, m.clone(), s0, B.clone())
        got = as_tensor(ex, got, name="KL").to(torch.float64).reshape(())
        expected = prior_kl(sde, Gaussian(m, s0))
        assert_close(ex, got, expected, rtol=1e-8, atol=1e-14, what=f"KL for m={m.tolist()}, s0={s0}, B={float(B):.3g}")
    return passed(ex, "your closed form equals the exact KL(p_T || N(0, I))")


def check_cou_kl_limit(cou_kl_limit) -> bool:
    """Exercise 02-4: ``cou_kl_limit(m, s0, theta, sigma, mu)`` = lim_T KL(p_T || p_noise) for COU."""
    ex = "02-4"
    cases = [
        (torch.tensor([1.0, -0.5]), 0.5, 1.0, 1.0, 0.0),
        (torch.tensor([0.0, 0.0]), 1.0, 2.0, 0.5, 0.0),
        (torch.tensor([0.3, 0.1, -0.2]), 0.1, 0.5, 2.0, 0.7),
    ]
    for m, s0, theta, sigma, mu in cases:
        sde = COU(theta=theta, sigma=sigma, mu=mu, T=1.0)
        got = call_student(ex, cou_kl_limit, m.clone(), s0, theta, sigma, mu)
        got = as_tensor(ex, got, name="KL limit").to(torch.float64).reshape(())
        expected = contractive_prior_kl_limit(sde, Gaussian(m, s0))
        assert_close(
            ex,
            got,
            expected,
            rtol=1e-9,
            atol=1e-14,
            what=f"limit for theta={theta}, sigma={sigma}, mu={mu} (hint: alpha_T^2 / sigma_T^2 -> 2 theta / sigma^2)",
        )
    # the limit is what KL(p_T || p_noise) approaches: compare with a long horizon
    m, s0 = torch.tensor([1.0, -0.5]), 0.5
    far = prior_kl(COU(T=12.0), Gaussian(m, s0))
    got = float(as_tensor(ex, call_student(ex, cou_kl_limit, m.clone(), s0, 1.0, 1.0, 0.0)))
    if abs(got - float(far)) > 1e-6 * max(1.0, float(far)):
        fail(ex, f"KL(p_T || p_noise) at T = 12 is {float(far):.6g}, your limit is {got:.6g}")
    return passed(ex, "your limit is right: COU's p_T stays a fixed KL away from its stated prior")
