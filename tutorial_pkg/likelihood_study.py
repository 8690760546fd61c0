"""Tools to *study* the probability-flow likelihood of :mod:`tutorial_pkg.likelihood` (chapter 07).

:func:`~tutorial_pkg.pf_ode_log_likelihood` computes log-likelihoods; this module holds what explains its
numbers:

* :func:`draw_probes`, :func:`quadratic_forms` and :func:`hutchinson_variance` — Hutchinson's trace
  estimator v^T A v (Hutchinson 1989) for an explicit matrix, and its variance in closed form;
* :func:`jacobian` and :func:`pf_ode_jacobian_integral` — the integrated Jacobian M = int dF/dx dt along a
  probability-flow trajectory, which makes the Hutchinson log-likelihood with a fixed probe exactly
  ``exact + v^T M v - tr M`` (so its variance is :func:`hutchinson_variance` of M);
* :func:`fresh_probe_log_likelihood` — what happens when the probe is redrawn at every evaluation inside
  an adaptive solver (the thing *not* to do);
* :func:`binned_log_prob` — the exact probability of a bin of quantised data under a Gaussian mixture with
  diagonal components, the number uniform dequantisation bounds (Theis et al. 2016).

Shapes follow the package: states ``(B, *D)``, matrices ``(..., d, d)`` with d = prod(D).  Randomness only
through ``generator=``; nothing prints.
"""

from __future__ import annotations

import torch

from .autodiff import value_and_jacobian as jacobian  # noqa: F401  (re-exported for the chapter)
from .distributions import GaussianMixture
from .utils import append_dims

__all__ = [
    "draw_probes",
    "quadratic_forms",
    "hutchinson_variance",
    "jacobian",
    "pf_ode_field",
    "pf_ode_jacobian_integral",
    "fresh_probe_log_likelihood",
    "binned_log_prob",
    "log_diff_ndtr",
]


