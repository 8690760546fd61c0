"""The closed forms of tutorial_pkg.score_matching against the package's losses and Monte Carlo."""

from __future__ import annotations

import math

import pytest
import torch

import tutorial_pkg as tp
from tutorial_pkg import exact, study


def _paired(loss_a, loss_b, seed=0):
    """Per-sample differences of two losses evaluated on the same X_t (same generator seed)."""
    return loss_a(torch.Generator().manual_seed(seed)) - loss_b(torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("sde", [tp.VP(), tp.VE(sigma_min=0.01, sigma_max=5.0), tp.OU(theta=1.0, sigma=1.5, mu=0.5)])
@pytest.mark.parametrize("weighting", ["sigma2", "g2", "none"])
def test_gaussian_constants_match_the_losses(sde, weighting):
    data = tp.Gaussian(torch.tensor([1.0, -0.5, 0.3]), torch.tensor([0.5, 1.0, 0.2]))
    score = tp.ExactScore(data, sde)
    x0 = data.sample(20_000, generator=torch.Generator().manual_seed(1))
    t = 0.3 * sde.T
    lin = torch.tensor([[0.3, -0.2, 0.1], [0.0, 0.5, 0.2], [0.1, 0.0, -0.4]])

    def model(x, t):
        return x @ lin.T + 0.2

    kw = {"t": t, "weighting": weighting}
    esm = lambda g: tp.esm_loss(model, x0, sde, target=score, generator=g, **kw)  # noqa: E731
    ism = lambda g: tp.ism_loss(model, x0, sde, generator=g, **kw)  # noqa: E731
    dsm = lambda g: tp.dsm_loss(model, x0, sde, generator=g, **kw)  # noqa: E731
    for diff, const in [
        (_paired(esm, ism).detach(), exact.gaussian_ism_constant(data, sde, t, weighting)),
        (_paired(dsm, esm).detach(), exact.gaussian_dsm_constant(data, sde, t, weighting)),
    ]:
        z = (diff.mean() - const) / (diff.std() / math.sqrt(diff.numel()))
        assert abs(float(z)) < 4.5


def test_gaussian_constants_closed_forms_and_batched_times():
    sde = tp.VP()
    data = tp.Gaussian(torch.zeros(4), 0.5)
    t = torch.tensor([0.01, 0.2, 0.9])
    alpha2, sigma2 = sde.mean_coeff(t) ** 2, sde.variance(t)
    floor = 4 * alpha2 * 0.25 / (alpha2 * 0.25 + sigma2)
    torch.testing.assert_close(exact.gaussian_dsm_constant(data, sde, t), floor)
    torch.testing.assert_close(exact.gaussian_ism_constant(data, sde, t, "none"), 4 / (alpha2 * 0.25 + sigma2))
    assert exact.gaussian_ism_constant(data, sde, 0.3).ndim == 0
    with pytest.raises(ValueError, match="sigma_t > 0"):
        exact.gaussian_dsm_constant(data, sde, 0.0)
    with pytest.raises(TypeError, match="tp.Gaussian"):
        exact.gaussian_ism_constant(tp.ring_mixture(), sde, 0.3)


def test_jacobian_of_a_linear_map():
    a = torch.randn(3, 3, generator=torch.Generator().manual_seed(0))
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    jac = tp.jacobian(lambda y: y @ a.T + y.sum(1, keepdim=True) ** 2, x)
    expected = a + 2 * x.sum(1)[:, None, None] * torch.ones(3, 3)
    torch.testing.assert_close(jac, expected)
    eye = tp.jacobian(lambda y: 2 * y, torch.zeros(2, 1, 3))  # an event shape (1, 3) is flattened to d = 3
    torch.testing.assert_close(eye, 2 * torch.eye(3).expand(2, 3, 3))
    with pytest.raises(ValueError, match="same shape"):
        tp.jacobian(lambda y: y.sum(1), x)


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["hutchinson", "ssm_vr", "ssm"])
def test_estimator_variance_formulas_by_monte_carlo(estimator):
    gen = torch.Generator().manual_seed(3)
    d, n_probe = 4, 200_000
    jac = torch.randn(1, d, d, generator=gen)  # not symmetric: the formulas use its symmetric part
    s = torch.randn(1, d, generator=gen)
    if estimator == "hutchinson":
        v = (2 * torch.randint(0, 2, (n_probe, d), generator=gen) - 1).to(s)
    else:
        v = torch.randn(n_probe, d, generator=gen)
    quad = torch.einsum("ni,ij,nj->n", v, jac[0], v)
    norm = (v @ s[0]) ** 2 if estimator == "ssm" else (s**2).sum()
    est = norm + 2 * quad
    truth = (s**2).sum() + 2 * jac[0].trace()
    var = exact.ism_estimator_variance(jac, s, estimator)[0]
    assert abs(float(est.mean() - truth)) < 5 * math.sqrt(float(var) / n_probe)
    assert abs(float(est.var() / var) - 1) < 0.03
    torch.testing.assert_close(exact.ism_estimator_variance(jac, s, estimator, n_probes=4), var[None] / 4)


