"""Training: one loop for every chapter, and a cache of trained models keyed by their configuration.

* :mod:`.config` — :class:`TrainConfig`, everything that determines a trained model, validated when built;
* :mod:`.objectives` — :func:`make_objective`, the per-sample loss of a configuration (score matching or
  consistency), and the options each loss accepts;
* :mod:`.loop` — :func:`train` (Adam, warm-up and cosine decay, EMA, bfloat16 on CUDA, resumable checkpoints)
  and :class:`TrainResult`;
* :mod:`.cache` — :func:`load_or_train`, :func:`cache_key`, :func:`cache_dir`.
"""

from .cache import cache_dir, cache_key, data_fingerprint, load_or_train
from .config import LR_SCHEDULES, TrainConfig
from .loop import CACHE_FORMAT, TrainResult, check_training_data, ema_update_fn, train
from .objectives import OBJECTIVES, Objective, loss_options, make_objective

__all__ = [
    "CACHE_FORMAT",
    "LR_SCHEDULES",
    "OBJECTIVES",
    "Objective",
    "TrainConfig",
    "TrainResult",
    "cache_dir",
    "cache_key",
    "check_training_data",
    "data_fingerprint",
    "ema_update_fn",
    "load_or_train",
    "loss_options",
    "make_objective",
    "train",
]
