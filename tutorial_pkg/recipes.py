"""The trained models several chapters share, as functions: every chapter that calls one rebuilds the same
configuration and data and gets the cached model from :func:`~tutorial_pkg.load_or_train`.

* :func:`swiss_roll_setup` — chapter 05's Swiss-roll model (used again by chapters 06 and 08);
* :func:`mixture_setup` — chapter 05's ring-of-Gaussians model (used again by chapter 07).

Each returns a :class:`Setup`: the configuration, the training data and held-out points.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .datasets import ring_mixture, swiss_roll
from .distributions import GaussianMixture
from .training import TrainConfig
from .utils import check_profile, seed_everything

__all__ = ["Setup", "swiss_roll_setup", "mixture_setup", "SWISS_ROLL_SEED", "MIXTURE_SEED", "N_SWISS_TRAIN",
           "N_SWISS_TEST", "N_MIXTURE_TEST"]


#: Seeds of chapter 05's data (the configurations carry their own training seed).
SWISS_ROLL_SEED = 0
#: The seed of chapter 05's mixture test sample.
MIXTURE_SEED = 0
#: Sizes of chapter 05's data sets.  The Swiss-roll training set is finite (batches are drawn from it) but
#: large: with 2000 points even a perfect learner of the empirical law was up to 1.4x the sliced-Wasserstein
#: floor at blocks of 1000.  (The chapter shows the ideal score's copies on a separate set of 500 points.)
N_SWISS_TRAIN = 20_000
#: The size of the held-out Swiss-roll sample.
N_SWISS_TEST = 20_000
#: The size of the held-out mixture sample.
N_MIXTURE_TEST = 8000


class Setup(NamedTuple):
    """A configuration, its training data (a tensor of points or a GaussianMixture) and held-out points."""

    config: TrainConfig
    train_data: torch.Tensor | GaussianMixture
    test_data: torch.Tensor


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
    profile = check_profile(profile)
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
    profile = check_profile(profile)
    steps = {"quick": 4000, "full": 12_000}[profile]
    config = TrainConfig(
        sde="vp", loss="dsm", weighting="sigma2", parametrization="eps", t_min=1e-3,
        steps=steps, batch_size=256, lr=5e-3, seed=0,
    )  # fmt: skip
    mix = ring_mixture(dtype=torch.float32)
    test = mix.sample(N_MIXTURE_TEST, generator=torch.Generator().manual_seed(MIXTURE_SEED))
    return Setup(config, mix, test)
