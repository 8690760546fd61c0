"""The training loop and the model cache: determinism, resume, corrupt entries, load-instead-of-train."""

from __future__ import annotations

import time

import pytest
import torch

import tutorial_pkg as tp
from tutorial_pkg.training import CACHE_FORMAT

SMALL = tp.TrainConfig(net_kwargs={"hidden": 16, "depth": 2}, steps=60, batch_size=64, warmup=10, seed=3)


@pytest.fixture
def data():
    return tp.swiss_roll(500, generator=torch.Generator().manual_seed(0)).float()


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_same_seed_same_weights_and_the_loss_is_recorded(data):
    a, b = tp.train(SMALL, data, device="cpu"), tp.train(SMALL, data, device="cpu")
    assert _same_weights(a.model, b.model) and _same_weights(a.raw_model, b.raw_model)
    assert a.losses.shape == (SMALL.steps,) and torch.isfinite(a.losses).all()
    assert a.finished and not a.from_cache
    c = tp.train(SMALL.replace(seed=4), data, device="cpu")
    assert not _same_weights(a.model, c.model)


def test_interrupted_and_resumed_run_ends_with_the_same_weights(data, tmp_path):
    straight = tp.train(SMALL, data, device="cpu")
    ckpt = tmp_path / "run.pt"
    first = tp.train(SMALL, data, device="cpu", checkpoint=ckpt, stop_after=25)
    assert first.steps_done == 25 and not first.finished and ckpt.exists()
    resumed = tp.train(SMALL, data, device="cpu", checkpoint=ckpt)
    assert resumed.steps_done == SMALL.steps
    assert _same_weights(straight.raw_model, resumed.raw_model)
    assert _same_weights(straight.model, resumed.model)
    assert torch.equal(straight.losses, resumed.losses)


def test_a_second_request_loads_and_is_much_faster(data, tmp_path):
    config = SMALL.replace(steps=400)
    tic = time.perf_counter()
    first = tp.load_or_train(config, data, cache=tmp_path, device="cpu")
    t_train = time.perf_counter() - tic
    tic = time.perf_counter()
    second = tp.load_or_train(config, data, cache=tmp_path, device="cpu")
    t_load = time.perf_counter() - tic
    assert not first.from_cache and second.from_cache
    assert _same_weights(first.model, second.model)
    assert torch.equal(first.losses, second.losses)
    assert t_train > 10 * t_load, (t_train, t_load)
    assert [p.name for p in tmp_path.iterdir()] == [f"{tp.cache_key(config, data)}.pt"]


def test_the_cache_key_follows_config_and_data(data):
    assert tp.cache_key(SMALL, data) == tp.cache_key(SMALL.replace(), data.clone())
    assert tp.cache_key(SMALL, data) != tp.cache_key(SMALL.replace(lr=1e-3), data)
    assert tp.cache_key(SMALL, data) != tp.cache_key(SMALL, data[:-1])


def test_a_corrupt_cache_entry_is_rebuilt(data, tmp_path):
    first = tp.load_or_train(SMALL, data, cache=tmp_path, device="cpu")
    entry = tmp_path / f"{tp.cache_key(SMALL, data)}.pt"
    entry.write_bytes(b"this is not a checkpoint")
    with pytest.warns(UserWarning, match="training from scratch"):
        again = tp.load_or_train(SMALL, data, cache=tmp_path, device="cpu")
    assert not again.from_cache and _same_weights(first.model, again.model)
    assert tp.load_or_train(SMALL, data, cache=tmp_path, device="cpu").from_cache


def test_a_stale_checkpoint_is_ignored(data, tmp_path):
    ckpt = tmp_path / "run.pt"
    tp.train(SMALL, data, device="cpu", checkpoint=ckpt, stop_after=10)
    obj = torch.load(ckpt, weights_only=True)
    obj["format"] = CACHE_FORMAT + 1
    torch.save(obj, ckpt)
    with pytest.warns(UserWarning, match="another version"):
        result = tp.train(SMALL, data, device="cpu", checkpoint=ckpt)
    assert _same_weights(result.model, tp.train(SMALL, data, device="cpu").model)
    other = SMALL.replace(lr=1e-3)
    with pytest.warns(UserWarning, match="configuration differs"):
        tp.train(other, data, device="cpu", checkpoint=ckpt, stop_after=5)


