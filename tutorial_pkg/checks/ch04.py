"""Checkers for the exercises of chapter 04 (score matching).

The oracles are the package's own implementations: :func:`tutorial_pkg.losses.dsm_loss` for the
denoising loss, the closed forms of :mod:`tutorial_pkg.exact.score_matching` for the constants, the variance of
Hutchinson's estimator and the exponential-family score-matching estimator.
"""

from __future__ import annotations

import math

import torch

from ..distributions import Gaussian
from ..exact import gaussian_dsm_constant, gaussian_family_stats
from ..losses import dsm_loss
from ..nets import ScoreModel, TimeMLP
from ..sde import OU, VE, VP
from ..study import exp_family_sm_estimate
from ._common import as_tensor, assert_close, call_student, fail, passed

__all__ = [
    "check_dsm_eps_loss",
    "check_hutchinson_divergence",
    "check_dsm_floor",
    "check_ism_constant",
    "check_sm_estimator",
]

F64 = torch.float64


def _number(exercise: str, value, what: str) -> float:
    """A student's scalar answer as a Python float, with a hint when it is not one number."""
    out = as_tensor(exercise, value, name=what).to(F64).reshape(-1)
    if out.numel() != 1:
        fail(exercise, f"{what} should be one number, got a tensor of shape {tuple(out.shape)}")
    if not math.isfinite(float(out[0])):
        fail(exercise, f"{what} is not finite")
    return float(out[0])


def check_dsm_eps_loss(fn) -> bool:
    """Exercise 1: ``fn(eps_model, x0, t, eps, sde)`` is the per-sample DSM loss |eps_model(x_t, t) - eps|^2."""
    ex = "ex-04-1"
    gen = torch.Generator().manual_seed(41)
    sdes = [VP(), VE(sigma_min=0.01, sigma_max=5.0), OU(theta=1.0, sigma=1.5, mu=0.5, T=2.0)]
    with torch.no_grad():
        for sde in sdes:
            for shape in [(64, 2), (16, 1, 2, 3)]:
                dim = math.prod(shape[1:])
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(4)
                    net = TimeMLP(dim, 32, 2, T=sde.T).to(F64)
                model = ScoreModel(net, sde, "eps")
                x0 = 2 * torch.randn(shape, generator=gen, dtype=F64)
                times = [0.3 * sde.T, 1e-3 + (sde.T - 1e-3) * torch.rand(shape[0], generator=gen, dtype=F64)]
                for t in times:
                    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
                    expected = dsm_loss(model, x0, sde, t=t, generator=torch.Generator().manual_seed(seed))
                    _, eps = sde.sample_marginal(x0, t, generator=torch.Generator().manual_seed(seed))
                    raw = call_student(ex, fn, model.eps, x0.clone(), t, eps.clone(), sde)
                    got = torch.as_tensor(raw)
                    if got.shape != expected.shape:
                        fail(
                            ex,
                            f"return one value per sample, shape ({shape[0]},): sum the squares over every "
                            f"dimension but the batch (x0 has shape {tuple(shape)}), and do not average over the batch",
                        )
                    got = as_tensor(ex, got, like=expected, name="the loss")
                    where = f"{type(sde).__name__}, x0 of shape {tuple(shape)}"
                    tt = sde.check_time(t, like=x0)
                    tt = tt.expand(shape[0]) if tt.ndim == 0 else tt
                    alpha = sde.mean_coeff(tt).reshape(-1, *[1] * (len(shape) - 1))
                    sigma = sde.std(tt).reshape(-1, *[1] * (len(shape) - 1))
                    for wrong, hint in [
                        (x0 + sigma * eps, "x_t = mu + alpha_t (x0 - mu) + sigma_t eps: the mean shrinks by alpha_t"),
                        (
                            alpha * x0 + sigma * eps,
                            "the kernel mean is mu + alpha_t (x0 - mu), and mu need not be 0 (this OU has mu = 0.5)",
                        ),
                    ]:
                        alt = ((model.eps(wrong, tt) - eps) ** 2).flatten(1).sum(1)
                        if torch.allclose(got, alt, rtol=1e-8, atol=1e-10) and not torch.allclose(alt, expected):
                            fail(ex, f"{hint} ({where}); use sde.marginal(x0, t) for the mean and std")
                    assert_close(ex, got, expected, rtol=1e-8, atol=1e-10, what=f"the loss ({where})")
    return passed(ex, "|eps_theta(x_t, t) - eps|^2 equals tp.dsm_loss with lambda = sigma^2, for every sample")


