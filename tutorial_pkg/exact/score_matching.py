"""Closed forms behind score matching (chapter 04): the constants between the objectives, the variance of the
randomised divergence estimators, and the statistical efficiency of score matching for exponential families.

* **The constants between the objectives** for Gaussian data ``N(m, diag(s^2))`` under a linear forward SDE,
  where p_t = N(m_t, diag(v_t)) with v_t = alpha_t^2 s^2 + sigma_t^2 (Tang & Zhao 2024, Thms 4.1 and 4.3;
  Claustre 2025, Thms 4.1 and 4.6)::

      J_ESM - J_ISM = lambda(t) E|grad log p_t|^2                 = lambda sum_i 1 / v_i,
      J_DSM - J_ESM = lambda(t) E(|grad log p(x_t|x_0)|^2 - |grad log p_t|^2)
                    = lambda sum_i (1 / sigma_t^2 - 1 / v_i),

  and since min J_ESM = 0 the second constant is also the smallest value DSM can reach (its "floor").
* **The variance of the randomised divergence estimators** of the ISM integrand |s|^2 + 2 div s
  (Hutchinson 1989; Song et al. 2019), from the Jacobian A of the score and the score s at a point, by
  :func:`~tutorial_pkg.exact.hutchinson_variance`.
* **Exponential families** p_theta ∝ exp(theta . F(x)) (Tang & Zhao 2024, Thm 7.1, eqs. 7.5–7.6; Hyvärinen
  2005; Koehler et al. 2023): the asymptotic covariance of the score-matching estimator against the inverse
  Fisher information, for the Gaussian family F(x) = (x, x^2) and the family p_k ∝ cosh(x)^(-k).  The
  estimators themselves, and the sampler of p_k, are in :mod:`tutorial_pkg.study.score_matching`.
"""

from __future__ import annotations

import math

import torch

from ..distributions import Gaussian
from ..losses import loss_weight
from ..sde import check_sde
from .likelihood import hutchinson_variance

__all__ = [
    "ESTIMATORS",
    "gaussian_ism_constant",
    "gaussian_dsm_constant",
    "ism_estimator_variance",
    "check_exp_family_stats",
    "exp_family_sm_covariance",
    "exp_family_mle_covariance",
    "gaussian_family_stats",
    "gaussian_natural_params",
    "gaussian_sm_covariance",
    "gaussian_mle_covariance",
    "sech_family_stats",
    "sech_sm_covariance",
    "sech_mean_log_cosh",
    "sech_mle_covariance",
]


#: The estimators of the ISM integrand |s|^2 + 2 div s that :func:`ism_estimator_variance` knows, and the loss
#: that uses each: ``"exact"`` (``ism_loss``), ``"hutchinson"`` (``ism_loss(n_probes=m)``, Rademacher probes),
#: ``"ssm_vr"`` (``ssm_loss``, Gaussian slices, exact |s|^2), ``"ssm"`` (``ssm_loss(variance_reduced=False)``).
ESTIMATORS = ("exact", "hutchinson", "ssm_vr", "ssm")


# ------------------------------------------------------------------------------------------------
# constants between the objectives, Gaussian data
# ------------------------------------------------------------------------------------------------


def _gaussian_variances(data: Gaussian, sde, t) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """lambda-free pieces: v_t per coordinate ``(..., d)``, sigma_t^2 ``(...)`` and t as a tensor."""
    if not isinstance(data, Gaussian) or data.batched:
        raise TypeError(f"data must be a tp.Gaussian (not diffused), got {type(data).__name__}")
    t = check_sde(sde).check_time(t, like=data.means)
    if bool((sde.variance(t) <= 0).any()):
        raise ValueError("the constants need sigma_t > 0: take t > 0")
    s2 = data.stds.expand_as(data.means)[0].flatten() ** 2  # (d,)
    alpha2 = sde.mean_coeff(t) ** 2
    sigma2 = sde.variance(t)
    v = alpha2[..., None] * s2 + sigma2[..., None]
    return v, sigma2, t


def gaussian_ism_constant(data: Gaussian, sde, t: float | torch.Tensor, weighting: str = "sigma2") -> torch.Tensor:
    """J_ESM - J_ISM = lambda(t) E|grad log p_t|^2 = lambda(t) sum_i 1 / v_{t,i} for Gaussian data (Thm 4.1).

    ``data`` a :class:`~tutorial_pkg.distributions.Gaussian` with diagonal covariance, ``t`` a float (0-d
    result) or ``(B,)``.  Minus this value is the smallest value the ISM objective can take.
    """
    v, _, t = _gaussian_variances(data, sde, t)
    return loss_weight(sde, t, weighting) * (1 / v).sum(-1)


