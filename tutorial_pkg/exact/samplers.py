"""Exact output laws of the discretised samplers for Gaussian data, and of the Langevin corrector.

With data ``N(m, diag(s^2))``, a linear forward SDE and the exact score s(x, t) = -(x - m_t) / v_t, every
sampler of :mod:`tutorial_pkg.samplers` except the predictor–corrector one is, coordinate by coordinate, an
affine map of its state plus independent Gaussian noise, X' = G X + b + sqrt(q) Z.  So its output is
Gaussian and its mean and variance follow from one recursion (:func:`affine_gaussian_chain`):

* :func:`em_chain_moments` and :func:`em_chain_gain` — Euler–Maruyama for the generative family
  (:func:`tutorial_pkg.euler_maruyama`; ``h_ratio = 0`` is Euler's method for the probability-flow ODE);
* :func:`exponential_integrator_moments` — the exponential integrator, i.e. DDPM (``h_ratio = 1``) and DDIM (0);
* :func:`deterministic_sampler_moments` — any deterministic sampler (the affine map is read off by running it
  on three points), and :func:`output_moments`, which picks the right one for a sampler name.

:func:`output_kl` and :func:`moment_error` turn the moments into errors against the exact p_{t_min}.
:func:`ula_stationary_variance`, :func:`ula_variance_after` and :func:`snr_stationary_variance` are the closed
forms of the Langevin corrector's bias for a Gaussian target (Claustre 2025, §5.3, eq. 14).
:func:`ddpm_step` is Ho et al.'s ancestral step, written in their notation, to compare with the exponential
integrator.  Shapes: means and variances ``(d,)``; grids 1-D and decreasing from T to t_min.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..distributions import ExactScore, Gaussian
from ..grids import check_grid
from ..metrics import gaussian_kl
from ..samplers import CountingScore, resolve_sampler
from ..sde import SDE, VP, check_sde
from .reverse import check_gaussian_data, gaussian_marginal

__all__ = [
    "GaussianOutput",
    "GaussianLaw",
    "ChainMoments",
    "affine_gaussian_chain",
    "em_chain_moments",
    "em_chain_gain",
    "exponential_integrator_moments",
    "deterministic_sampler_moments",
    "output_moments",
    "output_kl",
    "moment_error",
    "ula_stationary_variance",
    "ula_variance_after",
    "snr_stationary_variance",
    "ddpm_step",
    "DETERMINISTIC",
]

#: The samplers whose output is a deterministic function of their start.
DETERMINISTIC = ("ode_euler", "ode_heun", "ode_adaptive", "ddim", "dpm_solver_multistep")


class GaussianOutput(NamedTuple):
    """Mean ``(d,)`` and variance ``(d,)`` of a sampler's Gaussian output, and its score evaluations ``nfe``."""

    mean: torch.Tensor
    var: torch.Tensor
    nfe: int


class GaussianLaw(NamedTuple):
    """A Gaussian law with diagonal covariance: ``mean (d,)``, ``var (d,)``."""

    mean: torch.Tensor
    var: torch.Tensor


class ChainMoments(NamedTuple):
    """Output ``mean (d,)``, ``var (d,)`` of an affine Gaussian chain and its total ``gain (d,)`` = prod_k G_k."""

    mean: torch.Tensor
    var: torch.Tensor
    gain: torch.Tensor


def affine_gaussian_chain(G: torch.Tensor, b: torch.Tensor, q: torch.Tensor, mean, var) -> ChainMoments:
    """Moments of X_{k+1} = G_k X_k + b_k + sqrt(q_k) Z_k (independent Z_k) after N steps, per coordinate.

    ``G, b, q``: ``(N, d)`` (or broadcastable), the step's gain, offset and added variance; ``mean, var``: the
    start ``(d,)``.  M <- G M + b, V <- G^2 V + q, gain <- G gain, i.e. in closed form, with
    A_k = prod_{j > k} G_j: gain = prod_k G_k, M_N = gain M_0 + sum_k A_k b_k, V_N = gain^2 V_0 + sum_k A_k^2 q_k.
    The one recursion behind the exact laws of the Euler–Maruyama chains (forward and generative) and of the
    exponential integrator.
    """
    G, b, q = torch.broadcast_tensors(torch.as_tensor(G), torch.as_tensor(b), torch.as_tensor(q))
    mean, var = torch.as_tensor(mean, dtype=G.dtype), torch.as_tensor(var, dtype=G.dtype)
    # after[k] = prod_{j > k} G_j: a reversed cumulative product, shifted by one step
    after = torch.flip(torch.cumprod(torch.flip(G, [0]), 0), [0])
    after = torch.cat([after[1:], torch.ones_like(after[:1])])
    gain = after[0] * G[0]
    return ChainMoments(gain * mean + (b * after).sum(0), gain**2 * var + (q * after**2).sum(0), gain)


