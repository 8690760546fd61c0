"""Consistency models: the probability-flow ODE's flow map, learned (Song, Dhariwal, Chen & Sutskever 2023).

The PF-ODE has a flow map Phi(t -> s) that carries x_t to x_s along its solution, with the group property
Phi(u -> s) o Phi(t -> u) = Phi(t -> s).  A consistency model f_theta(x, t) learns Phi(t -> t_min), the map
from any point of a trajectory to its end, so one evaluation at t = T turns prior noise into a sample.

* :func:`pf_ode_flow_map` — the flow map by Heun steps with a given score (the teacher, or the exact score);
* :class:`ConsistencyModel` — f_theta(x, t) = mu + alpha_min (c_skip y + c_out F_theta), y = (x - mu)/alpha,
  with the boundary condition f(x, t_min) = x built in (Song et al. 2023, eq. 7, in our nu = sigma/alpha);
* :func:`consistency_distillation_loss` and :func:`consistency_training_loss` (Song et al. 2023, eqs. 7 and
  10): consecutive times t_n < t_{n+1} of a grid, the pair (x_{t_{n+1}}, x_{t_n}) on (about) one trajectory,
  and |f_theta(x_{t_{n+1}}, t_{n+1}) - f_target(x_{t_n}, t_n)|^2 with a frozen target network;
* :func:`consistency_sample` — one-step and multistep sampling (Song et al. 2023, Alg. 1).

Coupling in consistency training.  Song et al. draw x_{t_{n+1}} = x_0 + t_{n+1} z and x_{t_n} = x_0 + t_n z
with the *same* z; Tang & Zhao (§5.2) describe the two points as independent.  Both are implemented
(``coupling="shared"`` / ``"independent"``); chapter 08 measures the difference.
"""

from __future__ import annotations

import torch
from torch import nn

from .grids import increasing_karras_grid
from .nets import TimeMLP, call_network
from .samplers.ode import heun_step, ode_heun
from .sde import check_sde
from .utils import append_dims, batch_time, check_generator, randn

__all__ = [
    "pf_ode_flow_map",
    "ConsistencyModel",
    "consistency_grid",
    "consistency_distillation_loss",
    "consistency_training_loss",
    "consistency_sample",
    "CONSISTENCY_LOSSES",
    "COUPLINGS",
]


def pf_ode_flow_map(sde, score, x: torch.Tensor, t: float, s: float, n_steps: int = 50) -> torch.Tensor:
    """Phi(t -> s): the PF-ODE solution at time ``s`` started from ``x: (B, *D)`` at time ``t``.

    :func:`~tutorial_pkg.ode_heun` on ``n_steps`` uniform steps, backwards (s < t) or forwards (s > t).
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
    if float(t) == float(s):
        return x.clone()
    return ode_heun(sde, score, x, torch.linspace(float(t), float(s), n_steps + 1, dtype=torch.float64))


class ConsistencyModel(nn.Module):
    """f_theta(x, t) ~ Phi(t -> t_min)(x), exact at t = t_min by construction.

    With y = (x - mu)/alpha(t) and nu = sigma(t)/alpha(t) (the variance-exploding variable, in which the
    PF-ODE is dy/dnu = -nu grad log p), the output is

        f(x, t) = mu + alpha(t_min) [ c_skip(nu) y + c_out(nu) F_theta(y / sqrt(s_d^2 + nu^2), t) ],
        c_skip = s_d^2 / ((nu - nu_min)^2 + s_d^2),   c_out = s_d (nu - nu_min) / sqrt(s_d^2 + nu^2),

    Song et al.'s (2023, App. C) choices, shifted so that c_skip = 1 and c_out = 0 at nu_min = nu(t_min).
    ``sigma_data`` (s_d) is the data's spread.  ``x: (B, *D)``, ``t`` a float or ``(B,)`` -> ``(B, *D)``.
    """

    def __init__(self, net: nn.Module, sde, t_min: float = 1e-3, sigma_data: float = 1.0):
        super().__init__()
        check_sde(sde)
        if not 0 < t_min < sde.T:
            raise ValueError(f"t_min must lie in (0, T) = (0, {sde.T:g}), got {t_min}")
        self.net, self.sde, self.t_min, self.sigma_data = net, sde, float(t_min), float(sigma_data)

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        if not torch.is_tensor(x) or x.ndim < 2 or not x.is_floating_point():
            raise ValueError(f"x must be a floating tensor of shape (B, *D), got {getattr(x, 'shape', type(x))}")
        t = batch_time(self.sde.check_time(t, like=x), x)
        sde, sd = self.sde, self.sigma_data
        alpha = append_dims(sde.mean_coeff(t), x.ndim)
        nu = append_dims(sde.std(t), x.ndim) / alpha
        t_min = torch.full_like(t, self.t_min)
        alpha_min = append_dims(sde.mean_coeff(t_min), x.ndim)
        nu_min = append_dims(sde.std(t_min), x.ndim) / alpha_min
        mu = sde._mu_like(x)
        y = (x - mu) / alpha
        c_skip = sd**2 / ((nu - nu_min) ** 2 + sd**2)
        c_out = sd * (nu - nu_min) / torch.sqrt(sd**2 + nu**2)
        out = call_network(self.net, y / torch.sqrt(sd**2 + nu**2), t)
        return mu + alpha_min * (c_skip * y + c_out * out)

    @classmethod
    def build(cls, dim: int, sde, *, hidden: int = 128, depth: int = 3, n_frequencies: int = 8, t_min: float = 1e-3):
        """A consistency model on a :class:`~tutorial_pkg.TimeMLP` backbone (float32)."""
        return cls(TimeMLP(dim, hidden, depth, n_frequencies, T=sde.T).float(), sde, t_min)


def consistency_grid(sde, n_points: int, t_min: float) -> torch.Tensor:
    """The increasing discretisation t_min = t_1 < ... < t_N = T of Song et al. 2023 (Karras spacing, rho = 7):
    :func:`~tutorial_pkg.increasing_karras_grid` with N = ``n_points``."""
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 2:
        raise ValueError(f"n_points must be an int >= 2, got {n_points!r}")
    return increasing_karras_grid(sde, n_points - 1, t_min)


def _adjacent_times(x0: torch.Tensor, grid: torch.Tensor, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample an index n uniform in {0, ..., N-2}; returns (t_n, t_{n+1}), each ``(B,)``."""
    check_generator(generator)
    device = generator.device if generator is not None else x0.device
    n = torch.randint(0, grid.numel() - 1, (x0.shape[0],), generator=generator, device=device).cpu()
    grid = grid.to(dtype=x0.dtype)
    return grid[n].to(x0.device), grid[n + 1].to(x0.device)


