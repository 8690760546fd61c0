"""Score-matching losses against their closed forms (Tang & Zhao 2024 §4).

Every comparison is a Monte Carlo mean, so the tolerance is 4 standard errors of that mean, computed
from the same samples.  Pairwise comparisons use the *same* draws of (t, X_0, X_t) for both losses (the
same generator seed), so the difference of per-sample values has a small variance.
"""

from __future__ import annotations

import pytest
import torch
from conftest import ALL_SDES, sde_id

import tutorial_pkg as tp

D, S, M = 3, 0.7, 0.5  # Gaussian data N(M 1, S^2 I) in dimension D


def _gaussian_data():
    return tp.GaussianMixture(torch.ones(1), torch.full((1, D), M), torch.tensor([S]))


def _linear_score(seed: int):
    """A score model that is not the true score: x -> A x + b, random A, b."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(D, D, generator=g) / D
    b = torch.randn(D, generator=g)
    return lambda x, t: x @ A.T + b


def _mlp_score(seed: int):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = tp.TimeMLP(D, hidden=16, depth=2).double()
    return tp.ScoreModel(net, tp.VP(), "eps")


def _within(values: torch.Tensor, expected: float, n_se: float = 4.0) -> None:
    mean, se = values.mean().item(), (values.std() / values.numel() ** 0.5).item()
    assert abs(mean - float(expected)) <= n_se * se + 1e-12, (mean, float(expected), se)


@pytest.mark.slow
@pytest.mark.parametrize("sde", [tp.VP(), tp.VE(), tp.OU()], ids=sde_id)
@pytest.mark.parametrize("t", [0.05, 0.5])
def test_dsm_at_the_exact_score_is_its_floor(sde, t):
    data = _gaussian_data()
    exact = tp.ExactScore(data, sde)
    x0 = data.sample(100_000, generator=torch.Generator().manual_seed(1))
    values = tp.dsm_loss(exact, x0, sde, t=t, generator=torch.Generator().manual_seed(2))
    a2, v = sde.mean_coeff(torch.tensor(t)) ** 2, sde.variance(torch.tensor(t))
    _within(values, D * a2 * S**2 / (a2 * S**2 + v))  # lambda = sigma^2: min DSM = d a^2 s^2 / (a^2 s^2 + sigma^2)


@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_ism_minus_esm_is_the_constant(model):
    sde, t = tp.VP(), 0.3
    data = _gaussian_data()
    score = _linear_score(0) if model == "linear" else _mlp_score(0)
    x0 = data.sample(40_000, generator=torch.Generator().manual_seed(3))
    esm = tp.esm_loss(score, x0, sde, target=tp.ExactScore(data, sde), t=t, generator=torch.Generator().manual_seed(4))
    ism = tp.ism_loss(score, x0, sde, t=t, generator=torch.Generator().manual_seed(4))
    var_t = sde.mean_coeff(torch.tensor(t)) ** 2 * S**2 + sde.variance(torch.tensor(t))
    # ESM = ISM + E lambda |grad log p_t|^2 = ISM + sigma_t^2 d / var_t for Gaussian p_t (oracle 10)
    _within((esm - ism).detach(), sde.variance(torch.tensor(t)) * D / var_t)


@pytest.mark.slow
def test_dsm_minus_esm_is_the_constant():
    sde, t = tp.VE(), 0.4
    data = _gaussian_data()
    score = _linear_score(1)
    x0 = data.sample(100_000, generator=torch.Generator().manual_seed(5))
    esm = tp.esm_loss(score, x0, sde, target=tp.ExactScore(data, sde), t=t, generator=torch.Generator().manual_seed(6))
    dsm = tp.dsm_loss(score, x0, sde, t=t, generator=torch.Generator().manual_seed(6))
    v = sde.variance(torch.tensor(t))
    var_t = sde.mean_coeff(torch.tensor(t)) ** 2 * S**2 + v
    # DSM - ESM = lambda E(|grad log p(x_t|x_0)|^2 - |grad log p_t|^2) = sigma^2 (d / sigma^2 - d / var_t)
    _within(dsm - esm, v * (D / v - D / var_t))


@pytest.mark.parametrize("variance_reduced", [True, False])
def test_sliced_equals_implicit_in_expectation(variance_reduced):
    sde = tp.VP()
    data = _gaussian_data()
    score = _mlp_score(2)
    x0 = data.sample(20_000, generator=torch.Generator().manual_seed(7))
    ism = tp.ism_loss(score, x0, sde, generator=torch.Generator().manual_seed(8))
    ssm = tp.ssm_loss(
        score, x0, sde, n_slices=1, variance_reduced=variance_reduced, generator=torch.Generator().manual_seed(8)
    )
    _within((ssm - ism).detach(), 0.0)


def test_hutchinson_ism_is_unbiased_and_more_probes_reduce_its_variance():
    sde = tp.VP()
    data = _gaussian_data()
    score = _mlp_score(3)
    x0 = data.sample(20_000, generator=torch.Generator().manual_seed(9))
    exact = tp.ism_loss(score, x0, sde, generator=torch.Generator().manual_seed(10)).detach()
    one = tp.ism_loss(score, x0, sde, n_probes=1, generator=torch.Generator().manual_seed(10)).detach()
    four = tp.ism_loss(score, x0, sde, n_probes=4, generator=torch.Generator().manual_seed(10)).detach()
    _within(one - exact, 0.0)
    _within(four - exact, 0.0)
    # with independent Rademacher probes the estimator's variance falls as 1/m (ratio 4; allow sampling noise)
    assert (one - exact).var() > 2.5 * (four - exact).var()


def test_exact_divergence_matches_hutchinson_on_a_linear_map():
    A = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    y, div = tp.value_and_divergence(lambda z: z @ A.T, x)
    assert torch.allclose(div, torch.full((5,), A.trace().item()))
    probes = torch.eye(4).unsqueeze(1).expand(4, 5, 4)  # the basis vectors: v^T A v sums to the trace
    _, quads = tp.value_and_hutchinson(lambda z: z @ A.T, x, probes)
    assert torch.allclose(quads.sum(0), div)
    assert torch.allclose(y, x @ A.T)


@pytest.mark.parametrize("weighting", tp.WEIGHTINGS)
def test_weightings(weighting):
    sde, t = tp.VP(), torch.tensor([0.1, 0.7])
    expected = {"sigma2": sde.variance(t), "g2": sde.diffusion(t) ** 2, "none": torch.ones(2)}[weighting]
    assert torch.allclose(tp.loss_weight(sde, t, weighting), expected)


def test_losses_are_per_sample_and_random_times_lie_in_range():
    sde = tp.VE()
    x0 = torch.randn(64, 2, 3)  # any event shape
    g = torch.Generator().manual_seed(0)
    for name, fn in tp.LOSSES.items():
        kw = {"target": lambda x, t: -x} if name == "esm" else {}
        values = fn(lambda x, t: -x, x0, sde, generator=g, **kw)
        assert values.shape == (64,), name
        assert torch.isfinite(values).all(), name
    t = tp.sample_times(10_000, sde, 0.05, generator=g)
    assert t.min() >= 0.05 and t.max() <= sde.T


def test_same_generator_same_loss():
    sde, x0 = tp.VP(), torch.randn(32, 2)
    a = tp.dsm_loss(lambda x, t: -x, x0, sde, generator=torch.Generator().manual_seed(5))
    b = tp.dsm_loss(lambda x, t: -x, x0, sde, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_bad_loss_arguments_raise_clear_errors():
    sde, x0, score = tp.VP(), torch.randn(8, 2), lambda x, t: -x
    with pytest.raises(ValueError, match="unknown weighting"):
        tp.dsm_loss(score, x0, sde, weighting="sigma")
    with pytest.raises(ValueError, match="t_min"):
        tp.dsm_loss(score, x0, sde, t_min=2.0)
    with pytest.raises(ValueError, match="outside"):
        tp.dsm_loss(score, x0, sde, t=1.5)
    with pytest.raises(ValueError, match=r"shape \(B, \*D\)"):
        tp.dsm_loss(score, torch.randn(8), sde)
    with pytest.raises(ValueError, match="n_slices"):
        tp.ssm_loss(score, x0, sde, n_slices=0)
    with pytest.raises(ValueError, match="unknown loss"):
        tp.get_loss("hyvarinen")


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_parametrisations_convert_back_and_forth(sde):
    x = torch.randn(6, 2)
    t = torch.linspace(0.1, sde.T, 6)
    score = torch.randn(6, 2)
    eps = tp.score_to_eps(score, x, t, sde)
    x0 = tp.score_to_x0(score, x, t, sde)
    assert torch.allclose(tp.to_score(eps, x, t, sde, "eps"), score)
    assert torch.allclose(tp.to_score(x0, x, t, sde, "x0"), score)
    assert torch.allclose(tp.to_score(score, x, t, sde, "score"), score)


def test_tweedie_denoiser_of_the_exact_score_is_the_posterior_mean():
    sde, t = tp.VP(), torch.full((50,), 0.3)
    mix = tp.ring_mixture()
    x = mix.diffuse(sde, 0.3).sample(50, generator=torch.Generator().manual_seed(0))
    denoised = tp.score_to_x0(tp.ExactScore(mix, sde)(x, t), x, t, sde)
    assert torch.allclose(denoised, mix.posterior_mean(x, sde, t), atol=1e-10)


def test_score_model_returns_the_input_dtype_and_shape():
    model = tp.ScoreModel(tp.TimeMLP(6, hidden=8, depth=1).float(), tp.VP())
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    out = model(x, 0.5)
    assert out.shape == x.shape and out.dtype == torch.float64
    with pytest.raises(ValueError, match="built for states of 6"):
        model(torch.randn(4, 5), 0.5)
    with pytest.raises(ValueError, match="unknown parametrization"):
        tp.ScoreModel(tp.TimeMLP(2), tp.VP(), "noise")


def test_divergence_of_a_field_that_ignores_x_is_zero():
    x = torch.randn(4, 3)
    for fn in (lambda y: torch.zeros_like(y), lambda y: torch.ones(4, 3)):
        _, div = tp.value_and_divergence(fn, x)
        _, quads = tp.value_and_hutchinson(fn, x, torch.ones(2, 4, 3))
        assert torch.equal(div, torch.zeros(4)) and torch.equal(quads, torch.zeros(2, 4))
