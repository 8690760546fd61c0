"""Samplers in the variance-exploding variable: the exponential integrator (DDPM, DDIM), DDIM with eta,
and the multistep DPM-Solver++.

In y = (x - mu)/alpha(t), with nu(t) = sigma(t)/alpha(t) (:meth:`~tutorial_pkg.SDE.noise_to_signal`), every
linear forward SDE becomes dy = d(nu^2)^{1/2} dW, so DDPM and DDIM are one formula for every SDE of the course.
Each step freezes Tweedie's denoiser y0_hat = y + alpha nu^2 score(x, t) (one score evaluation).
"""

from __future__ import annotations

import math
import numbers

import torch

from ..utils import append_dims, batch_time
from .base import Callback, NoiseSource, check_inputs, checked_score, sweep

__all__ = ["exponential_integrator", "ddim", "dpm_solver_multistep"]


def _ve_view(sde, score, x: torch.Tensor, t: torch.Tensor, t_next: torch.Tensor):
    """The step in y = (x - mu)/alpha: returns y, u = y - y0_hat (Tweedie), nu, nu_next, and ``back(y_next)``
    that maps y at ``t_next`` back to x.  ``t``, ``t_next``: 0-d times."""
    tb, tb_next = batch_time(t, x), batch_time(t_next, x)  # grid times, checked once by the sampler
    alpha = append_dims(sde._at(sde._mean_coeff, tb), x.ndim)
    nu = append_dims(sde._at(sde._variance, tb).sqrt(), x.ndim) / alpha
    alpha_next = append_dims(sde._at(sde._mean_coeff, tb_next), x.ndim)
    nu_next = append_dims(sde._at(sde._variance, tb_next).sqrt(), x.ndim) / alpha_next
    mu = sde._mu_like(x)
    y = (x - mu) / alpha
    u = -alpha * nu**2 * checked_score(score, x, tb)
    return y, u, nu, nu_next, lambda y_next: mu + alpha_next * y_next


