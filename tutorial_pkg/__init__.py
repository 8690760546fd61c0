"""tutorial_pkg: the companion package of the course "Score-based diffusion models via SDEs".

The package has five tiers; the library is flat and everything public in it is re-exported here
(``import tutorial_pkg as tp``).  The library never imports the other tiers (a test checks it).

**The library** (one concept per module):

* :mod:`~tutorial_pkg.sde` — forward SDEs (OU, VE, VP, SubVP, COU, CVP, Brownian), the generative family,
  the noise-to-signal ratio and its inverse, the subclassing contract (:func:`check_contract`);
* :mod:`~tutorial_pkg.distributions` — Gaussian mixtures with exact diffused marginals and scores; the
  ideal score of a finite data set;
* :mod:`~tutorial_pkg.datasets` — toy data generated in code, the standard test mixtures, batch drawing;
* :mod:`~tutorial_pkg.grids` — sampling time grids (uniform, quadratic, Karras) with one signature;
* :mod:`~tutorial_pkg.losses` — explicit, implicit, sliced and denoising score matching, weightings;
* :mod:`~tutorial_pkg.nets` — parametrisations, the time-conditioned MLP, the model wrapper, the network
  registry;
* :mod:`~tutorial_pkg.samplers` — Euler–Maruyama, exponential integrator (DDPM/DDIM), DDIM with eta,
  DPM-Solver++, predictor–corrector, probability-flow ODE solvers; :func:`sample`, :class:`Trajectory`;
* :mod:`~tutorial_pkg.likelihood` — log-likelihoods through the probability-flow ODE, bits per dimension;
* :mod:`~tutorial_pkg.consistency` — the PF-ODE flow map and consistency models (distillation, training);
* :mod:`~tutorial_pkg.training` — the training configuration, objectives, loop and cache of trained models;
* :mod:`~tutorial_pkg.metrics` — Gaussian KL/W2, sliced Wasserstein (and against a data floor), energy
  distance, nearest distances;
* :mod:`~tutorial_pkg.stats` — means with standard errors, z-scores, fitted orders of convergence;
* :mod:`~tutorial_pkg.autodiff` — exact divergences and Jacobians, Hutchinson probes, Fokker–Planck residuals;
* :mod:`~tutorial_pkg.utils` — devices, seeding, broadcasting, argument checks, run profiles.

**The other tiers** (imported by name, e.g. ``from tutorial_pkg import exact, study``):

* :mod:`~tutorial_pkg.exact` — closed forms for Gaussian data that never sample: the oracles;
* :mod:`~tutorial_pkg.study` — procedures that run the library and measure it;
* :mod:`~tutorial_pkg.recipes` — the trained models several chapters share;
* :mod:`~tutorial_pkg.checks` — the exercise checkers;
* :mod:`~tutorial_pkg.course` — book tooling: the exercise-notebook generator, the figure style and helpers.
"""

from ._version import __version__
from .autodiff import (
    PROBES,
    divergence,
    draw_probes,
    fokker_planck_residual,
    jacobian,
    value_and_divergence,
    value_and_hutchinson,
    value_and_jacobian,
)
from .consistency import (
    CONSISTENCY_LOSSES,
    COUPLINGS,
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
    draw_batch,
    moons,
    random_mixture,
    ring_mixture,
    rings,
    swiss_roll,
    toy_data,
)
from .distributions import ExactScore, Gaussian, GaussianMixture, IdealScore
from .grids import GRIDS, check_grid, increasing_karras_grid, karras_grid, make_grid, quadratic_grid, uniform_grid
from .likelihood import bits_per_dim, dequantize, pf_ode_field_and_divergence, pf_ode_log_likelihood
from .losses import LOSSES, WEIGHTINGS, dsm_loss, esm_loss, get_loss, ism_loss, loss_weight, sample_times, ssm_loss
from .metrics import (
    SlicedW2Floor,
    energy_distance,
    gaussian_kl,
    gaussian_w2,
    mean_and_covariance,
    nearest_distance,
    random_projections,
    sliced_wasserstein,
)
from .nets import (
    NETWORKS,
    PARAMETRIZATIONS,
    FourierTimeFeatures,
    ScoreModel,
    TimeMLP,
    build_network,
    call_network,
    network_parameters,
    score_to_eps,
    score_to_x0,
    to_score,
)
from .samplers import (
    PREDICTORS,
    SAMPLERS,
    STOCHASTIC_SAMPLERS,
    CountingScore,
    Trajectory,
    ddim,
    dpm_solver_multistep,
    euler_maruyama,
    exponential_integrator,
    get_sampler,
    heun_step,
    integrate_sde,
    langevin_step_size,
    ode_adaptive,
    ode_euler,
    ode_heun,
    predictor_corrector,
    resolve_sampler,
    sample,
    solve_ivp_torch,
)
from .sde import (
    COU,
    CVP,
    OU,
    SDE,
    SDE_NAMES,
    VE,
    VP,
    Brownian,
    ReverseSDE,
    SubVP,
    check_contract,
    check_sde,
    make_sde,
    sde_parameters,
)
from .stats import MeanSE, OrderFit, fit_order, mean_stderr, moment_z_scores, variance_z_score
from .training import (
    CACHE_FORMAT,
    OBJECTIVES,
    TrainConfig,
    TrainResult,
    cache_dir,
    cache_key,
    load_or_train,
    loss_options,
    make_objective,
    train,
)
from .utils import (
    PROFILES,
    ScoreFn,
    append_dims,
    get_device,
    get_profile,
    randn,
    seed_everything,
    sum_except_batch,
)

