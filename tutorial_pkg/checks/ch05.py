"""Checkers for the exercises of chapter 05 (training a score network).

The oracles are the package's own formulas: :func:`~tutorial_pkg.to_score` for the parametrisations,
the EMA update of the training loop, the exact kernels of the forward SDEs, and the exact scores of
Gaussian mixtures (:mod:`tutorial_pkg.study.score_error`).
"""

from __future__ import annotations

import math

import torch

from ..datasets import ring_mixture
from ..distributions import ExactScore
from ..nets import to_score
from ..sde import VE, VP, SubVP
from ..study import score_error_profile
from ..training import ema_update_fn
from ._common import as_tensor, assert_close, call_student, fail, passed

__all__ = [
    "check_parametrizations",
    "check_ema_update",
    "check_ema_window",
    "check_gaussian_floor",
    "check_dsm_floor_mc",
    "check_eps_error",
    "check_t_min_bias",
]

F64 = torch.float64


def _scalar(exercise: str, value, name: str = "result") -> float:
    """A student's scalar answer as a Python float, without a detour through float32."""
    if torch.is_tensor(value):
        if value.numel() != 1:
            fail(exercise, f"{name} should be one number, got a tensor of shape {tuple(value.shape)}")
        return float(value.reshape(()).to(F64))
    try:
        return float(value)
    except (TypeError, ValueError):
        fail(exercise, f"{name} should be a number, got {type(value).__name__}")


def _sdes():
    return [VP(), VE(sigma_min=0.01, sigma_max=5.0), SubVP(beta_min=0.5, beta_max=10.0, T=2.0)]


def check_parametrizations(eps_to_score, x0_to_score) -> bool:
    """Exercise 1: ``eps_to_score(eps, x, t, sde)`` and ``x0_to_score(x0, x, t, sde)`` give the score."""
    ex = "ex-05-1"
    gen = torch.Generator().manual_seed(51)
    for sde in _sdes():
        x = torch.randn(64, 2, generator=gen, dtype=F64)
        out = torch.randn(64, 2, generator=gen, dtype=F64)
        t = 1e-3 + (sde.T - 1e-3) * torch.rand(64, generator=gen, dtype=F64)
        name = type(sde).__name__
        expected = to_score(out, x, t, sde, "eps")
        got = as_tensor(ex, call_student(ex, eps_to_score, out.clone(), x.clone(), t.clone(), sde), like=expected)
        right = torch.allclose(got, expected, rtol=1e-8, atol=1e-10)
        if not right and torch.allclose(got, -expected * sde.std(t)[:, None] ** 2, rtol=1e-6):
            fail(ex, "s = -eps / sigma_t: divide by the standard deviation sigma_t, not multiply by it")
        if not right and torch.allclose(got, -expected, rtol=1e-6):
            fail(ex, "the sign: the noise points away from the data, the score towards it, s = -eps / sigma_t")
        assert_close(ex, got, expected, rtol=1e-8, atol=1e-10, what=f"eps_to_score for {name}")
        expected = to_score(out, x, t, sde, "x0")
        got = as_tensor(ex, call_student(ex, x0_to_score, out.clone(), x.clone(), t.clone(), sde), like=expected)
        no_alpha = (out - x) / sde.variance(t)[:, None]
        right = torch.allclose(got, expected, rtol=1e-8, atol=1e-10)
        if not right and not isinstance(sde, VE) and torch.allclose(got, no_alpha, rtol=1e-6):
            fail(ex, "the mean of X_t given X_0 = x0 is alpha_t x0 (mu = 0 here): s = (alpha_t x0 - x) / sigma_t^2")
        assert_close(ex, got, expected, rtol=1e-8, atol=1e-10, what=f"x0_to_score for {name}")
    return passed(ex, "s = -eps / sigma_t and s = (mu + alpha_t (x0 - mu) - x) / sigma_t^2")


def check_ema_update(fn) -> bool:
    """Exercise 2: ``fn(averaged, current, n, decay)`` updates the list ``averaged`` in place like the loop."""
    ex = "ex-05-2"
    gen = torch.Generator().manual_seed(52)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    for decay in (0.999, 0.9):
        ours = [torch.randn(s, generator=gen, dtype=F64) for s in shapes]
        theirs = [p.clone() for p in ours]
        reference = ema_update_fn(decay)
        for n in range(1, 60):
            current = [torch.randn(s, generator=gen, dtype=F64) for s in shapes]
            reference(ours, current, torch.tensor(n))
            result = call_student(ex, fn, theirs, [c.clone() for c in current], n, decay)
            if result is not None and result is not theirs:
                theirs = list(result)  # a function that returns new tensors is fine too
            for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
                if not torch.allclose(as_tensor(ex, b, like=a), a, rtol=1e-10, atol=1e-12):
                    fail(
                        ex,
                        f"after update n = {n} (decay {decay}) tensor {k} differs; the loop uses the warm-up "
                        f"decay_n = min(decay, (1 + n) / (10 + n)) (= {min(decay, (1 + n) / (10 + n)):.4f} here), "
                        "and averaged <- decay_n * averaged + (1 - decay_n) * current",
                    )
    return passed(ex, "your EMA matches the training loop's update, warm-up included")