def test_estimator_variance_through_autograd_quadratic_forms():
    """value_and_hutchinson's quadratic forms of the exact mixture score have the predicted spread at one point."""
    sde, mix = tp.VP(), tp.ring_mixture()
    score = tp.ExactScore(mix, sde)
    x = torch.tensor([[1.0, 0.5]])
    t = 0.2
    jac = tp.jacobian(lambda y: score(y, t), x)
    s = score(x, t)
    n = 50_000
    xs = x.expand(n, 2)
    for estimator, probes in [
        ("hutchinson", (2 * torch.randint(0, 2, (1, n, 2), generator=torch.Generator().manual_seed(0)) - 1).to(x)),
        ("ssm_vr", torch.randn(1, n, 2, generator=torch.Generator().manual_seed(1))),
    ]:
        _, quad = tp.value_and_hutchinson(lambda y: score(y, t), xs, probes)
        est = (s**2).sum() + 2 * quad[0]
        var = exact.ism_estimator_variance(jac, s, estimator)[0]
        assert abs(float(est.var() / var) - 1) < 0.06


def test_estimator_variance_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown estimator"):
        exact.ism_estimator_variance(torch.zeros(1, 2, 2), torch.zeros(1, 2), "sliced")
    with pytest.raises(ValueError, match=r"jac \(B, d, d\)"):
        exact.ism_estimator_variance(torch.zeros(1, 2, 3), torch.zeros(1, 2), "ssm")
    with pytest.raises(ValueError, match="n_probes"):
        exact.ism_estimator_variance(torch.zeros(1, 2, 2), torch.zeros(1, 2), "ssm", n_probes=0)
    assert torch.equal(exact.ism_estimator_variance(torch.ones(3, 2, 2), torch.ones(3, 2), "exact"), torch.zeros(3))


def test_exponential_family_estimator_on_gaussian_data_is_the_mle():
    x = 0.5 + 2.0 * torch.randn(7, 300, generator=torch.Generator().manual_seed(4))  # 7 replicates
    theta = study.exp_family_sm_estimate(*exact.gaussian_family_stats(x))
    assert theta.shape == (7, 2)
    v = x.var(-1, correction=0)
    torch.testing.assert_close(theta, torch.stack([x.mean(-1) / v, -0.5 / v], -1))
    with pytest.raises(ValueError, match=r"\(\.\.\., n, k, d\)"):
        study.exp_family_sm_estimate(torch.zeros(10, 2), torch.zeros(10, 2))


