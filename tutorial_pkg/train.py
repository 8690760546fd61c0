"""One training loop for every chapter, and a cache of trained models keyed by their configuration.

* :class:`TrainConfig` — everything that determines a trained model (SDE, loss, weighting, network,
  optimisation, seed); it is validated when built, so a typo fails at once with a clear message.
* :func:`train` — Adam with warm-up and cosine decay, an exponential moving average (EMA) of the
  weights, mixed precision (bfloat16) on CUDA only, a ``tqdm.auto`` progress bar when asked, the loss of
  every step, and checkpoints written atomically from which an interrupted run resumes to the very same
  weights (the random generator's state is saved with them).
* :func:`load_or_train` — the cache: the first request for a configuration trains it, later requests
  (other chapters, later runs) load it.  The folder is ``$TUTORIAL_CACHE_DIR``, else
  ``$XDG_CACHE_HOME/tutorial_pkg``, else ``~/.cache/tutorial_pkg``.  An unreadable, corrupt or stale entry
  is retrained with a warning, never a crash; files are loaded with ``weights_only=True``.

Randomness: one CPU generator seeded from ``config.seed`` draws the data batches, the times and the
noise; the initial weights come from the same seed.  Same configuration, same weights on the CPU.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .consistency import CONSISTENCY_LOSSES, ConsistencyModel
from .distributions import ExactScore, GaussianMixture
from .losses import LOSSES, WEIGHTINGS, get_loss
from .nets import PARAMETRIZATIONS, ScoreModel, TimeMLP
from .sde import SDE_NAMES, make_sde
from .utils import get_device

__all__ = ["TrainConfig", "TrainResult", "train", "load_or_train", "cache_dir", "cache_key", "data_fingerprint"]

#: Bump when the meaning of a configuration changes (network, loop or checkpoint layout): old cache
#: entries then stop matching and are retrained.
CACHE_FORMAT = 1


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained score model.

    ``sde``/``sde_kwargs`` name the forward SDE (:func:`~tutorial_pkg.make_sde`); ``loss`` one of
    ``esm, ism, ssm, dsm`` (a score model) or ``cd, ct`` (a consistency model, distilled from a teacher or
    trained alone; the EMA weights are its target network), with extra ``loss_kwargs`` (e.g.
    ``{"n_slices": 2}``, ``{"n_points": 18, "coupling": "shared"}``); ``weighting`` lambda(t);
    ``t_min`` the lower time cut-off; the network is a :class:`~tutorial_pkg.nets.TimeMLP` of ``depth``
    hidden layers of width ``hidden``, trained in ``parametrization``; Adam at peak rate ``lr``, with
    ``warmup`` linear steps then cosine decay to zero (``lr_schedule="cosine"``) or constant; EMA decay
    ``ema_decay``; gradient-norm clipping at ``grad_clip`` (None: off).
    """

    sde: str = "vp"
    sde_kwargs: dict = field(default_factory=dict)
    loss: str = "dsm"
    loss_kwargs: dict = field(default_factory=dict)
    weighting: str = "sigma2"
    t_min: float = 1e-3
    parametrization: str = "eps"
    hidden: int = 128
    depth: int = 3
    n_frequencies: int = 8
    steps: int = 4000
    batch_size: int = 512
    lr: float = 2e-3
    lr_schedule: str = "cosine"
    warmup: int = 100
    ema_decay: float = 0.999
    grad_clip: float | None = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.loss not in LOSSES and self.loss not in CONSISTENCY_LOSSES:
            names = ", ".join([*LOSSES, *CONSISTENCY_LOSSES])
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {names}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {self.weighting!r}; choose one of {', '.join(WEIGHTINGS)}")
        if self.parametrization not in PARAMETRIZATIONS:
            raise ValueError(
                f"unknown parametrization {self.parametrization!r}; choose one of {', '.join(PARAMETRIZATIONS)}"
            )
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {self.lr_schedule!r}")
        for name in ("hidden", "depth", "n_frequencies", "steps", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not (self.lr > 0 and 0 <= self.ema_decay < 1 and self.warmup >= 0):
            raise ValueError("need lr > 0, 0 <= ema_decay < 1 and warmup >= 0")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be positive or None, got {self.grad_clip}")
        sde = self.make_sde()  # unknown SDE names and bad parameters fail here, not mid-training
        if not 0 <= self.t_min < sde.T:
            raise ValueError(f"t_min must lie in [0, T) = [0, {sde.T:g}), got {self.t_min}")

    def make_sde(self):
        """The forward SDE this configuration trains under."""
        if str(self.sde).lower().replace("-", "").replace("_", "") not in SDE_NAMES:
            raise ValueError(f"unknown SDE {self.sde!r}; choose one of {', '.join(SDE_NAMES)}")
        return make_sde(self.sde, **self.sde_kwargs)

    @property
    def is_consistency(self) -> bool:
        """True when this configuration trains a consistency model (loss ``cd`` or ``ct``)."""
        return self.loss in CONSISTENCY_LOSSES

    def build_model(self, event_shape: tuple[int, ...]) -> ScoreModel | ConsistencyModel:
        """A freshly initialised float32 model (score or consistency) for states of shape ``event_shape``."""
        dim = math.prod(event_shape)
        net = TimeMLP(dim, self.hidden, self.depth, self.n_frequencies, T=self.make_sde().T).float()
        if self.is_consistency:
            return ConsistencyModel(net, self.make_sde(), t_min=self.t_min)
        return ScoreModel(net, self.make_sde(), self.parametrization)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed (the configuration is immutable)."""
        return dataclasses.replace(self, **changes)


@dataclass
class TrainResult:
    """What :func:`train` and :func:`load_or_train` return.

    ``model`` is the EMA model (eval mode, no gradients): pass it as ``score`` to samplers and losses.
    ``raw_model`` the last iterate.  ``losses`` the training loss of every step, ``(steps_done,)``.
    """

    model: ScoreModel
    raw_model: ScoreModel
    config: TrainConfig
    losses: torch.Tensor
    steps_done: int
    seconds: float
    from_cache: bool = False
    key: str | None = None

    @property
    def finished(self) -> bool:
        return self.steps_done >= self.config.steps


# ------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------


def _event_shape(data) -> tuple[int, ...]:
    if torch.is_tensor(data):
        if data.ndim < 2 or data.shape[0] < 1 or not data.is_floating_point():
            raise ValueError(f"data must be a floating tensor of shape (N, *D) with N >= 1, got {tuple(data.shape)}")
        return tuple(data.shape[1:])
    if isinstance(data, GaussianMixture):
        return tuple(data.event_shape)
    raise TypeError(
        f"data must be a tensor (N, *D) of training points or a GaussianMixture/Gaussian, got {type(data).__name__}"
    )


def _draw_batch(data, n: int, generator: torch.Generator) -> torch.Tensor:
    """A batch of ``n`` training points: rows drawn with replacement, or fresh samples of a distribution."""
    if torch.is_tensor(data):
        idx = torch.randint(0, data.shape[0], (n,), generator=generator)
        return data[idx.to(data.device)]
    return data.sample(n, generator=generator)


def data_fingerprint(data) -> str:
    """A hash of the training data (its values, shape and dtype) for the cache key."""
    h = hashlib.sha256()
    tensors = [data] if torch.is_tensor(data) else [data.weights, data.means, data.stds]
    _event_shape(data)
    for x in tensors:
        x = x.detach().cpu().contiguous()
        h.update(f"{type(data).__name__}{tuple(x.shape)}{x.dtype}".encode())
        h.update(x.numpy().tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------
# the loop
# ------------------------------------------------------------------------------------------------


def _learning_rate(config: TrainConfig, step: int) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    if config.lr_schedule == "constant":
        return config.lr
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _ema_fn(decay: float):
    """EMA update with the usual warm-up, decay_n = min(decay, (1 + n) / (10 + n))."""

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n_averaged) -> None:
        n = int(n_averaged)
        rate = 1 - min(decay, (1 + n) / (10 + n))
        for a, c in zip(averaged, current, strict=True):
            a.lerp_(c, rate)

    return update


def _save_atomic(obj: dict, path: Path) -> None:
    """torch.save to a temporary file in the same folder, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, config: TrainConfig) -> dict | None:
    """The checkpoint at ``path`` if it is readable and matches ``config``; otherwise None (with a warning)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("format") != CACHE_FORMAT:
            raise ValueError("written by another version of the package")
        if ckpt.get("config") != config.to_dict():
            raise ValueError("its configuration differs from the one requested")
        return ckpt
    except Exception as err:  # a corrupt or stale file is rebuilt, never a crash
        warnings.warn(f"ignoring checkpoint {path}: {err}; training from scratch", stacklevel=3)
        return None


def train(
    config: TrainConfig,
    data,
    *,
    device: torch.device | str | None = None,
    progress: bool = False,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1000,
    stop_after: int | None = None,
    callback=None,
    callback_every: int = 100,
    teacher=None,
) -> TrainResult:
    """Train a score model on ``data`` (a tensor ``(N, *D)`` of points or a Gaussian mixture).

    With ``checkpoint`` a file is written every ``checkpoint_every`` steps and at the end, and an
    existing valid file there is resumed from.  ``stop_after`` ends the run after that many steps in
    total (a time-boxed run; call again with the same checkpoint to continue).  ``callback(step, ema_model)``,
    if given, is called every ``callback_every`` steps (under ``torch.no_grad``; to evaluate or log).  Raises
    ``FloatingPointError`` when the loss stops being finite.  ``teacher`` (a score callable or a
    ``TrainResult``) is the pretrained score that consistency distillation (``loss="cd"``) needs.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    event_shape = _event_shape(data)
    device = torch.device(device) if device is not None else get_device()
    sde = config.make_sde()
    loss_fn = CONSISTENCY_LOSSES[config.loss] if config.is_consistency else get_loss(config.loss)
    loss_kwargs = dict(config.loss_kwargs)
    if config.loss == "cd":
        if teacher is None:
            raise ValueError("consistency distillation (loss='cd') needs teacher=: a trained score model")
        loss_kwargs["teacher"] = teacher.model if isinstance(teacher, TrainResult) else teacher
    if config.loss == "esm":
        if not isinstance(data, GaussianMixture):
            raise ValueError("the explicit score-matching loss needs the true score: pass a GaussianMixture as data")
        loss_kwargs["target"] = ExactScore(data.to(device=device, dtype=torch.float32), sde)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = config.build_model(event_shape).to(device)
    ema = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=_ema_fn(config.ema_decay), use_buffers=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    losses = torch.zeros(config.steps)
    start, seconds = 0, 0.0

    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        ckpt = _load_checkpoint(path, config)
        if ckpt is not None:
            model.load_state_dict(ckpt["model"])
            ema.load_state_dict(ckpt["ema"])
            optimizer.load_state_dict(ckpt["optimizer"])
            generator.set_state(ckpt["generator"])
            start, seconds = int(ckpt["step"]), float(ckpt["seconds"])
            losses[:start] = ckpt["losses"][:start]

    def save(step: int) -> None:
        if path is not None:
            _save_atomic(
                {
                    "format": CACHE_FORMAT,
                    "config": config.to_dict(),
                    "event_shape": list(event_shape),
                    "step": step,
                    "seconds": seconds + time.perf_counter() - tic,
                    "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                    "ema": {k: v.detach().cpu() for k, v in ema.state_dict().items()},
                    "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(),
                    "losses": losses[:step].clone(),
                },
                path,
            )

    end = config.steps if stop_after is None else min(config.steps, max(start, int(stop_after)))
    use_amp = device.type == "cuda"
    data_on_device = data.to(device=device, dtype=torch.float32) if torch.is_tensor(data) else data
    step_losses = torch.zeros(config.steps, device=device)
    if config.is_consistency:
        loss_kwargs["target"] = ema.module  # the target network theta^- is the EMA of the weights
    tic = time.perf_counter()
    steps = range(start, end)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, total=end - start, desc=f"training {config.sde}/{config.loss}")
    model.train()
    for step in steps:
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(config, step)
        x0 = _draw_batch(data_on_device, config.batch_size, generator).to(device=device, dtype=torch.float32)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss = loss_fn(
                model, x0, sde, weighting=config.weighting, t_min=config.t_min, generator=generator, **loss_kwargs
            ).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        ema.update_parameters(model)
        step_losses[step] = loss.detach()
        done = step + 1
        if done % 100 == 0 or done == end:
            losses[start:done] = step_losses[start:done].float().cpu()
            if not torch.isfinite(losses[start:done]).all():
                raise FloatingPointError(
                    f"the training loss is not finite at step {done}: lower lr (now {config.lr}), raise t_min "
                    f"(now {config.t_min}) or use weighting='sigma2'"
                )
        if path is not None and (done % checkpoint_every == 0 or done == end):
            save(done)
        if callback is not None and done % callback_every == 0:
            ema.module.eval()
            with torch.no_grad():
                callback(done, ema.module)
            ema.module.train()
    seconds += time.perf_counter() - tic
    return _result(model, ema.module, config, losses[:end].clone(), end, seconds, from_cache=False)


