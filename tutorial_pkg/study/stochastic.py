"""Stochastic-calculus tools: Brownian paths, Itô and Stratonovich sums, and the strong error of Euler–Maruyama.

Conventions (a *path* keeps time on dimension 1, after the batch):

* a time grid ``ts`` is a 1-D, strictly increasing tensor ``t_0 < t_1 < ... < t_N``;
* Brownian increments are ``dW: (B, N, *D)`` with ``dW[:, k] = W(t_{k+1}) - W(t_k)``;
* a path is ``(B, N + 1, *D)``, its value at ``t_k`` in ``path[:, k]``;
* randomness only through ``generator=`` (drawn on the generator's device, see :func:`tutorial_pkg.randn`).

The layout is the package's one layout for a path's draws: batch first, as ``integrate_sde(noise=)`` takes
them (there the standard normal draws z, here the increments dW = sqrt(h) z).

The Euler–Maruyama loop of the course is :func:`tutorial_pkg.integrate_sde`.  To measure its *strong*
error one needs the exact solution driven by the *same* Brownian motion, so this module records an
``integrate_sde`` run (:func:`record_path`), reads back the increments that drove it
(:func:`recover_increments`) and builds the exact Ornstein–Uhlenbeck solution from them
(:func:`ou_exact_path`).  Geometric Brownian motion, whose noise is multiplicative (which
``integrate_sde``, built for the additive noise g(t) of diffusion models, does not cover), has its
scheme and exact solution here too (:func:`gbm_euler_maruyama`, :func:`gbm_exact`): it is the
textbook example of strong order 1/2 (Kloeden & Platen 1992, ch. 10 and 14; Øksendal 2003, ch. 3–5).
"""

from __future__ import annotations

import torch

from ..grids import check_grid
from ..samplers import Trajectory, integrate_sde
from ..sde import OU
from ..utils import append_dims, randn

__all__ = [
    "brownian_increments",
    "brownian_path",
    "coarsen_increments",
    "quadratic_variation",
    "ito_integral",
    "stratonovich_integral",
    "record_path",
    "recover_increments",
    "ou_exact_path",
    "gbm_euler_maruyama",
    "gbm_exact",
]


def _check_grid(ts) -> torch.Tensor:
    return check_grid(ts, decreasing=False)


def _steps_like(ts: torch.Tensor, dW: torch.Tensor) -> torch.Tensor:
    """Step sizes ``h_k`` shaped ``(1, N, 1, ...)`` to broadcast against ``dW: (B, N, *D)``."""
    ts = _check_grid(ts).to(dW)
    if dW.ndim < 2 or dW.shape[1] != ts.numel() - 1:
        raise ValueError(
            f"dW must have shape (B, N, *D) with N = len(ts) - 1 = {ts.numel() - 1}, got {tuple(dW.shape)}"
        )
    return append_dims(ts.diff(), dW.ndim - 1).unsqueeze(0)


# ----------------------------------------------------------------------------------------------
# Brownian motion
# ----------------------------------------------------------------------------------------------


