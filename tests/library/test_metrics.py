"""Distances: closed forms against independent computations."""

from __future__ import annotations

import math

import pytest
import torch

import tutorial_pkg as tp


def random_spd(d, seed):
    a = torch.randn(d, d, generator=torch.Generator().manual_seed(seed))
    return a @ a.T + 0.5 * torch.eye(d)


def test_gaussian_kl_against_torch_distributions():
    d = 3
    m1, m2 = torch.randn(d), torch.randn(d)
    c1, c2 = random_spd(d, 0), random_spd(d, 1)
    p = torch.distributions.MultivariateNormal(m1, c1)
    q = torch.distributions.MultivariateNormal(m2, c2)
    torch.testing.assert_close(tp.gaussian_kl(m1, c1, m2, c2), torch.distributions.kl_divergence(p, q))
    assert float(tp.gaussian_kl(m1, c1, m1, c1)) == pytest.approx(0.0, abs=1e-12)


def test_gaussian_w2_one_dimensional_closed_form():
    """W2(N(m1, s1^2), N(m2, s2^2)) = sqrt((m1 - m2)^2 + (s1 - s2)^2)."""
    w = tp.gaussian_w2(torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([-0.5]), torch.tensor([[0.25]]))
    assert float(w) == pytest.approx(math.sqrt(1.5**2 + 1.5**2))


def test_gaussian_w2_is_a_metric_on_examples():
    d = 4
    ms = [torch.randn(d, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    cs = [random_spd(d, 10 + i) for i in range(3)]
    w = lambda i, j: float(tp.gaussian_w2(ms[i], cs[i], ms[j], cs[j]))  # noqa: E731
    assert w(0, 0) == pytest.approx(0.0, abs=1e-6)
    assert w(0, 1) == pytest.approx(w(1, 0), rel=1e-8)
    assert w(0, 2) <= w(0, 1) + w(1, 2) + 1e-10


@pytest.mark.slow
def test_sliced_wasserstein_of_a_shift():
    """For y = x + c: SW2^2 = E_theta (theta . c)^2 = |c|^2 / d exactly for each sample (d = 2 here)."""
    x = torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    c = torch.tensor([0.6, -0.8])
    sw = tp.sliced_wasserstein(x, x + c, n_projections=20_000, generator=torch.Generator().manual_seed(1))
    # Monte Carlo over directions: (theta.c)^2 = cos^2, variance 1/8 for |c| = 1 in 2-D
    assert float(sw**2) == pytest.approx(0.5, abs=4 * math.sqrt(0.125 / 20_000))
    assert float(tp.sliced_wasserstein(x, x.clone())) == 0.0


def test_sliced_wasserstein_unequal_sizes_and_chunks():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(3000, 2, generator=g), torch.randn(1000, 2, generator=g) + 5
    # shift c = (5, 5): SW2^2 = |c|^2 / 2 = 25, plus a small sampling term
    assert float(tp.sliced_wasserstein(x, y, generator=g)) == pytest.approx(5.0, rel=0.05)
    with pytest.raises(ValueError, match="chunk must be"):
        tp.sliced_wasserstein(x, y, chunk=5000)


def test_energy_distance_separates_laws():
    g = torch.Generator().manual_seed(3)
    a, b, c = (
        torch.randn(1500, 2, generator=g),
        torch.randn(1500, 2, generator=g),
        torch.randn(1500, 2, generator=g) + 1,
    )
    same, different = float(tp.energy_distance(a, b)), float(tp.energy_distance(a, c))
    assert abs(same) < 0.02 and different > 0.3


def test_metric_input_errors():
    with pytest.raises(ValueError, match="same dimension"):
        tp.sliced_wasserstein(torch.zeros(10, 2), torch.zeros(10, 3))
    with pytest.raises(ValueError, match=r"need mean \(d,\) and covariance \(d, d\)"):
        tp.gaussian_kl(torch.zeros(2), torch.eye(3), torch.zeros(2), torch.eye(2))
