"""Derivatives by automatic differentiation: exact divergences, Jacobians, Hutchinson's estimator, and
Fokker–Planck residuals.

Exact divergences and Jacobians cost one backward pass per coordinate, so they are for small event sizes
(toy data, tests, oracles); Hutchinson's estimator costs one per probe.  :func:`draw_probes` is the one
place probe vectors are drawn.  Shapes: ``x: (B, *D)``; a time ``t`` is a float or ``(B,)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .utils import batch_time, check_generator, sum_except_batch

__all__ = [
    "PROBES",
    "draw_probes",
    "divergence",
    "value_and_divergence",
    "jacobian",
    "value_and_jacobian",
    "value_and_hutchinson",
    "fokker_planck_residual",
]

#: The probe laws of Hutchinson's estimator: entries +-1 (``"rademacher"``) or N(0, 1) (``"gaussian"``).
PROBES = ("rademacher", "gaussian")


def draw_probes(
    shape: tuple[int, ...],
    kind: str = "rademacher",
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Probe vectors with E[v] = 0 and E[v v^T] = I, ``kind`` one of :data:`PROBES`, of shape ``shape``.

    Drawn on the generator's device (so a CPU generator gives the same probes for CPU and GPU data), then
    moved to ``device``.  For a batch, ``shape = (m, B, *D)``: m probes per sample.
    """
    check_generator(generator)
    dtype = dtype or torch.get_default_dtype()
    draw_device = generator.device if generator is not None else device
    if kind == "rademacher":
        bits = torch.randint(0, 2, tuple(shape), generator=generator, device=draw_device)
        v = (2 * bits - 1).to(dtype)
    elif kind == "gaussian":
        v = torch.randn(tuple(shape), generator=generator, device=draw_device, dtype=dtype)
    else:
        raise ValueError(f"kind must be one of {', '.join(PROBES)}, got {kind!r}")
    return v.to(device) if device is not None else v


def _grad(out: torch.Tensor, x: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """d out / d x; zeros when ``out`` does not depend on ``x`` (a constant field has zero divergence)."""
    if not out.requires_grad:
        return torch.zeros_like(x)
    (grad,) = torch.autograd.grad(out, x, create_graph=create_graph, retain_graph=True, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad


def value_and_divergence(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, create_graph: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """``fn(x)`` and its exact divergence sum_i d fn_i / d x_i: shapes ``(B, *D)`` and ``(B,)``.

    One backward pass per coordinate (the cost implicit score matching pays, Hyvärinen 2005).
    ``create_graph=True`` keeps the graph so that the divergence can itself be differentiated
    (training with the implicit score-matching loss).
    """
    x = x.detach().requires_grad_(True) if not x.requires_grad else x
    with torch.enable_grad():
        y = fn(x)
        if y.shape != x.shape:
            raise ValueError(f"fn must map x to a tensor of the same shape; got {tuple(y.shape)} from {tuple(x.shape)}")
        y_flat = y.reshape(y.shape[0], -1)
        div = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for i in range(y_flat.shape[1]):
            grad = _grad(y_flat[:, i].sum(), x, create_graph)
            div = div + grad.reshape(x.shape[0], -1)[:, i]
    return y, div


def value_and_jacobian(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``fn(x)`` and its Jacobian d fn_i / d x_j for a map ``(B, *D) -> (B, *D)``: shapes ``(B, *D)``, ``(B, d, d)``.

    The map must act row by row (row b of the output depends on row b of the input only), as every score
    and drift of the package does.  One backward pass per coordinate: for small d.
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        y = fn(x)
        if y.shape != x.shape:
            raise ValueError(f"fn must map x to a tensor of the same shape; got {tuple(y.shape)} from {tuple(x.shape)}")
        flat = y.reshape(y.shape[0], -1)
        rows = [_grad(flat[:, i].sum(), x, False).reshape(x.shape[0], -1) for i in range(flat.shape[1])]
    return y.detach(), torch.stack(rows, dim=1)


def jacobian(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The Jacobian ``J[b, i, j] = d fn(x)_i / d x_j`` of a row-wise map ``(B, *D) -> (B, *D)``, ``(B, d, d)``
    (see :func:`value_and_jacobian`)."""
    return value_and_jacobian(fn, x)[1].detach()


def divergence(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, create_graph: bool = False
) -> torch.Tensor:
    """Exact divergence of a map ``fn: (B, *D) -> (B, *D)``, shape ``(B,)`` (see :func:`value_and_divergence`)."""
    return value_and_divergence(fn, x, create_graph=create_graph)[1]


def value_and_hutchinson(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    probes: torch.Tensor,
    *,
    create_graph: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``fn(x)`` and the probe-wise quadratic forms v_k^T (d fn / d x) v_k, shapes ``(B, *D)``, ``(m, B)``.

    ``probes: (m, B, *D)`` with E[v v^T] = I (standard normal or Rademacher entries): each row is an
    unbiased estimate of the divergence (Hutchinson 1989; Song et al. 2019, sliced score matching).
    One backward pass per probe, whatever the dimension.
    """
    if probes.ndim != x.ndim + 1 or probes.shape[1:] != x.shape:
        raise ValueError(f"probes must have shape (m, *x.shape) = (m, {tuple(x.shape)}), got {tuple(probes.shape)}")
    x = x.detach().requires_grad_(True) if not x.requires_grad else x
    with torch.enable_grad():
        y = fn(x)
        if y.shape != x.shape:
            raise ValueError(f"fn must map x to a tensor of the same shape; got {tuple(y.shape)} from {tuple(x.shape)}")
        quads = []
        for v in probes.to(y):
            grad = _grad((y * v).sum(), x, create_graph)
            quads.append(sum_except_batch(grad * v))
    return y, torch.stack(quads)


def fokker_planck_residual(
    sde,
    log_prob: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    t: float | torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both sides of the Fokker–Planck equation, in log form, at points ``x: (B, *D)``, times ``t`` (float or ``(B,)``).

    For dX = f dt + g dW with scalar g, dividing d_t p = -div(f p) + g^2/2 Lap p by p gives

        d_t log p  =  -div f - f . s + g^2/2 (div s + |s|^2),     s = grad log p,

    (Tang & Zhao 2024, eq. 5.4).  ``log_prob(x, t) -> (B,)`` must be differentiable in x and t.
    Returns ``(lhs, rhs)``, each ``(B,)``; they agree when ``log_prob`` is the law of the SDE.
    """
    t = batch_time(sde.check_time(t, like=x), x).detach().clone().requires_grad_(True)
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logp = log_prob(x, t)
        (dlogp_dt,) = torch.autograd.grad(logp.sum(), t, create_graph=True)

        def score(y):
            (s,) = torch.autograd.grad(log_prob(y, t).sum(), y, create_graph=True)
            return s

        s = score(x)
        div_s = divergence(score, x)
        div_f = divergence(lambda y: sde.drift(y, t), x)
        f = sde.drift(x, t)
        g2 = sde.diffusion(t) ** 2
        rhs = -div_f - sum_except_batch(f * s) + 0.5 * g2 * (div_s + sum_except_batch(s * s))
    return dlogp_dt.detach(), rhs.detach()
