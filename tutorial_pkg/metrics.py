"""Distances between distributions: closed forms for Gaussians, sample-based ones for the rest.

Samples are ``(N, *D)`` and are flattened to ``(N, d)``.  Gaussian parameters are a mean ``(d,)``
and a covariance ``(d, d)``; compute in float64 when the answer is compared with a tolerance.
"""

from __future__ import annotations

import torch

from .utils import randn

__all__ = [
    "mean_and_covariance",
    "gaussian_kl",
    "gaussian_w2",
    "sliced_wasserstein",
    "energy_distance",
]


def _flat(x: torch.Tensor, name: str) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim < 2 or x.shape[0] < 2:
        raise ValueError(f"{name} must be samples of shape (N, *D) with N >= 2, got {tuple(x.shape)}")
    return x.reshape(x.shape[0], -1)


def mean_and_covariance(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample mean ``(d,)`` and unbiased sample covariance ``(d, d)`` of ``x: (N, *D)``."""
    x = _flat(x, "x")
    mean = x.mean(0)
    xc = x - mean
    return mean, xc.T @ xc / (x.shape[0] - 1)


def _check_gaussian(m: torch.Tensor, c: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    m, c = torch.as_tensor(m), torch.as_tensor(c)
    if m.ndim != 1 or c.shape != (m.shape[0], m.shape[0]):
        raise ValueError(f"{name}: need mean (d,) and covariance (d, d), got {tuple(m.shape)} and {tuple(c.shape)}")
    return m, c


def gaussian_kl(m1, c1, m2, c2) -> torch.Tensor:
    """KL( N(m1, c1) || N(m2, c2) ) = ½[tr(c2⁻¹c1) + (m2-m1)ᵀc2⁻¹(m2-m1) - d + log det c2 - log det c1]."""
    m1, c1 = _check_gaussian(m1, c1, "first Gaussian")
    m2, c2 = _check_gaussian(m2, c2, "second Gaussian")
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
    """W2( N(m1, c1), N(m2, c2) ) = sqrt(|m1 - m2|² + tr(c1 + c2 - 2 (c2^½ c1 c2^½)^½))."""
    m1, c1 = _check_gaussian(m1, c1, "first Gaussian")
    m2, c2 = _check_gaussian(m2, c2, "second Gaussian")
    r2 = _psd_sqrt(c2)
    cross = _psd_sqrt(r2 @ c1 @ r2)
    w2sq = ((m1 - m2) ** 2).sum() + torch.trace(c1 + c2 - 2 * cross)
    return w2sq.clamp_min(0).sqrt()


def sliced_wasserstein(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    n_projections: int = 500,
    chunk: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sliced 2-Wasserstein distance, sqrt(E_theta W2²(theta·x, theta·y)), theta uniform on the sphere.

    Each 1-D W2 compares quantiles of the projections; samples of different sizes are compared at
    the quantile levels of the larger one.  Monte Carlo over ``n_projections`` directions.

    With ``chunk``, x and y are cut into disjoint blocks of ``chunk`` rows and the blockwise distances
    are averaged: an estimate of the expected distance between samples of size ``chunk`` whose
    spread shrinks like 1/sqrt(number of blocks).  Comparing a sampler with the data-vs-data value
    ("the noise floor") at a fixed block size needs this; one pair of samples is too noisy.
    """
    x, y = _flat(x, "x"), _flat(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    y = y.to(x)
    theta = randn((x.shape[1], n_projections), generator=generator, dtype=x.dtype, device=x.device)
    theta = theta / theta.norm(dim=0, keepdim=True)
    if chunk is not None:
        n_blocks = min(x.shape[0], y.shape[0]) // chunk
        if chunk < 2 or n_blocks < 1:
            raise ValueError(f"chunk must be >= 2 and at most the sample size, got {chunk}")
        dists = [
            _sliced(x[i * chunk : (i + 1) * chunk], y[i * chunk : (i + 1) * chunk], theta) for i in range(n_blocks)
        ]
        return torch.stack(dists).mean()
    return _sliced(x, y, theta)


def _sliced(x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    px, _ = torch.sort(x @ theta, dim=0)
    py, _ = torch.sort(y @ theta, dim=0)
    if px.shape[0] != py.shape[0]:
        n = max(px.shape[0], py.shape[0])
        levels = (torch.arange(n, dtype=x.dtype, device=x.device) + 0.5) / n
        px = torch.quantile(px, levels, dim=0)
        py = torch.quantile(py, levels, dim=0)
    return ((px - py) ** 2).mean().sqrt()


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| (an MMD with the distance kernel); V-statistic-free.

    Zero exactly when the two laws agree; the within-sample terms exclude the diagonal.
    """
    x, y = _flat(x, "x"), _flat(y, "y").to(_flat(x, "x"))
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    n, m = x.shape[0], y.shape[0]
    xy = torch.cdist(x, y).mean()
    xx = torch.cdist(x, x).sum() / (n * (n - 1))
    yy = torch.cdist(y, y).sum() / (m * (m - 1))
    return 2 * xy - xx - yy
