"""The dot-product critic ``T = <z_A, z_B> / scale`` of Barlow Twins (paper Eq. 12; Sections 3.4 and A.3).

* **Closed forms** for zero-mean views with covariances ``Sigma_A, Sigma_B`` and cross-covariance
  ``C = E[z_A z_B^T]`` (``[d, d]`` each): the marginal term ``K(s)`` when the views are Gaussian
  (:func:`gaussian_dot_marginal_log_mgf`), the mean and variance of ``T`` under the joint and under the
  product of marginals (:func:`dot_critic_moments`, Eqs. 25-28) and the exact DV value
  (:func:`gaussian_dot_dv`, Eq. 1 at a fixed critic).
* **Batch measurements** against them: the batch estimate of ``K(1)`` (:func:`dot_mgf_study`) and the
  variance decomposition of ``T`` (:func:`variance_decomposition`), the step from Eq. 24 to Eq. 13.

Values in nats; covariances are taken as ``float64``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch

from ..bounds import off_diagonal
from ..checks import check_int, check_pair, check_real
from ._checks import check_covariances
from .batch import cross_covariance, marginal_pairs, product_feature_covariance, standardise
from .cumulants import log_mgf

__all__ = [
    "gaussian_dot_marginal_log_mgf",
    "dot_critic_moments",
    "gaussian_dot_dv",
    "dot_mgf_study",
    "variance_decomposition",
]


def _bilinear_log_mgf(sa: torch.Tensor, sb: torch.Tensor) -> torch.Tensor:
    """``log E[e^{z_A . z_B}] = -1/2 log det(I - Sigma_A Sigma_B)`` for independent ``N(0, Sigma_A)``,
    ``N(0, Sigma_B)`` (``[d, d]``, unchecked); ``+inf`` once the spectral radius of ``Sigma_A Sigma_B``
    reaches 1. Differentiable scalar tensor (:mod:`.ascent` ascends through it)."""
    eye = torch.eye(sa.shape[0], dtype=sa.dtype, device=sa.device)
    inf = sa.new_full((), math.inf)
    # With Sigma_A = L L^T: Sigma_A Sigma_B has the eigenvalues of the symmetric L^T Sigma_B L, so the
    # MGF is finite iff I - L^T Sigma_B L is positive definite, and det(I - Sigma_A Sigma_B) is its det.
    l_a, info_a = torch.linalg.cholesky_ex(sa)
    if int(info_a) == 0:
        chol, info = torch.linalg.cholesky_ex(eye - l_a.T @ sb @ l_a)
        return inf if int(info) != 0 else -torch.log(torch.diagonal(chol)).sum()
    # singular Sigma_A (e.g. a rank-deficient encoder): general eigenvalues, real and >= 0 here
    sign, logdet = torch.linalg.slogdet(eye - sa @ sb)
    if sign <= 0 or float(torch.linalg.eigvals(sa @ sb).real.max()) >= 1:
        return inf
    return -0.5 * logdet


# --------------------------------------------------------------------------- closed forms
def gaussian_dot_marginal_log_mgf(
    sigma_a: torch.Tensor, sigma_b: torch.Tensor, s: float = 1.0, scale: float = 1.0
) -> float:
    """Closed-form ``K(s)`` of the dot critic ``T = z_A . z_B / scale`` under the product of marginals.

    ``z_A ~ N(0, Sigma_A)`` and ``z_B ~ N(0, Sigma_B)`` independent (``[d, d]`` each):
    ``K(s) = -1/2 log det(I - (s/scale)^2 Sigma_A Sigma_B)``, and ``+inf`` once the largest eigenvalue of
    ``(s/scale)^2 Sigma_A Sigma_B`` reaches 1. In particular for batch-standardised, decorrelated
    features (``Sigma = I``) and ``scale = 1``, the DV marginal term of the Barlow Twins critic (Eq. 12)
    is infinite. Its second-order expansion is ``(s/scale)^2 tr(Sigma_A Sigma_B) / 2`` (Eq. 23).
    """
    sa, sb, _ = check_covariances(sigma_a, sigma_b, None)
    s = check_real(s, "s")
    scale = check_real(scale, "scale", positive=True)
    return float(_bilinear_log_mgf((s / scale) ** 2 * sa, sb))


def dot_critic_moments(
    sigma_a: torch.Tensor, sigma_b: torch.Tensor, cross: torch.Tensor | None = None, scale: float = 1.0
) -> tuple[float, float]:
    """Mean and variance of the dot critic ``T = z_A . z_B / scale`` (Eqs. 12, 25-28), zero-mean features.

    * ``cross=None`` — **product of marginals** ``p(z_A)p(z_B)`` (where the DV marginal term lives):
      ``E[T] = 0``, ``Var[T] = tr(Sigma_A Sigma_B) / scale^2 = sum_ij (Sigma_A)_ij (Sigma_B)_ij / scale^2``.
      Exact for *any* distribution with independent, zero-mean views (no Gaussian assumption).
    * ``cross=C`` (``C = E[z_A z_B^T]``) — **joint** ``p(z_A, z_B)``, jointly Gaussian (Isserlis):
      ``E[T] = tr(C) / scale`` and ``Var[T] = (tr(Sigma_A Sigma_B) + tr(C C)) / scale^2``, i.e.
      ``Cov(z_i^A z_i^B, z_j^A z_j^B) = (Sigma_A)_ij (Sigma_B)_ij + C_ij C_ji``.

    ``sigma_a, sigma_b, cross``: ``[d, d]``. Returns ``(mean, variance)`` as floats.
    """
    sa, sb, c = check_covariances(sigma_a, sigma_b, cross)
    scale = check_real(scale, "scale", positive=True)
    var = float(torch.trace(sa @ sb))
    mean = 0.0
    if c is not None:
        var += float(torch.trace(c @ c))
        mean = float(torch.trace(c))
    return mean / scale, var / scale**2


def gaussian_dot_dv(
    sigma_a: torch.Tensor, sigma_b: torch.Tensor, cross: torch.Tensor, scale: float = 1.0
) -> float:
    """Exact DV value (Eq. 1, fixed critic) of ``T = z_A . z_B / scale`` for jointly Gaussian zero-mean views.

    ``I_DV(T) = tr(C)/scale + 1/2 log det(I - Sigma_A Sigma_B / scale^2)`` (``-inf`` when the marginal term
    diverges). It never exceeds :func:`~.gaussians.gaussian_mi_from_cov`. Note what it depends on: the
    cross-covariance only through ``tr(C)``, the within-view covariances through the marginal term.
    """
    sa, sb, c = check_covariances(sigma_a, sigma_b, cross)
    scale = check_real(scale, "scale", positive=True)
    k1 = gaussian_dot_marginal_log_mgf(sa, sb, 1.0, scale)
    return float(torch.trace(c)) / scale - k1


# --------------------------------------------------------------------------- batch measurements
def dot_mgf_study(
    za: torch.Tensor,
    zb: torch.Tensor,
    sigma_a: torch.Tensor,
    sigma_b: torch.Tensor,
    scales: Sequence[float],
    batch_sizes: Sequence[int],
) -> pd.DataFrame:
    """Batch estimates of the DV marginal term ``K(1)`` of the dot critic ``T = z_A . z_B / scale`` (Eq. 12).

    ``za, zb``: ``[N, d]`` joint pairs drawn with population covariances ``sigma_a, sigma_b`` (``[d, d]``).
    For each ``scale`` and each ``n`` in ``batch_sizes`` (``n <= N``), the first ``n`` rows are
    batch-standardised and ``K(1)`` is estimated by the log-mean-exp over their ``n(n-1)`` off-diagonal
    pairs (as in Eq. 15). Columns: ``scale, n, batch_k1, exact_k1`` (Gaussian closed form,
    :func:`gaussian_dot_marginal_log_mgf`; ``inf`` when it diverges), ``expansion``
    (``tr(Sigma_A Sigma_B) / (2 scale^2)``, Eq. 23), ``offdiag_mean`` (mean of ``T`` over the off-diagonal
    pairs) and ``minus_trace_c`` (``-tr(C) / (scale (n - 1))``: after batch standardisation the
    off-diagonal mean equals it exactly).
    """
    za, zb = check_pair(za, zb)
    sa, sb, _ = check_covariances(sigma_a, sigma_b, None)
    rows = []
    for scale in scales:
        scale = check_real(scale, "scales[...]", positive=True)
        exact = gaussian_dot_marginal_log_mgf(sa, sb, 1.0, scale)
        expansion = float(torch.trace(sa @ sb)) / (2 * scale**2)
        for n in batch_sizes:
            n = check_int(n, "batch_sizes[...]", 2)
            if n > za.shape[0]:
                raise ValueError(f"batch_sizes entries must be <= N={za.shape[0]}, got {n}")
            a, b = standardise(za[:n]), standardise(zb[:n])
            s = a @ b.T / scale
            off = off_diagonal(s)
            rows.append({
                "scale": scale, "n": n, "batch_k1": float(log_mgf(off)), "exact_k1": exact,
                "expansion": expansion, "offdiag_mean": float(off.mean()),
                "minus_trace_c": -float(torch.diagonal(s).sum()) / (n * (n - 1)),
            })
    return pd.DataFrame(rows)


def variance_decomposition(
    za: torch.Tensor, zb: torch.Tensor, generator: torch.Generator | None = None
) -> dict[str, float]:
    """Measure ``Var[sum_i z_i^A z_i^B]`` (Eqs. 25-28) under the joint and under the product of marginals.

    ``za, zb``: ``[N, d]`` joint pairs; they are batch-standardised first (Barlow Twins' convention). With
    ``C`` the cross-correlation and ``S_A, S_B`` the within-view correlations, returns (all floats):

    * ``bt_offdiag = sum_{i != j} C_ij^2`` (the paper's approximation, Eq. 28 and Eq. 13);
    * ``cross_offdiag = sum_{i != j} C_ij C_ji`` (Isserlis under the joint, decorrelated views);
    * ``within_offdiag = sum_{i != j} (S_A)_ij (S_B)_ij`` (exact under the product of marginals);
    * ``joint_offdiag``, ``joint_var``: measured ``sum_{i != j} Cov(X_i, X_j)`` and ``Var[T]`` over the joint
      pairs, and ``joint_var_isserlis = tr(S_A S_B) + tr(C C)``, the Gaussian prediction
      (:func:`dot_critic_moments` with ``cross=C``);
    * ``marginal_offdiag``, ``marginal_var``: the same measured over marginal pairs (a random derangement,
      :func:`~.batch.marginal_pairs`), and ``marginal_var_formula = tr(S_A S_B)``
      (:func:`dot_critic_moments` with ``cross=None``).
    """
    za, zb = check_pair(za, zb)
    a, b = standardise(za), standardise(zb)
    c = cross_covariance(a, b)
    sa, sb = cross_covariance(a, a), cross_covariance(b, b)
    cj = product_feature_covariance(a, b)
    cp = product_feature_covariance(*marginal_pairs(a, b, generator))
    return {
        "bt_offdiag": float(off_diagonal(c * c).sum()),
        "cross_offdiag": float(off_diagonal(c * c.T).sum()),
        "within_offdiag": float(off_diagonal(sa * sb).sum()),
        "joint_offdiag": float(off_diagonal(cj).sum()),
        "joint_var": float(cj.sum()),
        "joint_var_isserlis": dot_critic_moments(sa, sb, c)[1],
        "marginal_offdiag": float(off_diagonal(cp).sum()),
        "marginal_var": float(cp.sum()),
        "marginal_var_formula": dot_critic_moments(sa, sb)[1],
    }
