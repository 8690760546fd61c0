"""Closed forms about the forward SDEs: their discretisations, and how far p_T is from the prior.

* **discretisations** — the Euler–Maruyama chain of a linear SDE (:func:`forward_em_moments`) and the DDPM
  chain (:func:`ddpm_chain_moments`), to compare with the exact kernel ``N(mu + alpha (x - mu), sigma^2 I)``;
* **how far p_T is from the prior** — for Gaussian data ``N(m, diag(s^2))`` the law p_T is Gaussian under
  every SDE of :mod:`tutorial_pkg.sde`, so KL(p_T || p_noise) and W2(p_T, p_noise) are closed forms
  (:func:`prior_kl`, :func:`prior_w2`); for any mixture (an empirical data set included) the Gaussian with
  the same first two moments gives a lower bound (:func:`prior_kl_lower_bound`); the contractive SDEs have a
  positive limit as T grows (:func:`contractive_prior_kl_limit`); TV between isotropic Gaussians
  (:func:`gaussian_tv_same_mean`).

Everything is exact (no sampling); results are tensors (float64 for float input).
"""

from __future__ import annotations

import math

import torch

from ..distributions import Gaussian, GaussianMixture
from ..grids import check_grid
from ..metrics import gaussian_kl, gaussian_w2
from ..sde import COU, CVP, SDE, VP, check_sde
from .samplers import affine_gaussian_chain

__all__ = [
    "forward_em_moments",
    "ddpm_chain_moments",
    "prior_kl",
    "prior_w2",
    "prior_kl_lower_bound",
    "contractive_prior_kl_limit",
    "gaussian_tv_same_mean",
]


def _t(*values):
    """Tensors with a common floating dtype (float64 unless a tensor input says otherwise)."""
    dtype = next((v.dtype for v in values if torch.is_tensor(v) and v.is_floating_point()), torch.float64)
    return [torch.as_tensor(v, dtype=dtype) for v in values]


# ----------------------------------------------------------------------------------------------
# Discretisations of the forward SDE
# ----------------------------------------------------------------------------------------------


def forward_em_moments(sde: SDE, ts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact coefficients ``(c, v)`` of the Euler–Maruyama chain of a linear SDE along an increasing grid ``ts``.

    For dX = a(t)(X - mu) dt + g(t) dW the scheme of :func:`tutorial_pkg.integrate_sde` is
    Y_{k+1} = (1 + a_k h_k) Y_k + g_k sqrt(h_k) Z_k with Y = X - mu, a_k = a(t_k), h_k = t_{k+1} - t_k,
    so  X_N - mu = c (X_0 - mu) + sqrt(v) Z  with

        c = prod_k (1 + a_k h_k),     v = sum_k g_k^2 h_k prod_{j > k} (1 + a_j h_j)^2

    (:func:`~tutorial_pkg.exact.affine_gaussian_chain` from mean 1, variance 0).  Compare ``(c, v)`` with the
    exact ``(sde.mean_coeff(t_N), sde.variance(t_N))`` to see the scheme's bias (first order in h; Kloeden &
    Platen 1992).  ``ts``: 1-D, strictly increasing, in [0, T].  Returns two 0-d tensors in the dtype of ``ts``.
    """
    check_sde(sde)
    ts = check_grid(ts, T=sde.T, decreasing=False)
    h = ts[1:] - ts[:-1]
    a, g2 = sde.drift_coeff(ts[:-1]), sde.diffusion(ts[:-1]) ** 2
    one = torch.ones((), dtype=ts.dtype)
    c, v, _ = affine_gaussian_chain(1 + a * h, torch.zeros_like(h), g2 * h, one, 0 * one)
    return c, v


def ddpm_chain_moments(sde: VP, n_steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Moments of the DDPM chain whose continuum limit is ``sde`` (Tang & Zhao §3(c); Ho et al. 2020).

    With Delta = T / N and beta_i = beta(i Delta) Delta (i = 1..N), the chain
    x_i = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z_i  gives  x_N = c x_0 + sqrt(v) Z  with

        c = prod_i sqrt(1 - beta_i),     v = 1 - prod_i (1 - beta_i),

    which tend to the VP kernel e^{-B(T)/2}, 1 - e^{-B(T)} as N grows (error O(1/N)).
    Returns two 0-d float64 tensors.
    """
    if not isinstance(sde, VP):
        raise TypeError(f"the DDPM chain discretises the VP SDE; got {type(sde).__name__}")
    if not isinstance(n_steps, int) or isinstance(n_steps, bool) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
    delta = sde.T / n_steps
    times = torch.arange(1, n_steps + 1, dtype=torch.float64) * delta
    betas = sde.beta(times) * delta
    if float(betas.max()) >= 1:
        raise ValueError(
            f"beta_i = beta(t_i) T / N reaches {float(betas.max()):.3g} >= 1: take more steps "
            f"(n_steps > {math.ceil(sde.beta_max * sde.T)})"
        )
    log_prod = torch.log1p(-betas).sum()
    return torch.exp(0.5 * log_prod), -torch.expm1(log_prod)


# ----------------------------------------------------------------------------------------------
# How far p_T is from the prior
# ----------------------------------------------------------------------------------------------


