"""Distances between distributions: closed forms for Gaussians, sample-based ones for the rest.

Samples are ``(N, *D)`` and are flattened to ``(N, d)``.  Gaussian parameters are a mean ``(d,)``
and a covariance ``(d, d)``; compute in float64 when the answer is compared with a tolerance.

:class:`SlicedW2Floor` is the course's measure of sample quality: the sliced 2-Wasserstein distance of a
sample to a reference set, divided by the same distance for fresh draws of the data ("the floor": what
two samples of one law already differ by at that sample size).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .utils import check_generator, randn

__all__ = [
    "mean_and_covariance",
    "gaussian_kl",
    "gaussian_w2",
    "random_projections",
    "sliced_wasserstein",
    "SlicedW2Floor",
    "energy_distance",
    "nearest_distance",
]


def _flat(x: torch.Tensor, name: str) -> torch.Tensor:
    if not torch.is_tensor(x):
        raise TypeError(f"{name} must be a tensor of samples (N, *D), got {type(x).__name__}")
    if x.ndim < 2 or x.shape[0] < 2:
        raise ValueError(f"{name} must be samples of shape (N, *D) with N >= 2, got {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf: the distance is undefined (did the sampler diverge?)")
    return x.reshape(x.shape[0], -1)


def mean_and_covariance(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample mean ``(d,)`` and unbiased sample covariance ``(d, d)`` of ``x: (N, *D)``."""
    x = _flat(x, "x")
    mean = x.mean(0)
    xc = x - mean
    return mean, xc.T @ xc / (x.shape[0] - 1)


def _check_gaussian(m, c, name: str, *, definite: bool) -> tuple[torch.Tensor, torch.Tensor]:
    m, c = torch.as_tensor(m), torch.as_tensor(c)
    if m.ndim != 1 or c.shape != (m.shape[0], m.shape[0]):
        raise ValueError(f"{name}: need mean (d,) and covariance (d, d), got {tuple(m.shape)} and {tuple(c.shape)}")
    if not bool(torch.isfinite(m).all() and torch.isfinite(c).all()):
        raise ValueError(f"{name}: the mean or covariance contains NaN or inf")
    c = c.to(m.dtype) if m.is_floating_point() else c
    scale = float(c.abs().max()) if c.numel() else 0.0
    if not torch.allclose(c, c.T, rtol=1e-6, atol=1e-9 * max(scale, 1e-300)):
        raise ValueError(f"{name}: the covariance is not symmetric")
    lowest = float(torch.linalg.eigvalsh(c).min())
    if (definite and not lowest > 0) or lowest < -1e-9 * max(scale, 1e-300):
        kind = "positive definite" if definite else "positive semi-definite"
        raise ValueError(f"{name}: the covariance must be {kind}, its smallest eigenvalue is {lowest:.3g}")
    return m, c


def gaussian_kl(m1, c1, m2, c2) -> torch.Tensor:
    """KL( N(m1, c1) || N(m2, c2) ) = ½[tr(c2⁻¹c1) + (m2-m1)ᵀc2⁻¹(m2-m1) - d + log det c2 - log det c1]."""
    m1, c1 = _check_gaussian(m1, c1, "first Gaussian", definite=True)
    m2, c2 = _check_gaussian(m2, c2, "second Gaussian", definite=True)
    if m1.shape != m2.shape:
        raise ValueError(f"dimension mismatch: {m1.shape[0]} vs {m2.shape[0]}")
    l2 = torch.linalg.cholesky(c2)
    diff = (m2 - m1).unsqueeze(-1)
    trace = torch.cholesky_solve(c1, l2).diagonal().sum()
    maha = (diff * torch.cholesky_solve(diff, l2)).sum()
    logdet2 = 2 * l2.diagonal().log().sum()
    logdet1 = torch.linalg.slogdet(c1).logabsdet
    return 0.5 * (trace + maha - m1.shape[0] + logdet2 - logdet1)


def _psd_sqrt(c: torch.Tensor) -> torch.Tensor:
    evals, evecs = torch.linalg.eigh(c)
    return evecs @ torch.diag(evals.clamp_min(0).sqrt()) @ evecs.T


