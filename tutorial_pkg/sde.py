"""Forward SDEs of the course and the generative (reverse-time) family built on them.

Every forward SDE here is linear with a scalar diffusion coefficient,

    dX_t = a(t) (X_t - mu) dt + g(t) dW_t,        X_0 ~ p_data,   t in [0, T],

so the transition kernel is Gaussian (Tang & Zhao 2024, §3; Claustre 2025, §3):

    X_t | X_0 = x  ~  N( mu + alpha(t) (x - mu),  sigma(t)^2 I ).

A subclass is just a constructor plus the four formulas ``drift_coeff`` a(t), ``diffusion`` g(t),
``mean_coeff`` alpha(t) and ``variance`` sigma(t)^2, and the prior p_noise the paper states.
States have shape ``(B, *D)``; times are floats, 0-d tensors or ``(B,)`` tensors.  Time is forward
time throughout: samplers integrate from ``T`` down to a small ``t_min``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .utils import append_dims, as_time, check_positive, randn, sum_except_batch

__all__ = ["SDE", "OU", "VE", "VP", "SubVP", "COU", "CVP", "ReverseSDE", "make_sde", "SDE_NAMES"]

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class SDE:
    """Base class: a linear forward SDE ``dX = a(t)(X - mu) dt + g(t) dW`` on ``[0, T]``."""

    T: float
    mu: float | torch.Tensor = 0.0

    # --- the formulas a subclass provides -------------------------------------------------
    def drift_coeff(self, t: float | torch.Tensor) -> torch.Tensor:
        """a(t), the coefficient of the linear drift f(x, t) = a(t) (x - mu)."""
        raise NotImplementedError

    def diffusion(self, t: float | torch.Tensor) -> torch.Tensor:
        """g(t), the scalar diffusion coefficient."""
        raise NotImplementedError

    def mean_coeff(self, t: float | torch.Tensor) -> torch.Tensor:
        """alpha(t) = exp(int_0^t a(s) ds), so that E[X_t | X_0 = x] = mu + alpha(t)(x - mu)."""
        raise NotImplementedError

    def variance(self, t: float | torch.Tensor) -> torch.Tensor:
        """sigma(t)^2 = int_0^t exp(2 int_s^t a) g(s)^2 ds, the kernel's variance per coordinate."""
        raise NotImplementedError

    def prior_std(self) -> float:
        """Standard deviation of the prior p_noise = N(prior_mean, prior_std^2 I) the paper states."""
        raise NotImplementedError

    def prior_mean(self) -> float | torch.Tensor:
        """Mean of p_noise (zero unless the SDE has a stationary law with mean mu)."""
        return 0.0

    # --- everything else follows ----------------------------------------------------------
    def std(self, t: float | torch.Tensor) -> torch.Tensor:
        """sigma(t), the kernel's standard deviation."""
        return self.variance(t).sqrt()

    def drift(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """f(x, t) = a(t) (x - mu) for ``x: (B, *D)`` and ``t`` a float or ``(B,)``."""
        a = append_dims(self.drift_coeff(as_time(t, x)), x.ndim)
        return a * (x - self._mu_like(x))

    def marginal(self, x0: torch.Tensor, t: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean ``(B, *D)`` and standard deviation (broadcastable) of ``X_t | X_0 = x0``."""
        t = self.check_time(t, like=x0)
        mu = self._mu_like(x0)
        alpha = append_dims(self.mean_coeff(t), x0.ndim)
        return mu + alpha * (x0 - mu), append_dims(self.std(t), x0.ndim)

    def sample_marginal(
        self,
        x0: torch.Tensor,
        t: float | torch.Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``X_t | X_0 = x0`` exactly; returns ``(x_t, noise)`` with x_t = mean + std * noise."""
        mean, std = self.marginal(x0, t)
        noise = randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
        return mean + std * noise, noise

    def prior_sample(
        self,
        shape: tuple[int, ...],
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Draw ``shape = (B, *D)`` samples of the prior p_noise."""
        z = randn(tuple(shape), generator=generator, dtype=dtype, device=device)
        mean = self.prior_mean()
        mean = mean.to(z) if torch.is_tensor(mean) else mean
        return mean + self.prior_std() * z

    def prior_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p_noise(x) summed over the event dimensions: ``(B, *D) -> (B,)``."""
        mean = self.prior_mean()
        mean = mean.to(x) if torch.is_tensor(mean) else mean
        s = self.prior_std()
        z = (x - mean) / s
        return sum_except_batch(-0.5 * z**2 - math.log(s) - 0.5 * math.log(2 * math.pi))

    def reverse(self, score: ScoreFn, h_ratio: float = 1.0) -> ReverseSDE:
        """The generative process with diffusion h(t) = h_ratio * g(t) (Cao et al. 2023, eq. 3).

        ``h_ratio = 1`` is Anderson's reverse SDE; ``h_ratio = 0`` is the probability-flow ODE.
        """
        return ReverseSDE(self, score, h_ratio)

    def probability_flow(self, score: ScoreFn) -> ReverseSDE:
        """The probability-flow ODE (Song et al. 2021, eq. 13): ``reverse(score, h_ratio=0)``."""
        return ReverseSDE(self, score, 0.0)

    def check_time(self, t: float | torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        """Return ``t`` as a tensor, raising ``ValueError`` if any time lies outside ``[0, T]``."""
        t = as_time(t, like)
        tol = 1e-6 * max(1.0, self.T)
        if t.numel() and bool(((t < -tol) | (t > self.T + tol)).any()):
            raise ValueError(
                f"time outside [0, T] = [0, {self.T:g}] for {type(self).__name__}: "
                f"got values in [{t.min().item():g}, {t.max().item():g}]"
            )
        return t

    def _mu_like(self, x: torch.Tensor) -> float | torch.Tensor:
        return self.mu.to(x) if torch.is_tensor(self.mu) else self.mu

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class ReverseSDE:
    """The generative family with free diffusion h (Cao et al. 2023, eq. 3; Song et al. 2021).

    Written in forward time ``t`` and integrated from ``T`` down to ``t_min`` (``dt < 0``):

        dX = [ f(X, t) - (g(t)^2 + h(t)^2) / 2 * score(X, t) ] dt + h(t) dW_bar,   h = h_ratio * g.

    Started from p_T with the exact score, every member has the marginals p_t of the forward SDE.
    ``h_ratio = 1`` gives Anderson's reverse SDE, ``h_ratio = 0`` the probability-flow ODE.
    """

    def __init__(self, sde: SDE, score: ScoreFn, h_ratio: float = 1.0):
        if not callable(score):
            raise TypeError("score must be a callable score(x, t) -> tensor shaped like x")
        if not float(h_ratio) >= 0:
            raise ValueError(f"h_ratio must be >= 0, got {h_ratio!r}")
        self.sde, self.score, self.h_ratio = sde, score, float(h_ratio)
        self.T = sde.T

    def drift(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        t = as_time(t, x)
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        g2 = append_dims(self.sde.diffusion(t) ** 2, x.ndim)
        s = self.score(x, t)
        if s.shape != x.shape:
            raise ValueError(f"score returned shape {tuple(s.shape)}, expected {tuple(x.shape)}")
        return self.sde.drift(x, t) - 0.5 * (1.0 + self.h_ratio**2) * g2 * s

    def diffusion(self, t: float | torch.Tensor) -> torch.Tensor:
        return self.h_ratio * self.sde.diffusion(t)


# --------------------------------------------------------------------------------------------
# The zoo.  Each is a constructor plus formulas.
# --------------------------------------------------------------------------------------------


def _check_T(T: float) -> float:
    check_positive(T=T)
    return float(T)


class OU(SDE):
    """Ornstein–Uhlenbeck: f = theta (mu - x), g = sigma (Tang & Zhao §3.1, eq. 3.1).

    Kernel N(mu + (x - mu) e^{-theta t}, sigma^2 / (2 theta) (1 - e^{-2 theta t}) I); the prior is
    the stationary law N(mu, sigma^2 / (2 theta) I).
    """

    def __init__(self, theta: float = 2.0, sigma: float = 2.0, mu: float = 0.0, T: float = 1.0):
        check_positive(theta=theta, sigma=sigma)
        self.theta, self.sigma, self.mu, self.T = float(theta), float(sigma), mu, _check_T(T)

    def drift_coeff(self, t):
        return torch.full_like(as_time(t), -self.theta)

    def diffusion(self, t):
        return torch.full_like(as_time(t), self.sigma)

    def mean_coeff(self, t):
        return torch.exp(-self.theta * as_time(t))

    def variance(self, t):
        return self.sigma**2 / (2 * self.theta) * -torch.expm1(-2 * self.theta * as_time(t))

    def prior_mean(self):
        return self.mu

    def prior_std(self):
        return self.sigma / math.sqrt(2 * self.theta)


class VE(SDE):
    """Variance exploding, geometric schedule (Song et al. 2021; Tang & Zhao eq. 3.5–3.6).

    sigma_VE(t) = sigma_min (sigma_max / sigma_min)^{t/T}, f = 0, g = sqrt(d sigma_VE^2 / dt);
    kernel variance sigma_min^2 ((sigma_max/sigma_min)^{2t/T} - 1); prior N(0, (s_max^2 - s_min^2) I).
    """

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 10.0, T: float = 1.0):
        check_positive(sigma_min=sigma_min, sigma_max=sigma_max)
        if sigma_max <= sigma_min:
            raise ValueError(f"need sigma_max > sigma_min, got {sigma_max} <= {sigma_min}")
        self.sigma_min, self.sigma_max, self.T = float(sigma_min), float(sigma_max), _check_T(T)

    @property
    def _log_ratio(self) -> float:
        return math.log(self.sigma_max / self.sigma_min)

    def drift_coeff(self, t):
        return torch.zeros_like(as_time(t))

    def diffusion(self, t):
        t = as_time(t)
        noise_level = self.sigma_min * torch.exp(t / self.T * self._log_ratio)
        return noise_level * math.sqrt(2 * self._log_ratio / self.T)

    def mean_coeff(self, t):
        return torch.ones_like(as_time(t))

    def variance(self, t):
        return self.sigma_min**2 * torch.expm1(2 * as_time(t) / self.T * self._log_ratio)

    def prior_std(self):
        return math.sqrt(self.sigma_max**2 - self.sigma_min**2)


class _LinearBeta(SDE):
    """Shared schedule of VP, sub-VP and CVP: beta(t) = b_min + t/T (b_max - b_min)."""

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, T: float = 1.0):
        check_positive(beta_min=beta_min, beta_max=beta_max)
        if beta_max < beta_min:
            raise ValueError(f"need beta_max >= beta_min, got {beta_max} < {beta_min}")
        self.beta_min, self.beta_max, self.T = float(beta_min), float(beta_max), _check_T(T)

    def beta(self, t: float | torch.Tensor) -> torch.Tensor:
        """beta(t) = beta_min + t / T (beta_max - beta_min) (Tang & Zhao eq. 3.9)."""
        return self.beta_min + as_time(t) / self.T * (self.beta_max - self.beta_min)

    def beta_integral(self, t: float | torch.Tensor) -> torch.Tensor:
        """B(t) = int_0^t beta = beta_min t + (beta_max - beta_min) t^2 / (2T)."""
        t = as_time(t)
        return self.beta_min * t + (self.beta_max - self.beta_min) * t**2 / (2 * self.T)


class VP(_LinearBeta):
    """Variance preserving, the continuum limit of DDPM (Tang & Zhao eq. 3.8–3.10).

    f = -beta x / 2, g = sqrt(beta); kernel N(e^{-B/2} x, (1 - e^{-B}) I); prior N(0, I).
    """

    def drift_coeff(self, t):
        return -0.5 * self.beta(t)

    def diffusion(self, t):
        return self.beta(t).sqrt()

    def mean_coeff(self, t):
        return torch.exp(-0.5 * self.beta_integral(t))

    def variance(self, t):
        return -torch.expm1(-self.beta_integral(t))

    def prior_std(self):
        return 1.0


class SubVP(_LinearBeta):
    """Sub-variance preserving (Song et al. 2021; Tang & Zhao eq. 3.12–3.13).

    f = -beta x / 2, g = sqrt(beta (1 - e^{-2B})); kernel N(e^{-B/2} x, (1 - e^{-B})^2 I); prior N(0, I).
    """

    def drift_coeff(self, t):
        return -0.5 * self.beta(t)

    def diffusion(self, t):
        return (self.beta(t) * -torch.expm1(-2 * self.beta_integral(t))).sqrt()

    def mean_coeff(self, t):
        return torch.exp(-0.5 * self.beta_integral(t))

    def variance(self, t):
        return torch.expm1(-self.beta_integral(t)) ** 2

    def prior_std(self):
        return 1.0


class CVP(_LinearBeta):
    """Contractive VP (Claustre 2025 §3.5; Tang & Zhao eq. 3.16–3.17, reconstructed).

    f = +beta x / 2, g = sqrt(beta); kernel N(e^{B/2} x, (e^{B} - 1) I); prior N(0, (e^{B(T)} - 1) I).
    The forward process expands, so its reverse contracts; the prior ignores the data mean.
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 4.0, T: float = 1.0):
        super().__init__(beta_min, beta_max, T)

    def drift_coeff(self, t):
        return 0.5 * self.beta(t)

    def diffusion(self, t):
        return self.beta(t).sqrt()

    def mean_coeff(self, t):
        return torch.exp(0.5 * self.beta_integral(t))

    def variance(self, t):
        return torch.expm1(self.beta_integral(t))

    def prior_std(self):
        return math.sqrt(math.expm1(self.T / 2 * (self.beta_min + self.beta_max)))


class COU(SDE):
    """Contractive Ornstein–Uhlenbeck (Claustre 2025 §3.5): f = theta (x - mu), g = sigma.

    Kernel N(mu + (x - mu) e^{theta t}, sigma^2 / (2 theta) (e^{2 theta t} - 1) I); the stated prior
    is N(0, sigma^2 / (2 theta) (e^{2 theta T} - 1) I), which ignores where the data sit.
    """

    def __init__(self, theta: float = 1.0, sigma: float = 1.0, mu: float = 0.0, T: float = 1.0):
        check_positive(theta=theta, sigma=sigma)
        self.theta, self.sigma, self.mu, self.T = float(theta), float(sigma), mu, _check_T(T)

    def drift_coeff(self, t):
        return torch.full_like(as_time(t), self.theta)

    def diffusion(self, t):
        return torch.full_like(as_time(t), self.sigma)

    def mean_coeff(self, t):
        return torch.exp(self.theta * as_time(t))

    def variance(self, t):
        return self.sigma**2 / (2 * self.theta) * torch.expm1(2 * self.theta * as_time(t))

    def prior_std(self):
        return self.sigma * math.sqrt(math.expm1(2 * self.theta * self.T) / (2 * self.theta))


SDE_NAMES: dict[str, type[SDE]] = {
    "ou": OU,
    "ve": VE,
    "vp": VP,
    "subvp": SubVP,
    "cou": COU,
    "cvp": CVP,
}


def make_sde(name: str, **kwargs) -> SDE:
    """Build a forward SDE by name (case-insensitive): ``ou, ve, vp, subvp, cou, cvp``."""
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in SDE_NAMES:
        raise ValueError(f"unknown SDE {name!r}; choose one of {', '.join(SDE_NAMES)}")
    return SDE_NAMES[key](**kwargs)
