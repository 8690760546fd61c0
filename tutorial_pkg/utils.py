"""Small helpers shared by every module: devices, seeding, broadcasting, argument checks, profiles.

Shape convention of the whole package: a batch of states is ``x: (B, *D)`` and a time is a float,
a 0-d tensor or a tensor of shape ``(B,)``.  Nothing here holds state between calls.
"""

from __future__ import annotations

import math
import numbers
import os
import random
from collections.abc import Callable

import numpy as np
import torch

__all__ = [
    "ScoreFn",
    "get_device",
    "seed_everything",
    "append_dims",
    "sum_except_batch",
    "as_time",
    "batch_time",
    "check_positive",
    "check_generator",
    "check_keywords",
    "check_samples",
    "randn",
    "get_profile",
    "check_profile",
    "PROFILES",
]

#: A score function ``score(x: (B, *D), t: (B,)) -> (B, *D)``: a trained model, an exact score, any callable.
ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def get_device() -> torch.device:
    """The best available device: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and PyTorch's global generators (all devices).

    Returns a fresh CPU ``torch.Generator`` seeded with ``seed``, to pass as ``generator=`` to the
    package's sampling functions.  With the same seed the CPU results are identical run to run.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (notebooks may use the legacy global generator)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def append_dims(v: torch.Tensor, ndim: int) -> torch.Tensor:
    """Append trailing singleton dimensions to ``v`` until it has ``ndim`` dimensions.

    Used to broadcast a per-sample quantity of shape ``(B,)`` against a batch ``(B, *D)``.
    """
    extra = ndim - v.ndim
    if extra < 0:
        raise ValueError(f"cannot broadcast a tensor of shape {tuple(v.shape)} to {ndim} dimensions")
    return v[(...,) + (None,) * extra]


def sum_except_batch(x: torch.Tensor) -> torch.Tensor:
    """Sum over every dimension but the first: ``(B, *D) -> (B,)``."""
    return x.reshape(x.shape[0], -1).sum(dim=1)


def as_time(t: float | torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
    """Turn a float or tensor time into a tensor on the device and floating dtype of ``like``."""
    dtype = like.dtype if like is not None and like.is_floating_point() else None
    if torch.is_tensor(t):
        if like is not None:
            return t.to(device=like.device, dtype=dtype or torch.get_default_dtype())
        return t if t.is_floating_point() else t.to(torch.get_default_dtype())
    if isinstance(t, bool) or not isinstance(t, numbers.Real):
        raise TypeError(f"a time must be a float or a tensor, got {type(t).__name__} {t!r}")
    device = like.device if like is not None else None
    return torch.tensor(float(t), device=device, dtype=dtype or torch.get_default_dtype())


def batch_time(t: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``t`` as a ``(B,)`` tensor for ``x: (B, *D)``: a float or 0-d time is expanded; a ``(B,)`` one is checked."""
    t = as_time(t, x)
    if t.ndim == 0:
        return t.expand(x.shape[0])
    if t.shape != (x.shape[0],):
        raise ValueError(
            f"t must be a float or have shape (B,) = ({x.shape[0]},) to match x of shape {tuple(x.shape)}, "
            f"got {tuple(t.shape)}"
        )
    return t


def check_positive(**values: float) -> None:
    """Raise ``ValueError`` naming the first argument that is not a finite positive real number."""
    for name, value in values.items():
        if torch.is_tensor(value):
            ok = value.is_floating_point() and bool(torch.isfinite(value).all() and (value > 0).all())
        elif isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a positive number, got {type(value).__name__} {value!r}")
        else:
            ok = math.isfinite(float(value)) and float(value) > 0
        if not ok:
            raise ValueError(f"{name} must be a finite positive number, got {value!r}")


def check_keywords(owner: str, given: dict, allowed: dict, *, noun: str = "parameter") -> dict:
    """``allowed`` (names to defaults) updated with ``given``, or a ``ValueError`` that names the unknown keys and
    lists the allowed ones with their defaults (``"VP has no parameter 'beta'; its parameters are beta_min=0.1, ..."``).
    """
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        listed = ", ".join(f"{k}={v!r}" for k, v in allowed.items()) or "none"
        raise ValueError(f"{owner} has no {noun} {', '.join(map(repr, unknown))}; its {noun}s are {listed}")
    return {**allowed, **given}


def check_generator(generator) -> torch.Generator | None:
    """``generator`` if it is ``None`` or a ``torch.Generator``; otherwise a ``TypeError`` that says what to pass."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    raise TypeError(
        f"generator must be a torch.Generator, got {type(generator).__name__} {generator!r}; "
        "use generator=tp.seed_everything(seed) or torch.Generator().manual_seed(seed)"
    )


def check_samples(x, name: str = "x", *, min_rows: int = 1) -> torch.Tensor:
    """``x`` as a floating tensor of shape ``(N, *D)`` with finite values, or a clear error naming ``name``.

    Lists and NumPy arrays are refused with the conversion to use (the package never guesses a dtype).
    """
    if not torch.is_tensor(x):
        raise TypeError(
            f"{name} must be a torch tensor of shape (N, *D), got {type(x).__name__}; "
            f"convert it with torch.as_tensor({name}, dtype=torch.float32)"
        )
    if x.ndim < 2 or x.shape[0] < min_rows:
        raise ValueError(f"{name} must have shape (N, *D) with N >= {min_rows}, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor, got {x.dtype}; use {name}.float()")
    bad = ~torch.isfinite(x.reshape(x.shape[0], -1)).all(dim=1)
    if bool(bad.any()):
        rows = torch.nonzero(bad).flatten()[:5].tolist()
        raise ValueError(f"{name} has {int(bad.sum())} rows with NaN or inf values (first rows: {rows}); remove them")
    return x


def randn(
    shape: tuple[int, ...],
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Standard normal noise drawn with ``generator`` on the generator's own device, then moved.

    Drawing on the generator's device makes a CPU generator give the same numbers whether the result
    lives on the CPU or on a GPU, which is what "same seed, same samples" needs.
    """
    check_generator(generator)
    dtype = dtype or torch.get_default_dtype()
    draw_device = generator.device if generator is not None else device
    z = torch.randn(shape, generator=generator, dtype=dtype, device=draw_device)
    return z.to(device) if device is not None else z


#: The run profiles of :func:`get_profile`.
PROFILES = ("quick", "full")


def check_profile(profile: str | None) -> str:
    """``profile`` if it is one of :data:`PROFILES`; ``None`` gives :func:`get_profile`."""
    if profile is None:
        return get_profile()
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    return profile


def get_profile() -> str:
    """The run profile: ``"quick"`` (CPU-sized, what CI runs) or ``"full"`` (the papers' scale on a GPU).

    Set it with the environment variable ``TUTORIAL_PROFILE``; by default it is ``"full"`` when a
    CUDA GPU is present and ``"quick"`` otherwise.  Notebooks size their experiments with it; their
    assertions hold in both profiles.
    """
    value = os.environ.get("TUTORIAL_PROFILE", "").strip().lower()
    if not value:
        return "full" if torch.cuda.is_available() else "quick"
    if value not in PROFILES:
        raise ValueError(f"TUTORIAL_PROFILE={value!r} is not a profile; use one of {', '.join(PROFILES)}")
    return value
