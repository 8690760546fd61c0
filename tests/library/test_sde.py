"""Forward SDEs: kernels against Monte Carlo simulation, the formulas against each other, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import ALL_SDES, sde_id
from scipy.integrate import quad

import tutorial_pkg as tp
from tutorial_pkg import exact


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_kernel_matches_simulation(sde):
    """Euler–Maruyama paths from a fixed x0 have the kernel's mean and std (within 4 standard errors)."""
    gen = torch.Generator().manual_seed(0)
    n = 20_000
    x0 = torch.tensor([0.8, -1.5]).expand(n, 2).clone()
    grid = torch.linspace(0.0, sde.T, 2001)
    snapshots = tp.Trajectory(every=500)  # after steps 500, 1000, 1500 and 2000
    tp.integrate_sde(sde, x0, grid, generator=gen, callback=snapshots)
    for t, x in zip(snapshots.times.tolist(), snapshots.states.unbind(1), strict=True):
        mean, std = sde.marginal(x0[:1], t)
        mean, std = mean[0], float(std.flatten()[0])
        se_mean = std / math.sqrt(n)
        assert torch.all((x.mean(0) - mean).abs() < 4 * se_mean), (t, x.mean(0), mean)
        # the standard error of a sample std is std / sqrt(2n) for Gaussian data
        se_std = std / math.sqrt(2 * n)
        assert torch.all((x.std(0) - std).abs() < 4 * se_std), (t, x.std(0), std)


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_kernel_solves_moment_odes(sde):
    """alpha' = a alpha, (sigma^2)' = 2 a sigma^2 + g^2, alpha(0) = 1, sigma^2(0) = 0 (autograd in t)."""
    t = torch.linspace(0.01, sde.T, 50).requires_grad_(True)
    alpha, var = sde.mean_coeff(t) + 0 * t, sde.variance(t) + 0 * t  # "+ 0 t": constants get a graph too
    (dalpha,) = torch.autograd.grad(alpha.sum(), t)
    (dvar,) = torch.autograd.grad(var.sum(), t)
    a, g2 = sde.drift_coeff(t), sde.diffusion(t) ** 2
    torch.testing.assert_close(dalpha, a * alpha, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(dvar, 2 * a * var + g2, rtol=1e-10, atol=1e-12)
    zero = torch.zeros(())
    assert float(sde.mean_coeff(zero)) == 1.0 and float(sde.variance(zero)) == 0.0


def test_linear_schedule_integral_matches_quadrature():
    sde = tp.VP(beta_min=0.1, beta_max=20.0, T=1.0)
    for t in [0.1, 0.5, 1.0]:
        exact, _ = quad(lambda s: float(sde.beta(s)), 0, t)
        assert math.isclose(float(sde.beta_integral(t)), exact, rel_tol=1e-10)
    assert math.isclose(float(sde.beta_integral(1.0)), 0.5 * (0.1 + 20.0), rel_tol=1e-12)


def test_subvp_variance_below_vp():
    t = torch.linspace(0, 1, 101)
    assert torch.all(tp.SubVP().variance(t) <= tp.VP().variance(t) + 1e-15)
    assert torch.all(tp.SubVP().diffusion(t) <= tp.VP().diffusion(t) + 1e-15)


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_prior_sample_and_log_prob(sde):
    gen = torch.Generator().manual_seed(1)
    x = sde.prior_sample((40_000, 3), generator=gen)
    mean = sde.prior_mean()
    assert abs(float(x.mean()) - float(mean)) < 4 * sde.prior_std() / math.sqrt(x.numel())
    assert abs(float(x.std()) / sde.prior_std() - 1) < 4 / math.sqrt(2 * x.numel())
    ref = torch.distributions.Normal(torch.as_tensor(float(mean)), sde.prior_std())
    torch.testing.assert_close(sde.prior_log_prob(x[:10]), ref.log_prob(x[:10]).sum(1))


def test_stated_priors():
    """The priors the papers state (Tang & Zhao §3; Claustre §3.5)."""
    assert tp.OU(theta=2, sigma=2).prior_std() == pytest.approx(1.0)
    assert tp.VE(0.01, 10).prior_std() ** 2 == pytest.approx(10**2 - 0.01**2)
    cvp = tp.CVP(0.1, 4.0)
    assert cvp.prior_std() ** 2 == pytest.approx(math.exp(0.5 * (0.1 + 4.0)) - 1)
    assert cvp.prior_std() ** 2 == pytest.approx(float(cvp.variance(cvp.T)))
    cou = tp.COU(theta=1, sigma=1)
    assert cou.prior_std() ** 2 == pytest.approx(float(cou.variance(cou.T)))


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_shapes_are_agnostic(sde):
    """The same SDE works on 2-D points and image-shaped tensors, float32 and float64."""
    for shape in [(5, 2), (3, 1, 4, 4)]:
        for dtype in [torch.float32, torch.float64]:
            x = torch.ones(shape, dtype=dtype)
            t = torch.full((shape[0],), 0.5 * sde.T, dtype=dtype)
            assert sde.drift(x, t).shape == x.shape and sde.drift(x, t).dtype == dtype
            mean, std = sde.marginal(x, t)
            assert mean.shape == x.shape and std.ndim == x.ndim
            xt, noise = sde.sample_marginal(x, 0.3 * sde.T)
            assert xt.shape == x.shape and xt.dtype == dtype
            assert sde.prior_sample(shape, dtype=dtype).shape == shape


# --- bad input: one test each -----------------------------------------------------------------


def test_unknown_sde_name():
    with pytest.raises(ValueError, match="unknown SDE 'vpp'; choose one of"):
        tp.make_sde("vpp")
    assert isinstance(tp.make_sde("sub-VP"), tp.SubVP)


@pytest.mark.parametrize(
    "build",
    [
        lambda: tp.VP(beta_min=-0.1),
        lambda: tp.VP(beta_min=0.0),
        lambda: tp.SubVP(beta_max=float("nan")),
        lambda: tp.OU(sigma=0),
        lambda: tp.COU(theta=-1),
        lambda: tp.VE(sigma_min=0),
        lambda: tp.CVP(T=0),
    ],
)
def test_non_positive_parameters(build):
    with pytest.raises(ValueError, match="must be a finite positive number"):
        build()


def test_inconsistent_schedule():
    with pytest.raises(ValueError, match="sigma_max > sigma_min"):
        tp.VE(sigma_min=5, sigma_max=1)
    with pytest.raises(ValueError, match="beta_max >= beta_min"):
        tp.VP(beta_min=5, beta_max=1)


def test_time_outside_horizon():
    sde = tp.VP()
    with pytest.raises(ValueError, match=r"time outside \[0, T\]"):
        sde.marginal(torch.zeros(2, 2), 1.5)
    with pytest.raises(ValueError, match=r"time outside \[0, T\]"):
        sde.marginal(torch.zeros(2, 2), torch.tensor([0.5, -0.1]))
    with pytest.raises(ValueError, match=r"time outside \[0, T\]"):
        tp.ring_mixture().diffuse(sde, 2.0)


def test_score_with_wrong_shape():
    rev = tp.VP().reverse(lambda x, t: x[:, :1])
    with pytest.raises(ValueError, match="score returned shape"):
        rev.drift(torch.zeros(4, 2), 0.5)


def test_negative_diffusion_ratio():
    with pytest.raises(ValueError, match="h_ratio must be a number >= 0"):
        tp.VP().reverse(lambda x, t: x, h_ratio=-1)


# --- the subclassing contract --------------------------------------------------------------------


class Linear(tp.SDE):
    """dX = -X dt + sqrt(2) dW on [0, 2]: an OU written by a user, the contract's way."""

    def __init__(self, wrong_variance: bool = False):
        self.T, self.wrong = 2.0, wrong_variance

    def _drift_coeff(self, t):
        return torch.full_like(t, -1.0)

    def _diffusion(self, t):
        return torch.full_like(t, 2.0**0.5)

    def _mean_coeff(self, t):
        return torch.exp(-t)

    def _variance(self, t):
        return 1 - torch.exp(-(1.0 if self.wrong else 2.0) * t)

    def prior_std(self):
        return 1.0


@pytest.mark.parametrize("sde", ALL_SDES + [tp.Brownian(sigma=1.5, T=2.0)], ids=sde_id)
def test_the_zoo_meets_the_contract(sde):
    assert tp.check_contract(sde) is sde


def test_a_user_sde_meets_the_contract_and_samples():
    sde = tp.check_contract(Linear())
    t = torch.tensor([0.5, 1.5])
    torch.testing.assert_close(sde.variance(t), tp.OU(theta=1.0, sigma=2.0**0.5, T=2.0).variance(t))
    data = tp.Gaussian(torch.tensor([1.0]), 0.5)
    gen = torch.Generator().manual_seed(0)
    x = tp.sample(sde, tp.ExactScore(data, sde), (20_000, 1), n_steps=200, dtype=torch.float64, generator=gen)
    # the exact law of this Euler-Maruyama chain from the prior N(0, 1): within 4 standard errors
    law = exact.em_chain_moments(sde, data, tp.quadratic_grid(sde, 200), init_mean=0.0, init_var=1.0)
    z_mean, z_cov = tp.moment_z_scores(x, law.mean, torch.diag(law.var))
    assert float(z_mean.abs().max()) < 4 and float(z_cov.abs().max()) < 4
    with pytest.raises(ValueError, match=r"outside \[0, T\] = \[0, 2\] for Linear"):
        sde.std(2.5)


def test_a_wrong_formula_is_caught_up_front():
    with pytest.raises(ValueError, match=r"Linear: the formulas disagree with \(sigma\^2\)' = 2 a sigma\^2 \+ g\^2"):
        tp.check_contract(Linear(wrong_variance=True))
    with pytest.raises(ValueError, match="disagree"):
        tp.sample(Linear(wrong_variance=True), lambda x, t: -x, (4, 1))

    class Missing(tp.SDE):
        T = 1.0

    with pytest.raises(NotImplementedError, match="Missing must define _drift_coeff"):
        tp.check_contract(Missing())


def test_times_are_a_float_or_a_batch_everywhere():
    sde, mix = tp.VP(), tp.ring_mixture()
    x = mix.sample(5, generator=torch.Generator().manual_seed(1))
    log_prob = lambda y, s: mix.diffuse(sde, s).log_prob(y)  # noqa: E731
    lhs_f, rhs_f = tp.fokker_planck_residual(sde, log_prob, x, 0.3)
    lhs_b, rhs_b = tp.fokker_planck_residual(sde, log_prob, x, torch.full((5,), 0.3))
    torch.testing.assert_close(lhs_f, lhs_b)
    torch.testing.assert_close(rhs_f, rhs_b)
    score = tp.ExactScore(mix, sde)
    torch.testing.assert_close(score(x, 0.3), score(x, torch.full((5,), 0.3)))
    torch.testing.assert_close(sde.drift(x, 0.3), sde.drift(x, torch.full((5,), 0.3)))


def test_no_nan_at_t_zero_for_a_noise_prediction():
    model = tp.ScoreModel(tp.TimeMLP(2, 8, 1), tp.VP(), "eps")
    with pytest.raises(ValueError, match="sigma_t = 0"):
        model(torch.zeros(3, 2), 0.0)
    assert bool(torch.isfinite(model(torch.zeros(3, 2), 1e-5)).all())
    assert bool(torch.isfinite(tp.ScoreModel(tp.TimeMLP(2, 8, 1), tp.VP(), "score")(torch.zeros(3, 2), 0.0)).all())
