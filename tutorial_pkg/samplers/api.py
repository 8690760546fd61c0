"""The samplers by name, the one-call entry :func:`sample`, and two callables to observe a run:
:class:`CountingScore` (the number of score evaluations) and :class:`Trajectory` (the states along the grid)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..grids import make_grid
from ..sde import check_contract
from ..utils import check_generator
from .euler import euler_maruyama
from .exponential import ddim, dpm_solver_multistep, exponential_integrator
from .langevin import predictor_corrector
from .ode import ode_adaptive, ode_euler, ode_heun

__all__ = ["SAMPLERS", "STOCHASTIC_SAMPLERS", "get_sampler", "resolve_sampler", "sample", "CountingScore", "Trajectory"]

#: The samplers by name (:func:`get_sampler`, :func:`sample`); they share one signature.
SAMPLERS: dict[str, Callable] = {
    "euler_maruyama": euler_maruyama,
    "ode_euler": ode_euler,
    "ode_heun": ode_heun,
    "ode_adaptive": ode_adaptive,
    "exponential_integrator": exponential_integrator,
    "ddim": ddim,
    "dpm_solver_multistep": dpm_solver_multistep,
    "predictor_corrector": predictor_corrector,
}

#: The samplers that draw noise (and take ``noise=``); the others are deterministic.
STOCHASTIC_SAMPLERS = ("euler_maruyama", "exponential_integrator", "ddim", "predictor_corrector")


def get_sampler(name: str) -> Callable:
    """Look a sampler up by name (one of ``SAMPLERS``)."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    return SAMPLERS[name]


def resolve_sampler(sampler) -> tuple[str, Callable]:
    """``(name, function)`` for a sampler given by name (one of ``SAMPLERS``) or as a function."""
    if isinstance(sampler, str):
        return sampler, get_sampler(sampler)
    if callable(sampler):
        name = next((k for k, v in SAMPLERS.items() if v is sampler), getattr(sampler, "__name__", "sampler"))
        return name, sampler
    raise TypeError(f"sampler must be a name or a function, got {type(sampler).__name__}")


def sample(
    sde,
    score,
    shape: tuple[int, ...],
    *,
    sampler: str = "euler_maruyama",
    grid: str = "quadratic",
    n_steps: int = 200,
    t_min: float = 1e-3,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
    progress: bool = False,
    **options,
) -> torch.Tensor:
    """``shape = (n, *D)`` samples: draw the prior p_noise, then run ``sampler`` from T down to ``t_min``.

    ``grid``: ``"quadratic"`` (the default: steps shrink towards t_min, so the last Euler–Maruyama step does
    not add noise of variance g^2 |dt| far above sigma^2(t_min)), ``"uniform"`` or ``"karras"``
    (:mod:`tutorial_pkg.grids`), with ``n_steps`` steps.  The state lives on ``device`` (default: the CPU) in
    ``dtype``; a :class:`~tutorial_pkg.ScoreModel` elsewhere (a GPU) receives it there and returns the score
    here.  The prior is drawn with ``generator`` on its own device, so a CPU generator gives the same samples
    whatever ``device`` is.  ``options`` go to the sampler (e.g. ``h_ratio``).  Runs under ``torch.no_grad``;
    the SDE's formulas are checked first (:func:`~tutorial_pkg.check_contract`).
    """
    fn = get_sampler(sampler)
    check_contract(sde)
    shape = tuple(shape)
    if len(shape) < 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(f"shape must be (n, *D) with positive ints, e.g. (1000, 2), got {shape!r}")
    ts = make_grid(grid, sde, n_steps, t_min, dtype=dtype)
    x = sde.prior_sample(shape, generator=check_generator(generator), dtype=dtype, device=device or "cpu")
    with torch.no_grad():
        return fn(sde, score, x, ts, generator=generator, progress=progress, **options)


class CountingScore:
    """Wrap a score to count its evaluations: ``calls`` (network calls) and ``rows`` (states evaluated).

    The number of function evaluations (NFE) of a sampler is ``calls`` after one run.
    """

    def __init__(self, score):
        if not callable(score):
            raise TypeError(f"score must be callable, got {type(score).__name__}")
        self.score, self.calls, self.rows = score, 0, 0

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        self.calls += 1
        self.rows += x.shape[0]
        return self.score(x, t)


class Trajectory:
    """A sampler callback that keeps the state after every step (optionally only every ``every``-th step).

    Pass it as ``callback=``.  ``start`` and ``t_start`` put the initial state first.  ``times`` is ``(K,)``,
    ``states`` ``(B, K, *D)`` (batch first, the package's layout for paths), detached and on the CPU.
    """

    def __init__(self, start: torch.Tensor | None = None, t_start: float | None = None, *, every: int = 1):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        if (start is None) != (t_start is None):
            raise ValueError("give both start and t_start, or neither")
        self.every = every
        self._times: list[float] = [] if start is None else [float(t_start)]
        self._states: list[torch.Tensor] = [] if start is None else [start.detach().cpu()]

    def __call__(self, i: int, t: float, x: torch.Tensor) -> None:
        if (i + 1) % self.every == 0:
            self._times.append(float(t))
            self._states.append(x.detach().cpu())

    @property
    def times(self) -> torch.Tensor:
        return torch.tensor(self._times, dtype=torch.float64)

    @property
    def states(self) -> torch.Tensor:
        if not self._states:
            raise ValueError("the trajectory is empty: pass it as callback= to a sampler first")
        return torch.stack(self._states, dim=1)

    def __len__(self) -> int:
        return len(self._states)
