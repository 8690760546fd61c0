"""A time-conditioned MLP for toy data: the backbone ``net(x, t)`` of the 2-D and small-d chapters."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["FourierTimeFeatures", "TimeMLP"]


class FourierTimeFeatures(nn.Module):
    """sin/cos features of u = t / T at fixed geometric frequencies pi * 10^(3k/(n-1)), k < n.

    Fixed (not random) frequencies from pi to 1000 pi: the features resolve times down to about
    1e-3 T, the usual lower cut-off, and the module has no parameters and no seed.
    ``t: (B,)`` -> ``(B, 2 n_frequencies)``.
    """

    def __init__(self, n_frequencies: int = 8, T: float = 1.0):
        super().__init__()
        if isinstance(n_frequencies, bool) or not isinstance(n_frequencies, int) or n_frequencies < 1:
            raise ValueError(f"n_frequencies must be a positive int, got {n_frequencies!r}")
        self.T = float(T)
        self.register_buffer("frequencies", math.pi * torch.logspace(0, 3, n_frequencies), persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = (t / self.T).unsqueeze(-1) * self.frequencies.to(t)
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class TimeMLP(nn.Module):
    """An MLP on ``[x, Fourier features of t]``: ``x: (B, *D)``, ``t: (B,)`` -> ``(B, *D)``.

    ``dim`` is the number of coordinates of one state (the product of its event shape);
    ``depth`` hidden layers of width ``hidden`` with SiLU activations.
    """

    def __init__(self, dim: int, hidden: int = 128, depth: int = 3, n_frequencies: int = 8, T: float = 1.0):
        super().__init__()
        for name, value in [("dim", dim), ("hidden", hidden), ("depth", depth)]:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.dim = dim
        self.time_features = FourierTimeFeatures(n_frequencies, T)
        layers: list[nn.Module] = [nn.Linear(dim + 2 * n_frequencies, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        layers.append(nn.Linear(hidden, dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.dim:
            raise ValueError(f"TimeMLP was built for states of {self.dim} coordinates, got shape {tuple(x.shape)}")
        h = torch.cat([flat, self.time_features(t)], dim=-1)
        return self.layers(h).reshape(x.shape)
