"""Measuring samplers (chapter 06): exact output laws for Gaussian data, error-vs-NFE sweeps, fitted orders
of convergence, and the stationary law of the Langevin corrector.

Four groups of tools.

* **Exact output moments for Gaussian data.**  With data ``N(m, diag(s^2))``, a linear forward SDE and the
  exact score s(x, t) = -(x - m_t) / v_t, every sampler of :mod:`tutorial_pkg.samplers` except the
  predictor–corrector one is, coordinate by coordinate, an affine map of its state plus independent Gaussian
  noise.  So its output is Gaussian and its mean and variance are computable without sampling:
  :func:`exponential_integrator_moments` (the recursion of the exponential integrator, i.e. DDPM/DDIM),
  :func:`deterministic_sampler_moments` (any deterministic sampler: the affine map is read off by running it
  on two points), and :func:`output_moments`, which picks the right one (and
  :func:`tutorial_pkg.gaussian_flows.em_chain_moments` for Euler–Maruyama).  :func:`output_kl` and
  :func:`moment_error` turn the moments into errors against the exact p_{t_min}.
* **Orders of convergence.**  :func:`fit_order` fits errors ~ C N^{-p} by least squares on a log-log scale
  and returns p with its standard error and the local slopes between neighbouring step counts.
* **Error against the number of score evaluations (NFE).**  :func:`run_counted` runs a sampler and counts
  its score calls; :func:`nfe_sweep` runs several samplers at equal NFE budgets and measures each output with
  a distance (e.g. the sliced Wasserstein distance to exact samples).
* **The Langevin corrector on its own.**  :func:`langevin_chain` runs unadjusted Langevin steps
  x <- x + eps s(x, t) + sqrt(2 eps) z at a fixed time (fixed eps, or the signal-to-noise rule of
  :func:`tutorial_pkg.langevin_step_size`); :func:`ula_stationary_variance` and
  :func:`snr_stationary_variance` are the closed forms of its bias for a Gaussian target (Claustre 2025, §5.3,
  eq. 14; research notes, oracle 20).  :func:`ddpm_step` is Ho et al.'s ancestral step, written in their
  notation, to compare with the exponential integrator.

Shapes: data of event shape ``(d,)``; means and variances ``(d,)``; states ``(B, *D)``; times floats or 0-d
tensors; grids 1-D and decreasing from T to t_min.  Randomness only through ``generator=``; nothing prints.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import torch

from . import gaussian_flows as gf
from .distributions import ExactScore, Gaussian
from .metrics import gaussian_kl
from .samplers import SAMPLERS, CountingScore, langevin_step_size
from .sde import SDE, VP
from .stochastic import fit_order as stochastic_fit_order
from .utils import randn

__all__ = [
    "GaussianOutput",
    "exponential_integrator_moments",
    "deterministic_sampler_moments",
    "output_moments",
    "output_kl",
    "moment_error",
    "OrderFit",
    "fit_order",
    "run_counted",
    "SweepPoint",
    "nfe_sweep",
    "langevin_chain",
    "ula_stationary_variance",
    "ula_variance_after",
    "snr_stationary_variance",
    "ddpm_step",
]

DETERMINISTIC = ("ode_euler", "ode_heun", "ode_adaptive", "ddim")


class GaussianOutput(NamedTuple):
    """Mean ``(d,)`` and variance ``(d,)`` of a sampler's Gaussian output, and its score evaluations ``nfe``."""

    mean: torch.Tensor
    var: torch.Tensor
    nfe: int


def _check_grid(sde: SDE, data: Gaussian, ts) -> torch.Tensor:
    ts = torch.as_tensor(ts, dtype=data.dtype)
    if ts.ndim != 1 or ts.numel() < 2 or not bool((ts[1:] < ts[:-1]).all()):
        raise ValueError("ts must be a strictly decreasing 1-D grid (from T down to t_min)")
    sde.check_time(ts)
    return ts


def _init(sde: SDE, data: Gaussian, init_mean, init_var) -> tuple[torch.Tensor, torch.Tensor]:
    """The starting mean and variance ``(d,)``; by default those of the exact p_T."""
    m_T, v_T = gf.gaussian_marginal(sde, data, sde.T)
    mean = m_T if init_mean is None else torch.as_tensor(init_mean, dtype=data.dtype).expand_as(m_T).clone()
    var = v_T if init_var is None else torch.as_tensor(init_var, dtype=data.dtype).expand_as(v_T).clone()
    return mean, var