def gaussian_w2(m1, c1, m2, c2) -> torch.Tensor:
    """W2( N(m1, c1), N(m2, c2) ) = sqrt(|m1 - m2|² + tr(c1 + c2 - 2 (c2^½ c1 c2^½)^½)); covariances PSD."""
    m1, c1 = _check_gaussian(m1, c1, "first Gaussian", definite=False)
    m2, c2 = _check_gaussian(m2, c2, "second Gaussian", definite=False)
    if m1.shape != m2.shape:
        raise ValueError(f"dimension mismatch: {m1.shape[0]} vs {m2.shape[0]}")
    r2 = _psd_sqrt(c2)
    cross = _psd_sqrt(r2 @ c1 @ r2)
    w2sq = ((m1 - m2) ** 2).sum() + torch.trace(c1 + c2 - 2 * cross)
    return w2sq.clamp_min(0).sqrt()


def random_projections(
    dim: int,
    n_projections: int = 500,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``n_projections`` directions uniform on the unit sphere of R^dim, as the columns of a ``(dim, n)`` matrix."""
    if isinstance(n_projections, bool) or not isinstance(n_projections, int) or n_projections < 1:
        raise ValueError(f"n_projections must be a positive int, got {n_projections!r}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    theta = randn((dim, n_projections), generator=check_generator(generator), dtype=dtype, device=device)
    return theta / theta.norm(dim=0, keepdim=True)


def _w2_squared_1d(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Mean over columns of W2^2 between the empirical laws of the columns of ``px (n, k)`` and ``py (m, k)``.

    Exact for empirical measures with uniform weights: int_0^1 (F^-1(u) - G^-1(u))^2 du with the two step
    quantile functions, integrated over the merged breakpoints {i/n} u {j/m} (as POT's ``wasserstein_1d``).
    """
    px, _ = torch.sort(px, dim=0)
    py, _ = torch.sort(py, dim=0)
    n, m = px.shape[0], py.shape[0]
    if n == m:
        return ((px - py) ** 2).mean()
    steps = [torch.arange(1, k + 1, dtype=torch.float64) / k for k in (n, m)]
    levels = torch.cat(steps)
    levels = torch.unique(levels)  # sorted breakpoints in (0, 1]
    widths = torch.diff(levels, prepend=levels.new_zeros(1))
    mids = levels - widths / 2
    ix = torch.clamp((mids * n).floor().long(), max=n - 1).to(px.device)
    iy = torch.clamp((mids * m).floor().long(), max=m - 1).to(px.device)
    w = widths.to(px)
    return (w[:, None] * (px[ix] - py[iy]) ** 2).sum(0).mean()


def sliced_wasserstein(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    projections: torch.Tensor | None = None,
    n_projections: int = 500,
    chunk: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sliced 2-Wasserstein distance, sqrt(E_theta W2²(theta·x, theta·y)), theta uniform on the sphere.

    Each 1-D W2 is exact between the two empirical laws (samples of different sizes included).  The
    expectation is a Monte Carlo average over ``projections`` (a ``(d, k)`` matrix of unit columns, e.g. from
    :func:`random_projections`), or over ``n_projections`` directions drawn with ``generator``.

    With ``chunk``, x and y are cut into disjoint blocks of ``chunk`` rows and the blockwise distances
    are averaged: an estimate of the expected distance between samples of size ``chunk`` whose
    spread shrinks like 1/sqrt(number of blocks).  Comparing a sampler with the data-vs-data value
    ("the noise floor") at a fixed block size needs this; one pair of samples is too noisy.
    """
    x, y = _flat(x, "x"), _flat(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    y = y.to(x)
    if projections is None:
        theta = random_projections(x.shape[1], n_projections, generator=generator, dtype=x.dtype, device=x.device)
    else:
        theta = torch.as_tensor(projections).to(x)
        if theta.ndim != 2 or theta.shape[0] != x.shape[1] or theta.shape[1] < 1:
            raise ValueError(f"projections must have shape (d, k) = ({x.shape[1]}, k), got {tuple(theta.shape)}")
    if chunk is not None:
        n_blocks = min(x.shape[0], y.shape[0]) // chunk if isinstance(chunk, int) else 0
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 2 or n_blocks < 1:
            raise ValueError(f"chunk must be an int >= 2 and at most the sample size, got {chunk!r}")
        dists = [
            _w2_squared_1d(x[i * chunk : (i + 1) * chunk] @ theta, y[i * chunk : (i + 1) * chunk] @ theta).sqrt()
            for i in range(n_blocks)
        ]
        return torch.stack(dists).mean()
    return _w2_squared_1d(x @ theta, y @ theta).sqrt()


class SlicedW2Floor:
    """Sample quality against a reference: ``ratio(x) = SW2(x, reference) / floor``, 1 meaning "as good as data".

    ``reference: (n, *D)`` is a sample of the data law; ``fresh`` one or more further samples of the same law,
    independent of ``reference``.  The projections are drawn once (``n_projections`` directions from ``seed``),
    the floor is the mean distance of the fresh samples to the reference, computed once; every distance is a
    block average over blocks of ``chunk`` rows (:func:`sliced_wasserstein`; ``None``: whole samples), so a ratio
    compares like with like.
    ``fresh_distances`` holds the distance of each fresh sample, ``floor_stderr`` the standard error of their
    mean: their spread says how far from 1 the ratio of data itself can land.
    """

    def __init__(
        self,
        reference: torch.Tensor,
        fresh: torch.Tensor | Sequence[torch.Tensor],
        *,
        chunk: int | None = 1000,
        n_projections: int = 200,
        seed: int = 1,
    ):
        self.reference = _flat(reference, "reference").reshape(reference.shape)
        fresh = [fresh] if torch.is_tensor(fresh) else list(fresh)
        if not fresh:
            raise ValueError("fresh must hold at least one sample of the data law, independent of the reference")
        dim = self.reference[0].numel()
        self.chunk = chunk
        self.projections = random_projections(
            dim, n_projections, generator=torch.Generator().manual_seed(seed), dtype=self.reference.dtype
        )
        self.fresh_distances = torch.stack([self.distance(f) for f in fresh])
        self.floor = float(self.fresh_distances.mean())
        n = len(fresh)
        self.floor_stderr = float(self.fresh_distances.std() / n**0.5) if n > 1 else float("nan")

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        """SW2(x, reference) with the fixed projections and block size (a 0-d tensor)."""
        x = torch.as_tensor(x)
        if tuple(x.shape[1:]) != tuple(self.reference.shape[1:]):
            raise ValueError(f"x must have shape (n, {tuple(self.reference.shape[1:])}), got {tuple(x.shape)}")
        x = x.detach().to(device=self.reference.device, dtype=self.reference.dtype)
        return sliced_wasserstein(x, self.reference, projections=self.projections, chunk=self.chunk)

    def ratio(self, x: torch.Tensor) -> float:
        """SW2(x, reference) / floor."""
        return float(self.distance(x)) / self.floor

    def __repr__(self) -> str:
        return f"SlicedW2Floor(n={self.reference.shape[0]}, chunk={self.chunk}, floor={self.floor:.4g})"


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| (an MMD with the distance kernel); V-statistic-free.

    Zero exactly when the two laws agree; the within-sample terms exclude the diagonal.
    """
    x = _flat(x, "x")
    y = _flat(y, "y").to(x)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    n, m = x.shape[0], y.shape[0]
    xy = torch.cdist(x, y).mean()
    xx = torch.cdist(x, x).sum() / (n * (n - 1))
    yy = torch.cdist(y, y).sum() / (m * (m - 1))
    return 2 * xy - xx - yy


def nearest_distance(x: torch.Tensor, reference: torch.Tensor, *, chunk: int = 512) -> torch.Tensor:
    """``(n,)``: the Euclidean distance from each row of ``x: (n, *D)`` to the nearest row of ``reference``.

    Samples that copy training points are at distance ~0 from the training set and at the usual
    spacing from held-out data; samples that generalise are about as far from both.  Computed in float64
    (the matrix-product form of ``torch.cdist`` loses small distances in float32), ``chunk`` rows at a time.
    """
    x = _flat(x, "x").to(torch.float64)
    reference = _flat(reference, "reference").to(x)
    if x.shape[1] != reference.shape[1]:
        raise ValueError(f"x and reference must have the same dimension, got {x.shape[1]} and {reference.shape[1]}")
    return torch.cat([torch.cdist(x[i : i + chunk], reference).min(1).values for i in range(0, x.shape[0], chunk)])
