"""Time grids for the samplers, with one signature: ``grid(sde, n_steps, t_min=1e-3, *, dtype)``.

A sampling grid is a 1-D tensor of ``n_steps + 1`` forward times decreasing from ``T = sde.T`` to ``t_min``
(samplers integrate backwards in forward time).  :func:`increasing_karras_grid` is the one increasing grid:
the discretisation ``t_min = t_1 < ... < t_N = T`` on which consistency models are trained.

:func:`check_grid` is the one check of a grid that every sampler and oracle calls.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = [
    "uniform_grid",
    "quadratic_grid",
    "karras_grid",
    "increasing_karras_grid",
    "GRIDS",
    "make_grid",
    "check_grid",
]


def _check_args(sde, n_steps: int, t_min: float, *, positive: bool = False) -> float:
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
    T = float(sde.T)
    lo_ok = t_min > 0 if positive else t_min >= 0
    if not (lo_ok and t_min < T):
        interval = "(0, T)" if positive else "[0, T)"
        raise ValueError(f"t_min must lie in {interval} = {interval[0]}0, {T:g}), got {t_min!r}")
    return T


def uniform_grid(sde, n_steps: int, t_min: float = 1e-3, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Uniform decreasing grid ``T = t_0 > t_1 > ... > t_N = t_min`` of ``n_steps + 1`` times."""
    T = _check_args(sde, n_steps, t_min)
    return torch.linspace(T, t_min, n_steps + 1, dtype=dtype)


def quadratic_grid(sde, n_steps: int, t_min: float = 1e-3, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Decreasing grid t_i = t_min + (T - t_min)(1 - i/N)^2: steps shrink quadratically towards t_min
    (Song & Ermon 2020), where the score changes fastest."""
    T = _check_args(sde, n_steps, t_min)
    u = torch.linspace(1.0, 0.0, n_steps + 1, dtype=dtype)
    return t_min + (T - t_min) * u**2


def karras_grid(
    sde, n_steps: int, t_min: float = 1e-3, *, rho: float = 7.0, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """Karras et al. 2022 (eq. 5) spacing, in the noise-to-signal ratio nu(t) = sigma(t) / alpha(t).

    nu_i = (nu_max^(1/rho) + i/N (nu_min^(1/rho) - nu_max^(1/rho)))^rho between nu(T) and nu(t_min), mapped
    back to times with :meth:`~tutorial_pkg.SDE.time_at_noise_to_signal`.  Needs ``t_min > 0`` (nu(0) = 0).
    """
    T = _check_args(sde, n_steps, t_min, positive=True)
    if not rho > 0:
        raise ValueError(f"rho must be positive, got {rho!r}")
    lo = float(sde.noise_to_signal(torch.tensor(t_min, dtype=torch.float64))) ** (1 / rho)
    hi = float(sde.noise_to_signal(torch.tensor(T, dtype=torch.float64))) ** (1 / rho)
    targets = (hi + torch.linspace(0, 1, n_steps + 1, dtype=torch.float64) * (lo - hi)) ** rho
    ts = sde.time_at_noise_to_signal(targets[1:-1])
    ends = torch.tensor([T], dtype=torch.float64), torch.tensor([t_min], dtype=torch.float64)
    return torch.cat([ends[0], ts, ends[1]]).to(dtype)


def increasing_karras_grid(
    sde, n_steps: int, t_min: float = 1e-3, *, rho: float = 7.0, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """The Karras grid in increasing order, ``t_min = t_1 < ... < t_{N+1} = T``: the discretisation on which
    Song et al. (2023) train consistency models (their N = ``n_steps + 1`` points)."""
    return karras_grid(sde, n_steps, t_min, rho=rho, dtype=dtype).flip(0)


#: The sampling grids by name, for :func:`make_grid` and :func:`tutorial_pkg.sample`.
GRIDS: dict[str, Callable[..., torch.Tensor]] = {
    "uniform": uniform_grid,
    "quadratic": quadratic_grid,
    "karras": karras_grid,
}


def make_grid(name: str, sde, n_steps: int, t_min: float = 1e-3, **kwargs) -> torch.Tensor:
    """The sampling grid ``name`` (one of :data:`GRIDS`) with the common signature."""
    if name not in GRIDS:
        raise ValueError(f"unknown grid {name!r}; choose one of {', '.join(GRIDS)}")
    return GRIDS[name](sde, n_steps, t_min, **kwargs)


def check_grid(
    ts,
    *,
    T: float | None = None,
    decreasing: bool | None = True,
    like: torch.Tensor | None = None,
) -> torch.Tensor:
    """A 1-D grid of at least two strictly monotone times inside ``[0, T]``, or a ``ValueError`` that says why.

    ``decreasing=True`` (sampling: from T down to t_min), ``False`` (forward simulation) or ``None`` (either).
    Returned in the device and floating dtype of ``like`` (default: its own floating dtype, else float64).
    """
    ts = torch.as_tensor(ts)
    if ts.ndim != 1 or ts.numel() < 2:
        raise ValueError(f"ts must be a 1-D grid with at least two times, got shape {tuple(ts.shape)}")
    if not ts.is_floating_point():
        ts = ts.to(torch.float64)
    if not bool(torch.isfinite(ts).all()):
        raise ValueError("ts contains NaN or inf")
    steps = ts[1:] - ts[:-1]
    down, up = bool((steps < 0).all()), bool((steps > 0).all())
    if decreasing is True and not down:
        raise ValueError(
            f"ts must be strictly decreasing (from T down to t_min), got {ts[0].item():g} ... {ts[-1].item():g}; "
            "use tp.uniform_grid(sde, n_steps) or flip your grid"
        )
    if decreasing is False and not up:
        raise ValueError(f"ts must be strictly increasing, got {ts[0].item():g} ... {ts[-1].item():g}")
    if decreasing is None and not (down or up):
        raise ValueError("ts must be strictly monotone")
    if T is not None:
        tol = 1e-6 * max(1.0, float(T))
        if float(ts.min()) < -tol or float(ts.max()) > float(T) + tol:
            lo, hi = float(ts.min()), float(ts.max())
            raise ValueError(f"ts must lie in [0, T] = [0, {float(T):g}], got [{lo:g}, {hi:g}]")
    if like is not None:
        dtype = like.dtype if like.is_floating_point() else torch.float64
        ts = ts.to(device=like.device, dtype=dtype)
    return ts
