"""tutorial_pkg.evaluation: errors against oracles, the DSM floor, the ideal score, sample comparisons."""

from __future__ import annotations

import math

import pytest
import torch

import tutorial_pkg as tp
from tutorial_pkg import recipes, study


@pytest.fixture
def setting():
    return tp.VP(), tp.ring_mixture(dtype=torch.float64)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_exact_score_has_zero_error(setting):
    sde, mix = setting
    exact = tp.ExactScore(mix, sde)
    prof = study.score_error_profile(exact, mix, sde, [1e-3, 0.1, 0.5, 1.0], n=256, generator=_gen())
    assert prof.times.shape == prof.mean.shape == prof.stderr.shape == (4,)
    assert float(prof.mean.abs().max()) < 1e-20
    mean, se = study.integrated_score_error(exact, mix, sde, n=500, generator=_gen())
    assert abs(mean) < 1e-20 and se < 1e-20


@pytest.mark.parametrize("weighting", ["sigma2", "none", "g2"])
def test_constant_perturbation_gives_its_weighted_norm(setting, weighting):
    sde, mix = setting
    exact = tp.ExactScore(mix, sde)
    c = torch.tensor([0.3, -0.4])  # |c|^2 = 0.25, the same at every point: no Monte Carlo error

    def perturbed(x, t):
        return exact(x, t) + c

    times = torch.tensor([1e-3, 0.2, 0.7])
    prof = study.score_error_profile(perturbed, mix, sde, times, n=64, weighting=weighting, generator=_gen())
    expected = tp.loss_weight(sde, times, weighting) * 0.25
    assert torch.allclose(prof.mean, expected, rtol=1e-10)
    assert float(prof.stderr.max()) < 1e-10


def test_integrated_error_of_a_known_perturbation(setting):
    sde, mix = setting
    exact = tp.ExactScore(mix, sde)
    c = torch.tensor([0.6, 0.8])

    def perturbed(x, t):  # sigma_t * (s - exact) = c: the sigma^2-weighted error is |c|^2 = 1 at every time
        return exact(x, t) + c / sde.std(t)[:, None]

    mean, se = study.integrated_score_error(perturbed, mix, sde, n=2000, generator=_gen())
    assert math.isclose(mean, 1.0, rel_tol=1e-9) and se < 1e-9
    # unweighted: (1/(T - t_min)) int |c|^2 / sigma_t^2 dt, a deterministic integral, estimated by MC
    mean, se = study.integrated_score_error(perturbed, mix, sde, n=20_000, weighting="none", generator=_gen(1))
    t = torch.linspace(1e-3, 1.0, 200_001)
    exact_value = float(torch.trapezoid(1 / sde.variance(t), t) / (1 - 1e-3))
    assert abs(mean - exact_value) < 4 * se


def test_dsm_excess_equals_the_integrated_error(setting):
    sde, mix = setting
    exact = tp.ExactScore(mix, sde)

    def perturbed(x, t):
        return exact(x, t) - 0.3 * x

    excess, se_excess = study.dsm_excess(perturbed, mix, sde, n=20_000, seed=3)
    ise, se_ise = study.integrated_score_error(perturbed, mix, sde, n=20_000, generator=_gen(4))
    assert abs(excess - ise) < 4 * math.hypot(se_excess, se_ise)
    assert se_excess < 0.1 * excess  # the pairing makes the excess precise


def test_dsm_floor_for_gaussian_data_matches_the_closed_form():
    # at a fixed t, with lambda = sigma_t^2, the minimum of DSM is d alpha^2 s^2 / (alpha^2 s^2 + sigma^2)
    sde, s0, d = tp.VP(), 0.5, 2
    data = tp.Gaussian(torch.tensor([1.0, -0.5]), s0)
    floor, se = study.dsm_floor(data, sde, n=40_000, t_min=1e-3, generator=_gen())
    t = torch.linspace(1e-3, 1.0, 100_001)
    a2s2 = sde.mean_coeff(t) ** 2 * s0**2
    expected = float(torch.trapezoid(d * a2s2 / (a2s2 + sde.variance(t)), t) / (1 - 1e-3))
    assert abs(floor - expected) < 4 * se
    assert floor > 0.1  # the loss does not go to 0


