"""Log-likelihoods through the probability-flow ODE, and bits per dimension for quantised data.

The probability-flow ODE dx/dt = F(x, t) = f(x, t) - g(t)^2 / 2 * s(x, t) (Song et al. 2021a, eq. 13)
transports p_t to p_T, and along a solution the log-density changes by the divergence of the field
(the instantaneous change of variables; Chen et al. 2018, Song et al. 2021a, eq. 39):

    log p_{t0}(x(t0)) = log p_T(x(T)) + int_{t0}^T div F(x(t), t) dt,     div F = d a(t) - g^2/2 div s.

So one forward ODE solve from the data point to T, carrying the running integral, gives its
log-likelihood; the prior p_noise stands in for the unknown p_T.  The divergence is exact (d backward
passes, small d) or Hutchinson's estimate v^T (dF/dx) v with a probe v drawn once per sample and kept
for the whole solve: the integrand is then a smooth function of t, which an adaptive solver needs, and
the estimate of the integral is still unbiased (Grathwohl et al. 2019, FFJORD).
"""

from __future__ import annotations

import math

import torch

from .autodiff import PROBES, draw_probes, value_and_divergence, value_and_hutchinson
from .grids import uniform_grid
from .samplers.ode import heun_step, solve_ivp_torch
from .sde import check_sde
from .utils import check_generator

__all__ = ["pf_ode_log_likelihood", "pf_ode_field_and_divergence", "bits_per_dim", "dequantize"]


