"""Judge a trained score model: against an oracle score, against data, and against its training set.

Chapter 05 trains score networks; this module holds what it (and later chapters) measure them with.

* :func:`score_error_profile` — the time-resolved error of a score against the exact score of a
  Gaussian mixture, ``lambda(t) E_{x ~ p_t} |s(x, t) - grad log p_t(x)|^2`` on a grid of times, with its
  Monte Carlo standard error;
* :func:`integrated_score_error` — the same error averaged over ``t ~ U[t_min, T]`` (the explicit
  score-matching objective of Tang & Zhao 2024, eq. 4.5);
* :func:`dsm_floor` and :func:`dsm_excess` — the value of the denoising loss at the exact score (the
  floor a trained loss cannot go below) and the paired excess of a model over it, which equals the
  integrated error in expectation (Vincent 2011; Tang & Zhao, Thm 4.3);
* :func:`gaussian_fit` — the moment-matched Gaussian, whose exact score is the trivial baseline;
* :func:`ideal_score` — the exact score of the empirical distribution of a finite training set (the
  minimiser of the DSM loss over all functions; it only reproduces the training points);
* :func:`generate`, :func:`sliced_wasserstein_ratio`, :func:`nearest_distance` — sampling from a
  model, sample quality relative to the data-vs-data floor, and copies of training points;
* :func:`swiss_roll_setup` and :func:`mixture_setup` — the two trained models of chapter 05, as
  functions, so that every chapter that calls them rebuilds the same configuration and data and gets
  the cached model from :func:`~tutorial_pkg.load_or_train`.

Shapes follow the package: states ``(B, *D)``, times floats or ``(B,)``.  Randomness only through
``generator=``; nothing prints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from .datasets import ring_mixture, swiss_roll
from .distributions import ExactScore, Gaussian, GaussianMixture
from .losses import dsm_loss, esm_loss, loss_weight
from .metrics import sliced_wasserstein
from .samplers import get_sampler, karras_grid, quadratic_grid, time_grid
from .train import TrainConfig
from .utils import get_profile, seed_everything

__all__ = [
    "ScoreErrorProfile",
    "Setup",
    "score_error_profile",
    "integrated_score_error",
    "dsm_floor",
    "dsm_excess",
    "gaussian_fit",
    "ideal_score",
    "IdealScore",
    "ChunkedScore",
    "generate",
    "sliced_wasserstein_ratio",
    "nearest_distance",
    "swiss_roll_setup",
    "mixture_setup",
    "SWISS_ROLL_SEED",
    "MIXTURE_SEED",
    "N_SWISS_TRAIN",
    "N_SWISS_TEST",
    "N_MIXTURE_TEST",
]

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: Seeds of chapter 05's data (the configurations carry their own training seed).
SWISS_ROLL_SEED = 0
MIXTURE_SEED = 0
#: Sizes of chapter 05's data sets.  The Swiss-roll training set is finite (batches are drawn from it) but
#: large: with 2000 points even a perfect learner of the empirical law was up to 1.4x the sliced-Wasserstein
#: floor at blocks of 1000.  (The chapter shows the ideal score's copies on a separate set of 500 points.)
N_SWISS_TRAIN = 20_000
N_SWISS_TEST = 20_000
N_MIXTURE_TEST = 8000


class ScoreErrorProfile(NamedTuple):
    """``times (M,)``, ``mean (M,)`` the estimated error at each time, ``stderr (M,)`` its standard error."""

    times: torch.Tensor
    mean: torch.Tensor
    stderr: torch.Tensor


def _mean_and_stderr(values: torch.Tensor) -> tuple[float, float]:
    n = values.numel()
    return float(values.mean()), float(values.std() / n**0.5) if n > 1 else float("nan")


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


def _data_batch(data, n: int, generator) -> torch.Tensor:
    if isinstance(data, GaussianMixture):
        return data.sample(n, generator=generator)
    if torch.is_tensor(data) and data.ndim >= 2:
        idx = torch.randint(0, data.shape[0], (n,), generator=generator)
        return data[idx.to(data.device)]
    raise TypeError(f"data must be a GaussianMixture or a tensor (N, *D) of points, got {type(data).__name__}")


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


def gaussian_fit(data) -> Gaussian:
    """The Gaussian with the mean and per-coordinate variance of ``data`` (points ``(N, *D)`` or a mixture).

    Its exact score under a linear SDE is linear in x: the trivial baseline a trained network must beat.
    (Diagonal covariance: the package's Gaussian is diagonal; the ring mixture's covariance is isotropic.)
    """
    if isinstance(data, GaussianMixture):
        mean, var = data.mean(), data.covariance().diagonal()
        return Gaussian(mean.reshape(data.event_shape), var.sqrt().reshape(data.event_shape))
    data = torch.as_tensor(data)
    if data.ndim < 2 or data.shape[0] < 2:
        raise ValueError(f"data must be points of shape (N, *D) with N >= 2, got {tuple(data.shape)}")
    return Gaussian(data.mean(0), data.std(0))


class ChunkedScore:
    """Evaluate ``score(x, t)`` on blocks of ``chunk`` rows, to bound the memory of large oracles.

    ``t``: a float or ``(B,)``.  Returns ``(B, *D)`` like ``score``.
    """

    def __init__(self, score: ScoreFn, chunk: int = 256):
        if not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk must be a positive int, got {chunk!r}")
        self.score, self.chunk = score, chunk

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        parts = []
        for i in range(0, x.shape[0], self.chunk):
            ti = t if t.ndim == 0 else t[i : i + self.chunk]
            parts.append(self.score(x[i : i + self.chunk], ti))
        return torch.cat(parts)


class IdealScore:
    """The exact score of the empirical distribution (1/N) sum_i delta_{x_i} of ``data: (N, *D)`` under ``sde``.

    p_t is the mixture of the N Gaussians N(mu + alpha_t (x_i - mu), sigma_t^2 I), whose score is

        s(x, t) = sum_i w_i(x, t) (mu + alpha_t (x_i - mu) - x) / sigma_t^2,
        w_i = softmax_i( -|x - mu - alpha_t (x_i - mu)|^2 / (2 sigma_t^2) ).

    It minimises the DSM loss on this training set over *all* functions.  The same numbers as
    ``ExactScore(GaussianMixture.empirical(data), sde)``, computed with one matrix product per block of
    ``chunk`` rows instead of ``(B, N, *D)`` tensors.  ``x: (B, *D)``, ``t`` a float or ``(B,)``.
    """

    def __init__(self, data: torch.Tensor, sde, *, chunk: int = 512):
        data = torch.as_tensor(data)
        if data.ndim < 2 or data.shape[0] < 1 or not data.is_floating_point():
            raise ValueError(f"data must be a floating tensor of shape (N, *D), got {tuple(data.shape)}")
        if not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk must be a positive int, got {chunk!r}")
        self.data, self.sde, self.chunk = data, sde, chunk
        self._flat = data.reshape(data.shape[0], -1)

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        if tuple(x.shape[1:]) != tuple(self.data.shape[1:]):
            raise ValueError(f"x must have shape (B, {tuple(self.data.shape[1:])}), got {tuple(x.shape)}")
        t = self.sde.check_time(t, like=x)
        t = t.expand(x.shape[0]) if t.ndim == 0 else t
        mu = torch.as_tensor(self.sde._mu_like(x), dtype=x.dtype, device=x.device)
        y = (x - mu).reshape(x.shape[0], -1)  # centred states (B, d)
        data = self._flat.to(y) - mu.reshape(-1)  # centred training points (N, d)
        sq = data.pow(2).sum(1)
        alpha, var = self.sde.mean_coeff(t).to(y), self.sde.variance(t).to(y)
        out = []
        for i in range(0, y.shape[0], self.chunk):
            yi, ai, vi = y[i : i + self.chunk], alpha[i : i + self.chunk, None], var[i : i + self.chunk, None]
            # -|y - a x_j|^2 / (2 v), dropping the term |y|^2 that is constant in j
            logits = (ai * (yi @ data.T) - 0.5 * ai**2 * sq) / vi
            w = torch.softmax(logits, dim=1)
            out.append((ai * (w @ data) - yi) / vi)
        return torch.cat(out).reshape(x.shape)


def ideal_score(data: torch.Tensor, sde, *, chunk: int = 512) -> IdealScore:
    """The ideal score of a finite training set: :class:`IdealScore` (the minimiser of the empirical DSM loss).

    Sampling with it reproduces the training points, up to the noise left at the last time t_min: the
    network that generalises is *not* this minimiser (Tang & Zhao 2024, §7.2, the sample-error term).
    """
    return IdealScore(data, sde, chunk=chunk)


def generate(
    score: ScoreFn,
    sde,
    n: int,
    event_shape: Sequence[int] = (2,),
    *,
    steps: int = 200,
    t_min: float = 1e-3,
    grid: str = "quadratic",
    sampler: str = "euler_maruyama",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    **options,
) -> torch.Tensor:
    """``(n, *event_shape)`` samples: draw the prior p_noise, then run ``sampler`` from T down to ``t_min``.

    ``grid``: ``"quadratic"`` (:func:`~tutorial_pkg.quadratic_grid`, the default: steps shrink towards
    t_min, so the last Euler–Maruyama step does not add noise of variance g^2 |dt| far above
    sigma^2(t_min)), ``"uniform"`` (:func:`~tutorial_pkg.time_grid`) or ``"karras"``; ``steps`` steps.
    ``options`` go to the sampler (e.g. ``h_ratio``).  Runs under ``torch.no_grad``.
    """
    sampler_fn = get_sampler(sampler)
    if grid == "quadratic":
        ts = quadratic_grid(sde.T, steps, t_min, dtype=dtype)
    elif grid == "uniform":
        ts = time_grid(sde.T, steps, t_min, dtype=dtype)
    elif grid == "karras":
        ts = karras_grid(sde, steps, t_min, dtype=dtype)
    else:
        raise ValueError(f"unknown grid {grid!r}; choose 'quadratic', 'uniform' or 'karras'")
    x = sde.prior_sample((n, *event_shape), generator=generator, dtype=dtype)
    with torch.no_grad():
        return sampler_fn(sde, score, x, ts, generator=generator, **options)


def sliced_wasserstein_ratio(
    samples: torch.Tensor,
    reference: torch.Tensor,
    fresh: Sequence[torch.Tensor],
    *,
    chunk: int = 1000,
    n_projections: int = 200,
    seed: int = 1,
) -> tuple[float, float]:
    """``(ratio, floor)``: the sliced W2 of ``samples`` to ``reference`` over the data-vs-data floor.

    The floor is the mean over the draws in ``fresh`` (each a sample of the data law, independent of
    ``reference``) of their distance to ``reference``.  All distances use the same ``n_projections``
    directions (from ``seed``) and are block averages over blocks of ``chunk`` rows
    (:func:`~tutorial_pkg.sliced_wasserstein`), so the ratio compares like with like: 1 means "as close
    to the reference as fresh data is".  ``samples``, ``reference`` and each draw: ``(n, *D)``.
    """
    if len(fresh) < 1:
        raise ValueError("fresh must hold at least one independent draw of the data")

    def dist(x: torch.Tensor) -> float:
        g = torch.Generator().manual_seed(seed)
        return float(sliced_wasserstein(x, reference, chunk=chunk, n_projections=n_projections, generator=g))

    floor = sum(dist(f) for f in fresh) / len(fresh)
    return dist(samples) / floor, floor


def nearest_distance(x: torch.Tensor, reference: torch.Tensor, *, chunk: int = 512) -> torch.Tensor:
    """``(n,)``: the Euclidean distance from each row of ``x: (n, *D)`` to the nearest row of ``reference``.

    Samples that copy training points are at distance ~0 from the training set and at the usual
    spacing from held-out data; samples that generalise are about as far from both.  Computed in float64
    (the matrix-product form of ``torch.cdist`` loses small distances in float32), ``chunk`` rows at a time.
    """
    x = x.reshape(x.shape[0], -1).to(torch.float64)
    reference = reference.reshape(reference.shape[0], -1).to(x)
    return torch.cat([torch.cdist(x[i : i + chunk], reference).min(1).values for i in range(0, x.shape[0], chunk)])


# ------------------------------------------------------------------------------------------------
# chapter 05's trained models, rebuilt identically by every chapter that needs them
# ------------------------------------------------------------------------------------------------


class Setup(NamedTuple):
    """A configuration, its training data (a tensor of points or a GaussianMixture) and held-out points."""

    config: TrainConfig
    train_data: torch.Tensor | GaussianMixture
    test_data: torch.Tensor


def _profile(profile: str | None) -> str:
    profile = profile or get_profile()
    if profile not in ("quick", "full"):
        raise ValueError(f"profile must be 'quick' or 'full', got {profile!r}")
    return profile


def swiss_roll_setup(profile: str | None = None) -> Setup:
    """Chapter 05's Swiss-roll model and data (the configuration named ``SWISS_ROLL_CONFIG`` there).

    VP SDE, DSM with lambda = sigma^2, eps-parametrisation, t_min = 1e-3, a 3 x 128 MLP; Adam at peak rate
    1e-2 with cosine decay and the gradient norm clipped at 1, batch 512, EMA 0.999; 3000 steps in the
    ``"quick"`` profile (about 15 s on one CPU thread), 12 000 in ``"full"`` (``profile`` defaults to
    :func:`~tutorial_pkg.get_profile`).  ``train_data``: :data:`N_SWISS_TRAIN` float32 points of
    :func:`~tutorial_pkg.swiss_roll` drawn with ``seed_everything(SWISS_ROLL_SEED)``; ``test_data``: the
    next :data:`N_SWISS_TEST` points of the same generator (held out).  Use
    ``load_or_train(setup.config, setup.train_data)``: same configuration, same data, same cached model.
    """
    profile = _profile(profile)
    steps = {"quick": 3000, "full": 12_000}[profile]
    config = TrainConfig(
        sde="vp", loss="dsm", weighting="sigma2", parametrization="eps", t_min=1e-3,
        steps=steps, batch_size=512, lr=1e-2, seed=0,
    )  # fmt: skip
    g = seed_everything(SWISS_ROLL_SEED)
    train = swiss_roll(N_SWISS_TRAIN, generator=g, dtype=torch.float32)
    test = swiss_roll(N_SWISS_TEST, generator=g, dtype=torch.float32)
    return Setup(config, train, test)


def mixture_setup(profile: str | None = None) -> Setup:
    """Chapter 05's mixture model and data (the configuration named ``MIXTURE_CONFIG`` there).

    Data: the ring of 8 Gaussians (:func:`~tutorial_pkg.ring_mixture`: radius 2, std 0.25, float32), given
    to the loop as a mixture, so every batch is fresh.  VP SDE, DSM with lambda = sigma^2,
    eps-parametrisation, t_min = 1e-3, a 3 x 128 MLP; Adam at peak rate 5e-3 with cosine decay, batch 256,
    EMA 0.999; 4000 steps (``"quick"``, about 13 s on one CPU thread) or 12 000 (``"full"``).  ``train_data``
    is the mixture itself (the oracle: ``ExactScore(setup.train_data, setup.config.make_sde())``),
    ``test_data`` a float32 sample of :data:`N_MIXTURE_TEST` points from seed :data:`MIXTURE_SEED`.
    """
    profile = _profile(profile)
    steps = {"quick": 4000, "full": 12_000}[profile]
    config = TrainConfig(
        sde="vp", loss="dsm", weighting="sigma2", parametrization="eps", t_min=1e-3,
        steps=steps, batch_size=256, lr=5e-3, seed=0,
    )  # fmt: skip
    mix = ring_mixture(dtype=torch.float32)
    test = mix.sample(N_MIXTURE_TEST, generator=torch.Generator().manual_seed(MIXTURE_SEED))
    return Setup(config, mix, test)
