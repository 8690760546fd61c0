"""Checkers for the exercises of chapter 07 (likelihood with the probability-flow ODE).

The oracles: :mod:`tutorial_pkg.exact.likelihood` for Hutchinson's estimator and its variance, automatic
differentiation of the probability-flow field for its divergence, the bits/dim formula for dequantised data,
and the affine probability-flow map of Gaussian data for the exact likelihood.
"""

from __future__ import annotations

import math

import torch

from ..autodiff import divergence, draw_probes
from ..datasets import random_mixture
from ..distributions import ExactScore, Gaussian
from ..exact import hutchinson_variance, quadratic_forms
from ..sde import CVP, OU, VE, VP
from ._common import as_tensor, assert_close, call_student, fail, passed

__all__ = [
    "check_hutchinson_trace",
    "check_hutchinson_variance",
    "check_pf_ode_divergence",
    "check_bits_per_dim_bound",
    "check_gaussian_flow_log_likelihood",
]

F64 = torch.float64


def _scalar(exercise: str, value, what: str) -> torch.Tensor:
    out = as_tensor(exercise, value, name=what).to(F64)
    if out.numel() != 1:
        fail(exercise, f"{what} should be one number (a float or a 0-d tensor), got shape {tuple(out.shape)}")
    return out.reshape(())


def _matrices(gen: torch.Generator) -> list[torch.Tensor]:
    """Test matrices: non-symmetric, one with a heavy diagonal (where the probe kinds differ most)."""
    return [
        torch.randn(3, 3, generator=gen, dtype=F64),
        torch.randn(7, 7, generator=gen, dtype=F64) + 3.0 * torch.eye(7, dtype=F64),
        torch.diag(torch.tensor([1.0, -2.0, 0.5, 4.0], dtype=F64)),
    ]


def check_hutchinson_trace(fn) -> bool:
    """Exercise 1.1: ``fn(matvec, probes)`` is the mean over the rows v_k of ``probes`` of v_k^T A v_k."""
    ex = "ex-07-1 (trace estimate)"
    gen = torch.Generator().manual_seed(71)
    for A in _matrices(gen):
        d = A.shape[0]
        for kind in ["rademacher", "gaussian"]:
            for m in [1, 5]:
                probes = draw_probes((m, d), kind, generator=gen, dtype=F64)
                quads = quadratic_forms(A, probes)
                expected = quads.mean().reshape(())
                got = _scalar(ex, call_student(ex, fn, lambda V, A=A: V @ A.T, probes.clone()), "the estimate")
                if m > 1 and torch.isclose(got, quads.sum(), rtol=1e-9) and not torch.isclose(got, expected):
                    fail(ex, "average the m quadratic forms, do not add them up")
                if torch.isclose(got, A.trace(), rtol=1e-9) and not torch.isclose(got, expected, rtol=1e-9):
                    fail(ex, "that is the exact trace: the estimator only uses the products A v_k, never A's diagonal")
                assert_close(ex, got, expected, rtol=1e-10, atol=1e-10, what=f"the estimate ({kind}, m = {m}, d = {d})")
    return passed(ex, "(1/m) sum_k v_k^T A v_k")


def check_hutchinson_variance(fn) -> bool:
    """Exercise 1.2: ``fn(A, kind)`` is Var(v^T A v) for one probe (closed form)."""
    ex = "ex-07-1 (variance)"
    gen = torch.Generator().manual_seed(72)
    for A in _matrices(gen):
        for kind in ["rademacher", "gaussian"]:
            expected = hutchinson_variance(A, kind)
            got = _scalar(ex, call_student(ex, fn, A.clone(), kind), "the variance")
            no_sym = 2 * A.pow(2).sum() - (2 * A.diagonal().pow(2).sum() if kind == "rademacher" else 0.0)
            if torch.isclose(got, no_sym, rtol=1e-9) and not torch.isclose(got, expected, rtol=1e-9):
                fail(ex, "only the symmetric part S = (A + A^T) / 2 enters, since v^T A v = v^T S v")
            other = hutchinson_variance(A, "gaussian" if kind == "rademacher" else "rademacher")
            if torch.isclose(got, other, rtol=1e-9) and not torch.isclose(got, expected, rtol=1e-9):
                fail(
                    ex,
                    f"this is the formula for the other kind of probe; for {kind} probes "
                    + ("v_i^2 = 1, so the diagonal is exact" if kind == "rademacher" else "Var(v_i^2) = 2"),
                )
            assert_close(ex, got, expected, rtol=1e-10, atol=1e-10, what=f"the {kind} variance (d = {A.shape[0]})")
    return passed(ex, "2 ||S||_F^2 (Gaussian), 2 ||S||_F^2 - 2 sum_i A_ii^2 (Rademacher)")