__all__ = [
    "CACHE_FORMAT",
    "CONSISTENCY_LOSSES",
    "COU",
    "COUPLINGS",
    "CVP",
    "GRIDS",
    "LOSSES",
    "NETWORKS",
    "OBJECTIVES",
    "OU",
    "PARAMETRIZATIONS",
    "PREDICTORS",
    "PROBES",
    "PROFILES",
    "SAMPLERS",
    "SDE",
    "SDE_NAMES",
    "STOCHASTIC_SAMPLERS",
    "TOY_DATASETS",
    "VE",
    "VP",
    "WEIGHTINGS",
    "Brownian",
    "ConsistencyModel",
    "CountingScore",
    "ExactScore",
    "FourierTimeFeatures",
    "Gaussian",
    "GaussianMixture",
    "IdealScore",
    "MeanSE",
    "OrderFit",
    "ReverseSDE",
    "ScoreFn",
    "ScoreModel",
    "SlicedW2Floor",
    "SubVP",
    "TimeMLP",
    "TrainConfig",
    "TrainResult",
    "Trajectory",
    "__version__",
    "append_dims",
    "bits_per_dim",
    "build_network",
    "cache_dir",
    "cache_key",
    "call_network",
    "check_contract",
    "check_grid",
    "check_sde",
    "checkerboard",
    "consistency_distillation_loss",
    "consistency_grid",
    "consistency_sample",
    "consistency_training_loss",
    "ddim",
    "dequantize",
    "divergence",
    "dpm_solver_multistep",
    "draw_batch",
    "draw_probes",
    "dsm_loss",
    "energy_distance",
    "esm_loss",
    "euler_maruyama",
    "exponential_integrator",
    "fit_order",
    "fokker_planck_residual",
    "gaussian_kl",
    "gaussian_w2",
    "get_device",
    "get_loss",
    "get_profile",
    "get_sampler",
    "heun_step",
    "increasing_karras_grid",
    "integrate_sde",
    "ism_loss",
    "jacobian",
    "karras_grid",
    "langevin_step_size",
    "load_or_train",
    "loss_options",
    "loss_weight",
    "make_grid",
    "make_objective",
    "make_sde",
    "mean_and_covariance",
    "mean_stderr",
    "moment_z_scores",
    "moons",
    "nearest_distance",
    "network_parameters",
    "ode_adaptive",
    "ode_euler",
    "ode_heun",
    "pf_ode_field_and_divergence",
    "pf_ode_flow_map",
    "pf_ode_log_likelihood",
    "predictor_corrector",
    "quadratic_grid",
    "randn",
    "random_mixture",
    "random_projections",
    "resolve_sampler",
    "ring_mixture",
    "rings",
    "sample",
    "sample_times",
    "score_to_eps",
    "score_to_x0",
    "sde_parameters",
    "seed_everything",
    "sliced_wasserstein",
    "solve_ivp_torch",
    "ssm_loss",
    "sum_except_batch",
    "swiss_roll",
    "toy_data",
    "to_score",
    "train",
    "uniform_grid",
    "value_and_divergence",
    "value_and_hutchinson",
    "value_and_jacobian",
    "variance_z_score",
]
