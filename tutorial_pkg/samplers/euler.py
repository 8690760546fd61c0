"""Euler–Maruyama: the loop that simulates the forward SDEs and samples the generative family."""

from __future__ import annotations

import torch

from ..grids import check_grid
from ..utils import append_dims, batch_time, check_generator
from .base import Callback, NoiseSource, check_inputs, sweep

__all__ = ["integrate_sde", "euler_maruyama"]


def integrate_sde(
    process,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Euler–Maruyama: x <- x + drift(x, t) dt + diffusion(t) sqrt(|dt|) z along the grid ``ts``.

    ``process`` is anything with ``drift(x, t)`` and ``diffusion(t)``: a forward SDE (grid increasing) or
    the generative family ``sde.reverse(score, h_ratio)`` (grid decreasing, dt < 0).  ``noise``, optional,
    injects the standard normal draws: ``noise[:, i]`` drives step i, shape ``(B, len(ts) - 1, *D)`` (the
    package's one layout for a path's draws, batch first; a Brownian increment is sqrt(|dt|) z).  Without it
    the draws come from ``generator``, and a step whose diffusion is zero (the probability-flow ODE) draws
    nothing.  Returns the state at ``ts[-1]``, shape of ``x``.
    """
    if not (hasattr(process, "drift") and hasattr(process, "diffusion")):
        raise TypeError(f"process must have drift(x, t) and diffusion(t), got {type(process).__name__}")
    if not torch.is_tensor(x) or x.ndim < 2 or not x.is_floating_point():
        raise ValueError(f"x must be a floating tensor of shape (B, *D), got {getattr(x, 'shape', type(x))}")
    ts = check_grid(ts, T=getattr(process, "T", None), decreasing=None, like=x)
    source = NoiseSource(noise, check_generator(generator), x, ts.numel() - 1)
    # the package's own processes skip the per-step time checks: the grid is checked once, above
    coefficients = getattr(process, "_drift_and_diffusion", None)
    if coefficients is None:
        coefficients = lambda x, t: (process.drift(x, t), process.diffusion(t))  # noqa: E731

    def step(i, x, t, t_next):
        dt = t_next - t
        drift, g = coefficients(x, batch_time(t, x))
        x = x + drift * dt
        if noise is not None or bool((g != 0).any()):
            x = x + append_dims(g, x.ndim) * dt.abs().sqrt() * source(i)  # step i takes draw i
        return x

    return sweep(step, x, ts, callback, progress)


def euler_maruyama(
    sde,
    score,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    h_ratio: float = 1.0,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Euler–Maruyama for the generative family with h = h_ratio * g (h_ratio = 1: reverse SDE).

    Tang & Zhao 2024, eq. (2.6) discretised with Euler–Maruyama; Cao et al. 2023 for h.  ``noise``: one draw
    per step, ``(B, N, *D)`` (see :func:`integrate_sde`).
    """
    ts = check_inputs(sde, score, x, ts, generator)
    return integrate_sde(
        sde.reverse(score, h_ratio), x, ts, generator=generator, callback=callback, progress=progress, noise=noise
    )
