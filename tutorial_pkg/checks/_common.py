"""What every checker shares: run the student's code safely and report in one consistent way."""

from __future__ import annotations

from collections.abc import Callable

import torch


class ExerciseFailed(AssertionError):
    """Raised by a checker when the student's answer disagrees with the oracle; the message is a hint."""


def fail(exercise: str, hint: str) -> None:
    """Stop with a readable hint (an ``AssertionError``, so a solution notebook fails loudly)."""
    raise ExerciseFailed(f"[{exercise}] not yet: {hint}")


def passed(exercise: str, detail: str = "") -> bool:
    """Print the success line every checker ends with, and return ``True``."""
    print(f"[{exercise}] correct{': ' + detail if detail else '.'}")
    return True


def call_student(exercise: str, fn: Callable, *args, **kwargs):
    """Call the student's function, turning a missing answer or a crash into a hint."""
    if not callable(fn):
        fail(exercise, f"expected a function, got {type(fn).__name__}")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        fail(exercise, "the function still raises NotImplementedError: replace the stub with your code")
    except Exception as err:  # the student's code crashed: say where, not a torch traceback
        fail(exercise, f"your function raised {type(err).__name__}: {err}")


def as_tensor(exercise: str, value, like: torch.Tensor | None = None, name: str = "result") -> torch.Tensor:
    """Convert a student's returned value to a tensor, with a hint when that is impossible."""
    try:
        out = torch.as_tensor(value)
    except Exception:
        fail(exercise, f"{name} should be a tensor (or a number), got {type(value).__name__}")
    if like is not None:
        if out.shape != like.shape:
            fail(exercise, f"{name} has shape {tuple(out.shape)}, expected {tuple(like.shape)}")
        out = out.to(like)
    return out


def assert_close(exercise: str, got, expected: torch.Tensor, *, rtol: float, atol: float, what: str) -> None:
    """Compare with the oracle; on failure say by how much and where."""
    got = as_tensor(exercise, got, like=expected, name=what)
    if not bool(torch.isfinite(got).all()):
        fail(exercise, f"{what} contains NaN or inf")
    if not torch.allclose(got, expected, rtol=rtol, atol=atol):
        err = (got - expected).abs()
        idx = int(err.flatten().argmax())
        fail(
            exercise,
            f"{what} is off by up to {float(err.max()):.3g} (entry {idx}: got {float(got.flatten()[idx]):.6g}, "
            f"expected {float(expected.flatten()[idx]):.6g}); tolerance rtol={rtol:g}, atol={atol:g}",
        )
