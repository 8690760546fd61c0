"""The four score-matching objectives, time-integrated with a weighting lambda(t).

Each loss has one signature,

    loss(score, x0, sde, *, weighting="sigma2", t_min=1e-3, t=None, generator=None, ...) -> (B,)

``score(x, t)`` is the model (any callable returning the score, e.g. a :class:`~tutorial_pkg.ScoreModel`),
``x0: (B, *D)`` a batch of data, and the result the per-sample values ``lambda(t) * integrand`` — average
them for the objective, or take their standard error.  A time per sample is drawn uniformly on
``[t_min, T]`` (or given as ``t``: a float or ``(B,)``), and ``X_t`` from the exact kernel of ``sde``,
so every objective is the Monte Carlo estimate of (Tang & Zhao 2024, eqs. 4.5–4.9; Claustre 2025, §4)

    1/(T - t_min) int_{t_min}^T lambda(t) E[ integrand(t, X_t) ] dt.

* ESM  |s - grad log p_t|^2                      needs the true score (an oracle ``target``);
* ISM  |s|^2 + 2 div s                           (Hyvärinen 2005): d backward passes, or Hutchinson's m;
* SSM  |s|^2 + 2 v^T (ds/dx) v, v ~ N(0, I)      (Song et al. 2019; variance-reduced form; m slices);
* DSM  |s - grad log p(x_t | x_0)|^2             (Vincent 2011): one forward pass, no derivative.

ISM, SSM and DSM differ from ESM by constants that do not depend on the model, so they share its
minimiser (Theorems 4.1–4.3 of Tang & Zhao).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .autodiff import draw_probes, value_and_divergence, value_and_hutchinson
from .sde import check_sde
from .utils import append_dims, batch_time, check_generator, sum_except_batch

__all__ = [
    "WEIGHTINGS",
    "LOSSES",
    "loss_weight",
    "sample_times",
    "esm_loss",
    "ism_loss",
    "ssm_loss",
    "dsm_loss",
    "get_loss",
]

#: The weightings lambda(t) of :func:`loss_weight`.
WEIGHTINGS = ("sigma2", "g2", "none")


def loss_weight(sde, t: torch.Tensor, weighting: str) -> torch.Tensor:
    """lambda(t): ``"sigma2"`` the kernel variance (Song et al. 2021, the choice of Tang & Zhao eq. 4.13),
    ``"g2"`` the squared diffusion (likelihood weighting, Song et al. 2021b), ``"none"`` 1."""
    t = check_sde(sde).check_time(t)
    if weighting == "sigma2":
        return sde.variance(t)
    if weighting == "g2":
        return sde.diffusion(t) ** 2
    if weighting == "none":
        return torch.ones_like(t)
    raise ValueError(f"unknown weighting {weighting!r}; choose one of {', '.join(WEIGHTINGS)}")


def sample_times(
    n: int, sde, t_min: float = 1e-3, *, generator: torch.Generator | None = None, like: torch.Tensor | None = None
) -> torch.Tensor:
    """``n`` times uniform on ``[t_min, T]``, drawn on the generator's device, returned like ``like``."""
    check_sde(sde)
    if isinstance(t_min, bool) or not isinstance(t_min, (int, float)) or not 0 <= t_min < sde.T:
        raise ValueError(f"t_min must lie in [0, T) = [0, {sde.T:g}), got {t_min!r}")
    check_generator(generator)
    device = generator.device if generator is not None else (like.device if like is not None else None)
    u = torch.rand(n, generator=generator, device=device, dtype=torch.float64)
    t = t_min + (sde.T - t_min) * u
    return t.to(device=like.device, dtype=like.dtype) if like is not None else t.to(torch.get_default_dtype())


def _times_and_xt(score, x0, sde, t, t_min, generator):
    """The times ``(B,)``, the noisy states X_t ``(B, *D)`` and the kernel noise eps, shared by all losses."""
    if not callable(score):
        raise TypeError(f"score must be a callable score(x, t) (a model), got {type(score).__name__}")
    check_sde(sde)
    if not torch.is_tensor(x0) or x0.ndim < 2 or not x0.is_floating_point():
        raise ValueError(f"x0 must be a floating tensor of shape (B, *D), got {getattr(x0, 'shape', type(x0))}")
    if t is None:
        t = sample_times(x0.shape[0], sde, t_min, generator=generator, like=x0)
    else:
        t = batch_time(sde.check_time(t, like=x0), x0)
    xt, eps = sde.sample_marginal(x0, t, generator=check_generator(generator))
    return t, xt, eps


def _weighted(values: torch.Tensor, sde, t: torch.Tensor, weighting: str) -> torch.Tensor:
    return loss_weight(sde, t, weighting).to(values) * values


