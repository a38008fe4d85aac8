"""View pairs with fixed second moments, and how the DV -> Barlow Twins steps fare on them (book chapter 02).

* **Covariance families** (:func:`view_covariance`): two standardised views whose cross-correlation is
  rotated away from the diagonal (``rotation``) or whose coordinates are correlated within each view
  (``within``) — the two ways real views break the paper's "decorrelated, aligned" assumption.
* **Distribution families** (:data:`FAMILIES`, :func:`sample_views`): the *same* joint covariance with a
  Gaussian, Laplace, uniform, bimodal or Student-t law, plus ReLU features (:func:`sample_relu_views`) —
  the paper's open question 3: what the Gaussian (Isserlis) assumption of Eqs. 25-28 costs.
* **Studies**: :func:`surrogate_landscape` (population MI, DV and surrogates, Eqs. 1, 13, 24) over the
  covariance families, :func:`family_study` (each derivation step's error) over the distribution families.

Samples are ``float64``; values in nats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch
import torch.nn.functional as F

from ..bounds import cosine_scores, off_diagonal
from ..checks import check_int, check_real
from ._checks import check_rho, check_square
from .batch import excess_kurtosis, standardise
from .cumulants import cumulant_remainder, log_mgf
from .dot_critic import dot_critic_moments, gaussian_dot_dv, variance_decomposition
from .gaussians import gaussian_mi_from_cov, sample_correlated_gaussians

__all__ = [
    "FAMILIES",
    "STUDY_FAMILIES",
    "view_covariance",
    "sample_views",
    "sample_relu_views",
    "surrogate_landscape",
    "family_study",
]

# --------------------------------------------------------------------------- samplers
FAMILIES = ("gaussian", "laplace", "uniform", "mixture", "student_t")
"""Laws of the i.i.d. zero-mean, unit-variance noise that :func:`sample_views` colours with one covariance."""
STUDY_FAMILIES = (*FAMILIES, "relu")
"""The families :func:`family_study` compares: :data:`FAMILIES` and ``"relu"`` (:func:`sample_relu_views`)."""


def _unit_noise(shape: tuple[int, ...], family: str, generator: torch.Generator | None) -> torch.Tensor:
    """I.i.d. zero-mean, unit-variance noise of the given family (float64)."""
    if family == "gaussian":
        return torch.randn(shape, generator=generator, dtype=torch.float64)
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    if family == "uniform":  # U(-sqrt3, sqrt3): excess kurtosis -1.2
        return math.sqrt(3.0) * (2.0 * u - 1.0)
    if family == "laplace":  # scale 1/sqrt2: excess kurtosis 3
        u = u.clamp(1e-300, 1 - 1e-16) - 0.5
        return -torch.sign(u) * torch.log1p(-2.0 * u.abs()) / math.sqrt(2.0)
    if family == "mixture":  # 1/2 N(-0.95, 0.0975) + 1/2 N(0.95, 0.0975): bimodal, excess kurtosis ~ -1.63
        m = 0.95
        sign = torch.where(u < 0.5, -1.0, 1.0).to(torch.float64)
        return sign * m + math.sqrt(1 - m * m) * torch.randn(shape, generator=generator, dtype=torch.float64)
    if family == "student_t":  # t with 5 d.o.f., rescaled to unit variance: excess kurtosis 6
        nu = 5
        z = torch.randn(shape, generator=generator, dtype=torch.float64)
        chi2 = (torch.randn((*shape, nu), generator=generator, dtype=torch.float64) ** 2).sum(-1)
        return z / torch.sqrt(chi2 / nu) * math.sqrt((nu - 2) / nu)
    raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")


def view_covariance(
    d: int, rho: float, within: float = 0.0, rotation: float = 0.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A valid ``[2d, 2d]`` joint covariance ``[[R, C], [C^T, R]]`` of two standardised views.

    ``R = (1 - within) I + within 11^T`` (equicorrelated within-view correlation; ``within = 0`` is the
    paper's "decorrelated within each view"), ``C = rho R^{1/2} Q R^{1/2}`` with ``Q = expm(rotation * K)``,
    ``K`` a random skew-symmetric matrix (so ``Q`` is orthogonal; ``rotation = 0`` gives ``C = rho R``,
    the symmetric, aligned case of a shared encoder). Positive semi-definite for ``|rho| <= 1``.
    Args: ``d >= 2``; ``|rho| < 1``; ``-1/(d-1) < within < 1``.
    """
    d = check_int(d, "d", 2)
    rho = check_rho(rho)
    within = check_real(within, "within")
    rotation = check_real(rotation, "rotation")
    if not -1.0 / (d - 1) < within < 1.0:
        raise ValueError(f"within must lie in (-1/(d-1), 1) = ({-1.0 / (d - 1):.4g}, 1), got within={within}")
    r = (1 - within) * torch.eye(d, dtype=torch.float64) + within * torch.ones(d, d, dtype=torch.float64)
    evals, evecs = torch.linalg.eigh(r)
    r_half = evecs @ torch.diag(evals.sqrt()) @ evecs.T
    a = torch.randn(d, d, generator=generator, dtype=torch.float64)
    q = torch.linalg.matrix_exp(rotation * (a - a.T) / math.sqrt(2 * d))
    c = rho * r_half @ q @ r_half
    return torch.cat([torch.cat([r, c], 1), torch.cat([c.T, r], 1)], 0)


