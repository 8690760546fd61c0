"""Training objectives: one per loss name, built once per run by :func:`make_objective`.

An objective is called as ``objective(model, x0, generator, target=None) -> (B,)`` (per-sample losses; the
loop averages them).  Score losses (:mod:`tutorial_pkg.losses`) take the configuration's ``weighting`` and
``t_min``; the consistency losses (:mod:`tutorial_pkg.consistency`) take a frozen ``target`` network (the
EMA of the weights) and, for distillation, a ``teacher`` score.  The options a loss accepts beyond those are
its :func:`loss_options`, which the configuration validates when it is built.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable

import torch

from ..consistency import CONSISTENCY_LOSSES, COUPLINGS, consistency_grid
from ..distributions import ExactScore, GaussianMixture
from ..losses import LOSSES
from ..utils import check_keywords

__all__ = ["OBJECTIVES", "loss_options", "check_loss_options", "make_objective", "Objective"]

#: Every loss the training loop knows: the score-matching losses and the consistency losses.
OBJECTIVES: dict[str, Callable] = {**LOSSES, **CONSISTENCY_LOSSES}

#: Arguments the loop supplies itself; a configuration cannot set them through ``loss_kwargs``.
_SUPPLIED = {"target", "teacher", "weighting", "t_min", "t", "generator", "grid"}


def loss_options(loss: str) -> dict:
    """The options of ``loss`` a configuration may set in ``loss_kwargs``, with their defaults."""
    if loss not in OBJECTIVES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(OBJECTIVES)}")
    params = inspect.signature(OBJECTIVES[loss]).parameters
    return {
        k: p.default
        for k, p in params.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and k not in _SUPPLIED and p.default is not inspect.Parameter.empty
    }


def _positive_int(value, minimum: int = 1) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum


#: Value checks of the options (name -> (test, what is expected)).
_OPTION_CHECKS = {
    "n_probes": (lambda v: v is None or _positive_int(v), "None (exact divergence) or a positive int"),
    "n_slices": (_positive_int, "a positive int"),
    "variance_reduced": (lambda v: isinstance(v, bool), "True or False"),
    "n_points": (lambda v: _positive_int(v, 2), "an int >= 2"),
    "coupling": (lambda v: v in COUPLINGS, f"one of {', '.join(COUPLINGS)}"),
}


def check_loss_options(loss: str, options: dict) -> dict:
    """``options`` completed with the defaults of ``loss``; a ``ValueError`` naming any unknown or bad option."""
    full = check_keywords(f"loss {loss!r}", options, loss_options(loss), noun="option")
    for name, value in full.items():
        test, expected = _OPTION_CHECKS.get(name, (lambda v: True, ""))
        if not test(value):
            raise ValueError(f"loss_kwargs[{name!r}] must be {expected}, got {value!r}")
    return full


class Objective:
    """The per-sample loss of one configuration: ``objective(model, x0, generator, target=None) -> (B,)``.

    ``needs_target`` is True for the consistency losses (the loop passes its EMA model as ``target``).
    """

    def __init__(self, loss_fn: Callable, sde, fixed: dict, needs_target: bool):
        self.loss_fn, self.sde, self.fixed, self.needs_target = loss_fn, sde, fixed, needs_target

    def __call__(self, model, x0: torch.Tensor, generator: torch.Generator, target=None) -> torch.Tensor:
        if self.needs_target and target is None:
            raise ValueError("a consistency objective needs target= (the frozen target network)")
        extra = {"target": target} if self.needs_target else {}
        return self.loss_fn(model, x0, self.sde, generator=generator, **self.fixed, **extra)


def make_objective(config, data=None, teacher=None, *, device: torch.device | str = "cpu") -> Objective:
    """The objective of ``config`` (a :class:`~tutorial_pkg.TrainConfig`).

    ``data`` must be a Gaussian mixture for ``loss="esm"`` (its exact score is the target, moved to ``device``
    in float32); ``teacher`` (a score or a ``TrainResult``) is required for ``loss="cd"``.
    """
    loss, options = config.loss, dict(config.loss_kwargs)
    sde = config.make_sde()
    if loss in CONSISTENCY_LOSSES:
        fixed = {"t_min": config.t_min, **options}
        fixed["grid"] = consistency_grid(sde, fixed["n_points"], config.t_min)  # once, not at every step
        if loss == "cd":
            if teacher is None:
                raise ValueError("consistency distillation (loss='cd') needs teacher=: a trained score model")
            fixed["teacher"] = getattr(teacher, "model", teacher)
            if not callable(fixed["teacher"]):
                raise TypeError(f"teacher must be a score callable or a TrainResult, got {type(teacher).__name__}")
        return Objective(OBJECTIVES[loss], sde, fixed, needs_target=True)
    fixed = {"weighting": config.weighting, "t_min": config.t_min, **options}
    if loss == "esm":
        if not isinstance(data, GaussianMixture):
            raise ValueError("the explicit score-matching loss needs the true score: pass a GaussianMixture as data")
        fixed["target"] = ExactScore(data.to(device=device, dtype=torch.float32), sde)
    return Objective(OBJECTIVES[loss], sde, fixed, needs_target=False)
