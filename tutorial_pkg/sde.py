"""Forward SDEs of the course and the generative (reverse-time) family built on them.

Every forward SDE here is linear with a scalar diffusion coefficient,

    dX_t = a(t) (X_t - mu) dt + g(t) dW_t,        X_0 ~ p_data,   t in [0, T],

so the transition kernel is Gaussian (Tang & Zhao 2024, §3; Claustre 2025, §3):

    X_t | X_0 = x  ~  N( mu + alpha(t) (x - mu),  sigma(t)^2 I ).

States have shape ``(B, *D)``; times are floats, 0-d tensors or ``(B,)`` tensors.  Time is forward time
throughout: samplers integrate from ``T`` down to a small ``t_min``.

**Writing a new SDE.**  A subclass sets ``T`` (and ``mu`` if not 0) in its constructor and gives the four
formulas as methods of a time tensor ``t`` already checked to lie in ``[0, T]``:

* ``_drift_coeff(t)`` a(t), ``_diffusion(t)`` g(t),
* ``_mean_coeff(t)`` alpha(t) = exp(int_0^t a), ``_variance(t)`` sigma(t)^2 = int_0^t exp(2 int_s^t a) g(s)^2 ds,

and ``prior_std()`` (and ``prior_mean()`` if not 0), the prior p_noise = N(prior_mean, prior_std^2 I) it states.
Everything else (kernels, prior sampling and log-density, the noise-to-signal ratio and its inverse, the
reverse family) is written once here.  :func:`check_contract` verifies the formulas against each other
numerically (alpha(0) = 1, sigma(0) = 0, alpha' = a alpha, (sigma^2)' = 2 a sigma^2 + g^2, nu increasing), as
torchsde checks an SDE before solving it; :func:`tutorial_pkg.sample` and :func:`tutorial_pkg.train` call it.

**The VE convention.**  The variance-exploding kernel here has std sqrt(sigma_VE(t)^2 - sigma_min^2), the exact
solution of dX = g dW from X_0 = x; Song et al. (2021) write sigma_VE(t) itself, which is that plus a
sigma_min^2 of extra noise at t = 0.  The two agree up to O(sigma_min).
"""

from __future__ import annotations

import inspect
import math
import numbers

import torch

from .utils import ScoreFn, append_dims, as_time, batch_time, check_keywords, check_positive, randn, sum_except_batch

__all__ = [
    "SDE",
    "OU",
    "VE",
    "VP",
    "SubVP",
    "COU",
    "CVP",
    "Brownian",
    "ReverseSDE",
    "make_sde",
    "check_sde",
    "check_contract",
    "sde_parameters",
    "SDE_NAMES",
]