def test_a_mixture_is_sampled_fresh_and_explicit_matching_needs_one(data):
    mix = tp.ring_mixture()
    result = tp.train(SMALL.replace(loss="esm", steps=20), mix, device="cpu")
    assert torch.isfinite(result.losses).all()
    with pytest.raises(ValueError, match="needs the true score"):
        tp.train(SMALL.replace(loss="esm"), data, device="cpu")


def test_callback_sees_the_ema_model(data):
    seen = []

    def record(step, model):
        seen.append((step, model(data[:4], 0.5).shape))

    tp.train(SMALL, data, device="cpu", callback=record, callback_every=20)
    assert seen == [(20, (4, 2)), (40, (4, 2)), (60, (4, 2))]


def test_training_brings_the_score_closer_to_the_truth():
    """200 steps of DSM on Gaussian data cut the weighted L2 error to the exact score at least in half."""
    data = tp.Gaussian(torch.zeros(2), 0.5)
    config = SMALL.replace(steps=300, net_kwargs={"hidden": 32, "depth": 2})
    sde = config.make_sde()
    x0 = data.sample(4000, generator=torch.Generator().manual_seed(1))
    target = tp.ExactScore(data, sde)

    def error(model):
        g = torch.Generator().manual_seed(2)
        with torch.no_grad():
            return tp.esm_loss(model, x0, sde, target=target, generator=g).mean().item()

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        untrained = config.build_model((2,))
    trained = tp.train(config, data, device="cpu").model
    assert error(trained) < 0.5 * error(untrained)


def test_bad_configurations_fail_at_once(data):
    for bad, match in [
        ({"loss": "hsm"}, r"TrainConfig.loss='hsm' is not known; choose one of esm"),
        ({"sde": "vpp"}, r"TrainConfig.sde='vpp' is not known"),
        ({"weighting": "sigma"}, r"TrainConfig.weighting='sigma' is not known"),
        ({"parametrization": "v"}, r"TrainConfig.parametrization='v' is not known"),
        ({"steps": 0}, r"TrainConfig.steps must be an int >= 1, got 0"),
        ({"t_min": 1.0}, r"TrainConfig.t_min must be in \[0, T\)"),
        ({"lr_schedule": "linear"}, "TrainConfig.lr_schedule"),
        ({"lr": -1}, r"TrainConfig.lr must be a finite positive number, got -1"),
        ({"net": "unet9"}, r"TrainConfig.net='unet9' is not known; choose one of mlp"),
        ({"sde": "vp", "sde_kwargs": {"beta_min": -1.0}}, "beta_min"),
        ({"sde": "vp", "sde_kwargs": {"beta": 1.0}}, r"vp has no parameter 'beta'; its parameters are beta_min=0.1"),
        ({"net_kwargs": {"width": 8}}, r"mlp has no parameter 'width'"),
        (
            {"loss_kwargs": {"n_slice": 2}, "loss": "ssm"},
            r"loss 'ssm' has no option 'n_slice'; its options are n_slices=1",
        ),
        ({"loss_kwargs": {"coupling": "both"}, "loss": "ct"}, r"loss_kwargs\['coupling'\] must be one of shared"),
        ({"loss_kwargs": {"weighting": "g2"}}, r"loss 'dsm' has no option 'weighting'; its options are none"),
    ]:
        with pytest.raises(ValueError, match=match):
            SMALL.replace(**bad)
    with pytest.raises(TypeError, match=r"data must be a torch tensor .* convert points with torch.as_tensor"):
        tp.train(SMALL, [[0.0, 1.0]], device="cpu")
    with pytest.raises(ValueError, match="shape"):
        tp.train(SMALL, torch.zeros(5), device="cpu")
    with pytest.raises(TypeError, match="TrainConfig"):
        tp.train({"steps": 10}, data, device="cpu")
