"""Checkers for the exercises of chapter 06 (samplers).

The oracles are the package's samplers run for one step (``tp.integrate_sde`` with injected noise,
``tp.ddim``), ``tp.langevin_step_size``, an independent iteration of the Langevin variance recursion, and a
least-squares fit on synthetic power laws.  Everything runs in float64.
"""

from __future__ import annotations

import math

import torch

from ..datasets import ring_mixture
from ..distributions import ExactScore
from ..samplers import ddim, integrate_sde, langevin_step_size, ode_euler
from ..sde import COU, VE, VP
from ._common import as_tensor, assert_close, call_student, fail, passed

__all__ = [
    "check_em_step",
    "check_ddim_step",
    "check_snr_step_size",
    "check_ula_variance",
    "check_snr_fixed_point",
    "check_weak_order",
]

F64 = torch.float64


def check_em_step(fn) -> bool:
    """Exercise 06-1: ``fn(x, t, t_next, sde, score, h_ratio, z)`` is one Euler–Maruyama step of the family."""
    ex = "ex-06-1"
    gen = torch.Generator().manual_seed(61)
    mix = ring_mixture(dtype=F64)
    for sde in [VP(), VE(sigma_min=0.01, sigma_max=5.0), COU()]:
        score = ExactScore(mix, sde)
        x = mix.diffuse(sde, 0.7 * sde.T).sample(64, generator=gen)
        z = torch.randn(64, 2, generator=gen, dtype=F64)
        t, t_next = 0.7 * sde.T, 0.65 * sde.T
        for h in [1.0, 0.0, 2.0]:
            grid = torch.tensor([t, t_next], dtype=F64)
            expected = integrate_sde(sde.reverse(score, h), x, grid, noise=z[:, None])
            got = call_student(ex, fn, x.clone(), t, t_next, sde, score, h, z.clone())
            got = as_tensor(ex, got, like=expected, name="the new state")
            where = f"({type(sde).__name__}, h_ratio = {h:g})"
            dt = t_next - t
            drift = sde.reverse(score, h).drift(x, torch.full((64,), t, dtype=F64))
            noise = h * sde.diffusion(torch.tensor(t, dtype=F64)) * math.sqrt(abs(dt)) * z
            if torch.allclose(got, x - drift * dt + noise, rtol=1e-8, atol=1e-10):
                fail(ex, f"the drift has the wrong sign {where}: in forward time dt = t_next - t is negative")
            if h != 1.0 and torch.allclose(got, x + sde.reverse(score, 1.0).drift(x, t) * dt + noise, atol=1e-10):
                fail(ex, f"h_ratio is ignored in the drift {where}: the score term carries (1 + h_ratio^2) / 2")
            if h != 0.0 and torch.allclose(got, x + drift * dt, rtol=1e-8, atol=1e-10):
                fail(ex, f"the noise term is missing {where}: add h_ratio * g(t) * sqrt(|dt|) * z")
            assert_close(ex, got, expected, rtol=1e-9, atol=1e-10, what=f"the new state {where}")
    return passed(ex, "x + [f - (1 + h^2)/2 g^2 s] (t_next - t) + h g sqrt(|t_next - t|) z")


def check_ddim_step(fn) -> bool:
    """Exercise 06-2: ``fn(x, t, t_next, sde, score)`` is one deterministic DDIM step for the VP SDE."""
    ex = "ex-06-2"
    gen = torch.Generator().manual_seed(62)
    mix = ring_mixture(dtype=F64)
    for sde in [VP(), VP(beta_min=0.5, beta_max=8.0, T=2.0)]:
        score = ExactScore(mix, sde)
        for t, t_next in [(0.9 * sde.T, 0.6 * sde.T), (0.3 * sde.T, 0.01 * sde.T), (0.05 * sde.T, 1e-3)]:
            x = mix.diffuse(sde, t).sample(64, generator=gen)
            grid = torch.tensor([t, t_next], dtype=F64)
            expected = ddim(sde, score, x, grid)
            got = as_tensor(ex, call_student(ex, fn, x.clone(), t, t_next, sde, score), like=expected)
            where = f"from t = {t:g} to {t_next:g} (beta_max = {sde.beta_max:g})"
            if torch.allclose(got, ode_euler(sde, score, x, grid), rtol=1e-8, atol=1e-10):
                fail(ex, f"this is Euler's step for the probability-flow ODE {where}; DDIM freezes the denoiser x0_hat")
            assert_close(ex, got, expected, rtol=1e-8, atol=1e-10, what=f"the DDIM step {where}")
    return passed(ex, "x' = sqrt(abar') x0_hat + sqrt(1 - abar') eps_hat, the exponential integrator with h = 0")


