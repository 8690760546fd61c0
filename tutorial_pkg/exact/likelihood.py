"""Closed forms behind the likelihood chapter: Hutchinson's trace estimator for an explicit matrix and its
variance (Hutchinson 1989), and the exact probability of a bin of quantised data under a Gaussian mixture, the
number uniform dequantisation bounds (Theis et al. 2016).  Shapes: matrices ``(..., d, d)``."""

from __future__ import annotations

import torch

from ..distributions import GaussianMixture

__all__ = ["quadratic_forms", "hutchinson_variance", "log_diff_ndtr", "binned_log_prob"]


def quadratic_forms(A: torch.Tensor, probes: torch.Tensor) -> torch.Tensor:
    """Hutchinson's single-probe estimates v_k^T A v_k of tr A.

    ``A: (d, d)`` with ``probes: (m, d)`` gives ``(m,)``; a batch ``A: (B, d, d)`` with ``probes: (m, B, d)``
    gives ``(m, B)``.  Each entry is unbiased for tr A when E[v v^T] = I (Hutchinson 1989); the mean over
    the m probes has the variance :func:`hutchinson_variance` / m.
    """
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A must be square, shape (..., d, d); got {tuple(A.shape)}")
    if probes.shape[1:] != A.shape[:-1]:
        raise ValueError(
            f"probes must have shape (m, *A.shape[:-1]) = (m, {tuple(A.shape[:-1])}), got {tuple(probes.shape)}"
        )
    probes = probes.to(A)
    return torch.einsum("m...i,...ij,m...j->m...", probes, A, probes)


def hutchinson_variance(A: torch.Tensor, kind: str = "rademacher") -> torch.Tensor:
    """Var(v^T A v) for one probe, in closed form; ``A: (..., d, d)`` -> ``(...)``.

    Only the symmetric part S = (A + A^T) / 2 enters, since v^T A v = v^T S v.  Then

        Gaussian v:    Var = 2 ||S||_F^2 = 2 sum_ij S_ij^2,
        Rademacher v:  Var = 2 ||S||_F^2 - 2 sum_i A_ii^2      (v_i^2 = 1: the diagonal is exact).

    With m independent probes the variance of the mean is this over m.  Proof: v^T S v - tr S =
    sum_{i != j} S_ij v_i v_j + sum_i S_ii (v_i^2 - 1); the cross terms are uncorrelated with variance
    E[v_i^2 v_j^2] = 1 each (2 S_ij^2 per unordered pair), and Var(v_i^2) is 2 (Gaussian) or 0 (Rademacher).
    """
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"A must be square, shape (..., d, d); got {tuple(A.shape)}")
    S = 0.5 * (A + A.transpose(-1, -2))
    frob = 2 * S.pow(2).sum((-1, -2))
    if kind == "gaussian":
        return frob
    if kind == "rademacher":
        return frob - 2 * torch.diagonal(A, dim1=-2, dim2=-1).pow(2).sum(-1)
    raise ValueError(f"kind must be 'rademacher' or 'gaussian', got {kind!r}")


def log_diff_ndtr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """log(Phi(b) - Phi(a)) for a < b elementwise, Phi the standard normal CDF, accurate in both tails.

    For a > 0 it uses the symmetry Phi(b) - Phi(a) = Phi(-a) - Phi(-b), then
    log Phi(b) + log(1 - exp(log Phi(a) - log Phi(b))) with ``torch.special.log_ndtr``.
    """
    flip = a > 0
    lo = torch.where(flip, -b, a)
    hi = torch.where(flip, -a, b)
    log_hi, log_lo = torch.special.log_ndtr(hi), torch.special.log_ndtr(lo)
    return log_hi + torch.log(-torch.expm1(log_lo - log_hi))


def binned_log_prob(
    dist: GaussianMixture,
    levels: torch.Tensor,
    n_bins: int,
    *,
    low: float = -1.0,
    high: float = 1.0,
) -> torch.Tensor:
    """log P(k) = log int_{bin(k)} p(x) dx for quantised data ``levels: (B, *D)`` (integers 0..n_bins-1).

    Level k of a coordinate is the bin [low + k w, low + (k + 1) w), w = (high - low) / n_bins (the bins of
    :func:`~tutorial_pkg.dequantize` for the default [-1, 1]).  For a mixture of diagonal Gaussians the
    bin probability factorises within a component:

        P(k) = sum_j w_j prod_i [ Phi((b_i - m_ji) / s_ji) - Phi((a_i - m_ji) / s_ji) ],

    computed in log space.  This is the discrete likelihood that uniform dequantisation bounds from below:
    log P(k) >= E_u[log p(x)] + d log w (Jensen; Theis et al. 2016).  Returns ``(B,)``.
    """
    if dist.batched:
        raise ValueError("binned_log_prob needs a mixture at one time (not diffused to a batch of times)")
    if levels.is_floating_point() and not torch.equal(levels, levels.round()):
        raise ValueError("levels must be integers 0..n_bins-1 (the quantised data), not dequantised values")
    levels = levels.long()
    if tuple(levels.shape[1:]) != tuple(dist.event_shape):
        raise ValueError(f"levels must have shape (B, {tuple(dist.event_shape)}), got {tuple(levels.shape)}")
    if levels.min() < 0 or levels.max() >= n_bins:
        raise ValueError(f"levels must lie in 0..{n_bins - 1}, got [{int(levels.min())}, {int(levels.max())}]")
    width = (high - low) / n_bins
    lo = (low + width * levels.to(dist.dtype)).unsqueeze(1)  # (B, 1, *D)
    stds = dist.stds.expand_as(dist.means)
    a = (lo - dist.means) / stds  # (B, K, *D)
    b = (lo + width - dist.means) / stds
    per_comp = log_diff_ndtr(a, b).flatten(2).sum(-1)  # (B, K)
    return torch.logsumexp(torch.log(dist.weights) + per_comp, dim=1)