def pf_ode_field_and_divergence(
    sde, score, x: torch.Tensor, t, *, probes: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The probability-flow field F(x, t) = f - g^2/2 score and its divergence, ``(B, *D)`` and ``(B,)``.

    Exact (d backward passes) without ``probes``; with ``probes: (m, B, *D)`` the mean of the m Hutchinson
    estimates v^T (dF/dx) v.  ``t``: a float or ``(B,)``.  Both results are detached.
    """
    flow = sde.probability_flow(score)
    fn = lambda y: flow.drift(y, t)  # noqa: E731
    if probes is None:
        field, div = value_and_divergence(fn, x)
    else:
        field, quads = value_and_hutchinson(fn, x, probes)
        div = quads.mean(0)
    return field.detach(), div.detach()


def pf_ode_log_likelihood(
    sde,
    score,
    x: torch.Tensor,
    *,
    t_min: float = 1e-3,
    solver: str = "rk45",
    n_steps: int = 100,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    divergence: str = "exact",
    n_probes: int = 1,
    probe: str = "rademacher",
    prior_log_prob=None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict]:
    """log p_{t_min}(x) by the probability-flow ODE, ``x: (B, *D)`` -> ``(B,)``, and a dict of diagnostics.

    ``solver="rk45"`` (adaptive, scipy's Dormand–Prince with ``rtol``/``atol``) or ``"heun"`` (``n_steps``
    uniform steps, pure torch, runs on the GPU).  ``divergence="exact"`` or ``"hutchinson"`` with
    ``n_probes`` fixed probes per sample (``probe="rademacher"`` or ``"gaussian"``, :func:`~tutorial_pkg.draw_probes`).
    ``prior_log_prob(x_T)`` defaults to ``sde.prior_log_prob``; pass the exact log p_T to isolate the solver's
    error.  Diagnostics: ``nfe`` (evaluations of the field), ``prior`` (the prior term, ``(B,)``), ``delta``
    (the integrated divergence, ``(B,)``), ``x_T``.
    """
    check_sde(sde)
    if divergence not in ("exact", "hutchinson"):
        raise ValueError(f"divergence must be 'exact' or 'hutchinson', got {divergence!r}")
    if solver not in ("rk45", "heun"):
        raise ValueError(f"solver must be 'rk45' or 'heun', got {solver!r}")
    if not 0 <= t_min < sde.T:
        raise ValueError(f"t_min must lie in [0, T) = [0, {sde.T:g}), got {t_min}")
    if not torch.is_tensor(x) or x.ndim < 2 or not x.is_floating_point():
        raise ValueError(f"x must be a floating tensor of shape (B, *D), got {getattr(x, 'shape', type(x))}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x contains NaN or inf")
    probes = None
    if divergence == "hutchinson":
        if isinstance(n_probes, bool) or not isinstance(n_probes, int) or n_probes < 1:
            raise ValueError(f"n_probes must be a positive int, got {n_probes!r}")
        if probe not in PROBES:
            raise ValueError(f"probe must be one of {', '.join(PROBES)}, got {probe!r}")
        probes = draw_probes((n_probes, *x.shape), probe, generator=generator, dtype=x.dtype, device=x.device)

    batch, n, nfe = x.shape[0], x[0].numel(), 0

    def field_and_div(state: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        nonlocal nfe
        nfe += 1
        return pf_ode_field_and_divergence(sde, score, state, t, probes=probes)

    if solver == "heun":  # the augmented state (x, running integral of div F), from t_min up to T
        state = (x.detach().clone(), torch.zeros(batch, dtype=x.dtype, device=x.device))
        ts = uniform_grid(sde, n_steps, t_min).flip(0).tolist()
        for t, t_next in zip(ts[:-1], ts[1:], strict=True):
            state = heun_step(lambda s, tt: field_and_div(s[0], tt), state, t, t_next)
        end, delta = state
    else:

        def flat_rhs(y: torch.Tensor, t: float) -> torch.Tensor:
            field, div = field_and_div(y[: batch * n].reshape(x.shape), t)
            return torch.cat([field.reshape(-1), div])

        y0 = torch.cat([x.detach().reshape(-1), torch.zeros(batch, dtype=x.dtype, device=x.device)])
        y_T = solve_ivp_torch(flat_rhs, y0, (t_min, sde.T), method="RK45", rtol=rtol, atol=atol)
        end, delta = y_T[: batch * n].reshape(x.shape), y_T[batch * n :]
    prior = (prior_log_prob or sde.prior_log_prob)(end)
    return prior + delta, {"nfe": nfe, "prior": prior, "delta": delta, "x_T": end}


def dequantize(
    counts: torch.Tensor, n_bins: int = 256, *, generator: torch.Generator | None = None, dtype=None
) -> torch.Tensor:
    """Integer data k in {0, ..., n_bins - 1} to continuous x = 2 (k + u) / n_bins - 1 in [-1, 1], u ~ U[0, 1).

    Uniform dequantisation (Theis et al. 2016): the discrete model P(k) = int_bin p(x) dx satisfies
    log P(k) >= E_u[log p(x)] + d log(2 / n_bins), so a density on [-1, 1]^d yields a bound on the
    discrete log-likelihood.
    """
    if not torch.is_tensor(counts):
        raise TypeError(f"counts must be a tensor of integer levels, got {type(counts).__name__}")
    check_generator(generator)
    if counts.is_floating_point() and not torch.equal(counts, counts.round()):
        raise ValueError("dequantize takes integer levels 0..n_bins-1 (e.g. uint8 pixels), not scaled data")
    counts = counts.long()
    if counts.min() < 0 or counts.max() >= n_bins:
        raise ValueError(f"levels must lie in 0..{n_bins - 1}, got [{int(counts.min())}, {int(counts.max())}]")
    dtype = dtype or torch.get_default_dtype()
    device = generator.device if generator is not None else counts.device
    u = torch.rand(counts.shape, generator=generator, device=device, dtype=dtype).to(counts.device)
    return 2 * (counts.to(dtype) + u) / n_bins - 1


def bits_per_dim(log_likelihood: torch.Tensor, dim: int, *, n_bins: int | None = 256) -> torch.Tensor:
    """Negative log-likelihood in bits per dimension.

    For continuous data (``n_bins=None``): -log p(x) / (d log 2).  For data dequantised by
    :func:`dequantize` from ``n_bins`` levels to [-1, 1]: the discrete bound adds the log-volume of a bin,
    -(log p(x) + d log(2 / n_bins)) / (d log 2) — the number reported for images (8-bit: n_bins = 256).
    """
    if dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim}")
    offset = 0.0 if n_bins is None else dim * math.log(2 / n_bins)
    return -(log_likelihood + offset) / (dim * math.log(2))
