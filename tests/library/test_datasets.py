"""Toy data sets and batch drawing: shapes, reproducibility, where the points lie, bad arguments."""

from __future__ import annotations

import math

import pytest
import torch

import tutorial_pkg as tp


@pytest.mark.parametrize("name", sorted(tp.TOY_DATASETS))
def test_toy_data_shape_dtype_and_reproducibility(name):
    a = tp.toy_data(name, 500, generator=torch.Generator().manual_seed(0))
    b = tp.toy_data(name, 500, generator=torch.Generator().manual_seed(0))
    c = tp.toy_data(name, 500, generator=torch.Generator().manual_seed(1))
    assert a.shape == (500, 2) and a.dtype == torch.get_default_dtype() and torch.equal(a, b) and not torch.equal(a, c)
    assert tp.toy_data(name, 5, dtype=torch.float32).dtype == torch.float32
    assert 0.3 < float(a.std(0).mean()) < 2.0  # roughly unit spread, the scale the SDEs are tuned for


def test_rings_lie_on_their_circles_in_proportion_to_circumference():
    radii = (0.5, 1.0, 1.5)
    x = tp.rings(30_000, radii=radii, noise=0.0, generator=torch.Generator().manual_seed(2))
    r = x.norm(dim=1)
    nearest = torch.stack([(r - k).abs() for k in radii]).min(0).values
    assert float(nearest.max()) < 1e-12
    shares = torch.tensor([float(((r - k).abs() < 1e-9).float().mean()) for k in radii])
    expected = torch.tensor(radii) / sum(radii)
    se = (expected * (1 - expected) / 30_000).sqrt()
    assert bool(((shares - expected).abs() < 4 * se).all()), shares


def test_checkerboard_fills_only_the_dark_squares():
    x = tp.checkerboard(20_000, squares=4, generator=torch.Generator().manual_seed(3))
    assert float(x.min()) >= -2 and float(x.max()) <= 2
    cell = ((x + 2) // 1).long()  # squares of side 1 on [-2, 2]^2
    assert bool(((cell[:, 0] + cell[:, 1]) % 2 == 0).all())
    counts = torch.bincount(cell[:, 0] * 4 + cell[:, 1], minlength=16)
    dark = counts[counts > 0]
    assert dark.numel() == 8 and float(dark.float().std() / dark.float().mean()) < 0.1  # uniform over the 8


def test_moons_are_two_half_circles():
    x = tp.moons(20_000, noise=0.0, generator=torch.Generator().manual_seed(4))
    # undo the centring and scaling: upper moon on the unit circle, lower on the circle around (1, 0.5)
    u = x / 1.5 + torch.tensor([0.5, 0.25])
    upper = (u.norm(dim=1) - 1).abs() < 1e-9
    lower = ((u - torch.tensor([1.0, 0.5])).norm(dim=1) - 1).abs() < 1e-9
    assert bool((upper | lower).all())
    assert abs(float(upper.float().mean()) - 0.5) < 4 * math.sqrt(0.25 / 20_000)


def test_ring_mixture_and_random_mixture():
    mix = tp.ring_mixture(8, radius=2.0, std=0.25)
    torch.testing.assert_close(mix.means.norm(dim=1), torch.full((8,), 2.0))
    torch.testing.assert_close(mix.mean(), torch.zeros(2), atol=1e-12, rtol=0)
    rnd = tp.random_mixture(3, 5, generator=torch.Generator().manual_seed(5))
    assert rnd.means.shape == (5, 3) and float(rnd.weights.sum()) == pytest.approx(1.0)
    assert bool(((rnd.stds >= 0.2) & (rnd.stds <= 0.6)).all())


def test_draw_batch_from_points_and_from_a_distribution():
    data = torch.arange(20.0).reshape(10, 2)
    batch = tp.draw_batch(data, 50, generator=torch.Generator().manual_seed(6))
    assert batch.shape == (50, 2) and all(any(torch.equal(row, d) for d in data) for row in batch)
    again = tp.draw_batch(data, 50, generator=torch.Generator().manual_seed(6))
    assert torch.equal(batch, again)
    assert tp.draw_batch(tp.ring_mixture(), 7, generator=torch.Generator()).shape == (7, 2)
    with pytest.raises(TypeError, match="data must be a tensor"):
        tp.draw_batch([1, 2, 3], 4)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_sizes(bad):
    with pytest.raises(ValueError, match="n must be a positive int"):
        tp.swiss_roll(bad)
    with pytest.raises(ValueError, match="unknown toy data set"):
        tp.toy_data("spiral", 10)
