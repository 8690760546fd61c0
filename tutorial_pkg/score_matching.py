"""Closed forms and small estimators behind the score-matching chapter (chapter 04).

Three groups of formulas, each the oracle of a numerical check:

* **The constants between the objectives** for Gaussian data ``N(m, diag(s^2))`` under a linear forward SDE,
  where p_t = N(m_t, diag(v_t)) with v_t = alpha_t^2 s^2 + sigma_t^2 (Tang & Zhao 2024, Thms 4.1 and 4.3;
  Claustre 2025, Thms 4.1 and 4.6)::

      J_ESM - J_ISM = lambda(t) E|grad log p_t|^2                 = lambda sum_i 1 / v_i,
      J_DSM - J_ESM = lambda(t) E(|grad log p(x_t|x_0)|^2 - |grad log p_t|^2)
                    = lambda sum_i (1 / sigma_t^2 - 1 / v_i),

  and since min J_ESM = 0 the second constant is also the smallest value DSM can reach (its "floor");
  with lambda = sigma^2 and isotropic data it is d alpha^2 s^2 / (alpha^2 s^2 + sigma^2).
* **The variance of the randomised divergence estimators** of the ISM integrand |s|^2 + 2 div s
  (Hutchinson 1989; Song et al. 2019, sliced score matching), from the Jacobian A of the score and the
  score s at a point: Var(v^T M v) = 2 ||M_sym||_F^2 for Gaussian v and 2 (||M_sym||_F^2 - sum_i M_ii^2)
  for Rademacher v.
* **Statistical efficiency of score matching for an exponential family** p_theta ∝ exp(theta . F(x))
  (Tang & Zhao 2024, Thm 7.1, eqs. 7.5–7.6; Hyvärinen 2005; Koehler et al. 2023): the estimator
  theta_hat = -E_n(grad F grad F^T)^{-1} E_n(Laplacian F), its asymptotic covariance Gamma_SM, and, for
  comparison, the maximum-likelihood covariance Gamma_MLE = Cov(F)^{-1}.  Two families are worked out in
  closed form: the 1-D Gaussian with F(x) = (x, x^2), where score matching *is* maximum likelihood, and
  the family p_k(x) ∝ cosh(x)^(-k) with F(x) = log cosh x, where it is strictly less efficient.

Shapes: states ``(B, d)``; a Jacobian of a statistic F: R^d -> R^k at n points is ``(n, k, d)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .autodiff import value_and_jacobian
from .distributions import Gaussian
from .losses import loss_weight
from .utils import randn

__all__ = [
    "ESTIMATORS",
    "gaussian_ism_constant",
    "gaussian_dsm_constant",
    "jacobian",
    "ism_estimator_variance",
    "exp_family_sm_estimate",
    "exp_family_sm_covariance",
    "exp_family_mle_covariance",
    "gaussian_family_stats",
    "gaussian_natural_params",
    "gaussian_sm_covariance",
    "gaussian_mle_covariance",
    "sech_sample",
    "sech_family_stats",
    "sech_sm_estimate",
    "sech_sm_covariance",
    "sech_mle_covariance",
    "sech_mean_log_cosh",
    "sech_mle",
    "variance_z_score",
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
    t = sde.check_time(t, like=data.means)
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


def jacobian(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The Jacobian ``J[b, i, j] = d fn(x)_i / d x_j`` of a map ``(B, d) -> (B, d)``, shape ``(B, d, d)``
    (:func:`~tutorial_pkg.autodiff.value_and_jacobian`, for flat states)."""
    if x.ndim != 2:
        raise ValueError(f"x must have shape (B, d), got {tuple(x.shape)}")
    return value_and_jacobian(fn, x)[1].detach()


