"""Networks: parametrisations, backbones, the model wrapper, and the registry the training config names.

* :mod:`.parametrization` — score / noise / data outputs and their conversions;
* :mod:`.mlp` — :class:`TimeMLP`, the backbone of the toy chapters;
* :mod:`.models` — :class:`ScoreModel` (backbone + SDE + parametrisation -> a score) and :func:`call_network`.

:data:`NETWORKS` maps a name to a builder ``builder(event_shape, *, T, **kwargs) -> nn.Module``; the training
configuration chooses one with ``net=`` and ``net_kwargs=`` (:func:`build_network`).  A new backbone (a U-Net
for images) is one more entry.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

from torch import nn

from ..utils import check_keywords
from .mlp import FourierTimeFeatures, TimeMLP
from .models import ScoreModel, call_network
from .parametrization import PARAMETRIZATIONS, check_parametrization, score_to_eps, score_to_x0, to_score

__all__ = [
    "PARAMETRIZATIONS",
    "NETWORKS",
    "FourierTimeFeatures",
    "TimeMLP",
    "ScoreModel",
    "build_network",
    "call_network",
    "check_parametrization",
    "network_parameters",
    "score_to_eps",
    "score_to_x0",
    "to_score",
]


def _mlp(event_shape: tuple[int, ...], *, T: float, hidden: int = 128, depth: int = 3, n_frequencies: int = 8):
    """:class:`TimeMLP` on the flattened event: ``depth`` hidden layers of width ``hidden``."""
    return TimeMLP(math.prod(event_shape), hidden, depth, n_frequencies, T=T)


#: Backbone builders by name: ``builder(event_shape, *, T, **net_kwargs) -> nn.Module`` with ``forward(x, t)``.
NETWORKS: dict[str, Callable[..., nn.Module]] = {"mlp": _mlp}


def _builder(name: str) -> Callable[..., nn.Module]:
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(NETWORKS)}")
    return NETWORKS[name]


def network_parameters(name: str) -> dict:
    """The keyword parameters of network ``name`` with their defaults (what ``net_kwargs`` may set)."""
    params = inspect.signature(_builder(name)).parameters
    return {k: p.default for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY and k != "T"}


def build_network(name: str, event_shape: tuple[int, ...], *, T: float, **kwargs) -> nn.Module:
    """A freshly initialised float32 backbone ``name`` for states of shape ``event_shape``."""
    check_keywords(f"network {name!r}", kwargs, network_parameters(name))
    return _builder(name)(tuple(event_shape), T=T, **kwargs).float()
