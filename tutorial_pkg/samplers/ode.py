"""The probability-flow ODE: Euler, Heun, an adaptive Runge–Kutta solver, and the two building blocks
other modules reuse — :func:`heun_step` and :func:`solve_ivp_torch`, the one bridge to ``scipy``.

The ODE samplers accept a grid in either direction: decreasing (from T down to t_min, sampling) or
increasing (from data towards noise, encoding), since the probability-flow ODE is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..utils import append_dims, batch_time
from .base import Callback, check_inputs, sweep

__all__ = ["heun_step", "solve_ivp_torch", "ode_euler", "ode_heun", "ode_adaptive"]


def _axpy(state, deriv, dt):
    """``state + dt * deriv`` for a tensor or a tuple of tensors; ``dt`` a number, 0-d or ``(B,)``."""
    if isinstance(state, tuple):
        return tuple(_axpy(s, d, dt) for s, d in zip(state, deriv, strict=True))
    if torch.is_tensor(dt) and dt.ndim == 1:
        dt = append_dims(dt.to(state), state.ndim)
    return state + deriv * dt


def _average(a, b):
    if isinstance(a, tuple):
        return tuple(_average(x, y) for x, y in zip(a, b, strict=True))
    return 0.5 * (a + b)


def heun_step(field: Callable, state, t, t_next):
    """One step of Heun's method (the explicit trapezoidal rule; Karras et al. 2022, Alg. 1) for
    d state / dt = field(state, t), from ``t`` to ``t_next``.

    ``state``: a tensor ``(B, *D)`` or a tuple of tensors with a leading batch dimension (an augmented state);
    ``t``, ``t_next``: numbers, 0-d tensors or ``(B,)`` (a time per sample).  Two evaluations of ``field``.
    """
    dt = t_next - t
    d1 = field(state, t)
    d2 = field(_axpy(state, d1, dt), t_next)
    return _axpy(state, _average(d1, d2), dt)


def solve_ivp_torch(
    fn: Callable[[torch.Tensor, float], torch.Tensor],
    y0: torch.Tensor,
    t_span: tuple[float, float],
    *,
    t_eval=None,
    method: str = "RK45",
    rtol: float = 1e-5,
    atol: float = 1e-5,
) -> torch.Tensor:
    """Solve dy/dt = fn(y, t) with ``scipy.integrate.solve_ivp`` for a tensor state ``y0`` of any shape.

    ``fn`` takes and returns tensors shaped like ``y0`` (in its dtype and device); scipy integrates the
    flattened state in float64 on the CPU.  Returns the states at ``t_eval``, ``(len(t_eval), *y0.shape)``, or
    the final state ``y0.shape`` when ``t_eval`` is None.  A failure raises ``RuntimeError`` with scipy's reason.
    """
    from scipy.integrate import solve_ivp

    shape, dtype, device = y0.shape, y0.dtype, y0.device
    resolution = 10 * torch.finfo(dtype).eps
    if not rtol >= resolution:
        raise ValueError(
            f"rtol={rtol:g} asks for more than {dtype} can resolve (about {resolution:.0e}): the solver would "
            "shrink its steps forever; loosen rtol or pass float64 inputs"
        )

    def rhs(t, y):
        state = torch.as_tensor(y, dtype=dtype, device=device).reshape(shape)
        return fn(state, float(t)).reshape(-1).cpu().double().numpy()

    t_eval_np = None if t_eval is None else torch.as_tensor(t_eval).cpu().double().numpy()
    sol = solve_ivp(
        rhs, t_span, y0.detach().reshape(-1).cpu().double().numpy(), method=method, t_eval=t_eval_np,
        rtol=rtol, atol=atol,
    )  # fmt: skip
    if not sol.success:
        raise RuntimeError(f"the ODE solver failed: {sol.message}; loosen rtol/atol or check the field for NaNs")
    ys = torch.as_tensor(sol.y.T, dtype=dtype, device=device)
    return ys.reshape(-1, *shape) if t_eval is not None else ys[-1].reshape(shape)


def _checked_field(sde, score) -> Callable:
    """The probability-flow field ``F(x, t)`` for times on a grid the sampler has checked (no per-step checks)."""
    flow = sde.probability_flow(score)
    return lambda x, t: flow._drift(x, batch_time(t, x))


def ode_euler(
    sde,
    score,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Euler's method for the probability-flow ODE dx/dt = f - g^2 score / 2 (Tang & Zhao eq. 5.6).

    Deterministic: ``generator`` is accepted for the shared signature and unused.
    """
    ts = check_inputs(sde, score, x, ts, generator, decreasing=None)
    field = _checked_field(sde, score)
    return sweep(lambda i, x, t, t_next: x + field(x, t) * (t_next - t), x, ts, callback, progress)


def ode_heun(
    sde,
    score,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Heun's second-order method for the probability-flow ODE (Karras et al. 2022, Alg. 1).

    Two score evaluations per step.  Deterministic: ``generator`` is unused.
    """
    ts = check_inputs(sde, score, x, ts, generator, decreasing=None)
    field = _checked_field(sde, score)
    return sweep(lambda i, x, t, t_next: heun_step(field, x, t, t_next), x, ts, callback, progress)


def ode_adaptive(
    sde,
    score,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    method: str = "RK45",
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """The probability-flow ODE with an adaptive Runge–Kutta solver (``scipy.integrate.solve_ivp``).

    Integrates from ``ts[0]`` to ``ts[-1]`` with step sizes chosen by the error tolerances ``rtol``/``atol``
    (Dormand–Prince 5(4) by default, as Song et al. 2021a); the intermediate times of ``ts`` are where
    ``callback`` sees the solution.  The whole batch is one ODE system (float64 on the CPU inside scipy),
    so the solver's steps are shared by the batch.  Deterministic: ``generator`` and ``progress`` are unused.
    """
    ts = check_inputs(sde, score, x, ts, generator, decreasing=None)
    flow_field = _checked_field(sde, score)

    def field(state, t):
        with torch.no_grad():
            return flow_field(state, t)

    states = solve_ivp_torch(
        field, x, (float(ts[0]), float(ts[-1])), t_eval=ts, method=method, rtol=rtol, atol=atol
    )
    if callback is not None:
        for i in range(1, ts.numel()):
            callback(i - 1, float(ts[i]), states[i])
    return states[-1]
