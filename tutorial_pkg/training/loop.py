"""The training loop: Adam with warm-up and cosine decay, an exponential moving average (EMA) of the weights,
mixed precision (bfloat16) on CUDA, checkpoints from which an interrupted run resumes to the very same weights.

Randomness: one CPU generator seeded from ``config.seed`` draws the data batches, the times and the noise;
the initial weights come from the same seed.  Same configuration, same weights on the CPU.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ..datasets import draw_batch
from ..distributions import GaussianMixture
from ..nets import ScoreModel
from ..sde import check_contract
from ..utils import check_samples, get_device
from .config import TrainConfig
from .objectives import make_objective

__all__ = ["TrainResult", "train", "ema_update_fn", "check_training_data", "check_writable", "CACHE_FORMAT"]

#: Bump when the meaning of a configuration changes (network, loop or checkpoint layout): old cache
#: entries then stop matching and are retrained.
CACHE_FORMAT = 2


@dataclass
class TrainResult:
    """What :func:`train` and :func:`~tutorial_pkg.load_or_train` return.

    ``model`` is the EMA model (eval mode, no gradients): pass it as ``score`` to samplers and losses; it
    accepts inputs on any device.  ``raw_model`` the last iterate.  ``losses`` the training loss of every step,
    ``(steps_done,)``.  ``key`` and ``path`` name the cache entry (None for an uncached run); ``device`` is
    where it was trained.
    """

    model: ScoreModel
    raw_model: ScoreModel
    config: TrainConfig
    losses: torch.Tensor
    steps_done: int
    seconds: float
    from_cache: bool = False
    key: str | None = None
    path: Path | None = None
    device: str = "cpu"

    @property
    def finished(self) -> bool:
        return self.steps_done >= self.config.steps

    @property
    def sde(self):
        """The forward SDE the model was trained under."""
        return self.model.sde


def check_training_data(data) -> tuple[int, ...]:
    """The event shape of ``data`` (a floating tensor ``(N, *D)`` of finite points, or a Gaussian mixture),
    or a clear error before any training starts."""
    if isinstance(data, GaussianMixture):
        if data.batched:
            raise ValueError("data must be a mixture at one time, not one diffused to a batch of times")
        return tuple(data.event_shape)
    if torch.is_tensor(data):
        return tuple(check_samples(data, "data").shape[1:])
    raise TypeError(
        f"data must be a torch tensor (N, *D) of training points or a tp.GaussianMixture/tp.Gaussian, got "
        f"{type(data).__name__}; convert points with torch.as_tensor(data, dtype=torch.float32)"
    )


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and make sure a file can be written there, before hours of training."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise PermissionError(
            f"cannot write trained models to {folder} ({type(err).__name__}: {err.strerror or err}); "
            "set TUTORIAL_CACHE_DIR (or pass cache=/checkpoint=) to a writable folder"
        ) from None


def _learning_rate(config: TrainConfig, step: int) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    if config.lr_schedule == "constant":
        return config.lr
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def ema_update_fn(decay: float):
    """The EMA update of the loop, with the usual warm-up: decay_n = min(decay, (1 + n) / (10 + n)).

    Returns ``update(averaged, current, n_averaged)``, which moves each tensor of ``averaged`` towards the one
    of ``current`` by 1 - decay_n, in place (the form ``torch.optim.swa_utils.AveragedModel`` takes).
    """

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n_averaged) -> None:
        n = int(n_averaged)
        rate = 1 - min(decay, (1 + n) / (10 + n))
        for a, c in zip(averaged, current, strict=True):
            a.lerp_(c, rate)

    return update


def _averaged(model, config: TrainConfig):
    return torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=ema_update_fn(config.ema_decay), use_buffers=False)


def save_atomic(obj: dict, path: Path) -> None:
    """torch.save to a temporary file in the same folder, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _describe(err: BaseException) -> str:
    text = str(err).strip()
    if not text or text.isdigit() or text.startswith("[Errno"):
        return f"{type(err).__name__} ({text or 'no message'}): the file is not a readable checkpoint"
    return f"{type(err).__name__}: {text}"