def sample_views(
    n: int, joint_cov: torch.Tensor, family: str = "gaussian", generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` joint pairs ``(z_A, z_B)`` with covariance ``joint_cov`` (``[2d, 2d]``) and a chosen law.

    ``[z_A, z_B] = L w`` with ``L`` the symmetric square root of ``joint_cov`` and ``w`` i.i.d. zero-mean,
    unit-variance entries from ``family`` (one of :data:`FAMILIES`). Every family has *exactly the same
    second moments*; only ``family="gaussian"`` is jointly Gaussian, so differences between families
    isolate the Gaussian (Isserlis) assumption. Returns ``(za, zb)``, each ``[n, d]`` float64.
    """
    n = check_int(n, "n", 1)
    cov = check_square(joint_cov, "joint_cov")
    if cov.shape[0] % 2:
        raise ValueError(f"joint_cov must be [2d, 2d], got shape {tuple(cov.shape)}")
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    evals, evecs = torch.linalg.eigh(cov)
    if float(evals.min()) < -1e-10:
        raise ValueError("joint_cov must be positive semi-definite")
    root = evecs @ torch.diag(evals.clamp_min(0).sqrt()) @ evecs.T
    w = _unit_noise((n, cov.shape[0]), family, generator)
    z = w @ root.T
    d = cov.shape[0] // 2
    return z[:, :d], z[:, d:]


def sample_relu_views(
    n: int, d: int, rho: float, d_in: int | None = None, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch-standardised ReLU features of two correlated Gaussian views: a non-Gaussian, network-like case.

    ``x_A, x_B`` are correlated Gaussians (:func:`sample_correlated_gaussians`, ``d_in`` dims, correlation
    ``rho``); a shared random layer ``W`` (``[d, d_in]``, ``d_in = 2d`` by default) gives
    ``z = standardise(relu(x W^T))``. Returns ``(za, zb)``, each ``[n, d]`` float64.
    """
    n = check_int(n, "n", 2)
    d = check_int(d, "d", 1)
    d_in = 2 * d if d_in is None else check_int(d_in, "d_in", 1)
    xa, xb = sample_correlated_gaussians(n, d_in, rho, generator)
    w = torch.randn(d, d_in, generator=generator, dtype=torch.float64) / math.sqrt(d_in)
    return standardise(F.relu(xa @ w.T)), standardise(F.relu(xb @ w.T))


# --------------------------------------------------------------------------- studies
def surrogate_landscape(
    d: int = 8,
    rho: float = 0.8,
    rotations: Sequence[float] = (0.0, 0.5, 1.0, 1.5, 2.0),
    withins: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4),
    scale: float = 4.0,
    lambd: float = 5.1e-3,
    seed: int = 0,
) -> pd.DataFrame:
    """Population values of the true MI, the DV bound and its surrogates on two families of views.

    Views come from :func:`view_covariance` (jointly Gaussian, unit variances):

    * ``family="rotation"``: decorrelated views (``S_A = S_B = I``, the paper's assumption) whose
      cross-correlation ``C = rho Q(angle)`` is rotated away from the diagonal;
    * ``family="within"``: aligned views (``C = rho R``, a shared encoder) with within-view
      correlation ``within``.

    Columns: ``family, param, true_mi`` (:func:`gaussian_mi_from_cov`), ``dv_dot`` (exact DV of
    ``T = z_A . z_B / scale``, :func:`gaussian_dot_dv`), ``taylor_dv`` (Eq. 24:
    ``tr(C)/s - tr(S_A S_B)/(2 s^2)``, from :func:`~.dot_critic.dot_critic_moments`),
    ``sum_cii``, ``bt_offdiag = sum_{i != j} C_ij^2``,
    ``within_offdiag = sum_{i != j} (S_A)_ij (S_B)_ij``, ``paper_eq13 = -sum_i C_ii + sum_{i != j} C_ij^2``
    (a loss) and ``bt_loss = sum_i (1 - C_ii)^2 + lambd bt_offdiag``.
    """
    d = check_int(d, "d", 2)
    rho = check_rho(rho)
    scale = check_real(scale, "scale", positive=True)
    lambd = check_real(lambd, "lambd", nonneg=True)
    rows = []
    for family, values in (("rotation", rotations), ("within", withins)):
        for v in values:
            g = torch.Generator().manual_seed(seed)
            kw = {"rotation": v} if family == "rotation" else {"within": v}
            cov = view_covariance(d, rho, generator=g, **kw)
            sa, sb, c = cov[:d, :d], cov[d:, d:], cov[:d, d:]
            cii = torch.diagonal(c)
            bt_off = float(off_diagonal(c * c).sum())
            joint_mean, _ = dot_critic_moments(sa, sb, c, scale)
            _, marginal_var = dot_critic_moments(sa, sb, None, scale)
            rows.append({
                "family": family, "param": float(v),
                "true_mi": gaussian_mi_from_cov(sa, sb, c),
                "dv_dot": gaussian_dot_dv(sa, sb, c, scale),
                "taylor_dv": joint_mean - marginal_var / 2,
                "sum_cii": float(cii.sum()),
                "bt_offdiag": bt_off,
                "within_offdiag": float(off_diagonal(sa * sb).sum()),
                "paper_eq13": float(-cii.sum()) + bt_off,
                "bt_loss": float(((1 - cii) ** 2).sum()) + lambd * bt_off,
            })
    return pd.DataFrame(rows)


_TAILS = {
    "gaussian": "Gaussian",
    "uniform": "bounded",
    "mixture": "sub-Gaussian",
    "relu": "sub-Gaussian",
    "laplace": "exponential",
    "student_t": "polynomial",
}


def family_study(
    families: Sequence[str] = STUDY_FAMILIES,
    d: int = 8,
    rho: float = 0.8,
    within: float = 0.0,
    rotation: float = 1.0,
    n: int = 100_000,
    n_mgf: int = 1000,
    tau: float = 0.2,
    scale: float = 4.0,
    seed: int = 0,
) -> pd.DataFrame:
    """How far each step of the DV -> Barlow Twins derivation is from the truth when views are not Gaussian.

    All families but ``"relu"`` share one joint covariance (:func:`view_covariance` with ``d, rho, within,
    rotation``) and differ only in their law (:func:`sample_views`); ``"relu"`` uses
    :func:`sample_relu_views` (shared random ReLU layer on correlated Gaussian inputs with correlation
    ``rho``). Per family, from ``n`` joint pairs: the measured excess kurtosis, the
    :func:`variance_decomposition` quantities, the relative error of the Isserlis prediction of the joint
    variance, the relative error of the distribution-free product-of-marginals formula; and, from the
    ``n_mgf (n_mgf - 1)`` marginal pairs of the first ``n_mgf`` rows, the relative error of the
    second-order expansion (Eq. 23) of ``K(1)`` for the bounded critic ``cos / tau`` and for the dot critic
    ``z_A . z_B / scale``. ``tails`` says whether that dot-critic ``K(1)`` is finite in the population:
    it is ``+inf`` for exponential and polynomial tails, whatever the scale.
    """
    n = check_int(n, "n", 4)
    n_mgf = check_int(n_mgf, "n_mgf", 2)
    rows = []
    for fam in families:
        if fam not in _TAILS:
            raise ValueError(f"families entries must be one of {(*FAMILIES, 'relu')}, got {fam!r}")
        g = torch.Generator().manual_seed(check_int(seed, "seed", 0))
        if fam == "relu":
            za, zb = sample_relu_views(n, d, rho, generator=g)
        else:
            g_cov = torch.Generator().manual_seed(seed)
            cov = view_covariance(d, rho, within=within, rotation=rotation, generator=g_cov)
            za, zb = sample_views(n, cov, fam, g)
        vd = variance_decomposition(za, zb, g)
        a, b = standardise(za[:n_mgf]), standardise(zb[:n_mgf])
        cos_off = off_diagonal(cosine_scores(a, b, tau))
        dot_off = off_diagonal(a @ b.T / scale)
        rows.append({
            "family": fam,
            "tails": _TAILS[fam],
            "excess_kurtosis": excess_kurtosis(torch.cat([za, zb], 1)),
            **vd,
            "isserlis_rel_err": abs(vd["joint_var"] - vd["joint_var_isserlis"]) / vd["joint_var"],
            "marginal_rel_err": abs(vd["marginal_var"] - vd["marginal_var_formula"]) / vd["marginal_var"],
            "cos_expansion_rel_err": float(abs(cumulant_remainder(cos_off)) / abs(log_mgf(cos_off))),
            "dot_expansion_rel_err": float(abs(cumulant_remainder(dot_off)) / abs(log_mgf(dot_off))),
        })
    return pd.DataFrame(rows)
