"""Bad input gets a clear, early error that names the value and says what to do, or the correct result.

One test per case that was found returning a silent wrong number or an unclear error, and the cases an audit
of the public functions added (degenerate times, NaN, shape mismatches, float vs tensor times).
"""

from __future__ import annotations

import math
import os
import re
import warnings

import numpy as np
import pytest
import torch

import tutorial_pkg as tp
from tutorial_pkg import study

TINY = tp.TrainConfig(net_kwargs={"hidden": 8, "depth": 1}, steps=20, batch_size=16, warmup=2, seed=1)


def _data(n=64, seed=0):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))


# --- times outside [0, T] ------------------------------------------------------------------------


@pytest.mark.parametrize("formula", ["std", "mean_coeff", "variance", "drift_coeff", "diffusion", "noise_to_signal"])
@pytest.mark.parametrize("t", [-0.5, 2.0, float("nan"), torch.tensor([0.5, 1.7])])
def test_sde_coefficients_reject_times_outside_the_horizon(formula, t):
    with pytest.raises(ValueError, match=r"time outside \[0, T\] = \[0, 1\] for VP"):
        getattr(tp.VP(), formula)(t)


def test_a_trained_model_rejects_times_outside_the_horizon():
    model = tp.ScoreModel(tp.TimeMLP(2, 8, 1), tp.VP())
    with pytest.raises(ValueError, match=r"time outside \[0, T\]"):
        model(torch.zeros(3, 2), 1.7)
    consistency = tp.ConsistencyModel(tp.TimeMLP(2, 8, 1), tp.VE())
    with pytest.raises(ValueError, match=r"time outside \[0, T\]"):
        consistency(torch.zeros(3, 2), torch.tensor([0.5, 0.5, -1.0]))


def test_time_a_string_is_refused():
    with pytest.raises(TypeError, match="a time must be a float or a tensor, got str"):
        tp.VP().std("0.5")


# --- grids ---------------------------------------------------------------------------------------


def test_an_increasing_grid_is_refused_by_the_samplers():
    sde = tp.VP()
    with pytest.raises(ValueError, match="strictly decreasing"):
        tp.euler_maruyama(sde, lambda x, t: -x, torch.zeros(4, 2), torch.linspace(1e-3, 1.0, 11))


# --- shapes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("sampler", ["exponential_integrator", "ddim", "dpm_solver_multistep", "euler_maruyama"])
def test_a_score_of_the_wrong_shape_is_refused_not_broadcast(sampler):
    sde = tp.VP()
    bad = lambda x, t: x[:, :1]  # noqa: E731  (broadcasts against (B, 2) if not checked)
    with pytest.raises(ValueError, match=r"score returned shape \(4, 1\), expected \(4, 2\)"):
        tp.get_sampler(sampler)(sde, bad, torch.zeros(4, 2), tp.uniform_grid(sde, 3))


def test_time_shape_mismatches_are_named():
    sde = tp.VP()
    with pytest.raises(ValueError, match=r"t must be a float or have shape \(B,\) = \(4,\)"):
        sde.marginal(torch.zeros(4, 2), torch.full((3,), 0.5))
    model = tp.ScoreModel(tp.TimeMLP(2, 8, 1), sde)
    with pytest.raises(ValueError, match=r"t must be a float or have shape \(B,\) = \(4,\)"):
        model(torch.zeros(4, 2), torch.full((3,), 0.5))
    with pytest.raises(ValueError, match="TimeMLP was built for states of 2 coordinates"):
        model(torch.zeros(4, 3), 0.5)


# --- distributions and metrics -------------------------------------------------------------------


def test_nan_parameters_of_a_mixture_are_refused():
    with pytest.raises(ValueError, match="means contains NaN"):
        tp.GaussianMixture(torch.ones(2), torch.tensor([[0.0, float("nan")], [1.0, 1.0]]), torch.ones(2))
    with pytest.raises(ValueError, match="weights must be finite"):
        tp.GaussianMixture(torch.tensor([1.0, float("nan")]), torch.zeros(2, 2), torch.ones(2))


def test_sliced_wasserstein_refuses_nan_and_zero_projections():
    x = _data()
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        tp.sliced_wasserstein(torch.full((10, 2), float("nan")), x)
    with pytest.raises(ValueError, match="n_projections must be a positive int, got 0"):
        tp.sliced_wasserstein(x, x, n_projections=0)
    with pytest.raises(ValueError, match=r"projections must have shape \(d, k\) = \(2, k\)"):
        tp.sliced_wasserstein(x, x, projections=torch.ones(3, 4))