def check_ema_window(fn) -> bool:
    """Exercise 2 (second part): ``fn(n, decay)`` is the mean age, in steps, of the EMA at update n."""
    ex = "ex-05-2 (window)"
    for n, decay in [(100, 0.999), (2000, 0.999), (4000, 0.999), (50_000, 0.999), (3000, 0.99)]:
        d = min(decay, (1 + n) / (10 + n))
        expected = torch.tensor(d / (1 - d), dtype=F64)
        got = torch.tensor(_scalar(ex, call_student(ex, fn, n, decay), "the window"), dtype=F64)
        if math.isclose(float(got), decay / (1 - decay), rel_tol=1e-6) and not math.isclose(
            float(got), float(expected), rel_tol=1e-7
        ):
            fail(ex, f"at n = {n} the warm-up decay (1 + n) / (10 + n) is below {decay}: use the decay in force")
        assert_close(ex, got, expected, rtol=1e-7, atol=1e-10, what=f"the mean age at n = {n}, decay = {decay}")
    return passed(ex, "mean age d / (1 - d) with d = min(decay, (1 + n) / (10 + n))")


def _gaussian_floor(sde, s0: float, d: int, t_min: float) -> float:
    t = torch.linspace(t_min, sde.T, 100_001, dtype=F64)
    a2s2 = sde.mean_coeff(t) ** 2 * s0**2
    return float(torch.trapezoid(d * a2s2 / (a2s2 + sde.variance(t)), t) / (sde.T - t_min))


def check_gaussian_floor(fn) -> bool:
    """Exercise 3.1: ``fn(sde, s0, d, t_min)`` is the floor of the sigma^2-weighted loss for data N(m, s0^2 I_d)."""
    ex = "ex-05-3 (Gaussian floor)"
    for sde in _sdes():
        for s0, d, t_min in [(0.5, 2, 1e-3), (1.3, 3, 1e-2), (0.05, 1, 1e-4)]:
            expected = _gaussian_floor(sde, s0, d, t_min)
            got = _scalar(ex, call_student(ex, fn, sde, s0, d, t_min), "the floor")
            where = f"{type(sde).__name__}, s0 = {s0}, d = {d}, t_min = {t_min:g}"
            if math.isclose(got, expected, rel_tol=1e-5, abs_tol=1e-9):
                continue
            if d > 1 and math.isclose(got, expected / d, rel_tol=1e-4):
                fail(ex, f"the floor adds up over the d coordinates: multiply by d ({where})")
            if math.isclose(got, d - expected, rel_tol=1e-4):
                fail(ex, "that is d minus the floor: the unpredictable part of eps is a^2 s0^2 / (a^2 s0^2 + sigma^2)")
            if abs(sde.T - t_min - 1) > 0.01 and math.isclose(got, expected * (sde.T - t_min), rel_tol=1e-4):
                fail(ex, f"average over t in [t_min, T]: divide the integral by T - t_min ({where})")
            assert_close(
                ex,
                torch.tensor(got, dtype=F64),
                torch.tensor(expected, dtype=F64),
                rtol=1e-5,
                atol=1e-9,
                what=f"the floor ({where})",
            )
    return passed(ex, "C = d / (T - t_min) int alpha_t^2 s0^2 / (alpha_t^2 s0^2 + sigma_t^2) dt")


def check_dsm_floor_mc(fn) -> bool:
    """Exercise 3.2: ``fn(dist, sde, t, n, generator)`` returns (mean, stderr) of the DSM floor at time t."""
    ex = "ex-05-3 (Monte Carlo floor)"
    sde, mix = VP(), ring_mixture(dtype=F64)
    exact = ExactScore(mix, sde)
    for t in [0.01, 0.2, 0.6]:
        result = call_student(ex, fn, mix, sde, t, 20_000, torch.Generator().manual_seed(53))
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            fail(ex, "return a pair (mean, standard error)")
        mean, se = (_scalar(ex, v) for v in result)
        # a precise reference: many fresh points
        g = torch.Generator().manual_seed(530)
        x0 = mix.sample(200_000, generator=g)
        xt, eps = sde.sample_marginal(x0, t, generator=g)
        ref = (sde.std(torch.tensor(t, dtype=F64)) * exact(xt, t) + eps).pow(2).sum(1)
        ref_mean, ref_se = float(ref.mean()), float(ref.std() / ref.numel() ** 0.5)
        expected_se = float(ref.std()) / math.sqrt(20_000)
        if not expected_se / 3 < se < 3 * expected_se:
            fail(ex, f"the standard error {se:.3g} is implausible (about {expected_se:.3g} expected): std / sqrt(n)")
        if abs(mean - ref_mean) > 5 * math.hypot(se, ref_se):
            fail(
                ex,
                f"at t = {t}: your floor {mean:.4f} +- {se:.4f}, a 200 000-point estimate {ref_mean:.4f}; "
                "average |sigma_t s(x_t, t) + eps|^2 with the exact score s",
            )
    return passed(ex, "the Monte Carlo floor agrees with a 200 000-point estimate")