def esm_loss(
    score,
    x0: torch.Tensor,
    sde,
    *,
    target: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    weighting: str = "sigma2",
    t_min: float = 1e-3,
    t: float | torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Explicit score matching lambda(t) |s(X_t, t) - target(X_t, t)|^2 (Tang & Zhao eq. 4.5), ``(B,)``.

    ``target`` is the true score of p_t, e.g. ``ExactScore(data, sde)`` for mixture data.
    """
    t, xt, _ = _times_and_xt(score, x0, sde, t, t_min, generator)
    err = score(xt, t) - target(xt, t).detach()
    return _weighted(sum_except_batch(err**2), sde, t, weighting)


def ism_loss(
    score,
    x0: torch.Tensor,
    sde,
    *,
    weighting: str = "sigma2",
    t_min: float = 1e-3,
    t: float | torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    n_probes: int | None = None,
) -> torch.Tensor:
    """Implicit score matching lambda(t) (|s|^2 + 2 div s) at X_t (Hyvärinen 2005; Tang & Zhao eq. 4.6), ``(B,)``.

    ``n_probes=None`` takes the exact divergence (d backward passes); an integer m uses Hutchinson's
    estimator with m Rademacher probes instead (m backward passes, unbiased, noisier).
    """
    t, xt, _ = _times_and_xt(score, x0, sde, t, t_min, generator)
    fn = lambda y: score(y, t)  # noqa: E731
    if n_probes is None:
        s, div = value_and_divergence(fn, xt, create_graph=True)
    else:
        if isinstance(n_probes, bool) or not isinstance(n_probes, int) or n_probes < 1:
            raise ValueError(f"n_probes must be a positive integer or None (exact divergence), got {n_probes!r}")
        probes = draw_probes((n_probes, *xt.shape), "rademacher", generator=generator, dtype=xt.dtype, device=xt.device)
        s, quads = value_and_hutchinson(fn, xt, probes, create_graph=True)
        div = quads.mean(0)
    return _weighted(sum_except_batch(s**2) + 2 * div, sde, t, weighting)


def ssm_loss(
    score,
    x0: torch.Tensor,
    sde,
    *,
    weighting: str = "sigma2",
    t_min: float = 1e-3,
    t: float | torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    n_slices: int = 1,
    variance_reduced: bool = True,
) -> torch.Tensor:
    """Sliced score matching with ``n_slices`` Gaussian directions v (Song et al. 2019; Tang & Zhao eq. 4.8), ``(B,)``.

    lambda(t) (|s|^2 + 2 mean_k v_k^T (ds/dx) v_k): the variance-reduced form, which keeps |s|^2
    exact; ``variance_reduced=False`` uses mean_k (v_k . s)^2 in its place, equal in expectation.
    """
    if isinstance(n_slices, bool) or not isinstance(n_slices, int) or n_slices < 1:
        raise ValueError(f"n_slices must be a positive integer, got {n_slices!r}")
    t, xt, _ = _times_and_xt(score, x0, sde, t, t_min, generator)
    probes = draw_probes((n_slices, *xt.shape), "gaussian", generator=generator, dtype=xt.dtype, device=xt.device)
    s, quads = value_and_hutchinson(lambda y: score(y, t), xt, probes, create_graph=True)
    if variance_reduced:
        norm = sum_except_batch(s**2)
    else:
        norm = ((probes * s.unsqueeze(0)).flatten(2).sum(-1) ** 2).mean(0)  # (m, B) -> (B,)
    return _weighted(norm + 2 * quads.mean(0), sde, t, weighting)


def dsm_loss(
    score,
    x0: torch.Tensor,
    sde,
    *,
    weighting: str = "sigma2",
    t_min: float = 1e-3,
    t: float | torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Denoising score matching lambda(t) |s(X_t, t) + eps / sigma_t|^2 (Vincent 2011; Tang & Zhao eq. 4.11), ``(B,)``.

    The target grad log p(x_t | x_0) = -(x_t - mean_t(x_0)) / sigma_t^2 = -eps / sigma_t; with
    lambda = sigma^2 this is the familiar |sigma_t s + eps|^2 (eq. 4.14).
    """
    t, xt, eps = _times_and_xt(score, x0, sde, t, t_min, generator)
    sigma = append_dims(sde.std(t), x0.ndim).to(x0)
    err = score(xt, t) + eps / sigma
    return _weighted(sum_except_batch(err**2), sde, t, weighting)


#: The score-matching losses by name (:func:`get_loss`).
LOSSES: dict[str, Callable] = {"esm": esm_loss, "ism": ism_loss, "ssm": ssm_loss, "dsm": dsm_loss}


def get_loss(name: str) -> Callable:
    """Look a loss up by name (one of ``LOSSES``)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name]
