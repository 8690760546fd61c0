"""Score networks: a time-conditioned MLP for toy data and the parametrisations, converted in one place.

A network can be trained to output one of three things, all interchangeable through the Gaussian
kernel ``X_t = mu + alpha_t (X_0 - mu) + sigma_t eps`` of the forward SDE:

* ``"score"`` — the score s(x, t) = grad log p_t(x) itself;
* ``"eps"``   — the noise eps that produced x_t (Ho et al. 2020): s = -eps / sigma_t;
* ``"x0"``    — the clean data, E[X_0 | X_t = x] (Tweedie's formula, Tang & Zhao eq. 4.12):
  s = (mu + alpha_t (x0 - mu) - x) / sigma_t^2.

:func:`to_score`, :func:`score_to_eps` and :func:`score_to_x0` are the only places these formulas
live.  :class:`ScoreModel` wraps any backbone ``net(x_in, t) -> output`` with the SDE and a
parametrisation and always returns the score, which is what every loss and sampler takes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .utils import append_dims, as_time

__all__ = [
    "PARAMETRIZATIONS",
    "FourierTimeFeatures",
    "TimeMLP",
    "ScoreModel",
    "to_score",
    "score_to_eps",
    "score_to_x0",
]

PARAMETRIZATIONS = ("score", "eps", "x0")


def _check_parametrization(name: str) -> str:
    if name not in PARAMETRIZATIONS:
        raise ValueError(f"unknown parametrization {name!r}; choose one of {', '.join(PARAMETRIZATIONS)}")
    return name


def _kernel(sde, t: torch.Tensor, x: torch.Tensor):
    """mu, alpha_t, sigma_t broadcast against ``x: (B, *D)``."""
    alpha = append_dims(sde.mean_coeff(t).to(x), x.ndim)
    sigma = append_dims(sde.std(t).to(x), x.ndim)
    return sde._mu_like(x), alpha, sigma


def _batch_time(t: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``t`` as a ``(B,)`` tensor for ``x: (B, *D)``."""
    t = as_time(t, x)
    return t.expand(x.shape[0]) if t.ndim == 0 else t


def to_score(output: torch.Tensor, x: torch.Tensor, t: torch.Tensor, sde, parametrization: str) -> torch.Tensor:
    """Convert a network ``output`` (shape of ``x``) in the given parametrisation to the score."""
    _check_parametrization(parametrization)
    if parametrization == "score":
        return output
    mu, alpha, sigma = _kernel(sde, t, x)
    if parametrization == "eps":
        return -output / sigma
    return (mu + alpha * (output - mu) - x) / sigma**2


def score_to_eps(score: torch.Tensor, x: torch.Tensor, t: torch.Tensor, sde) -> torch.Tensor:
    """The noise prediction equivalent to a score: eps = -sigma_t s."""
    return -_kernel(sde, t, x)[2] * score


def score_to_x0(score: torch.Tensor, x: torch.Tensor, t: torch.Tensor, sde) -> torch.Tensor:
    """Tweedie's formula: E[X_0 | X_t = x] = mu + (x + sigma_t^2 s - mu) / alpha_t."""
    mu, alpha, sigma = _kernel(sde, t, x)
    return mu + (x + sigma**2 * score - mu) / alpha


class FourierTimeFeatures(nn.Module):
    """sin/cos features of u = t / T at fixed geometric frequencies pi * 10^(3k/(n-1)), k < n.

    Fixed (not random) frequencies from pi to 1000 pi: the features resolve times down to about
    1e-3 T, the usual lower cut-off, and the module has no parameters and no seed.
    ``t: (B,)`` -> ``(B, 2 n_frequencies)``.
    """

    def __init__(self, n_frequencies: int = 8, T: float = 1.0):
        super().__init__()
        if n_frequencies < 1:
            raise ValueError(f"n_frequencies must be at least 1, got {n_frequencies}")
        self.T = float(T)
        self.register_buffer("frequencies", math.pi * torch.logspace(0, 3, n_frequencies), persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = (t / self.T).unsqueeze(-1) * self.frequencies.to(t)
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class TimeMLP(nn.Module):
    """An MLP on ``[x, Fourier features of t]``: ``x: (B, *D)``, ``t: (B,)`` -> ``(B, *D)``.

    ``dim`` is the number of coordinates of one state (the product of its event shape);
    ``depth`` hidden layers of width ``hidden`` with SiLU activations.
    """

    def __init__(self, dim: int, hidden: int = 128, depth: int = 3, n_frequencies: int = 8, T: float = 1.0):
        super().__init__()
        if dim < 1 or hidden < 1 or depth < 1:
            raise ValueError(f"dim, hidden and depth must be positive, got {dim}, {hidden}, {depth}")
        self.dim = dim
        self.time_features = FourierTimeFeatures(n_frequencies, T)
        layers: list[nn.Module] = [nn.Linear(dim + 2 * n_frequencies, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        layers.append(nn.Linear(hidden, dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.dim:
            raise ValueError(f"TimeMLP was built for states of {self.dim} coordinates, got shape {tuple(x.shape)}")
        h = torch.cat([flat, self.time_features(t)], dim=-1)
        return self.layers(h).reshape(x.shape)


class ScoreModel(nn.Module):
    """A score s_theta(x, t) from a backbone ``net(x_in, t)`` trained in a chosen parametrisation.

    The backbone sees the rescaled input x_in = (x - mu) / sqrt(alpha_t^2 + sigma_t^2), which has about
    unit spread at every t for data of unit spread (Karras et al. 2022, c_in), and the time ``t: (B,)``.
    The backbone runs in its own dtype (float32 usually); inputs of another dtype (float64 samplers) are
    cast on the way in and out.  ``forward(x, t)`` returns the score, shape of ``x``.
    """

    def __init__(self, net: nn.Module, sde, parametrization: str = "eps"):
        super().__init__()
        self.net = net
        self.sde = sde
        self.parametrization = _check_parametrization(parametrization)

    def output(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """The backbone's raw output at ``(x, t)`` (in the parametrisation it was trained in)."""
        t = _batch_time(t, x)
        mu, alpha, sigma = _kernel(self.sde, t, x)
        x_in = (x - mu) / torch.sqrt(alpha**2 + sigma**2)
        p = next(self.net.parameters())
        return self.net(x_in.to(p.dtype), t.to(p.dtype)).to(x.dtype)

    def forward(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        t = _batch_time(t, x)
        return to_score(self.output(x, t), x, t, self.sde, self.parametrization)

    def eps(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """The noise prediction -sigma_t s(x, t)."""
        t = _batch_time(t, x)
        return score_to_eps(self(x, t), x, t, self.sde)

    def x0(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """The denoiser E[X_0 | X_t = x] by Tweedie's formula."""
        t = _batch_time(t, x)
        return score_to_x0(self(x, t), x, t, self.sde)
