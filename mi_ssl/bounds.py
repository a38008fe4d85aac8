"""Critics and variational lower bounds on mutual information, evaluated on a score matrix.

Convention used everywhere in :mod:`mi_ssl`: a *score matrix* ``S`` of shape ``[N, N]`` holds the
critic ``T(z_A^(i), z_B^(j))`` for every pair of a batch. Its **diagonal** holds the ``N`` *joint
pairs* (two views of the same input, samples of ``p(z_A, z_B)``); its **off-diagonal** holds the
``N(N-1)`` *marginal pairs* (views of different inputs, samples of ``p(z_A) p(z_B)``).

Every bound is "joint term minus marginal term" (paper Eq. 1, Section A.2) and is returned in
**nats**. Each docstring states what the estimate lower-bounds and its ceiling.

Bad input (non-tensors, wrong rank, mismatched shapes, ``N < 2``, non-finite values, ``tau <= 0``)
raises ``ValueError``/``TypeError`` naming the argument (:mod:`mi_ssl.checks`). The finiteness check
needs a device sync; hot training loops switch it off with :func:`mi_ssl.checks.finite_checks`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .checks import check_pair as _check_pair
from .checks import check_real
from .checks import check_scores as _check_scores

__all__ = [
    "off_diagonal",
    "cosine_scores",
    "dot_scores",
    "joint_term",
    "dv_marginal_term",
    "dv",
    "nwj",
    "infonce",
    "jsd",
    "jsd_divergence",
    "taylor_dv",
    "cos_dv",
    "cos_dv_loss",
    "estimate_all",
]

def _check_tau(tau: object) -> float:
    return check_real(tau, "tau", positive=True)


def off_diagonal(s: torch.Tensor) -> torch.Tensor:
    """The ``N(N-1)`` off-diagonal entries of ``[N, N]`` as a flat vector (row-major order)."""
    n = s.shape[0]
    return s.flatten()[1:].view(n - 1, n + 1)[:, :-1].flatten()


# --------------------------------------------------------------------------- critics
def cosine_scores(za: torch.Tensor, zb: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """Cosine critic divided by a temperature: ``S_ij = cos(za_i, zb_j) / tau``.

    Args:
        za, zb: ``[N, D]`` representations of view A and view B (row ``i`` of both comes from input ``i``).
        tau: temperature ``> 0``; ``tau = 1`` is the plain cosine critic ``T_cos`` of paper Eq. 14.

    Returns:
        ``[N, N]`` score matrix, entries in ``[-1/tau, 1/tau]``.
    """
    za, zb = _check_pair(za, zb)
    tau = _check_tau(tau)
    return F.normalize(za, dim=1) @ F.normalize(zb, dim=1).T / tau


def dot_scores(za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """Dot-product critic ``S_ij = za_i . zb_j`` (paper Eq. 12, the Barlow Twins critic). ``[N, N]``."""
    za, zb = _check_pair(za, zb)
    return za @ zb.T


# --------------------------------------------------------------------------- bounds
# Public functions validate their input once, then use these unchecked helpers.
def _joint(s: torch.Tensor) -> torch.Tensor:
    return torch.diagonal(s).mean()


def _dv_marginal(s: torch.Tensor) -> torch.Tensor:
    n = s.shape[0]
    return torch.logsumexp(off_diagonal(s), dim=0) - math.log(n * (n - 1))


def _dv(s: torch.Tensor) -> torch.Tensor:
    return _joint(s) - _dv_marginal(s)


def _infonce(s: torch.Tensor) -> torch.Tensor:
    return (torch.diagonal(s) - torch.logsumexp(s, dim=1)).mean() + math.log(s.shape[0])


def _jsd(s: torch.Tensor) -> torch.Tensor:
    return -F.softplus(-torch.diagonal(s)).mean() - F.softplus(off_diagonal(s)).mean()


def joint_term(scores: torch.Tensor) -> torch.Tensor:
    """Joint term ``E_{p(z_A, z_B)}[T]`` estimated by the mean of the diagonal. Scalar."""
    return _joint(_check_scores(scores))


def dv_marginal_term(scores: torch.Tensor) -> torch.Tensor:
    """DV marginal term ``log E_{p(z_A)p(z_B)}[e^T]`` over the ``N(N-1)`` off-diagonal pairs (Eq. 15).

    Computed as ``logsumexp(off-diagonal) - log(N(N-1))`` so it is stable for large scores.
    """
    return _dv_marginal(_check_scores(scores))


def dv(scores: torch.Tensor) -> torch.Tensor:
    """Donsker–Varadhan bound (paper Eq. 1) with the batch estimate of Eq. 15, in nats.

    ``I_DV = mean_i S_ii - log( 1/(N(N-1)) sum_{i != j} exp S_ij )``.

    In the population, lower-bounds ``I(Z_A; Z_B)`` for every fixed critic. The *batch* estimate is
    biased upwards (Jensen: ``E[-log mean] >= -log E[mean]``): small for bounded critics and MI well
    below ``log N``, but for a sharp critic and MI above ``log N`` a typical batch misses the rare
    marginal pairs that dominate ``E[e^T]`` and the estimate can exceed the true MI (book chapter 01).
    Ceiling: none in general; for a critic bounded in ``[a, b]`` it is at most ``b - a`` (``2/tau``
    for the cosine critic).
    """
    return _dv(_check_scores(scores))


def nwj(scores: torch.Tensor) -> torch.Tensor:
    """NWJ / f-divergence (KL) bound of Nguyen, Wainwright & Jordan (2010), in nats.

    ``I_NWJ = mean_i S_ii - e^{-1} mean_{i != j} exp S_ij``.

    Lower-bounds ``I(Z_A; Z_B)`` for every critic (unbiased batch estimate); it is never above the
    DV value of the same critic (``log u <= u/e``). Tight at ``T* = 1 + log p(z_A,z_B)/(p(z_A)p(z_B))``.
    """
    s = _check_scores(scores)
    return _joint(s) - torch.exp(off_diagonal(s) - 1.0).mean()


def infonce(scores: torch.Tensor) -> torch.Tensor:
    """InfoNCE bound (paper Eq. 20; Oord et al. 2018, Poole et al. 2019), in nats.

    ``I_NCE = mean_i [ S_ii - log sum_j exp S_ij ] + log N`` where the inner sum runs over the whole
    row (the positive and the ``N - 1`` negatives).

    Lower-bounds ``I(Z_A; Z_B)``; **ceiling** ``log N``: it can never exceed ``log N`` whatever the
    critic, so it saturates when the true MI is larger than ``log N``.
    """
    return _infonce(_check_scores(scores))


def jsd(scores: torch.Tensor) -> torch.Tensor:
    """Jensen–Shannon objective of paper Section A.2.2 (Hjelm et al. 2019), in nats.

    ``I_JSD = mean_i[-softplus(-S_ii)] - mean_{i != j}[softplus(S_ij)]``.

    **This is the f-GAN objective, reported as is** (as the paper plots it): it lower-bounds
    ``2 * JSD(p(z_A,z_B) || p(z_A)p(z_B)) - 2 log 2``, *not* the mutual information. Its ceiling is
    ``0`` (reached when joint and product of marginals do not overlap) and it equals ``-2 log 2``
    for a critic that cannot tell them apart (``T = 0``). Use :func:`jsd_divergence` for the
    divergence itself.
    """
    return _jsd(_check_scores(scores))


def jsd_divergence(scores: torch.Tensor) -> torch.Tensor:
    """Lower bound on ``JSD(p(z_A,z_B) || p(z_A)p(z_B))`` in nats, in ``[0, log 2]``: ``(I_JSD + 2 log 2)/2``.

    ``scores``: ``[N, N]``.
    """
    return 0.5 * (jsd(scores) + 2.0 * math.log(2.0))


def taylor_dv(scores: torch.Tensor, variance_weight: float = 0.5) -> torch.Tensor:
    """Second-order (cumulant) Taylor surrogate of the DV bound (paper Eqs. 11, 23, 24), in nats.

    ``I_Taylor-DV = mean_i S_ii - ( mean_{i != j} S_ij + w * Var_{i != j} S_ij )``.

    ``variance_weight=0.5`` is the exact second-order expansion ``log E e^T ~ E T + Var T / 2`` of
    Eq. 24; ``variance_weight=1.0`` is Eq. 11, where the paper drops the 1/2 (footnote 1). The
    surrogate is *not* a bound: its error is the cumulant remainder ``R_2`` of Eq. 22.
    """
    if (
        isinstance(variance_weight, bool)
        or not isinstance(variance_weight, (int, float))
        or not math.isfinite(variance_weight)
        or variance_weight < 0
    ):
        raise ValueError(f"variance_weight must be a number >= 0, got {variance_weight!r}")
    s = _check_scores(scores)
    off = off_diagonal(s)
    return _joint(s) - (off.mean() + variance_weight * off.var(unbiased=False))


def cos_dv(za: torch.Tensor, zb: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """``I_cos-DV`` (paper Eq. 14) of a batch: :func:`dv` on :func:`cosine_scores`.

    ``za, zb``: ``[N, D]``. Nats; ceiling ``2/tau``.
    """
    return dv(cosine_scores(za, zb, tau))


def cos_dv_loss(za: torch.Tensor, zb: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """The batchwise cos-DV training loss of paper Eq. 15 (with the critic ``cos/tau`` of Algorithm 1).

    ``L = -[ 1/N sum_i T(za_i, zb_i) - log( 1/(N(N-1)) sum_{i != j} exp T(za_i, zb_j) ) ]``,
    ``T = cos / tau``. Joint term = mean of the diagonal; marginal term = log of the mean of ``exp``
    over the ``N(N-1)`` off-diagonal pairs, computed with ``logsumexp``. ``tau=1`` is Eq. 15 exactly.

    Args:
        za, zb: ``[N, D]``; gradients flow into whichever is not detached (stop-gradient is the
            caller's choice, see :mod:`mi_ssl.paradigms`).
    Returns:
        scalar loss (nats), ``= -I_cos-DV``.
    """
    return -cos_dv(za, zb, tau)


@torch.no_grad()
def estimate_all(za: torch.Tensor, zb: torch.Tensor, tau: float = 1.0) -> dict[str, float]:
    """The three MI estimates the paper tracks (Section 4.2), on the cosine critic ``cos/tau``.

    Returns ``{"mi_cos_dv", "mi_infonce", "mi_jsd"}`` in nats (``mi_jsd`` is the f-GAN objective of
    :func:`jsd`). ``za, zb``: ``[N, D]``.
    """
    za, zb = _check_pair(za, zb)
    s = cosine_scores(za.float(), zb.float(), tau)
    return {"mi_cos_dv": float(_dv(s)), "mi_infonce": float(_infonce(s)), "mi_jsd": float(_jsd(s))}