def gaussian_dsm_constant(data: Gaussian, sde, t: float | torch.Tensor, weighting: str = "sigma2") -> torch.Tensor:
    """J_DSM - J_ESM = lambda(t) sum_i (1 / sigma_t^2 - 1 / v_{t,i}) for Gaussian data (Thm 4.3).

    It is also the minimum of the DSM objective (reached by the true score, where J_ESM = 0): with
    lambda = sigma^2 and isotropic data N(m, s^2 I_d), d alpha_t^2 s^2 / (alpha_t^2 s^2 + sigma_t^2).
    """
    v, sigma2, t = _gaussian_variances(data, sde, t)
    return loss_weight(sde, t, weighting) * (1 / sigma2[..., None] - 1 / v).sum(-1)


# ------------------------------------------------------------------------------------------------
# divergence estimators and their variance
# ------------------------------------------------------------------------------------------------


def ism_estimator_variance(jac: torch.Tensor, s: torch.Tensor, estimator: str, n_probes: int = 1) -> torch.Tensor:
    """Variance over the probes of an estimate of |s|^2 + 2 div s at each point, ``(B,)``.

    ``jac: (B, d, d)`` the Jacobian A of the score, ``s: (B, d)`` the score; with m = ``n_probes`` probes
    v_1..v_m averaged, and V_kind(M) = :func:`~tutorial_pkg.exact.hutchinson_variance` (M, kind):

    * ``"exact"``       |s|^2 + 2 tr A                                 variance 0;
    * ``"hutchinson"``  |s|^2 + 2 mean_k v_k^T A v_k, Rademacher v     4 V_rademacher(A) / m;
    * ``"ssm_vr"``      |s|^2 + 2 mean_k v_k^T A v_k, Gaussian v       4 V_gaussian(A) / m;
    * ``"ssm"``         mean_k [(v_k . s)^2 + 2 v_k^T A v_k] = mean_k v_k^T (s s^T + 2 A) v_k, Gaussian v:
      V_gaussian(s s^T + 2 A) / m.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")
    if jac.ndim != 3 or jac.shape[1] != jac.shape[2] or s.shape != jac.shape[:2]:
        raise ValueError(f"need jac (B, d, d) and s (B, d), got {tuple(jac.shape)} and {tuple(s.shape)}")
    if isinstance(n_probes, bool) or not isinstance(n_probes, int) or n_probes < 1:
        raise ValueError(f"n_probes must be a positive int, got {n_probes!r}")
    if estimator == "exact":
        return torch.zeros(jac.shape[0], dtype=jac.dtype, device=jac.device)
    if estimator == "hutchinson":
        return 4 * hutchinson_variance(jac, "rademacher") / n_probes
    if estimator == "ssm_vr":
        return 4 * hutchinson_variance(jac, "gaussian") / n_probes
    return hutchinson_variance(s[:, :, None] * s[:, None, :] + 2 * jac, "gaussian") / n_probes


# ------------------------------------------------------------------------------------------------
# exponential families: the asymptotic covariance of score matching and of maximum likelihood
# ------------------------------------------------------------------------------------------------


def check_exp_family_stats(grad_F: torch.Tensor, lap_F: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``grad_F: (..., n, k, d)`` and ``lap_F: (..., n, k)`` fit together."""
    if grad_F.ndim < 3 or lap_F.shape != grad_F.shape[:-1]:
        raise ValueError(
            "grad_F must have shape (..., n, k, d) and lap_F (..., n, k); "
            f"got {tuple(grad_F.shape)} and {tuple(lap_F.shape)}"
        )