def test_non_positive_definite_covariances_are_refused():
    m, bad = torch.zeros(2), torch.tensor([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
    with pytest.raises(ValueError, match="first Gaussian: the covariance must be positive definite"):
        tp.gaussian_kl(m, bad, m, torch.eye(2))
    with pytest.raises(ValueError, match="second Gaussian: the covariance must be positive semi-definite"):
        tp.gaussian_w2(m, torch.eye(2), m, bad)
    with pytest.raises(ValueError, match="not symmetric"):
        tp.gaussian_w2(m, torch.tensor([[1.0, 0.5], [0.0, 1.0]]), m, torch.eye(2))


# --- arguments of the wrong kind -----------------------------------------------------------------


def test_a_string_where_an_sde_is_expected():
    with pytest.raises(TypeError, match=r"sde must be a tp.SDE such as tp.VP\(\), got str 'vp'; .*tp.make_sde\('vp'\)"):
        tp.euler_maruyama("vp", lambda x, t: -x, torch.zeros(2, 2), tp.uniform_grid(tp.VP(), 4))
    with pytest.raises(TypeError, match="sde must be a tp.SDE"):
        tp.dsm_loss(lambda x, t: -x, torch.zeros(2, 2), "vp")


def test_an_int_generator_is_refused_with_the_fix():
    fix = r"generator must be a torch.Generator, got int 0; use generator=tp.seed_everything"
    with pytest.raises(TypeError, match=fix):
        tp.VP().prior_sample((3, 2), generator=0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        tp.swiss_roll(10, generator=0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        tp.dsm_loss(lambda x, t: -x, torch.zeros(2, 2), tp.VP(), generator=0)


def test_a_string_beta_names_the_parameter():
    with pytest.raises(TypeError, match="beta_min must be a positive number, got str '0.1'"):
        tp.VP(beta_min="0.1")


def test_an_unknown_sde_parameter_lists_the_real_ones_without_private_names():
    with pytest.raises(ValueError, match=r"VP has no parameter 'beta'; its parameters are beta_min=0.1") as err:
        tp.make_sde("vp", beta=1.0)
    assert "_LinearBeta" not in str(err.value)


def test_train_config_errors_name_the_field():
    with pytest.raises(ValueError, match="TrainConfig.lr must be a finite positive number, got -1"):
        tp.TrainConfig(lr=-1)
    with pytest.raises(ValueError, match=r"TrainConfig.ema_decay must be in \[0, 1\)"):
        tp.TrainConfig(ema_decay=1.0)


# --- training data and the cache -----------------------------------------------------------------


def test_nan_training_data_is_refused_before_training():
    data = _data()
    data[5, 1] = float("nan")
    with pytest.raises(ValueError, match=r"data has 1 rows with NaN or inf values \(first rows: \[5\]\)"):
        tp.train(TINY, data, device="cpu")


@pytest.mark.parametrize("data", [np.zeros((10, 2)), [[0.0, 1.0], [1.0, 0.0]]], ids=["numpy", "list"])
def test_numpy_or_list_data_says_how_to_convert(data):
    with pytest.raises(TypeError, match=r"convert points with torch.as_tensor\(data, dtype=torch.float32\)"):
        tp.train(TINY, data, device="cpu")
    with pytest.raises(TypeError, match="torch.as_tensor"):
        tp.load_or_train(TINY, data, device="cpu", cache="unused")


def test_an_unwritable_cache_fails_before_training(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    started = []
    with pytest.raises(PermissionError, match="cannot write trained models to .* set TUTORIAL_CACHE_DIR"):
        tp.train(TINY, _data(), device="cpu", checkpoint=blocker / "model.pt", callback=lambda *a: started.append(1))
    with pytest.raises(PermissionError, match="cannot write trained models"):
        tp.load_or_train(TINY, _data(), device="cpu", cache=blocker / "cache")
    assert not started


def test_a_finished_training_is_returned_even_if_it_cannot_be_stored(tmp_path, monkeypatch):
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst).endswith(".pt") and ".partial" not in str(dst) and ".tmp" not in str(src):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.warns(UserWarning, match="could not be stored in the cache"):
        result = tp.load_or_train(TINY, _data(), device="cpu", cache=tmp_path)
    assert result.finished and result.path is None and result.key is not None


@pytest.mark.parametrize("content", [b"", b"101", b"\x00garbage" * 10], ids=["empty", "digits", "garbage"])
def test_a_corrupt_cache_entry_is_rebuilt_with_a_readable_reason(tmp_path, content):
    key = tp.cache_key(TINY, _data(), device="cpu")
    (tmp_path / f"{key}.pt").write_bytes(content)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = tp.load_or_train(TINY, _data(), device="cpu", cache=tmp_path)
    messages = [str(w.message) for w in caught if "ignoring checkpoint" in str(w.message)]
    assert messages and not result.from_cache
    reason = messages[0].split(".pt: ", 1)[1]
    assert re.match(r"\w+(Error|Exception)\b", reason), reason  # the kind of failure comes first, never a bare "101"
    assert "[Errno" not in reason.split(":", 1)[0] and reason.split(":", 1)[0].strip(), reason


# --- samplers: the answers, not only the errors --------------------------------------------------


@pytest.mark.slow
def test_ddim_caps_its_fresh_noise_at_the_next_noise_level():
    """On a point mass the exact p_t' is N(0, nu'^2) in the VE variable whatever eta; for eta > 1 an uncapped
    fresh noise would overshoot it (0.75 instead of 0.25 for one step from nu = 1 to nu' = 0.5 at eta = 2)."""
    sde = tp.VE(sigma_min=0.01, sigma_max=1.0)
    point = tp.Gaussian(torch.zeros(1), 0.0)
    score = tp.ExactScore(point, sde)
    t_next = float(sde.time_at_noise_to_signal(torch.tensor(0.5)))
    x = point.diffuse(sde, sde.T).sample(200_000, generator=torch.Generator().manual_seed(0))
    ts = torch.tensor([sde.T, t_next])
    for eta in [0.5, 1.0, 2.0, 5.0]:
        out = tp.ddim(sde, score, x, ts, eta=eta, generator=torch.Generator().manual_seed(1))
        var, se = float(out.var()), float(out.var()) * math.sqrt(2 / out.numel())  # Gaussian output
        assert abs(var - 0.25) < 4 * se, (eta, var)


def test_sliced_wasserstein_is_exact_for_samples_of_unequal_sizes():
    x = torch.tensor([[0.0], [1.0], [2.0]])
    y = torch.tensor([[0.0], [3.0]])
    # the two step quantile functions differ by 0, 1, 2 and 1 on (0, 1/3), (1/3, 1/2), (1/2, 2/3), (2/3, 1)
    w2 = math.sqrt(1 / 6 * 1 + 1 / 6 * 4 + 1 / 3 * 1)
    assert float(tp.sliced_wasserstein(x, y, projections=torch.ones(1, 1))) == pytest.approx(w2, rel=1e-12)
    # a sample repeated twice is the same empirical law: the distance cannot change
    gen = torch.Generator().manual_seed(3)
    a, b = torch.randn(1000, 2, generator=gen), torch.randn(500, 2, generator=gen)
    theta = tp.random_projections(2, 64, generator=gen)
    unequal = tp.sliced_wasserstein(a, b, projections=theta)
    repeated = tp.sliced_wasserstein(a, b.repeat_interleave(2, dim=0), projections=theta)
    torch.testing.assert_close(unequal, repeated, rtol=1e-12, atol=1e-12)


def test_ou_exact_path_refuses_the_contractive_ou():
    ts = torch.linspace(0, 1, 5)
    with pytest.raises(TypeError, match="ou_exact_path needs a tp.OU process, got COU"):
        study.ou_exact_path(tp.COU(), torch.zeros(3, 1), ts, torch.zeros(3, 4, 1))



def test_an_adaptive_solve_asking_more_than_float32_resolves_is_refused():
    sde, mix = tp.VP(), tp.ring_mixture(dtype=torch.float32)
    x = mix.diffuse(sde, 1.0).sample(4, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="rtol=1e-10 asks for more than torch.float32 can resolve"):
        tp.ode_adaptive(sde, tp.ExactScore(mix, sde), x, tp.uniform_grid(sde, 1), rtol=1e-10)
    out = tp.ode_adaptive(sde, tp.ExactScore(mix, sde), x, tp.uniform_grid(sde, 1), rtol=1e-5)
    assert out.dtype == torch.float32