def _prior_moments(sde: SDE, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    d = like.shape[0]
    mean = torch.as_tensor(sde.prior_mean(), dtype=like.dtype)
    mean = mean.expand(like.shape) if mean.ndim == 0 else mean.flatten().to(like)
    cov = sde.prior_std() ** 2 * torch.eye(d, dtype=like.dtype)
    return mean, cov


def _diffused_moments(sde: SDE, data: GaussianMixture, t: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(data, GaussianMixture):
        raise TypeError(f"data must be a tp.Gaussian or tp.GaussianMixture, got {type(data).__name__}")
    pt = data.diffuse(sde, sde.T if t is None else t)
    return pt.mean().flatten(), pt.covariance()


def _check_gaussian(data) -> None:
    if not isinstance(data, GaussianMixture) or data.n_components != 1:
        raise ValueError("the exact KL/W2 needs Gaussian data (tp.Gaussian); for a mixture use prior_kl_lower_bound")


def prior_kl(sde: SDE, data: Gaussian) -> torch.Tensor:
    """KL(p_T || p_noise) exactly, for Gaussian data ``N(m, diag(s^2))`` (Tang & Zhao eq. 6.7, exact).

    p_T = N(mu + alpha_T (m - mu), diag(alpha_T^2 s^2 + sigma_T^2)) and p_noise = N(prior_mean,
    prior_std^2 I), so this is :func:`tutorial_pkg.gaussian_kl` of the two.  0-d tensor.
    """
    _check_gaussian(data)
    mean, cov = _diffused_moments(sde, data, None)
    return gaussian_kl(mean, cov, *_prior_moments(sde, mean))


def prior_w2(sde: SDE, data: Gaussian) -> torch.Tensor:
    """W2(p_T, p_noise) exactly, for Gaussian data (the noise term of Tang & Zhao Thm 6.5).  0-d tensor."""
    _check_gaussian(data)
    mean, cov = _diffused_moments(sde, data, None)
    return gaussian_w2(mean, cov, *_prior_moments(sde, mean))


def prior_kl_lower_bound(sde: SDE, data: GaussianMixture) -> torch.Tensor:
    """KL(N(m_T, C_T) || p_noise) <= KL(p_T || p_noise), for any mixture data, e.g. an empirical one.

    m_T, C_T are the exact mean and covariance of p_T.  Because p_noise is Gaussian,
    KL(p_T || p_noise) = KL(p_T || N(m_T, C_T)) + KL(N(m_T, C_T) || p_noise) (E_p[log q] only sees the
    first two moments of p when q is Gaussian), so the second term is a lower bound, with equality
    for Gaussian data.  Use ``GaussianMixture.empirical(x)`` for a point cloud ``x: (N, *D)``.
    """
    mean, cov = _diffused_moments(sde, data, None)
    return gaussian_kl(mean, cov, *_prior_moments(sde, mean))


def contractive_prior_kl_limit(sde: COU | CVP, data: Gaussian) -> torch.Tensor:
    """lim_{T -> inf} KL(p_T || p_noise) for the contractive SDEs (other parameters fixed).

    For COU and CVP the signal-to-noise ratio alpha_T^2 / sigma_T^2 tends to kappa = 2 theta / sigma^2
    (COU) or 1 (CVP) instead of 0, and the stated prior N(0, sigma_T^2 I) has exactly the kernel's
    variance, so for data N(m, diag(s^2))

        KL_inf = 1/2 sum_i [ kappa s_i^2 - log(1 + kappa s_i^2) + kappa (m_i - mu)^2 ]  > 0

    unless the data are a point mass at mu (Claustre 2025 §3.5 and Cor. 5.11: the bias of CDPMs).
    """
    _check_gaussian(data)
    if isinstance(sde, COU):
        kappa = 2 * sde.theta / sde.sigma**2
    elif isinstance(sde, CVP):
        kappa = 1.0
    else:
        raise TypeError(f"only the contractive SDEs COU and CVP have a positive limit; got {type(sde).__name__}")
    m = data.loc.flatten()
    s2 = data.scale.expand_as(data.loc).flatten() ** 2
    mu = torch.as_tensor(sde._mu_like(m), dtype=m.dtype)
    r = kappa * s2
    return 0.5 * (r - torch.log1p(r) + kappa * (m - mu) ** 2).sum()


def gaussian_tv_same_mean(var1, var2, dim: int) -> torch.Tensor:
    """Total variation between N(m, var1 I) and N(m, var2 I) in dimension ``dim``, exactly.

    The densities cross on the sphere |x - m|^2 = r^2 = d v1 v2 log(v2/v1) / (v2 - v1), so
    TV = |F(r^2 / v1) - F(r^2 / v2)| with F the chi-square(d) distribution function (a regularised
    incomplete gamma function).  Broadcasts over ``var1, var2``.
    """
    v1, v2 = _t(var1, var2)
    if bool((v1 <= 0).any()) or bool((v2 <= 0).any()):
        raise ValueError("variances must be positive")
    lo, hi = torch.minimum(v1, v2), torch.maximum(v1, v2)
    ratio = hi / lo
    same = ratio == 1
    ratio = torch.where(same, torch.full_like(ratio, 2.0), ratio)  # placeholder, masked below
    r2_over_hi = dim * torch.log(ratio) / (ratio - 1)  # r^2 / v_hi
    half = torch.tensor(dim / 2, dtype=lo.dtype)
    tv = torch.special.gammainc(half, r2_over_hi * ratio / 2) - torch.special.gammainc(half, r2_over_hi / 2)
    return torch.where(same, torch.zeros_like(tv), tv)