def exponential_integrator_moments(
    sde: SDE,
    data: Gaussian,
    ts,
    *,
    init_mean=None,
    init_var=None,
    h_ratio: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact mean and variance ``(d,)`` of :func:`tutorial_pkg.exponential_integrator` for Gaussian data.

    One step from t to t' with r = h_ratio, alpha = alpha(t), sigma^2 = sigma(t)^2, nu = sigma / alpha
    (primes at t') freezes Tweedie's denoiser; with the exact score of p_t = N(m_t, v_t) it reads, per
    coordinate, X' = mu + (alpha'/alpha) [ (X - mu) - (1 - q) sigma^2 (X - m_t) / v_t ] + sigma' sqrt(1 - k^(2 r^2)) Z
    with k = nu'/nu and q = k^(1 + r^2).  Hence

        M' = mu + (alpha'/alpha) [ (M - mu) - (1 - q) sigma^2 (M - m_t) / v_t ],
        V' = A^2 V + sigma'^2 (1 - k^(2 r^2)),        A = (alpha'/alpha) (1 - (1 - q) sigma^2 / v_t).

    ``h_ratio = 1`` is DDPM's ancestral sampler, ``0`` is DDIM.  Start: N(init_mean, init_var), by default
    the exact p_T; ``ts`` decreasing.  With a point mass (s = 0) the denoiser is constant and the step is
    exact: the output is p_{t_min} for any grid.
    """
    gf._check_data(data)
    ts = _check_grid(sde, data, ts)
    M, V = _init(sde, data, init_mean, init_var)
    mu = torch.as_tensor(sde._mu_like(M), dtype=M.dtype)
    r2 = float(h_ratio) ** 2
    if not r2 >= 0:
        raise ValueError(f"h_ratio must be >= 0, got {h_ratio!r}")
    for t, t_next in zip(ts[:-1], ts[1:], strict=True):
        a, a_n = sde.mean_coeff(t).to(M), sde.mean_coeff(t_next).to(M)
        s2, s2_n = sde.variance(t).to(M), sde.variance(t_next).to(M)
        k = (s2_n / s2).sqrt() * a / a_n  # nu' / nu
        q = k ** (1 + r2)
        m_t, v_t = gf.gaussian_marginal(sde, data, float(t))
        gain = a_n / a * (1 - (1 - q) * s2 / v_t)
        M = mu + a_n / a * ((M - mu) - (1 - q) * s2 * (M - m_t) / v_t)
        V = gain**2 * V + s2_n * (1 - k ** (2 * r2))
    return M, V


def _sampler_fn(sampler) -> tuple[str, Callable]:
    if isinstance(sampler, str):
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
        return sampler, SAMPLERS[sampler]
    if callable(sampler):
        name = next((k for k, v in SAMPLERS.items() if v is sampler), getattr(sampler, "__name__", "sampler"))
        return name, sampler
    raise TypeError(f"sampler must be a name or a function, got {type(sampler).__name__}")


def deterministic_sampler_moments(
    sampler,
    sde: SDE,
    data: Gaussian,
    ts,
    *,
    init_mean=None,
    init_var=None,
    **options,
) -> GaussianOutput:
    """Exact output moments of a deterministic sampler (ODE Euler/Heun/adaptive, DDIM) for Gaussian data.

    With the exact score the sampler is, coordinate by coordinate, an affine map x -> G x + c (the data have
    a diagonal covariance and the SDE a scalar diffusion).  Running it on the three points M, M + 1, M + 2
    (M = init_mean) reads off c + G M (the output mean) and G, so the output is N(c + G M, G^2 init_var);
    the third point checks that the map is affine (a ``ValueError`` otherwise, e.g. for a trained score).
    ``nfe`` counts the score calls of one run.  ``options`` go to the sampler.
    """
    gf._check_data(data)
    name, fn = _sampler_fn(sampler)
    ts = _check_grid(sde, data, ts)
    M, V = _init(sde, data, init_mean, init_var)
    probe = torch.stack([M, M + 1, M + 2])
    counter = CountingScore(ExactScore(data, sde))
    with torch.no_grad():
        out = fn(sde, counter, probe, ts, **options)
    gain = out[1] - out[0]
    tol = 1e4 * torch.finfo(out.dtype).eps  # round-off only (2e-12 in float64)
    if not torch.allclose(out[2] - out[1], gain, rtol=tol, atol=tol * float(out.abs().max() + 1)):
        raise ValueError(f"{name} is not affine in its starting point here: is the sampler deterministic?")
    return GaussianOutput(out[0], gain**2 * V, counter.calls)


def output_moments(
    sampler,
    sde: SDE,
    data: Gaussian,
    ts,
    *,
    init_mean=None,
    init_var=None,
    **options,
) -> GaussianOutput:
    """Exact mean, variance and NFE of the output of ``sampler`` (a name or a function of ``tp.SAMPLERS``).

    Gaussian data ``N(m, diag(s^2))``, the exact score, start N(init_mean, init_var) (default: the exact
    p_T).  Euler–Maruyama uses :func:`~tutorial_pkg.gaussian_flows.em_chain_moments` (option ``h_ratio``),
    the exponential integrator :func:`exponential_integrator_moments` (``h_ratio``), DDIM with ``eta = 1``
    is the exponential integrator with h_ratio = 1, and the deterministic samplers (DDIM with ``eta = 0``,
    the ODE solvers) :func:`deterministic_sampler_moments`.  The predictor–corrector sampler has no such
    closed form (its Langevin step depends on the whole batch): a ``ValueError`` says so.
    """
    name, _ = _sampler_fn(sampler)
    ts = _check_grid(sde, data, ts)
    n_steps = ts.numel() - 1
    M, V = _init(sde, data, init_mean, init_var)
    if name == "euler_maruyama":
        mean, var = gf.em_chain_moments(sde, data, ts, init_mean=M, init_var=V, h_ratio=options.get("h_ratio", 1.0))
        return GaussianOutput(mean, var, n_steps)
    if name == "exponential_integrator" or (name == "ddim" and float(options.get("eta", 0.0)) == 1.0):
        h = options.get("h_ratio", 1.0) if name == "exponential_integrator" else 1.0
        mean, var = exponential_integrator_moments(sde, data, ts, init_mean=M, init_var=V, h_ratio=h)
        return GaussianOutput(mean, var, n_steps)
    if name in DETERMINISTIC:
        if name == "ddim" and float(options.get("eta", 0.0)) != 0.0:
            raise ValueError("DDIM has a closed form here only for eta = 0 (deterministic) or eta = 1 (DDPM)")
        return deterministic_sampler_moments(sampler, sde, data, ts, init_mean=M, init_var=V, **options)
    raise ValueError(
        f"no closed-form output law for {name!r}: its Langevin step size depends on the batch; "
        "fit the moments of samples instead (tp.mean_and_covariance)"
    )


def output_kl(sde: SDE, data: Gaussian, t_min: float, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """KL( p_{t_min} || N(mean, diag(var)) ): the error of a Gaussian output against the exact law (0-d)."""
    target = data.diffuse(sde, t_min)
    return gaussian_kl(target.mean(), target.covariance(), mean, torch.diag(torch.as_tensor(var).to(target.dtype)))


def moment_error(mean: torch.Tensor, var: torch.Tensor, target_mean: torch.Tensor, target_var: torch.Tensor) -> float:
    """The weak error in the first two moments, in units of the target's scale:

        e = sum_i |mean_i - m_i| / sqrt(v_i) + |var_i - v_i| / v_i,

    i.e. |E phi(X) - E phi(X_exact)| for phi(x) = x_i and x_i^2, standardised.  A scheme of weak order p
    has e = O(N^{-p}) with N steps (Kloeden & Platen 1992, §14).  All arguments ``(d,)``.
    """
    target_var = torch.as_tensor(target_var)
    e = (mean - target_mean).abs() / target_var.sqrt() + (var - target_var).abs() / target_var
    return float(e.sum())


class OrderFit(NamedTuple):
    """``order`` p of errors ~ C N^{-p}, its least-squares ``stderr``, and the ``local`` slopes ``(k - 1,)``."""

    order: float
    stderr: float
    local: torch.Tensor


def fit_order(n_steps: Sequence[int] | torch.Tensor, errors: Sequence[float] | torch.Tensor) -> OrderFit:
    """Fit errors ~ C N^{-p}: least squares of log e on log N, p = -slope.

    ``stderr`` is the usual standard error of the slope, sqrt(RSS / (k - 2) / sum (log N - mean)^2), from the
    scatter of the k points about the line (0 for k = 2).  ``local`` are the slopes between neighbours,
    -(log e_{j+1} - log e_j) / (log N_{j+1} - log N_j): they tend to p as N grows when the error has an
    expansion C N^{-p} + O(N^{-p-1}).  Errors must be positive; N increasing.
    """
    n = torch.as_tensor(n_steps, dtype=torch.float64).reshape(-1)
    e = torch.as_tensor(errors, dtype=torch.float64).reshape(-1)
    if n.numel() != e.numel() or n.numel() < 2:
        raise ValueError(f"need as many errors as step counts, at least two; got {n.numel()} and {e.numel()}")
    if not bool((e > 0).all()) or not bool((n > 0).all()):
        raise ValueError("step counts and errors must be positive (the fit is on a log-log scale)")
    if not bool((n[1:] > n[:-1]).all()):
        raise ValueError("n_steps must be strictly increasing")
    order, _ = stochastic_fit_order(1 / n, e)  # errors ~ C h^p with h = 1/N: the same least squares
    x, y = n.log(), e.log()
    xc = x - x.mean()
    k = n.numel()
    resid = y - y.mean() + order * xc
    stderr = math.sqrt(float((resid**2).sum()) / (k - 2) / float((xc**2).sum())) if k > 2 else 0.0
    local = -(y[1:] - y[:-1]) / (x[1:] - x[:-1])
    return OrderFit(order, stderr, local)


def run_counted(sampler, sde: SDE, score, x: torch.Tensor, ts, **options) -> tuple[torch.Tensor, int, float]:
    """Run ``sampler`` under ``torch.no_grad``; return ``(output, nfe, seconds)``.

    ``nfe`` is the number of calls of ``score`` (:class:`~tutorial_pkg.CountingScore`): one per step for
    Euler–Maruyama, the exponential integrator and DDIM, two for Heun and for a predictor–corrector step with
    one corrector step, as many as the adaptive solver needs for ``ode_adaptive``.
    """
    _, fn = _sampler_fn(sampler)
    counter = CountingScore(score)
    start = time.perf_counter()
    with torch.no_grad():
        out = fn(sde, counter, x, ts, **options)
    return out, counter.calls, time.perf_counter() - start


class SweepPoint(NamedTuple):
    """One run of :func:`nfe_sweep`: the sampler's label, its steps, its NFE, the error and the seconds."""

    sampler: str
    steps: int
    nfe: int
    error: float
    seconds: float


def nfe_sweep(
    samplers: Mapping[str, tuple[Callable | str, dict]],
    sde: SDE,
    score,
    x: torch.Tensor,
    budgets: Sequence[int],
    distance: Callable[[torch.Tensor], float],
    grid: Callable[[int], torch.Tensor],
    *,
    generator: torch.Generator | None = None,
) -> list[SweepPoint]:
    """Error against the number of score evaluations, at equal budgets.

    ``samplers`` maps a label to ``(sampler, options)``.  Each is first run for one step on two rows of
    ``x`` to learn its score calls per step, c; then, for each NFE budget B, it runs ``B // c`` steps
    (at least one) on the grid ``grid(n_steps)``, from the same starting points ``x: (B, *D)``, and its output
    is scored by ``distance(output) -> float``.  Returns one :class:`SweepPoint` per (sampler, budget).
    """
    points = []
    for label, (sampler, options) in samplers.items():
        _, per_step, _ = run_counted(sampler, sde, score, x[:2], grid(1), generator=generator, **options)
        if per_step < 1:
            raise ValueError(f"{label}: the sampler made no score call in one step")
        for budget in budgets:
            steps = max(1, int(budget) // per_step)
            out, nfe, seconds = run_counted(sampler, sde, score, x, grid(steps), generator=generator, **options)
            points.append(SweepPoint(label, steps, nfe, float(distance(out)), seconds))
    return points


# ------------------------------------------------------------------------------------------------
# The Langevin corrector on its own
# ------------------------------------------------------------------------------------------------


def langevin_chain(
    score,
    x: torch.Tensor,
    t: float,
    n_steps: int,
    *,
    step_size: float | None = None,
    snr: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``n_steps`` unadjusted Langevin steps at the fixed time t (the corrector of Claustre 2025, eq. 14):

        x <- x + eps s(x, t) + sqrt(2 eps) z,        z ~ N(0, I),

    with a fixed ``step_size`` eps, or with eps = 2 (snr mean|z| / mean|s|)^2 recomputed at every step from
    the batch (``snr``; :func:`~tutorial_pkg.langevin_step_size`, the rule of ``tp.predictor_corrector``).
    Give exactly one of the two.  ``x: (B, *D)``; returns the final state.
    """
    if (step_size is None) == (snr is None):
        raise ValueError("give exactly one of step_size (a fixed eps) and snr (the signal-to-noise rule)")
    if step_size is not None and not step_size > 0:
        raise ValueError(f"step_size must be positive, got {step_size!r}")
    if snr is not None and not snr > 0:
        raise ValueError(f"snr must be positive, got {snr!r}")
    if not isinstance(n_steps, int) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative int, got {n_steps!r}")
    tb = torch.full((x.shape[0],), float(t), dtype=x.dtype, device=x.device)
    with torch.no_grad():
        for _ in range(n_steps):
            s = score(x, tb)
            z = randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            eps = torch.as_tensor(step_size, dtype=x.dtype) if snr is None else langevin_step_size(s, z, snr)
            x = x + eps * s + torch.sqrt(2 * eps) * z
    return x


def ula_stationary_variance(v, eps):
    """Stationary variance of unadjusted Langevin with step eps for the target N(m, v), per coordinate:

        V* = 2 v^2 / (2 v - eps) = v / (1 - eps / (2 v)),

    the fixed point of V <- (1 - eps/v)^2 V + 2 eps; it exists (and attracts) for 0 < eps < 2 v.  The mean
    converges to m without bias.  Research notes on Claustre 2025, oracle 20.  Broadcasts; returns a tensor.
    """
    v, eps = torch.as_tensor(v, dtype=torch.float64), torch.as_tensor(eps, dtype=torch.float64)
    if not bool((v > 0).all()) or not bool(((eps > 0) & (eps < 2 * v)).all()):
        raise ValueError("need v > 0 and 0 < eps < 2 v (for eps >= 2 v the chain diverges)")
    return 2 * v**2 / (2 * v - eps)


def ula_variance_after(v, eps, var0, n_steps: int):
    """Variance after ``n_steps`` of unadjusted Langevin for N(m, v) from variance ``var0``:
    V_n = V* + (1 - eps/v)^(2 n) (var0 - V*), V* = :func:`ula_stationary_variance`.  Broadcasts."""
    v_star = ula_stationary_variance(v, eps)
    v, eps = torch.as_tensor(v, dtype=torch.float64), torch.as_tensor(eps, dtype=torch.float64)
    return v_star + (1 - eps / v) ** (2 * n_steps) * (torch.as_tensor(var0, dtype=torch.float64) - v_star)


def snr_stationary_variance(v, snr):
    """Stationary variance of the Langevin corrector with the signal-to-noise step rule, target N(m, v I_d):

        V* = v (1 + snr^2).

    For a large batch at variance V, mean|s| = sqrt(V) c_d / v and mean|z| = c_d (c_d = E|Z|), so the rule
    gives eps = 2 snr^2 v^2 / V; putting this eps into V = 2 v^2 / (2 v - eps) gives V = v (1 + snr^2), in
    every dimension.  The rule makes the corrector's relative bias scale-free: snr^2 (2.6% at snr = 0.16).
    """
    v, snr = torch.as_tensor(v, dtype=torch.float64), torch.as_tensor(snr, dtype=torch.float64)
    if not bool((v > 0).all()) or not bool((snr > 0).all()):
        raise ValueError("need v > 0 and snr > 0")
    return v * (1 + snr**2)


def ddpm_step(sde: VP, score, x: torch.Tensor, t: float, t_next: float, z: torch.Tensor) -> torch.Tensor:
    """One ancestral DDPM step from t to t_next < t (Ho et al. 2020, eqs. 6-7, 15), for the VP SDE.

    With abar = alpha(t)^2 (so 1 - abar = sigma(t)^2), a = abar / abar' and b = 1 - a (the one-step
    "alpha_t" and "beta_t" of the paper between the two times), Tweedie's estimate
    x0 = (x + (1 - abar) s(x, t)) / sqrt(abar), and the posterior q(x' | x, x0):

        x' = sqrt(abar') b / (1 - abar) x0 + sqrt(a) (1 - abar') / (1 - abar) x + sqrt(b (1 - abar') / (1 - abar)) z.

    ``x, z: (B, *D)``.  Written in the paper's notation, independently of the package's samplers, so that
    the chapter can check that the exponential integrator with h_ratio = 1 *is* this step.
    """
    if not isinstance(sde, VP):
        raise TypeError(f"DDPM's step is written for the VP SDE, got {type(sde).__name__}")
    if not 0 < t_next < t <= sde.T:
        raise ValueError(f"need 0 < t_next < t <= T, got t={t}, t_next={t_next}")
    tt = torch.tensor(float(t), dtype=x.dtype)
    abar = sde.mean_coeff(tt) ** 2
    abar_n = sde.mean_coeff(torch.tensor(float(t_next), dtype=x.dtype)) ** 2
    a = abar / abar_n
    b = 1 - a
    x0 = (x + (1 - abar) * score(x, tt.expand(x.shape[0]))) / abar.sqrt()
    mean = abar_n.sqrt() * b / (1 - abar) * x0 + a.sqrt() * (1 - abar_n) / (1 - abar) * x
    return mean + (b * (1 - abar_n) / (1 - abar)).sqrt() * z
