"""Procedures that run the samplers and measure them: score evaluations and wall time of a run, error
against the number of score evaluations at equal budgets, and the Langevin corrector on its own.

The exact output laws these measurements are compared with are in :mod:`tutorial_pkg.exact.samplers`.
Shapes: states ``(B, *D)``; grids 1-D and decreasing from T to t_min.  Randomness only through
``generator=``; nothing prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import torch

from ..samplers import CountingScore, langevin_step_size, resolve_sampler
from ..sde import SDE
from ..utils import randn

__all__ = ["run_counted", "SweepPoint", "nfe_sweep", "langevin_chain"]


def run_counted(sampler, sde: SDE, score, x: torch.Tensor, ts, **options) -> tuple[torch.Tensor, int, float]:
    """Run ``sampler`` under ``torch.no_grad``; return ``(output, nfe, seconds)``.

    ``nfe`` is the number of calls of ``score`` (:class:`~tutorial_pkg.CountingScore`): one per step for
    Euler–Maruyama, the exponential integrator and DDIM, two for Heun and for a predictor–corrector step with
    one corrector step, as many as the adaptive solver needs for ``ode_adaptive``.
    """
    _, fn = resolve_sampler(sampler)
    counter = CountingScore(score)
    start = time.perf_counter()
    with torch.no_grad():
        out = fn(sde, counter, x, ts, **options)
    return out, counter.calls, time.perf_counter() - start


class SweepPoint(NamedTuple):
    """One run of :func:`nfe_sweep`: the sampler's label, its steps, its NFE, the error and the seconds."""

    sampler: str
    steps: int
    nfe: int
    error: float
    seconds: float


def nfe_sweep(
    samplers: Mapping[str, tuple[Callable | str, dict]],
    sde: SDE,
    score,
    x: torch.Tensor,
    budgets: Sequence[int],
    distance: Callable[[torch.Tensor], float],
    grid: Callable[[int], torch.Tensor],
    *,
    generator: torch.Generator | None = None,
) -> list[SweepPoint]:
    """Error against the number of score evaluations, at equal budgets.

    ``samplers`` maps a label to ``(sampler, options)``.  Each is first run for one step on two rows of
    ``x`` to learn its score calls per step, c; then, for each NFE budget B, it runs ``B // c`` steps
    (at least one) on the grid ``grid(n_steps)``, from the same starting points ``x: (B, *D)``, and its output
    is scored by ``distance(output) -> float``.  Returns one :class:`SweepPoint` per (sampler, budget).
    """
    points = []
    for label, (sampler, options) in samplers.items():
        _, per_step, _ = run_counted(sampler, sde, score, x[:2], grid(1), generator=generator, **options)
        if per_step < 1:
            raise ValueError(f"{label}: the sampler made no score call in one step")
        for budget in budgets:
            steps = max(1, int(budget) // per_step)
            out, nfe, seconds = run_counted(sampler, sde, score, x, grid(steps), generator=generator, **options)
            points.append(SweepPoint(label, steps, nfe, float(distance(out)), seconds))
    return points


def langevin_chain(
    score,
    x: torch.Tensor,
    t: float,
    n_steps: int,
    *,
    step_size: float | None = None,
    snr: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``n_steps`` unadjusted Langevin steps at the fixed time t (the corrector of Claustre 2025, eq. 14):

        x <- x + eps s(x, t) + sqrt(2 eps) z,        z ~ N(0, I),

    with a fixed ``step_size`` eps, or with eps = 2 (snr mean|z| / mean|s|)^2 recomputed at every step from
    the batch (``snr``; :func:`~tutorial_pkg.langevin_step_size`, the rule of ``tp.predictor_corrector``).
    Give exactly one of the two.  ``x: (B, *D)``; returns the final state.
    """
    if (step_size is None) == (snr is None):
        raise ValueError("give exactly one of step_size (a fixed eps) and snr (the signal-to-noise rule)")
    if step_size is not None and not step_size > 0:
        raise ValueError(f"step_size must be positive, got {step_size!r}")
    if snr is not None and not snr > 0:
        raise ValueError(f"snr must be positive, got {snr!r}")
    if not isinstance(n_steps, int) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative int, got {n_steps!r}")
    tb = torch.full((x.shape[0],), float(t), dtype=x.dtype, device=x.device)
    with torch.no_grad():
        for _ in range(n_steps):
            s = score(x, tb)
            z = randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            eps = torch.as_tensor(step_size, dtype=x.dtype) if snr is None else langevin_step_size(s, z, snr)
            x = x + eps * s + torch.sqrt(2 * eps) * z
    return x