def draw_probes(
    shape: tuple[int, ...],
    kind: str = "rademacher",
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Probe vectors with E[v] = 0 and E[v v^T] = I: ``"rademacher"`` (entries +-1) or ``"gaussian"`` (N(0, 1)).

    Drawn on the generator's device, in the same way as :func:`~tutorial_pkg.pf_ode_log_likelihood` draws its
    probes, and returned with shape ``shape`` (e.g. ``(m, d)`` or ``(m, B, *D)``).
    """
    dtype = dtype or torch.get_default_dtype()
    device = generator.device if generator is not None else None
    if kind == "rademacher":
        bits = torch.randint(0, 2, shape, generator=generator, device=device)
        return (2 * bits - 1).to(dtype)
    if kind == "gaussian":
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)
    raise ValueError(f"kind must be 'rademacher' or 'gaussian', got {kind!r}")


def quadratic_forms(A: torch.Tensor, probes: torch.Tensor) -> torch.Tensor:
    """Hutchinson's single-probe estimates v_k^T A v_k of tr A.

    ``A: (d, d)`` with ``probes: (m, d)`` gives ``(m,)``; a batch ``A: (B, d, d)`` with ``probes: (m, B, d)``
    gives ``(m, B)``.  Each entry is unbiased for tr A when E[v v^T] = I (Hutchinson 1989); the mean over
    the m probes has the variance :func:`hutchinson_variance` / m.
    """
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A must be square, shape (..., d, d); got {tuple(A.shape)}")
    if probes.shape[1:] != A.shape[:-1]:
        raise ValueError(
            f"probes must have shape (m, *A.shape[:-1]) = (m, {tuple(A.shape[:-1])}), got {tuple(probes.shape)}"
        )
    probes = probes.to(A)
    return torch.einsum("m...i,...ij,m...j->m...", probes, A, probes)


def hutchinson_variance(A: torch.Tensor, kind: str = "rademacher") -> torch.Tensor:
    """Var(v^T A v) for one probe, in closed form; ``A: (..., d, d)`` -> ``(...)``.

    Only the symmetric part S = (A + A^T) / 2 enters, since v^T A v = v^T S v.  Then

        Gaussian v:    Var = 2 ||S||_F^2 = 2 sum_ij S_ij^2,
        Rademacher v:  Var = 2 ||S||_F^2 - 2 sum_i A_ii^2      (v_i^2 = 1: the diagonal is exact).

    With m independent probes the variance of the mean is this over m.  Proof: v^T S v - tr S =
    sum_{i != j} S_ij v_i v_j + sum_i S_ii (v_i^2 - 1); the cross terms are uncorrelated with variance
    E[v_i^2 v_j^2] = 1 each (2 S_ij^2 per unordered pair), and Var(v_i^2) is 2 (Gaussian) or 0 (Rademacher).
    """
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A must be square, shape (..., d, d); got {tuple(A.shape)}")
    S = 0.5 * (A + A.transpose(-1, -2))
    frob = 2 * S.pow(2).sum((-1, -2))
    if kind == "gaussian":
        return frob
    if kind == "rademacher":
        return frob - 2 * torch.diagonal(A, dim1=-2, dim2=-1).pow(2).sum(-1)
    raise ValueError(f"kind must be 'rademacher' or 'gaussian', got {kind!r}")


def pf_ode_field(sde, score, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The probability-flow field F(x, t) = f(x, t) - g(t)^2 / 2 s(x, t) (Song et al. 2021a, eq. 13).

    ``x: (B, *D)``, ``t: (B,)``; returns ``(B, *D)``.  Its divergence is d a(t) - g^2 / 2 div s for a linear SDE.
    """
    g2 = append_dims(sde.diffusion(t) ** 2, x.ndim)
    return sde.drift(x, t) - 0.5 * g2 * score(x, t)


def pf_ode_jacobian_integral(
    sde, score, x: torch.Tensor, *, t_min: float = 1e-3, n_steps: int = 100
) -> tuple[torch.Tensor, torch.Tensor]:
    """M = int_{t_min}^T dF/dx(x(t), t) dt along the probability-flow trajectory from ``x``, by Heun's rule.

    Uses the same uniform grid and the same two evaluations per step as
    ``pf_ode_log_likelihood(..., solver="heun", n_steps=n_steps)``, so that for a probe v kept fixed over
    the solve the Hutchinson log-likelihood is exactly

        log p_hutch = log p_exact + v^T M v - tr M,      tr M = the integrated exact divergence,

    and its variance over probes is ``hutchinson_variance(M)`` (divided by the number of probes).  The
    trajectory does not depend on the probe: only the divergence does.
    Returns ``(M: (B, d, d), x_T: (B, *D))``.  Costs d backward passes per evaluation.
    """
    if not 0 <= t_min < sde.T:
        raise ValueError(f"t_min must lie in [0, T) = [0, {sde.T:g}), got {t_min}")
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
    ts = torch.linspace(t_min, sde.T, n_steps + 1, dtype=torch.float64).tolist()
    batch = x.shape[0]
    state = x.detach().clone()
    total = None

    def field_and_jac(y, t):
        tt = torch.full((batch,), t, dtype=x.dtype, device=x.device)
        return jacobian(lambda z: pf_ode_field(sde, score, z, tt), y)

    for t, t_next in zip(ts[:-1], ts[1:], strict=True):
        dt = t_next - t
        f1, j1 = field_and_jac(state, t)
        f2, j2 = field_and_jac(state + dt * f1, t_next)
        state = state + 0.5 * dt * (f1 + f2)
        step = 0.5 * dt * (j1 + j2)
        total = step if total is None else total + step
    return total, state


class _TooManyEvaluations(Exception):
    pass


def fresh_probe_log_likelihood(
    sde,
    score,
    x: torch.Tensor,
    *,
    t_min: float = 1e-3,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    probe: str = "rademacher",
    max_nfe: int = 20_000,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor | None, dict]:
    """The PF-ODE log-likelihood by RK45 with a *new* Hutchinson probe at every evaluation (do not do this).

    Same integration as ``pf_ode_log_likelihood(..., solver="rk45", divergence="hutchinson")`` except that
    each call of the right-hand side draws fresh probes.  The divergence part of the right-hand side is then
    white noise in t: the embedded error estimate of the Dormand–Prince pair sees noise of size
    ~ sqrt(Var) * h at every step and shrinks the step until it drowns the tolerance.  Stops after
    ``max_nfe`` evaluations.  Returns ``(log_p (B,) or None if stopped, {"nfe", "finished", "last_t"})``.
    """
    from scipy.integrate import solve_ivp

    batch, n = x.shape[0], x[0].numel()
    state = {"nfe": 0, "last_t": t_min}

    def rhs(t, y):
        if state["nfe"] >= max_nfe:
            raise _TooManyEvaluations
        state["nfe"] += 1
        state["last_t"] = float(t)
        xs = torch.as_tensor(y[: batch * n], dtype=x.dtype, device=x.device).reshape(x.shape)
        tt = torch.full((batch,), float(t), dtype=x.dtype, device=x.device)
        v = draw_probes(tuple(x.shape), probe, generator=generator, dtype=x.dtype).to(x.device)
        xs = xs.detach().requires_grad_(True)
        with torch.enable_grad():
            field = pf_ode_field(sde, score, xs, tt)
            (grad,) = torch.autograd.grad((field * v).sum(), xs)
        div = (grad * v).reshape(batch, -1).sum(1)
        return torch.cat([field.detach().reshape(-1), div]).double().cpu().numpy()

    y0 = torch.cat([x.detach().reshape(-1), torch.zeros(batch, dtype=x.dtype, device=x.device)])
    try:
        sol = solve_ivp(rhs, (t_min, sde.T), y0.double().cpu().numpy(), method="RK45", rtol=rtol, atol=atol)
    except _TooManyEvaluations:
        return None, {"nfe": state["nfe"], "finished": False, "last_t": state["last_t"]}
    end = torch.as_tensor(sol.y[:, -1], dtype=x.dtype, device=x.device)
    x_T, delta = end[: batch * n].reshape(x.shape), end[batch * n :]
    return sde.prior_log_prob(x_T) + delta, {"nfe": state["nfe"], "finished": bool(sol.success), "last_t": sde.T}


def log_diff_ndtr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """log(Phi(b) - Phi(a)) for a < b elementwise, Phi the standard normal CDF, accurate in both tails.

    For a > 0 it uses the symmetry Phi(b) - Phi(a) = Phi(-a) - Phi(-b), then
    log Phi(b) + log(1 - exp(log Phi(a) - log Phi(b))) with ``torch.special.log_ndtr``.
    """
    flip = a > 0
    lo = torch.where(flip, -b, a)
    hi = torch.where(flip, -a, b)
    log_hi, log_lo = torch.special.log_ndtr(hi), torch.special.log_ndtr(lo)
    return log_hi + torch.log(-torch.expm1(log_lo - log_hi))


def binned_log_prob(
    dist: GaussianMixture,
    levels: torch.Tensor,
    n_bins: int,
    *,
    low: float = -1.0,
    high: float = 1.0,
) -> torch.Tensor:
    """log P(k) = log int_{bin(k)} p(x) dx for quantised data ``levels: (B, *D)`` (integers 0..n_bins-1).

    Level k of a coordinate is the bin [low + k w, low + (k + 1) w), w = (high - low) / n_bins (the bins of
    :func:`~tutorial_pkg.dequantize` for the default [-1, 1]).  For a mixture of diagonal Gaussians the
    bin probability factorises within a component:

        P(k) = sum_j w_j prod_i [ Phi((b_i - m_ji) / s_ji) - Phi((a_i - m_ji) / s_ji) ],

    computed in log space.  This is the discrete likelihood that uniform dequantisation bounds from below:
    log P(k) >= E_u[log p(x)] + d log w (Jensen; Theis et al. 2016).  Returns ``(B,)``.
    """
    if dist.batched:
        raise ValueError("binned_log_prob needs a mixture at one time (not diffused to a batch of times)")
    if levels.is_floating_point() and not torch.equal(levels, levels.round()):
        raise ValueError("levels must be integers 0..n_bins-1 (the quantised data), not dequantised values")
    levels = levels.long()
    if tuple(levels.shape[1:]) != tuple(dist.event_shape):
        raise ValueError(f"levels must have shape (B, {tuple(dist.event_shape)}), got {tuple(levels.shape)}")
    if levels.min() < 0 or levels.max() >= n_bins:
        raise ValueError(f"levels must lie in 0..{n_bins - 1}, got [{int(levels.min())}, {int(levels.max())}]")
    width = (high - low) / n_bins
    lo = (low + width * levels.to(dist.dtype)).unsqueeze(1)  # (B, 1, *D)
    stds = dist.stds.expand_as(dist.means)
    a = (lo - dist.means) / stds  # (B, K, *D)
    b = (lo + width - dist.means) / stds
    per_comp = log_diff_ndtr(a, b).flatten(2).sum(-1)  # (B, K)
    return torch.logsumexp(torch.log(dist.weights) + per_comp, dim=1)
