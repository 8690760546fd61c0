"""The oracle: Gaussian mixtures, their exact diffused marginals and scores."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import ALL_SDES, DEVICES, sde_id

import tutorial_pkg as tp


def mixture(seed=0, dim=2, k=3):
    return tp.random_mixture(dim, k, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_score_is_gradient_of_log_prob(sde):
    gen = torch.Generator().manual_seed(2)
    mix = mixture()
    for t in [0.0, 0.3 * sde.T, sde.T]:
        pt = mix.diffuse(sde, t)
        x = pt.sample(64, generator=gen).requires_grad_(True)
        (grad,) = torch.autograd.grad(pt.log_prob(x).sum(), x)
        torch.testing.assert_close(pt.score(x.detach()), grad, rtol=1e-10, atol=1e-12)


def test_batched_diffusion_agrees_with_one_time_at_a_time():
    sde, mix = tp.VP(), mixture(1)
    gen = torch.Generator().manual_seed(3)
    t = torch.rand(16, generator=gen)
    x = torch.randn(16, 2, generator=gen)
    batched = mix.diffuse(sde, t)
    rowwise_lp = torch.stack([mix.diffuse(sde, t[i]).log_prob(x[i : i + 1])[0] for i in range(16)])
    rowwise_sc = torch.cat([mix.diffuse(sde, t[i]).score(x[i : i + 1]) for i in range(16)])
    torch.testing.assert_close(batched.log_prob(x), rowwise_lp)
    torch.testing.assert_close(batched.score(x), rowwise_sc)
    torch.testing.assert_close(tp.ExactScore(mix, sde)(x, t), rowwise_sc)


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_diffused_mixture_solves_fokker_planck(sde):
    """d_t log p = -div f - f.s + g^2/2 (div s + |s|^2) at random (x, t): relative residual <= 1e-6."""
    gen = torch.Generator().manual_seed(4)
    mix = mixture(2)
    t = sde.T * (0.02 + 0.98 * torch.rand(128, generator=gen))
    pt = mix.diffuse(sde, t)
    x = pt.means[:, 0] + 1.5 * pt.stds[:, 0] * torch.randn(128, 2, generator=gen)
    lhs, rhs = tp.fokker_planck_residual(sde, lambda y, s: mix.diffuse(sde, s).log_prob(y), x, t)
    scale = lhs.abs().max()
    assert float((lhs - rhs).abs().max() / scale) <= 1e-6


def test_fokker_planck_residual_detects_a_wrong_density():
    """The check has power: a mixture diffused under a different SDE violates the equation."""
    sde, other, mix = tp.VP(), tp.VP(beta_max=10.0), mixture(2)
    gen = torch.Generator().manual_seed(5)
    t = 0.05 + 0.9 * torch.rand(64, generator=gen)
    x = torch.randn(64, 2, generator=gen)
    lhs, rhs = tp.fokker_planck_residual(sde, lambda y, s: mix.diffuse(other, s).log_prob(y), x, t)
    assert float((lhs - rhs).abs().max() / lhs.abs().max()) > 1e-2


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_diffuse_matches_forward_kernel_samples(sde):
    """Sampling X_0 then the kernel X_t | X_0 gives the law diffuse(sde, t): moments within 4 SE."""
    gen = torch.Generator().manual_seed(6)
    mix, n, t = mixture(3), 40_000, 0.4 * sde.T
    xt, _ = sde.sample_marginal(mix.sample(n, generator=gen), t, generator=gen)
    pt = mix.diffuse(sde, t)
    mean, cov = pt.mean(), pt.covariance()
    se = (cov.diagonal() / n).sqrt()
    assert torch.all((xt.mean(0) - mean).abs() < 4 * se)
    emp_cov = tp.mean_and_covariance(xt)[1]
    # SE of a sample covariance entry: sqrt((C_ii C_jj + C_ij^2) / n) for Gaussians; mixtures have
    # heavier fourth moments, so use the empirical fourth moment instead.
    xc = xt - xt.mean(0)
    prod = xc[:, :, None] * xc[:, None, :]
    se_cov = prod.std(0) / math.sqrt(n)
    assert torch.all((emp_cov - cov).abs() < 4 * se_cov)


def test_sample_moments_and_log_prob_against_torch():
    gen = torch.Generator().manual_seed(7)
    g = tp.Gaussian(torch.tensor([1.0, -2.0]), torch.tensor([0.5, 2.0]))
    ref = torch.distributions.Independent(torch.distributions.Normal(g.loc, g.scale), 1)
    x = g.sample(10, generator=gen)
    torch.testing.assert_close(g.log_prob(x), ref.log_prob(x))
    torch.testing.assert_close(g.covariance(), torch.diag(torch.tensor([0.25, 4.0])))
    mix = mixture(4)
    comps = torch.distributions.Independent(torch.distributions.Normal(mix.means, mix.stds.expand_as(mix.means)), 1)
    ref_mix = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(mix.weights), comps)
    x = mix.sample(10, generator=gen)
    torch.testing.assert_close(mix.log_prob(x), ref_mix.log_prob(x))


@pytest.mark.parametrize("sde", [tp.VP(), tp.OU(mu=0.7), tp.CVP()], ids=sde_id)
def test_tweedie_posterior_mean(sde):
    """Tweedie: mu + alpha_t (E[X0 | Xt = x] - mu) = x + sigma_t^2 grad log p_t(x) (Tang & Zhao O10)."""
    mix, t = mixture(5), 0.3 * sde.T
    x = torch.randn(32, 2, generator=torch.Generator().manual_seed(8))
    alpha, var = sde.mean_coeff(torch.tensor(t)), sde.variance(torch.tensor(t))
    lhs = sde.mu + alpha * (mix.posterior_mean(x, sde, t) - sde.mu)
    rhs = x + var * mix.diffuse(sde, t).score(x)
    torch.testing.assert_close(lhs, rhs)


def test_empirical_distribution_needs_diffusion():
    data = torch.randn(5, 2)
    emp = tp.GaussianMixture.empirical(data)
    with pytest.raises(ValueError, match="diffuse it to a time t > 0"):
        emp.score(data)
    score = emp.diffuse(tp.VE(), 0.5).score(data)
    assert torch.isfinite(score).all()


def test_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match=r"x must have shape \(B, 2\)"):
        mixture().log_prob(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="weights must have shape"):
        tp.GaussianMixture(torch.ones(2), torch.zeros(3, 2), torch.ones(3))
    with pytest.raises(ValueError, match="stds must be finite and non-negative"):
        tp.GaussianMixture(torch.ones(3), torch.zeros(3, 2), -torch.ones(3))


def test_unknown_toy_data_set():
    with pytest.raises(ValueError, match="unknown toy data set 'spiral'; choose one of"):
        tp.toy_data("spiral", 10)


@pytest.mark.parametrize("name", list(tp.TOY_DATASETS))
def test_toy_data_are_reproducible_and_sized(name):
    a = tp.toy_data(name, 500, generator=torch.Generator().manual_seed(9))
    b = tp.toy_data(name, 500, generator=torch.Generator().manual_seed(9))
    assert a.shape == (500, 2) and torch.equal(a, b)
    assert 0.3 < float(a.std()) < 3.0, "toy data should have roughly unit spread"


@pytest.mark.parametrize("device", DEVICES)
def test_image_shaped_mixture_on_device(device):
    """Event shapes other than vectors, on every available device."""
    means = torch.randn(4, 1, 3, 3, generator=torch.Generator().manual_seed(10)).to(device)
    mix = tp.GaussianMixture(torch.ones(4, device=device), means, torch.full((4,), 0.3, device=device))
    x = mix.sample(6, generator=torch.Generator().manual_seed(11))
    assert x.shape == (6, 1, 3, 3) and x.device.type == device
    score = tp.ExactScore(mix, tp.VP())(x, torch.full((6,), 0.2, device=device))
    assert score.shape == x.shape and torch.isfinite(score).all()
