"""Exact laws of the generative family for Gaussian data: what a sampler with the exact score must return.

Take Gaussian data ``N(m, diag(s^2))`` and a linear forward SDE of :mod:`tutorial_pkg.sde`, so that
p_t = N(m_t, diag(v_t)) with m_t = mu + alpha_t (m - mu) and v_t = alpha_t^2 s^2 + sigma_t^2 (one
variance per coordinate).  With the exact score s(x, t) = -(x - m_t) / v_t the generative family
(Cao et al. 2023, eq. 3; ``sde.reverse(score, h_ratio)``), run from ``T`` down to ``t_min``,

    dX = [ a(t)(X - mu) - (1 + h^2)/2 g(t)^2 s(X, t) ] dt + h g(t) dW_bar,        h = h_ratio,

is *linear*, so everything about it is Gaussian and known in closed form.  Write D_t = X_t - m_t for
the deviation from the exact mean.  It obeys dD = b(t) D dt + h g dW_bar with
b = a + (1 + h^2) g^2 / (2 v_t), and because v_t' = 2 a v_t + g^2 (Itô), b = (1 + h^2)/2 (log v)' - h^2 (log alpha)'.
Hence, integrating backwards from t to s <= t,

    D_s = Phi_h(s, t) D_t + (independent Gaussian noise),
    Phi_h(s, t) = (v_s / v_t)^{(1 + h^2)/2} (alpha_t / alpha_s)^{h^2} = sqrt(v_s / v_t) rho(s, t)^{h^2},

where rho(s, t) = (alpha_t / alpha_s) sqrt(v_s / v_t) is the correlation of X_s and X_t under the
forward SDE.  Consequences, each a function below:

* :func:`contraction` — Phi_h itself: the factor by which an error in the starting mean (or, squared,
  in the starting variance) survives to the output.  It is how starting from p_noise instead of p_T
  costs (:func:`generative_gaussian_law`); the reverse SDE (h = 1) contracts more than the ODE by the
  factor rho(t_min, T).
* :func:`path_covariance` — Cov(X_s, X_t) along the family started from p_T:
  sqrt(v_s v_t) rho(s, t)^{h^2}.  Same marginals for every h, different paths: correlation 1 for the
  probability-flow ODE (h = 0), rho for the reverse SDE (h = 1, the forward path law reversed).
* :func:`gaussian_moment_odes` solves the moment ODEs numerically (scipy, through
  :func:`~tutorial_pkg.solve_ivp_torch`) as an independent check of the closed forms.

The discretised samplers have their exact laws in :mod:`tutorial_pkg.exact.samplers`.  Shapes: data of event
shape ``(d,)``; means and variances are ``(d,)`` tensors, covariances ``(d, d)``; times are floats.
Everything is computed in the data's dtype (use float64).
"""

from __future__ import annotations

import torch

from ..distributions import Gaussian, GaussianMixture
from ..samplers.ode import solve_ivp_torch
from ..sde import SDE, check_sde
from ..utils import as_time

__all__ = [
    "gaussian_marginal",
    "contraction",
    "forward_correlation",
    "path_covariance",
    "generative_gaussian_law",
    "gaussian_moment_odes",
    "check_gaussian_data",
]


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def check_gaussian_data(data) -> None:
    """Raise ``ValueError`` unless ``data`` is a :class:`~tutorial_pkg.Gaussian` (one component) with a flat
    event shape ``(d,)``: what the closed forms of this tier need."""
    if not isinstance(data, GaussianMixture) or data.n_components != 1 or data.batched:
        raise ValueError("these closed forms need Gaussian data: pass a tp.Gaussian(mean, std)")
    if data.means.ndim != 2:
        raise ValueError(f"data must have a flat event shape (d,), got {tuple(data.event_shape)}")


def _check_times(sde: SDE, *times: float) -> list[float]:
    check_sde(sde)
    return [float(sde.check_time(float(t))) for t in times]


