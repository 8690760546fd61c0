"""Model wrappers: a backbone ``net(x_in, t)`` turned into a score s_theta(x, t) that any sampler, loss or
likelihood can call, on whatever device and dtype the caller works in.

:func:`call_network` is the one place where inputs travel to the backbone's device and dtype and the output
comes back to the caller's: a model on the GPU accepts CPU float64 tensors and returns CPU float64 tensors.
"""

from __future__ import annotations

import torch
from torch import nn

from ..sde import check_sde
from ..utils import batch_time
from .parametrization import _kernel, _score_from, check_parametrization, score_to_eps, score_to_x0

__all__ = ["call_network", "ScoreModel"]


def call_network(net: nn.Module, x_in: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``net(x_in, t)`` run on the backbone's device and in its dtype, returned on ``x_in``'s device and dtype.

    ``x_in: (B, *D)``, ``t: (B,)``.  The backbone's device and dtype are those of its first parameter (or
    buffer); a backbone with neither runs where the input is.
    """
    ref = next(net.parameters(), None)
    if ref is None:
        ref = next(net.buffers(), None)
    if ref is None or not ref.is_floating_point():
        return net(x_in, t)
    out = net(x_in.to(device=ref.device, dtype=ref.dtype), t.to(device=ref.device, dtype=ref.dtype))
    return out.to(device=x_in.device, dtype=x_in.dtype)


class ScoreModel(nn.Module):
    """A score s_theta(x, t) from a backbone ``net(x_in, t)`` trained in a chosen parametrisation.

    The backbone sees the rescaled input x_in = (x - mu) / sqrt(alpha_t^2 + sigma_t^2), which has about
    unit spread at every t for data of unit spread (Karras et al. 2022, c_in), and the time ``t: (B,)``.
    The backbone runs on its own device and in its own dtype (float32 usually); the input is moved there and
    the result back (:func:`call_network`), so float64 samplers and CPU callers can drive a GPU network.
    ``forward(x, t)`` checks that ``t`` lies in ``[0, T]`` and returns the score, shape of ``x``.
    """

    def __init__(self, net: nn.Module, sde, parametrization: str = "eps"):
        super().__init__()
        self.net = net
        self.sde = check_sde(sde)
        self.parametrization = check_parametrization(parametrization)

    def _times(self, x: torch.Tensor, t) -> torch.Tensor:
        if not torch.is_tensor(x) or x.ndim < 2 or not x.is_floating_point():
            raise ValueError(f"x must be a floating tensor of shape (B, *D), got {getattr(x, 'shape', type(x))}")
        return batch_time(self.sde.check_time(t, like=x), x)

    def output(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """The backbone's raw output at ``(x, t)`` (in the parametrisation it was trained in)."""
        t = self._times(x, t)
        return self._output(x, t, _kernel(self.sde, t, x, checked=True))

    def _output(self, x: torch.Tensor, t: torch.Tensor, kernel) -> torch.Tensor:
        mu, alpha, sigma = kernel
        return call_network(self.net, (x - mu) / torch.sqrt(alpha**2 + sigma**2), t)

    def forward(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        t = self._times(x, t)  # checked once; the kernel is computed once for the input and the conversion
        kernel = _kernel(self.sde, t, x, checked=True)
        return _score_from(self._output(x, t, kernel), x, kernel, self.parametrization)

    def eps(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """The noise prediction -sigma_t s(x, t)."""
        t = self._times(x, t)
        return score_to_eps(self(x, t), x, t, self.sde)

    def x0(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """The denoiser E[X_0 | X_t = x] by Tweedie's formula."""
        t = self._times(x, t)
        return score_to_x0(self(x, t), x, t, self.sde)