def exp_family_sm_covariance(grad_F: torch.Tensor, lap_F: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Gamma_SM = E(J J^T)^{-1} Cov(J J^T theta + Laplacian F) E(J J^T)^{-1} (Tang & Zhao eq. 7.5), ``(k, k)``.

    The moments are the averages over the n points given (``grad_F: (n, k, d)``, ``lap_F: (n, k)``), so pass a
    large sample of p_theta (or quadrature nodes with equal weights) and the true ``theta: (k,)``:
    sqrt(n) (theta_hat_n - theta) -> N(0, Gamma_SM).
    """
    check_exp_family_stats(grad_F, lap_F)
    if grad_F.ndim != 3:
        raise ValueError("exp_family_sm_covariance takes one sample: grad_F (n, k, d), lap_F (n, k)")
    jj = grad_F @ grad_F.transpose(-1, -2)  # (n, k, k)
    m_inv = torch.linalg.inv(jj.mean(0))
    z = (jj @ theta.to(jj)[:, None])[..., 0] + lap_F  # (n, k)
    return m_inv @ torch.cov(z.T, correction=0).reshape(m_inv.shape) @ m_inv


def exp_family_mle_covariance(F: torch.Tensor) -> torch.Tensor:
    """Gamma_MLE = Cov(F(X))^{-1}, the inverse Fisher information of an exponential family, ``(k, k)``.

    ``F: (n, k)``, the statistic at n points of a large sample of p_theta.
    """
    if F.ndim != 2:
        raise ValueError(f"F must have shape (n, k), got {tuple(F.shape)}")
    return torch.linalg.inv(torch.cov(F.T, correction=0).reshape(F.shape[1], F.shape[1]))


# --- the 1-D Gaussian, F(x) = (x, x^2) ---------------------------------------------------------------


def gaussian_family_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """grad F ``(..., n, 2, 1)`` and Laplacian F ``(..., n, 2)`` of F(x) = (x, x^2) at ``x: (..., n)``."""
    grad = torch.stack([torch.ones_like(x), 2 * x], dim=-1)[..., None]
    lap = torch.stack([torch.zeros_like(x), torch.full_like(x, 2.0)], dim=-1)
    return grad, lap


def gaussian_natural_params(mean: float, var: float) -> torch.Tensor:
    """theta = (mean / var, -1 / (2 var)): N(mean, var) written as exp(theta . (x, x^2)) / Z."""
    if not var > 0:
        raise ValueError(f"var must be positive, got {var}")
    return torch.tensor([mean / var, -0.5 / var], dtype=torch.get_default_dtype())


def gaussian_sm_covariance(mean: float, var: float) -> torch.Tensor:
    """Gamma_SM of the Gaussian family in closed form, ``(2, 2)``.

    With X ~ N(mu, v) and Y = X - mu: E(J J^T) = [[1, 2 mu], [2 mu, 4 (mu^2 + v)]] and
    Z = J J^T theta + Laplacian F = (-Y / v, 2 - 2 X Y / v), whose covariance is
    [[1 / v, 2 mu / v], [2 mu / v, 8 + 4 mu^2 / v]].  (The product equals :func:`gaussian_mle_covariance`.)
    """
    mu, v = float(mean), float(var)
    if not v > 0:
        raise ValueError(f"var must be positive, got {v}")
    m = torch.tensor([[1.0, 2 * mu], [2 * mu, 4 * (mu**2 + v)]])
    cov_z = torch.tensor([[1 / v, 2 * mu / v], [2 * mu / v, 8 + 4 * mu**2 / v]])
    m_inv = torch.linalg.inv(m)
    return m_inv @ cov_z @ m_inv


def gaussian_mle_covariance(mean: float, var: float) -> torch.Tensor:
    """Gamma_MLE = Cov(X, X^2)^{-1} for X ~ N(mean, var), ``(2, 2)``."""
    mu, v = float(mean), float(var)
    if not v > 0:
        raise ValueError(f"var must be positive, got {v}")
    cov_f = torch.tensor([[v, 2 * mu * v], [2 * mu * v, 2 * v**2 + 4 * mu**2 * v]])
    return torch.linalg.inv(cov_f)


# --- the family p_k(x) ∝ cosh(x)^(-k), F(x) = log cosh x, theta = -k -----------------------------------


def _check_k(k: float) -> float:
    if not (isinstance(k, (int, float)) and k > 0):
        raise ValueError(f"k must be a positive number, got {k!r}")
    return float(k)


def sech_family_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """grad F = tanh x ``(..., n, 1, 1)`` and Laplacian F = sech^2 x ``(..., n, 1)`` for F(x) = log cosh x."""
    th = torch.tanh(x)
    return th[..., None, None], (1 - th**2)[..., None]


def sech_sm_covariance(k: float) -> torch.Tensor:
    """Gamma_SM = 2 k (k + 1)^2 / (k + 3) for the parameter theta = -k (or k), a 0-d tensor.

    With u = tanh X: E u^2 = 1 / (k + 1), E u^4 = 3 / ((k + 1)(k + 3)); Z = 1 - (k + 1) u^2 has variance
    2 k / (k + 3) and E(J J^T) = E u^2, so Gamma_SM = (k + 1)^2 * 2 k / (k + 3).
    """
    k = _check_k(k)
    return torch.tensor(2 * k * (k + 1) ** 2 / (k + 3), dtype=torch.get_default_dtype())


def sech_mean_log_cosh(k: float | torch.Tensor) -> torch.Tensor:
    """E_k[log cosh X] = psi(k) - psi(k / 2) - log 2 (psi the digamma function)."""
    k = torch.as_tensor(k, dtype=torch.get_default_dtype())
    return torch.special.digamma(k) - torch.special.digamma(k / 2) - math.log(2)


def sech_mle_covariance(k: float) -> torch.Tensor:
    """Gamma_MLE = 1 / Var_k(log cosh X) = 1 / (psi_1(k / 2) / 2 - psi_1(k)) (psi_1 the trigamma function)."""
    k = torch.tensor(_check_k(k), dtype=torch.get_default_dtype())
    return 1 / (0.5 * torch.special.polygamma(1, k / 2) - torch.special.polygamma(1, k))
