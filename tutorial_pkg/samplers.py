"""Samplers for the generative family: plain functions with one shared signature.

    sampler(sde, score, x, ts, *, generator=None, callback=None, progress=False, **options) -> x

* ``score(x, t)`` is a callable, a trained network or :class:`~tutorial_pkg.ExactScore`;
* ``x: (B, *D)`` is the state at ``ts[0]`` (the caller draws it: from the prior, or from the exact
  p_T to isolate the discretisation error);
* ``ts`` is a 1-D grid of forward times from ``T`` down to ``t_min`` (see :func:`time_grid`);
* ``callback(i, t, x)`` is called after step ``i`` with the new time and state (record
  trajectories with it); ``generator`` drives every random draw; ``progress`` shows a bar.

:func:`integrate_sde` is the Euler–Maruyama loop itself: it steps any object with ``drift(x, t)``
and ``diffusion(t)`` along any monotone grid, forward (simulating the noising SDE) or backward.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from .utils import append_dims, randn

__all__ = [
    "time_grid",
    "quadratic_grid",
    "karras_grid",
    "integrate_sde",
    "euler_maruyama",
    "exponential_integrator",
    "ddim",
    "dpm_solver_multistep",
    "predictor_corrector",
    "langevin_step_size",
    "ode_euler",
    "ode_heun",
    "ode_adaptive",
    "CountingScore",
    "SAMPLERS",
    "get_sampler",
]

Callback = Callable[[int, float, torch.Tensor], None]


def time_grid(T: float, n_steps: int, t_min: float = 1e-3, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Uniform decreasing grid ``T = t_0 > t_1 > ... > t_N = t_min`` of ``n_steps + 1`` times."""
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
    if not 0 <= t_min < T:
        raise ValueError(f"need 0 <= t_min < T, got t_min={t_min}, T={T}")
    return torch.linspace(T, t_min, n_steps + 1, dtype=dtype)


