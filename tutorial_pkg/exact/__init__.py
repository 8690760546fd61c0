"""The exact tier: closed forms for Gaussian (and some mixture) data that never draw a random number.

These are the oracles the chapters plot their measurements against; later chapters reuse earlier ones.
Every name is re-exported here, so ``from tutorial_pkg import exact`` and ``exact.contraction(...)`` suffice.

* :mod:`.forward` — the forward SDEs: the Euler–Maruyama and DDPM chains' coefficients, KL/W2 of p_T to the
  prior, TV between isotropic Gaussians;
* :mod:`.bounds` — the VP noise-term bounds of the convergence proofs, printed and corrected;
* :mod:`.reverse` — the generative family with the exact score: contraction, path covariances, the law
  started from a wrong prior, the moment ODEs;
* :mod:`.samplers` — the output laws of the discretised samplers (one affine Gaussian recursion), the
  Langevin corrector's stationary variance, DDPM's step in its own notation;
* :mod:`.score_matching` — the constants between the score-matching objectives, the variance of the
  divergence estimators, exponential-family efficiency;
* :mod:`.likelihood` — Hutchinson's variance for a matrix, bin probabilities of quantised mixture data;
* :mod:`.consistency` — flow maps, the delta_0 pair laws, the ideal consistency maps.
"""

from .bounds import vp_kernel_kl, vp_kernel_w2_sq, vp_noise_kl_bound, vp_noise_tv_bound, vp_noise_w2_sq_bound
from .consistency import (
    IDEAL_COUPLINGS,
    GaussianConsistencyFunction,
    delta0_optimal_coupling,
    delta0_pair_law,
    delta0_w2_squared,
    gaussian_flow_map,
    ideal_consistency_maps,
)
from .forward import (
    contractive_prior_kl_limit,
    ddpm_chain_moments,
    forward_em_moments,
    gaussian_tv_same_mean,
    prior_kl,
    prior_kl_lower_bound,
    prior_w2,
)
from .likelihood import binned_log_prob, hutchinson_variance, log_diff_ndtr, quadratic_forms
from .reverse import (
    check_gaussian_data,
    contraction,
    forward_correlation,
    gaussian_marginal,
    gaussian_moment_odes,
    generative_gaussian_law,
    path_covariance,
)
from .samplers import (
    DETERMINISTIC,
    ChainMoments,
    GaussianLaw,
    GaussianOutput,
    affine_gaussian_chain,
    ddpm_step,
    deterministic_sampler_moments,
    em_chain_gain,
    em_chain_moments,
    exponential_integrator_moments,
    moment_error,
    output_kl,
    output_moments,
    snr_stationary_variance,
    ula_stationary_variance,
    ula_variance_after,
)
from .score_matching import (
    ESTIMATORS,
    check_exp_family_stats,
    exp_family_mle_covariance,
    exp_family_sm_covariance,
    gaussian_dsm_constant,
    gaussian_family_stats,
    gaussian_ism_constant,
    gaussian_mle_covariance,
    gaussian_natural_params,
    gaussian_sm_covariance,
    ism_estimator_variance,
    sech_family_stats,
    sech_mean_log_cosh,
    sech_mle_covariance,
    sech_sm_covariance,
)

__all__ = [
    "DETERMINISTIC",
    "ESTIMATORS",
    "IDEAL_COUPLINGS",
    "ChainMoments",
    "GaussianConsistencyFunction",
    "GaussianLaw",
    "GaussianOutput",
    "affine_gaussian_chain",
    "binned_log_prob",
    "check_exp_family_stats",
    "check_gaussian_data",
    "contraction",
    "contractive_prior_kl_limit",
    "ddpm_chain_moments",
    "ddpm_step",
    "delta0_optimal_coupling",
    "delta0_pair_law",
    "delta0_w2_squared",
    "deterministic_sampler_moments",
    "em_chain_gain",
    "em_chain_moments",
    "exp_family_mle_covariance",
    "exp_family_sm_covariance",
    "exponential_integrator_moments",
    "forward_correlation",
    "forward_em_moments",
    "gaussian_dsm_constant",
    "gaussian_family_stats",
    "gaussian_flow_map",
    "gaussian_ism_constant",
    "gaussian_marginal",
    "gaussian_mle_covariance",
    "gaussian_moment_odes",
    "gaussian_natural_params",
    "gaussian_sm_covariance",
    "gaussian_tv_same_mean",
    "generative_gaussian_law",
    "hutchinson_variance",
    "ideal_consistency_maps",
    "ism_estimator_variance",
    "log_diff_ndtr",
    "moment_error",
    "output_kl",
    "output_moments",
    "path_covariance",
    "prior_kl",
    "prior_kl_lower_bound",
    "prior_w2",
    "quadratic_forms",
    "sech_family_stats",
    "sech_mean_log_cosh",
    "sech_mle_covariance",
    "sech_sm_covariance",
    "snr_stationary_variance",
    "ula_stationary_variance",
    "ula_variance_after",
    "vp_kernel_kl",
    "vp_kernel_w2_sq",
    "vp_noise_kl_bound",
    "vp_noise_tv_bound",
    "vp_noise_w2_sq_bound",
]
