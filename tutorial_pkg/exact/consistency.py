"""Exact oracles for consistency models: flow maps, the delta_0 example's pair laws, and the ideal fixed points.

A consistency model learns the probability-flow ODE's flow map Phi(t -> t_min) (Song, Dhariwal, Chen &
Sutskever 2023; Tang & Zhao 2024, §5.2).  For Gaussian data and for data at a single point everything about
that map, and about what the training objectives converge to, is known in closed form:

* :func:`gaussian_flow_map` and :class:`GaussianConsistencyFunction` — for data N(m, diag(s^2)) under a
  linear SDE (p_t = N(m_t, diag(v_t))), Phi(t -> s)(x) = m_s + sqrt(v_s / v_t) (x - m_t), coordinate by
  coordinate; the consistency function is f(x, t) = Phi(t -> t_min)(x);
* :func:`delta0_pair_law`, :func:`delta0_w2_squared`, :func:`delta0_optimal_coupling` — Tang & Zhao's
  example (§5.2, eq. 5.17): data at 0, the joint laws of the pair under the two couplings of consistency
  training and the W2 distance between them, with the coupling that attains it;
* :func:`ideal_consistency_maps` — the fixed point of the training objectives with unlimited capacity, for
  1-D Gaussian data: each objective's minimiser at t_{n+1} is a conditional expectation of the target at
  t_n, which for Gaussian data is affine, so the whole chain is a recursion on (gain, offset) pairs.

The pair a training loss actually compares is recorded by :func:`tutorial_pkg.study.training_pair`.
Shapes: states ``(B, d)``, times floats or ``(B,)``.  Everything is computed in the inputs' dtype (use
float64 for comparisons with a tolerance).
"""

from __future__ import annotations

import math

import torch

from ..consistency import pf_ode_flow_map
from ..distributions import ExactScore, Gaussian
from ..sde import SDE
from .reverse import check_gaussian_data

__all__ = [
    "gaussian_flow_map",
    "GaussianConsistencyFunction",
    "delta0_pair_law",
    "delta0_w2_squared",
    "delta0_optimal_coupling",
    "ideal_consistency_maps",
    "IDEAL_COUPLINGS",
]


#: The objectives whose ideal fixed points :func:`ideal_consistency_maps` computes.
IDEAL_COUPLINGS = ("exact", "cd", "shared", "independent")


