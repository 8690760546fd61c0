"""The cache of trained models: the first request for a configuration trains it, later requests (other
chapters, later runs) load it in a fraction of a second.

The folder is ``$TUTORIAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/tutorial_pkg``, else ``~/.cache/tutorial_pkg``;
one file per entry, named by :func:`cache_key`.  The key covers everything that makes the weights differ:
the configuration, the data, the teacher's key (distillation), the device kind the model is trained on and
whether it trains in mixed precision (bfloat16 autocast on CUDA), and :data:`~tutorial_pkg.CACHE_FORMAT`.
So a GPU machine and a CPU machine never share an entry.  An unreadable, corrupt or stale entry is
retrained with a warning, never a crash; files are loaded with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import torch

from ..utils import get_device
from .config import TrainConfig
from .loop import (
    CACHE_FORMAT,
    TrainResult,
    check_training_data,
    check_writable,
    finish,
    load_checkpoint,
    restore,
    train,
)

__all__ = ["cache_dir", "cache_key", "data_fingerprint", "load_or_train"]


def cache_dir() -> Path:
    """Where trained models are cached: ``$TUTORIAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/tutorial_pkg``, else
    ``~/.cache/tutorial_pkg``."""
    if os.environ.get("TUTORIAL_CACHE_DIR"):
        return Path(os.environ["TUTORIAL_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "tutorial_pkg"


def data_fingerprint(data) -> str:
    """A hash of the training data (its values, shape and dtype) for the cache key."""
    check_training_data(data)
    tensors = [data] if torch.is_tensor(data) else [data.weights, data.means, data.stds]
    h = hashlib.sha256()
    for x in tensors:
        x = x.detach().cpu().contiguous()
        h.update(f"{type(data).__name__}{tuple(x.shape)}{x.dtype}".encode())
        h.update(x.numpy().tobytes())
    return h.hexdigest()


def cache_key(
    config: TrainConfig, data, teacher: TrainResult | None = None, *, device: torch.device | str | None = None
) -> str:
    """The cache entry's name: a hash of what determines the weights (see the module doc)."""
    device = torch.device(device) if device is not None else get_device()
    payload = {
        "format": CACHE_FORMAT,
        "config": config.to_dict(),
        "data": data_fingerprint(data),
        "teacher": None if teacher is None else teacher.key,
        "device": device.type,
        "autocast": "bfloat16" if device.type == "cuda" else None,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def load_or_train(
    config: TrainConfig,
    data,
    *,
    device: torch.device | str | None = None,
    progress: bool = False,
    cache: str | os.PathLike | None = None,
    teacher: TrainResult | None = None,
) -> TrainResult:
    """The trained model for ``(config, data)``: loaded from the cache if there, trained (and cached) if not.

    ``device`` (default: :func:`~tutorial_pkg.get_device`) is where the model trains and lives; ``cache``
    overrides :func:`cache_dir`.  A half-finished entry (an interrupted training) is resumed.  ``teacher``, for
    consistency distillation, must itself come from :func:`load_or_train` (its cache key enters this one).
    The folder must be writable (checked before training); if the finished model cannot be stored, it is
    returned anyway, with a warning.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if teacher is not None and (not isinstance(teacher, TrainResult) or teacher.key is None):
        raise ValueError("a cached distillation needs teacher=load_or_train(...) (a TrainResult with a cache key)")
    check_training_data(data)
    device = torch.device(device) if device is not None else get_device()
    folder = Path(cache).expanduser() if cache is not None else cache_dir()
    key = cache_key(config, data, teacher, device=device)
    final, partial = folder / f"{key}.pt", folder / f"{key}.partial.pt"
    if final.exists():
        ckpt = load_checkpoint(final, config)
        if ckpt is not None and ckpt.get("step") == config.steps:
            try:
                model, ema_model = restore(ckpt, config, device)
                result = finish(model, ema_model, config, ckpt["losses"], int(ckpt["step"]), float(ckpt["seconds"]),
                                from_cache=True, device=device)
                result.key, result.path = key, final
                return result
            except Exception as err:
                warnings.warn(f"ignoring cached model {final}: {type(err).__name__}: {err}; training again",
                              stacklevel=2)
        final.unlink(missing_ok=True)
    check_writable(folder)
    result = train(config, data, device=device, progress=progress, checkpoint=partial, teacher=teacher)
    result.key = key
    try:
        os.replace(partial, final)
        result.path = final
    except OSError as err:
        warnings.warn(f"the trained model could not be stored in the cache ({err}); it is returned uncached",
                      stacklevel=2)
    return result
