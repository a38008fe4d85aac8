"""SSL objectives as losses of two batches of representations, built on :mod:`mi_ssl.bounds`.

Every objective is ``f(za, zb, **hyper_parameters) -> scalar loss`` on ``[N, D]`` tensors, where row
``i`` of ``za`` and ``zb`` come from two views of input ``i``. Objectives are *pair* losses: which
side is detached (stop-gradient) and how the two view orders are symmetrised is decided by the
paradigm (:mod:`mi_ssl.paradigms`), as in the paper's Algorithms 1 and 2.

Losses are computed in at least float32 (bf16/fp16 inputs from autocast are upcast first).

=================  ==========================================  =================
objective          what it is                                  MI role (Table 7)
=================  ==========================================  =================
``cos_dv``         -I_cos-DV, paper Eq. 15                     explicit MI (DV)
``joint_only``     -joint term of Eq. 15 (no marginal term)    ablation
``nt_xent``        SimCLR's NT-Xent (InfoNCE over 2N views)    explicit MI
``moco_infonce``   InfoNCE of queries against momentum keys    explicit MI
``negative_cosine`` SimSiam / BYOL alignment                   MI surrogate
``barlow_twins``   Zbontar et al. 2021                         MI surrogate
``vicreg``         Bardes et al. 2022 (25 / 25 / 1)            MI surrogate
``emi``            explicit Gaussian MI of arXiv 2409.04747    explicit MI
=================  ==========================================  =================
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from . import bounds
from .checks import checking_finite

__all__ = [
    "cos_dv",
    "joint_only",
    "nt_xent",
    "moco_infonce",
    "negative_cosine",
    "barlow_twins",
    "vicreg",
    "emi",
    "gaussian_mi",
    "OBJECTIVES",
    "EXPLICIT_MI",
    "get_objective",
]


def _pair(za: torch.Tensor, zb: torch.Tensor, min_rows: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(za, torch.Tensor) or not isinstance(zb, torch.Tensor):
        raise TypeError("za and zb must be torch.Tensor")
    if za.ndim != 2 or za.shape != zb.shape:
        raise ValueError(
            f"za and zb must both be [N, D] with the same shape; got {tuple(za.shape)} and {tuple(zb.shape)}"
        )
    if za.shape[0] < min_rows:
        raise ValueError(f"this objective needs a batch of at least N={min_rows}; got N={za.shape[0]}")
    return _at_least_fp32(za), _at_least_fp32(zb)


def _at_least_fp32(z: torch.Tensor) -> torch.Tensor:
    return z.float() if z.dtype in (torch.float16, torch.bfloat16) else z


def cos_dv(za: torch.Tensor, zb: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """Loss ``-I_cos-DV`` of paper Eq. 15 with critic ``cos/tau`` (Algorithms 1-2, ``DV(.,.; tau)``).

    Symmetric in its arguments (the diagonal and the off-diagonal set of ``S`` and ``S^T`` agree).
    """
    za, zb = _pair(za, zb)
    return bounds.cos_dv_loss(za, zb, tau)


def joint_only(za: torch.Tensor, zb: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """The joint term of Eq. 15 alone, ``-mean_i cos(za_i, zb_i)/tau`` (the SDMI-NoDV ablation).

    Dropping the marginal term leaves nothing that pushes different inputs apart (Section 4.3).
    """
    za, zb = _pair(za, zb, min_rows=1)
    return -F.cosine_similarity(za, zb, dim=1).mean() / tau


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``-mean_i cos(p_i, z_i)`` (SimSiam's ``D(p, z)``; BYOL's ``2 - 2 cos`` up to constants), paper Eq. 7."""
    p, z = _pair(p, z, min_rows=1)
    return -F.cosine_similarity(p, z, dim=1).mean()


def nt_xent(za: torch.Tensor, zb: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """SimCLR's NT-Xent (Chen et al. 2020): InfoNCE over the ``2N`` views, each view's positive is
    its twin and its ``2N - 2`` negatives are all other views (itself excluded). Critic ``cos/tau``.

    Equals ``log(2N - 1) - I_InfoNCE`` of the ``2N``-way problem, in nats.
    """
    za, zb = _pair(za, zb)
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got tau={tau}")
    n = za.shape[0]
    z = F.normalize(torch.cat([za, zb]), dim=1)
    logits = z @ z.T / tau
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)


