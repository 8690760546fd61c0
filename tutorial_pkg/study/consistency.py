"""What a consistency-training loss actually compares: the pair of points and times, recorded from the loss."""

from __future__ import annotations

import torch

from ..consistency import consistency_distillation_loss, consistency_training_loss
from ..sde import SDE

__all__ = ["training_pair"]


def training_pair(
    sde: SDE,
    x0: torch.Tensor,
    *,
    method: str = "ct",
    coupling: str = "shared",
    teacher=None,
    n_points: int = 18,
    t_min: float = 1e-3,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x_hi, t_hi, x_lo, t_lo)``: the points and times that the package's loss compares, for data ``x0``.

    The loss of :mod:`tutorial_pkg.consistency` is |model(x_hi, t_hi) - target(x_lo, t_lo)|^2 with
    t_lo = t_n < t_hi = t_{n+1} adjacent on :func:`~tutorial_pkg.consistency_grid`.  This function calls
    that loss (``method="cd"``, with the score ``teacher``; or ``"ct"`` with ``coupling``) with a model
    and a target that only record their inputs, so what it returns is exactly what training sees.
    ``x0: (B, d)``; returns ``(B, d)``, ``(B,)``, ``(B, d)``, ``(B,)``.
    """
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def recorder(key: str):
        def record(x, t):
            seen[key] = (x.detach().clone(), torch.as_tensor(t).detach().clone())
            return x

        return record

    kwargs = {"target": recorder("lo"), "n_points": n_points, "t_min": t_min, "generator": generator}
    if method == "cd":
        if teacher is None:
            raise ValueError("method='cd' needs teacher=: a score function, e.g. tp.ExactScore(data, sde)")
        consistency_distillation_loss(recorder("hi"), x0, sde, teacher=teacher, **kwargs)
    elif method == "ct":
        consistency_training_loss(recorder("hi"), x0, sde, coupling=coupling, **kwargs)
    else:
        raise ValueError(f"method must be 'cd' or 'ct', got {method!r}")
    (x_hi, t_hi), (x_lo, t_lo) = seen["hi"], seen["lo"]
    return x_hi, t_hi, x_lo, t_lo
