"""Checkers for the exercises of chapter 08 (consistency models).

The oracles are the package's own code: the closed forms of :mod:`tutorial_pkg.exact.consistency`, the
parametrisation of :class:`~tutorial_pkg.ConsistencyModel`, the pairs the distillation loss builds, and
:func:`~tutorial_pkg.consistency_sample`.  Everything is compared in float64.
"""

from __future__ import annotations

import math

import torch

from ..consistency import ConsistencyModel, consistency_sample
from ..datasets import ring_mixture
from ..distributions import ExactScore, Gaussian
from ..exact import GaussianConsistencyFunction, delta0_w2_squared, gaussian_flow_map
from ..nets import TimeMLP
from ..sde import OU, VE, VP
from ..study import training_pair
from ._common import as_tensor, assert_close, call_student, fail, passed

__all__ = [
    "check_gaussian_flow_map",
    "check_skip_and_out",
    "check_cd_target",
    "check_delta0_w2",
    "check_multistep_sample",
]

F64 = torch.float64


def check_gaussian_flow_map(fn) -> bool:
    """Exercise 08-1: ``fn(x, sde, data, t, s)`` is the PF-ODE flow map Phi(t -> s) for Gaussian data."""
    ex = "ex-08-1"
    gen = torch.Generator().manual_seed(81)
    data = Gaussian(torch.tensor([1.0, -0.5], dtype=F64), torch.tensor([0.5, 1.2], dtype=F64))
    for sde in [VE(), VP(), OU(theta=1.0, sigma=1.5, mu=0.5, T=2.0)]:
        x = data.diffuse(sde, 0.6 * sde.T).sample(16, generator=gen)
        for t, s in [(0.6 * sde.T, 1e-3), (0.6 * sde.T, 0.3 * sde.T), (0.2 * sde.T, 0.9 * sde.T)]:
            expected = gaussian_flow_map(sde, data, x, t, s)
            got = as_tensor(ex, call_student(ex, fn, x.clone(), sde, data, t, s), like=expected, name="the map")
            m_t, m_s = data.diffuse(sde, t).loc, data.diffuse(sde, s).loc
            v_t, v_s = data.diffuse(sde, t).scale ** 2, data.diffuse(sde, s).scale ** 2
            if torch.allclose(got, m_s + v_s / v_t * (x - m_t), rtol=1e-6) and not torch.allclose(got, expected):
                fail(ex, "the factor is sqrt(v_s / v_t), the ratio of standard deviations, not of variances")
            if torch.allclose(got, x - m_t + m_s, rtol=1e-6) and not torch.allclose(got, expected):
                fail(ex, "you moved the mean but did not rescale the deviation x - m_t")
            where = f"for {type(sde).__name__}, t = {t:g}, s = {s:g}"
            assert_close(ex, got, expected, rtol=1e-8, atol=1e-10, what=f"the map {where}")
    return passed(ex, "Phi(t -> s)(x) = m_s + sqrt(v_s / v_t) (x - m_t), in both directions of time")


def check_skip_and_out(fn) -> bool:
    """Exercise 08-2: ``fn(nu, nu_min, sigma_data)`` returns (c_skip, c_out) of the package's consistency model."""
    ex = "ex-08-2"
    for nu_min, sd in [(0.002, 0.5), (0.002, 1.0), (0.01, 2.0)]:
        nu = torch.tensor([nu_min, 0.02, 0.1, 0.5, 1.0, 3.0, 10.0, 80.0], dtype=F64)  # nu[0] = nu_min
        out = call_student(ex, fn, nu.clone(), nu_min, sd)
        if not isinstance(out, tuple | list) or len(out) != 2:
            fail(ex, "return a pair (c_skip, c_out)")
        c_skip = as_tensor(ex, out[0], like=nu, name="c_skip")
        c_out = as_tensor(ex, out[1], like=nu, name="c_out")
        if abs(float(c_skip[0]) - 1) > 1e-12 or abs(float(c_out[0])) > 1e-12:
            fail(ex, "at nu = nu_min the boundary condition needs c_skip = 1 and c_out = 0 exactly")
        exp_skip = sd**2 / ((nu - nu_min) ** 2 + sd**2)
        exp_out = sd * (nu - nu_min) / torch.sqrt(sd**2 + nu**2)
        what = f"(nu_min = {nu_min}, sigma_data = {sd})"
        assert_close(ex, c_skip, exp_skip, rtol=1e-10, atol=1e-14, what=f"c_skip {what}")
        assert_close(ex, c_out, exp_out, rtol=1e-10, atol=1e-14, what=f"c_out {what}")
    # the package's model with these coefficients is the identity at t_min, whatever its network
    sde = VE()
    model = ConsistencyModel(TimeMLP(2, 16, 2).double(), sde, t_min=1e-3)
    x = torch.randn(8, 2, generator=torch.Generator().manual_seed(82), dtype=F64)
    if not torch.allclose(model(x, 1e-3), x, atol=1e-12):
        fail(ex, "internal: the package's consistency model broke its boundary condition")
    return passed(ex, "c_skip = s_d^2 / ((nu - nu_min)^2 + s_d^2), c_out = s_d (nu - nu_min) / sqrt(s_d^2 + nu^2)")


