"""Statistics of one batch of view pairs ``(z_A, z_B)``, ``[N, d]`` each (paper Section 3.4 and A.3).

Barlow Twins works on batch-standardised features and their cross-correlation ``C`` (Eq. 13); the variance
analysis of Eqs. 25-28 needs the covariance of the per-coordinate products ``X_i = z_i^A z_i^B`` under the
joint (rows as given) and under the product of marginals (rows re-paired by a derangement). Plus the excess
kurtosis that tells how far a batch is from Gaussian.
"""

from __future__ import annotations

import torch

from ..checks import check_int, check_pair, check_real, check_tensor

__all__ = [
    "standardise",
    "cross_covariance",
    "derangement",
    "marginal_pairs",
    "product_feature_covariance",
    "excess_kurtosis",
]


def standardise(z: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Batch-standardise the columns of ``z`` (``[N, d]``): zero mean, unit (1/N) variance (Barlow Twins)."""
    z = check_tensor(z, "z", 2)
    if z.shape[0] < 2:
        raise ValueError(f"z needs at least N=2 rows to standardise, got N={z.shape[0]}")
    eps = check_real(eps, "eps", nonneg=True)
    z = z - z.mean(0)
    return z / (z.std(0, unbiased=False) + eps)


def cross_covariance(za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """``C = za^T zb / N`` (``[d, d]``), the paper's ``C_ij = 1/N sum_n z_{n,i}^A z_{n,j}^B`` (no centring).

    On batch-standardised features this is the Barlow Twins cross-correlation matrix (Eq. 13).
    """
    za, zb = check_pair(za, zb)
    return za.T @ zb / za.shape[0]


def derangement(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random permutation ``pi`` of ``range(n)`` with ``pi[i] != i`` for all ``i`` (``n >= 2``), ``[n]`` long.

    Built as one random ``n``-cycle (each element of a random order maps to the next one), so the
    pairs ``(i, pi[i])`` are marginal pairs (views of two different inputs).
    """
    n = check_int(n, "n", 2)
    perm = torch.randperm(n, generator=generator)
    pi = torch.empty(n, dtype=torch.long)
    pi[perm] = perm.roll(-1)
    return pi


def marginal_pairs(
    za: torch.Tensor, zb: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair ``za[i]`` with ``zb[pi[i]]`` for a random derangement ``pi``: ``N`` draws of ``p(z_A) p(z_B)``.

    ``za, zb`` ``[N, d]``; returns ``(za, zb[pi])``.
    """
    za, zb = check_pair(za, zb)
    return za, zb[derangement(za.shape[0], generator).to(zb.device)]


def product_feature_covariance(za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """Sample covariance matrix of the per-coordinate products ``X_i = z_i^A z_i^B`` (paper Eqs. 25-27).

    Rows of ``za, zb`` (``[N, d]``) are taken as given pairs: pass joint pairs for ``Cov`` under
    ``p(z_A, z_B)``, or the output of :func:`marginal_pairs` for ``Cov`` under ``p(z_A) p(z_B)``.
    Returns ``[d, d]`` with ``sum`` of all entries ``= Var[sum_i z_i^A z_i^B]`` (1/N normalisation).
    """
    za, zb = check_pair(za, zb)
    x = za * zb
    x = x - x.mean(0)
    return x.T @ x / x.shape[0]


def excess_kurtosis(z: torch.Tensor) -> float:
    """Column-averaged excess kurtosis ``E[(z - mu)^4] / Var^2 - 3`` of ``z`` (``[N, d]``); 0 if Gaussian."""
    z = check_tensor(z, "z", 2)
    c = z - z.mean(0)
    return float(((c**4).mean(0) / (c**2).mean(0) ** 2 - 3.0).mean())