def quadratic_grid(T: float, n_steps: int, t_min: float = 1e-3, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Decreasing grid with t_i = t_min + (T - t_min)(1 - i/N)^2: steps shrink quadratically towards t_min
    (Song & Ermon 2020), where the score changes fastest."""
    u = time_grid(1.0, n_steps, 0.0, dtype=dtype)
    return t_min + (T - t_min) * u**2


def karras_grid(sde, n_steps: int, t_min: float = 1e-3, *, rho: float = 7.0, dtype=torch.float64) -> torch.Tensor:
    """Karras et al. 2022 (eq. 5) spacing, in the noise-to-signal ratio nu(t) = sigma(t) / alpha(t).

    nu_i = (nu_max^(1/rho) + i/N (nu_min^(1/rho) - nu_max^(1/rho)))^rho between nu(T) and nu(t_min),
    mapped back to times by bisection (nu is increasing in t for every SDE of the course).
    """
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
    if not 0 < t_min < sde.T:
        raise ValueError(f"need 0 < t_min < T for a Karras grid (nu(0) = 0), got t_min={t_min}, T={sde.T}")

    def nu(t):
        t = torch.as_tensor(t, dtype=torch.float64)
        return sde.std(t) / sde.mean_coeff(t)

    lo_nu, hi_nu = float(nu(t_min)) ** (1 / rho), float(nu(sde.T)) ** (1 / rho)
    targets = (hi_nu + torch.linspace(0, 1, n_steps + 1, dtype=torch.float64) * (lo_nu - hi_nu)) ** rho
    lo = torch.full_like(targets, t_min)
    hi = torch.full_like(targets, sde.T)
    for _ in range(60):  # bisection to machine precision on [t_min, T]
        mid = 0.5 * (lo + hi)
        above = nu(mid) > targets
        hi, lo = torch.where(above, mid, hi), torch.where(above, lo, mid)
    ts = 0.5 * (lo + hi)
    ts[0], ts[-1] = sde.T, t_min
    return ts.to(dtype)


def _check_grid(ts: torch.Tensor, T: float | None, x: torch.Tensor) -> torch.Tensor:
    ts = torch.as_tensor(ts)
    if ts.ndim != 1 or ts.numel() < 2:
        raise ValueError(f"ts must be a 1-D grid with at least two times, got shape {tuple(ts.shape)}")
    steps = ts[1:] - ts[:-1]
    if not (bool((steps > 0).all()) or bool((steps < 0).all())):
        raise ValueError("ts must be strictly monotone (decreasing from T for sampling)")
    if T is not None:
        tol = 1e-6 * max(1.0, T)
        if float(ts.min()) < -tol or float(ts.max()) > T + tol:
            raise ValueError(f"ts must lie in [0, T] = [0, {T:g}], got [{float(ts.min()):g}, {float(ts.max()):g}]")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    return ts.to(device=x.device, dtype=x.dtype)


def _steps(ts: torch.Tensor, progress: bool):
    pairs = list(zip(ts[:-1], ts[1:], strict=True))
    return tqdm(pairs, disable=not progress, leave=False)


def integrate_sde(
    process,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Euler–Maruyama: x <- x + drift(x, t) dt + diffusion(t) sqrt(|dt|) z along the grid ``ts``.

    ``process`` is anything with ``drift(x, t)`` and ``diffusion(t)``: a forward SDE (grid
    increasing) or the generative family ``sde.reverse(score, h_ratio)`` (grid decreasing, dt < 0).
    ``noise``, optional, injects the standard normal draws z: shape ``(len(ts) - 1, *x.shape)``
    (to drive several schemes with one Brownian path); otherwise they come from ``generator``.
    Returns the state at ``ts[-1]``, shape of ``x``.
    """
    ts = _check_grid(ts, getattr(process, "T", None), x)
    if noise is not None and tuple(noise.shape) != (ts.numel() - 1, *x.shape):
        raise ValueError(f"noise must have shape {(ts.numel() - 1, *x.shape)}, got {tuple(noise.shape)}")
    batch = x.shape[0]
    for i, (t, t_next) in enumerate(_steps(ts, progress)):
        dt = t_next - t
        tb = t.expand(batch)
        g = process.diffusion(tb)
        x = x + process.drift(x, tb) * dt
        if noise is not None or bool((g != 0).any()):
            z = (
                noise[i].to(x)
                if noise is not None
                else randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            )
            x = x + append_dims(g, x.ndim) * dt.abs().sqrt() * z
        if callback is not None:
            callback(i, float(t_next), x)
    return x


def euler_maruyama(
    sde,
    score,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    h_ratio: float = 1.0,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Euler–Maruyama for the generative family with h = h_ratio * g (h_ratio = 1: reverse SDE).

    Tang & Zhao 2024, eq. (2.6) discretised with Euler–Maruyama; Cao et al. 2023 for h.
    """
    return integrate_sde(sde.reverse(score, h_ratio), x, ts, generator=generator, callback=callback, progress=progress)


def ode_euler(
    sde,
    score,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Euler's method for the probability-flow ODE dx/dt = f - g^2 score / 2 (Tang & Zhao eq. 5.6).

    Deterministic: ``generator`` is accepted for the shared signature and unused.
    """
    flow = sde.probability_flow(score)
    ts = _check_grid(ts, sde.T, x)
    for i, (t, t_next) in enumerate(_steps(ts, progress)):
        x = x + flow.drift(x, t.expand(x.shape[0])) * (t_next - t)
        if callback is not None:
            callback(i, float(t_next), x)
    return x


def ode_heun(
    sde,
    score,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Heun's second-order method for the probability-flow ODE (Karras et al. 2022, Alg. 1).

    Two score evaluations per step.  Deterministic: ``generator`` is unused.
    """
    flow = sde.probability_flow(score)
    ts = _check_grid(ts, sde.T, x)
    batch = x.shape[0]
    for i, (t, t_next) in enumerate(_steps(ts, progress)):
        dt = t_next - t
        d = flow.drift(x, t.expand(batch))
        x_euler = x + d * dt
        d_next = flow.drift(x_euler, t_next.expand(batch))
        x = x + 0.5 * (d + d_next) * dt
        if callback is not None:
            callback(i, float(t_next), x)
    return x


def _sweep(step, x: torch.Tensor, ts: torch.Tensor, callback, progress: bool) -> torch.Tensor:
    """Apply ``x <- step(i, x, t, t_next)`` along the grid, with the callback after each step."""
    batch = x.shape[0]
    for i, (t, t_next) in enumerate(_steps(ts, progress)):
        x = step(i, x, t.expand(batch), t_next.expand(batch))
        if callback is not None:
            callback(i, float(t_next), x)
    return x


def _noise_to_signal(sde, t: torch.Tensor, x: torch.Tensor):
    """alpha(t) and nu(t) = sigma(t) / alpha(t), broadcast against ``x``."""
    alpha = append_dims(sde.mean_coeff(t), x.ndim)
    return alpha, append_dims(sde.std(t), x.ndim) / alpha


def _ve_view(sde, score, x: torch.Tensor, t: torch.Tensor, t_next: torch.Tensor):
    """The step in the variance-exploding variable y = (x - mu)/alpha: returns y, u = y - y0_hat (Tweedie),
    nu, nu_next, and ``back(y_next)`` that maps y at ``t_next`` back to x."""
    alpha, nu = _noise_to_signal(sde, t, x)
    alpha_next, nu_next = _noise_to_signal(sde, t_next, x)
    mu = sde._mu_like(x)
    y = (x - mu) / alpha
    u = -alpha * nu**2 * score(x, t)
    return y, u, nu, nu_next, lambda y_next: mu + alpha_next * y_next


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
) -> torch.Tensor:
    """Exponential integrator: the generative SDE solved exactly over each step with the denoiser frozen.

    In y = (x - mu) / alpha(t) and nu = sigma(t) / alpha(t) every linear forward SDE becomes dy = sqrt(d nu^2) dW,
    and the generative family with h = r g reads dy = (1 + r^2)(y - y0_hat)/nu dnu + r sqrt(d nu^2) dW_bar.
    Freezing Tweedie's denoiser y0_hat = y + alpha nu^2 score(x, t) over [t_next, t] gives the exact Gaussian step

        y' = y0_hat + (nu'/nu)^(1 + r^2) (y - y0_hat) + nu' sqrt(1 - (nu'/nu)^(2 r^2)) z,

    which is DDIM for r = 0 and DDPM's ancestral step (the posterior q(x_t' | x_t, x0_hat)) for r = 1
    (Ho et al. 2020, eq. 7; Song et al. 2021a; Lu et al. 2022, DPM-Solver++ first order).  One score
    evaluation per step.  It is exact when the denoiser is constant in time (data concentrated at one
    point); otherwise its error is of first order in the step, and for broad data its constant can be
    larger than Euler's (chapter 06 measures both).
    """
    ts = _check_grid(ts, sde.T, x)
    r2 = float(h_ratio) ** 2
    if not r2 >= 0:
        raise ValueError(f"h_ratio must be >= 0, got {h_ratio!r}")

    def step(i, x, t, t_next):
        y, u, nu, nu_n, back = _ve_view(sde, score, x, t, t_next)
        ratio = nu_n / nu
        y_next = y - u + ratio ** (1 + r2) * u
        if r2 > 0:
            z = randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            y_next = y_next + nu_n * torch.sqrt(1 - ratio ** (2 * r2)) * z
        return back(y_next)

    return _sweep(step, x, ts, callback, progress)


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
) -> torch.Tensor:
    """DDIM (Song, Meng & Ermon 2021, eq. 12) for any linear SDE, in y = (x - mu)/alpha, nu = sigma/alpha:

        y' = y0_hat + sqrt(nu'^2 - c^2) eps_hat + c z,   c = eta nu' sqrt(1 - nu'^2 / nu^2),

    with eps_hat = (y - y0_hat) / nu.  ``eta = 0`` is deterministic (the exponential integrator of the
    probability-flow ODE), ``eta = 1`` the DDPM ancestral step (``exponential_integrator(h_ratio=1)``).
    """
    ts = _check_grid(ts, sde.T, x)
    if not 0 <= float(eta):
        raise ValueError(f"eta must be >= 0, got {eta!r}")

    def step(i, x, t, t_next):
        y, u, nu, nu_n, back = _ve_view(sde, score, x, t, t_next)
        c = eta * nu_n * torch.sqrt((1 - (nu_n / nu) ** 2).clamp(min=0))
        y_next = y - u + torch.sqrt((nu_n**2 - c**2).clamp(min=0)) * u / nu
        if eta > 0:
            y_next = y_next + c * randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return back(y_next)

    return _sweep(step, x, ts, callback, progress)


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
    stable.  Needs ``ts[-1] > 0`` (nu = 0 at t = 0).  Use a grid even in log nu (:func:`karras_grid`,
    or :func:`quadratic_grid`): on a uniform time grid the last step spans most of the log-noise range and
    the extrapolation is poor.  Deterministic: ``generator`` is unused.
    """
    if order not in (1, 2, 3):
        raise ValueError(f"order must be 1, 2 or 3, got {order!r}")
    ts = _check_grid(ts, sde.T, x)
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

    return _sweep(step, x, ts, callback, progress)


