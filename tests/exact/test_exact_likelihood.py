"""Tools of chapter 07: Hutchinson's variance in closed form, the integrated Jacobian, bin probabilities."""

from __future__ import annotations

import math

import pytest
import torch

import tutorial_pkg as tp
from tutorial_pkg import exact, study

T_MIN = 1e-3


# --- Hutchinson's estimator --------------------------------------------------------------------


def _brute_force_variance(A: torch.Tensor, kind: str) -> torch.Tensor:
    """Var(v^T A v) by enumerating all 2^d sign vectors (Rademacher) or from the Gaussian moment formula."""
    d = A.shape[0]
    if kind == "rademacher":
        signs = torch.tensor([[1.0 if (k >> i) & 1 else -1.0 for i in range(d)] for k in range(2**d)])
        q = exact.quadratic_forms(A, signs)
        return q.pow(2).mean() - q.mean() ** 2
    # Isserlis: E[(v^T A v)^2] = (tr A)^2 + tr(A A) + tr(A A^T)
    return torch.trace(A @ A) + torch.trace(A @ A.T)


@pytest.mark.parametrize("kind", ["rademacher", "gaussian"])
def test_hutchinson_variance_matches_an_exact_computation(kind):
    gen = torch.Generator().manual_seed(0)
    for d in [1, 2, 5]:
        A = torch.randn(d, d, generator=gen)
        assert torch.allclose(
            exact.hutchinson_variance(A, kind), _brute_force_variance(A, kind), rtol=1e-12, atol=1e-12
        )


def test_hutchinson_variance_special_cases_and_batches():
    D = torch.diag(torch.tensor([1.0, -3.0, 2.0]))
    assert exact.hutchinson_variance(D, "rademacher") == 0  # signs estimate a diagonal exactly
    assert torch.isclose(exact.hutchinson_variance(D, "gaussian"), torch.tensor(2 * 14.0))
    K = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])  # antisymmetric: v^T K v = 0 for every v
    assert exact.hutchinson_variance(K, "gaussian") == 0
    batch = torch.randn(4, 3, 3, generator=torch.Generator().manual_seed(1))
    stacked = torch.stack([exact.hutchinson_variance(a, "gaussian") for a in batch])
    assert torch.allclose(exact.hutchinson_variance(batch, "gaussian"), stacked)


@pytest.mark.parametrize("kind", ["rademacher", "gaussian"])
def test_quadratic_forms_are_unbiased_with_the_stated_variance(kind):
    gen = torch.Generator().manual_seed(2)
    A = torch.randn(6, 6, generator=gen) + 2 * torch.eye(6)
    n = 40_000
    q = exact.quadratic_forms(A, tp.draw_probes((n, 6), kind, generator=gen))
    var = exact.hutchinson_variance(A, kind)
    assert abs(float(q.mean() - A.trace())) < 4 * math.sqrt(float(var) / n)
    c = q - q.mean()
    se = math.sqrt(float(c.pow(4).mean() - c.var() ** 2) / n)
    assert abs(float(q.var() - var)) < 4 * se


def test_quadratic_forms_agree_with_autograd_hutchinson():
    gen = torch.Generator().manual_seed(3)
    A = torch.randn(3, 4, 4, generator=gen)  # one matrix per row of the batch
    probes = tp.draw_probes((5, 3, 4), "gaussian", generator=gen)
    x = torch.randn(3, 4, generator=gen)
    _, quads = tp.value_and_hutchinson(lambda y: torch.einsum("bij,bj->bi", A, y), x, probes)
    assert torch.allclose(exact.quadratic_forms(A, probes), quads)


def test_probe_laws_and_bad_arguments():
    gen = torch.Generator().manual_seed(4)
    v = tp.draw_probes((1000, 3), "rademacher", generator=gen)
    assert set(v.unique().tolist()) == {-1.0, 1.0}
    with pytest.raises(ValueError, match="kind"):
        tp.draw_probes((2, 2), "uniform")
    with pytest.raises(ValueError, match="kind"):
        exact.hutchinson_variance(torch.eye(2), "uniform")
    with pytest.raises(ValueError, match="square"):
        exact.hutchinson_variance(torch.ones(2, 3))
    with pytest.raises(ValueError, match="probes must have shape"):
        exact.quadratic_forms(torch.eye(3), torch.ones(2, 4))


# --- the integrated Jacobian along the probability-flow trajectory ------------------------------