def test_gaussian_fit_matches_moments():
    mix = tp.ring_mixture(radius=2.0, std=0.25, dtype=torch.float64)
    fit = tp.Gaussian.fit(mix)
    assert torch.allclose(fit.loc, torch.zeros(2), atol=1e-12)
    assert torch.allclose(fit.scale, torch.full((2,), math.sqrt(2.0 + 0.0625)), rtol=1e-12)
    pts = mix.sample(50_000, generator=_gen())
    fit_pts = tp.Gaussian.fit(pts)
    assert torch.allclose(fit_pts.scale, fit.scale, rtol=0.02)


@pytest.mark.parametrize(
    "sde", [tp.VP(), tp.VE(), tp.OU(theta=1.0, sigma=1.5, mu=0.7, T=2.0)], ids=lambda s: type(s).__name__
)
def test_ideal_score_agrees_with_the_empirical_mixture(sde):
    data = tp.swiss_roll(50, generator=_gen())
    x = torch.randn(37, 2, generator=_gen(1))
    t = (torch.rand(37, generator=_gen(2)) * 0.9 + 0.05) * sde.T
    full = tp.ExactScore(tp.GaussianMixture.empirical(data), sde)
    assert torch.allclose(tp.IdealScore(data, sde, chunk=8)(x, t), full(x, t), rtol=1e-10, atol=1e-10)
    assert torch.allclose(tp.IdealScore(data, sde)(x, 0.3), full(x, 0.3), rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="chunk"):
        tp.IdealScore(data, sde, chunk=0)


def test_ideal_score_copies_its_training_points():
    sde = tp.VP()
    data = tp.swiss_roll(200, generator=_gen())
    held_out = tp.swiss_roll(200, generator=_gen(1))
    x = tp.sample(sde, tp.IdealScore(data, sde), (100, 2), n_steps=200, generator=_gen(2), dtype=torch.float64)
    d_train, d_test = tp.nearest_distance(x, data), tp.nearest_distance(x, held_out)
    sigma_min = float(sde.std(torch.tensor(1e-3)))
    assert float(d_train.median()) < 3 * sigma_min < float(d_test.median())


def test_nearest_distance_is_brute_force():
    x, ref = torch.randn(30, 3, generator=_gen()), torch.randn(45, 3, generator=_gen(1))
    brute = torch.tensor([min(float((a - b).norm()) for b in ref) for a in x])
    assert torch.allclose(tp.nearest_distance(x, ref, chunk=7), brute, rtol=1e-10)


def test_sample_is_reproducible_and_shaped():
    sde = tp.VP()
    score = tp.ExactScore(tp.ring_mixture(dtype=torch.float64), sde)
    a = tp.sample(sde, score, (16, 2), n_steps=20, generator=_gen(5), dtype=torch.float64)
    b = tp.sample(sde, score, (16, 2), n_steps=20, generator=_gen(5), dtype=torch.float64)
    c = tp.sample(sde, score, (16, 2), n_steps=20, sampler="ode_heun", generator=_gen(5), dtype=torch.float64)
    assert a.shape == c.shape == (16, 2) and torch.equal(a, b)
    with pytest.raises(ValueError, match="unknown sampler"):
        tp.sample(sde, score, (4, 2), sampler="leapfrog")


def test_setups_are_reproducible_and_cacheable():
    for make in (recipes.swiss_roll_setup, recipes.mixture_setup):
        a, b = make("quick"), make("quick")
        assert a.config == b.config and isinstance(a.config, tp.TrainConfig)
        assert tp.cache_key(a.config, a.train_data) == tp.cache_key(b.config, b.train_data)
        assert torch.equal(a.test_data, b.test_data) and a.test_data.dtype == torch.float32
        assert make("full").config.steps > a.config.steps
    sr = recipes.swiss_roll_setup("quick")
    assert sr.train_data.dtype == torch.float32 and not torch.equal(sr.train_data[:10], sr.test_data[:10])
    with pytest.raises(ValueError, match="profile"):
        recipes.swiss_roll_setup("medium")


def test_bad_input_is_rejected(setting):
    sde, mix = setting
    exact = tp.ExactScore(mix, sde)
    with pytest.raises(TypeError, match="GaussianMixture"):
        study.score_error_profile(exact, torch.zeros(10, 2), sde, [0.5])
    with pytest.raises(ValueError, match="n must be"):
        study.integrated_score_error(exact, mix, sde, n=1)
