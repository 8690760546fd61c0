"""Procedures of the score-matching chapter that draw samples: the score-matching estimators of an exponential
family's parameter, the maximum-likelihood estimate they are compared with, and a sampler for the family
p_k(x) ∝ cosh(x)^(-k).  Their asymptotic covariances are closed forms in :mod:`tutorial_pkg.exact.score_matching`."""

from __future__ import annotations

import math

import torch

from ..exact.score_matching import check_exp_family_stats, sech_mean_log_cosh
from ..utils import randn

__all__ = ["exp_family_sm_estimate", "sech_sample", "sech_sm_estimate", "sech_mle"]


def exp_family_sm_estimate(grad_F: torch.Tensor, lap_F: torch.Tensor) -> torch.Tensor:
    """The score-matching estimator of theta for p_theta ∝ exp(theta . F(x)) (Tang & Zhao eq. 7.6).

    With s_theta = grad log p_theta = J^T theta (J = grad F, ``(k, d)`` at each point), the empirical ISM
    objective theta^T E_n(J J^T) theta + 2 theta^T E_n(Laplacian F) is quadratic in theta, so

        theta_hat = -E_n(J J^T)^{-1} E_n(Laplacian F).

    ``grad_F: (..., n, k, d)``, ``lap_F: (..., n, k)`` (the Laplacian of each coordinate of F); leading
    dimensions are independent replicates.  Returns ``(..., k)``.
    """
    check_exp_family_stats(grad_F, lap_F)
    m = (grad_F @ grad_F.transpose(-1, -2)).mean(-3)  # (..., k, k)
    return -torch.linalg.solve(m, lap_F.mean(-2).unsqueeze(-1)).squeeze(-1)


def sech_sample(
    shape: int | tuple[int, ...], k: int, *, generator: torch.Generator | None = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Draw from p_k(x) = cosh(x)^(-k) / Z_k for an integer k >= 1, any ``shape``.

    u = tanh X has density ∝ (1 - u^2)^(k/2 - 1), i.e. (1 + u) / 2 ~ Beta(k/2, k/2), and
    Beta(k/2, k/2) = A / (A + B) with A, B independent chi-square(k) variables (sums of k squared
    normals): generator-friendly for every integer k.  (k = 2 is the logistic law with scale 1/2.)
    """
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"sech_sample needs an integer k >= 1, got {k!r}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    z = randn((2, k, *shape), generator=generator, dtype=dtype or torch.get_default_dtype(), device="cpu")
    chi2 = (z**2).sum(1)
    w = chi2[0] / (chi2[0] + chi2[1])
    eps = torch.finfo(w.dtype).eps
    return torch.atanh((2 * w - 1).clamp(-1 + eps, 1 - eps))


def sech_sm_estimate(x: torch.Tensor) -> torch.Tensor:
    """Score-matching estimate of k from samples ``x: (..., n)``: k_hat = E_n sech^2 / E_n tanh^2, ``(...)``."""
    th2 = torch.tanh(x) ** 2
    return (1 - th2).mean(-1) / th2.mean(-1)


def sech_mle(x: torch.Tensor, *, iterations: int = 30) -> torch.Tensor:
    """Maximum-likelihood estimate of k from samples ``x: (..., n)``, shape ``(...)``.

    Solves E_k[log cosh X] = mean(log cosh x) by Newton's method in log k (the mean is decreasing in k
    with derivative -Var_k(log cosh X)), started from the score-matching estimate.
    """
    target = (x.abs() + torch.log1p(torch.exp(-2 * x.abs())) - math.log(2)).mean(-1)  # log cosh, overflow-safe
    log_k = torch.log(sech_sm_estimate(x))
    for _ in range(iterations):
        k = log_k.exp()
        resid = sech_mean_log_cosh(k) - target
        slope = (torch.special.polygamma(1, k) - 0.5 * torch.special.polygamma(1, k / 2)) * k  # d/d log k
        log_k = log_k - (resid / slope).clamp(-2.0, 2.0)
    return log_k.exp()