def check_cd_target(fn) -> bool:
    """Exercise 08-3: ``fn(target, teacher, sde, x_hi, t_hi, t_lo)`` is the distillation target, one Heun step."""
    ex = "ex-08-3"
    mix = ring_mixture(dtype=F64)
    for sde in [VE(), VP()]:
        teacher = ExactScore(mix, sde)
        x0 = mix.sample(256, generator=torch.Generator().manual_seed(83))
        x_hi, t_hi, x_lo, t_lo = training_pair(
            sde, x0, method="cd", teacher=teacher, generator=torch.Generator().manual_seed(84)
        )

        def target(x, t):  # any frozen network: a fixed nonlinear function of (x, t)
            return torch.tanh(x) * (1 + torch.as_tensor(t, dtype=x.dtype).reshape(-1, 1))

        expected = target(x_lo, t_lo)
        got = call_student(ex, fn, target, teacher, sde, x_hi.clone(), t_hi.clone(), t_lo.clone())
        got = as_tensor(ex, got, like=expected, name="the target")
        flow = sde.probability_flow(teacher)
        dt = (t_lo - t_hi)[:, None]
        euler = target(x_hi + dt * flow.drift(x_hi, t_hi), t_lo)
        if torch.allclose(got, euler, rtol=1e-8, atol=1e-10) and not torch.allclose(got, expected):
            fail(ex, "this is one Euler step; the package takes one Heun step (average the drifts at both ends)")
        if torch.allclose(got, target(x_hi, t_lo), rtol=1e-8, atol=1e-10):
            fail(ex, "move x_hi to time t_lo with one ODE step before evaluating the target")
        assert_close(ex, got, expected, rtol=1e-8, atol=1e-10, what=f"the target for {type(sde).__name__}")
    return passed(ex, "target(Heun step of the PF-ODE from t_hi to t_lo, t_lo), as the package's loss")


def check_delta0_w2(fn) -> bool:
    """Exercise 08-4: ``fn(sigma_hi, sigma_lo, d)`` is W2^2 between the two couplings for data at 0."""
    ex = "ex-08-4"
    for sh, sl, d in [(1.0, 0.9, 1), (0.5, 0.49, 2), (2.0, 1.0, 3), (3.0, 3.0, 10), (0.3, 0.0, 4)]:
        expected = float(delta0_w2_squared(sh, sl, d))
        got = as_tensor(ex, call_student(ex, fn, sh, sl, d), name="W2^2").to(F64).reshape(-1)
        if got.numel() != 1:
            fail(ex, "return one number: the squared distance")
        value = float(got[0])
        if not math.isclose(value, expected, rel_tol=1e-8, abs_tol=1e-12):
            if math.isclose(value, math.sqrt(expected), rel_tol=1e-6):
                fail(ex, "return the *squared* distance W2^2")
            if math.isclose(value, expected / d, rel_tol=1e-6):
                fail(ex, "the d coordinates are independent: W2^2 is d times the one-dimensional value")
        what = f"W2^2 (sigma_hi = {sh}, sigma_lo = {sl}, d = {d})"
        assert_close(ex, got[0], torch.tensor(expected, dtype=F64), rtol=1e-8, atol=1e-12, what=what)
    return passed(ex, "W2^2 = 2 d (sigma_hi^2 + sigma_lo^2 - sqrt(sigma_hi^4 + sigma_lo^4))")


def check_multistep_sample(fn) -> bool:
    """Exercise 08-5: ``fn(model, sde, x_T, taus, generator)`` is multistep consistency sampling."""
    ex = "ex-08-5"
    data = Gaussian(torch.tensor([1.0, -0.5], dtype=F64), torch.tensor([0.5, 1.2], dtype=F64))
    for sde in [VE(), VP()]:
        exact = GaussianConsistencyFunction(sde, data, t_min=1e-3)

        def model(x, t, exact=exact):  # an imperfect model: it shrinks more at larger times
            t = torch.as_tensor(t, dtype=x.dtype)
            return exact(x, t) * (1 - 0.2 * t.reshape(-1, 1) if t.ndim else 1 - 0.2 * t)

        x_T = sde.prior_sample((64, 2), generator=torch.Generator().manual_seed(85), dtype=F64)
        for taus in [(), (0.5,), (0.7, 0.3, 0.1)]:
            expected = consistency_sample(model, sde, x_T, taus, generator=torch.Generator().manual_seed(86))
            got = call_student(ex, fn, model, sde, x_T.clone(), taus, torch.Generator().manual_seed(86))
            got = as_tensor(ex, got, like=expected, name="the samples")
            if taus and torch.allclose(got, model(x_T, sde.T)):
                fail(ex, "after the first step, re-noise to each tau and apply the model again")
            assert_close(
                ex, got, expected, rtol=1e-8, atol=1e-10, what=f"the samples for {type(sde).__name__}, taus = {taus}"
            )
    return passed(ex, "x <- f(x_T, T); for each tau: x <- f(x_tau, tau) with x_tau ~ p(x_tau | x_0 = x)")
