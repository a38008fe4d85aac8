"""The cumulant expansion of the DV marginal term (paper Section 3.4 and A.3, Eqs. 11, 21-23).

``K(s) = log E[e^{sT}]`` is the cumulant generating function of a critic ``T``; the DV marginal term is
``K(1)`` under the product of marginals. Its second-order expansion ``E[T] + Var[T] / 2`` (Eq. 23) is
what turns DV into Taylor-DV (Eq. 24) and, for the dot critic, into Barlow Twins (Eq. 13). This module
measures ``K(s)``, the expansion, its remainder ``R_2`` (Eq. 22) and an explicit bound on it for bounded
critics, and tabulates them over temperatures (:func:`cumulant_study`).

Samples ``t`` of ``T`` are any-shape tensors (flattened, equal weights); values in nats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch

from ..checks import check_real, check_tensor

__all__ = [
    "log_mgf",
    "cumulant_expansion",
    "cumulant_remainder",
    "remainder_bound",
    "cumulant_study",
]


def _samples(t: object, name: str = "t") -> torch.Tensor:
    """``t`` flattened to ``[n]``, ``n >= 2``."""
    t = check_tensor(t, name).reshape(-1)
    if t.numel() < 2:
        raise ValueError(f"{name} needs at least 2 samples, got {t.numel()}")
    return t


def log_mgf(t: torch.Tensor, s: float = 1.0) -> torch.Tensor:
    """Empirical cumulant generating function ``K(s) = log E[e^{sT}]`` (paper Eq. 21), in nats.

    ``t``: samples of ``T`` (any shape, flattened; equal weights). ``K(1)`` is the DV marginal term when
    ``t`` holds scores of marginal pairs. Computed with ``logsumexp``. Scalar tensor.
    """
    t = _samples(t)
    s = check_real(s, "s")
    return torch.logsumexp(s * t, 0) - math.log(t.numel())


def cumulant_expansion(t: torch.Tensor, s: float = 1.0, variance_weight: float = 0.5) -> torch.Tensor:
    """Second-order expansion of ``K(s)``: ``s E[T] + w s^2 Var[T]`` (paper Eqs. 22-23; ``w = 1/2``).

    ``variance_weight=1.0`` is the paper's Eq. 11, which drops the ``1/2`` (footnote 1). ``Var`` is the
    biased (``1/n``) sample variance, so that for a two-point sample the expansion is exact to order 2.
    Scalar tensor.
    """
    t = _samples(t)
    s = check_real(s, "s")
    w = check_real(variance_weight, "variance_weight", nonneg=True)
    return s * t.mean() + w * s * s * t.var(unbiased=False)


def cumulant_remainder(t: torch.Tensor, s: float = 1.0) -> torch.Tensor:
    """Remainder ``R_2(s) = K(s) - s kappa_1 - s^2 kappa_2 / 2`` of the expansion (paper Eq. 22), in nats.

    Zero for Gaussian ``T``; for ``T`` in ``[a, b]`` bounded by :func:`remainder_bound`. Scalar tensor.
    """
    return log_mgf(t, s) - cumulant_expansion(t, s, 0.5)


def remainder_bound(a: float, b: float) -> float:
    """Bound ``(b - a)^3 / 24`` on ``|R_2(1)|`` for any critic with values in ``[a, b]`` (paper Eq. 22 ff.).

    ``R_2(1) = K'''(s*) / 6`` and ``K'''(s)`` is the third central moment of ``T`` under the tilted
    law ``p_s ∝ e^{sT} p``, which lives on ``[a, b]`` too. With ``L = b - a``:
    ``|E(T - mu)^3| <= max|T - mu| * Var(T) <= L * L^2/4`` (Popoviciu), so ``|R_2(1)| <= L^3 / 24``.
    The paper states ``O(1)``; this makes the constant explicit (``L = 2/tau`` for ``cos/tau``).
    """
    a = check_real(a, "a")
    b = check_real(b, "b")
    if b < a:
        raise ValueError(f"need a <= b, got a={a}, b={b}")
    return (b - a) ** 3 / 24.0


def cumulant_study(t: torch.Tensor, taus: Sequence[float], lo: float = -1.0, hi: float = 1.0) -> pd.DataFrame:
    """Second-order cumulant expansion of the DV marginal term for the critics ``T = t / tau`` (Eqs. 21-23).

    ``t``: samples of a base critic under the product of marginals (e.g. the off-diagonal cosines of a
    batch), with values in ``[lo, hi]``. One row per ``tau``: ``k1 = K(1)`` (exact, empirical), the
    expansions with weight ``1/2`` (Eq. 23) and ``1`` (Eq. 11), the remainder ``R_2(1)``, the bound
    :func:`remainder_bound` on ``[lo/tau, hi/tau]`` and the relative errors of both expansions.
    """
    t = _samples(t)
    lo, hi = check_real(lo, "lo"), check_real(hi, "hi")
    rows = []
    for tau in taus:
        tau = check_real(tau, "taus[...]", positive=True)
        tt = t / tau
        k1 = float(log_mgf(tt))
        half = float(cumulant_expansion(tt, 1.0, 0.5))
        one = float(cumulant_expansion(tt, 1.0, 1.0))
        rows.append({
            "tau": tau, "k1": k1, "expansion_half": half, "expansion_one": one, "remainder": k1 - half,
            "remainder_bound": remainder_bound(lo / tau, hi / tau),
            "rel_err_half": abs(half - k1) / abs(k1), "rel_err_one": abs(one - k1) / abs(k1),
        })
    return pd.DataFrame(rows)