def langevin_step_size(score: torch.Tensor, noise: torch.Tensor, snr: float) -> torch.Tensor:
    """Langevin step eps = 2 (snr mean|z| / mean|s|)^2, norms averaged over the batch (Song et al. 2021a,
    Alg. 5, the "signal-to-noise" rule, as in their code).

    Averaging matters in low dimension: a per-sample ratio |z| / |s| explodes for a sample where the
    score nearly vanishes (between two modes), and one huge step throws it far away.  The price is that a
    sample's path depends on the rest of its batch.  ``score, noise: (B, *D)`` -> a 0-d tensor.
    """
    s_norm = score.reshape(score.shape[0], -1).norm(dim=1).mean()
    z_norm = noise.reshape(noise.shape[0], -1).norm(dim=1).mean()
    return 2 * (snr * z_norm / s_norm.clamp(min=1e-12)) ** 2


def predictor_corrector(
    sde,
    score,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    snr: float = 0.16,
    n_corrector: int = 1,
    predictor: str = "euler_maruyama",
    h_ratio: float = 1.0,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Predictor–corrector sampling (Song et al. 2021a, Alg. 1; Claustre 2025, §5.3).

    Each step moves t -> t_next with the predictor (``"euler_maruyama"`` with ``h_ratio``, or
    ``"exponential_integrator"``), then runs ``n_corrector`` Langevin steps targeting p_{t_next}:
    x <- x + eps s(x, t_next) + sqrt(2 eps) z, eps from :func:`langevin_step_size`.  Score evaluations:
    1 + n_corrector per step.
    """
    ts = _check_grid(ts, sde.T, x)
    if not isinstance(n_corrector, int) or n_corrector < 0:
        raise ValueError(f"n_corrector must be a non-negative int, got {n_corrector!r}")
    if not snr > 0:
        raise ValueError(f"snr must be positive, got {snr!r}")
    if predictor == "euler_maruyama":
        process = sde.reverse(score, h_ratio)

        def predict(x, t, t_next):
            return integrate_sde(process, x, torch.stack([t[0], t_next[0]]), generator=generator)
    elif predictor == "exponential_integrator":

        def predict(x, t, t_next):
            grid = torch.stack([t[0], t_next[0]])
            return exponential_integrator(sde, score, x, grid, h_ratio=h_ratio, generator=generator)
    else:
        raise ValueError(f"unknown predictor {predictor!r}; use 'euler_maruyama' or 'exponential_integrator'")

    def step(i, x, t, t_next):
        x = predict(x, t, t_next)
        for _ in range(n_corrector):
            s = score(x, t_next)
            z = randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            eps = langevin_step_size(s, z, snr)
            x = x + eps * s + torch.sqrt(2 * eps) * z
        return x

    return _sweep(step, x, ts, callback, progress)


def ode_adaptive(
    sde,
    score,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    method: str = "RK45",
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """The probability-flow ODE with an adaptive Runge–Kutta solver (``scipy.integrate.solve_ivp``).

    Integrates from ``ts[0]`` to ``ts[-1]`` with step sizes chosen by the error tolerances ``rtol``/``atol``
    (Dormand–Prince 5(4) by default, as Song et al. 2021a); the intermediate times of ``ts`` are where
    ``callback`` sees the solution.  The whole batch is one ODE system (float64 on the CPU inside scipy),
    so the solver's steps are shared by the batch.  Deterministic: ``generator`` is unused.
    """
    from scipy.integrate import solve_ivp

    ts = _check_grid(ts, sde.T, x)
    flow = sde.probability_flow(score)
    shape, device, dtype = x.shape, x.device, x.dtype

    def rhs(t, y):
        state = torch.as_tensor(y, dtype=dtype, device=device).reshape(shape)
        tt = torch.full((shape[0],), float(t), dtype=dtype, device=device)
        with torch.no_grad():
            return flow.drift(state, tt).reshape(-1).double().cpu().numpy()

    t_eval = ts.double().cpu().numpy()
    sol = solve_ivp(
        rhs,
        (t_eval[0], t_eval[-1]),
        x.reshape(-1).double().cpu().numpy(),
        method=method,
        t_eval=t_eval,
        rtol=rtol,
        atol=atol,
    )
    if not sol.success:
        raise RuntimeError(f"the ODE solver failed: {sol.message}; loosen rtol/atol or check the score for NaNs")
    states = torch.as_tensor(sol.y.T, dtype=dtype, device=device).reshape(len(t_eval), *shape)
    if callback is not None:
        for i in range(1, len(t_eval)):
            callback(i - 1, float(t_eval[i]), states[i])
    return states[-1]


class CountingScore:
    """Wrap a score to count its evaluations: ``calls`` (network calls) and ``rows`` (states evaluated).

    The number of function evaluations (NFE) of a sampler is ``calls`` after one run.
    """

    def __init__(self, score):
        self.score, self.calls, self.rows = score, 0, 0

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        self.calls += 1
        self.rows += x.shape[0]
        return self.score(x, t)


SAMPLERS: dict[str, Callable] = {
    "euler_maruyama": euler_maruyama,
    "ode_euler": ode_euler,
    "ode_heun": ode_heun,
    "ode_adaptive": ode_adaptive,
    "exponential_integrator": exponential_integrator,
    "ddim": ddim,
    "dpm_solver_multistep": dpm_solver_multistep,
    "predictor_corrector": predictor_corrector,
}


def get_sampler(name: str) -> Callable:
    """Look a sampler up by name (one of ``SAMPLERS``)."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    return SAMPLERS[name]
