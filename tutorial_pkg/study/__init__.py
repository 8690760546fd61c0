"""The study tier: procedures that run the library and measure it (they draw samples; the exact tier does not).

Every name is re-exported here, so ``from tutorial_pkg import study`` and ``study.score_error_profile(...)``
suffice.

* :mod:`.stochastic` — Brownian paths, Itô and Stratonovich sums, recorded Euler–Maruyama paths, their
  Brownian increments, and the exact OU and GBM solutions driven by the same noise;
* :mod:`.score_error` — a score's error against the exact score, time-resolved and integrated; the DSM floor;
* :mod:`.score_matching` — score-matching and maximum-likelihood estimators of an exponential family;
* :mod:`.samplers` — score evaluations and time of a run, error-vs-NFE sweeps, the Langevin corrector alone;
* :mod:`.likelihood` — the integrated Jacobian behind Hutchinson's likelihood, fresh probes inside RK45;
* :mod:`.consistency` — the pair of points a consistency loss compares.
"""

from .consistency import training_pair
from .likelihood import fresh_probe_log_likelihood, pf_ode_jacobian_integral
from .samplers import SweepPoint, langevin_chain, nfe_sweep, run_counted
from .score_error import ScoreErrorProfile, dsm_excess, dsm_floor, integrated_score_error, score_error_profile
from .score_matching import exp_family_sm_estimate, sech_mle, sech_sample, sech_sm_estimate
from .stochastic import (
    brownian_increments,
    brownian_path,
    coarsen_increments,
    gbm_euler_maruyama,
    gbm_exact,
    ito_integral,
    ou_exact_path,
    quadratic_variation,
    record_path,
    recover_increments,
    stratonovich_integral,
)

__all__ = [
    "ScoreErrorProfile",
    "SweepPoint",
    "brownian_increments",
    "brownian_path",
    "coarsen_increments",
    "dsm_excess",
    "dsm_floor",
    "exp_family_sm_estimate",
    "fresh_probe_log_likelihood",
    "gbm_euler_maruyama",
    "gbm_exact",
    "integrated_score_error",
    "ito_integral",
    "langevin_chain",
    "nfe_sweep",
    "ou_exact_path",
    "pf_ode_jacobian_integral",
    "quadratic_variation",
    "record_path",
    "recover_increments",
    "run_counted",
    "score_error_profile",
    "sech_mle",
    "sech_sample",
    "sech_sm_estimate",
    "stratonovich_integral",
    "training_pair",
]
