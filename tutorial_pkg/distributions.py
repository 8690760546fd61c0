"""Data distributions with exact scores: the oracles of the course.

A Gaussian mixture with diagonal components stays a Gaussian mixture under every linear forward SDE
of :mod:`tutorial_pkg.sde`: if X_t = mu + alpha_t (X_0 - mu) + sigma_t Z, component k moves to

    mean  mu + alpha_t (m_k - mu),     std  sqrt(alpha_t^2 s_k^2 + sigma_t^2)     (same weight),

so p_t, its log-density and its score are known in closed form at every time (Tang & Zhao 2024,
§6 oracles O8–O10).  ``GaussianMixture.diffuse(sde, t)`` returns that p_t.

Shapes: a mixture has ``K`` components over an event shape ``D`` (any shape, e.g. ``(2,)`` or
``(1, 8, 8)``); states are ``(B, *D)``.  A mixture diffused to a *batch* of times ``t: (B,)`` carries
one set of parameters per sample and evaluates ``x: (B, *D)`` row by row.
"""

from __future__ import annotations

import math

import torch

from .sde import check_sde
from .utils import append_dims, as_time, batch_time, check_generator, randn

__all__ = ["GaussianMixture", "Gaussian", "ExactScore", "IdealScore"]


class GaussianMixture:
    """Mixture of diagonal Gaussians, sum_k w_k N(m_k, diag(s_k^2)).

    * ``weights``: ``(K,)``, non-negative, normalised here;
    * ``means``: ``(K, *D)``;
    * ``stds``: ``(K,)`` (isotropic components) or ``(K, *D)`` (diagonal), non-negative.  A zero standard
      deviation is allowed (an empirical distribution) but such a mixture has no density until it is diffused
      to some ``t > 0``.
    """

    def __init__(self, weights, means, stds):
        means = torch.as_tensor(means)
        if not means.is_floating_point():
            means = means.to(torch.get_default_dtype())
        if not bool(torch.isfinite(means).all()):
            raise ValueError("means contains NaN or inf")
        if means.ndim < 2:
            raise ValueError(f"means must have shape (K, *D) with at least one event dim, got {tuple(means.shape)}")
        weights = torch.as_tensor(weights, dtype=means.dtype, device=means.device)
        stds = torch.as_tensor(stds, dtype=means.dtype, device=means.device)
        K = means.shape[0]
        if weights.shape != (K,):
            raise ValueError(f"weights must have shape ({K},) to match means, got {tuple(weights.shape)}")
        if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()) or not float(weights.sum()) > 0:
            raise ValueError(f"weights must be finite and non-negative with a positive sum, got {weights}")
        if stds.ndim == 0:
            stds = stds.expand(K)
        if stds.shape == (K,):
            stds = append_dims(stds, means.ndim)
        elif stds.shape != means.shape:
            raise ValueError(f"stds must have shape ({K},) or {tuple(means.shape)}, got {tuple(stds.shape)}")
        if bool((stds < 0).any()) or not bool(torch.isfinite(stds).all()):
            raise ValueError("stds must be finite and non-negative")
        self.weights = weights / weights.sum()
        self.means = means
        self.stds = stds
        self.batched = False  # True after diffusing to a batch of times

    # --- constructors -------------------------------------------------------------------------
    @classmethod
    def empirical(cls, data: torch.Tensor) -> GaussianMixture:
        """The empirical distribution of ``data: (N, *D)`` as a mixture of N zero-width components.

        Diffused to ``t > 0`` it gives the "ideal" score of a finite data set, the score that a
        perfectly trained network would learn from these N points (and that only memorises them).
        """
        data = torch.as_tensor(data)
        ones = torch.ones(data.shape[0], dtype=data.dtype, device=data.device)
        return cls(ones, data, torch.zeros_like(ones))

    # --- basic properties ---------------------------------------------------------------------
    @property
    def event_shape(self) -> torch.Size:
        return self.means.shape[2:] if self.batched else self.means.shape[1:]

    @property
    def n_components(self) -> int:
        return self.weights.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.means.dtype

    @property
    def device(self) -> torch.device:
        return self.means.device

    def to(self, *args, **kwargs) -> GaussianMixture:
        """A copy with every parameter moved by ``Tensor.to(*args, **kwargs)``."""
        return self._replace(
            means=self.means.to(*args, **kwargs),
            stds=self.stds.to(*args, **kwargs),
            weights=self.weights.to(*args, **kwargs),
        )

    def _replace(self, **params) -> GaussianMixture:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.__dict__.update(params)
        return new

    # --- sampling and densities ---------------------------------------------------------------
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` samples, shape ``(n, *D)``."""
        if self.batched:
            raise ValueError("cannot sample a mixture diffused to a batch of times; diffuse to one time")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        check_generator(generator)
        w = self.weights.to(generator.device) if generator is not None else self.weights
        idx = torch.multinomial(w, n, replacement=True, generator=generator).to(self.device)
        z = randn((n, *self.event_shape), generator=generator, dtype=self.dtype, device=self.device)
        stds = self.stds.expand_as(self.means)
        return self.means[idx] + stds[idx] * z

    def _component_log_probs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log w_k + log N(x; m_k, s_k^2) as ``(B, K)``, and the residuals ``(x - m_k)`` ``(B, K, *D)``."""
        if bool((self.stds == 0).any()):
            raise ValueError(
                "this mixture has zero-width components (an empirical distribution) and no density; "
                "diffuse it to a time t > 0 first"
            )
        event = tuple(self.event_shape)
        if not torch.is_tensor(x):
            raise TypeError(f"x must be a tensor of shape (B, {', '.join(map(str, event))}), got {type(x).__name__}")
        if tuple(x.shape[1:]) != event:
            raise ValueError(f"x must have shape (B, {', '.join(map(str, event))}), got {tuple(x.shape)}")
        if self.batched and x.shape[0] != self.means.shape[0]:
            raise ValueError(
                f"this mixture was diffused to {self.means.shape[0]} times; x must have that many rows, "
                f"got {x.shape[0]}"
            )
        diff = x.unsqueeze(1) - self.means
        z = diff / self.stds
        log_norm = -torch.log(self.stds) - 0.5 * math.log(2 * math.pi)
        comp = (-0.5 * z**2 + log_norm).flatten(2).sum(-1)
        return torch.log(self.weights) + comp, diff

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) for ``x: (B, *D)``, shape ``(B,)``."""
        logits, _ = self._component_log_probs(x)
        return torch.logsumexp(logits, dim=1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """grad_x log p(x) = sum_k r_k(x) (m_k - x) / s_k^2, with responsibilities r_k; ``(B, *D)``."""
        logits, diff = self._component_log_probs(x)
        resp = torch.softmax(logits, dim=1)
        return -(append_dims(resp, diff.ndim) * diff / self.stds**2).sum(1)

    def posterior_mean(self, x: torch.Tensor, sde, t: float | torch.Tensor) -> torch.Tensor:
        """E[X_0 | X_t = x] with this distribution as the data (the exact denoiser; Tweedie's check).

        Given component k, X_0 | X_t = x is Gaussian with mean
        m_k + alpha_t s_k^2 / (alpha_t^2 s_k^2 + sigma_t^2) (x - mean_{t,k}); the responsibilities of
        the diffused mixture weight these.  ``x: (B, *D)``, ``t`` a float or ``(B,)``; returns ``(B, *D)``.
        """
        t = check_sde(sde).check_time(t, like=x)
        if t.ndim:
            t = batch_time(t, x)
        pt = self.diffuse(sde, t)
        logits, diff_t = pt._component_log_probs(x)
        alpha = sde.mean_coeff(t)
        if t.ndim == 1:
            alpha = append_dims(alpha, x.ndim + 1)
        comp = self.means + alpha * self.stds**2 / pt.stds**2 * diff_t
        resp = torch.softmax(logits, dim=1)
        return (append_dims(resp, comp.ndim) * comp).sum(1)

    # --- the oracle: exact marginals under a linear SDE ---------------------------------------
    def diffuse(self, sde, t: float | torch.Tensor) -> GaussianMixture:
        """The exact law p_t of X_t when X_0 follows this mixture and X follows ``sde``.

        ``t`` a float or 0-d tensor gives an ordinary mixture; ``t: (B,)`` gives a batched mixture
        that evaluates ``x: (B, *D)`` row by row (what a loss with random times needs).
        """
        if self.batched:
            raise ValueError("this mixture is already diffused to a batch of times")
        t = check_sde(sde).check_time(t, like=self.means)
        if t.ndim > 1:
            raise ValueError(f"t must be a scalar or have shape (B,), got {tuple(t.shape)}")
        mu = sde._mu_like(self.means)
        alpha, var = sde._at(sde._mean_coeff, t), sde._at(sde._variance, t)
        if t.ndim == 1:
            nd = self.means.ndim + 1
            alpha, var = append_dims(alpha, nd), append_dims(var, nd)
            means = mu + alpha * (self.means.unsqueeze(0) - mu)
            stds = torch.sqrt(alpha**2 * self.stds.unsqueeze(0) ** 2 + var)
            return self._replace(means=means, stds=stds, batched=True)
        means = mu + alpha * (self.means - mu)
        stds = torch.sqrt(alpha**2 * self.stds**2 + var)
        return self._replace(means=means, stds=stds)

    # --- moments (small event shapes) ----------------------------------------------------------
    def mean(self) -> torch.Tensor:
        """E[X], shape ``D``."""
        if self.batched:
            raise ValueError("moments of a batched mixture are not defined")
        return (append_dims(self.weights, self.means.ndim) * self.means).sum(0)

    def covariance(self) -> torch.Tensor:
        """Cov[X] over the flattened event, shape ``(d, d)`` with d = prod(D)."""
        if self.batched:
            raise ValueError("moments of a batched mixture are not defined")
        m = self.means.flatten(1)
        s2 = self.stds.expand_as(self.means).flatten(1) ** 2
        w = self.weights
        second = torch.einsum("k,ki,kj->ij", w, m, m) + torch.diag((w[:, None] * s2).sum(0))
        mean = (w[:, None] * m).sum(0)
        return second - torch.outer(mean, mean)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(K={self.n_components}, event_shape={tuple(self.event_shape)}, "
            f"batched={self.batched}, dtype={self.dtype})"
        )


class Gaussian(GaussianMixture):
    """A diagonal Gaussian N(mean, diag(std^2)): a one-component mixture.

    Args:
        mean: ``D``-shaped tensor (e.g. ``(2,)``).
        std: a float or a ``D``-shaped tensor.
    """

    def __init__(self, mean, std):
        mean = torch.as_tensor(mean)
        if not mean.is_floating_point():
            mean = mean.to(torch.get_default_dtype())
        if mean.ndim == 0:
            raise ValueError("mean must have at least one dimension, e.g. torch.zeros(2)")
        std = torch.as_tensor(std, dtype=mean.dtype, device=mean.device)
        stds = std.reshape(1) if std.ndim == 0 else std.unsqueeze(0)
        super().__init__(torch.ones(1, dtype=mean.dtype, device=mean.device), mean.unsqueeze(0), stds)

    @classmethod
    def fit(cls, data) -> Gaussian:
        """The Gaussian with the mean and per-coordinate variance of ``data`` (points ``(N, *D)`` or a mixture).

        Its exact score under a linear SDE is linear in x: the trivial baseline a trained network must beat.
        (Diagonal covariance, like every Gaussian of the package.)
        """
        if isinstance(data, GaussianMixture):
            mean, var = data.mean(), data.covariance().diagonal()
            return cls(mean.reshape(data.event_shape), var.sqrt().reshape(data.event_shape))
        if not torch.is_tensor(data) or data.ndim < 2 or data.shape[0] < 2:
            raise ValueError(f"data must be points of shape (N, *D) with N >= 2, got {getattr(data, 'shape', data)}")
        return cls(data.mean(0), data.std(0))

    @property
    def loc(self) -> torch.Tensor:
        """The mean, shape ``D`` (``(B, *D)`` after diffusing to a batch of times)."""
        return self.means[:, 0] if self.batched else self.means[0]

    @property
    def scale(self) -> torch.Tensor:
        """The standard deviation, broadcastable to the mean."""
        return self.stds[:, 0] if self.batched else self.stds[0]


class ExactScore:
    """The exact score function (x, t) -> grad log p_t(x) of data ``dist`` pushed through ``sde``.

    This is the callable the samplers take in place of a trained network.
    """

    def __init__(self, dist: GaussianMixture, sde):
        if not isinstance(dist, GaussianMixture):
            raise TypeError(f"dist must be a tp.GaussianMixture or tp.Gaussian, got {type(dist).__name__}")
        self.dist, self.sde = dist, check_sde(sde)

    def __call__(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        t = as_time(t, x)
        if t.ndim:
            t = batch_time(t, x)
        if t.ndim == 1 and t.numel() > 0 and bool((t == t[0]).all()):
            t = t[0]  # one time for the whole batch: a plain mixture is cheaper than a batched one
        return self.dist.diffuse(self.sde, t).score(x)


class IdealScore:
    """The exact score of the empirical distribution (1/N) sum_i delta_{x_i} of ``data: (N, *D)`` under ``sde``.

    p_t is the mixture of the N Gaussians N(mu + alpha_t (x_i - mu), sigma_t^2 I), whose score is

        s(x, t) = sum_i w_i(x, t) (mu + alpha_t (x_i - mu) - x) / sigma_t^2,
        w_i = softmax_i( -|x - mu - alpha_t (x_i - mu)|^2 / (2 sigma_t^2) ).

    It minimises the DSM loss on this training set over *all* functions, and sampling with it only reproduces
    the training points (up to the noise left at t_min): the network that generalises is *not* this
    minimiser (Tang & Zhao 2024, §7.2).  The same numbers as ``ExactScore(GaussianMixture.empirical(data), sde)``,
    computed with one matrix product per block of ``chunk`` rows instead of ``(B, N, *D)`` tensors.
    ``x: (B, *D)``, ``t`` a float or ``(B,)``; needs t > 0.
    """

    def __init__(self, data: torch.Tensor, sde, *, chunk: int = 512):
        data = torch.as_tensor(data)
        if data.ndim < 2 or data.shape[0] < 1 or not data.is_floating_point():
            raise ValueError(f"data must be a floating tensor of shape (N, *D), got {tuple(data.shape)}")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk must be a positive int, got {chunk!r}")
        self.data, self.sde, self.chunk = data, check_sde(sde), chunk
        self._flat = data.reshape(data.shape[0], -1)

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        if tuple(x.shape[1:]) != tuple(self.data.shape[1:]):
            raise ValueError(f"x must have shape (B, {tuple(self.data.shape[1:])}), got {tuple(x.shape)}")
        t = batch_time(self.sde.check_time(t, like=x), x)
        mu = torch.as_tensor(self.sde._mu_like(x), dtype=x.dtype, device=x.device)
        y = (x - mu).reshape(x.shape[0], -1)  # centred states (B, d)
        data = self._flat.to(y) - mu.reshape(-1)  # centred training points (N, d)
        sq = data.pow(2).sum(1)
        alpha, var = self.sde.mean_coeff(t).to(y), self.sde.variance(t).to(y)
        if bool((var <= 0).any()):
            raise ValueError("the ideal score needs t > 0 (at t = 0 the empirical law has no density)")
        out = []
        for i in range(0, y.shape[0], self.chunk):
            yi, ai, vi = y[i : i + self.chunk], alpha[i : i + self.chunk, None], var[i : i + self.chunk, None]
            # -|y - a x_j|^2 / (2 v), dropping the term |y|^2 that is constant in j
            logits = (ai * (yi @ data.T) - 0.5 * ai**2 * sq) / vi
            w = torch.softmax(logits, dim=1)
            out.append((ai * (w @ data) - yi) / vi)
        return torch.cat(out).reshape(x.shape)
