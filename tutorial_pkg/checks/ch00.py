"""Checkers for the exercises of chapter 00 (Welcome): distances, noise floors, mixture scores.

Each ``check_*`` takes the student's function, compares it with the package's exact formulas
(:func:`tutorial_pkg.gaussian_w2`, :class:`tutorial_pkg.GaussianMixture`, :class:`tutorial_pkg.ExactScore`)
and prints one success line, or raises :class:`~tutorial_pkg.checks.ExerciseFailed` with a hint.
"""

from __future__ import annotations

import math

import torch

from ..datasets import swiss_roll
from ..distributions import ExactScore, GaussianMixture
from ..metrics import gaussian_w2, sliced_wasserstein
from ..sde import OU, VE, VP
from ._common import as_tensor, assert_close, call_student, fail, passed

__all__ = [
    "check_gaussian_w2_1d",
    "check_noise_floor",
    "check_mixture_score_1d",
    "check_diffused_mixture_score_1d",
]

_F64 = torch.float64


def _scalar(exercise: str, value, what: str) -> float:
    out = as_tensor(exercise, value, name=what)
    if out.numel() != 1:
        fail(exercise, f"{what} should be one number, got a tensor of shape {tuple(out.shape)}")
    out = float(out.reshape(()))
    if not math.isfinite(out):
        fail(exercise, f"{what} is {out}; expected a finite number")
    return out


def check_gaussian_w2_1d(w2_1d) -> bool:
    """Exercise 00-1: ``w2_1d(m1, s1, m2, s2)`` is W2(N(m1, s1^2), N(m2, s2^2)) for floats, s1, s2 >= 0.

    Compared with the general Gaussian formula :func:`tutorial_pkg.gaussian_w2` (Bures–Wasserstein)
    on fixed and random parameters, to a relative 1e-8 (both are closed forms in float64).
    """
    ex = "ex-00-1"
    gen = torch.Generator().manual_seed(1234)
    cases = [
        (0.0, 1.0, 0.0, 1.0),
        (0.0, 1.0, 3.0, 1.0),
        (0.0, 1.0, 0.0, 2.0),
        (1.0, 0.5, -2.0, 0.0),
        (2.0, 3.0, 2.0, 0.1),
    ]
    rand = torch.rand((20, 4), generator=gen, dtype=_F64) * torch.tensor([10.0, 3.0, 10.0, 3.0], dtype=_F64)
    rand[:, 0] -= 5
    rand[:, 2] -= 5
    cases += [tuple(float(v) for v in row) for row in rand]
    for m1, s1, m2, s2 in cases:
        got = _scalar(ex, call_student(ex, w2_1d, m1, s1, m2, s2), "w2_1d(m1, s1, m2, s2)")
        c1 = torch.tensor([[s1**2]], dtype=_F64)
        c2 = torch.tensor([[s2**2]], dtype=_F64)
        expected = float(gaussian_w2(torch.tensor([m1], dtype=_F64), c1, torch.tensor([m2], dtype=_F64), c2))
        if not math.isclose(got, expected, rel_tol=1e-8, abs_tol=1e-10):
            hint = ""
            if math.isclose(got, expected**2, rel_tol=1e-6):
                hint = " You returned W2 squared: take the square root."
            elif math.isclose(got, abs(m1 - m2), rel_tol=1e-8, abs_tol=1e-10):
                hint = " The standard deviations matter too, not only the means."
            fail(
                ex,
                f"for m1={m1:.3g}, s1={s1:.3g}, m2={m2:.3g}, s2={s2:.3g} you return {got:.6g}, "
                f"the exact W2 is {expected:.6g}.{hint} The optimal coupling of two 1-D Gaussians is "
                "the monotone map x -> m2 + (s2/s1)(x - m1).",
            )
    return passed(ex, f"your formula matches the Bures–Wasserstein distance on {len(cases)} pairs of Gaussians")


