"""Noise-term bounds of the convergence proofs for the VP SDE, in the form printed and corrected.

Tang & Zhao 2024, eqs. (6.7)–(6.8) and the proof of Thm 6.6; Claustre 2025, Cor. 5.5 (App. B.2, B.4).  Each
bound takes ``as_printed=True`` to return the paper's printed form, ``False`` (the default) for the corrected
one, next to the exact per-point KL and W2 they start from.  The convergence chapter uses the corrected forms.

Conventions: ``B`` is the integrated schedule B(T) = int_0^T beta (``VP.beta_integral``), ``dim`` the
dimension d, ``second_moment`` is E|X_0|^2 (summed over coordinates).  Scalars may be floats or tensors of any
common shape; results are tensors (float64 for float input).
"""

from __future__ import annotations

import torch

from .forward import _t

__all__ = [
    "vp_kernel_kl",
    "vp_kernel_w2_sq",
    "vp_noise_kl_bound",
    "vp_noise_tv_bound",
    "vp_noise_w2_sq_bound",
]


def vp_kernel_kl(x0_sq_norm, dim: int, B) -> torch.Tensor:
    """KL( N(e^{-B/2} x0, (1 - e^{-B}) I) || N(0, I) ) = 1/2 [x |x0|^2 - d (x + log(1 - x))], x = e^{-B}.

    Tang & Zhao eq. (6.8) with the factor 1/2 restored; Claustre App. B.2.  Note that
    -(x + log(1 - x)) >= 0: the dimension term is never negative.
    """
    sq, B = _t(x0_sq_norm, B)
    x = torch.exp(-B)
    return 0.5 * (x * sq + dim * (-x - torch.log1p(-x)))


def vp_kernel_w2_sq(x0_sq_norm, dim: int, B) -> torch.Tensor:
    """W2^2( N(e^{-B/2} x0, (1 - e^{-B}) I), N(0, I) ) = x |x0|^2 + d (1 - sqrt(1 - x))^2, x = e^{-B}.

    (Claustre App. B.4, Lemma B.6 applied to the VP kernel.)
    """
    sq, B = _t(x0_sq_norm, B)
    x = torch.exp(-B)
    gap = x / (1 + torch.sqrt(1 - x))  # = 1 - sqrt(1 - x), without cancellation
    return x * sq + dim * gap**2


def vp_noise_kl_bound(second_moment, dim: int, B, *, as_printed: bool = False) -> torch.Tensor:
    """Upper bound on KL(p_T || N(0, I)) for the VP SDE (Claustre Cor. 5.5, proof in App. B.2).

    Convexity of KL gives KL(p_T || N(0,I)) <= E[vp_kernel_kl(|X_0|^2, d, B)], i.e. the corrected bound

        1/2 e^{-B} E|X_0|^2 + d/2 (-e^{-B} - log(1 - e^{-B}))            (as_printed=False).

    The report drops the second term, claiming x + log(1 - x) >= 0 near 0; in fact it is <= 0, and
    ``as_printed=True`` returns the printed 1/2 e^{-B} E|X_0|^2, which fails when E|X_0|^2 is small
    compared with d e^{-B} (Claustre 2025, Cor. 5.5, corrected).
    """
    m2, B = _t(second_moment, B)
    x = torch.exp(-B)
    printed = 0.5 * x * m2
    return printed if as_printed else printed + 0.5 * dim * (-x - torch.log1p(-x))


def vp_noise_tv_bound(second_moment, dim: int, B, *, as_printed: bool = False) -> torch.Tensor:
    """Upper bound on TV(p_T, N(0, I)) for VP: Pinsker, TV <= sqrt(KL / 2), on :func:`vp_noise_kl_bound`.

    ``as_printed=True`` gives Claustre's first term of Cor. 5.5, e^{-B/2} sqrt(E|X_0|^2 / 2), which
    inherits the error of the KL step (it is 0 for data at the origin, where TV > 0).
    """
    if as_printed:
        m2, B = _t(second_moment, B)
        return torch.exp(-B / 2) * torch.sqrt(m2 / 2)
    return torch.sqrt(vp_noise_kl_bound(second_moment, dim, B) / 2)


def vp_noise_w2_sq_bound(second_moment, dim: int, B, *, as_printed: bool = False) -> torch.Tensor:
    """Upper bound on W2^2(p_T, N(0, I)) for VP (proof of Tang & Zhao Thm 6.6; Claustre App. B.4).

    Convexity of W2^2 under mixtures gives W2^2 <= E[vp_kernel_w2_sq(|X_0|^2, d, B)]:

        e^{-B} E|X_0|^2 + d (1 - sqrt(1 - e^{-B}))^2                       (as_printed=False),

    and (1 - sqrt(1 - x))^2 <= x^2 gives the simpler e^{-B} E|X_0|^2 + d e^{-2B}.  Tang & Zhao print
    e^{-B} E|X_0|^2 + (d/4) e^{-2B} (``as_printed=True``); but 1 - sqrt(1 - x) >= x / 2, so that is
    *below* the exact value for data at the origin: the d/4 is only the leading order.
    """
    m2, B = _t(second_moment, B)
    x = torch.exp(-B)
    if as_printed:
        return x * m2 + dim / 4 * x**2
    gap = x / (1 + torch.sqrt(1 - x))
    return x * m2 + dim * gap**2
