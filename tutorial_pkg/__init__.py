"""tutorial_pkg: the companion package of the course "Score-based diffusion models via SDEs".

One concept per module; everything public is re-exported here:

* :mod:`~tutorial_pkg.sde` — forward SDEs (OU, VE, VP, SubVP, COU, CVP) and the generative family;
* :mod:`~tutorial_pkg.distributions` — Gaussian mixtures with exact diffused marginals and scores;
* :mod:`~tutorial_pkg.datasets` — toy data generated in code;
* :mod:`~tutorial_pkg.samplers` — Euler–Maruyama and probability-flow ODE samplers;
* :mod:`~tutorial_pkg.autodiff` — exact divergences and Fokker–Planck residuals;
* :mod:`~tutorial_pkg.metrics` — Gaussian KL/W2, sliced Wasserstein, energy distance;
* :mod:`~tutorial_pkg.plotting` — figure helpers for the notebooks;
* :mod:`~tutorial_pkg.checks` — checkers for the exercises;
* :mod:`~tutorial_pkg.utils` — devices, seeding, broadcasting.
"""

from .autodiff import divergence, fokker_planck_residual
from .datasets import (
    TOY_DATASETS,
    checkerboard,
    moons,
    random_mixture,
    ring_mixture,
    rings,
    swiss_roll,
    toy_data,
)
from .distributions import ExactScore, Gaussian, GaussianMixture
from .metrics import energy_distance, gaussian_kl, gaussian_w2, mean_and_covariance, sliced_wasserstein
from .samplers import SAMPLERS, euler_maruyama, get_sampler, integrate_sde, ode_euler, ode_heun, time_grid
from .sde import COU, CVP, OU, SDE, SDE_NAMES, VE, VP, ReverseSDE, SubVP, make_sde
from .utils import append_dims, get_device, get_profile, randn, seed_everything, sum_except_batch

__version__ = "0.1.0"

__all__ = [
    "COU",
    "CVP",
    "OU",
    "SDE",
    "SAMPLERS",
    "SDE_NAMES",
    "TOY_DATASETS",
    "VE",
    "VP",
    "ExactScore",
    "Gaussian",
    "GaussianMixture",
    "ReverseSDE",
    "SubVP",
    "append_dims",
    "checkerboard",
    "divergence",
    "energy_distance",
    "euler_maruyama",
    "fokker_planck_residual",
    "gaussian_kl",
    "gaussian_w2",
    "get_device",
    "get_profile",
    "get_sampler",
    "integrate_sde",
    "make_sde",
    "mean_and_covariance",
    "moons",
    "ode_euler",
    "ode_heun",
    "randn",
    "random_mixture",
    "ring_mixture",
    "rings",
    "seed_everything",
    "sliced_wasserstein",
    "sum_except_batch",
    "swiss_roll",
    "time_grid",
    "toy_data",
]