def _check_nonnegative(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value) >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def exponential_integrator(
    sde,
    score,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    h_ratio: float = 1.0,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Exponential integrator: the generative SDE solved exactly over each step with the denoiser frozen.

    In y = (x - mu) / alpha(t) and nu = sigma(t) / alpha(t) every linear forward SDE becomes dy = sqrt(d nu^2) dW,
    and the generative family with h = r g reads dy = (1 + r^2)(y - y0_hat)/nu dnu + r sqrt(d nu^2) dW_bar.
    Freezing Tweedie's denoiser y0_hat = y + alpha nu^2 score(x, t) over [t_next, t] gives the exact Gaussian step

        y' = y0_hat + (nu'/nu)^(1 + r^2) (y - y0_hat) + nu' sqrt(1 - (nu'/nu)^(2 r^2)) z,

    which is DDIM for r = 0 and DDPM's ancestral step (the posterior q(x_t' | x_t, x0_hat)) for r = 1
    (Ho et al. 2020, eq. 7; Song et al. 2021a; Lu et al. 2022, DPM-Solver++ first order).  One score
    evaluation per step; for r > 0 one draw z per step (``noise``: ``(B, N, *D)``).  It is exact when the
    denoiser is constant in time (data concentrated at one point); otherwise its error is of first order in
    the step, and for broad data its constant can be larger than Euler's (chapter 06 measures both).
    """
    ts = check_inputs(sde, score, x, ts, generator)
    r2 = _check_nonnegative("h_ratio", h_ratio) ** 2
    source = NoiseSource(noise, generator, x, ts.numel() - 1 if r2 > 0 else 0)

    def step(i, x, t, t_next):
        y, u, nu, nu_n, back = _ve_view(sde, score, x, t, t_next)
        ratio = nu_n / nu
        y_next = y - u + ratio ** (1 + r2) * u
        if r2 > 0:
            y_next = y_next + nu_n * torch.sqrt(1 - ratio ** (2 * r2)) * source()
        return back(y_next)

    return sweep(step, x, ts, callback, progress)


def ddim(
    sde,
    score,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """DDIM (Song, Meng & Ermon 2021, eq. 12) for any linear SDE, in y = (x - mu)/alpha, nu = sigma/alpha:

        y' = y0_hat + sqrt(nu'^2 - c^2) eps_hat + c z,   c = min(nu', eta nu' sqrt(1 - nu'^2 / nu^2)),

    with eps_hat = (y - y0_hat) / nu.  ``eta = 0`` is deterministic (the exponential integrator of the
    probability-flow ODE), ``eta = 1`` the DDPM ancestral step (``exponential_integrator(h_ratio=1)``).  For
    eta > 1 the fresh noise c is capped at nu', the whole noise level of the next step (as k-diffusion's
    ``sigma_up``): more noise than that would overshoot the marginal.  For eta > 0 one draw z per step
    (``noise``: ``(B, N, *D)``).
    """
    ts = check_inputs(sde, score, x, ts, generator)
    eta = _check_nonnegative("eta", eta)
    source = NoiseSource(noise, generator, x, ts.numel() - 1 if eta > 0 else 0)

    def step(i, x, t, t_next):
        y, u, nu, nu_n, back = _ve_view(sde, score, x, t, t_next)
        c = torch.minimum(eta * nu_n * torch.sqrt((1 - (nu_n / nu) ** 2).clamp(min=0)), nu_n)
        y_next = y - u + torch.sqrt((nu_n**2 - c**2).clamp(min=0)) * u / nu
        if eta > 0:
            y_next = y_next + c * source()
        return back(y_next)

    return sweep(step, x, ts, callback, progress)


def dpm_solver_multistep(
    sde,
    score,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    order: int = 2,
    lower_order_final: bool = True,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Multistep exponential integrator of the probability-flow ODE (DPM-Solver++(2M)/(3M), Lu et al. 2022b).

    In y = (x - mu)/alpha with log-noise time lam = -log nu, the PF-ODE is dy/dlam = y0_hat - y exactly, so
    y' = e^{-h} y + int e^{-(lam'-s)} y0_hat(s) ds with h = lam' - lam.  The denoiser y0_hat is replaced by
    the polynomial through the last ``order`` denoiser values (one score evaluation per step; the order
    ramps up from 1, which is DDIM):

        order 1:  y' = e^{-h} y + (1 - e^{-h}) D0
        order 2:  ... + (1 - e^{-h}) / 2 * D1,                       D1 = (D0 - D_prev) / r,  r = h_prev / h
        order 3:  ... + (phi1 + 1) D1' - (phi2 - 1/2) D2,            phi1 = (e^{-h} - 1)/h, phi2 = (e^{-h} - 1 + h)/h^2

    ``lower_order_final`` lowers the order on the last steps of short grids (< 15 steps), which keeps them
    stable.  Needs ``ts[-1] > 0`` (nu = 0 at t = 0).  Use a grid even in log nu (:func:`~tutorial_pkg.karras_grid`,
    or :func:`~tutorial_pkg.quadratic_grid`): on a uniform time grid the last step spans most of the log-noise
    range and the extrapolation is poor.  Deterministic: ``generator`` is unused.
    """
    if order not in (1, 2, 3):
        raise ValueError(f"order must be 1, 2 or 3, got {order!r}")
    ts = check_inputs(sde, score, x, ts, generator)
    if float(ts[-1]) <= 0:
        raise ValueError("dpm_solver_multistep needs a grid ending at t_min > 0 (the noise level 0 is log-singular)")
    n_steps, history = ts.numel() - 1, []  # history: (denoised y, lam) of earlier steps, newest last

    def step(i, x, t, t_next):
        y, u, nu, nu_n, back = _ve_view(sde, score, x, t, t_next)
        d0 = y - u
        lam, lam_n = -float(nu.reshape(-1)[0].log()), -float(nu_n.reshape(-1)[0].log())
        h = lam_n - lam
        k = min(order, len(history) + 1)
        if lower_order_final and n_steps < 15:
            k = min(k, n_steps - i)
        decay = math.exp(-h)
        y_next = decay * y + (1 - decay) * d0
        if k >= 2:
            d_prev, lam_prev = history[-1]
            r0 = (lam - lam_prev) / h
            d1 = (d0 - d_prev) / r0
            if k == 2:
                y_next = y_next + 0.5 * (1 - decay) * d1
            else:
                d_prev2, lam_prev2 = history[-2]
                r1 = (lam_prev - lam_prev2) / h
                d1_prev = (d_prev - d_prev2) / r1
                d2 = (d1 - d1_prev) / (r0 + r1)
                d1 = d1 + r0 * d2
                phi1, phi2 = (decay - 1) / h, (decay - 1 + h) / h**2
                y_next = y_next + (phi1 + 1) * d1 - (phi2 - 0.5) * d2
        history.append((d0, lam))
        del history[:-2]
        return back(y_next)

    return sweep(step, x, ts, callback, progress)
