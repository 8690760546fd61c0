"""Samplers for the generative family: plain functions with one shared signature.

    sampler(sde, score, x, ts, *, generator=None, callback=None, progress=False, **options) -> x

* ``score(x, t)`` is a callable, a trained network or :class:`~tutorial_pkg.ExactScore`;
* ``x: (B, *D)`` is the state at ``ts[0]`` (the caller draws it: from the prior, or from the exact
  p_T to isolate the discretisation error);
* ``ts`` is a 1-D grid of forward times from ``T`` down to ``t_min`` (:mod:`tutorial_pkg.grids`);
* ``callback(i, t, x)`` is called after step ``i`` with the new time and state (:class:`Trajectory` records
  them); ``generator`` drives every random draw; ``progress`` shows a bar;
* the stochastic samplers (:data:`STOCHASTIC_SAMPLERS`) take ``noise=``, the standard normal draws of the
  whole run, ``(B, M, *D)`` in the order each documents.

Modules: :mod:`.euler` (:func:`integrate_sde`, the Euler–Maruyama loop, forward or backward;
:func:`euler_maruyama`), :mod:`.ode` (probability-flow ODE: Euler, Heun, adaptive; :func:`heun_step`,
:func:`solve_ivp_torch`), :mod:`.exponential` (exponential integrator = DDPM/DDIM, DDIM with eta,
DPM-Solver++), :mod:`.langevin` (predictor–corrector), :mod:`.api` (the registry, :func:`sample`,
:class:`CountingScore`, :class:`Trajectory`), :mod:`.base` (the shared checks, step loop and noise source).
"""

from .api import SAMPLERS, STOCHASTIC_SAMPLERS, CountingScore, Trajectory, get_sampler, resolve_sampler, sample
from .base import Callback, NoiseSource
from .euler import euler_maruyama, integrate_sde
from .exponential import ddim, dpm_solver_multistep, exponential_integrator
from .langevin import PREDICTORS, langevin_step_size, predictor_corrector
from .ode import heun_step, ode_adaptive, ode_euler, ode_heun, solve_ivp_torch

__all__ = [
    "SAMPLERS",
    "STOCHASTIC_SAMPLERS",
    "PREDICTORS",
    "Callback",
    "CountingScore",
    "NoiseSource",
    "Trajectory",
    "ddim",
    "dpm_solver_multistep",
    "euler_maruyama",
    "exponential_integrator",
    "get_sampler",
    "heun_step",
    "integrate_sde",
    "langevin_step_size",
    "ode_adaptive",
    "ode_euler",
    "ode_heun",
    "predictor_corrector",
    "resolve_sampler",
    "sample",
    "solve_ivp_torch",
]