# Accepted ratio (student mean over 10 pairs) / (reference mean over 30 pairs at n = 100, 12 at n = 800).
# Measured while writing: 20,000 simulated correct students, resampled from 600 (n = 100) and 400
# (n = 800) independent distances, gave ratios between 0.63 and 1.62 (0.01% quantiles 0.64 and 1.53).
_FLOOR_BAND = (0.55, 1.8)


def _reference_floor(n: int, n_pairs: int, generator: torch.Generator) -> torch.Tensor:
    vals = []
    for _ in range(n_pairs):
        a = swiss_roll(n, generator=generator, dtype=_F64)
        b = swiss_roll(n, generator=generator, dtype=_F64)
        vals.append(sliced_wasserstein(a, b, generator=generator))
    return torch.stack(vals)


def check_noise_floor(floor_values) -> bool:
    """Exercise 00-2: ``floor_values(n, n_pairs, generator)`` returns ``(n_pairs,)`` sliced-W2 distances.

    Each value compares two *independent* Swiss-roll draws of size ``n``.  The checker draws reference
    pairs with its own code and a different generator, at n = 100 and n = 800, and asks the
    ratio of the two means to lie in ``_FLOOR_BAND``; it also asks the floor to shrink when n grows.
    """
    ex = "ex-00-2"
    n_pairs = 10
    ref_pairs = {100: 30, 800: 12}  # the reference is cheap at n = 100: more pairs, a steadier mean
    means = {}
    for n in (100, 800):
        vals = call_student(ex, floor_values, n, n_pairs, torch.Generator().manual_seed(7 + n))
        vals = as_tensor(ex, vals, name=f"floor_values({n}, {n_pairs}, generator)").to(_F64).reshape(-1)
        if vals.numel() != n_pairs:
            fail(ex, f"floor_values(n, n_pairs, generator) should return n_pairs={n_pairs} numbers, got {vals.numel()}")
        if not bool(torch.isfinite(vals).all()) or bool((vals < 0).any()):
            fail(ex, "distances must be finite and non-negative")
        if float(vals.max()) < 1e-8:
            fail(
                ex,
                "every distance is zero: the two samples of a pair are identical. Draw them one after the "
                "other from the same generator so that they are independent.",
            )
        ref = _reference_floor(n, ref_pairs[n], torch.Generator().manual_seed(100 + n))
        ratio = float(vals.mean() / ref.mean())
        if not _FLOOR_BAND[0] < ratio < _FLOOR_BAND[1]:
            fail(
                ex,
                f"at n={n} your mean distance is {float(vals.mean()):.4f}, the reference floor is "
                f"{float(ref.mean()):.4f} (ratio {ratio:.2f}; a correct answer gives a ratio between "
                f"{_FLOOR_BAND[0]} and {_FLOOR_BAND[1]}). Compare two independent draws of "
                "tp.swiss_roll(n, generator=generator) with tp.sliced_wasserstein(x, y, generator=generator), "
                "and return the distance itself, not its square.",
            )
        means[n] = float(vals.mean())
    if not means[800] < means[100]:
        fail(ex, f"the floor should shrink as n grows; got {means[100]:.4f} at n=100 and {means[800]:.4f} at n=800")
    slope = math.log(means[800] / means[100]) / math.log(8)
    return passed(
        ex,
        f"floor {means[100]:.3f} at n=100 and {means[800]:.3f} at n=800 (about n^{slope:.2f}), "
        "in agreement with the reference",
    )


def _two_component(w: float, m1: float, s1: float, m2: float, s2: float) -> GaussianMixture:
    return GaussianMixture(
        torch.tensor([w, 1 - w], dtype=_F64),
        torch.tensor([[m1], [m2]], dtype=_F64),
        torch.tensor([s1, s2], dtype=_F64),
    )


_MIX_CASES = [
    (0.5, -2.0, 0.5, 2.0, 0.5),
    (0.3, -1.0, 0.3, 1.5, 1.2),
    (0.9, 0.0, 1.0, 0.5, 0.2),
    (0.2, -3.0, 0.25, 3.0, 0.25),
]


