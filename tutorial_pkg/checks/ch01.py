"""Checkers for the exercises of chapter 01 (SDEs in a nutshell).

Every checker draws its own test data with a fixed seed and compares the student's function with the
package's exact formulas: :mod:`tutorial_pkg.study.stochastic` (Itô sums, geometric Brownian motion),
:func:`tutorial_pkg.exact.forward_em_moments` (the Euler–Maruyama chain of OU) and the exact OU law
``Gaussian(...).diffuse(OU(...), t)`` differentiated by autograd (Fokker–Planck).
"""

from __future__ import annotations

import math

import torch

from ..distributions import Gaussian
from ..exact import forward_em_moments
from ..sde import OU
from ..stats import fit_order, mean_stderr
from ..study.stochastic import (
    brownian_increments,
    brownian_path,
    coarsen_increments,
    gbm_euler_maruyama,
    gbm_exact,
    ito_integral,
)
from ._common import as_tensor, assert_close, call_student, fail, passed

__all__ = [
    "check_ito_sum",
    "check_em_step_ou",
    "check_em_ou_moments",
    "check_em_gbm",
    "check_gbm_strong_errors",
    "check_ou_fokker_planck",
    "check_brownian_moment",
]

DTYPE = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-8, atol: float = 1e-10) -> bool:
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and torch.allclose(a, b, rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------------------------
# Exercise 01.1: the Itô sum of W dW and the isometry
# ----------------------------------------------------------------------------------------------


def check_ito_sum(ito_sum_w_dw) -> bool:
    """``ito_sum_w_dw(dW: (n, N)) -> (n,)``: left-point sums sum_k W(t_k) dW_k; then the isometry by Monte Carlo."""
    ex = "Exercise 01.1"
    ts = torch.linspace(0.0, 1.5, 201, dtype=DTYPE)
    dW = brownian_increments(6, ts, generator=_gen(101), dtype=DTYPE)
    expected = ito_integral(brownian_path(dW), dW)[:, -1]
    got = as_tensor(ex, call_student(ex, ito_sum_w_dw, dW.clone()), name="the returned sums").to(DTYPE)
    if got.shape != expected.shape:
        fail(ex, f"return one sum per path, shape {tuple(expected.shape)}; got {tuple(got.shape)}")
    qv = (dW**2).sum(dim=1)
    if _close(got, expected + qv):
        fail(ex, "these are right-point sums sum_k W(t_{k+1}) dW_k; Itô evaluates W at the LEFT end, W(t_k)")
    if _close(got, expected + qv / 2):
        fail(ex, "these are midpoint (Stratonovich) sums; Itô evaluates W at the left end point W(t_k) only")
    if _close(got, brownian_path(dW)[:, -1] ** 2 / 2):
        fail(ex, "W_T^2 / 2 is the ordinary-calculus answer; compute the sum sum_k W(t_k) (W(t_{k+1}) - W(t_k))")
    assert_close(ex, got, expected, rtol=1e-10, atol=1e-12, what="the Itô sums")

    n_paths, n_steps, t = 20_000, 100, 1.0
    grid = torch.linspace(0.0, t, n_steps + 1, dtype=DTYPE)
    dW = brownian_increments(n_paths, grid, generator=_gen(202), dtype=DTYPE)
    sums = as_tensor(ex, call_student(ex, ito_sum_w_dw, dW), name="the returned sums").to(DTYPE)
    m, se = mean_stderr(sums)
    m2, se2 = mean_stderr(sums**2)
    exact2 = t**2 * (1 - 1 / n_steps) / 2
    if abs(m.item()) > 4 * se.item() or abs(m2.item() - exact2) > 4 * se2.item():
        fail(ex, f"on {n_paths} paths E I = {m.item():.4f}, E I^2 = {m2.item():.4f}; expected 0 and {exact2:.4f}")
    return passed(
        ex,
        f"E I = {m.item():+.4f} +- {se.item():.4f}, E I^2 = {m2.item():.4f} +- {se2.item():.4f} "
        f"(isometry: t^2 (1 - 1/N) / 2 = {exact2:.4f})",
    )


# ----------------------------------------------------------------------------------------------
# Exercise 01.2: Euler–Maruyama for OU and the moments of its chain
# ----------------------------------------------------------------------------------------------

_OU_CASES = [(2.0, 2.0, 0.0, 0.01), (0.5, 1.3, 0.7, 0.1), (3.0, 0.4, -1.0, 0.25)]


def check_em_step_ou(em_step_ou) -> bool:
    """``em_step_ou(x, h, z, theta, sigma, mu)``: one Euler–Maruyama step of dX = theta (mu - X) dt + sigma dW."""
    ex = "Exercise 01.2a"
    gen = _gen(303)
    x = torch.randn(64, 1, generator=gen, dtype=DTYPE) * 2
    z = torch.randn(64, 1, generator=gen, dtype=DTYPE)
    for theta, sigma, mu, h in _OU_CASES:
        sde = OU(theta=theta, sigma=sigma, mu=mu)
        expected = x + sde.drift(x, 0.0) * h + sigma * math.sqrt(h) * z
        got = as_tensor(ex, call_student(ex, em_step_ou, x.clone(), h, z.clone(), theta, sigma, mu), like=expected)
        if _close(got, x + sde.drift(x, 0.0) * h + sigma * h * z):
            fail(ex, "the noise term scales like sqrt(h), not h: Delta W ~ N(0, h) = sqrt(h) z")
        if _close(got, x - sde.drift(x, 0.0) * h + sigma * math.sqrt(h) * z):
            fail(ex, "check the sign of the drift: theta (mu - x) pulls x towards mu")
        what = f"the step (theta={theta}, sigma={sigma}, mu={mu}, h={h})"
        assert_close(ex, got, expected, rtol=1e-12, atol=1e-12, what=what)
    return passed(ex, "x + theta (mu - x) h + sigma sqrt(h) z")


def check_em_ou_moments(em_ou_moments) -> bool:
    """``em_ou_moments(x, theta, sigma, mu, T, N) -> (mean, var)`` of the Euler–Maruyama chain after N steps."""
    ex = "Exercise 01.2b"
    cases = [(1.5, 2.0, 2.0, 0.0, 1.0, 10), (-0.3, 0.7, 1.1, 0.4, 2.0, 37), (2.0, 3.0, 0.5, 1.0, 0.5, 1)]
    for x, theta, sigma, mu, T, N in cases:
        sde = OU(theta=theta, sigma=sigma, mu=mu, T=T)
        c, v = forward_em_moments(sde, torch.linspace(0.0, T, N + 1, dtype=DTYPE))
        expected = torch.stack([mu + c * (x - mu), v])
        out = call_student(ex, em_ou_moments, x, theta, sigma, mu, T, N)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            fail(ex, "return a pair (mean, variance)")
        got = torch.stack([as_tensor(ex, o, name="mean/variance").to(DTYPE).reshape(()) for o in out])
        k_mean, k_std = sde.marginal(torch.tensor([[x]], dtype=DTYPE), T)
        kernel = torch.stack([k_mean.reshape(()), k_std.reshape(()) ** 2])
        if N > 1 and _close(got, kernel):
            fail(ex, "these are the exact kernel moments of the SDE; the question asks for the Euler–Maruyama chain's")
        if _close(got, torch.stack([expected[0], expected[1].sqrt()])):
            fail(ex, "the second entry should be the variance, not the standard deviation")
        assert_close(ex, got, expected, rtol=1e-10, atol=1e-12, what=f"(mean, var) for x={x}, theta={theta}, N={N}")
    return passed(ex, "mean mu + (1 - theta h)^N (x - mu), variance sigma^2 h sum_k (1 - theta h)^(2k)")


# ----------------------------------------------------------------------------------------------
# Exercise 01.3: geometric Brownian motion and the strong order
# ----------------------------------------------------------------------------------------------


def check_em_gbm(em_gbm) -> bool:
    """``em_gbm(x0: (n,), a, b, ts: (N+1,), dW: (n, N)) -> (n,)``: Euler–Maruyama for dX = a X dt + b X dW."""
    ex = "Exercise 01.3a"
    a, b = 1.5, 0.8
    grids = {
        "a uniform grid": torch.linspace(0.0, 1.0, 33, dtype=DTYPE),
        "a non-uniform grid": torch.linspace(0.0, 1.0, 33, dtype=DTYPE) ** 2,
    }
    for i, (name, ts) in enumerate(grids.items()):
        dW = brownian_increments(50, ts, generator=_gen(404 + i), dtype=DTYPE)
        x0 = 0.5 + torch.rand(50, generator=_gen(505 + i), dtype=DTYPE)
        expected = gbm_euler_maruyama(x0, a, b, ts, dW)[:, -1]
        got = as_tensor(ex, call_student(ex, em_gbm, x0.clone(), a, b, ts.clone(), dW.clone()), like=expected)
        if _close(got, gbm_exact(x0, a, b, ts, dW)[:, -1]):
            fail(ex, "this is the exact solution; the exercise asks for the Euler–Maruyama approximation")
        if i == 1 and _close(got, gbm_euler_maruyama(x0, a, b, torch.linspace(0.0, 1.0, 33, dtype=DTYPE), dW)[:, -1]):
            fail(ex, "on a non-uniform grid use the step h_k = ts[k+1] - ts[k] of each interval")
        assert_close(ex, got, expected, rtol=1e-10, atol=1e-12, what=f"Y_N on {name}")
    return passed(ex, "Y_{k+1} = Y_k (1 + a h_k + b dW_k) on uniform and non-uniform grids")


def check_gbm_strong_errors(gbm_strong_errors) -> bool:
    """``gbm_strong_errors(x0, a, b, ts_fine, dW_fine, levels) -> (len(levels),)`` mean |X_T - Y_N|."""
    ex = "Exercise 01.3b"
    a, b, x0, n = 2.0, 1.0, 1.0, 5000
    levels = [8, 16, 32, 64, 128]
    ts = torch.linspace(0.0, 1.0, max(levels) + 1, dtype=DTYPE)
    dW = brownian_increments(n, ts, generator=_gen(606), dtype=DTYPE)
    start = torch.full((n,), x0, dtype=DTYPE)
    exact = gbm_exact(start, a, b, ts, dW)[:, -1]
    expected = []
    for N in levels:
        f = max(levels) // N
        scheme = gbm_euler_maruyama(start, a, b, ts[::f], coarsen_increments(dW, f))[:, -1]
        expected.append((scheme - exact).abs().mean())
    expected = torch.stack(expected)
    out = call_student(ex, gbm_strong_errors, x0, a, b, ts.clone(), dW.clone(), list(levels))
    try:
        got = torch.stack([torch.as_tensor(e, dtype=DTYPE).reshape(()) for e in out])
    except Exception:
        fail(ex, f"return one mean absolute error per entry of levels ({len(levels)} numbers)")
    if got.shape == expected.shape:
        every_fth = torch.stack([
            (gbm_euler_maruyama(start, a, b, ts[:: max(levels) // N], dW[:, :: max(levels) // N])[:, -1] - exact)
            .abs()
            .mean()
            for N in levels
        ])
        if _close(got, every_fth, rtol=1e-6):
            fail(ex, "coarsen by SUMMING consecutive fine increments (coarsen_increments), not keeping every f-th one")
    assert_close(ex, got, expected, rtol=1e-8, atol=1e-12, what="the strong errors")
    order = fit_order([1.0 / N for N in levels], got.tolist()).order
    if not 0.35 < order < 0.7:
        fail(ex, f"the fitted order is {order:.2f}; expected about 1/2")
    return passed(ex, f"errors {[round(e, 4) for e in got.tolist()]}, fitted strong order {order:.3f} (theory 1/2)")


# ----------------------------------------------------------------------------------------------
# Exercise 01.4: a Gaussian density solves the OU Fokker–Planck equation
# ----------------------------------------------------------------------------------------------


def _fp_oracle(x: torch.Tensor, t: float, m0: float, s0: float, theta: float, sigma: float, mu: float):
    """d_t p, -d_x(f p) and (1/2) sigma^2 d_xx p for the exact OU law, by autograd: each ``(B,)``."""
    sde = OU(theta=theta, sigma=sigma, mu=mu, T=max(1.0, 2 * t))
    data = Gaussian(torch.tensor([m0], dtype=DTYPE), s0)
    tt = torch.full(x.shape, float(t), dtype=DTYPE, requires_grad=True)
    xx = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        p = data.diffuse(sde, tt).log_prob(xx[:, None]).exp()
        (dp_dt,) = torch.autograd.grad(p.sum(), tt, create_graph=True)
        fp = sde.drift(xx[:, None], float(t))[:, 0] * p
        (dfp,) = torch.autograd.grad(fp.sum(), xx, create_graph=True)
        (dp,) = torch.autograd.grad(p.sum(), xx, create_graph=True)
        (d2p,) = torch.autograd.grad(dp.sum(), xx)
    return dp_dt.detach(), -dfp.detach(), 0.5 * sigma**2 * d2p.detach()


def check_ou_fokker_planck(ou_fp_sides) -> bool:
    """``ou_fp_sides(x: (B,), t, m0, s0, theta, sigma, mu) -> (dp_dt, rhs)``, both ``(B,)``, by hand."""
    ex = "Exercise 01.4"
    cases = [(2.0, 0.5, 2.0, 2.0, 0.0), (-1.0, 1.2, 0.7, 0.9, 0.5)]
    x = torch.linspace(-4.0, 4.0, 41, dtype=DTYPE)
    for m0, s0, theta, sigma, mu in cases:
        for t in [0.1, 0.5, 1.3]:
            dp_dt, drift_term, diff_term = _fp_oracle(x, t, m0, s0, theta, sigma, mu)
            out = call_student(ex, ou_fp_sides, x.clone(), t, m0, s0, theta, sigma, mu)
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                fail(ex, "return a pair (dp_dt, rhs)")
            got_dt = as_tensor(ex, out[0], like=dp_dt, name="dp_dt")
            got_rhs = as_tensor(ex, out[1], like=dp_dt, name="rhs")
            if got_dt.requires_grad or got_rhs.requires_grad:
                got_dt, got_rhs = got_dt.detach(), got_rhs.detach()
            where = f"(m0={m0}, s0={s0}, theta={theta}, sigma={sigma}, mu={mu}, t={t})"
            atol = 1e-10 * float(dp_dt.abs().max())
            if not _close(got_rhs, drift_term + diff_term, rtol=1e-8, atol=atol):
                if _close(got_rhs, -drift_term + diff_term, rtol=1e-8, atol=atol):
                    fail(ex, f"rhs {where}: the drift term is -d/dx (f p) with f = theta (mu - x); check its sign")
                if _close(got_rhs, drift_term, rtol=1e-8, atol=atol):
                    fail(ex, f"rhs {where}: the diffusion term (sigma^2 / 2) d^2p/dx^2 is missing")
                if _close(got_rhs, drift_term + 2 * diff_term, rtol=1e-8, atol=atol):
                    fail(ex, f"rhs {where}: the diffusion term has a factor 1/2: (sigma^2 / 2) d^2p/dx^2")
            assert_close(ex, got_dt, dp_dt, rtol=1e-8, atol=atol, what=f"dp_dt {where}")
            assert_close(ex, got_rhs, drift_term + diff_term, rtol=1e-8, atol=atol, what=f"rhs {where}")
    return passed(ex, "d_t p = -d_x(theta (mu - x) p) + sigma^2/2 d_xx p for the Gaussian with the OU moments")


# ----------------------------------------------------------------------------------------------
# Exercise 01.5: moments of Brownian motion from Itô's formula
# ----------------------------------------------------------------------------------------------


def check_brownian_moment(brownian_moment) -> bool:
    """``brownian_moment(n, t) -> E[W_t^n]`` for integers n >= 0."""
    ex = "Exercise 01.5"
    for n in range(0, 11):
        for t in [0.5, 1.0, 2.3]:
            expected = 0.0 if n % 2 else math.prod(range(n - 1, 0, -2)) * t ** (n // 2)
            got = call_student(ex, brownian_moment, n, t)
            try:
                got = float(got)
            except (TypeError, ValueError):
                fail(ex, f"return a number, got {type(got).__name__}")
            if not math.isclose(got, expected, rel_tol=1e-10, abs_tol=1e-12):
                hint = "odd moments vanish" if n % 2 else "use M_n(t) = n(n-1)/2 int_0^t M_{n-2}(s) ds"
                fail(ex, f"E[W_t^{n}] at t = {t}: got {got:.6g}, expected {expected:.6g} ({hint})")
    return passed(ex, "E W_t^(2k) = (2k - 1)!! t^k and odd moments vanish, for n <= 10")
