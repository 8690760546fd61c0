"""Statistics of measurements: Monte Carlo means with standard errors, z-scores, fitted orders of convergence.

Every numerical claim of the course is "a measurement agrees with an exact value within k standard
errors" or "an error falls like h^p".  These are the only places those statistics are computed.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

__all__ = ["MeanSE", "mean_stderr", "moment_z_scores", "variance_z_score", "OrderFit", "fit_order"]


class MeanSE(NamedTuple):
    """A Monte Carlo ``mean`` and its standard error ``stderr`` (unpacks as ``m, se = ...``)."""

    mean: torch.Tensor
    stderr: torch.Tensor


def mean_stderr(x: torch.Tensor, dim: int = 0) -> MeanSE:
    """Monte Carlo mean of ``x`` along ``dim`` and its standard error ``std / sqrt(n)``.

    The tolerance of a Monte Carlo check is a multiple of this standard error (4 in the course: a
    correct claim then fails with probability about 6e-5 by the central limit theorem).
    """
    x = torch.as_tensor(x)
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    n = x.shape[dim] if x.ndim else 0
    if n < 2:
        raise ValueError(f"need at least two samples along dim {dim}, got {n}")
    return MeanSE(x.mean(dim=dim), x.std(dim=dim) / math.sqrt(n))


def moment_z_scores(
    x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor, *, stderr: str = "gaussian"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Errors of the sample mean and covariance of ``x: (n, d)`` in units of their standard errors.

    ``stderr="gaussian"``: for n independent draws of N(mean, cov) the sample mean has standard error
    sqrt(cov_ii / n) and the sample covariance entry (i, j) sqrt((cov_ii cov_jj + cov_ij^2) / n) (Gaussian fourth
    moments; Isserlis).  ``stderr="empirical"``: the standard errors estimated from ``x`` itself, the sample
    standard deviations of x_i and of (x_i - m_i)(x_j - m_j) over sqrt(n), which hold for any law with finite
    fourth moments (a mixture, say).  Returns ``(z_mean (d,), z_cov (d, d))``; |z| < 4 is the usual check.
    """
    x = torch.as_tensor(x)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be samples of shape (n, d) with n >= 2, got {tuple(x.shape)}")
    if stderr not in ("gaussian", "empirical"):
        raise ValueError(f"stderr must be 'gaussian' or 'empirical', got {stderr!r}")
    n, d = x.shape
    mean = torch.as_tensor(mean, dtype=x.dtype).reshape(d)
    cov = torch.as_tensor(cov, dtype=x.dtype).reshape(d, d)
    xc = x - x.mean(0)
    emp = xc.T @ xc / (n - 1)
    if stderr == "empirical":
        products = xc[:, :, None] * xc[:, None, :]  # (n, d, d)
        se_mean, se_cov = x.std(0) / math.sqrt(n), products.std(0) / math.sqrt(n)
    else:
        diag = cov.diagonal()
        if not bool((diag > 0).all()):
            raise ValueError("cov must have a positive diagonal (the z-scores divide by the variances)")
        se_mean, se_cov = torch.sqrt(diag / n), torch.sqrt((diag[:, None] * diag[None, :] + cov**2) / n)
    return (x.mean(0) - mean) / se_mean, (emp - cov) / se_cov


def variance_z_score(x: torch.Tensor, expected: float | torch.Tensor) -> torch.Tensor:
    """z-score of the sample variance of ``x: (R, ...)`` (R independent replicates along dim 0) against ``expected``.

    The standard error of the sample variance of R i.i.d. values is sqrt((m4 - m2^2) / R), with m2 and m4 the
    second and fourth central moments, estimated from the same replicates.  Unlike s^2 sqrt(2 / R), which holds
    for Gaussian values only, this accounts for heavy tails (e.g. a ratio estimator).  Returns ``x.shape[1:]``.
    """
    x = torch.as_tensor(x)
    if x.ndim < 1 or x.shape[0] < 3:
        raise ValueError(f"need at least 3 replicates along dim 0, got shape {tuple(x.shape)}")
    r = x.shape[0]
    xc = x - x.mean(0)
    m2, m4 = xc.pow(2).mean(0), xc.pow(4).mean(0)
    return (m2 * r / (r - 1) - expected) / ((m4 - m2**2) / r).sqrt()


class OrderFit(NamedTuple):
    """``error ~ constant * step^order``: the least-squares ``order``, ``constant`` and the slope's ``stderr``,
    and the ``local`` slopes between neighbouring steps, ``(k - 1,)``."""

    order: float
    constant: float
    stderr: float
    local: torch.Tensor


def fit_order(steps, errors) -> OrderFit:
    """Least-squares fit of ``log error = log C + order * log step`` (a scheme of order p has error ~ C h^p).

    ``steps`` and ``errors``: 1-D, same length >= 2, positive (pass step sizes h, e.g. T / N for N steps).
    ``stderr`` is the usual standard error of the slope, sqrt(RSS / (k - 2) / sum (log h - mean)^2), from
    the scatter of the k points about the line (0 for k = 2).  ``local`` are the slopes between neighbours,
    (log e_{j+1} - log e_j) / (log h_{j+1} - log h_j): they settle to p as h -> 0 when the error has an
    expansion C h^p + O(h^{p+1}).
    """
    h = torch.as_tensor(steps, dtype=torch.float64).flatten()
    e = torch.as_tensor(errors, dtype=torch.float64).flatten()
    if h.numel() != e.numel() or h.numel() < 2:
        raise ValueError(f"need as many errors as steps (at least two), got {h.numel()} and {e.numel()}")
    if not bool((h > 0).all() and (e > 0).all() and torch.isfinite(h).all() and torch.isfinite(e).all()):
        raise ValueError("steps and errors must be finite and positive to take logarithms")
    if torch.unique(h).numel() != h.numel():
        raise ValueError("steps must be distinct")
    x, y = h.log(), e.log()
    xc = x - x.mean()
    order = float((xc * (y - y.mean())).sum() / (xc**2).sum())
    constant = math.exp(float(y.mean() - order * x.mean()))
    k = h.numel()
    resid = y - y.mean() - order * xc
    stderr = math.sqrt(float((resid**2).sum()) / (k - 2) / float((xc**2).sum())) if k > 2 else 0.0
    local = (y[1:] - y[:-1]) / (x[1:] - x[:-1])
    return OrderFit(order, constant, stderr, local)