def check_pf_ode_divergence(fn) -> bool:
    """Exercise 2: ``fn(sde, score, x, t)`` is div F = d a(t) - g(t)^2 / 2 div s at ``x: (B, d)``, ``t: (B,)``."""
    ex = "ex-07-2"
    gen = torch.Generator().manual_seed(73)
    mix = random_mixture(3, 4, generator=gen, dtype=F64)
    for sde in [VP(), VE(sigma_min=0.01, sigma_max=5.0), OU(theta=1.0, sigma=1.5, mu=0.7, T=2.0), CVP()]:
        score = ExactScore(mix, sde)
        x = 2.0 * torch.randn(16, 3, generator=gen, dtype=F64)
        t = 0.05 * sde.T + 0.9 * sde.T * torch.rand(16, generator=gen, dtype=F64)
        flow = sde.probability_flow(score)
        expected = divergence(lambda y, flow=flow, t=t: flow.drift(y, t), x)
        got = as_tensor(ex, call_student(ex, fn, sde, score, x.clone(), t.clone()), like=expected, name="div F")
        div_s = divergence(lambda y, score=score, t=t: score(y, t), x)
        a, g2 = sde.drift_coeff(t), sde.diffusion(t) ** 2
        name = type(sde).__name__
        if torch.allclose(got, a - 0.5 * g2 * div_s, rtol=1e-7) and not torch.allclose(got, expected, rtol=1e-7):
            fail(ex, f"the drift a(t)(x - mu) has divergence d * a(t), not a(t) ({name})")
        if torch.allclose(got, 3 * a + 0.5 * g2 * div_s, rtol=1e-7) and not torch.allclose(got, expected, rtol=1e-7):
            fail(ex, f"the score term enters with a minus sign: F = f - g^2 / 2 * s ({name})")
        if torch.allclose(got, 3 * a - g2 * div_s, rtol=1e-7) and not torch.allclose(got, expected, rtol=1e-7):
            fail(ex, f"that is the reverse SDE's drift; the probability-flow ODE has g^2 / 2 ({name})")
        assert_close(ex, got, expected, rtol=1e-8, atol=1e-8, what=f"div F for {name}")
    return passed(ex, "div F = d a(t) - g(t)^2 / 2 div s")


