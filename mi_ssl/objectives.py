"""SSL objectives as losses of two batches of representations, built on :mod:`mi_ssl.bounds`.

Every objective is ``f(za, zb, **hyper_parameters) -> scalar loss`` on ``[N, D]`` tensors, where row
``i`` of ``za`` and ``zb`` come from two views of input ``i``. Objectives are *pair* losses: which
side is detached (stop-gradient) and how the two view orders are symmetrised is decided by the
paradigm (:mod:`mi_ssl.paradigms`), as in the paper's Algorithms 1 and 2.

Losses are computed in at least float32 (bf16/fp16 inputs from autocast are upcast first). A loss is
``-I`` or a surrogate; the MI *estimates* (``+I``) they negate live in :mod:`mi_ssl.bounds` under other
names (``cos_dv`` here is ``-bounds.cos_dv_estimate``, ``emi`` is ``-bounds.logdet_mi_estimate``). Bad input
(wrong shapes, integer tensors, ``tau <= 0``, negative or non-finite weights) raises one error naming
the parameter (:mod:`mi_ssl.checks`).

===================  ========================================  =================
objective            what it is                                MI role (Table 7)
===================  ========================================  =================
``cos_dv``           -I_cos-DV, paper Eq. 15                   explicit MI (DV)
``joint_only``       -joint term of Eq. 15 (no marginal term)  ablation
``nt_xent``          SimCLR's NT-Xent (InfoNCE over 2N views)  explicit MI
``moco_infonce``     InfoNCE of queries against momentum keys  explicit MI
``negative_cosine``  SimSiam / BYOL alignment                  MI surrogate
``barlow_twins``     Zbontar et al. 2021                       MI surrogate
``vicreg``           Bardes et al. 2022 (25 / 25 / 1)          MI surrogate
``emi``              explicit Gaussian MI of arXiv 2409.04747  explicit MI
===================  ========================================  =================
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from . import bounds
from .checks import check_pair, check_real

__all__ = [
    "cos_dv",
    "joint_only",
    "nt_xent",
    "moco_infonce",
    "negative_cosine",
    "barlow_twins",
    "vicreg",
    "emi",
    "OBJECTIVES",
    "EXPLICIT_MI",
    "get_objective",
]


def _inputs(za: object, zb: object, names: tuple[str, str] = ("za", "zb"), min_rows: int = 2
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Checked ``[N, D]`` floating pair (:func:`mi_ssl.checks.check_pair`), half precision upcast to float32."""
    za, zb = check_pair(za, zb, min_rows=min_rows, names=names)
    return bounds.at_least_float32(za), bounds.at_least_float32(zb)