def brownian_increments(
    n_paths: int,
    ts: torch.Tensor,
    event_shape: tuple[int, ...] = (),
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Increments of a standard Brownian motion on the grid ``ts``: ``dW: (n_paths, N, *event_shape)``.

    ``W(t_{k+1}) - W(t_k) ~ N(0, (t_{k+1} - t_k) I)``, independent over k (the definition of Brownian
    motion; Øksendal 2003, §2.2).  The coordinates of a ``D``-shaped event are independent motions.
    """
    if not isinstance(n_paths, int) or n_paths < 1:
        raise ValueError(f"n_paths must be a positive int, got {n_paths!r}")
    ts = _check_grid(ts)
    dtype = dtype or (ts.dtype if ts.is_floating_point() else torch.get_default_dtype())
    z = randn((n_paths, ts.numel() - 1, *event_shape), generator=generator, dtype=dtype, device=ts.device)
    return z * _steps_like(ts, z).sqrt()


def brownian_path(dW: torch.Tensor, start: float | torch.Tensor = 0.0) -> torch.Tensor:
    """The path ``W(t_k) = start + sum_{j<k} dW_j`` from increments ``(B, N, *D)``: shape ``(B, N + 1, *D)``."""
    first = torch.zeros_like(dW[:, :1]) + start
    return torch.cat([first, first + dW.cumsum(dim=1)], dim=1)


def coarsen_increments(dW: torch.Tensor, factor: int) -> torch.Tensor:
    """Sum ``factor`` consecutive increments: the same Brownian path seen on a grid ``factor`` times coarser.

    ``dW: (B, N, *D)`` with N divisible by ``factor``; returns ``(B, N // factor, *D)``.  With
    ``ts[::factor]`` as the coarse grid this is what lets schemes with different step sizes be
    driven by one Brownian motion (a strong-error study).
    """
    if not isinstance(factor, int) or factor < 1 or dW.shape[1] % factor:
        raise ValueError(f"factor must be a positive int dividing N = {dW.shape[1]}, got {factor!r}")
    return dW.reshape(dW.shape[0], dW.shape[1] // factor, factor, *dW.shape[2:]).sum(dim=2)


def quadratic_variation(path: torch.Tensor) -> torch.Tensor:
    """Running quadratic variation ``sum_{j<k} (X(t_{j+1}) - X(t_j))^2`` of a path ``(B, N + 1, *D)``.

    Returns ``(B, N + 1, *D)`` starting at 0.  For Brownian motion the last entry tends to ``t_N`` as the
    mesh goes to 0, with mean exactly ``t_N`` and variance ``2 sum_k h_k^2``.
    """
    return brownian_path(path.diff(dim=1) ** 2)


# ----------------------------------------------------------------------------------------------
# Stochastic integrals as Riemann sums
# ----------------------------------------------------------------------------------------------


def _check_integrand(H: torch.Tensor, dW: torch.Tensor) -> None:
    if H.shape[0] != dW.shape[0] or H.shape[1] != dW.shape[1] + 1 or H.shape[2:] != dW.shape[2:]:
        raise ValueError(
            f"the integrand must be given at the N + 1 grid times: expected shape "
            f"({dW.shape[0]}, {dW.shape[1] + 1}, ...) matching dW {tuple(dW.shape)}, got {tuple(H.shape)}"
        )


def ito_integral(H: torch.Tensor, dW: torch.Tensor) -> torch.Tensor:
    """Running Itô sum ``I_k = sum_{j<k} H(t_j) (W(t_{j+1}) - W(t_j))`` (left end points).

    ``H: (B, N + 1, *D)`` is the integrand on the grid (only ``H[:, :-1]`` is used: the integrand
    is evaluated *before* the increment, which makes the sum a martingale); ``dW: (B, N, *D)``.
    Returns ``(B, N + 1, *D)`` starting at 0 (Øksendal 2003, ch. 3; Claustre 2025, App. A.1.2).
    """
    _check_integrand(H, dW)
    return brownian_path(H[:, :-1] * dW)


def stratonovich_integral(H: torch.Tensor, dW: torch.Tensor) -> torch.Tensor:
    """Running Stratonovich (trapezoidal) sum ``sum_{j<k} (H(t_j) + H(t_{j+1}))/2 (W(t_{j+1}) - W(t_j))``.

    Same shapes as :func:`ito_integral`.  For ``H = W`` it telescopes to ``W(t_k)^2 / 2`` exactly,
    the ordinary chain rule; the Itô sum differs from it by half the quadratic variation.
    """
    _check_integrand(H, dW)
    return brownian_path(0.5 * (H[:, :-1] + H[:, 1:]) * dW)


# ----------------------------------------------------------------------------------------------
# Euler–Maruyama runs and the exact solutions driven by the same Brownian motion
# ----------------------------------------------------------------------------------------------


def record_path(
    process, x0: torch.Tensor, ts: torch.Tensor, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Run :func:`tutorial_pkg.integrate_sde` from ``x0: (B, *D)`` along ``ts`` and keep every state.

    Returns the Euler–Maruyama path ``(B, N + 1, *D)`` (``path[:, 0] = x0``, ``path[:, -1]`` is what
    ``integrate_sde`` returns), recorded by a :class:`~tutorial_pkg.Trajectory`.
    """
    trajectory = Trajectory(x0, float(torch.as_tensor(ts)[0]))
    integrate_sde(process, x0, ts, generator=generator, callback=trajectory)
    return trajectory.states.to(device=x0.device)


def recover_increments(process, path: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """The Brownian increments that drove an Euler–Maruyama path: ``dW: (B, N, *D)``.

    Euler–Maruyama is ``x_{k+1} = x_k + f(x_k, t_k) h_k + g(t_k) dW_k``, so
    ``dW_k = (x_{k+1} - x_k - f(x_k, t_k) h_k) / g(t_k)`` (exact up to rounding).  Needs ``g != 0`` and
    ``path: (B, N + 1, *D)`` on the increasing grid ``ts`` that produced it.
    """
    ts = _check_grid(ts).to(path)
    if path.ndim < 2 or path.shape[1] != ts.numel():
        raise ValueError(
            f"path must have shape (B, N + 1, *D) with N + 1 = len(ts) = {ts.numel()}, got {tuple(path.shape)}"
        )
    batch = path.shape[0]
    out = []
    for k in range(ts.numel() - 1):
        t, h = ts[k], ts[k + 1] - ts[k]
        g = process.diffusion(t.expand(batch))
        if bool((g == 0).any()):
            raise ValueError("the diffusion vanishes at some step: the increments cannot be recovered there")
        x = path[:, k]
        out.append((path[:, k + 1] - x - process.drift(x, t.expand(batch)) * h) / append_dims(g, x.ndim))
    return torch.stack(out, dim=1)


def ou_exact_path(
    sde, x0: torch.Tensor, ts: torch.Tensor, dW: torch.Tensor, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The exact OU solution on the grid, driven by a Brownian motion with the given grid increments.

    For ``dX = theta (mu - X) dt + sigma dW`` (Claustre 2025, §3.1; Tang & Zhao 2024, eq. 3.1),

        X(t_{k+1}) = mu + e^{-theta h} (X(t_k) - mu) + sigma I_k,
        I_k = int_{t_k}^{t_{k+1}} e^{-theta (t_{k+1} - s)} dW_s,   h = t_{k+1} - t_k.

    ``(I_k, dW_k)`` is a centred Gaussian pair with Var dW_k = h, Var I_k = (1 - e^{-2 theta h}) / (2 theta),
    Cov = (1 - e^{-theta h}) / theta; so given ``dW_k`` we draw ``I_k = (Cov / h) dW_k + sqrt(Var I_k - Cov^2 / h) xi``
    with fresh ``xi`` (the Brownian path between grid points is a bridge, independent of everything else).
    The result has the law of the true solution *jointly* with the increments, which is what a strong error
    E|X(T) - Y_N| needs.  ``sde`` must be :class:`tutorial_pkg.OU`; ``x0: (B, *D)``, ``dW: (B, N, *D)``;
    returns ``(B, N + 1, *D)``.
    """
    if not isinstance(sde, OU):
        raise TypeError(f"ou_exact_path needs a tp.OU process, got {type(sde).__name__} (its formula is OU's only)")
    h = _steps_like(ts, dW)
    if dW.shape[0] != x0.shape[0] or dW.shape[2:] != x0.shape[1:]:
        raise ValueError(f"dW {tuple(dW.shape)} does not match x0 {tuple(x0.shape)}: expected (B, N, *D)")
    theta, sigma = sde.theta, sde.sigma
    mu = sde._mu_like(x0)
    decay = torch.exp(-theta * h)
    cov = -torch.expm1(-theta * h) / theta
    var_i = -torch.expm1(-2 * theta * h) / (2 * theta)
    resid = (var_i - cov**2 / h).clamp_min(0).sqrt()
    xi = randn(tuple(dW.shape), generator=generator, dtype=dW.dtype, device=dW.device)
    noise = sigma * (cov / h * dW + resid * xi)
    xs = [x0]
    for k in range(dW.shape[1]):
        xs.append(mu + decay[:, k] * (xs[-1] - mu) + noise[:, k])
    return torch.stack(xs, dim=1)


def gbm_euler_maruyama(x0: torch.Tensor, drift: float, vol: float, ts: torch.Tensor, dW: torch.Tensor) -> torch.Tensor:
    """Euler–Maruyama for geometric Brownian motion ``dX = drift X dt + vol X dW``, driven by ``dW``.

    ``Y_{k+1} = Y_k (1 + drift h_k + vol dW_k)`` (multiplicative noise, strong order 1/2).
    ``x0: (B, *D)``, ``dW: (B, N, *D)``; returns the path ``(B, N + 1, *D)``.
    """
    h = _steps_like(ts, dW)
    factors = 1 + drift * h + vol * dW
    return torch.cat([x0.unsqueeze(1), x0.unsqueeze(1) * factors.cumprod(dim=1)], dim=1)


def gbm_exact(x0: torch.Tensor, drift: float, vol: float, ts: torch.Tensor, dW: torch.Tensor) -> torch.Tensor:
    """The exact GBM ``X(t) = x0 exp((drift - vol^2 / 2) t + vol W(t))`` on the grid (Itô's formula on log X).

    Depends on the Brownian path only through its grid values; shapes as :func:`gbm_euler_maruyama`.
    """
    ts = _check_grid(ts).to(dW)
    _steps_like(ts, dW)
    t = append_dims(ts - ts[0], dW.ndim - 1).unsqueeze(0)
    return x0.unsqueeze(1) * torch.exp((drift - 0.5 * vol**2) * t + vol * brownian_path(dW))