def load_checkpoint(path: Path, config: TrainConfig) -> dict | None:
    """The checkpoint at ``path`` if it is readable and matches ``config``; otherwise None (with a warning)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("format") != CACHE_FORMAT:
            raise ValueError("written by another version of the package")
        if ckpt.get("config") != config.to_dict():
            raise ValueError("its configuration differs from the one requested")
        return ckpt
    except Exception as err:  # a corrupt or stale file is rebuilt, never a crash
        warnings.warn(f"ignoring checkpoint {path}: {_describe(err)}; training from scratch", stacklevel=3)
        return None


def restore(ckpt: dict, config: TrainConfig, device) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The last iterate and the EMA model of a checkpoint, on ``device``."""
    model = config.build_model(tuple(ckpt["event_shape"]))
    model.load_state_dict(ckpt["model"])
    ema = _averaged(model, config)
    ema.load_state_dict(ckpt["ema"])
    return model.to(device), ema.module.to(device)


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
    """Train a model on ``data`` (a tensor ``(N, *D)`` of points or a Gaussian mixture).

    With ``checkpoint`` a file is written every ``checkpoint_every`` steps and at the end, and an
    existing valid file there is resumed from (a file that cannot be written is warned about, and training
    goes on).  ``stop_after`` ends the run after that many steps in total (a time-boxed run; call again with
    the same checkpoint to continue).  ``callback(step, ema_model)``, if given, is called every
    ``callback_every`` steps (under ``torch.no_grad``; to evaluate or log).  Raises ``FloatingPointError``
    when the loss stops being finite.  ``teacher`` (a score callable or a ``TrainResult``) is the pretrained
    score that consistency distillation (``loss="cd"``) needs.  The data and the checkpoint folder are checked
    before the first step.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    event_shape = check_training_data(data)
    device = torch.device(device) if device is not None else get_device()
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None:
        check_writable(path.parent)
    objective = make_objective(config, data, teacher, device=device)
    check_contract(objective.sde)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = config.build_model(event_shape).to(device)
    ema = _averaged(model, config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    losses = torch.zeros(config.steps)
    start, seconds = 0, 0.0

    if path is not None and path.exists():
        ckpt = load_checkpoint(path, config)
        if ckpt is not None:
            model.load_state_dict(ckpt["model"])
            ema.load_state_dict(ckpt["ema"])
            optimizer.load_state_dict(ckpt["optimizer"])
            generator.set_state(ckpt["generator"])
            start, seconds = int(ckpt["step"]), float(ckpt["seconds"])
            losses[:start] = ckpt["losses"][:start]

    def save(step: int) -> None:
        nonlocal path
        state = {
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
        }
        try:
            save_atomic(state, path)
        except OSError as err:  # a full disk must not cost the training itself
            warnings.warn(f"could not write checkpoint {path} ({err}); training goes on without checkpoints",
                          stacklevel=3)
            path = None

    end = config.steps if stop_after is None else min(config.steps, max(start, int(stop_after)))
    use_amp = device.type == "cuda"
    data_on_device = data.to(device=device, dtype=torch.float32) if torch.is_tensor(data) else data
    step_losses = torch.zeros(config.steps, device=device)
    target = ema.module if objective.needs_target else None  # consistency: theta^- is the EMA of the weights
    tic = time.perf_counter()
    steps = range(start, end)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, total=end - start, desc=f"training {config.sde}/{config.loss}")
    model.train()
    for step in steps:
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(config, step)
        x0 = draw_batch(data_on_device, config.batch_size, generator=generator).to(device=device, dtype=torch.float32)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss = objective(model, x0, generator, target).mean()
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
                    f"the training loss is not finite at step {done} (the data are finite): lower lr (now "
                    f"{config.lr}), raise t_min (now {config.t_min}) or use weighting='sigma2'"
                )
        if path is not None and (done % checkpoint_every == 0 or done == end):
            save(done)
        if callback is not None and done % callback_every == 0:
            ema.module.eval()
            with torch.no_grad():
                callback(done, ema.module)
            ema.module.train()
    seconds += time.perf_counter() - tic
    return finish(model, ema.module, config, losses[:end].clone(), end, seconds, from_cache=False, device=device)


def finish(model, ema_model, config, losses, steps_done, seconds, *, from_cache, device) -> TrainResult:
    """A :class:`TrainResult` with both models in eval mode and the EMA model frozen."""
    model.eval()
    ema_model.eval().requires_grad_(False)
    kind = torch.device(device).type
    return TrainResult(ema_model, model, config, losses, steps_done, seconds, from_cache, device=kind)