def _moments(sde: SDE, data: Gaussian, t, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """m_t and v_t broadcastable to ``like: (B, d)`` for ``t`` a float or ``(B,)``."""
    t = sde.check_time(t, like=like)
    pt = data.diffuse(sde, t)
    loc, scale = pt.loc.to(like), pt.scale.to(like)
    if t.ndim == 1:  # batched: loc (B, d), scale (B, d) or (B, 1)
        return loc, scale**2
    return loc.expand(like.shape[-1]), (scale**2).expand(like.shape[-1])


def gaussian_flow_map(sde: SDE, data: Gaussian, x: torch.Tensor, t, s) -> torch.Tensor:
    """Phi(t -> s)(x) = m_s + sqrt(v_s / v_t) (x - m_t): the exact probability-flow map for Gaussian data.

    With data N(m, diag(s0^2)) and a linear SDE, p_t = N(m_t, diag(v_t)), m_t = mu + alpha_t (m - mu),
    v_t = alpha_t^2 s0^2 + sigma_t^2, and the PF-ODE with the exact score is linear in x - m_t with
    d/dt (x - m_t) = (1/2)(log v_t)' (x - m_t) (chapter 03, exercise 4), whence the formula, for s <= t
    (backwards, as a sampler runs) and s > t alike.  ``x: (B, d)``; ``t``, ``s`` floats or ``(B,)``.
    """
    check_gaussian_data(data)
    m_t, v_t = _moments(sde, data, t, x)
    m_s, v_s = _moments(sde, data, s, x)
    return m_s + torch.sqrt(v_s / v_t) * (x - m_t)


class GaussianConsistencyFunction:
    """The exact consistency function f(x, t) = Phi(t -> t_min)(x) of Gaussian data (a perfect model).

    Called like a trained :class:`~tutorial_pkg.ConsistencyModel`: ``f(x: (B, d), t)`` with ``t`` a float
    or ``(B,)``, so it can be passed to :func:`~tutorial_pkg.consistency_sample`.  It satisfies the
    boundary condition f(x, t_min) = x and self-consistency f(Phi(t -> s)(x), s) = f(x, t) exactly.
    """

    def __init__(self, sde: SDE, data: Gaussian, t_min: float = 1e-3):
        check_gaussian_data(data)
        if not 0 < t_min < sde.T:
            raise ValueError(f"t_min must lie in (0, T) = (0, {sde.T:g}), got {t_min}")
        self.sde, self.data, self.t_min = sde, data, float(t_min)

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        return gaussian_flow_map(self.sde, self.data, x, t, self.t_min)


# ------------------------------------------------------------------------------------------------
# Tang & Zhao's example: data at a single point (delta_0), VE
# ------------------------------------------------------------------------------------------------


def _levels(sigma_hi, sigma_lo) -> tuple[torch.Tensor, torch.Tensor]:
    sh = torch.as_tensor(sigma_hi, dtype=torch.float64) if not torch.is_tensor(sigma_hi) else sigma_hi
    sl = torch.as_tensor(sigma_lo, dtype=sh.dtype) if not torch.is_tensor(sigma_lo) else sigma_lo.to(sh)
    if bool((sh <= 0).any()) or bool((sl < 0).any()) or bool((sl > sh).any()):
        raise ValueError("need noise levels 0 <= sigma_lo <= sigma_hi with sigma_hi > 0")
    return sh, sl


def delta0_pair_law(sigma_hi: float, sigma_lo: float, d: int, coupling: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(2d,)`` and covariance ``(2d, 2d)`` of the pair (Y_hi, Y_lo) for data at 0 under VE.

    Y_hi = sigma_hi z.  ``coupling="shared"`` (Song et al. 2023's consistency training) takes
    Y_lo = sigma_lo z with the same z; this is also the distillation pair with an exact ODE step, since for
    data at 0 the PF-ODE paths are the rays x_sigma = (sigma / sigma') x_sigma', straight lines in the noise
    level sigma, which one Euler step in sigma follows exactly (Tang & Zhao eq. 5.15).  (One Heun step in the
    time t, as :func:`~tutorial_pkg.consistency_distillation_loss` takes, is only close to the ray.)
    ``"independent"`` (Tang & Zhao's wording of CT) takes Y_lo = sigma_lo z' with z' independent of z:

        shared:       [[sh^2, sh sl], [sh sl, sl^2]] (x) I_d,      independent: diag(sh^2, sl^2) (x) I_d.
    """
    if coupling not in ("shared", "independent"):
        raise ValueError(f"coupling must be 'shared' or 'independent', got {coupling!r}")
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be a positive int, got {d!r}")
    sh, sl = _levels(sigma_hi, sigma_lo)
    off = sh * sl if coupling == "shared" else torch.zeros_like(sh)
    block = torch.stack([torch.stack([sh**2, off]), torch.stack([off, sl**2])])
    return torch.zeros(2 * d, dtype=sh.dtype), torch.kron(block, torch.eye(d, dtype=sh.dtype))


def delta0_w2_squared(sigma_hi, sigma_lo, d: int) -> torch.Tensor:
    """W2^2 between the shared-noise (= distillation) pair law and the independent one, data at 0.

        W2^2 = 2 d (sigma_hi^2 + sigma_lo^2 - sqrt(sigma_hi^4 + sigma_lo^4)).

    With sigma_hi = t, sigma_lo = t - delta (VE with g = sqrt(2t)) this is Tang & Zhao's eq. (5.17),
    2 t^2 d (1 + (1 - delta/t)^2 - sqrt(1 + (1 - delta/t)^4)) -> 2 (2 - sqrt 2) t^2 d as delta -> 0.
    Broadcasts over tensors of noise levels.
    """
    sh, sl = _levels(sigma_hi, sigma_lo)
    return 2 * d * (sh**2 + sl**2 - torch.sqrt(sh**4 + sl**4))


def delta0_optimal_coupling(
    y_hi: torch.Tensor, y_lo: torch.Tensor, sigma_hi: float, sigma_lo: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The optimal transport from the independent pair to the shared-noise pair, data at 0.

    Given (y_hi, y_lo) = (sigma_hi z, sigma_lo z') with z, z' independent ``(B, d)``, return
    (sigma_hi u, sigma_lo u) with u = (sigma_hi y_hi + sigma_lo y_lo) / sqrt(sigma_hi^4 + sigma_lo^4) ~ N(0, I).
    By Cauchy-Schwarz this u maximises E<(y_hi, y_lo), (sigma_hi u, sigma_lo u)>, so the mean squared
    displacement equals :func:`delta0_w2_squared`.
    """
    sh, sl = _levels(sigma_hi, sigma_lo)
    sh, sl = sh.to(y_hi), sl.to(y_hi)
    u = (sh * y_hi + sl * y_lo) / torch.sqrt(sh**4 + sl**4)
    return sh * u, sl * u


# ------------------------------------------------------------------------------------------------
# the ideal fixed points for 1-D Gaussian data
# ------------------------------------------------------------------------------------------------


def _coef(sde: SDE, t: float) -> tuple[float, float]:
    tt = torch.tensor(float(t), dtype=torch.float64)
    return float(sde.mean_coeff(tt)), float(sde.std(tt))


def _mu(sde: SDE) -> float:
    mu = torch.as_tensor(getattr(sde, "mu", 0.0), dtype=torch.float64)
    if mu.numel() != 1:
        raise ValueError("ideal_consistency_maps needs an SDE with a scalar centre mu (1-D data)")
    return float(mu.reshape(()))


def ideal_consistency_maps(
    sde: SDE, mean: float, std: float, ts: torch.Tensor, coupling: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(gain, offset)``, each ``(N,)``: the ideal consistency model f_n(x) = gain[n] x + offset[n] at ts[n].

    Data N(mean, std^2) in one dimension, an increasing grid ``ts`` with ts[0] = t_min (e.g.
    :func:`~tutorial_pkg.consistency_grid`).  A model of unlimited capacity, trained to convergence with
    its target network equal to itself, satisfies f_0 = id and, for each pair of adjacent times,

        f_{n+1}(y) = E[ f_n(X_lo) | X_hi = y ]      (the minimiser of E |f(X_hi) - f_n(X_lo)|^2),

    where (X_hi, X_lo) is the objective's pair at (t_{n+1}, t_n).  For Gaussian data every map in the chain
    is affine, and so is E[X_lo | X_hi = y]; with E[X_0 | X_hi = y] = mean + alpha s^2 / v (y - m_hi):

    * ``"exact"``: f_n = Phi(t_n -> t_min), the true flow map (what all of them should be);
    * ``"cd"``: X_lo = one Heun step in t of the PF-ODE with the exact score, as the package's distillation
      loss takes it (distillation with a perfect teacher);
    * ``"shared"``: X_lo = mu + alpha_lo (X_0 - mu) + sigma_lo z with the z of X_hi (Song et al.'s CT);
    * ``"independent"``: the same with an independent z', so E[X_lo | X_hi] = mu + alpha_lo (E[X_0 | X_hi] - mu).
    """
    if coupling not in IDEAL_COUPLINGS:
        raise ValueError(f"coupling must be one of {', '.join(IDEAL_COUPLINGS)}, got {coupling!r}")
    ts = torch.as_tensor(ts, dtype=torch.float64).reshape(-1)
    if ts.numel() < 2 or not bool((ts.diff() > 0).all()):
        raise ValueError("ts must be an increasing grid of at least two times, ts[0] = t_min")
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")
    data = Gaussian(torch.tensor([float(mean)], dtype=torch.float64), float(std))
    mu = _mu(sde)
    times = ts.tolist()

    def moments(t: float) -> tuple[float, float]:
        a, s = _coef(sde, t)
        return mu + a * (mean - mu), a**2 * std**2 + s**2

    gains, offsets = [1.0], [0.0]
    for t_lo, t_hi in zip(times[:-1], times[1:], strict=True):
        a_hi, s_hi = _coef(sde, t_hi)
        a_lo, s_lo = _coef(sde, t_lo)
        m_hi, v_hi = moments(t_hi)
        post_gain = a_hi * std**2 / v_hi  # E[X_0 | X_hi = y] = mean + post_gain (y - m_hi)
        post_off = mean - post_gain * m_hi
        if coupling == "exact":
            m_lo, v_lo = moments(t_lo)
            lg = math.sqrt(v_lo / v_hi)
            lo_gain, lo_off = lg, m_lo - lg * m_hi
        elif coupling == "cd":
            y = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
            out = pf_ode_flow_map(sde, ExactScore(data, sde), y, t_hi, t_lo, n_steps=1)[:, 0]
            lo_gain, lo_off = float(out[1] - out[0]), float(out[0])
        else:
            r = s_lo / s_hi if coupling == "shared" else 0.0
            c = a_lo - r * a_hi  # X_lo = mu + c (X_0 - mu) + r (X_hi - mu)  [+ independent noise]
            lo_gain = c * post_gain + r
            lo_off = mu + c * (post_off - mu) - r * mu
        # f_{n+1}(y) = f_n(lo_gain y + lo_off): compose the affine maps
        g, o = gains[-1], offsets[-1]
        gains.append(g * lo_gain)
        offsets.append(g * lo_off + o)
    return torch.tensor(gains, dtype=torch.float64), torch.tensor(offsets, dtype=torch.float64)
