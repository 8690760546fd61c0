"""Networks: the MLP and its time features, the parametrisations, the model wrapper and the registry."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import ALL_SDES, sde_id

import tutorial_pkg as tp


def test_time_mlp_shapes_and_errors():
    net = tp.TimeMLP(6, hidden=8, depth=2)
    x = torch.randn(5, 2, 3)  # any event shape with 6 coordinates
    assert net(x, torch.rand(5)).shape == x.shape
    assert sum(isinstance(m, torch.nn.Linear) for m in net.modules()) == 3  # depth hidden layers + the output
    with pytest.raises(ValueError, match="built for states of 6 coordinates"):
        net(torch.randn(5, 4), torch.rand(5))
    for bad in [dict(dim=0), dict(dim=6, hidden=0), dict(dim=6, depth=-1), dict(dim=2.5)]:
        with pytest.raises(ValueError, match="must be a positive int"):
            tp.TimeMLP(**bad)


def test_fourier_features_span_pi_to_1000_pi_and_have_no_parameters():
    feat = tp.FourierTimeFeatures(4, T=2.0)
    assert not list(feat.parameters())
    torch.testing.assert_close(feat.frequencies, math.pi * torch.tensor([1.0, 10.0, 100.0, 1000.0]))
    t = torch.tensor([0.0, 1.0])
    out = feat(t)
    assert out.shape == (2, 8)
    torch.testing.assert_close(out[0], torch.cat([torch.zeros(4), torch.ones(4)]))  # sin 0, cos 0
    torch.testing.assert_close(out[1, 0], torch.tensor(math.sin(math.pi / 2)))  # u = t / T = 1/2


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_parametrisations_are_inverse_to_each_other(sde):
    gen = torch.Generator().manual_seed(0)
    x, s = torch.randn(7, 2, generator=gen), torch.randn(7, 2, generator=gen)
    t = 0.05 * sde.T + 0.9 * sde.T * torch.rand(7, generator=gen)
    torch.testing.assert_close(tp.to_score(tp.score_to_eps(s, x, t, sde), x, t, sde, "eps"), s)
    torch.testing.assert_close(tp.to_score(tp.score_to_x0(s, x, t, sde), x, t, sde, "x0"), s)
    torch.testing.assert_close(tp.to_score(s, x, t, sde, "score"), s)
    # Tweedie on Gaussian data: the x0-prediction of the exact score is the exact posterior mean
    data = tp.Gaussian(torch.tensor([0.5, -1.0]), torch.tensor([0.7, 0.3]))
    exact = tp.ExactScore(data, sde)(x, t)
    torch.testing.assert_close(tp.score_to_x0(exact, x, t, sde), data.posterior_mean(x, sde, t), rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="unknown parametrization 'v'"):
        tp.to_score(s, x, t, sde, "v")


def test_score_model_runs_the_backbone_in_its_dtype_and_answers_in_the_callers():
    sde = tp.VP()
    net = tp.TimeMLP(2, 8, 1).float()
    model = tp.ScoreModel(net, sde, "eps")
    x = torch.randn(4, 2, dtype=torch.float64)
    out = model(x, 0.4)
    assert out.dtype == torch.float64 and out.shape == x.shape
    x_in = x / torch.sqrt(sde.mean_coeff(0.4) ** 2 + sde.variance(0.4))  # c_in rescaling, mu = 0
    raw = net(x_in.float(), torch.full((4,), 0.4, dtype=torch.float32)).double()
    torch.testing.assert_close(out, -raw / sde.std(0.4), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(model.eps(x, 0.4), raw, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="x must be a floating tensor"):
        model(torch.zeros(4, 2, dtype=torch.long), 0.4)


def test_call_network_handles_a_backbone_without_parameters():
    class Identity(torch.nn.Module):
        def forward(self, x, t):
            return 2 * x

    x = torch.randn(3, 2, dtype=torch.float64)
    torch.testing.assert_close(tp.call_network(Identity(), x, torch.zeros(3)), 2 * x)


def test_network_registry():
    assert set(tp.network_parameters("mlp")) == {"hidden", "depth", "n_frequencies"}
    net = tp.build_network("mlp", (1, 4, 4), T=1.0, hidden=8)
    assert isinstance(net, tp.TimeMLP) and net.dim == 16 and next(net.parameters()).dtype == torch.float32
    with pytest.raises(ValueError, match="network 'mlp' has no parameter 'width'"):
        tp.build_network("mlp", (2,), T=1.0, width=3)
    with pytest.raises(ValueError, match="unknown network 'unet'; choose one of mlp"):
        tp.build_network("unet", (2,), T=1.0)