def check_hutchinson_divergence(fn) -> bool:
    """Exercise 2: ``fn(f, x, n_probes, generator)`` is Hutchinson's divergence estimate with Rademacher probes."""
    ex = "ex-04-2"
    # 1. a diagonal Jacobian: every Rademacher probe gives the exact trace
    diag = torch.linspace(-1.0, 2.0, 5, dtype=F64)
    x = torch.randn(8, 5, generator=torch.Generator().manual_seed(0), dtype=F64)
    got = as_tensor(
        ex,
        call_student(ex, fn, lambda y: y * diag, x.clone(), 1, torch.Generator().manual_seed(1)),
        like=torch.zeros(8, dtype=F64),
        name="the estimate",
    )
    if not torch.allclose(got, torch.full_like(got, float(diag.sum())), rtol=1e-8, atol=1e-10):
        fail(
            ex,
            "for f(y) = y * diag the Jacobian is diagonal, and a Rademacher probe (entries +1 or -1, each with "
            f"probability 1/2) gives v^T A v = tr A = {float(diag.sum()):g} exactly; got values like "
            f"{float(got[0]):.4g}. Draw the probes with torch.randint(0, 2, ...) * 2 - 1, not torch.randn",
        )
    # 2. a symmetric matrix with off-diagonal entries: mean tr A, variance 2 (||A||_F^2 - sum A_ii^2) / m
    a = torch.tensor([[1.0, 0.8, -0.5], [0.8, -2.0, 0.3], [-0.5, 0.3, 0.5]], dtype=F64)
    trace, var1 = float(a.trace()), float(2 * ((a**2).sum() - (a.diagonal() ** 2).sum()))
    n = 20_000
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(2), dtype=F64)
    for m in [1, 3]:
        est = as_tensor(
            ex,
            call_student(ex, fn, lambda y: y @ a.T, x.clone(), m, torch.Generator().manual_seed(10 + m)),
            like=torch.zeros(n, dtype=F64),
            name="the estimate",
        )
        mean, var = float(est.mean()), float(est.var())
        if abs(mean - m * trace) < 0.05 and m > 1:
            fail(ex, "average the m probe values v_k^T (df/dx) v_k; do not sum them")
        z = (mean - trace) / math.sqrt(var1 / m / n)
        if abs(z) > 5:
            fail(
                ex, f"the estimates average {mean:.4f}, but they should be unbiased for tr A = {trace:g} (z = {z:.1f})"
            )
        if abs(var / (var1 / m) - 1) > 0.12:
            gauss = 2 * float((a**2).sum()) / m
            hint = (
                " (that is the variance of Gaussian probes: use Rademacher ones)" if abs(var / gauss - 1) < 0.12 else ""
            )
            fail(ex, f"with {m} probe(s) the variance should be {var1 / m:.4f}, got {var:.4f}{hint}")
    # 3. the same generator seed gives the same estimate
    f = lambda y: torch.tanh(y @ a.T) + y**2  # noqa: E731
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(3), dtype=F64)
    e1 = as_tensor(ex, call_student(ex, fn, f, x.clone(), 4, torch.Generator().manual_seed(5)), like=x[:, 0])
    e2 = as_tensor(ex, call_student(ex, fn, f, x.clone(), 4, torch.Generator().manual_seed(5)), like=x[:, 0])
    if not torch.equal(e1, e2):
        fail(ex, "two calls with equally seeded generators differ: draw the probes with generator=generator")
    return passed(ex, "unbiased, exact for diagonal Jacobians, variance 2 (||A||_F^2 - sum_i A_ii^2) / m")


