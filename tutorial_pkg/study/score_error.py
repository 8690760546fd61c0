"""Judge a score against the exact score of Gaussian-mixture data: time-resolved and integrated errors, and
the denoising loss's floor.

* :func:`score_error_profile` — ``lambda(t) E_{x ~ p_t} |s(x, t) - grad log p_t(x)|^2`` on a grid of times, with
  its Monte Carlo standard error;
* :func:`integrated_score_error` — the same error averaged over ``t ~ U[t_min, T]`` (the explicit
  score-matching objective of Tang & Zhao 2024, eq. 4.5);
* :func:`dsm_floor` and :func:`dsm_excess` — the value of the denoising loss at the exact score (the floor a
  trained loss cannot go below) and the paired excess of a model over it, which equals the integrated error
  in expectation (Vincent 2011; Tang & Zhao, Thm 4.3).

Shapes follow the package: states ``(B, *D)``, times floats or ``(B,)``.  Randomness only through
``generator=``; nothing prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from ..distributions import ExactScore, GaussianMixture
from ..losses import dsm_loss, esm_loss, loss_weight
from ..stats import mean_stderr
from ..utils import ScoreFn

__all__ = ["ScoreErrorProfile", "score_error_profile", "integrated_score_error", "dsm_floor", "dsm_excess"]


class ScoreErrorProfile(NamedTuple):
    """``times (M,)``, ``mean (M,)`` the estimated error at each time, ``stderr (M,)`` its standard error."""

    times: torch.Tensor
    mean: torch.Tensor
    stderr: torch.Tensor


def _mean_and_stderr(values: torch.Tensor) -> tuple[float, float]:
    m, se = mean_stderr(values.reshape(-1))
    return float(m), float(se)


def _check_n(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ValueError(f"n must be an integer >= 2 (a standard error needs two samples), got {n!r}")


def _check_dist(dist) -> None:
    if not isinstance(dist, GaussianMixture):
        raise TypeError(
            f"the oracle must be a GaussianMixture (or Gaussian) with an exact score, got {type(dist).__name__}; "
            "for data without a closed form use ideal_score(data, sde) or compare samples"
        )


def score_error_profile(
    score: ScoreFn,
    dist: GaussianMixture,
    sde,
    times: Sequence[float] | torch.Tensor,
    *,
    n: int = 2000,
    weighting: str = "sigma2",
    generator: torch.Generator | None = None,
) -> ScoreErrorProfile:
    """The time-resolved error of ``score`` against the exact score of data ``dist`` under ``sde``.

    For each time t in ``times`` (shape ``(M,)``), with n fresh points x_i ~ p_t (``dist.diffuse(sde, t)``),

        e(t) = lambda(t) * (1/n) sum_i |s(x_i, t) - grad log p_t(x_i)|^2,

    lambda the weighting of :func:`~tutorial_pkg.loss_weight` (``"sigma2"``: sigma_t^2, so that e is the
    error of the noise prediction eps = -sigma_t s; ``"none"``: the plain score error).  The standard
    error is the sample standard deviation over sqrt(n).  Computed in ``dist``'s dtype (use float64
    for an oracle comparison); ``score`` is called as ``score(x: (n, *D), t: (n,))`` under no_grad.
    """
    _check_dist(dist)
    _check_n(n)
    times = torch.as_tensor(times, dtype=dist.dtype).reshape(-1)
    exact = ExactScore(dist, sde)
    means, errs = [], []
    with torch.no_grad():
        for t in times.tolist():
            x = dist.diffuse(sde, t).sample(n, generator=generator)
            tb = torch.full((n,), t, dtype=x.dtype, device=x.device)
            diff = (score(x, tb).to(x) - exact(x, tb)).reshape(n, -1)
            values = loss_weight(sde, tb, weighting).to(x) * diff.pow(2).sum(1)
            m, se = _mean_and_stderr(values)
            means.append(m)
            errs.append(se)
    return ScoreErrorProfile(times, torch.tensor(means, dtype=dist.dtype), torch.tensor(errs, dtype=dist.dtype))


def integrated_score_error(
    score: ScoreFn,
    dist: GaussianMixture,
    sde,
    *,
    t_min: float = 1e-3,
    n: int = 20_000,
    weighting: str = "sigma2",
    generator: torch.Generator | None = None,
    chunk: int = 5000,
) -> tuple[float, float]:
    """``(mean, stderr)`` of 1/(T - t_min) int_{t_min}^T lambda(t) E_{p_t}|s - grad log p_t|^2 dt.

    Monte Carlo with one uniform time per point, exactly the explicit score-matching loss
    (:func:`~tutorial_pkg.esm_loss`, Tang & Zhao eq. 4.5) with the exact target, evaluated over n points
    in blocks of ``chunk``.
    """
    _check_dist(dist)
    _check_n(n)
    target = ExactScore(dist, sde)
    values = []
    with torch.no_grad():
        for start in range(0, n, chunk):
            x0 = dist.sample(min(chunk, n - start), generator=generator)
            values.append(
                esm_loss(score, x0, sde, target=target, weighting=weighting, t_min=t_min, generator=generator)
            )
    return _mean_and_stderr(torch.cat(values))


def dsm_floor(
    dist: GaussianMixture,
    sde,
    *,
    t_min: float = 1e-3,
    n: int = 20_000,
    weighting: str = "sigma2",
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """``(mean, stderr)`` of the denoising loss of the exact score: the lowest value DSM can reach.

    DSM(s) = ESM(s) + C with C = E lambda (|grad log p(x_t | x_0)|^2 - |grad log p_t(x_t)|^2) >= 0 (Tang &
    Zhao Thm 4.3), and ESM(exact) = 0, so the floor is C: a trained loss plateaus there, not at 0.
    Same time law as the training loop (uniform on [t_min, T]).
    """
    _check_dist(dist)
    _check_n(n)
    with torch.no_grad():
        x0 = dist.sample(n, generator=generator)
        values = dsm_loss(ExactScore(dist, sde), x0, sde, weighting=weighting, t_min=t_min, generator=generator)
    return _mean_and_stderr(values)


def dsm_excess(
    score: ScoreFn,
    dist: GaussianMixture,
    sde,
    *,
    t_min: float = 1e-3,
    n: int = 20_000,
    weighting: str = "sigma2",
    seed: int = 0,
) -> tuple[float, float]:
    """``(mean, stderr)`` of DSM(score) - DSM(exact score) on the same draws of (x_0, t, eps).

    In expectation this equals :func:`integrated_score_error` (the constant C cancels): the gap between a
    trained DSM loss and its floor *is* the weighted L^2 error to the true score.  Pairing the draws (two
    generators started from ``seed``) removes most of the noise of the two losses.
    """
    _check_dist(dist)
    _check_n(n)
    x0 = dist.sample(n, generator=torch.Generator().manual_seed(seed))
    kw = {"weighting": weighting, "t_min": t_min}
    with torch.no_grad():
        model = dsm_loss(score, x0, sde, generator=torch.Generator().manual_seed(seed + 1), **kw)
        exact = dsm_loss(ExactScore(dist, sde), x0, sde, generator=torch.Generator().manual_seed(seed + 1), **kw)
    return _mean_and_stderr(model - exact)