def check_snr_step_size(fn) -> bool:
    """Exercise 06-3: ``fn(s, z, snr)`` is the Langevin step of the signal-to-noise rule, a number."""
    ex = "ex-06-3"
    gen = torch.Generator().manual_seed(63)
    for shape in [(256, 2), (32, 1, 4, 4)]:
        s = torch.randn(shape, generator=gen, dtype=F64) * 3.0
        s[0] = 1e-4  # one sample sits where the score nearly vanishes (between two modes)
        z = torch.randn(shape, generator=gen, dtype=F64)
        for snr in [0.16, 0.05]:
            expected = langevin_step_size(s, z, snr)
            got = as_tensor(ex, call_student(ex, fn, s.clone(), z.clone(), snr), name="the step size").to(F64)
            if got.numel() != 1:
                fail(ex, f"return one step size for the whole batch (a number), got shape {tuple(got.shape)}")
            got = got.reshape(())
            s_n = s.reshape(shape[0], -1).norm(dim=1)
            z_n = z.reshape(shape[0], -1).norm(dim=1)
            if math.isclose(float(got), float(expected) / 2, rel_tol=1e-8):
                fail(ex, "off by a factor 2: eps = 2 (snr |z| / |s|)^2")
            if math.isclose(float(got), float(2 * snr * z_n.mean() / s_n.mean()), rel_tol=1e-8):
                fail(ex, "square the ratio: eps = 2 (snr mean|z| / mean|s|)^2")
            per_sample = 2 * (snr * z_n / s_n) ** 2
            if math.isclose(float(got), float(per_sample.mean()), rel_tol=1e-6):
                fail(ex, "average the norms over the batch, then take the ratio (one near-zero score explodes it)")
            assert_close(ex, got, expected, rtol=1e-9, atol=0.0, what=f"the step size (shape {shape}, snr = {snr})")
    return passed(ex, "eps = 2 (snr mean|z| / mean|s|)^2, norms over the event dimensions, means over the batch")


def check_ula_variance(fn) -> bool:
    """Exercise 06-4a: ``fn(v, eps)`` is the stationary variance of unadjusted Langevin for N(0, v)."""
    ex = "ex-06-4 (ULA)"
    for v, eps in [(2.0, 0.5), (1.0, 0.01), (0.3, 0.5), (5.0, 9.0)]:
        V = v  # the variance recursion, iterated from the target's variance
        for _ in range(20_000):
            V = (1 - eps / v) ** 2 * V + 2 * eps
        got = as_tensor(ex, call_student(ex, fn, v, eps), name="the variance").to(F64).reshape(-1)
        if got.numel() != 1:
            fail(ex, "return one number")
        if math.isclose(float(got[0]), v, rel_tol=1e-9):
            fail(ex, f"v = {v} is the target; the chain misses it: solve V = (1 - eps/v)^2 V + 2 eps")
        assert_close(ex, got[0], torch.tensor(V, dtype=F64), rtol=1e-8, atol=0.0, what=f"V* for v = {v}, eps = {eps}")
    return passed(ex, "V* = 2 v^2 / (2 v - eps), above v for every eps in (0, 2v)")


def check_snr_fixed_point(fn) -> bool:
    """Exercise 06-4b: ``fn(v, snr)`` is the stationary variance of the corrector with the SNR step rule."""
    ex = "ex-06-4 (SNR rule)"
    for v, snr in [(2.0, 0.16), (0.1, 0.5), (7.0, 0.05)]:
        V = v  # iterate V <- (1 - eps/v)^2 V + 2 eps with eps = 2 snr^2 v^2 / V
        for _ in range(20_000):
            eps = 2 * snr**2 * v**2 / V
            V = (1 - eps / v) ** 2 * V + 2 * eps
        got = as_tensor(ex, call_student(ex, fn, v, snr), name="the variance").to(F64).reshape(-1)
        if got.numel() != 1:
            fail(ex, "return one number")
        assert_close(ex, got[0], torch.tensor(V, dtype=F64), rtol=1e-8, atol=0.0, what=f"V* for v = {v}, snr = {snr}")
    return passed(ex, "V* = v (1 + snr^2): a relative bias snr^2 whatever the scale of the target")


def check_weak_order(fn) -> bool:
    """Exercise 06-5: ``fn(n_steps, errors)`` returns the order p of a fit errors ~ C N^(-p) (least squares)."""
    ex = "ex-06-5"
    gen = torch.Generator().manual_seed(65)
    for p, c in [(1.0, 3.0), (2.0, 0.2), (0.5, 1.0)]:
        n = torch.tensor([10, 20, 40, 80, 160, 320], dtype=F64)
        noise = torch.exp(0.05 * torch.randn(n.shape, generator=gen, dtype=F64))
        errors = c * n ** (-p) * noise
        x, y = n.log(), errors.log()
        xc = x - x.mean()
        expected = -float((xc * (y - y.mean())).sum() / (xc**2).sum())
        got = as_tensor(ex, call_student(ex, fn, n.tolist(), errors.tolist()), name="the order").to(F64).reshape(-1)
        if got.numel() != 1:
            fail(ex, "return one number, the order p")
        if math.isclose(float(got[0]), -expected, rel_tol=1e-6):
            fail(ex, "the sign: errors ~ C N^(-p) fall as N grows, so p = -slope is positive")
        endpoints = -math.log(errors[-1] / errors[0]) / math.log(n[-1] / n[0])
        if math.isclose(float(got[0]), endpoints, rel_tol=1e-9) and not math.isclose(endpoints, expected, rel_tol=1e-6):
            fail(ex, "use all the points (a least-squares line through log e against log N), not only the two ends")
        expected = torch.tensor(expected, dtype=F64)
        assert_close(ex, got[0], expected, rtol=1e-8, atol=1e-10, what=f"the order (true p = {p})")
    return passed(ex, "p = -slope of the least-squares line through (log N, log e)")