def check_mixture_score_1d(mixture_score_1d) -> bool:
    """Exercise 00-3: ``mixture_score_1d(x, w, m1, s1, m2, s2)`` is d/dx log p(x) for ``x: (B,)``.

    p = w N(m1, s1^2) + (1 - w) N(m2, s2^2).  Compared with :meth:`GaussianMixture.score` on a grid
    that reaches far into the tails (where a naive ratio of densities underflows to 0/0), to a
    relative 1e-8: both are exact formulas in float64.
    """
    ex = "ex-00-3"
    x = torch.cat([torch.linspace(-6, 6, 121, dtype=_F64), torch.tensor([-40.0, -25.0, 25.0, 40.0], dtype=_F64)])
    for w, m1, s1, m2, s2 in _MIX_CASES:
        got = call_student(ex, mixture_score_1d, x.clone(), w, m1, s1, m2, s2)
        got = as_tensor(ex, got, name="mixture_score_1d(x, ...)")
        if got.shape != x.shape:
            fail(ex, f"for x of shape {tuple(x.shape)} return the same shape, got {tuple(got.shape)}")
        expected = _two_component(w, m1, s1, m2, s2).score(x[:, None])[:, 0]
        core = slice(0, 121)
        assert_close(
            ex,
            got[core],
            expected[core],
            rtol=1e-8,
            atol=1e-10,
            what=f"the score for (w, m1, s1, m2, s2) = {(w, m1, s1, m2, s2)}",
        )
        tail = got[121:]
        if not bool(torch.isfinite(tail).all()):
            fail(
                ex,
                "your score is NaN or inf far from the means (x = ±25, ±40): the two densities underflow "
                "to 0 and you divide 0 by 0. Work with log-densities: the responsibilities are "
                "torch.softmax of log w_k + log N(x; m_k, s_k^2) over k.",
            )
        assert_close(ex, tail, expected[121:], rtol=1e-8, atol=1e-10, what="the score in the far tails")
    return passed(ex, f"your score matches the oracle on {len(_MIX_CASES)} mixtures, tails included")


def check_diffused_mixture_score_1d(diffused_score_1d) -> bool:
    """Exercise 00-4: ``diffused_score_1d(x, t, sde, w, m1, s1, m2, s2)`` is the score of p_t at ``x: (B,)``.

    p_0 is the two-component mixture of exercise 00-3 and X follows the linear SDE ``sde``.  Compared
    with :class:`ExactScore` for VP, VE and an OU process with a non-zero centre mu, at several times,
    to a relative 1e-8.
    """
    ex = "ex-00-4"
    x = torch.linspace(-5, 5, 81, dtype=_F64)
    sdes = [VP(), VE(sigma_max=5.0), OU(theta=1.0, sigma=1.5, mu=1.0)]
    for sde in sdes:
        for t in (1e-3, 0.1, 0.5, 1.0):
            for w, m1, s1, m2, s2 in _MIX_CASES[:3]:
                got = call_student(ex, diffused_score_1d, x.clone(), t, sde, w, m1, s1, m2, s2)
                got = as_tensor(ex, got, name="diffused_score_1d(x, t, sde, ...)")
                if got.shape != x.shape:
                    fail(ex, f"for x of shape {tuple(x.shape)} return the same shape, got {tuple(got.shape)}")
                mix = _two_component(w, m1, s1, m2, s2)
                expected = ExactScore(mix, sde)(x[:, None], t)[:, 0]
                hint_mu = " (this OU process has centre mu = 1: the means move towards mu, not towards 0)"
                what = f"the score of p_t for {type(sde).__name__} at t={t:g}" + (hint_mu if sde.mu else "")
                assert_close(ex, got, expected, rtol=1e-8, atol=1e-10, what=what)
    return passed(ex, "your diffused mixture score matches ExactScore for VP, VE and OU (mu = 1) at four times")