def gaussian_marginal(sde: SDE, data: Gaussian, t: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean m_t ``(d,)`` and per-coordinate variance v_t ``(d,)`` of p_t for Gaussian data.

    m_t = mu + alpha_t (m - mu), v_t = alpha_t^2 s^2 + sigma_t^2 (``data.diffuse(sde, t)``).
    """
    check_gaussian_data(data)
    (t,) = _check_times(sde, t)
    pt = data.diffuse(sde, t)
    return pt.loc.clone(), (pt.scale.expand_as(pt.loc) ** 2).clone()


def _alpha(sde: SDE, t: float, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(sde.mean_coeff(as_time(t, like)), dtype=like.dtype)


# ----------------------------------------------------------------------------------------------
# closed forms
# ----------------------------------------------------------------------------------------------


def forward_correlation(sde: SDE, data: Gaussian, s: float, t: float) -> torch.Tensor:
    """Corr(X_s, X_t) per coordinate under the forward SDE: (alpha_t / alpha_s) sqrt(v_s / v_t), s <= t.

    (X_t - mu = (alpha_t / alpha_s)(X_s - mu) + independent noise.)  Symmetric in ``s, t``.  ``(d,)``.
    """
    s, t = sorted(_check_times(sde, s, t))
    _, v_s = gaussian_marginal(sde, data, s)
    _, v_t = gaussian_marginal(sde, data, t)
    return _alpha(sde, t, v_s) / _alpha(sde, s, v_s) * torch.sqrt(v_s / v_t)


def contraction(sde: SDE, data: Gaussian, s: float, t: float, h_ratio: float = 1.0) -> torch.Tensor:
    """Phi_h(s, t) = sqrt(v_s / v_t) rho(s, t)^{h^2}, for s <= t: how the generative family, run from t
    down to s with the exact score, maps deviations from the exact mean, D_s = Phi_h D_t + noise.

    ``h_ratio = 0`` (probability-flow ODE) gives sqrt(v_s / v_t); ``h_ratio = 1`` (reverse SDE) gives
    (v_s / v_t)(alpha_t / alpha_s).  Returns ``(d,)``.
    """
    if not float(h_ratio) >= 0:
        raise ValueError(f"h_ratio must be >= 0, got {h_ratio!r}")
    s, t = _check_times(sde, s, t)
    if s > t:
        raise ValueError(f"need s <= t (the family runs from t down to s), got s={s}, t={t}")
    _, v_s = gaussian_marginal(sde, data, s)
    _, v_t = gaussian_marginal(sde, data, t)
    return torch.sqrt(v_s / v_t) * forward_correlation(sde, data, s, t) ** (float(h_ratio) ** 2)


def path_covariance(sde: SDE, data: Gaussian, s: float, t: float, h_ratio: float = 1.0) -> torch.Tensor:
    """Cov(X_s, X_t) per coordinate along the generative family started from p_T with the exact score.

    Equals sqrt(v_s v_t) rho(s, t)^{h^2}: every h has the marginals p_t (the diagonal s = t gives v_t),
    but the probability-flow ODE (h = 0) moves each point deterministically (correlation 1) while the
    reverse SDE (h = 1) has the forward process's correlation rho(s, t).  Symmetric in ``s, t``.  ``(d,)``.
    """
    s, t = sorted(_check_times(sde, s, t))
    _, v_t = gaussian_marginal(sde, data, t)
    return contraction(sde, data, s, t, h_ratio) * v_t


def _as_init(init_mean, init_cov, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    d = like.shape[0]
    mean = torch.as_tensor(init_mean, dtype=like.dtype).expand(d).clone()
    cov = torch.as_tensor(init_cov, dtype=like.dtype)
    if cov.ndim == 0:
        cov = cov * torch.eye(d, dtype=like.dtype)
    elif cov.ndim == 1:
        cov = torch.diag(cov.expand(d))
    if cov.shape != (d, d):
        raise ValueError(f"init_cov must be a number, a (d,) variance or a (d, d) covariance; got {tuple(cov.shape)}")
    return mean, cov


def generative_gaussian_law(
    sde: SDE,
    data: Gaussian,
    *,
    init_mean: float | torch.Tensor | None = None,
    init_cov: float | torch.Tensor | None = None,
    t_min: float = 0.0,
    h_ratio: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact law N(mean, cov) at ``t_min`` of the generative family started at T from N(init_mean, init_cov).

    The score is exact (Gaussian data), only the starting law may be wrong.  By default the start is
    the prior p_noise = N(prior_mean, prior_std^2 I) the sampler would use.  With Phi = Phi_h(t_min, T):

        mean = m_{t_min} + Phi (init_mean - m_T),
        cov  = diag(v_{t_min}) + diag(Phi) (init_cov - diag(v_T)) diag(Phi),

    so starting from p_T (init = m_T, diag(v_T)) returns p_{t_min} exactly, for every h (Anderson 1982;
    Cao et al. 2023), and the cost of starting from p_noise is the prior error shrunk by Phi.
    ``init_cov``: a number, ``(d,)`` variances or a ``(d, d)`` matrix.  Returns ``(d,)`` and ``(d, d)``.
    """
    check_gaussian_data(data)
    (t_min,) = _check_times(sde, t_min)
    T = float(sde.T)
    m_T, v_T = gaussian_marginal(sde, data, T)
    m_0, v_0 = gaussian_marginal(sde, data, t_min)
    if init_mean is None:
        pm = sde.prior_mean()
        init_mean = pm.flatten() if torch.is_tensor(pm) else pm
    if init_cov is None:
        init_cov = sde.prior_std() ** 2
    mean0, cov0 = _as_init(init_mean, init_cov, m_T)
    phi = contraction(sde, data, t_min, T, h_ratio)
    mean = m_0 + phi * (mean0 - m_T)
    cov = torch.diag(v_0) + phi[:, None] * (cov0 - torch.diag(v_T)) * phi[None, :]
    return mean, cov


def gaussian_moment_odes(
    sde: SDE,
    data: Gaussian,
    *,
    init_mean: float | torch.Tensor,
    init_var: float | torch.Tensor,
    t_min: float = 0.0,
    h_ratio: float = 1.0,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance ``(d,)`` at ``t_min`` by solving the moment ODEs numerically (``solve_ivp``).

    For the linear generative family, in forward time t running from T down to t_min,

        dM/dt = a (M - mu) + c (M - m_t),        dV/dt = 2 (a + c) V - h^2 g^2,        c = (1 + h^2) g^2 / (2 v_t),

    with M(T) = init_mean, V(T) = init_var (per coordinate).  An independent check of
    :func:`generative_gaussian_law`, which gives the same numbers in closed form.
    """
    check_gaussian_data(data)
    (t_min,) = _check_times(sde, t_min)
    T = float(sde.T)
    dtype = data.dtype
    data = data.to(torch.float64)  # a numerical check: solved in float64 whatever the data's dtype
    like = data.loc
    d = like.shape[0]
    mean0, cov0 = _as_init(init_mean, torch.as_tensor(init_var, dtype=like.dtype).expand(d), like)
    mu = torch.as_tensor(sde._mu_like(like), dtype=like.dtype).expand(d)
    h2 = float(h_ratio) ** 2

    def rhs(y: torch.Tensor, t: float) -> torch.Tensor:
        a, g2 = sde.drift_coeff(t).to(like), sde.diffusion(t).to(like) ** 2
        m_t, v_t = gaussian_marginal(sde, data, min(max(t, 0.0), T))
        M, V = y[:d], y[d:]
        c = (1 + h2) * g2 / (2 * v_t)
        return torch.cat([a * (M - mu) + c * (M - m_t), 2 * (a + c) * V - h2 * g2])

    y0 = torch.cat([mean0, cov0.diagonal()])
    y = solve_ivp_torch(rhs, y0, (T, t_min), method="DOP853", rtol=rtol, atol=atol)
    return y[:d].to(dtype), y[d:].to(dtype)
