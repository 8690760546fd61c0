"""Small helpers shared by every module: devices, seeding, broadcasting, argument checks.

Shape convention of the whole package: a batch of states is ``x: (B, *D)`` and a time is a float,
a 0-d tensor or a tensor of shape ``(B,)``.  Nothing here holds state between calls.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = [
    "get_device",
    "seed_everything",
    "append_dims",
    "sum_except_batch",
    "as_time",
    "check_positive",
    "randn",
    "get_profile",
    "PROFILES",
]


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
    if torch.is_tensor(t):
        if like is not None:
            dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
            return t.to(device=like.device, dtype=dtype)
        return t if t.is_floating_point() else t.to(torch.get_default_dtype())
    if like is not None:
        dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
        return torch.tensor(float(t), device=like.device, dtype=dtype)
    return torch.tensor(float(t), dtype=torch.get_default_dtype())


def check_positive(**values: float) -> None:
    """Raise ``ValueError`` naming the first argument that is not a finite positive number."""
    for name, value in values.items():
        v = float(value) if not torch.is_tensor(value) else None
        if v is None:
            ok = bool(torch.isfinite(value).all() and (value > 0).all())
        else:
            ok = np.isfinite(v) and v > 0
        if not ok:
            raise ValueError(f"{name} must be a finite positive number, got {value!r}")


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
    dtype = dtype or torch.get_default_dtype()
    draw_device = generator.device if generator is not None else device
    z = torch.randn(shape, generator=generator, dtype=dtype, device=draw_device)
    return z.to(device) if device is not None else z


PROFILES = ("quick", "full")


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
