"""What every sampler shares: the input checks, the one step loop with its callback, and the noise source."""

from __future__ import annotations

from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from ..grids import check_grid
from ..sde import check_sde
from ..utils import check_generator, randn

__all__ = ["Callback", "check_inputs", "checked_score", "sweep", "NoiseSource"]

#: ``callback(i, t, x)``: called after step ``i`` with the new time ``t`` (a float) and state ``x: (B, *D)``.
Callback = Callable[[int, float, torch.Tensor], None]


def check_inputs(sde, score, x, ts, generator=None, *, decreasing: bool | None = True) -> torch.Tensor:
    """Check the shared arguments of a sampler up front; return the grid in ``x``'s device and dtype."""
    check_sde(sde)
    if not callable(score):
        raise TypeError(f"score must be a callable score(x, t), got {type(score).__name__}")
    if not torch.is_tensor(x) or x.ndim < 2:
        raise ValueError(f"x must be a tensor of shape (B, *D), got {getattr(x, 'shape', type(x))}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    check_generator(generator)
    return check_grid(ts, T=sde.T, decreasing=decreasing, like=x)


def checked_score(score, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``score(x, t)`` with its shape checked against ``x`` (a score of the wrong shape would broadcast)."""
    s = score(x, t)
    if not torch.is_tensor(s) or s.shape != x.shape:
        raise ValueError(f"score returned shape {tuple(getattr(s, 'shape', ()))}, expected {tuple(x.shape)}")
    return s


def sweep(step, x, ts: torch.Tensor, callback: Callback | None, progress: bool):
    """The one step loop: ``x <- step(i, x, t, t_next)`` for consecutive grid times (0-d tensors), calling
    ``callback(i, t_next, x)`` after each step; ``progress`` shows a bar.  ``x`` may be a tensor or a tuple."""
    pairs = list(zip(ts[:-1], ts[1:], strict=True))
    for i, (t, t_next) in enumerate(tqdm(pairs, disable=not progress, leave=False)):
        x = step(i, x, t, t_next)
        if callback is not None:
            callback(i, float(t_next), x)
    return x


class NoiseSource:
    """The standard normal draws of a stochastic sampler: injected, or drawn from ``generator``.

    ``noise: (B, M, *D)`` holds the M draws of a run in the order the sampler consumes them (its docstring
    says which); ``M`` must equal ``n_draws``.  Without ``noise`` each draw comes from ``generator`` on its
    own device (:func:`tutorial_pkg.randn`), so a CPU generator gives the same samples on every device.
    """

    def __init__(self, noise: torch.Tensor | None, generator, like: torch.Tensor, n_draws: int):
        self.generator, self.like, self.used = generator, like, 0
        if noise is not None:
            expected = (like.shape[0], n_draws, *like.shape[1:])
            if not torch.is_tensor(noise) or tuple(noise.shape) != expected:
                raise ValueError(
                    f"noise must have shape (B, M, *D) = {expected} (M = {n_draws} draws for this grid and "
                    f"these options), got {tuple(getattr(noise, 'shape', ()))}"
                )
        self.noise = noise

    def __call__(self, index: int | None = None) -> torch.Tensor:
        """The next draw (or draw number ``index`` of the injected noise), shaped like ``like``."""
        k = self.used if index is None else index
        self.used = k + 1
        if self.noise is not None:
            return self.noise[:, k].to(self.like)
        return randn(self.like.shape, generator=self.generator, dtype=self.like.dtype, device=self.like.device)
