"""The DV -> Barlow Twins derivation (paper Section 3.4, A.3) checked on sampled views, one call per step.

Each function draws its own views from ``seed`` (so a chapter can repeat it with
:func:`~.replicate.over_seeds`) and returns what the step's claim is read from:

* :func:`cumulant_check` — S1/S2: ``K(1)`` of the cosine critic ``cos/tau`` and its expansions (Eqs. 21-23,
  Eq. 11) on the marginal pairs of one batch of aligned Gaussian views, with the S2 identity gap.
* :func:`dot_critic_check` — S3: batch estimates of ``K(1)`` for the dot critic ``z_A . z_B / s`` (Eq. 12)
  against the closed form, and the exact off-diagonal mean term.
* :func:`landscape_claims` — S5: what the two families of :func:`~.families.surrogate_landscape` say about the
  Barlow Twins form of the surrogate, one row per seed.
* :func:`variance_cases` — S4: ``Var[sum_i z_i^A z_i^B]`` under the joint and under the product of marginals
  (Eqs. 25-28) for (a) decorrelated views with a rotated cross-correlation and (b) aligned views with
  within-view correlation.

Views are standardised "representations" with a prescribed joint covariance (:func:`~.families.view_covariance`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from .. import bounds
from ..checks import check_int
from .cumulants import cumulant_study
from .dot_critic import dot_mgf_study, variance_decomposition
from .families import sample_views, view_covariance

__all__ = ["cumulant_check", "dot_critic_check", "variance_cases", "VARIANCE_CASES", "landscape_claims"]

#: The two cases of :func:`variance_cases`, in order.
VARIANCE_CASES = ("(a) decorrelated, rotated C", "(b) aligned, within-view correlated")


def _gen(seed: int, offset: int) -> torch.Generator:
    return torch.Generator().manual_seed(check_int(seed, "seed", 0) * 1000 + offset)


def cumulant_check(d: int = 8, rho: float = 0.8, n: int = 1000, taus: Sequence[float] = (2.0, 1.0, 0.5, 0.2, 0.1),
                   seed: int = 0) -> pd.DataFrame:
    """S1 and S2 on one batch of ``n`` aligned, decorrelated Gaussian view pairs (``C = rho I``).

    Returns :func:`~.cumulants.cumulant_study` of the cosines of the ``n (n - 1)`` marginal pairs (``tau, k1,
    expansion_half, expansion_one, remainder, remainder_bound, rel_err_half, rel_err_one``) plus
    ``identity_gap``: ``|TaylorDV_1(S) - TaylorDV_{1/2}(2S) / 2|`` for ``S = cos/tau`` on the batch, zero up to
    rounding (S2: dropping the 1/2 of Eq. 11 is doubling the critic and halving the loss).
    """
    cov = view_covariance(d, rho, generator=_gen(seed, 0))
    za, zb = sample_views(check_int(n, "n", 2), cov, "gaussian", _gen(seed, 1))
    cos_off = bounds.off_diagonal(bounds.cosine_scores(za, zb, 1.0))
    cum = cumulant_study(cos_off, taus)
    gaps = []
    for tau in cum.tau:
        s = bounds.cosine_scores(za, zb, float(tau))
        gaps.append(abs(float(bounds.taylor_dv(s, variance_weight=1.0))
                        - 0.5 * float(bounds.taylor_dv(2 * s, variance_weight=0.5))))
    return cum.assign(identity_gap=gaps)


def dot_critic_check(d: int = 8, rho: float = 0.8, scales: Sequence[float] = (1.0, 1.5, 2.0, 4.0),
                     batch_sizes: Sequence[int] = (250, 500, 1000, 2000), seed: int = 0) -> pd.DataFrame:
    """S3: :func:`~.dot_critic.dot_mgf_study` on ``max(batch_sizes)`` aligned, decorrelated Gaussian pairs.

    Columns ``scale, n, batch_k1, exact_k1`` (``inf`` at ``scale = 1``: ``E e^{ab} = inf`` for independent
    standard normals), ``expansion, offdiag_mean, minus_trace_c``.
    """
    cov = view_covariance(d, rho, generator=_gen(seed, 0))
    za, zb = sample_views(max(check_int(n, "batch_sizes[...]", 2) for n in batch_sizes), cov, "gaussian",
                          _gen(seed, 2))
    eye = torch.eye(d, dtype=torch.float64)
    return dot_mgf_study(za, zb, eye, eye, scales, batch_sizes)


def variance_cases(d: int = 8, rho: float = 0.8, rotation: float = 1.0, within: float = 0.3, n: int = 100_000,
                   seed: int = 0) -> pd.DataFrame:
    """S4: :func:`~.dot_critic.variance_decomposition` in the two cases of :data:`VARIANCE_CASES`.

    (a) Gaussian, decorrelated within each view, ``C = rho Q`` rotated off the diagonal by ``rotation``
    (not symmetric); (b) aligned views ``C = rho Sigma`` with within-view correlation ``within``. One row per
    case (column ``case``), the decomposition's quantities as columns; ``n`` joint pairs each.
    """
    covs = (view_covariance(d, rho, within=0.0, rotation=rotation, generator=_gen(seed, 3)),
            view_covariance(d, rho, within=within, rotation=0.0, generator=_gen(seed, 3)))
    rows = []
    for k, (case, cov) in enumerate(zip(VARIANCE_CASES, covs)):
        za, zb = sample_views(check_int(n, "n", 4), cov, "gaussian", _gen(seed, 4 + k))
        rows.append({"case": case, **variance_decomposition(za, zb, _gen(seed, 14 + k))})
    return pd.DataFrame(rows)


def landscape_claims(land: pd.DataFrame, d: int, scale: float) -> pd.DataFrame:
    """S5 read off :func:`~.families.surrogate_landscape` (stacked over seeds with a ``seed`` column, or one seed).

    One row per seed: ``mi_constant`` (the true MI does not move along either family), ``dv_below_mi``,
    ``taylor_trace_only`` (rotation family: the Taylor-DV value is exactly ``tr C / s - d / (2 s^2)``, no
    off-diagonal term), ``ends_prefer_unrotated`` (the fully rotated end has a lower exact DV value and a higher
    Barlow Twins loss than the unrotated one), ``monotone`` (the same at every step of the family),
    ``affine_slope``/``affine_resid`` (within family: least-squares fit of ``-taylor_dv`` on the Barlow Twins loss,
    and its largest absolute residual) and ``taylor_gap_max`` (largest Taylor-DV minus exact DV, within family).
    """
    d = check_int(d, "d", 1)
    frame = land if "seed" in land.columns else land.assign(seed=0)
    rows = []
    for seed, g in frame.groupby("seed", sort=False):
        rot, wit = g[g.family == "rotation"], g[g.family == "within"]
        slope, icpt = np.polyfit(wit.bt_loss, -wit.taylor_dv, 1)
        rows.append({
            "seed": seed,
            "mi_constant": bool(g.true_mi.std() < 1e-9),
            "dv_below_mi": bool((g.dv_dot <= g.true_mi + 1e-12).all()),
            "taylor_trace_only": bool(np.allclose(rot.taylor_dv, rot.sum_cii / scale - d / (2 * scale**2), atol=1e-12)),
            "ends_prefer_unrotated": bool(rot.dv_dot.iloc[-1] < rot.dv_dot.iloc[0]
                                          and rot.bt_loss.iloc[-1] > rot.bt_loss.iloc[0]),
            "monotone": bool((np.diff(rot.dv_dot) < 0).all() and (np.diff(rot.bt_loss) > 0).all()),
            "affine_slope": float(slope),
            "affine_resid": float(np.abs(slope * wit.bt_loss + icpt + wit.taylor_dv).max()),
            "taylor_gap_max": float((wit.taylor_dv - wit.dv_dot).max()),
        })
    return pd.DataFrame(rows)