def cos_dv(za: torch.Tensor, zb: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """Loss ``-I_cos-DV`` of paper Eq. 15 with critic ``cos/tau`` (Algorithms 1-2, ``DV(.,.; tau)``), in nats.

    ``za, zb``: ``[N, D]``, ``N >= 2``; ``tau > 0``. The negative of :func:`mi_ssl.bounds.cos_dv_estimate`
    (whose ``N x N`` kernel never builds an autograd graph over the score matrix); range ``[-2/tau, 2/tau]``.
    Symmetric in its arguments (the diagonal and the off-diagonal set of ``S`` and ``S^T`` agree).
    """
    return -bounds.cos_dv_estimate(za, zb, tau)  # checks za, zb, tau and upcasts half precision


def joint_only(za: torch.Tensor, zb: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """The joint term of Eq. 15 alone, ``-mean_i cos(za_i, zb_i)/tau`` (the SDMI-NoDV ablation). ``[N, D]``, ``N >= 1``.

    Dropping the marginal term leaves nothing that pushes different inputs apart (Section 4.3).
    """
    za, zb = _inputs(za, zb, min_rows=1)
    tau = check_real(tau, "tau", positive=True)
    return -F.cosine_similarity(za, zb, dim=1).mean() / tau


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``-mean_i cos(p_i, z_i)`` (SimSiam's ``D(p, z)``; BYOL's ``2 - 2 cos`` up to a constant and the factor its
    registry row applies), paper Eq. 7.

    ``p, z``: ``[N, D]``, ``N >= 1``; range ``[-1, 1]``.
    """
    p, z = _inputs(p, z, names=("p", "z"), min_rows=1)
    return -F.cosine_similarity(p, z, dim=1).mean()


def nt_xent(za: torch.Tensor, zb: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """SimCLR's NT-Xent (Chen et al. 2020): InfoNCE over the ``2N`` views, each view's positive is
    its twin and its ``2N - 2`` negatives are all other views (itself excluded). Critic ``cos/tau``.

    ``za, zb``: ``[N, D]``, ``N >= 2``; ``tau > 0``. Equals ``log(2N - 1) - I_InfoNCE`` of the
    ``2N``-way problem (Eq. 20 with ``2N - 1`` candidates), in nats: at least ``0`` minus the
    InfoNCE ceiling ``log(2N - 1)``. Computed by :func:`mi_ssl.bounds.sym_row_logsumexp` of ``z z^T/tau``
    with the self-pairs dropped (each mirrored pair of views scored once).
    """
    za, zb = _inputs(za, zb)
    tau = check_real(tau, "tau", positive=True)
    z = torch.cat([za, zb])
    a, b, shift = bounds.cosine_factors(z, z, tau)
    n = za.shape[0]
    positive = (a[:n] * b[n:]).sum(dim=1)             # cos(za_i, zb_i) / tau, the twin of both views
    negatives = bounds.sym_row_logsumexp(b, 1.0 / tau, exclude_diagonal=True, shift=shift)
    return negatives.mean() - positive.mean()


def moco_infonce(q: torch.Tensor, k: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """MoCo-v3 InfoNCE of queries ``q`` (online + predictor) against keys ``k`` (momentum encoder).

    ``q, k``: ``[N, D]``, ``N >= 2``; ``tau > 0``.
    ``L = -mean_i log softmax_j(cos(q_i, k_j)/tau)[i]``: the batch's other keys are the negatives
    (MoCo-v3 has no queue). Equals ``log N - I_InfoNCE`` (paper Eq. 20,
    :func:`mi_ssl.bounds.cos_infonce_estimate`), in ``[0, log N + 2/tau]``. MoCo-v3's reference code
    multiplies this by ``2 tau`` per view order and sums the two orders; this function stays in nats and the
    registry's loss scale (``4 tau`` on the symmetrised loss, :attr:`mi_ssl.methods.Method.loss_scale`) is applied
    by the learner.
    """
    q, k = _inputs(q, k, names=("q", "k"))
    return math.log(q.shape[0]) - bounds.cos_infonce_estimate(q, k, tau)


def barlow_twins(za: torch.Tensor, zb: torch.Tensor, lambd: float = 5.1e-3, eps: float = 1e-5) -> torch.Tensor:
    """Barlow Twins (Zbontar et al. 2021): ``sum_i (1 - C_ii)^2 + lambd sum_{i != j} C_ij^2``.

    ``C = za_n^T zb_n / N`` is the cross-correlation of the batch-standardised features (zero mean,
    unit variance per dimension, biased variance, ``eps`` added to the standard deviation), ``[D, D]``.
    ``za, zb``: ``[N, D]``, ``N >= 2``; ``lambd >= 0``, ``eps >= 0``. Paper Section 3.4 / Eq. 13 derives
    this form from the Taylor-DV surrogate.
    """
    za, zb = _inputs(za, zb)
    lambd = check_real(lambd, "lambd", nonneg=True)
    eps = check_real(eps, "eps", nonneg=True)
    n = za.shape[0]
    za = (za - za.mean(0)) / (za.std(0, unbiased=False) + eps)
    zb = (zb - zb.mean(0)) / (zb.std(0, unbiased=False) + eps)
    c = za.T @ zb / n
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
    return on + lambd * off


def vicreg(
    za: torch.Tensor,
    zb: torch.Tensor,
    sim_weight: float = 25.0,
    var_weight: float = 25.0,
    cov_weight: float = 1.0,
    eps: float = 1e-4,
) -> torch.Tensor:
    """VICReg (Bardes et al. 2022) with the paper's coefficients 25 / 25 / 1 and ``eps = 1e-4`` (Table 5 note).

    ``sim * MSE(za, zb) + var * [hinge(za) + hinge(zb)] / 2 + cov * [c(za) + c(zb)]``, where
    ``hinge(z) = mean_d relu(1 - sqrt(Var z_d + eps))`` and ``c(z) = sum_{i != j} Cov(z)_ij^2 / D``
    (unbiased covariance, as the reference implementation). ``za, zb``: ``[N, D]``, ``N >= 2``; every
    weight and ``eps`` ``>= 0``.
    """
    za, zb = _inputs(za, zb)
    sim_weight = check_real(sim_weight, "sim_weight", nonneg=True)
    var_weight = check_real(var_weight, "var_weight", nonneg=True)
    cov_weight = check_real(cov_weight, "cov_weight", nonneg=True)
    eps = check_real(eps, "eps", nonneg=True)
    n, d = za.shape
    inv = F.mse_loss(za, zb)

    def hinge(z: torch.Tensor) -> torch.Tensor:
        return F.relu(1 - torch.sqrt(z.var(0) + eps)).mean()

    def cov(z: torch.Tensor) -> torch.Tensor:
        z = z - z.mean(0)
        c = z.T @ z / (n - 1)
        return (c.pow(2).sum() - torch.diagonal(c).pow(2).sum()) / d

    return sim_weight * inv + var_weight * (hinge(za) + hinge(zb)) / 2 + cov_weight * (cov(za) + cov(zb))


def emi(za: torch.Tensor, zb: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Explicit-MI objective (EMI, arXiv 2409.04747): the loss ``-logdet_mi_estimate(za, zb, eps)``.

    ``za, zb``: ``[N, D]``, ``N >= 2``; ridge ``eps >= 0`` (:func:`mi_ssl.bounds.logdet_mi_estimate`).
    """
    za, zb = _inputs(za, zb)
    return -bounds.logdet_mi_estimate(za, zb, eps)


#: name -> pair loss. The registry (:mod:`mi_ssl.methods`) refers to objectives by these names.
OBJECTIVES: dict[str, Callable[..., torch.Tensor]] = {
    "cos_dv": cos_dv,
    "joint_only": joint_only,
    "nt_xent": nt_xent,
    "moco_infonce": moco_infonce,
    "negative_cosine": negative_cosine,
    "barlow_twins": barlow_twins,
    "vicreg": vicreg,
    "emi": emi,
}

#: objectives that are (batch estimates of) an explicit MI bound rather than a surrogate (Table 7).
EXPLICIT_MI = frozenset({"cos_dv", "nt_xent", "moco_infonce", "emi"})

# Objectives with l(za, zb) == l(zb, za) exactly (cos-DV: same diagonal and off-diagonal set; NT-Xent: both views
# are anchors; BT: C -> C^T; VICReg, EMI, cosines: symmetric by construction). MoCo's InfoNCE is row-wise: not.
for _fn in (cos_dv, joint_only, negative_cosine, nt_xent, barlow_twins, vicreg, emi):
    _fn.symmetric = True  # type: ignore[attr-defined]


def get_objective(name: str) -> Callable[..., torch.Tensor]:
    """Look up an objective by name; unknown names raise ``ValueError`` listing the allowed ones."""
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise ValueError(f"unknown objective {name!r}; allowed: {', '.join(sorted(OBJECTIVES))}") from None