def check_bits_per_dim_bound(fn) -> bool:
    """Exercise 3: ``fn(log_p, dim, n_bins, low, high)`` is -(log p + dim log w) / (dim ln 2).

    The bin width is w = (high - low) / n_bins.
    """
    ex = "ex-07-3"
    gen = torch.Generator().manual_seed(74)
    cases = [(64, 17, -1.0, 1.0), (3072, 256, -1.0, 1.0), (10, 256, 0.0, 1.0), (5, 17, 0.0, 17.0)]
    for dim, n_bins, low, high in cases:
        log_p = 50.0 * torch.randn(6, generator=gen, dtype=F64)
        w = (high - low) / n_bins
        expected = -(log_p + dim * math.log(w)) / (dim * math.log(2))
        got = as_tensor(ex, call_student(ex, fn, log_p.clone(), dim, n_bins, low, high), like=expected, name="bits/dim")
        where = f"(dim = {dim}, n_bins = {n_bins}, [{low:g}, {high:g}])"
        if torch.allclose(got, expected * math.log(2), rtol=1e-9) and not torch.allclose(got, expected, rtol=1e-9):
            fail(ex, f"that is nats per dimension: divide by ln 2 to get bits {where}")
        if torch.allclose(got, -log_p / (dim * math.log(2)), rtol=1e-9) and w != 1.0:
            fail(ex, f"the log-volume of a bin, dim * log w, is missing {where}")
        flipped = -(log_p - dim * math.log(w)) / (dim * math.log(2))
        if torch.allclose(got, flipped, rtol=1e-9) and w != 1.0:
            fail(ex, f"the bin term has the wrong sign: log P(k) >= E log p + dim log w {where}")
        assert_close(ex, got, expected, rtol=1e-10, atol=1e-10, what=f"bits/dim {where}")
    return passed(ex, "-(log p + d log w) / (d ln 2) with w = (high - low) / n_bins")


def _flow_log_likelihood(x: torch.Tensor, sde, data: Gaussian, t: float) -> torch.Tensor:
    """log q(x) for q = the exact-score probability-flow push-forward of p_noise from T to t (Gaussian data)."""
    p_t, p_T = data.diffuse(sde, t), data.diffuse(sde, sde.T)
    ratio = (p_T.scale / p_t.scale).expand_as(x)
    x_T = p_T.loc + ratio * (x - p_t.loc)
    return sde.prior_log_prob(x_T) + torch.log(ratio).sum(-1)


def check_gaussian_flow_log_likelihood(fn) -> bool:
    """Exercise 4: ``fn(x, sde, data, t)`` is log q(x), q the exact-score ODE's law at t started from p_noise."""
    ex = "ex-07-4"
    gen = torch.Generator().manual_seed(75)

    def vec(*values):
        return torch.tensor(values, dtype=F64)

    cases = [
        (VP(), Gaussian(vec(1.0, -0.5), vec(0.5, 1.2))),
        (VP(beta_min=0.1, beta_max=0.1 + 19.9 * 0.3, T=0.3), Gaussian(vec(2.0, 0.0, -1.0), 0.4)),
        (VE(sigma_min=0.01, sigma_max=3.0), Gaussian(vec(0.5, 1.5), vec(0.3, 0.8))),
        (OU(theta=1.0, sigma=1.5, mu=0.7, T=1.0), Gaussian(vec(1.0, -1.0), 0.6)),
    ]
    for sde, data in cases:
        for t in [1e-3, 0.5 * sde.T]:
            x = data.diffuse(sde, t).sample(32, generator=gen)
            expected = _flow_log_likelihood(x, sde, data, t)
            got = as_tensor(ex, call_student(ex, fn, x.clone(), sde, data, t), like=expected, name="log q(x)")
            where = f"({type(sde).__name__}, T = {sde.T:g}, t = {t:g})"
            exact = data.diffuse(sde, t).log_prob(x)
            if torch.allclose(got, exact, rtol=1e-8, atol=1e-10) and not torch.allclose(got, expected, rtol=1e-8):
                fail(ex, f"this is log p_t(x): the flow starts from the prior p_noise, not from p_T {where}")
            p_t, p_T = data.diffuse(sde, t), data.diffuse(sde, sde.T)
            log_ratio = torch.log(p_T.scale / p_t.scale).expand_as(x).sum(-1)
            if torch.allclose(got, expected - 2 * log_ratio, rtol=1e-8, atol=1e-10) and not torch.allclose(
                got, expected, rtol=1e-8
            ):
                fail(ex, f"the log-Jacobian has the wrong sign: the map x -> x_T stretches by sqrt(v_T / v_t) {where}")
            assert_close(ex, got, expected, rtol=1e-9, atol=1e-9, what=f"log q(x) {where}")
    return passed(ex, "log q(x) = log p_noise(x_T) + (1/2) sum_i log(v_T,i / v_t,i)")
