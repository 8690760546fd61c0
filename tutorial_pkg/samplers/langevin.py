"""Langevin correction: the signal-to-noise step rule and the predictor–corrector sampler."""

from __future__ import annotations

import torch

from ..utils import batch_time
from .base import Callback, NoiseSource, check_inputs, checked_score, sweep
from .euler import integrate_sde
from .exponential import exponential_integrator

__all__ = ["langevin_step_size", "predictor_corrector", "PREDICTORS"]

#: The predictors :func:`predictor_corrector` can use.
PREDICTORS = ("euler_maruyama", "exponential_integrator")


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
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Predictor–corrector sampling (Song et al. 2021a, Alg. 1; Claustre 2025, §5.3).

    Each step moves t -> t_next with the predictor (``"euler_maruyama"`` with ``h_ratio``, or
    ``"exponential_integrator"``), then runs ``n_corrector`` Langevin steps targeting p_{t_next}:
    x <- x + eps s(x, t_next) + sqrt(2 eps) z, eps from :func:`langevin_step_size`.  Score evaluations:
    1 + n_corrector per step.  Draws per step, in this order: one for the predictor (if ``h_ratio > 0``),
    then one per corrector step; ``noise`` holds them all, ``(B, N * draws_per_step, *D)``.
    """
    ts = check_inputs(sde, score, x, ts, generator)
    if isinstance(n_corrector, bool) or not isinstance(n_corrector, int) or n_corrector < 0:
        raise ValueError(f"n_corrector must be a non-negative int, got {n_corrector!r}")
    if not snr > 0:
        raise ValueError(f"snr must be positive, got {snr!r}")
    if predictor not in PREDICTORS:
        raise ValueError(f"unknown predictor {predictor!r}; use one of {', '.join(PREDICTORS)}")
    noisy = float(h_ratio) > 0
    per_step = int(noisy) + n_corrector
    source = NoiseSource(noise, generator, x, (ts.numel() - 1) * per_step)

    def predict(x, t, t_next):
        grid = torch.stack([t, t_next])
        z = source()[:, None] if noisy else None
        if predictor == "euler_maruyama":
            return integrate_sde(sde.reverse(score, h_ratio), x, grid, noise=z)
        return exponential_integrator(sde, score, x, grid, h_ratio=h_ratio, noise=z)

    def step(i, x, t, t_next):
        x = predict(x, t, t_next)
        tb = batch_time(t_next, x)
        for _ in range(n_corrector):
            s = checked_score(score, x, tb)
            z = source()
            eps = langevin_step_size(s, z, snr)
            x = x + eps * s + torch.sqrt(2 * eps) * z
        return x

    return sweep(step, x, ts, callback, progress)
