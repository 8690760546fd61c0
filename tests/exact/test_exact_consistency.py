"""Chapter 08's oracles: the Gaussian flow map, the training pairs, the delta_0 example, the ideal fixed points."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import ALL_SDES, sde_id

import tutorial_pkg as tp
from tutorial_pkg import exact, study

F64 = torch.float64


@pytest.mark.parametrize("sde", ALL_SDES, ids=sde_id)
def test_gaussian_flow_map_is_a_group_and_runs_both_ways(sde):
    data = tp.Gaussian(torch.tensor([0.4, -0.3], dtype=F64), torch.tensor([0.6, 1.1], dtype=F64))
    x = data.diffuse(sde, 0.8 * sde.T).sample(64, generator=torch.Generator().manual_seed(0))
    t, u, s = 0.8 * sde.T, 0.4 * sde.T, 0.05 * sde.T
    truth = exact.gaussian_flow_map(sde, data, x, t, s)
    composed = exact.gaussian_flow_map(sde, data, exact.gaussian_flow_map(sde, data, x, t, u), u, s)
    assert torch.allclose(composed, truth, rtol=1e-12, atol=1e-12)  # group property, exactly
    back = exact.gaussian_flow_map(sde, data, truth, s, t)
    assert torch.allclose(back, x, rtol=1e-12, atol=1e-12)  # the flow runs both ways
    batched = exact.gaussian_flow_map(sde, data, x, torch.full((64,), t, dtype=F64), s)
    assert torch.allclose(batched, truth, rtol=1e-14, atol=1e-14)
    # the pushforward of p_t is p_s: the affine map sends the moments of p_t to those of p_s
    p_t, p_s = data.diffuse(sde, t), data.diffuse(sde, s)
    image = exact.gaussian_flow_map(sde, data, p_t.loc[None] + torch.diag(p_t.scale), t, s)
    assert torch.allclose(image - p_s.loc, torch.diag(p_s.scale), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sde", [tp.VE(), tp.VP(), tp.OU(theta=1.0, sigma=1.5, mu=0.7, T=2.0)], ids=sde_id)
def test_gaussian_flow_map_is_the_limit_of_heun(sde):
    data = tp.Gaussian(torch.tensor([0.4, -0.3], dtype=F64), torch.tensor([0.6, 1.1], dtype=F64))
    x = data.diffuse(sde, 0.8 * sde.T).sample(16, generator=torch.Generator().manual_seed(0))
    truth = exact.gaussian_flow_map(sde, data, x, 0.8 * sde.T, 0.05 * sde.T)
    score = tp.ExactScore(data, sde)
    err = [
        float((tp.pf_ode_flow_map(sde, score, x, 0.8 * sde.T, 0.05 * sde.T, n) - truth).abs().max()) for n in (100, 400)
    ]
    assert err[1] < err[0] / 8 and err[1] < 1e-4, err  # Heun is second order: 16x for 4x the steps


def test_gaussian_consistency_function_is_a_perfect_consistency_model():
    sde = tp.VE()
    data = tp.Gaussian(torch.tensor([1.0, -0.5], dtype=F64), torch.tensor([0.5, 1.2], dtype=F64))
    f = exact.GaussianConsistencyFunction(sde, data, t_min=1e-3)
    g = torch.Generator().manual_seed(1)
    x = data.diffuse(sde, 0.7).sample(128, generator=g)
    assert torch.equal(f(x, 1e-3), x)  # boundary condition
    t = 0.7 * torch.rand(128, generator=g, dtype=F64) + 0.01
    moved = exact.gaussian_flow_map(sde, data, x, 0.7, t)
    assert torch.allclose(f(moved, t), f(x, 0.7), rtol=1e-12, atol=1e-12)  # self-consistency
    # one step from the exact p_T is an exact sample of p_t_min (the map is affine): check the moments
    x_T = data.diffuse(sde, sde.T).sample(20_000, generator=g)
    out = tp.consistency_sample(f, sde, x_T)
    target = data.diffuse(sde, 1e-3)
    z_mean = (out.mean(0) - target.loc) / (target.scale / math.sqrt(20_000))
    assert z_mean.abs().max() < 4
    assert torch.allclose(out.std(0), target.scale.expand(2), rtol=0.03)
    with pytest.raises(ValueError, match="Gaussian"):
        exact.GaussianConsistencyFunction(sde, tp.ring_mixture())
    with pytest.raises(ValueError, match="t_min"):
        exact.GaussianConsistencyFunction(sde, data, t_min=0.0)


def test_training_pairs_for_data_at_a_point():
    """Data at 0 under VE: shared-noise CT pairs lie exactly on the PF-ODE rays, as the CD pairs do up to
    the error of one Heun step; independent pairs do not."""
    sde = tp.VE()
    x0 = torch.zeros(512, 2, dtype=F64)
    teacher = tp.ExactScore(tp.Gaussian(torch.zeros(2, dtype=F64), 0.0), sde)
    pairs = {}
    for name, kw in [
        ("cd", {"method": "cd", "teacher": teacher}),
        ("shared", {}),
        ("independent", {"coupling": "independent"}),
    ]:
        pairs[name] = study.training_pair(sde, x0, generator=torch.Generator().manual_seed(3), **kw)
    for name, (x_hi, t_hi, x_lo, t_lo) in pairs.items():
        assert x_hi.shape == x_lo.shape == (512, 2) and t_hi.shape == t_lo.shape == (512,)
        assert bool((t_lo < t_hi).all())
        ratio = (sde.std(t_lo) / sde.std(t_hi))[:, None]
        off_ray = float((x_lo - ratio * x_hi).abs().max() / x_hi.abs().max())
        expected = {"cd": (0, 0.02), "shared": (0, 1e-12), "independent": (0.1, math.inf)}[name]
        assert expected[0] <= off_ray <= expected[1], (name, off_ray)
    # the same generator gives the same x_hi in all three: the pairs differ only in x_lo
    assert torch.equal(pairs["cd"][0], pairs["shared"][0]) and torch.equal(pairs["shared"][0], pairs["independent"][0])
    with pytest.raises(ValueError, match="teacher"):
        study.training_pair(sde, x0, method="cd")
    with pytest.raises(ValueError, match="method"):
        study.training_pair(sde, x0, method="dsm")


def test_delta0_pair_laws_and_their_w2():
    d = 3
    for t, delta in [(1.0, 0.1), (0.5, 0.01), (2.0, 1.0), (0.3, 0.0)]:
        sh, sl = t, t - delta
        m, c_shared = exact.delta0_pair_law(sh, sl, d, "shared")
        _, c_indep = exact.delta0_pair_law(sh, sl, d, "independent")
        assert m.shape == (2 * d,) and c_shared.shape == (2 * d, 2 * d)
        w2sq = float(tp.gaussian_w2(m, c_shared, m, c_indep) ** 2)
        formula = float(exact.delta0_w2_squared(sh, sl, d))
        r = 1 - delta / t
        seed_form = 2 * t**2 * d * (1 + r**2 - math.sqrt(1 + r**4))  # Tang & Zhao eq. (5.17)
        # the shared law is singular (rank d): the matrix square root of a zero eigenvalue of order 1e-16 is
        # 1e-8, so gaussian_w2 is accurate to about sqrt(machine epsilon) here
        assert math.isclose(w2sq, formula, rel_tol=1e-6) and math.isclose(formula, seed_form, rel_tol=1e-12)
    assert math.isclose(float(exact.delta0_w2_squared(1.0, 1.0, 1)), 2 * (2 - math.sqrt(2)), rel_tol=1e-12)
    # the shared-noise law is the distillation law: distance zero
    m, c = exact.delta0_pair_law(1.0, 0.9, 2, "shared")
    assert float(tp.gaussian_w2(m, c, m, c)) < 1e-6


@pytest.mark.slow
def test_delta0_optimal_coupling_attains_w2():
    g = torch.Generator().manual_seed(5)
    n, d, sh, sl = 200_000, 2, 1.0, 0.8
    y_hi, y_lo = sh * torch.randn(n, d, generator=g, dtype=F64), sl * torch.randn(n, d, generator=g, dtype=F64)
    a, b = exact.delta0_optimal_coupling(y_hi, y_lo, sh, sl)
    assert torch.allclose(b, (sl / sh) * a)  # the image lies on the rays: the shared-noise pair
    assert torch.allclose(a.var(0), torch.full((d,), sh**2, dtype=F64), rtol=0.02)
    cost = ((y_hi - a) ** 2 + (y_lo - b) ** 2).sum(1)
    formula = float(exact.delta0_w2_squared(sh, sl, d))
    assert abs(float(cost.mean()) - formula) < 4 * float(cost.std()) / math.sqrt(n)
    with pytest.raises(ValueError, match="noise levels"):
        exact.delta0_w2_squared(0.5, 1.0, 1)


def test_ideal_maps_exact_and_orders_of_convergence():
    sde = tp.VE()
    mean, std = 0.3, 1.0
    err = {c: [] for c in ("cd", "shared")}
    for n_points in (35, 70, 140):
        ts = tp.consistency_grid(sde, n_points, 1e-3)
        gain, off = exact.ideal_consistency_maps(sde, mean, std, ts, "exact")
        v = std**2 + sde.variance(ts)
        assert torch.allclose(gain, torch.sqrt(v[0] / v), rtol=1e-12)
        assert torch.allclose(off, mean * (1 - gain), rtol=1e-12, atol=1e-14)
        for c in err:
            g_c, _ = exact.ideal_consistency_maps(sde, mean, std, ts, c)
            err[c].append(abs(float(g_c[-1] / gain[-1]) - 1))
        g_i, o_i = exact.ideal_consistency_maps(sde, mean, std, ts, "independent")
        assert abs(float(g_i[-1])) < 1e-6 and abs(float(o_i[-1]) - mean) < 1e-6  # collapse onto the mean
    for c, order in [("cd", 4.0), ("shared", 2.0)]:  # halving the steps: Heun error / 4, shared error / 2
        for e1, e2 in zip(err[c][:-1], err[c][1:], strict=True):
            assert 0.85 * order < e1 / e2 < 1.15 * order, (c, err[c])
    with pytest.raises(ValueError, match="coupling"):
        exact.ideal_consistency_maps(sde, mean, std, ts, "mixed")
    with pytest.raises(ValueError, match="increasing"):
        exact.ideal_consistency_maps(sde, mean, std, ts.flip(0), "cd")


@pytest.mark.slow
def test_ideal_conditional_expectation_matches_the_package_pairs():
    """The affine E[X_lo | X_hi] behind the shared and independent recursions, by regression on the pairs
    the package's training loss draws (1-D Gaussian data, VP so that alpha != 1)."""
    sde, mean, std = tp.VP(), 0.7, 0.5
    n_points, t_min = 6, 1e-3
    ts = tp.consistency_grid(sde, n_points, t_min)
    g = torch.Generator().manual_seed(7)
    x0 = mean + std * torch.randn(200_000, 1, generator=g, dtype=F64)
    for coupling in ("shared", "independent"):
        x_hi, t_hi, x_lo, _ = study.training_pair(
            sde, x0, coupling=coupling, n_points=n_points, t_min=t_min, generator=g
        )
        gains, offs = exact.ideal_consistency_maps(sde, mean, std, ts, coupling)
        for k in range(1, n_points):
            sel = torch.isclose(t_hi, ts[k].to(t_hi))
            xh, xl = x_hi[sel, 0], x_lo[sel, 0]
            slope = float(((xh - xh.mean()) * (xl - xl.mean())).sum() / ((xh - xh.mean()) ** 2).sum())
            resid = xl - xl.mean() - slope * (xh - xh.mean())
            se = float(resid.std() / (xh.std() * math.sqrt(xh.numel())))
            # one step of the recursion from f_{k-1} = id: ideal_consistency_maps on the two-point grid
            g1, o1 = exact.ideal_consistency_maps(sde, mean, std, ts[k - 1 : k + 1], coupling)
            assert abs(slope - float(g1[-1])) < 5 * se + 1e-12, (coupling, k, slope, float(g1[-1]), se)
            pred = float(g1[-1]) * float(xh.mean()) + float(o1[-1])
            assert abs(float(xl.mean()) - pred) < 5 * float(resid.std()) / math.sqrt(xh.numel()) + 1e-12
        assert gains.shape == offs.shape == (n_points,)