def test_jacobian_of_a_linear_map():
    A = torch.randn(3, 3, generator=torch.Generator().manual_seed(5))
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(6))
    y, J = tp.value_and_jacobian(lambda z: z @ A.T, x)
    assert torch.allclose(y, x @ A.T) and torch.allclose(J, A.expand(4, 3, 3))


def test_integrated_jacobian_trace_is_the_heun_divergence_integral():
    sde, mix = tp.VP(), tp.random_mixture(3, 4, generator=torch.Generator().manual_seed(7))
    score = tp.ExactScore(mix, sde)
    x = mix.sample(20, generator=torch.Generator().manual_seed(8))
    M, x_T = study.pf_ode_jacobian_integral(sde, score, x, t_min=T_MIN, n_steps=15)
    _, info = tp.pf_ode_log_likelihood(sde, score, x, solver="heun", n_steps=15, t_min=T_MIN)
    assert torch.allclose(torch.diagonal(M, dim1=1, dim2=2).sum(-1), info["delta"], rtol=1e-12, atol=1e-12)
    assert torch.allclose(x_T, info["x_T"], rtol=1e-12, atol=1e-12)


def test_fixed_probe_likelihood_is_exact_plus_a_quadratic_form_of_M():
    """With Heun and a fixed probe, log p_hutch - log p_exact = v^T M v - tr M, to round-off."""
    sde, mix = tp.VP(), tp.random_mixture(3, 4, generator=torch.Generator().manual_seed(9))
    score = tp.ExactScore(mix, sde)
    x = mix.sample(10, generator=torch.Generator().manual_seed(10))
    kw = {"solver": "heun", "n_steps": 12, "t_min": T_MIN}
    truth, _ = tp.pf_ode_log_likelihood(sde, score, x, **kw)
    M, _ = study.pf_ode_jacobian_integral(sde, score, x, t_min=T_MIN, n_steps=12)
    for kind in ["rademacher", "gaussian"]:
        hutch, _ = tp.pf_ode_log_likelihood(
            sde,
            score,
            x,
            divergence="hutchinson",
            probe=kind,
            n_probes=2,
            generator=torch.Generator().manual_seed(11),
            **kw,
        )
        # the package draws its probes (m, B, *D) from the generator in this way (see likelihood.py)
        v = tp.draw_probes((2, *x.shape), kind, generator=torch.Generator().manual_seed(11))
        predicted = truth + exact.quadratic_forms(M, v).mean(0) - torch.diagonal(M, dim1=1, dim2=2).sum(-1)
        assert torch.allclose(hutch, predicted, rtol=1e-10, atol=1e-10)


def test_fresh_probes_flood_the_adaptive_solver():
    sde, mix = tp.VP(), tp.ring_mixture()
    score = tp.ExactScore(mix, sde)
    x = mix.sample(30, generator=torch.Generator().manual_seed(12))
    _, fixed = tp.pf_ode_log_likelihood(sde, score, x, divergence="hutchinson", rtol=1e-3, atol=1e-3)
    ll, fresh = study.fresh_probe_log_likelihood(sde, score, x, rtol=1e-3, atol=1e-3, generator=torch.Generator())
    assert fresh["finished"] and ll.shape == (30,)
    assert fresh["nfe"] > 3 * fixed["nfe"]
    stopped, info = study.fresh_probe_log_likelihood(sde, score, x, rtol=1e-6, atol=1e-6, max_nfe=200)
    assert stopped is None and not info["finished"] and info["nfe"] == 200


def test_jacobian_integral_bad_arguments():
    sde, score, x = tp.VP(), (lambda y, t: -y), torch.zeros(2, 2)
    with pytest.raises(ValueError, match="t_min"):
        study.pf_ode_jacobian_integral(sde, score, x, t_min=2.0)
    with pytest.raises(ValueError, match="n_steps"):
        study.pf_ode_jacobian_integral(sde, score, x, n_steps=0)
    with pytest.raises(ValueError, match="same shape"):
        tp.value_and_jacobian(lambda y: y.sum(1), x)


# --- bin probabilities and the dequantisation bound ----------------------------------------------


