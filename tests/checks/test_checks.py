"""The exercise checkers: each accepts the reference answer and rejects plausible wrong answers with a hint.

Chapters 06 and 07 here; the checkers of the other chapters are exercised by their solution notebooks.
"""

from __future__ import annotations

import math

import pytest
import torch

import tutorial_pkg as tp
from tutorial_pkg import checks, exact
from tutorial_pkg.checks import (
    ExerciseFailed,
    check_bits_per_dim_bound,
    check_gaussian_flow_log_likelihood,
    check_hutchinson_trace,
    check_hutchinson_variance,
    check_pf_ode_divergence,
)

# --- the exercise checkers accept right answers and explain wrong ones ------------------------------


def _em_step(x, t, t_next, sde, score, h_ratio, z):
    dt = t_next - t
    tb = torch.full((x.shape[0],), t, dtype=x.dtype)
    g = sde.diffusion(tb)[:, None]
    drift = sde.drift(x, tb) - 0.5 * (1 + h_ratio**2) * g**2 * score(x, tb)
    return x + drift * dt + h_ratio * g * math.sqrt(abs(dt)) * z


def _ddim_step(x, t, t_next, sde, score):
    abar = sde.mean_coeff(torch.tensor(t)) ** 2
    abar_n = sde.mean_coeff(torch.tensor(t_next)) ** 2
    s = score(x, torch.full((x.shape[0],), t))
    x0 = (x + (1 - abar) * s) / abar.sqrt()
    eps = -(1 - abar).sqrt() * s
    return abar_n.sqrt() * x0 + (1 - abar_n).sqrt() * eps


def test_chapter_06_checkers_accept_correct_answers(capsys):
    assert checks.check_em_step(_em_step)
    assert checks.check_ddim_step(_ddim_step)
    assert checks.check_snr_step_size(tp.langevin_step_size)
    assert checks.check_ula_variance(lambda v, eps: 2 * v**2 / (2 * v - eps))
    assert checks.check_snr_fixed_point(lambda v, snr: v * (1 + snr**2))
    assert checks.check_weak_order(lambda n, e: tp.fit_order([1 / k for k in n], e).order)
    assert capsys.readouterr().out.count("correct") == 6


def test_chapter_06_checkers_give_hints():
    def flipped(x, t, t_next, sde, score, h_ratio, z):
        deterministic = _em_step(x, t, t_next, sde, score, h_ratio, 0 * z)
        return 2 * x - deterministic + (_em_step(x, t, t_next, sde, score, h_ratio, z) - deterministic)

    with pytest.raises(checks.ExerciseFailed, match="wrong sign"):
        checks.check_em_step(flipped)
    with pytest.raises(checks.ExerciseFailed, match="Euler's step"):
        checks.check_ddim_step(lambda x, t, t_next, sde, score: tp.ode_euler(sde, score, x, torch.tensor([t, t_next])))
    with pytest.raises(checks.ExerciseFailed, match="average the norms"):

        def per_sample(s, z, snr):
            ratio = z.flatten(1).norm(dim=1) / s.flatten(1).norm(dim=1)
            return (2 * (snr * ratio) ** 2).mean()

        checks.check_snr_step_size(per_sample)
    with pytest.raises(checks.ExerciseFailed, match="is the target"):
        checks.check_ula_variance(lambda v, eps: v)
    with pytest.raises(checks.ExerciseFailed, match="NotImplementedError"):

        def stub(n, e):
            raise NotImplementedError

        checks.check_weak_order(stub)


# --- the checkers of chapter 07: they accept the reference answers and reject typical mistakes ----


def test_chapter_07_checkers_accept_correct_answers():
    def trace(matvec, probes):
        return (probes * matvec(probes)).sum(-1).mean()

    def pf_div(sde, score, x, t):
        return x.shape[1] * sde.drift_coeff(t) - 0.5 * sde.diffusion(t) ** 2 * tp.divergence(lambda y: score(y, t), x)

    def bpd(log_p, dim, n_bins, low, high):
        return -(log_p + dim * math.log((high - low) / n_bins)) / (dim * math.log(2))

    def flow_ll(x, sde, data, t):
        p_t, p_T = data.diffuse(sde, t), data.diffuse(sde, sde.T)
        ratio = (p_T.scale / p_t.scale).expand_as(x)
        return sde.prior_log_prob(p_T.loc + ratio * (x - p_t.loc)) + torch.log(ratio).sum(-1)

    assert check_hutchinson_trace(trace)
    assert check_hutchinson_variance(exact.hutchinson_variance)
    assert check_pf_ode_divergence(pf_div)
    assert check_bits_per_dim_bound(bpd)
    assert check_gaussian_flow_log_likelihood(flow_ll)


def test_chapter_07_checkers_reject_typical_mistakes():
    with pytest.raises(ExerciseFailed, match="average"):
        check_hutchinson_trace(lambda matvec, probes: (probes * matvec(probes)).sum())
    with pytest.raises(ExerciseFailed, match="symmetric part"):
        check_hutchinson_variance(
            lambda A, kind: 2 * A.pow(2).sum() - (2 * A.diagonal().pow(2).sum() if kind == "rademacher" else 0)
        )
    with pytest.raises(ExerciseFailed, match="d \\* a"):
        check_pf_ode_divergence(
            lambda sde, score, x, t: (
                sde.drift_coeff(t) - 0.5 * sde.diffusion(t) ** 2 * tp.divergence(lambda y: score(y, t), x)
            )
        )
    with pytest.raises(ExerciseFailed, match="nats"):
        check_bits_per_dim_bound(
            lambda log_p, dim, n_bins, low, high: -(log_p + dim * math.log((high - low) / n_bins)) / dim
        )
    with pytest.raises(ExerciseFailed, match="p_noise"):
        check_gaussian_flow_log_likelihood(lambda x, sde, data, t: data.diffuse(sde, t).log_prob(x))
    with pytest.raises(ExerciseFailed, match="NotImplementedError"):
        check_bits_per_dim_bound(lambda *args: (_ for _ in ()).throw(NotImplementedError()))