def check_eps_error(fn) -> bool:
    """Exercise 4: ``fn(score, dist, sde, t, n, generator)`` returns (mean, stderr) of sigma_t^2 |s - s*|^2."""
    ex = "ex-05-4"
    sde, mix = VP(), ring_mixture(dtype=F64)
    exact = ExactScore(mix, sde)
    c = torch.tensor([0.3, -0.4], dtype=F64)

    def shifted(x, t):  # sigma_t (s - s*) = c exactly: the answer is |c|^2 = 0.25 at every time, no MC error
        return exact(x, t) + c / sde.std(torch.as_tensor(t, dtype=F64)).reshape(-1, 1)

    for t in [1e-3, 0.3, 0.9]:
        result = call_student(ex, fn, shifted, mix, sde, t, 500, torch.Generator().manual_seed(54))
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            fail(ex, "return a pair (mean, standard error)")
        mean = _scalar(ex, result[0], "the mean")
        unweighted = 0.25 / float(sde.variance(torch.tensor(t, dtype=F64)))
        if not math.isclose(mean, 0.25, rel_tol=1e-6) and math.isclose(mean, unweighted, rel_tol=1e-6):
            fail(ex, "weight the squared error by sigma_t^2 (the error of eps = -sigma_t s)")
        assert_close(
            ex,
            torch.tensor(mean, dtype=F64),
            torch.tensor(0.25, dtype=F64),
            rtol=1e-6,
            atol=1e-9,
            what=f"the error at t = {t}",
        )

    def scaled(x, t):
        return 0.8 * exact(x, t)

    for t in [0.05, 0.5]:
        result = call_student(ex, fn, scaled, mix, sde, t, 4000, torch.Generator().manual_seed(55))
        mean, se = (_scalar(ex, v) for v in result)
        ref = score_error_profile(scaled, mix, sde, [t], n=100_000, generator=torch.Generator().manual_seed(550))
        if abs(mean - float(ref.mean[0])) > 5 * math.hypot(se, float(ref.stderr[0])):
            fail(ex, f"for s = 0.8 s* at t = {t}: yours {mean:.4f} +- {se:.4f}, reference {float(ref.mean[0]):.4f}")
    return passed(ex, "e(t) = sigma_t^2 E_{p_t} |s - grad log p_t|^2, with its standard error")


def check_t_min_bias(bias_fn, pick_fn) -> bool:
    """Exercise 5: ``bias_fn(sde, t_min, m2, d)`` bounds W2(p_0, p_t_min); ``pick_fn(sde, m2, d, tol)`` picks t_min."""
    ex = "ex-05-5"
    for sde in [VP(), SubVP(), VP(beta_min=0.5, beta_max=10.0)]:
        for m2, d in [(3.6, 2), (1.0, 10)]:
            for t in [1e-4, 1e-3, 1e-2]:
                tt = torch.tensor(t, dtype=F64)
                a, v = float(sde.mean_coeff(tt)), float(sde.variance(tt))
                expected = torch.tensor(math.sqrt((1 - a) ** 2 * m2 + d * v), dtype=F64)
                got = torch.tensor(_scalar(ex, call_student(ex, bias_fn, sde, t, m2, d), "the bound"), dtype=F64)
                if not math.isclose(float(got), float(expected), rel_tol=1e-7) and math.isclose(
                    float(got), float(expected) ** 2, rel_tol=1e-6
                ):
                    fail(ex, "return the bound on W2 itself, the square root of E|X_t - X_0|^2")
                assert_close(ex, got, expected, rtol=1e-8, atol=1e-12, what=f"the bound at t_min = {t:g}")
            for tol in [0.01, 0.03]:
                got = _scalar(ex, call_student(ex, pick_fn, sde, m2, d, tol), "t_min")
                bound = _scalar(ex, call_student(ex, bias_fn, sde, got, m2, d), "the bound")
                above = _scalar(ex, call_student(ex, bias_fn, sde, got * 1.01, m2, d), "the bound")
                if not bound <= tol * (1 + 1e-6):
                    fail(ex, f"t_min = {got:.4g} gives a bound {bound:.4g} above the tolerance {tol}")
                if above <= tol:
                    fail(ex, f"t_min = {got:.4g} is not the largest: 1% more still meets the tolerance {tol}")
    return passed(ex, "W2(p_0, p_t) <= sqrt((1 - alpha_t)^2 m2 + d sigma_t^2); the largest t_min that meets it")
