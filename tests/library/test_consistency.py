"""Consistency models: the flow map, the boundary condition, the losses and their training."""

from __future__ import annotations

import pytest
import torch
from conftest import ALL_SDES, sde_id

import tutorial_pkg as tp
from tutorial_pkg.consistency import (
    ConsistencyModel,
    consistency_distillation_loss,
    consistency_grid,
    consistency_sample,
    consistency_training_loss,
    pf_ode_flow_map,
)


def _gaussian_flow(sde, data, x, t, s):
    """Closed-form PF-ODE flow map for Gaussian data N(m, s0^2 I): linear, matching the kernel's moments."""
    m, s0 = data.loc, data.scale
    a_t, a_s = sde.mean_coeff(torch.tensor(t)), sde.mean_coeff(torch.tensor(s))
    v_t = a_t**2 * s0**2 + sde.variance(torch.tensor(t))
    v_s = a_s**2 * s0**2 + sde.variance(torch.tensor(s))
    mu = sde.mu
    return mu + a_s * (m - mu) + torch.sqrt(v_s / v_t) * (x - mu - a_t * (m - mu))


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_flow_map_matches_the_gaussian_closed_form_and_composes(sde):
    data = tp.Gaussian(torch.tensor([0.4, -0.3]), 0.6)
    score = tp.ExactScore(data, sde)
    x = data.diffuse(sde, 0.8 * sde.T).sample(32, generator=torch.Generator().manual_seed(0))
    t, u, s = 0.8 * sde.T, 0.4 * sde.T, 0.05 * sde.T
    exact = _gaussian_flow(sde, data, x, t, s)
    coarse = (pf_ode_flow_map(sde, score, x, t, s, n_steps=100) - exact).abs().max()
    direct = pf_ode_flow_map(sde, score, x, t, s, n_steps=400)
    fine = (direct - exact).abs().max()
    assert fine < coarse / 10 and fine < 1e-4, (coarse, fine)  # Heun is second order: 16x for 4x the steps
    composed = pf_ode_flow_map(sde, score, pf_ode_flow_map(sde, score, x, t, u, 200), u, s, 200)
    assert torch.allclose(direct, composed, atol=2e-4)  # group property, up to the solver's error


def test_boundary_condition_holds_exactly():
    sde = tp.VE()
    model = ConsistencyModel(tp.TimeMLP(2, 16, 2).double(), sde, t_min=0.01)
    x = torch.randn(8, 2)
    assert torch.allclose(model(x, 0.01), x, atol=1e-12)
    assert not torch.allclose(model(x, 0.5), x)


def test_grid_and_losses():
    sde, mix = tp.VP(), tp.ring_mixture()
    grid = consistency_grid(sde, 10, 1e-3)
    assert grid.shape == (10,) and (grid.diff() > 0).all() and grid[-1] == sde.T
    model = ConsistencyModel(tp.TimeMLP(2, 16, 2).double(), sde)
    x0 = mix.sample(64, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    cd = consistency_distillation_loss(model, x0, sde, target=model, teacher=tp.ExactScore(mix, sde), generator=g)
    ct = consistency_training_loss(model, x0, sde, target=model, generator=g)
    assert cd.shape == ct.shape == (64,) and (cd >= 0).all() and (ct >= 0).all()
    with pytest.raises(ValueError, match="coupling"):
        consistency_training_loss(model, x0, sde, target=model, coupling="mixed")


def test_shared_noise_puts_a_point_mass_pair_on_one_trajectory():
    """Data at 0 under VE: the PF-ODE trajectories are the rays x_t = (sigma_t / sigma_s) x_s.  With shared noise
    the consistency-training pair lies on one of them (as the distillation pair does); independent noise does not."""
    sde = tp.VE()
    x0 = torch.zeros(256, 2)
    for coupling, on_ray in [("shared", True), ("independent", False)]:
        seen = {}

        def model(x, t, seen=seen):
            seen["hi"] = (x.clone(), t.clone())
            return x

        def target(x, t, seen=seen):
            seen["lo"] = (x.clone(), t.clone())
            return x

        g = torch.Generator().manual_seed(3)
        consistency_training_loss(model, x0, sde, target=target, coupling=coupling, generator=g)
        (x_hi, t_hi), (x_lo, t_lo) = seen["hi"], seen["lo"]
        ratio = (sde.std(t_lo) / sde.std(t_hi)).unsqueeze(1)
        assert torch.allclose(x_lo, ratio * x_hi, atol=1e-12) == on_ray, coupling


def test_consistency_training_runs_and_distillation_is_cached_with_its_teacher(tmp_path):
    mix = tp.ring_mixture().to(dtype=torch.float32)
    base = tp.TrainConfig(net_kwargs={"hidden": 16, "depth": 2}, steps=30, batch_size=32, warmup=5)
    teacher = tp.load_or_train(base, mix, cache=tmp_path, device="cpu")
    cd = base.replace(loss="cd", ema_decay=0.95)
    first = tp.load_or_train(cd, mix, cache=tmp_path, device="cpu", teacher=teacher)
    again = tp.load_or_train(cd, mix, cache=tmp_path, device="cpu", teacher=teacher)
    assert isinstance(first.model, ConsistencyModel) and again.from_cache and torch.isfinite(first.losses).all()
    x = consistency_sample(again.model, cd.make_sde(), torch.randn(5, 2), taus=(0.5,))
    assert x.shape == (5, 2) and torch.isfinite(x).all()
    with pytest.raises(ValueError, match="needs teacher"):
        tp.train(cd, mix, device="cpu")
    with pytest.raises(ValueError, match="cache key"):
        tp.load_or_train(cd, mix, cache=tmp_path, teacher=tp.train(base, mix, device="cpu"))
    ct = tp.train(base.replace(loss="ct", loss_kwargs={"coupling": "independent"}), mix, device="cpu")
    assert torch.isfinite(ct.losses).all()
