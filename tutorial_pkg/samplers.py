"""Samplers for the generative family: plain functions with one shared signature.

    sampler(sde, score, x, ts, *, generator=None, callback=None, progress=False, **options) -> x

* ``score(x, t)`` is a callable, a trained network or :class:`~tutorial_pkg.ExactScore`;
* ``x: (B, *D)`` is the state at ``ts[0]`` (the caller draws it: from the prior, or from the exact
  p_T to isolate the discretisation error);
* ``ts`` is a 1-D grid of forward times from ``T`` down to ``t_min`` (see :func:`time_grid`);
* ``callback(i, t, x)`` is called after step ``i`` with the new time and state (record
  trajectories with it); ``generator`` drives every random draw; ``progress`` shows a bar.

:func:`integrate_sde` is the Euler–Maruyama loop itself: it steps any object with ``drift(x, t)``
and ``diffusion(t)`` along any monotone grid, forward (simulating the noising SDE) or backward.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from .utils import append_dims, randn

__all__ = ["time_grid", "integrate_sde", "euler_maruyama", "ode_euler", "ode_heun", "SAMPLERS", "get_sampler"]

Callback = Callable[[int, float, torch.Tensor], None]


def time_grid(T: float, n_steps: int, t_min: float = 1e-3, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Uniform decreasing grid ``T = t_0 > t_1 > ... > t_N = t_min`` of ``n_steps + 1`` times."""
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
    if not 0 <= t_min < T:
        raise ValueError(f"need 0 <= t_min < T, got t_min={t_min}, T={T}")
    return torch.linspace(T, t_min, n_steps + 1, dtype=dtype)


def _check_grid(ts: torch.Tensor, T: float | None, x: torch.Tensor) -> torch.Tensor:
    ts = torch.as_tensor(ts)
    if ts.ndim != 1 or ts.numel() < 2:
        raise ValueError(f"ts must be a 1-D grid with at least two times, got shape {tuple(ts.shape)}")
    steps = ts[1:] - ts[:-1]
    if not (bool((steps > 0).all()) or bool((steps < 0).all())):
        raise ValueError("ts must be strictly monotone (decreasing from T for sampling)")
    if T is not None:
        tol = 1e-6 * max(1.0, T)
        if float(ts.min()) < -tol or float(ts.max()) > T + tol:
            raise ValueError(f"ts must lie in [0, T] = [0, {T:g}], got [{float(ts.min()):g}, {float(ts.max()):g}]")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    return ts.to(device=x.device, dtype=x.dtype)


def _steps(ts: torch.Tensor, progress: bool):
    pairs = list(zip(ts[:-1], ts[1:], strict=True))
    return tqdm(pairs, disable=not progress, leave=False)


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

    ``process`` is anything with ``drift(x, t)`` and ``diffusion(t)``: a forward SDE (grid
    increasing) or the generative family ``sde.reverse(score, h_ratio)`` (grid decreasing, dt < 0).
    ``noise``, optional, injects the standard normal draws z: shape ``(len(ts) - 1, *x.shape)``
    (to drive several schemes with one Brownian path); otherwise they come from ``generator``.
    Returns the state at ``ts[-1]``, shape of ``x``.
    """
    ts = _check_grid(ts, getattr(process, "T", None), x)
    if noise is not None and tuple(noise.shape) != (ts.numel() - 1, *x.shape):
        raise ValueError(f"noise must have shape {(ts.numel() - 1, *x.shape)}, got {tuple(noise.shape)}")
    batch = x.shape[0]
    for i, (t, t_next) in enumerate(_steps(ts, progress)):
        dt = t_next - t
        tb = t.expand(batch)
        g = process.diffusion(tb)
        x = x + process.drift(x, tb) * dt
        if noise is not None or bool((g != 0).any()):
            z = (
                noise[i].to(x)
                if noise is not None
                else randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            )
            x = x + append_dims(g, x.ndim) * dt.abs().sqrt() * z
        if callback is not None:
            callback(i, float(t_next), x)
    return x


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
) -> torch.Tensor:
    """Euler–Maruyama for the generative family with h = h_ratio * g (h_ratio = 1: reverse SDE).

    Tang & Zhao 2024, eq. (2.6) discretised with Euler–Maruyama; Cao et al. 2023 for h.
    """
    return integrate_sde(sde.reverse(score, h_ratio), x, ts, generator=generator, callback=callback, progress=progress)


def ode_euler(
    sde,
    score,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Euler's method for the probability-flow ODE dx/dt = f - g^2 score / 2 (Tang & Zhao eq. 5.6).

    Deterministic: ``generator`` is accepted for the shared signature and unused.
    """
    flow = sde.probability_flow(score)
    ts = _check_grid(ts, sde.T, x)
    for i, (t, t_next) in enumerate(_steps(ts, progress)):
        x = x + flow.drift(x, t.expand(x.shape[0])) * (t_next - t)
        if callback is not None:
            callback(i, float(t_next), x)
    return x


def ode_heun(
    sde,
    score,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Heun's second-order method for the probability-flow ODE (Karras et al. 2022, Alg. 1).

    Two score evaluations per step.  Deterministic: ``generator`` is unused.
    """
    flow = sde.probability_flow(score)
    ts = _check_grid(ts, sde.T, x)
    batch = x.shape[0]
    for i, (t, t_next) in enumerate(_steps(ts, progress)):
        dt = t_next - t
        d = flow.drift(x, t.expand(batch))
        x_euler = x + d * dt
        d_next = flow.drift(x_euler, t_next.expand(batch))
        x = x + 0.5 * (d + d_next) * dt
        if callback is not None:
            callback(i, float(t_next), x)
    return x


SAMPLERS: dict[str, Callable] = {
    "euler_maruyama": euler_maruyama,
    "ode_euler": ode_euler,
    "ode_heun": ode_heun,
}


def get_sampler(name: str) -> Callable:
    """Look a sampler up by name (one of ``SAMPLERS``)."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    return SAMPLERS[name]