def test_log_diff_ndtr_in_both_tails():
    a = torch.tensor([-40.0, -1.0, 0.0, 5.0, 30.0])
    b = a + torch.tensor([0.1, 2.0, 1.0, 0.5, 0.01])
    got = exact.log_diff_ndtr(a, b)
    mp = pytest.importorskip("scipy.stats")
    ref = torch.tensor(
        [math.log(mp.norm.cdf(float(h)) - mp.norm.cdf(float(lo))) for lo, h in zip(a[1:4], b[1:4], strict=True)]
    )
    assert torch.allclose(got[1:4], ref, rtol=1e-10)
    assert torch.isfinite(got).all()  # scipy's difference underflows to log(0) in the far tails; this does not
    # far upper tail: Phi(b) - Phi(a) ~ phi(a) (b - a) for a small interval
    approx = -0.5 * 30.0**2 - 0.5 * math.log(2 * math.pi) + math.log(0.01) - 30.0 * 0.01 / 2
    assert abs(float(got[4]) - approx) < 1e-2


def test_binned_probabilities_sum_to_one_and_match_the_cdf():
    mix = tp.GaussianMixture(torch.tensor([1.0, 2.0]), torch.tensor([[-0.3], [0.5]]), torch.tensor([0.2, 0.4]))
    n_bins = 9
    levels = torch.arange(n_bins)[:, None]
    P = exact.binned_log_prob(mix, levels, n_bins).exp()
    # the bins cover [-1, 1]; the mass outside is the tails of the two components
    inside = sum(
        w * (torch.special.ndtr((1 - m) / s) - torch.special.ndtr((-1 - m) / s))
        for w, m, s in zip(mix.weights, mix.means[:, 0], mix.stds[:, 0], strict=True)
    )
    assert torch.isclose(P.sum(), inside, rtol=1e-12)
    # one bin against a fine Riemann sum of the density
    grid = torch.linspace(-1 + 2 * 3 / n_bins, -1 + 2 * 4 / n_bins, 20_001)
    riemann = torch.trapezoid(mix.log_prob(grid[:, None]).exp(), grid)
    assert torch.isclose(P[3], riemann, rtol=1e-8)


def test_dequantisation_bound_holds_for_every_bin():
    """log P(k) >= E_u log p + log w, with E_u log p in closed form for a Gaussian: exact, no sampling."""
    n_bins, w = 17, 2 / 17
    levels = torch.arange(n_bins)[:, None]
    centres = -1 + w * (levels.double() + 0.5)
    gaps = []
    for std in [0.02, 0.1, 0.5, 3.0]:
        dist = tp.Gaussian(torch.tensor([0.2]), std)
        # E_u[(x - m)^2] = (c - m)^2 + w^2 / 12 for x uniform on the bin with centre c
        mean_log_p = -0.5 * math.log(2 * math.pi * std**2) - ((centres - 0.2) ** 2 + w**2 / 12)[:, 0] / (2 * std**2)
        gap = exact.binned_log_prob(dist, levels, n_bins) - (mean_log_p + math.log(w))
        assert (gap >= -1e-12).all()
        gaps.append(float(gap.max()))
    assert gaps == sorted(gaps, reverse=True) and gaps[-1] < 1e-4  # the bound is tight when p is flat on a bin


def test_dequantised_bits_per_dim_sit_above_the_exact_code_length():
    gen = torch.Generator().manual_seed(13)
    levels = torch.randint(0, 17, (2000, 4), generator=gen)
    dist = tp.Gaussian(torch.zeros(4), 0.15)
    bound = tp.bits_per_dim(dist.log_prob(tp.dequantize(levels, 17, generator=gen)), 4, n_bins=17)
    truth = -exact.binned_log_prob(dist, levels, 17) / (4 * math.log(2))
    gap = bound - truth
    assert gap.mean() > 4 * gap.std() / math.sqrt(gap.numel())
    # a density that is constant on every bin (uniform on [-1, 1]^4) makes the bound tight: log2(17) bits/dim
    uniform = torch.full((2000,), -4 * math.log(2.0))
    assert torch.allclose(tp.bits_per_dim(uniform, 4, n_bins=17), torch.full((2000,), math.log2(17)))


def test_binned_log_prob_bad_arguments():
    dist = tp.Gaussian(torch.zeros(2), 1.0)
    with pytest.raises(ValueError, match="integers"):
        exact.binned_log_prob(dist, torch.tensor([[0.5, 1.0]]), 4)
    with pytest.raises(ValueError, match="levels must lie"):
        exact.binned_log_prob(dist, torch.tensor([[0, 4]]), 4)
    with pytest.raises(ValueError, match="shape"):
        exact.binned_log_prob(dist, torch.tensor([[0, 1, 2]]), 4)
    with pytest.raises(ValueError, match="one time"):
        exact.binned_log_prob(dist.diffuse(tp.VP(), torch.tensor([0.1])), torch.tensor([[0, 1]]), 4)
