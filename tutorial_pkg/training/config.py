"""The training configuration: everything that determines a trained model, validated and made canonical
when it is built, so that a typo fails at once and two spellings of one model share one cache entry."""

from __future__ import annotations

import dataclasses
import json
import numbers
from dataclasses import dataclass, field

from ..consistency import CONSISTENCY_LOSSES, ConsistencyModel
from ..losses import WEIGHTINGS
from ..nets import NETWORKS, PARAMETRIZATIONS, ScoreModel, build_network, network_parameters
from ..sde import SDE_NAMES, make_sde, sde_parameters
from ..utils import check_keywords
from .objectives import OBJECTIVES, check_loss_options

__all__ = ["TrainConfig", "LR_SCHEDULES"]

LR_SCHEDULES = ("cosine", "constant")


def _canonical(name: str, given: dict, defaults: dict, field_name: str) -> dict:
    """``defaults`` updated with ``given``, ints promoted to float where the default is a float; JSON values only."""
    if not isinstance(given, dict):
        raise TypeError(f"TrainConfig.{field_name} must be a dict, got {type(given).__name__}")
    full = check_keywords(f"TrainConfig.{field_name}: {name}", given, defaults)
    out = {}
    for key, default in defaults.items():
        value = full[key]
        if isinstance(default, float) and isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = float(value)
        try:
            json.dumps(value)
        except TypeError:
            raise TypeError(f"TrainConfig.{field_name}[{key!r}] must be a plain number, string or bool, "
                            f"got {type(value).__name__}") from None
        out[key] = value
    return out


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained model.

    * ``sde``/``sde_kwargs`` — the forward SDE (:func:`~tutorial_pkg.make_sde`);
    * ``loss``/``loss_kwargs`` — ``esm, ism, ssm, dsm`` (a score model) or ``cd, ct`` (a consistency model,
      distilled from a teacher or trained alone; the EMA weights are its target network), with the loss's
      options (e.g. ``{"n_slices": 2}``, ``{"n_points": 18, "coupling": "shared"}``; :func:`loss_options`);
    * ``weighting`` lambda(t) and ``t_min`` the lower time cut-off (score losses);
    * ``net``/``net_kwargs`` — the backbone (:data:`~tutorial_pkg.nets.NETWORKS`; ``"mlp"``: ``hidden``, ``depth``,
      ``n_frequencies``), trained in ``parametrization``;
    * Adam at peak rate ``lr``, ``warmup`` linear steps then cosine decay to zero (``lr_schedule="cosine"``)
      or constant; EMA decay ``ema_decay``; gradient-norm clipping at ``grad_clip`` (None: off); ``steps``
      steps of ``batch_size``; ``seed`` for the initial weights and every random draw.

    The dicts are completed with their defaults when the configuration is built, so ``TrainConfig()`` and
    ``TrainConfig(net_kwargs={"hidden": 128})`` are equal and share a cache entry.  Immutable: use
    :meth:`replace`.
    """

    sde: str = "vp"
    sde_kwargs: dict = field(default_factory=dict)
    loss: str = "dsm"
    loss_kwargs: dict = field(default_factory=dict)
    weighting: str = "sigma2"
    t_min: float = 1e-3
    parametrization: str = "eps"
    net: str = "mlp"
    net_kwargs: dict = field(default_factory=dict)
    steps: int = 4000
    batch_size: int = 512
    lr: float = 2e-3
    lr_schedule: str = "cosine"
    warmup: int = 100
    ema_decay: float = 0.999
    grad_clip: float | None = 1.0
    seed: int = 0

    def __post_init__(self):
        def choice(name: str, options) -> None:
            value = getattr(self, name)
            if value not in options:
                raise ValueError(f"TrainConfig.{name}={value!r} is not known; choose one of {', '.join(options)}")

        def integer(name: str, minimum: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
                raise ValueError(f"TrainConfig.{name} must be an int >= {minimum}, got {value!r}")

        def number(name: str, ok, expected: str) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not ok(float(value)):
                raise ValueError(f"TrainConfig.{name} must be {expected}, got {value!r}")

        if not isinstance(self.sde, str) or self.sde.lower().replace("-", "").replace("_", "") not in SDE_NAMES:
            raise ValueError(f"TrainConfig.sde={self.sde!r} is not known; choose one of {', '.join(SDE_NAMES)}")
        choice("loss", OBJECTIVES)
        choice("weighting", WEIGHTINGS)
        choice("parametrization", PARAMETRIZATIONS)
        choice("net", NETWORKS)
        choice("lr_schedule", LR_SCHEDULES)
        for name, minimum in [("steps", 1), ("batch_size", 1), ("warmup", 0), ("seed", 0)]:
            integer(name, minimum)
        number("lr", lambda v: 0 < v < float("inf"), "a finite positive number")
        number("ema_decay", lambda v: 0 <= v < 1, "in [0, 1)")
        if self.grad_clip is not None:
            number("grad_clip", lambda v: 0 < v < float("inf"), "a finite positive number or None")
        sde_name = self.sde.lower().replace("-", "").replace("_", "")
        set_ = object.__setattr__  # the dataclass is frozen: canonical values are set once, here
        set_(self, "sde", sde_name)
        set_(self, "sde_kwargs", _canonical(sde_name, self.sde_kwargs, sde_parameters(sde_name), "sde_kwargs"))
        set_(self, "net_kwargs", _canonical(self.net, self.net_kwargs, network_parameters(self.net), "net_kwargs"))
        if not isinstance(self.loss_kwargs, dict):
            raise TypeError(f"TrainConfig.loss_kwargs must be a dict, got {type(self.loss_kwargs).__name__}")
        set_(self, "loss_kwargs", check_loss_options(self.loss, self.loss_kwargs))
        sde = self.make_sde()  # bad SDE parameters fail here, not mid-training
        number("t_min", lambda v: 0 <= v < sde.T, f"in [0, T) = [0, {sde.T:g})")
        if self.is_consistency and not self.t_min > 0:
            raise ValueError("TrainConfig.t_min must be > 0 for a consistency model (its boundary time)")

    def make_sde(self):
        """The forward SDE this configuration trains under."""
        return make_sde(self.sde, **self.sde_kwargs)

    @property
    def is_consistency(self) -> bool:
        """True when this configuration trains a consistency model (loss ``cd`` or ``ct``)."""
        return self.loss in CONSISTENCY_LOSSES

    def build_model(self, event_shape: tuple[int, ...]) -> ScoreModel | ConsistencyModel:
        """A freshly initialised float32 model (score or consistency) for states of shape ``event_shape``."""
        sde = self.make_sde()
        net = build_network(self.net, tuple(event_shape), T=sde.T, **self.net_kwargs)
        if self.is_consistency:
            return ConsistencyModel(net, sde, t_min=self.t_min)
        return ScoreModel(net, sde, self.parametrization)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed (the configuration is immutable).

        Changing ``sde``, ``net`` or ``loss`` without giving its ``*_kwargs`` starts those from the new
        choice's defaults (the parameters of a VP SDE mean nothing to a VE one).
        """
        for name in ("sde", "net", "loss"):
            if name in changes and f"{name}_kwargs" not in changes and changes[name] != getattr(self, name):
                changes[f"{name}_kwargs"] = {}
        return dataclasses.replace(self, **changes)
