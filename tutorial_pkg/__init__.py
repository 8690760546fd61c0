"""tutorial_pkg: the companion package of the course "Score-based diffusion models via SDEs".

One concept per module; everything public is re-exported here:

* :mod:`~tutorial_pkg.sde` — forward SDEs (OU, VE, VP, SubVP, COU, CVP) and the generative family;
* :mod:`~tutorial_pkg.distributions` — Gaussian mixtures with exact diffused marginals and scores;
* :mod:`~tutorial_pkg.datasets` — toy data generated in code;
* :mod:`~tutorial_pkg.losses` — explicit, implicit, sliced and denoising score matching, weightings;
* :mod:`~tutorial_pkg.nets` — a time-conditioned MLP and the score / noise / data parametrisations;
* :mod:`~tutorial_pkg.train` — the training loop (EMA, checkpoints) and the cache of trained models;
* :mod:`~tutorial_pkg.consistency` — the PF-ODE flow map and consistency models (distillation, training);
* :mod:`~tutorial_pkg.likelihood` — log-likelihoods through the probability-flow ODE, bits per dimension;
* :mod:`~tutorial_pkg.samplers` — Euler–Maruyama and probability-flow ODE samplers;
* :mod:`~tutorial_pkg.autodiff` — exact divergences and Fokker–Planck residuals;
* :mod:`~tutorial_pkg.metrics` — Gaussian KL/W2, sliced Wasserstein, energy distance;
* :mod:`~tutorial_pkg.plotting` — figure helpers for the notebooks;
* :mod:`~tutorial_pkg.checks` — checkers for the exercises;
* :mod:`~tutorial_pkg.utils` — devices, seeding, broadcasting.
"""

from .autodiff import divergence, fokker_planck_residual, value_and_divergence, value_and_hutchinson
from .consistency import (
    ConsistencyModel,
    consistency_distillation_loss,
    consistency_grid,
    consistency_sample,
    consistency_training_loss,
    pf_ode_flow_map,
)
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
from .likelihood import bits_per_dim, dequantize, pf_ode_log_likelihood
from .losses import LOSSES, WEIGHTINGS, dsm_loss, esm_loss, get_loss, ism_loss, loss_weight, sample_times, ssm_loss
from .metrics import energy_distance, gaussian_kl, gaussian_w2, mean_and_covariance, sliced_wasserstein
from .nets import PARAMETRIZATIONS, FourierTimeFeatures, ScoreModel, TimeMLP, score_to_eps, score_to_x0, to_score
from .samplers import (
    SAMPLERS,
    CountingScore,
    ddim,
    dpm_solver_multistep,
    euler_maruyama,
    exponential_integrator,
    get_sampler,
    integrate_sde,
    karras_grid,
    langevin_step_size,
    ode_adaptive,
    ode_euler,
    ode_heun,
    predictor_corrector,
    quadratic_grid,
    time_grid,
)
from .sde import COU, CVP, OU, SDE, SDE_NAMES, VE, VP, ReverseSDE, SubVP, make_sde
from .train import TrainConfig, TrainResult, cache_dir, cache_key, load_or_train, train
from .utils import append_dims, get_device, get_profile, randn, seed_everything, sum_except_batch

__version__ = "0.1.0"

__all__ = [
    "COU",
    "CVP",
    "LOSSES",
    "OU",
    "PARAMETRIZATIONS",
    "SAMPLERS",
    "SDE",
    "SDE_NAMES",
    "TOY_DATASETS",
    "VE",
    "VP",
    "WEIGHTINGS",
    "ConsistencyModel",
    "CountingScore",
    "ExactScore",
    "FourierTimeFeatures",
    "Gaussian",
    "GaussianMixture",
    "ReverseSDE",
    "ScoreModel",
    "SubVP",
    "TimeMLP",
    "TrainConfig",
    "TrainResult",
    "append_dims",
    "bits_per_dim",
    "cache_dir",
    "cache_key",
    "checkerboard",
    "consistency_distillation_loss",
    "consistency_grid",
    "consistency_sample",
    "consistency_training_loss",
    "ddim",
    "dequantize",
    "divergence",
    "dpm_solver_multistep",
    "dsm_loss",
    "energy_distance",
    "esm_loss",
    "euler_maruyama",
    "exponential_integrator",
    "fokker_planck_residual",
    "gaussian_kl",
    "gaussian_w2",
    "get_device",
    "get_loss",
    "get_profile",
    "get_sampler",
    "integrate_sde",
    "ism_loss",
    "karras_grid",
    "langevin_step_size",
    "load_or_train",
    "loss_weight",
    "make_sde",
    "mean_and_covariance",
    "moons",
    "ode_adaptive",
    "ode_euler",
    "ode_heun",
    "pf_ode_flow_map",
    "pf_ode_log_likelihood",
    "predictor_corrector",
    "quadratic_grid",
    "randn",
    "random_mixture",
    "ring_mixture",
    "rings",
    "sample_times",
    "score_to_eps",
    "score_to_x0",
    "seed_everything",
    "sliced_wasserstein",
    "ssm_loss",
    "sum_except_batch",
    "swiss_roll",
    "time_grid",
    "to_score",
    "toy_data",
    "train",
    "value_and_divergence",
    "value_and_hutchinson",
]