def ism_estimator_variance(jac: torch.Tensor, s: torch.Tensor, estimator: str, n_probes: int = 1) -> torch.Tensor:
    """Variance over the probes of an estimate of |s|^2 + 2 div s at each point, ``(B,)``.

    ``jac: (B, d, d)`` the Jacobian A of the score, ``s: (B, d)`` the score; with m = ``n_probes`` probes
    v_1..v_m averaged (A_sym = (A + A^T) / 2):

    * ``"exact"``       |s|^2 + 2 tr A                                 variance 0;
    * ``"hutchinson"``  |s|^2 + 2 mean_k v_k^T A v_k, Rademacher v     8 (||A_sym||_F^2 - sum_i A_ii^2) / m;
    * ``"ssm_vr"``      |s|^2 + 2 mean_k v_k^T A v_k, Gaussian v       8 ||A_sym||_F^2 / m;
    * ``"ssm"``         mean_k [(v_k . s)^2 + 2 v_k^T A v_k], Gaussian 2 ||s s^T + 2 A_sym||_F^2 / m
      = 2 (|s|^4 + 4 s^T A s + 4 ||A_sym||_F^2) / m.

    These follow from Var(v^T M v) = 2 ||M_sym||_F^2 (Gaussian v) and 2 (||M_sym||_F^2 - sum_i M_ii^2)
    (Rademacher v), Hutchinson (1989).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")
    if jac.ndim != 3 or jac.shape[1] != jac.shape[2] or s.shape != jac.shape[:2]:
        raise ValueError(f"need jac (B, d, d) and s (B, d), got {tuple(jac.shape)} and {tuple(s.shape)}")
    if not isinstance(n_probes, int) or n_probes < 1:
        raise ValueError(f"n_probes must be a positive int, got {n_probes!r}")
    a = 0.5 * (jac + jac.transpose(1, 2))
    fro2 = (a**2).sum((1, 2))
    if estimator == "exact":
        return torch.zeros_like(fro2)
    if estimator == "hutchinson":
        var = 8 * (fro2 - (torch.diagonal(a, dim1=1, dim2=2) ** 2).sum(1))
    elif estimator == "ssm_vr":
        var = 8 * fro2
    else:
        m = s[:, :, None] * s[:, None, :] + 2 * a
        var = 2 * (m**2).sum((1, 2))
    return var / n_probes


# ------------------------------------------------------------------------------------------------
# exponential families: score-matching estimator and its asymptotic covariance
# ------------------------------------------------------------------------------------------------


def _check_stats(grad_F: torch.Tensor, lap_F: torch.Tensor) -> None:
    if grad_F.ndim < 3 or lap_F.shape != grad_F.shape[:-1]:
        raise ValueError(
            "grad_F must have shape (..., n, k, d) and lap_F (..., n, k); "
            f"got {tuple(grad_F.shape)} and {tuple(lap_F.shape)}"
        )


def exp_family_sm_estimate(grad_F: torch.Tensor, lap_F: torch.Tensor) -> torch.Tensor:
    """The score-matching estimator of theta for p_theta ∝ exp(theta . F(x)) (Tang & Zhao eq. 7.6).

    With s_theta = grad log p_theta = J^T theta (J = grad F, ``(k, d)`` at each point), the empirical ISM
    objective theta^T E_n(J J^T) theta + 2 theta^T E_n(Laplacian F) is quadratic in theta, so

        theta_hat = -E_n(J J^T)^{-1} E_n(Laplacian F).

    ``grad_F: (..., n, k, d)``, ``lap_F: (..., n, k)`` (the Laplacian of each coordinate of F); leading
    dimensions are independent replicates.  Returns ``(..., k)``.
    """
    _check_stats(grad_F, lap_F)
    m = (grad_F @ grad_F.transpose(-1, -2)).mean(-3)  # (..., k, k)
    return -torch.linalg.solve(m, lap_F.mean(-2).unsqueeze(-1)).squeeze(-1)


def exp_family_sm_covariance(grad_F: torch.Tensor, lap_F: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Gamma_SM = E(J J^T)^{-1} Cov(J J^T theta + Laplacian F) E(J J^T)^{-1} (Tang & Zhao eq. 7.5), ``(k, k)``.

    The moments are the averages over the n points given (``grad_F: (n, k, d)``, ``lap_F: (n, k)``), so pass a
    large sample of p_theta (or quadrature nodes with equal weights) and the true ``theta: (k,)``:
    sqrt(n) (theta_hat_n - theta) -> N(0, Gamma_SM).
    """
    _check_stats(grad_F, lap_F)
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


def sech_family_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """grad F = tanh x ``(..., n, 1, 1)`` and Laplacian F = sech^2 x ``(..., n, 1)`` for F(x) = log cosh x."""
    th = torch.tanh(x)
    return th[..., None, None], (1 - th**2)[..., None]


def sech_sm_estimate(x: torch.Tensor) -> torch.Tensor:
    """Score-matching estimate of k from samples ``x: (..., n)``: k_hat = E_n sech^2 / E_n tanh^2, ``(...)``."""
    th2 = torch.tanh(x) ** 2
    return (1 - th2).mean(-1) / th2.mean(-1)


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


# ------------------------------------------------------------------------------------------------
# checking a variance by simulation
# ------------------------------------------------------------------------------------------------


def variance_z_score(x: torch.Tensor, expected: float | torch.Tensor) -> torch.Tensor:
    """z-score of the sample variance of ``x: (R, ...)`` (R independent replicates along dim 0) against ``expected``.

    The standard error of the sample variance of R i.i.d. values is sqrt((m4 - m2^2) / R), with m2 and m4 the
    second and fourth central moments, estimated from the same replicates.  Unlike s^2 sqrt(2 / R), which holds
    for Gaussian values only, this accounts for heavy tails (e.g. a ratio estimator such as k_hat).
    Returns a tensor of shape ``x.shape[1:]``.
    """
    if x.ndim < 1 or x.shape[0] < 3:
        raise ValueError(f"need at least 3 replicates along dim 0, got shape {tuple(x.shape)}")
    r = x.shape[0]
    xc = x - x.mean(0)
    m2, m4 = xc.pow(2).mean(0), xc.pow(4).mean(0)
    return (m2 * r / (r - 1) - expected) / ((m4 - m2**2) / r).sqrt()