def check_dsm_floor(fn) -> bool:
    """Exercise 3: ``fn(sde, t, s0, d)`` is the minimum of the sigma^2-weighted DSM objective, data N(m, s0^2 I_d)."""
    ex = "ex-04-3"
    for sde in [VP(), VE(sigma_min=0.01, sigma_max=5.0), OU(theta=1.0, sigma=1.5, mu=0.5, T=2.0)]:
        for frac in [1e-3, 0.1, 0.5, 1.0]:
            t = frac * sde.T
            for s0, d in [(0.5, 1), (1.0, 3), (2.0, 10)]:
                data = Gaussian(torch.zeros(d, dtype=F64), s0)
                expected = float(gaussian_dsm_constant(data, sde, t))
                got = _number(ex, call_student(ex, fn, sde, t, s0, d), "the floor")
                where = f"{type(sde).__name__}, t = {t:g}, s0 = {s0}, d = {d}"
                sigma2 = float(sde.variance(torch.tensor(t, dtype=F64)))
                v = float(sde.mean_coeff(torch.tensor(t, dtype=F64))) ** 2 * s0**2 + sigma2
                if math.isclose(got, d * sigma2 / v, rel_tol=1e-6) and not math.isclose(got, expected, rel_tol=1e-6):
                    fail(
                        ex,
                        f"that is lambda E|grad log p_t|^2 (the ISM constant); the floor is d minus it ({where})",
                    )
                if math.isclose(got, d * (1 / sigma2 - 1 / v), rel_tol=1e-6) and not math.isclose(
                    got, expected, rel_tol=1e-6
                ):
                    fail(ex, f"weight the objective by lambda = sigma_t^2 ({where})")
                if d > 1 and math.isclose(got, expected / d, rel_tol=1e-6):
                    fail(ex, f"the floor grows with the dimension: multiply by d ({where})")
                if not math.isclose(got, expected, rel_tol=1e-8, abs_tol=1e-12):
                    fail(ex, f"got {got:.6g}, expected {expected:.6g} ({where})")
    return passed(ex, "min J_DSM = d alpha_t^2 s0^2 / (alpha_t^2 s0^2 + sigma_t^2) with lambda = sigma_t^2")


def check_ism_constant(fn) -> bool:
    """Exercise 4: ``fn(v, d)`` is E|grad log p|^2 for p = N(0, v I_d), the gap J_ESM - J_ISM at lambda = 1."""
    ex = "ex-04-4"
    for v, d in [(1.0, 1), (0.25, 3), (4.0, 2), (0.7, 10)]:
        got = _number(ex, call_student(ex, fn, v, d), "the constant")
        expected = d / v
        for wrong, hint in [
            (v / d, "grad log p(x) = -x / v, so E|grad log p|^2 = E|x|^2 / v^2"),
            (1 / v, "E|x|^2 = d v for x ~ N(0, v I_d): the constant grows with d"),
            (d / v**2, "E|x|^2 = d v, so E|x|^2 / v^2 = d / v"),
        ]:
            if not math.isclose(wrong, expected) and math.isclose(got, wrong, rel_tol=1e-8):
                fail(ex, f"{hint} (v = {v}, d = {d})")
        if not math.isclose(got, expected, rel_tol=1e-10):
            fail(ex, f"got {got:.6g}, expected {expected:.6g} (v = {v}, d = {d})")
    return passed(ex, "J_ESM - J_ISM = E|grad log p|^2 = d / v")


def check_sm_estimator(fn) -> bool:
    """Exercise 5: ``fn(grad_F, lap_F)`` is theta_hat = -E_n(J J^T)^{-1} E_n(Laplacian F) for p ∝ exp(theta . F)."""
    ex = "ex-04-5"
    gen = torch.Generator().manual_seed(5)
    for n, k, d in [(50, 2, 1), (80, 3, 2), (40, 1, 3)]:
        grad_F = torch.randn(n, k, d, generator=gen, dtype=F64)
        lap_F = torch.randn(n, k, generator=gen, dtype=F64)
        expected = exp_family_sm_estimate(grad_F, lap_F)
        got = torch.as_tensor(call_student(ex, fn, grad_F.clone(), lap_F.clone()))
        if got.shape != expected.shape:
            fail(
                ex,
                f"return theta_hat of shape ({k},); with grad_F (n, k, d) the matrix E_n(J J^T) is (k, k): "
                "J @ J^T, not J^T @ J",
            )
        got = as_tensor(ex, got, like=expected, name="theta_hat")
        if torch.allclose(got, -expected, rtol=1e-8, atol=1e-10):
            fail(ex, "the sign is flipped: the ISM objective theta^T M theta + 2 theta^T b is smallest at -M^{-1} b")
        assert_close(ex, got, expected, rtol=1e-8, atol=1e-10, what=f"theta_hat (n = {n}, k = {k}, d = {d})")
    # on Gaussian data the estimator is the maximum-likelihood estimate
    x = 1.0 + 0.7 * torch.randn(500, generator=gen, dtype=F64)
    got = as_tensor(ex, call_student(ex, fn, *gaussian_family_stats(x)), like=torch.zeros(2, dtype=F64))
    v = x.var(correction=0)
    assert_close(ex, got, torch.stack([x.mean() / v, -0.5 / v]), rtol=1e-8, atol=1e-10, what="theta_hat, Gaussian data")
    return passed(ex, "theta_hat = -E_n(J J^T)^{-1} E_n(Laplacian F); on Gaussian data it is the MLE")
