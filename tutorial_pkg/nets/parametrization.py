"""The three things a score network can be trained to output, converted into each other in one place.

All are interchangeable through the Gaussian kernel ``X_t = mu + alpha_t (X_0 - mu) + sigma_t eps`` of the
forward SDE:

* ``"score"`` — the score s(x, t) = grad log p_t(x) itself;
* ``"eps"``   — the noise eps that produced x_t (Ho et al. 2020): s = -eps / sigma_t;
* ``"x0"``    — the clean data, E[X_0 | X_t = x] (Tweedie's formula, Tang & Zhao eq. 4.12):
  s = (mu + alpha_t (x0 - mu) - x) / sigma_t^2.

Shapes: ``output, x, score: (B, *D)``, ``t: (B,)``.
"""

from __future__ import annotations

import torch

from ..utils import append_dims

__all__ = ["PARAMETRIZATIONS", "check_parametrization", "to_score", "score_to_eps", "score_to_x0"]

#: What a network can be trained to output: the score, the noise or the clean data.
PARAMETRIZATIONS = ("score", "eps", "x0")


def check_parametrization(name: str) -> str:
    """``name`` if it is one of :data:`PARAMETRIZATIONS`; a ``ValueError`` listing them otherwise."""
    if name not in PARAMETRIZATIONS:
        raise ValueError(f"unknown parametrization {name!r}; choose one of {', '.join(PARAMETRIZATIONS)}")
    return name


def _kernel(sde, t: torch.Tensor, x: torch.Tensor, *, checked: bool = False):
    """mu, alpha_t, sigma_t broadcast against ``x: (B, *D)`` (``checked``: ``t`` lies in [0, T] already)."""
    if not checked:
        t = sde.check_time(t, like=x)
    alpha = append_dims(sde._at(sde._mean_coeff, t).to(x), x.ndim)
    sigma = append_dims(sde._at(sde._variance, t).sqrt().to(x), x.ndim)
    return sde._mu_like(x), alpha, sigma


def to_score(output: torch.Tensor, x: torch.Tensor, t: torch.Tensor, sde, parametrization: str) -> torch.Tensor:
    """Convert a network ``output`` (shape of ``x``) in the given parametrisation to the score."""
    check_parametrization(parametrization)
    if parametrization == "score":
        return output
    return _score_from(output, x, _kernel(sde, t, x), parametrization)


def _score_from(output: torch.Tensor, x: torch.Tensor, kernel, parametrization: str) -> torch.Tensor:
    """The score from ``output`` given the kernel ``(mu, alpha, sigma)`` at the output's times."""
    if parametrization == "score":
        return output
    mu, alpha, sigma = kernel
    if bool((sigma == 0).any()):
        raise ValueError(
            f"a {parametrization!r}-parametrised model has no score where sigma_t = 0 (t = 0): evaluate it at t > 0, "
            "e.g. at the training cut-off t_min"
        )
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