# ------------------------------------------------------------------------------------------------
# the samplers' chains
# ------------------------------------------------------------------------------------------------


def _grid(sde: SDE, data: Gaussian, ts) -> torch.Tensor:
    check_sde(sde)
    check_gaussian_data(data)
    return check_grid(torch.as_tensor(ts, dtype=data.dtype), T=sde.T, decreasing=True)


def _init(sde: SDE, data: Gaussian, init_mean, init_var, t0: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The starting mean and variance ``(d,)``; by default those of the exact p_{t0}."""
    m_T, v_T = gaussian_marginal(sde, data, t0)
    mean = m_T if init_mean is None else torch.as_tensor(init_mean, dtype=data.dtype).expand_as(m_T).clone()
    var = v_T if init_var is None else torch.as_tensor(init_var, dtype=data.dtype).expand_as(v_T).clone()
    return mean, var


def _grid_marginals(sde: SDE, data: Gaussian, ts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """m_t and v_t at the grid times but the last, ``(N, d)`` each."""
    pt = data.diffuse(sde, ts[:-1])
    return pt.loc, (pt.scale.expand_as(pt.loc) ** 2)


def em_chain_moments(
    sde: SDE,
    data: Gaussian,
    ts: torch.Tensor,
    *,
    init_mean: float | torch.Tensor | None = None,
    init_var: float | torch.Tensor | None = None,
    h_ratio: float = 1.0,
) -> GaussianLaw:
    """Exact mean and variance ``(d,)`` of the Euler–Maruyama chain of :func:`tutorial_pkg.euler_maruyama`.

    Along the decreasing grid ``ts`` (dt_k = t_{k+1} - t_k < 0) the chain is
    X <- X + dt_k [a_k (X - mu) + c_k (X - m_{t_k})] + h g_k sqrt(|dt_k|) Z, c_k = (1 + h^2) g_k^2 / (2 v_{t_k}),
    an affine Gaussian step with G_k = 1 + dt_k (a_k + c_k), b_k = -dt_k (a_k mu + c_k m_{t_k}) and
    q_k = h^2 g_k^2 |dt_k|.  Compare with the exact p_{ts[-1]} to see the scheme's bias (first order in the
    step; Kloeden & Platen 1992).  ``h_ratio = 0`` gives Euler's method for the probability-flow ODE.  The
    start N(init_mean, init_var) defaults to the exact p_{ts[0]}.
    """
    return GaussianLaw(*_em_chain(sde, data, ts, init_mean, init_var, h_ratio)[:2])


def _em_chain(sde, data, ts, init_mean, init_var, h_ratio) -> ChainMoments:
    ts = _grid(sde, data, ts)
    M, V = _init(sde, data, init_mean, init_var, float(ts[0]))
    mu = torch.as_tensor(sde._mu_like(data.loc), dtype=data.dtype)
    h2 = float(h_ratio) ** 2
    t, dt = ts[:-1], (ts[1:] - ts[:-1])[:, None]
    a, g2 = sde.drift_coeff(t)[:, None], sde.diffusion(t)[:, None] ** 2
    m_t, v_t = _grid_marginals(sde, data, ts)
    c = (1 + h2) * g2 / (2 * v_t)
    return affine_gaussian_chain(1 + dt * (a + c), -dt * (a * mu + c * m_t), h2 * g2 * dt.abs(), M, V)


def em_chain_gain(sde: SDE, data: Gaussian, ts: torch.Tensor, *, h_ratio: float = 1.0) -> torch.Tensor:
    """The Euler–Maruyama analogue of Phi_h(ts[-1], ts[0]): prod_k (1 + dt_k (a_k + c_k)), ``(d,)``.

    The chain of :func:`em_chain_moments` maps deviations linearly, X_N - E X_N = gain (X_0 - E X_0)
    + independent noise, so started from p_{ts[0]} it has Cov(X_N, X_0) = gain * v_{ts[0]}; compare
    with :func:`~tutorial_pkg.exact.path_covariance` to see the scheme's bias on path covariances.
    """
    return _em_chain(sde, data, ts, None, None, h_ratio).gain


def exponential_integrator_moments(
    sde: SDE,
    data: Gaussian,
    ts,
    *,
    init_mean=None,
    init_var=None,
    h_ratio: float = 1.0,
) -> GaussianLaw:
    """Exact mean and variance ``(d,)`` of :func:`tutorial_pkg.exponential_integrator` for Gaussian data.

    One step from t to t' with r = h_ratio, alpha = alpha(t), sigma^2 = sigma(t)^2, nu = sigma / alpha
    (primes at t') freezes Tweedie's denoiser; with the exact score of p_t = N(m_t, v_t) it reads, per
    coordinate, X' = mu + (alpha'/alpha) [ (X - mu) - (1 - q) sigma^2 (X - m_t) / v_t ] + sigma' sqrt(1 - k^(2 r^2)) Z
    with k = nu'/nu and q = k^(1 + r^2): an affine Gaussian step with

        G = (alpha'/alpha) (1 - (1 - q) sigma^2 / v_t),
        b = mu (1 - alpha'/alpha) + (alpha'/alpha)(1 - q) sigma^2 m_t / v_t,
        q_step = sigma'^2 (1 - k^(2 r^2)).

    ``h_ratio = 1`` is DDPM's ancestral sampler, ``0`` is DDIM.  Start: N(init_mean, init_var), by default
    the exact p_T; ``ts`` decreasing.  With a point mass (s = 0) the denoiser is constant and the step is
    exact: the output is p_{t_min} for any grid.
    """
    ts = _grid(sde, data, ts)
    M, V = _init(sde, data, init_mean, init_var, float(ts[0]))
    mu = torch.as_tensor(sde._mu_like(M), dtype=M.dtype)
    if not float(h_ratio) >= 0:
        raise ValueError(f"h_ratio must be >= 0, got {h_ratio!r}")
    r2 = float(h_ratio) ** 2
    t, t_next = ts[:-1], ts[1:]
    a, a_n = sde.mean_coeff(t)[:, None], sde.mean_coeff(t_next)[:, None]
    s2, s2_n = sde.variance(t)[:, None], sde.variance(t_next)[:, None]
    k = (s2_n / s2).sqrt() * a / a_n  # nu' / nu
    q = k ** (1 + r2)
    m_t, v_t = _grid_marginals(sde, data, ts)
    shrink = (1 - q) * s2 / v_t
    G = a_n / a * (1 - shrink)
    b = mu * (1 - a_n / a) + a_n / a * shrink * m_t
    return GaussianLaw(*affine_gaussian_chain(G, b, (s2_n * (1 - k ** (2 * r2))).expand_as(G), M, V)[:2])


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
    name, fn = resolve_sampler(sampler)
    ts = _grid(sde, data, ts)
    M, V = _init(sde, data, init_mean, init_var, float(ts[0]))
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
    p_T).  Euler–Maruyama uses :func:`em_chain_moments` (option ``h_ratio``),
    the exponential integrator :func:`exponential_integrator_moments` (``h_ratio``), DDIM with ``eta = 1``
    is the exponential integrator with h_ratio = 1, and the deterministic samplers (DDIM with ``eta = 0``,
    the ODE solvers) :func:`deterministic_sampler_moments`.  The predictor–corrector sampler has no such
    closed form (its Langevin step depends on the whole batch): a ``ValueError`` says so.
    """
    name, _ = resolve_sampler(sampler)
    ts = _grid(sde, data, ts)
    n_steps = ts.numel() - 1
    M, V = _init(sde, data, init_mean, init_var, float(ts[0]))
    if name == "euler_maruyama":
        mean, var = em_chain_moments(sde, data, ts, init_mean=M, init_var=V, h_ratio=options.get("h_ratio", 1.0))
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


# ------------------------------------------------------------------------------------------------
# the Langevin corrector, and DDPM in its own notation
# ------------------------------------------------------------------------------------------------


def ula_stationary_variance(v, eps):
    """Stationary variance of unadjusted Langevin with step eps for the target N(m, v), per coordinate:

        V* = 2 v^2 / (2 v - eps) = v / (1 - eps / (2 v)),

    the fixed point of V <- (1 - eps/v)^2 V + 2 eps; it exists (and attracts) for 0 < eps < 2 v.  The mean
    converges to m without bias (the corrector of Claustre 2025, eq. 14).  Broadcasts; returns a tensor.
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
