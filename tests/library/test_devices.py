"""The model path on every available device: a model that lives on a device takes CPU inputs and returns CPU
results, for training, loading, losses, sampling, likelihoods and consistency sampling.

``DEVICES`` is the CPU plus CUDA (and Apple's MPS) where present, so on a GPU machine the same tests run on the
GPU; on this CPU-only machine they run on the CPU.  Callers work in float64 here (the default dtype of the test
suite), so every test also crosses the float32 network / float64 caller boundary.
"""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES

import tutorial_pkg as tp
from tutorial_pkg.course.plotting import plot_score_field

SMALL = tp.TrainConfig(net_kwargs={"hidden": 16, "depth": 2}, steps=40, batch_size=32, warmup=4, seed=2)
MIX = tp.ring_mixture(dtype=torch.float32)


@pytest.fixture(scope="module", params=DEVICES)
def trained(request, tmp_path_factory):
    device = request.param
    cache = tmp_path_factory.mktemp(f"cache-{device}")
    first = tp.load_or_train(SMALL, MIX, device=device, cache=cache)
    return device, cache, first


def test_training_and_loading_keep_the_model_on_its_device(trained):
    device, cache, first = trained
    again = tp.load_or_train(SMALL, MIX, device=device, cache=cache)
    assert again.from_cache and not first.from_cache and again.device == torch.device(device).type
    assert next(again.model.parameters()).device.type == torch.device(device).type
    x = torch.randn(5, 2, dtype=torch.float64)  # CPU, float64
    out = again.model(x, 0.3)
    assert out.device.type == "cpu" and out.dtype == torch.float64 and out.shape == x.shape
    # the same float32 weights: equal up to float32 rounding (matmul kernels may round differently with the memory
    # layout, by an ulp of float32, 1e-7 relative)
    torch.testing.assert_close(out, first.model(x, 0.3), rtol=1e-5, atol=1e-6)
    assert again.path is not None and again.path.exists() and again.sde.T == 1.0


def test_cache_keys_differ_by_device_kind():
    assert tp.cache_key(SMALL, MIX, device="cpu") != tp.cache_key(SMALL, MIX, device="cuda")


def test_losses_take_cpu_batches(trained):
    _, _, result = trained
    x0 = MIX.sample(64, generator=torch.Generator().manual_seed(0)).double()
    for loss in (tp.dsm_loss, tp.ssm_loss, tp.ism_loss):
        values = loss(result.model, x0, result.sde, generator=torch.Generator().manual_seed(1))
        assert values.shape == (64,) and values.device.type == "cpu" and bool(torch.isfinite(values).all())


@pytest.mark.parametrize("sampler", sorted(tp.SAMPLERS))
def test_every_sampler_takes_cpu_states(trained, sampler):
    _, _, result = trained
    sde = result.sde
    x = sde.prior_sample((32, 2), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        out = tp.get_sampler(sampler)(sde, result.model, x, tp.quadratic_grid(sde, 6), generator=torch.Generator())
    assert out.device.type == "cpu" and out.dtype == torch.float64 and bool(torch.isfinite(out).all())


def test_sample_entry_point_on_each_device(trained):
    device, _, result = trained
    a = tp.sample(result.sde, result.model, (16, 2), n_steps=10, generator=torch.Generator().manual_seed(4))
    b = tp.sample(result.sde, result.model, (16, 2), n_steps=10, generator=torch.Generator().manual_seed(4))
    assert a.device.type == "cpu" and a.dtype == torch.float32 and torch.equal(a, b)
    there = tp.sample(
        result.sde, result.model, (16, 2), n_steps=10, device=device, generator=torch.Generator().manual_seed(4)
    )
    assert there.device.type == torch.device(device).type
    torch.testing.assert_close(there.cpu(), a, rtol=1e-4, atol=1e-4)  # same draws: a CPU generator everywhere


def test_likelihood_takes_cpu_points(trained):
    _, _, result = trained
    x = MIX.sample(8, generator=torch.Generator().manual_seed(5)).double()
    for kw in ({"solver": "heun", "n_steps": 8}, {"solver": "rk45", "rtol": 1e-3, "atol": 1e-3}):
        ll, info = tp.pf_ode_log_likelihood(result.sde, result.model, x, **kw)
        assert ll.shape == (8,) and ll.device.type == "cpu" and bool(torch.isfinite(ll).all()), kw
    ll, _ = tp.pf_ode_log_likelihood(
        result.sde, result.model, x, solver="heun", n_steps=4, divergence="hutchinson", generator=torch.Generator()
    )
    assert ll.device.type == "cpu"


@pytest.mark.parametrize("device", DEVICES)
def test_consistency_model_on_a_device_takes_cpu_inputs(device):
    config = SMALL.replace(sde="ve", loss="ct", steps=20, t_min=1e-3)
    result = tp.train(config, MIX, device=device)
    x_T = result.sde.prior_sample((16, 2), generator=torch.Generator().manual_seed(6))
    out = tp.consistency_sample(result.model, result.sde, x_T, (0.5,), generator=torch.Generator().manual_seed(7))
    assert out.device.type == "cpu" and out.dtype == x_T.dtype and bool(torch.isfinite(out).all())


def test_plot_score_field_with_a_model_on_its_device(trained):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    _, _, result = trained
    fig, ax = plt.subplots()
    plot_score_field(ax, result.model, 0.5, n=5)
    plt.close(fig)
