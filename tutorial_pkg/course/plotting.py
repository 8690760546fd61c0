"""Figure helpers for the notebooks.  Nothing here draws unless called; each takes an ``ax``."""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["use_style", "scatter_samples", "density_grid", "plot_density", "plot_score_field"]


def use_style() -> None:
    """Use the course's matplotlib style (``tutorial_pkg/book.mplstyle``)."""
    import matplotlib.pyplot as plt

    plt.style.use(str(Path(__file__).with_name("book.mplstyle")))


def scatter_samples(ax, x: torch.Tensor, *, s: float = 2.0, alpha: float = 0.4, lim: float | None = None, **kw):
    """Scatter 2-D samples ``x: (N, 2)`` with equal axes."""
    x = torch.as_tensor(x).detach().cpu()
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"scatter_samples needs 2-D points of shape (N, 2), got {tuple(x.shape)}")
    ax.scatter(x[:, 0], x[:, 1], s=s, alpha=alpha, linewidths=0, **kw)
    ax.set_aspect("equal")
    if lim is not None:
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    return ax


def density_grid(lim: float = 3.0, n: int = 120, dtype: torch.dtype | None = None):
    """A square grid on [-lim, lim]^2: returns ``(X, Y, points)`` with ``points: (n*n, 2)``."""
    u = torch.linspace(-lim, lim, n, dtype=dtype or torch.get_default_dtype())
    X, Y = torch.meshgrid(u, u, indexing="xy")
    return X, Y, torch.stack([X.flatten(), Y.flatten()], dim=1)


def plot_density(ax, dist, *, lim: float = 3.0, n: int = 120, **kw):
    """Filled contours of a 2-D distribution's density ``exp(dist.log_prob)``."""
    X, Y, pts = density_grid(lim, n, dtype=getattr(dist, "dtype", None))
    with torch.no_grad():
        dens = dist.log_prob(pts).exp().reshape(n, n).cpu()
    ax.contourf(X.cpu(), Y.cpu(), dens, levels=20, **kw)
    ax.set_aspect("equal")
    return ax


def plot_score_field(ax, score, t: float, *, lim: float = 3.0, n: int = 20, dtype: torch.dtype | None = None, **kw):
    """Quiver plot of a score function ``score(x, t)`` on an ``n x n`` grid at time ``t``."""
    X, Y, pts = density_grid(lim, n, dtype=dtype)
    with torch.no_grad():
        s = score(pts, torch.full((pts.shape[0],), float(t), dtype=pts.dtype)).cpu()
    ax.quiver(X, Y, s[:, 0].reshape(n, n), s[:, 1].reshape(n, n), **kw)
    ax.set_aspect("equal")
    return ax