def consistency_distillation_loss(
    model,
    x0: torch.Tensor,
    sde,
    *,
    target,
    teacher,
    n_points: int = 18,
    t_min: float = 1e-3,
    grid: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Consistency distillation (Song et al. 2023, eq. 7; Tang & Zhao eq. 5.16), per sample ``(B,)``.

    x_{t_{n+1}} ~ p_{t_{n+1}} from the kernel; x_hat_{t_n} one Heun step of the PF-ODE with the ``teacher``
    score; loss |model(x_{t_{n+1}}, t_{n+1}) - target(x_hat_{t_n}, t_n)|^2, ``target`` frozen (no gradient).
    ``grid`` is :func:`consistency_grid` ``(sde, n_points, t_min)``, computed here unless given (the training
    loop computes it once).
    """
    grid = consistency_grid(sde, n_points, t_min) if grid is None else grid
    t_lo, t_hi = _adjacent_times(x0, grid, generator)
    x_hi, _ = sde.sample_marginal(x0, t_hi, generator=generator)
    with torch.no_grad():
        x_lo = heun_step(sde.probability_flow(teacher).drift, x_hi, t_hi, t_lo)
        aim = target(x_lo, t_lo)
    return ((model(x_hi, t_hi) - aim) ** 2).flatten(1).sum(1)


def consistency_training_loss(
    model,
    x0: torch.Tensor,
    sde,
    *,
    target,
    n_points: int = 18,
    t_min: float = 1e-3,
    coupling: str = "shared",
    grid: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Consistency training without a teacher (Song et al. 2023, eq. 10), per sample ``(B,)``.

    x_{t_k} = mu + alpha_k (x_0 - mu) + sigma_k z_k for the two adjacent times, with one z for both
    (``coupling="shared"``, Song et al.) or two independent draws (``"independent"``, as Tang & Zhao word it).
    ``grid`` as in :func:`consistency_distillation_loss`.
    """
    if coupling not in COUPLINGS:
        raise ValueError(f"coupling must be one of {', '.join(COUPLINGS)}, got {coupling!r}")
    grid = consistency_grid(sde, n_points, t_min) if grid is None else grid
    t_lo, t_hi = _adjacent_times(x0, grid, generator)
    x_hi, z = sde.sample_marginal(x0, t_hi, generator=generator)
    mean_lo, std_lo = sde.marginal(x0, t_lo)
    if coupling == "independent":
        z = randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
    with torch.no_grad():
        aim = target(mean_lo + std_lo * z, t_lo)
    return ((model(x_hi, t_hi) - aim) ** 2).flatten(1).sum(1)


#: The consistency losses by the name ``TrainConfig.loss`` takes.
CONSISTENCY_LOSSES = {"cd": consistency_distillation_loss, "ct": consistency_training_loss}
#: The two couplings of the pair in consistency training.
COUPLINGS = ("shared", "independent")


def consistency_sample(
    model, sde, x_T: torch.Tensor, taus: tuple[float, ...] = (), *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One-step (``taus=()``) or multistep consistency sampling (Song et al. 2023, Alg. 1).

    x <- f(x_T, T); then for each tau (decreasing): re-noise x to time tau with the forward kernel and map it
    back with f(., tau).  ``x_T: (B, *D)`` drawn by the caller (from the prior).
    """
    check_sde(sde)
    for tau in taus:
        if not 0 < tau < sde.T:
            raise ValueError(f"each tau must lie in (0, T) = (0, {sde.T:g}), got {tau!r}")
    with torch.no_grad():
        x = model(x_T, sde.T)
        for tau in taus:
            x_tau, _ = sde.sample_marginal(x, float(tau), generator=generator)
            x = model(x_tau, tau)
    return x

