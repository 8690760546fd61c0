"""Procedures that explain the numbers of the probability-flow likelihood (:func:`tutorial_pkg.pf_ode_log_likelihood`).

* :func:`pf_ode_jacobian_integral` — the integrated Jacobian M = int dF/dx dt along a probability-flow
  trajectory, which makes the Hutchinson log-likelihood with a fixed probe exactly ``exact + v^T M v - tr M``
  (so its variance is :func:`~tutorial_pkg.exact.hutchinson_variance` of M);
* :func:`fresh_probe_log_likelihood` — what happens when the probe is redrawn at every evaluation inside an
  adaptive solver (the thing *not* to do).

Shapes: states ``(B, *D)``, matrices ``(B, d, d)`` with d = prod(D).  Randomness only through ``generator=``.
"""

from __future__ import annotations

import torch

from ..autodiff import draw_probes, value_and_jacobian
from ..grids import uniform_grid
from ..samplers.ode import heun_step, solve_ivp_torch
from ..sde import check_sde

__all__ = ["pf_ode_jacobian_integral", "fresh_probe_log_likelihood"]


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
    check_sde(sde)
    if not 0 <= t_min < sde.T:
        raise ValueError(f"t_min must lie in [0, T) = [0, {sde.T:g}), got {t_min}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
    flow = sde.probability_flow(score)
    d = x[0].numel()

    def field_and_jacobian(state, t):
        f, jac = value_and_jacobian(lambda z: flow.drift(z, t), state[0])
        return f, jac

    state = (x.detach().clone(), torch.zeros(x.shape[0], d, d, dtype=x.dtype, device=x.device))
    ts = uniform_grid(sde, n_steps, t_min).flip(0).tolist()  # from t_min up to T, as the likelihood's Heun
    for t, t_next in zip(ts[:-1], ts[1:], strict=True):
        state = heun_step(field_and_jacobian, state, t, t_next)
    return state[1], state[0]


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
    check_sde(sde)
    flow = sde.probability_flow(score)
    batch, n = x.shape[0], x[0].numel()
    state = {"nfe": 0, "last_t": t_min}

    def rhs(y: torch.Tensor, t: float) -> torch.Tensor:
        if state["nfe"] >= max_nfe:
            raise _TooManyEvaluations
        state["nfe"] += 1
        state["last_t"] = t
        xs = y[: batch * n].reshape(x.shape).detach().requires_grad_(True)
        v = draw_probes(tuple(x.shape), probe, generator=generator, dtype=x.dtype, device=x.device)
        with torch.enable_grad():
            field = flow.drift(xs, t)
            (grad,) = torch.autograd.grad((field * v).sum(), xs)
        div = (grad * v).reshape(batch, -1).sum(1)
        return torch.cat([field.detach().reshape(-1), div])

    y0 = torch.cat([x.detach().reshape(-1), torch.zeros(batch, dtype=x.dtype, device=x.device)])
    try:
        end = solve_ivp_torch(rhs, y0, (t_min, sde.T), method="RK45", rtol=rtol, atol=atol)
    except _TooManyEvaluations:
        return None, {"nfe": state["nfe"], "finished": False, "last_t": state["last_t"]}
    x_T, delta = end[: batch * n].reshape(x.shape), end[batch * n :]
    return sde.prior_log_prob(x_T) + delta, {"nfe": state["nfe"], "finished": True, "last_t": sde.T}
