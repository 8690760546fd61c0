"""Toy data generated in code (nothing is downloaded), the standard test mixtures, and batch drawing.

Every generator takes ``n`` and an optional ``generator=`` and returns ``(n, 2)`` in the default
dtype unless ``dtype=`` says otherwise.  The point clouds are scaled to roughly unit spread, the
scale diffusion models are tuned for.  :func:`draw_batch` draws a training batch from a point cloud or a
distribution, the one way the package does it.
"""

from __future__ import annotations

import math

import torch

from .distributions import GaussianMixture
from .utils import check_generator, randn

__all__ = [
    "swiss_roll",
    "moons",
    "rings",
    "checkerboard",
    "toy_data",
    "TOY_DATASETS",
    "ring_mixture",
    "random_mixture",
    "draw_batch",
]


def draw_batch(data, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` points: rows of ``data: (N, *D)`` drawn uniformly with replacement, or fresh samples of a distribution
    (anything with ``sample(n, generator=)``, e.g. a :class:`~tutorial_pkg.GaussianMixture`)."""
    check_generator(generator)
    if torch.is_tensor(data):
        if data.ndim < 2 or data.shape[0] < 1:
            raise ValueError(f"data must have shape (N, *D) with N >= 1, got {tuple(data.shape)}")
        device = generator.device if generator is not None else None
        idx = torch.randint(0, data.shape[0], (n,), generator=generator, device=device)
        return data[idx.to(data.device)]
    if hasattr(data, "sample"):
        return data.sample(n, generator=generator)
    raise TypeError(f"data must be a tensor (N, *D) of points or a distribution, got {type(data).__name__}")


def _uniform(n: int, generator, dtype) -> torch.Tensor:
    check_generator(generator)
    dev = generator.device if generator is not None else None
    return torch.rand(n, generator=generator, dtype=dtype, device=dev).cpu()


def _check_n(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"n must be a positive int, got {n!r}")


def swiss_roll(
    n: int, *, noise: float = 0.5, generator: torch.Generator | None = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """2-D Swiss roll: u ~ U(1.5 pi, 4.5 pi), (u cos u, u sin u) + N(0, noise^2), divided by 5."""
    _check_n(n)
    dtype = dtype or torch.get_default_dtype()
    u = 1.5 * math.pi + 3 * math.pi * _uniform(n, generator, dtype)
    pts = torch.stack([u * torch.cos(u), u * torch.sin(u)], dim=1)
    pts = pts + noise * randn((n, 2), generator=generator, dtype=dtype, device="cpu")
    return pts / 5


def moons(
    n: int, *, noise: float = 0.1, generator: torch.Generator | None = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Two interleaved half circles, centred and scaled to about unit spread."""
    _check_n(n)
    dtype = dtype or torch.get_default_dtype()
    u = math.pi * _uniform(n, generator, dtype)
    upper = _uniform(n, generator, dtype) < 0.5
    x = torch.where(upper, torch.cos(u), 1 - torch.cos(u))
    y = torch.where(upper, torch.sin(u), 0.5 - torch.sin(u))
    pts = torch.stack([x - 0.5, y - 0.25], dim=1) * 1.5
    return pts + noise * randn((n, 2), generator=generator, dtype=dtype, device="cpu")


def rings(
    n: int,
    *,
    radii: tuple[float, ...] = (0.5, 1.0, 1.5),
    noise: float = 0.05,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Concentric circles of the given radii, points spread in proportion to circumference."""
    _check_n(n)
    dtype = dtype or torch.get_default_dtype()
    r = torch.tensor(radii, dtype=dtype)
    idx = torch.multinomial(r / r.sum(), n, replacement=True, generator=_cpu(generator))
    u = 2 * math.pi * _uniform(n, generator, dtype)
    pts = r[idx, None] * torch.stack([torch.cos(u), torch.sin(u)], dim=1)
    return pts + noise * randn((n, 2), generator=generator, dtype=dtype, device="cpu")


def checkerboard(
    n: int, *, squares: int = 4, generator: torch.Generator | None = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Uniform points on the dark squares of a ``squares x squares`` board on [-2, 2]^2."""
    _check_n(n)
    if squares < 2:
        raise ValueError(f"squares must be at least 2, got {squares}")
    dtype = dtype or torch.get_default_dtype()
    cells = [(i, j) for i in range(squares) for j in range(squares) if (i + j) % 2 == 0]
    cell = torch.tensor(cells, dtype=dtype)
    idx = torch.randint(len(cells), (n,), generator=_cpu(generator))
    offset = torch.stack([_uniform(n, generator, dtype), _uniform(n, generator, dtype)], dim=1)
    return (cell[idx] + offset) * (4 / squares) - 2


def _cpu(generator: torch.Generator | None) -> torch.Generator | None:
    check_generator(generator)
    if generator is not None and generator.device.type != "cpu":
        raise ValueError("toy data are generated on the CPU: pass a CPU torch.Generator")
    return generator


#: The toy data generators by the name :func:`toy_data` takes.
TOY_DATASETS = {"swiss_roll": swiss_roll, "moons": moons, "rings": rings, "checkerboard": checkerboard}


def toy_data(name: str, n: int, *, generator: torch.Generator | None = None, **kwargs) -> torch.Tensor:
    """Generate toy data set ``name`` (one of ``TOY_DATASETS``)."""
    if name not in TOY_DATASETS:
        raise ValueError(f"unknown toy data set {name!r}; choose one of {', '.join(TOY_DATASETS)}")
    return TOY_DATASETS[name](n, generator=generator, **kwargs)


def ring_mixture(
    n_components: int = 8, radius: float = 2.0, std: float = 0.25, dtype: torch.dtype | None = None
) -> GaussianMixture:
    """Equal-weight isotropic Gaussians evenly spaced on a circle: the course's standard 2-D oracle."""
    if n_components < 1:
        raise ValueError(f"n_components must be >= 1, got {n_components}")
    dtype = dtype or torch.get_default_dtype()
    angle = 2 * math.pi * torch.arange(n_components, dtype=dtype) / n_components
    means = radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return GaussianMixture(torch.ones(n_components, dtype=dtype), means, torch.full((n_components,), std, dtype=dtype))


def random_mixture(
    dim: int,
    n_components: int,
    *,
    spread: float = 2.0,
    std_range: tuple[float, float] = (0.2, 0.6),
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
) -> GaussianMixture:
    """A random mixture in ``dim`` dimensions with diagonal components and Dirichlet-like weights."""
    dtype = dtype or torch.get_default_dtype()
    means = spread * randn((n_components, dim), generator=generator, dtype=dtype, device="cpu")
    lo, hi = std_range
    stds = lo + (hi - lo) * torch.rand((n_components, dim), generator=_cpu(generator), dtype=dtype)
    weights = 0.5 + torch.rand(n_components, generator=generator, dtype=dtype)
    return GaussianMixture(weights, means, stds)