@pytest.mark.slow
def test_gaussian_family_covariances_agree_with_each_other_and_with_plug_in():
    mu, v = 1.0, 2.0
    gamma_sm, gamma_mle = exact.gaussian_sm_covariance(mu, v), exact.gaussian_mle_covariance(mu, v)
    torch.testing.assert_close(gamma_sm, gamma_mle)
    x = mu + math.sqrt(v) * torch.randn(400_000, generator=torch.Generator().manual_seed(5))
    theta = exact.gaussian_natural_params(mu, v)
    plug_sm = exact.exp_family_sm_covariance(*exact.gaussian_family_stats(x), theta)
    plug_mle = exact.exp_family_mle_covariance(torch.stack([x, x**2], 1))
    torch.testing.assert_close(plug_sm, gamma_sm, rtol=0.03, atol=0.01)
    torch.testing.assert_close(plug_mle, gamma_mle, rtol=0.03, atol=0.01)
    with pytest.raises(ValueError, match="var must be positive"):
        exact.gaussian_sm_covariance(0.0, 0.0)


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 2, 5])
def test_sech_family_moments_and_covariances(k):
    x = study.sech_sample(400_000, k, generator=torch.Generator().manual_seed(k))
    th2 = torch.tanh(x) ** 2
    assert abs(float(th2.mean()) - 1 / (k + 1)) < 5 * float(th2.std()) / math.sqrt(x.numel())
    log_cosh = torch.log(torch.cosh(x))
    assert abs(float(log_cosh.mean() - exact.sech_mean_log_cosh(k))) < 5 * float(log_cosh.std()) / math.sqrt(x.numel())
    grad_F, lap_F = exact.sech_family_stats(x)
    plug_sm = exact.exp_family_sm_covariance(grad_F, lap_F, torch.tensor([-float(k)]))
    torch.testing.assert_close(plug_sm[0, 0], exact.sech_sm_covariance(k), rtol=0.03, atol=0)
    plug_mle = exact.exp_family_mle_covariance(log_cosh[:, None])
    torch.testing.assert_close(plug_mle[0, 0], exact.sech_mle_covariance(k), rtol=0.03, atol=0)
    # the estimators: closed form = generic, and both estimators recover k from a large sample
    torch.testing.assert_close(study.sech_sm_estimate(x), -study.exp_family_sm_estimate(grad_F, lap_F)[0])
    assert abs(float(study.sech_sm_estimate(x)) - k) < 0.03 * k
    assert abs(float(study.sech_mle(x)) - k) < 0.03 * k


def test_sech_efficiency_tends_to_one_in_the_gaussian_limit():
    ratios = [float(exact.sech_mle_covariance(k) / exact.sech_sm_covariance(k)) for k in [0.5, 1, 2, 10, 1000]]
    assert all(a < b for a, b in zip(ratios, ratios[1:], strict=False))
    assert ratios[0] < 0.5 and abs(ratios[-1] - 1) < 1e-3


def test_sech_mle_solves_the_likelihood_equation():
    x = study.sech_sample((3, 200), 2, generator=torch.Generator().manual_seed(7))
    k_hat = study.sech_mle(x)
    assert k_hat.shape == (3,)
    torch.testing.assert_close(exact.sech_mean_log_cosh(k_hat), torch.log(torch.cosh(x)).mean(-1))


def test_sech_sample_is_reproducible_and_checks_k():
    a = study.sech_sample((2, 3), 3, generator=torch.Generator().manual_seed(0))
    b = study.sech_sample((2, 3), 3, generator=torch.Generator().manual_seed(0))
    assert a.shape == (2, 3) and torch.equal(a, b)
    with pytest.raises(ValueError, match="integer k"):
        study.sech_sample(10, 1.5)
    with pytest.raises(ValueError, match="positive"):
        exact.sech_sm_covariance(-1.0)


def test_variance_z_score_is_standard_normal_for_heavy_and_light_tails():
    gen = torch.Generator().manual_seed(11)
    for draw, var in [
        (lambda: torch.randn(2000, 300, generator=gen), 1.0),
        (lambda: torch.distributions.Laplace(0.0, 1.0).sample((2000, 300)), 2.0),  # kurtosis 6
    ]:
        torch.manual_seed(12)
        z = tp.variance_z_score(draw(), var)
        assert z.shape == (300,)
        assert abs(float(z.mean())) < 0.25 and abs(float(z.std()) - 1) < 0.12
    with pytest.raises(ValueError, match="at least 3 replicates"):
        tp.variance_z_score(torch.zeros(2), 1.0)