def moco_infonce(q: torch.Tensor, k: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """MoCo-v3 InfoNCE of queries ``q`` (online + predictor) against keys ``k`` (momentum encoder).

    ``L = -mean_i log softmax_j(cos(q_i, k_j)/tau)[i]``: the batch's other keys are the negatives
    (MoCo-v3 has no queue). Equals ``log N - I_InfoNCE`` (paper Eq. 20). MoCo-v3's reference code
    multiplies this by ``2 tau``; we report the loss in nats and leave scaling to the learning rate.
    """
    q, k = _pair(q, k)
    return math.log(q.shape[0]) - bounds.infonce(bounds.cosine_scores(q, k, tau))


def barlow_twins(za: torch.Tensor, zb: torch.Tensor, lambd: float = 5.1e-3, eps: float = 1e-5) -> torch.Tensor:
    """Barlow Twins (Zbontar et al. 2021): ``sum_i (1 - C_ii)^2 + lambd sum_{i != j} C_ij^2``.

    ``C = za_n^T zb_n / N`` is the cross-correlation of the batch-standardised features (zero mean,
    unit variance per dimension, biased variance), ``[D, D]``. Paper Section 3.4 / Eq. 13 derives
    this form from the Taylor-DV surrogate.
    """
    za, zb = _pair(za, zb)
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
    (unbiased covariance, as the reference implementation).
    """
    za, zb = _pair(za, zb)
    n, d = za.shape
    inv = F.mse_loss(za, zb)

    def hinge(z: torch.Tensor) -> torch.Tensor:
        return F.relu(1 - torch.sqrt(z.var(0) + eps)).mean()

    def cov(z: torch.Tensor) -> torch.Tensor:
        z = z - z.mean(0)
        c = z.T @ z / (n - 1)
        return (c.pow(2).sum() - torch.diagonal(c).pow(2).sum()) / d

    return sim_weight * inv + var_weight * (hinge(za) + hinge(zb)) / 2 + cov_weight * (cov(za) + cov(zb))


def _logdet_spd(c: torch.Tensor) -> torch.Tensor:
    """``log det`` of a symmetric positive-definite matrix through its Cholesky factor.

    Where the factorisation fails the result is NaN. With the finiteness checks on
    (:func:`mi_ssl.checking_finite`) a failure raises instead, saying whether the covariance had
    non-finite entries (diverged embeddings) or was not positive definite; inside :func:`~mi_ssl.training.fit`
    they are off (no host synchronisation per step) and the NaN loss stops the run with its own message.
    """
    chol, info = torch.linalg.cholesky_ex(c)
    if checking_finite():
        if not bool(torch.isfinite(c).all()):
            raise ValueError("the covariance has non-finite entries: the embeddings are NaN or inf "
                             "(training diverged? lower the learning rate)")
        if bool((info != 0).any()):
            raise ValueError("covariance is not positive definite even with the ridge; raise eps")
    logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    return torch.where(info == 0, logdet, torch.full_like(logdet, math.nan))


def gaussian_mi(za: torch.Tensor, zb: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Gaussian (second-moment) MI of a batch, in nats (EMI, arXiv 2409.04747):

    ``I = 1/2 log( det C_A det C_B / det C_[A;B] )`` with batch covariances ``C_A``, ``C_B`` (``[D, D]``)
    and ``C_[A;B]`` (``[2D, 2D]``), each plus ``eps * I`` (ridge), log-determinants by Cholesky in float64.
    Exact for jointly Gaussian data; invariant under invertible linear maps of either view.
    """
    za, zb = _pair(za, zb)
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    n, d = za.shape
    z = torch.cat([za, zb], dim=1)
    # float64 for the covariances and Cholesky factors (2D x 2D: cheap): with N <= 2D the joint covariance is
    # singular but for the ridge, which float32 cannot always resolve.
    z = z.double()
    z = z - z.mean(0)
    c = z.T @ z / (n - 1) + eps * torch.eye(2 * d, device=z.device, dtype=z.dtype)
    mi = 0.5 * (_logdet_spd(c[:d, :d]) + _logdet_spd(c[d:, d:]) - _logdet_spd(c))
    return mi.to(za.dtype)


def emi(za: torch.Tensor, zb: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Explicit-MI objective (EMI, arXiv 2409.04747): the loss ``-gaussian_mi(za, zb, eps)``."""
    return -gaussian_mi(za, zb, eps)


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