class SDE:
    """Base class: a linear forward SDE ``dX = a(t)(X - mu) dt + g(t) dW`` on ``[0, T]`` (see the module doc)."""

    T: float
    mu: float | torch.Tensor = 0.0

    # --- the formulas a subclass provides, on a checked time tensor ---------------------------
    def _drift_coeff(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define _drift_coeff(t), the a(t) of f = a(t)(x - mu)")

    def _diffusion(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define _diffusion(t), the g(t)")

    def _mean_coeff(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define _mean_coeff(t), alpha(t) = exp(int_0^t a)")

    def _variance(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define _variance(t), the kernel's sigma(t)^2")

    def prior_std(self) -> float:
        """Standard deviation of the prior p_noise = N(prior_mean, prior_std^2 I) the paper states."""
        raise NotImplementedError(f"{type(self).__name__} must define prior_std()")

    def prior_mean(self) -> float | torch.Tensor:
        """Mean of p_noise (zero unless the SDE has a stationary law with mean mu)."""
        return 0.0

    # --- the coefficients, with the time checked ---------------------------------------------
    def drift_coeff(self, t: float | torch.Tensor) -> torch.Tensor:
        """a(t), the coefficient of the linear drift f(x, t) = a(t) (x - mu); ``t`` in ``[0, T]``, same shape out."""
        return self._at(self._drift_coeff, self.check_time(t))

    def diffusion(self, t: float | torch.Tensor) -> torch.Tensor:
        """g(t), the scalar diffusion coefficient."""
        return self._at(self._diffusion, self.check_time(t))

    def mean_coeff(self, t: float | torch.Tensor) -> torch.Tensor:
        """alpha(t) = exp(int_0^t a(s) ds), so that E[X_t | X_0 = x] = mu + alpha(t)(x - mu)."""
        return self._at(self._mean_coeff, self.check_time(t))

    def variance(self, t: float | torch.Tensor) -> torch.Tensor:
        """sigma(t)^2 = int_0^t exp(2 int_s^t a) g(s)^2 ds, the kernel's variance per coordinate."""
        return self._at(self._variance, self.check_time(t))

    @staticmethod
    def _at(formula, t: torch.Tensor) -> torch.Tensor:
        """``formula`` at a time tensor already checked, with the time's shape (the package's inner loops call
        this after checking their grid once, instead of checking the same times at every step)."""
        return torch.broadcast_to(formula(t), t.shape)

    def std(self, t: float | torch.Tensor) -> torch.Tensor:
        """sigma(t), the kernel's standard deviation."""
        return self.variance(t).sqrt()

    def noise_to_signal(self, t: float | torch.Tensor) -> torch.Tensor:
        """nu(t) = sigma(t) / alpha(t), increasing from nu(0) = 0.

        In y = (x - mu)/alpha every linear SDE becomes dy = d(nu^2)^{1/2} dW (a variance-exploding SDE with
        noise level nu): this is the sigma of Karras et al. (2022) and of libraries that index noise by sigma.
        """
        return self.std(t) / self.mean_coeff(t)

    def time_at_noise_to_signal(self, nu: float | torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`noise_to_signal`: the time t in ``[0, T]`` with nu(t) = ``nu`` (any shape).

        Bisection to float64 precision (nu is increasing, :func:`check_contract`); use it to run on another
        library's sigma grid.  ``nu`` must lie in ``[0, nu(T)]``.
        """
        nu = torch.as_tensor(nu, dtype=torch.float64)
        nu_max = float(self.noise_to_signal(torch.tensor(self.T, dtype=torch.float64)))
        if not bool(torch.isfinite(nu).all()) or bool((nu < 0).any()) or bool((nu > nu_max * (1 + 1e-12)).any()):
            raise ValueError(
                f"nu must lie in [0, nu(T)] = [0, {nu_max:.6g}] for {type(self).__name__}, "
                f"got values in [{float(nu.min()):.6g}, {float(nu.max()):.6g}]"
            )
        lo, hi = torch.zeros_like(nu), torch.full_like(nu, float(self.T))
        for _ in range(64):  # bisection to machine precision on [0, T]
            mid = 0.5 * (lo + hi)
            above = self.noise_to_signal(mid) > nu
            hi, lo = torch.where(above, mid, hi), torch.where(above, lo, mid)
        return 0.5 * (lo + hi)

    # --- everything else follows ----------------------------------------------------------
    def drift(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """f(x, t) = a(t) (x - mu) for ``x: (B, *D)`` and ``t`` a float or ``(B,)``."""
        return self._drift(x, batch_time(self.check_time(t, like=x), x))

    def _drift(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """f(x, t) at checked times ``t: (B,)``."""
        return append_dims(self._at(self._drift_coeff, t), x.ndim) * (x - self._mu_like(x))

    def _drift_and_diffusion(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The Euler–Maruyama step's coefficients at checked times ``t: (B,)`` (the grid is checked once)."""
        return self._drift(x, t), self._at(self._diffusion, t)

    def marginal(self, x0: torch.Tensor, t: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean ``(B, *D)`` and standard deviation (broadcastable) of ``X_t | X_0 = x0``; ``t`` a float or ``(B,)``."""
        if not torch.is_tensor(x0) or x0.ndim < 2 or not x0.is_floating_point():
            raise ValueError(f"x0 must be a floating tensor of shape (B, *D), got {getattr(x0, 'shape', type(x0))}")
        t = as_time(t, x0)
        if t.ndim:
            t = batch_time(t, x0)
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
        """The probability-flow ODE (Song et al. 2021, eq. 13): ``reverse(score, h_ratio=0)``, whose
        ``drift(x, t)`` is the field F = f - g^2/2 score."""
        return ReverseSDE(self, score, 0.0)

    def check_time(self, t: float | torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        """Return ``t`` as a tensor, raising ``ValueError`` if any time is NaN or lies outside ``[0, T]``."""
        t = as_time(t, like)
        tol = 1e-6 * max(1.0, self.T)
        if t.ndim == 0 or (t.ndim == 1 and t.numel() and t.stride(0) == 0):  # one time (perhaps expanded)
            lo = hi = float(t.detach().reshape(-1)[0]) if t.numel() else 0.0
        elif t.numel():
            lo, hi = (float(v) for v in torch.aminmax(t.detach()))
        else:
            lo = hi = 0.0
        if not (-tol <= lo and hi <= self.T + tol):  # NaN fails both comparisons
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
        check_sde(sde)
        if not callable(score):
            raise TypeError("score must be a callable score(x, t) -> tensor shaped like x")
        if isinstance(h_ratio, bool) or not isinstance(h_ratio, numbers.Real) or not float(h_ratio) >= 0:
            raise ValueError(f"h_ratio must be a number >= 0, got {h_ratio!r}")
        self.sde, self.score, self.h_ratio = sde, score, float(h_ratio)
        self.T = sde.T

    def drift(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """The drift f - (1 + h_ratio^2)/2 g^2 score at ``x: (B, *D)``, ``t`` a float or ``(B,)``."""
        return self._drift(x, batch_time(self.sde.check_time(t, like=x), x))

    def diffusion(self, t: float | torch.Tensor) -> torch.Tensor:
        """h(t) = h_ratio * g(t)."""
        return self.h_ratio * self.sde.diffusion(t)

    def _drift(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        sde = self.sde
        g2 = append_dims(sde._at(sde._diffusion, t) ** 2, x.ndim)
        s = self.score(x, t)
        if not torch.is_tensor(s) or s.shape != x.shape:
            raise ValueError(f"score returned shape {tuple(getattr(s, 'shape', ()))}, expected {tuple(x.shape)}")
        return sde._drift(x, t) - 0.5 * (1.0 + self.h_ratio**2) * g2 * s

    def _drift_and_diffusion(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The Euler–Maruyama step's coefficients at checked times ``t: (B,)``."""
        return self._drift(x, t), self.h_ratio * self.sde._at(self.sde._diffusion, t)


# --------------------------------------------------------------------------------------------
# The zoo.  Each is a constructor plus formulas.
# --------------------------------------------------------------------------------------------


def _check_T(T: float) -> float:
    check_positive(T=T)
    return float(T)


def _check_mu(mu):
    if torch.is_tensor(mu):
        if not mu.is_floating_point() or not bool(torch.isfinite(mu).all()):
            raise ValueError(f"mu must be a finite floating tensor, got {mu!r}")
        return mu
    if isinstance(mu, bool) or not isinstance(mu, numbers.Real) or not math.isfinite(float(mu)):
        raise ValueError(f"mu must be a finite number or tensor, got {mu!r}")
    return float(mu)


class OU(SDE):
    """Ornstein–Uhlenbeck: f = theta (mu - x), g = sigma (Tang & Zhao §3.1, eq. 3.1).

    Kernel N(mu + (x - mu) e^{-theta t}, sigma^2 / (2 theta) (1 - e^{-2 theta t}) I); the prior is
    the stationary law N(mu, sigma^2 / (2 theta) I).
    """

    def __init__(self, theta: float = 2.0, sigma: float = 2.0, mu: float = 0.0, T: float = 1.0):
        check_positive(theta=theta, sigma=sigma)
        self.theta, self.sigma, self.mu, self.T = float(theta), float(sigma), _check_mu(mu), _check_T(T)

    def _drift_coeff(self, t):
        return torch.full_like(t, -self.theta)

    def _diffusion(self, t):
        return torch.full_like(t, self.sigma)

    def _mean_coeff(self, t):
        return torch.exp(-self.theta * t)

    def _variance(self, t):
        return self.sigma**2 / (2 * self.theta) * -torch.expm1(-2 * self.theta * t)

    def prior_mean(self):
        return self.mu

    def prior_std(self):
        return self.sigma / math.sqrt(2 * self.theta)


class VE(SDE):
    """Variance exploding, geometric schedule (Song et al. 2021; Tang & Zhao eq. 3.5–3.6).

    sigma_VE(t) = sigma_min (sigma_max / sigma_min)^{t/T}, f = 0, g = sqrt(d sigma_VE^2 / dt).  The kernel's
    variance is sigma_VE(t)^2 - sigma_min^2 = sigma_min^2 ((sigma_max/sigma_min)^{2t/T} - 1), zero at t = 0
    (Song et al. write sigma_VE(t) itself: see the module doc); prior N(0, (s_max^2 - s_min^2) I).
    """

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 10.0, T: float = 1.0):
        check_positive(sigma_min=sigma_min, sigma_max=sigma_max)
        if sigma_max <= sigma_min:
            raise ValueError(f"need sigma_max > sigma_min, got {sigma_max} <= {sigma_min}")
        self.sigma_min, self.sigma_max, self.T = float(sigma_min), float(sigma_max), _check_T(T)

    @property
    def _log_ratio(self) -> float:
        return math.log(self.sigma_max / self.sigma_min)

    def _drift_coeff(self, t):
        return torch.zeros_like(t)

    def _diffusion(self, t):
        noise_level = self.sigma_min * torch.exp(t / self.T * self._log_ratio)
        return noise_level * math.sqrt(2 * self._log_ratio / self.T)

    def _mean_coeff(self, t):
        return torch.ones_like(t)

    def _variance(self, t):
        return self.sigma_min**2 * torch.expm1(2 * t / self.T * self._log_ratio)

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
        return self._beta(self.check_time(t))

    def beta_integral(self, t: float | torch.Tensor) -> torch.Tensor:
        """B(t) = int_0^t beta = beta_min t + (beta_max - beta_min) t^2 / (2T)."""
        return self._beta_integral(self.check_time(t))

    def _beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min + t / self.T * (self.beta_max - self.beta_min)

    def _beta_integral(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min * t + (self.beta_max - self.beta_min) * t**2 / (2 * self.T)


class VP(_LinearBeta):
    """Variance preserving, the continuum limit of DDPM (Tang & Zhao eq. 3.8–3.10).

    f = -beta x / 2, g = sqrt(beta); kernel N(e^{-B/2} x, (1 - e^{-B}) I); prior N(0, I).
    """

    def _drift_coeff(self, t):
        return -0.5 * self._beta(t)

    def _diffusion(self, t):
        return self._beta(t).sqrt()

    def _mean_coeff(self, t):
        return torch.exp(-0.5 * self._beta_integral(t))

    def _variance(self, t):
        return -torch.expm1(-self._beta_integral(t))

    def prior_std(self):
        return 1.0


class SubVP(_LinearBeta):
    """Sub-variance preserving (Song et al. 2021; Tang & Zhao eq. 3.12–3.13).

    f = -beta x / 2, g = sqrt(beta (1 - e^{-2B})); kernel N(e^{-B/2} x, (1 - e^{-B})^2 I); prior N(0, I).
    """

    def _drift_coeff(self, t):
        return -0.5 * self._beta(t)

    def _diffusion(self, t):
        return (self._beta(t) * -torch.expm1(-2 * self._beta_integral(t))).sqrt()

    def _mean_coeff(self, t):
        return torch.exp(-0.5 * self._beta_integral(t))

    def _variance(self, t):
        return torch.expm1(-self._beta_integral(t)) ** 2

    def prior_std(self):
        return 1.0


class CVP(_LinearBeta):
    """Contractive VP (Claustre 2025 §3.5; Tang & Zhao eq. 3.16–3.17, reconstructed).

    f = +beta x / 2, g = sqrt(beta); kernel N(e^{B/2} x, (e^{B} - 1) I); prior N(0, (e^{B(T)} - 1) I).
    The forward process expands, so its reverse contracts; the prior ignores the data mean.
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 4.0, T: float = 1.0):
        super().__init__(beta_min, beta_max, T)

    def _drift_coeff(self, t):
        return 0.5 * self._beta(t)

    def _diffusion(self, t):
        return self._beta(t).sqrt()

    def _mean_coeff(self, t):
        return torch.exp(0.5 * self._beta_integral(t))

    def _variance(self, t):
        return torch.expm1(self._beta_integral(t))

    def prior_std(self):
        return math.sqrt(math.expm1(self.T / 2 * (self.beta_min + self.beta_max)))


class COU(SDE):
    """Contractive Ornstein–Uhlenbeck (Claustre 2025 §3.5): f = theta (x - mu), g = sigma.

    Kernel N(mu + (x - mu) e^{theta t}, sigma^2 / (2 theta) (e^{2 theta t} - 1) I); the stated prior
    is N(0, sigma^2 / (2 theta) (e^{2 theta T} - 1) I), which ignores where the data sit.
    """

    def __init__(self, theta: float = 1.0, sigma: float = 1.0, mu: float = 0.0, T: float = 1.0):
        check_positive(theta=theta, sigma=sigma)
        self.theta, self.sigma, self.mu, self.T = float(theta), float(sigma), _check_mu(mu), _check_T(T)

    def _drift_coeff(self, t):
        return torch.full_like(t, self.theta)

    def _diffusion(self, t):
        return torch.full_like(t, self.sigma)

    def _mean_coeff(self, t):
        return torch.exp(self.theta * t)

    def _variance(self, t):
        return self.sigma**2 / (2 * self.theta) * torch.expm1(2 * self.theta * t)

    def prior_std(self):
        return self.sigma * math.sqrt(math.expm1(2 * self.theta * self.T) / (2 * self.theta))


class Brownian(SDE):
    """dX = sigma dW: f = 0, constant g = sigma (a variance-exploding SDE with a linear variance).

    Kernel N(x, sigma^2 t I); prior N(0, sigma^2 T I) (Tang & Zhao 2024, §3(b) with sigma^2(t) = sigma^2 t).
    """

    def __init__(self, sigma: float = 1.0, T: float = 1.0):
        check_positive(sigma=sigma)
        self.sigma, self.T = float(sigma), _check_T(T)

    def _drift_coeff(self, t):
        return torch.zeros_like(t)

    def _diffusion(self, t):
        return torch.full_like(t, self.sigma)

    def _mean_coeff(self, t):
        return torch.ones_like(t)

    def _variance(self, t):
        return self.sigma**2 * t

    def prior_std(self):
        return self.sigma * math.sqrt(self.T)


#: The forward SDEs by the name :func:`make_sde` and ``TrainConfig.sde`` take.
SDE_NAMES: dict[str, type[SDE]] = {
    "ou": OU,
    "ve": VE,
    "vp": VP,
    "subvp": SubVP,
    "cou": COU,
    "cvp": CVP,
    "brownian": Brownian,
}


def _sde_class(name: str) -> type[SDE]:
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in SDE_NAMES:
        raise ValueError(f"unknown SDE {name!r}; choose one of {', '.join(SDE_NAMES)}")
    return SDE_NAMES[key]


def sde_parameters(name: str) -> dict:
    """The constructor parameters of SDE ``name`` with their defaults, e.g. ``{"beta_min": 0.1, ...}``."""
    params = inspect.signature(_sde_class(name).__init__).parameters
    return {k: p.default for k, p in params.items() if k != "self"}


def make_sde(name: str, **kwargs) -> SDE:
    """Build a forward SDE by name (case-insensitive): ``ou, ve, vp, subvp, cou, cvp, brownian``."""
    cls = _sde_class(name)
    check_keywords(cls.__name__, kwargs, sde_parameters(name))
    return cls(**kwargs)


def check_sde(sde) -> SDE:
    """``sde`` if it is a :class:`SDE`; a ``TypeError`` that says how to build one otherwise."""
    if isinstance(sde, SDE):
        return sde
    hint = f"; build it with tp.make_sde({sde!r})" if isinstance(sde, str) else ""
    raise TypeError(f"sde must be a tp.SDE such as tp.VP(), got {type(sde).__name__} {sde!r}{hint}")


def check_contract(sde: SDE, n_times: int = 33) -> SDE:
    """Check a (user-written) SDE's formulas against each other and return it; ``ValueError`` names what fails.

    On ``n_times`` times in ``[0, T]``, in float64: every formula returns finite values of the time's shape;
    alpha(0) = 1 and sigma(0) = 0; g >= 0, alpha > 0; alpha' = a alpha and (sigma^2)' = 2 a sigma^2 + g^2
    (central differences, relative tolerance 1e-4); nu = sigma / alpha strictly increasing; a finite positive
    prior std.  Cheap (a few dozen evaluations).
    """
    check_sde(sde)
    name = type(sde).__name__
    if not isinstance(getattr(sde, "T", None), numbers.Real) or not 0 < float(sde.T) < math.inf:
        raise ValueError(f"{name}.T must be a finite positive number, got {getattr(sde, 'T', None)!r}")
    T = float(sde.T)
    t = torch.linspace(0.0, T, n_times, dtype=torch.float64)
    values = {}
    for formula in ("drift_coeff", "diffusion", "mean_coeff", "variance"):
        v = getattr(sde, formula)(t)
        if not torch.is_tensor(v) or v.shape != t.shape or not bool(torch.isfinite(v).all()):
            raise ValueError(f"{name}.{formula}(t) must return finite values of the shape of t on [0, T]")
        values[formula] = v
    a, g, alpha, var = (values[k] for k in ("drift_coeff", "diffusion", "mean_coeff", "variance"))
    if abs(float(alpha[0]) - 1) > 1e-12 or abs(float(var[0])) > 1e-12:
        raise ValueError(f"{name}: need alpha(0) = 1 and sigma(0)^2 = 0, got {float(alpha[0])!r} and {float(var[0])!r}")
    if bool((g < 0).any()) or bool((alpha <= 0).any()) or bool((var[1:] <= 0).any()):
        raise ValueError(f"{name}: need g >= 0, alpha > 0 and sigma^2 > 0 for t > 0")
    h = 1e-5 * T
    mid = t[1:-1]
    d_alpha = (sde.mean_coeff(mid + h) - sde.mean_coeff(mid - h)) / (2 * h)
    d_var = (sde.variance(mid + h) - sde.variance(mid - h)) / (2 * h)
    for what, lhs, rhs in [
        ("alpha' = a alpha", d_alpha, a[1:-1] * alpha[1:-1]),
        ("(sigma^2)' = 2 a sigma^2 + g^2", d_var, 2 * a[1:-1] * var[1:-1] + g[1:-1] ** 2),
    ]:
        err = float(((lhs - rhs).abs() / (rhs.abs() + lhs.abs() + 1e-12)).max())
        if err > 1e-4:
            raise ValueError(f"{name}: the formulas disagree with {what} (relative error {err:.2g})")
    nu = (var / alpha**2).sqrt()
    if not bool((nu[1:] > nu[:-1]).all()):
        raise ValueError(f"{name}: the noise-to-signal ratio sigma/alpha must increase strictly in t")
    prior = sde.prior_std()
    if isinstance(prior, bool) or not isinstance(prior, numbers.Real) or not 0 < float(prior) < math.inf:
        raise ValueError(f"{name}.prior_std() must be a finite positive number, got {prior!r}")
    return sde