def _result(model, ema_model, config, losses, steps_done, seconds, *, from_cache) -> TrainResult:
    model.eval()
    ema_model.eval().requires_grad_(False)
    return TrainResult(ema_model, model, config, losses, steps_done, seconds, from_cache)


# ------------------------------------------------------------------------------------------------
# the cache
# ------------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where trained models are cached: ``$TUTORIAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/tutorial_pkg``, else
    ``~/.cache/tutorial_pkg``."""
    if os.environ.get("TUTORIAL_CACHE_DIR"):
        return Path(os.environ["TUTORIAL_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "tutorial_pkg"


def cache_key(config: TrainConfig, data, teacher: TrainResult | None = None) -> str:
    """The cache entry's name: a hash of the configuration, the data, the teacher's key and the package version."""
    from . import __version__

    payload = {
        "format": CACHE_FORMAT,
        "version": __version__,
        "config": config.to_dict(),
        "data": data_fingerprint(data),
        "teacher": None if teacher is None else teacher.key,
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

    ``cache`` overrides :func:`cache_dir`.  A half-finished entry (an interrupted training) is resumed.
    ``teacher``, for consistency distillation, must itself come from :func:`load_or_train` (its cache key
    enters this one).
    """
    if teacher is not None and (not isinstance(teacher, TrainResult) or teacher.key is None):
        raise ValueError("a cached distillation needs teacher=load_or_train(...) (a TrainResult with a cache key)")
    folder = Path(cache).expanduser() if cache is not None else cache_dir()
    key = cache_key(config, data, teacher)
    final, partial = folder / f"{key}.pt", folder / f"{key}.partial.pt"
    if final.exists():
        ckpt = _load_checkpoint(final, config)
        if ckpt is not None and ckpt.get("step") == config.steps:
            try:
                result = _from_checkpoint(ckpt, config, device)
                result.key = key
                return result
            except Exception as err:
                warnings.warn(f"ignoring cached model {final}: {err}; training again", stacklevel=2)
        final.unlink(missing_ok=True)
    result = train(config, data, device=device, progress=progress, checkpoint=partial, teacher=teacher)
    os.replace(partial, final)
    result.key = key
    return result


def _from_checkpoint(ckpt: dict, config: TrainConfig, device) -> TrainResult:
    device = torch.device(device) if device is not None else get_device()
    model = config.build_model(tuple(ckpt["event_shape"]))
    model.load_state_dict(ckpt["model"])
    ema = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=_ema_fn(config.ema_decay), use_buffers=False)
    ema.load_state_dict(ckpt["ema"])
    model, ema_model = model.to(device), ema.module.to(device)
    return _result(model, ema_model, config, ckpt["losses"], int(ckpt["step"]), float(ckpt["seconds"]), from_cache=True)
