"""Closed forms and numerical checks used by the theory chapters (book chapters 01 and 02).

Everything here is small, exact where it can be, and in **nats**. Tensors are ``float64`` by default:
these functions check the paper's equations, so precision matters more than speed.

Sections
--------
* **Correlated Gaussians** (the test bed of chapter 01): ``x ~ N(0, I_d)``,
  ``y = rho x + sqrt(1 - rho^2) eps`` with ``I(x; y) = -(d/2) log(1 - rho^2)``; a sampler; the optimal
  critic ``T* = log p(y|x)/p(y)`` as an ``[N, N]`` score matrix (diagonal = joint pairs, as in
  :mod:`mi_ssl.bounds`); general Gaussian MI from covariances.
* **Gaussian channel** (paper Section A.4, Eq. 29): ``x ~ N(0, s^2)``, ``z_k = x + n_k``; closed forms of
  ``I(x; z_k)`` and ``I(z_1; z_2)``.
* **Bound sweeps**: every estimator of :mod:`mi_ssl.bounds` against the true MI over ``rho`` and ``N``.
* **Block-coordinate ascent** (paper Section 3.1, Proposition, Section A.1): exact DV objectives of two
  linear encoders (population, dot critic; and full batch, cosine critic) and alternating vs joint
  gradient steps on them.
* **Cumulant analysis** (paper Section 3.4 and A.3, Eqs. 11-13, 21-28): ``K(s) = log E e^{sT}``, its
  second-order expansion and remainder, closed forms for the dot-product critic on Gaussian
  representations, the variance ``Var[sum_i z_i^A z_i^B]`` under the joint and under the product of
  marginals, Barlow-Twins terms, and representation families that share second moments but are not
  Gaussian (the paper's open question 3).

Bad input raises ``ValueError`` (``TypeError`` for a wrong type) naming the argument, its value and what is
allowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from . import bounds

__all__ = [
    # correlated Gaussians
    "gaussian_mi",
    "rho_for_mi",
    "sample_correlated_gaussians",
    "gaussian_optimal_critic",
    "gaussian_mi_from_cov",
    # Gaussian channel (A.4)
    "ChannelMI",
    "gaussian_channel_mi",
    "sample_gaussian_channel",
    "channel_sweep",
    # sweeps
    "BOUND_NAMES",
    "bound_estimates",
    "bound_sweep",
    # block-coordinate ascent (3.1 / A.1)
    "linear_view_covariances",
    "gaussian_dot_dv_terms",
    "batch_cos_dv_terms",
    "AscentTrace",
    "dv_ascent",
    "linear_gaussian_setting",
    "linear_gaussian_batch",
    "ascent_table",
    "gaussian_dot_instance",
    "batch_cos_dv_instance",
    "ascent_sweep",
    # cumulants (3.4 / A.3)
    "log_mgf",
    "cumulant_expansion",
    "cumulant_remainder",
    "remainder_bound",
    "gaussian_dot_marginal_log_mgf",
    "dot_critic_moments",
    "gaussian_dot_dv",
    "off_diagonal",
    "off_diagonal_sum",
    "derangement",
    "marginal_pairs",
    "product_feature_covariance",
    "standardise",
    "cross_covariance",
    "barlow_twins_terms",
    "paper_taylor_surrogate",
    "taylor_dv_dot_surrogate",
    "cumulant_study",
    "dot_mgf_study",
    "variance_decomposition",
    "surrogate_landscape",
    # representation families (open question 3)
    "FAMILIES",
    "view_covariance",
    "sample_views",
    "sample_relu_views",
    "excess_kurtosis",
    "family_study",
]

Generator = torch.Generator | None


# --------------------------------------------------------------------------- input checks
def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {name}={value}")
    return int(value)


def _check_real(value: object, name: str, *, positive: bool = False, nonneg: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {name}={value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {name}={value}")
    if nonneg and value < 0:
        raise ValueError(f"{name} must be >= 0, got {name}={value}")
    return value


def _check_rho(rho: object, name: str = "rho") -> float:
    rho = _check_real(rho, name)
    if not -1.0 < rho < 1.0:
        raise ValueError(f"{name} must satisfy |{name}| < 1 (a correlation), got {name}={rho}")
    return rho


def _check_tensor(x: object, name: str, ndim: int | None = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D tensor, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return x


def _check_square(m: object, name: str) -> torch.Tensor:
    m = _check_tensor(m, name, 2)
    if m.shape[0] != m.shape[1]:
        raise ValueError(f"{name} must be a square [d, d] matrix, got shape {tuple(m.shape)}")
    return m


def _check_pair(za: object, zb: object, min_rows: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    za = _check_tensor(za, "za", 2)
    zb = _check_tensor(zb, "zb", 2)
    if za.shape != zb.shape:
        raise ValueError(
            f"za and zb must have the same shape [N, d]; got {tuple(za.shape)} and {tuple(zb.shape)}"
        )
    if za.shape[0] < min_rows:
        raise ValueError(f"za and zb need at least N={min_rows} rows, got N={za.shape[0]}")
    return za, zb


def _check_cov_triplet(
    sigma_a: object, sigma_b: object, cross: object | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    sa = _check_square(sigma_a, "sigma_a").double()
    sb = _check_square(sigma_b, "sigma_b").double()
    if sa.shape != sb.shape:
        raise ValueError(
            f"sigma_a and sigma_b must have the same shape, got {tuple(sa.shape)} and {tuple(sb.shape)}"
        )
    c = None
    if cross is not None:
        c = _check_square(cross, "cross").double()
        if c.shape != sa.shape:
            raise ValueError(f"cross must have shape {tuple(sa.shape)} like sigma_a, got {tuple(c.shape)}")
    return sa, sb, c


# --------------------------------------------------------------------------- correlated Gaussians
def gaussian_mi(rho: float, d: int = 1) -> float:
    """True MI of the correlated-Gaussian pair, in nats: ``I(x; y) = -(d/2) log(1 - rho^2)``.

    ``x ~ N(0, I_d)``, ``y = rho x + sqrt(1 - rho^2) eps`` with ``eps ~ N(0, I_d)``: ``d`` independent
    coordinate pairs of correlation ``rho``. Args: ``rho`` with ``|rho| < 1``; ``d >= 1``.
    """
    rho = _check_rho(rho)
    d = _check_int(d, "d", 1)
    return -0.5 * d * math.log1p(-rho * rho)


def rho_for_mi(mi: float, d: int = 1) -> float:
    """Inverse of :func:`gaussian_mi`: the ``rho >= 0`` with ``-(d/2) log(1 - rho^2) = mi``; ``mi >= 0``."""
    mi = _check_real(mi, "mi", nonneg=True)
    d = _check_int(d, "d", 1)
    return math.sqrt(-math.expm1(-2.0 * mi / d))


def sample_correlated_gaussians(
    n: int,
    d: int,
    rho: float,
    generator: Generator = None,
    *,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` joint pairs ``(x_i, y_i)``: ``x ~ N(0, I_d)``, ``y = rho x + sqrt(1 - rho^2) eps``.

    Returns ``(x, y)``, both ``[n, d]``; row ``i`` of both is one joint pair. Sampling runs on the
    CPU ``generator`` (reproducible across devices), then moves to ``device``.
    """
    n = _check_int(n, "n", 1)
    d = _check_int(d, "d", 1)
    rho = _check_rho(rho)
    x = torch.randn(n, d, generator=generator, dtype=dtype)
    eps = torch.randn(n, d, generator=generator, dtype=dtype)
    y = rho * x + math.sqrt(1.0 - rho * rho) * eps
    return x.to(device), y.to(device)


def gaussian_optimal_critic(x: torch.Tensor, y: torch.Tensor, rho: float) -> torch.Tensor:
    """Optimal critic of the correlated-Gaussian pair as an ``[N, N]`` score matrix.

    ``S_ij = T*(x_i, y_j) = log p(y_j | x_i) / p(y_j)``
    ``      = -(d/2) log(1 - rho^2) - ||y_j - rho x_i||^2 / (2 (1 - rho^2)) + ||y_j||^2 / 2``.

    The DV bound (paper Eq. 1) is tight at ``T*`` (``E_p[T*] = I``, ``E_{p(x)p(y)}[e^{T*}] = 1``); the
    NWJ bound is tight at ``T* + 1``. Diagonal = joint pairs, off-diagonal = marginal pairs, as in
    :mod:`mi_ssl.bounds`. Args: ``x, y`` ``[N, d]``; ``|rho| < 1``.
    """
    x, y = _check_pair(x, y, min_rows=1)
    rho = _check_rho(rho)
    d = x.shape[1]
    v = 1.0 - rho * rho
    xx = (x * x).sum(1, keepdim=True)  # [N, 1]  ||x_i||^2
    yy = (y * y).sum(1)[None, :]  # [1, N]  ||y_j||^2
    sq = yy + rho * rho * xx - 2.0 * rho * (x @ y.T)  # ||y_j - rho x_i||^2
    return -0.5 * d * math.log(v) - sq / (2.0 * v) + 0.5 * yy


def gaussian_mi_from_cov(sigma_a: torch.Tensor, sigma_b: torch.Tensor, cross: torch.Tensor) -> float:
    """MI of jointly Gaussian ``(z_A, z_B)`` from covariances, in nats.

    ``I = 1/2 [log det Sigma_A + log det Sigma_B - log det Sigma]`` with
    ``Sigma = [[Sigma_A, C], [C^T, Sigma_B]]`` and ``C = E[z_A z_B^T]`` (``cross``). All ``[d, d]``
    (``sigma_a`` and ``sigma_b`` must be positive definite and ``Sigma`` positive definite).
    """
    sa, sb, c = _check_cov_triplet(sigma_a, sigma_b, cross)
    joint = torch.cat([torch.cat([sa, c], 1), torch.cat([c.T, sb], 1)], 0)
    out = []
    named = (("sigma_a", sa), ("sigma_b", sb), ("the joint [[sigma_a, cross], [cross^T, sigma_b]]", joint))
    for name, m in named:
        chol, info = torch.linalg.cholesky_ex(m)
        if int(info) != 0:
            raise ValueError(f"{name} must be positive definite")
        out.append(2.0 * float(torch.log(torch.diagonal(chol)).sum()))
    return 0.5 * (out[0] + out[1] - out[2])


# --------------------------------------------------------------------------- Gaussian channel (A.4)
@dataclass(frozen=True)
class ChannelMI:
    """Closed-form MIs of the Gaussian channel (paper Eq. 29), in nats."""

    input_view_1: float  # I(x; z_1)
    input_view_2: float  # I(x; z_2)
    view_view: float  # I(z_1; z_2)
    view_correlation: float  # corr(z_1, z_2) per coordinate

    @property
    def dpi_bound(self) -> float:
        """``min{I(x; z_1), I(x; z_2)}``, the right-hand side of Eq. 29."""
        return min(self.input_view_1, self.input_view_2)


def gaussian_channel_mi(signal_std: float, noise_std_1: float, noise_std_2: float, d: int = 1) -> ChannelMI:
    """MIs of ``x ~ N(0, s^2 I_d)``, ``z_k = x + n_k``, ``n_k ~ N(0, sigma_k^2 I_d)`` independent (Eq. 29).

    * ``I(x; z_k) = (d/2) log(1 + s^2 / sigma_k^2)``
    * ``I(z_1; z_2) = -(d/2) log(1 - r^2)``, ``r^2 = s^4 / ((s^2 + sigma_1^2)(s^2 + sigma_2^2))``.

    The views are conditionally independent given ``x`` (a Markov chain ``z_1 - x - z_2``), so the data
    processing inequality gives ``I(z_1; z_2) <= min_k I(x; z_k)``, paper Eq. 29.
    Args: ``signal_std > 0``, ``noise_std_k > 0``, ``d >= 1``.
    """
    s = _check_real(signal_std, "signal_std", positive=True)
    n1 = _check_real(noise_std_1, "noise_std_1", positive=True)
    n2 = _check_real(noise_std_2, "noise_std_2", positive=True)
    d = _check_int(d, "d", 1)
    s2, v1, v2 = s * s, n1 * n1, n2 * n2
    r2 = s2 * s2 / ((s2 + v1) * (s2 + v2))
    return ChannelMI(
        input_view_1=0.5 * d * math.log1p(s2 / v1),
        input_view_2=0.5 * d * math.log1p(s2 / v2),
        view_view=-0.5 * d * math.log1p(-r2),
        view_correlation=math.sqrt(r2),
    )


def sample_gaussian_channel(
    n: int, signal_std: float, noise_std_1: float, noise_std_2: float, generator: Generator = None, d: int = 1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw ``(x, z_1, z_2)``, each ``[n, d]`` float64, from the channel of :func:`gaussian_channel_mi`."""
    n = _check_int(n, "n", 1)
    d = _check_int(d, "d", 1)
    s = _check_real(signal_std, "signal_std", positive=True)
    n1 = _check_real(noise_std_1, "noise_std_1", positive=True)
    n2 = _check_real(noise_std_2, "noise_std_2", positive=True)
    x = s * torch.randn(n, d, generator=generator, dtype=torch.float64)
    z1 = x + n1 * torch.randn(n, d, generator=generator, dtype=torch.float64)
    z2 = x + n2 * torch.randn(n, d, generator=generator, dtype=torch.float64)
    return x, z1, z2


def channel_sweep(
    noise_stds: Sequence[float],
    signal_std: float = 1.0,
    noise_ratio: float = 1.5,
    n: int = 256,
    n_repeats: int = 20,
    seed: int = 0,
) -> pd.DataFrame:
    """Closed-form MIs of the Gaussian channel (Eq. 29) and batch estimates of ``I(z_1; z_2)``.

    View 1 has noise std ``sigma``, view 2 ``noise_ratio * sigma``. The estimates use the optimal critic of
    the (standardised) view pair, :func:`gaussian_optimal_critic` with ``rho = corr(z_1, z_2)``: a log
    density ratio is invariant to rescaling each variable. Returns one row per noise level with columns
    ``noise_std, i_x_z1, i_x_z2, i_z1_z2, dpi_bound, dv_mean, dv_std, infonce_mean, nwj_mean`` (nats).
    """
    s = _check_real(signal_std, "signal_std", positive=True)
    ratio = _check_real(noise_ratio, "noise_ratio", positive=True)
    n = _check_int(n, "n", 2)
    n_repeats = _check_int(n_repeats, "n_repeats", 1)
    g = torch.Generator().manual_seed(_check_int(seed, "seed", 0))
    rows = []
    for sigma in noise_stds:
        sigma = _check_real(sigma, "noise_stds[...]", positive=True)
        mi = gaussian_channel_mi(s, sigma, ratio * sigma)
        est = []
        for _ in range(n_repeats):
            _, z1, z2 = sample_gaussian_channel(n, s, sigma, ratio * sigma, g)
            z1 = z1 / math.sqrt(s * s + sigma * sigma)
            z2 = z2 / math.sqrt(s * s + (ratio * sigma) ** 2)
            est.append(bound_estimates(gaussian_optimal_critic(z1, z2, mi.view_correlation)))
        e = pd.DataFrame(est)
        rows.append({
            "noise_std": sigma, "i_x_z1": mi.input_view_1, "i_x_z2": mi.input_view_2, "i_z1_z2": mi.view_view,
            "dpi_bound": mi.dpi_bound, "dv_mean": e.dv.mean(), "dv_std": e.dv.std(),
            "infonce_mean": e.infonce.mean(), "nwj_mean": e.nwj.mean(),
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- bound sweeps
BOUND_NAMES = ("dv", "nwj", "infonce", "jsd")


def bound_estimates(scores: torch.Tensor, nwj_shift: float = 1.0) -> dict[str, float]:
    """The four estimators of :mod:`mi_ssl.bounds` on one ``[N, N]`` score matrix, in nats.

    NWJ is evaluated on ``scores + nwj_shift`` (``T + 1`` is NWJ's counterpart of the DV critic ``T``:
    NWJ is tight at ``T* + 1``). ``jsd`` is the f-GAN objective of :func:`mi_ssl.bounds.jsd` (ceiling 0).
    """
    shift = _check_real(nwj_shift, "nwj_shift")
    return {
        "dv": float(bounds.dv(scores)),
        "nwj": float(bounds.nwj(scores + shift)),
        "infonce": float(bounds.infonce(scores)),
        "jsd": float(bounds.jsd(scores)),
    }


def bound_sweep(
    mi_values: Sequence[float],
    batch_sizes: Sequence[int],
    d: int = 4,
    n_repeats: int = 10,
    critics: Sequence[str] = ("optimal", "cosine"),
    tau: float = 0.5,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """Every estimator against the true MI of correlated Gaussians, over MI values, batch sizes and critics.

    For each true MI (nats) we set ``rho = rho_for_mi(mi, d)``, draw ``n_repeats`` fresh batches of each
    size ``N`` and evaluate :func:`bound_estimates` with

    * ``"optimal"``: the optimal critic :func:`gaussian_optimal_critic` (``T*``),
    * ``"cosine"``: the cosine critic ``cos(x, y) / tau`` of paper Eq. 14 (identity encoder).

    Returns a long ``DataFrame`` with one row per (critic, mi, N, repeat, bound): columns ``critic``,
    ``true_mi``, ``rho``, ``n``, ``log_n``, ``repeat``, ``bound``, ``estimate``.
    """
    d = _check_int(d, "d", 1)
    n_repeats = _check_int(n_repeats, "n_repeats", 1)
    tau = _check_real(tau, "tau", positive=True)
    for n in batch_sizes:
        _check_int(n, "batch_sizes[...]", 2)
    for c in critics:
        if c not in ("optimal", "cosine"):
            raise ValueError(f"critics entries must be 'optimal' or 'cosine', got {c!r}")
    rows = []
    g = torch.Generator().manual_seed(_check_int(seed, "seed", 0))
    for mi in mi_values:
        rho = rho_for_mi(mi, d)
        for n in batch_sizes:
            for r in range(n_repeats):
                x, y = sample_correlated_gaussians(n, d, rho, g, device=device)
                for critic in critics:
                    if critic == "optimal":
                        s = gaussian_optimal_critic(x, y, rho)
                    else:
                        s = bounds.cosine_scores(x, y, tau)
                    for name, value in bound_estimates(s).items():
                        rows.append((critic, float(mi), rho, int(n), math.log(n), r, name, value))
    columns = ["critic", "true_mi", "rho", "n", "log_n", "repeat", "bound", "estimate"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- block-coordinate ascent
def linear_view_covariances(
    w_a: torch.Tensor, w_b: torch.Tensor, sigma_x: torch.Tensor, noise_var: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Second moments of ``z_A = W_A x_1``, ``z_B = W_B x_2`` for ``x_k = x + n_k``.

    ``x ~ N(0, Sigma_x)`` (``[p, p]``), ``n_k ~ N(0, noise_var I_p)`` independent; ``W_A, W_B`` ``[d, p]``.
    Returns ``(Sigma_A, Sigma_B, C)``, each ``[d, d]``: ``Sigma_A = W_A (Sigma_x + v I) W_A^T``,
    ``Sigma_B = W_B (Sigma_x + v I) W_B^T``, ``C = E[z_A z_B^T] = W_A Sigma_x W_B^T``. Differentiable.
    """
    v = _check_real(noise_var, "noise_var", nonneg=True)
    sigma_view = sigma_x + v * torch.eye(sigma_x.shape[0], dtype=sigma_x.dtype, device=sigma_x.device)
    return w_a @ sigma_view @ w_a.T, w_b @ sigma_view @ w_b.T, w_a @ sigma_x @ w_b.T


def gaussian_dot_dv_terms(
    w_a: torch.Tensor, w_b: torch.Tensor, sigma_x: torch.Tensor, noise_var: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact population DV terms (paper Eq. 2) of two linear encoders, fixed dot critic ``T = z_A . z_B``.

    ``J = E_p[T] = tr(C)`` (affine, hence concave, in each encoder: assumption (1) of the Proposition)
    and ``M = log E_{p(z_A)p(z_B)}[e^T] = -1/2 log det(I - Sigma_A Sigma_B)`` (the Gaussian moment
    generating function of a bilinear form; finite only while the spectral radius of
    ``Sigma_A Sigma_B`` is ``< 1``; ``M = +inf`` outside). ``L = J - M`` is the DV bound ``<= I(z_A; z_B)``.
    Shapes as in :func:`linear_view_covariances`; returns two differentiable scalars.
    """
    sa, sb, c = linear_view_covariances(w_a, w_b, sigma_x, noise_var)
    joint = torch.trace(c)
    eye = torch.eye(sa.shape[0], dtype=sa.dtype, device=sa.device)
    # With Sigma_A = L L^T: Sigma_A Sigma_B has the eigenvalues of the symmetric L^T Sigma_B L, so the
    # MGF is finite iff I - L^T Sigma_B L is positive definite, and det(I - Sigma_A Sigma_B) is its det.
    l_a, info_a = torch.linalg.cholesky_ex(sa)
    if int(info_a) == 0:
        chol, info = torch.linalg.cholesky_ex(eye - l_a.T @ sb @ l_a)
        if int(info) != 0:
            return joint, torch.full_like(joint, math.inf)
        return joint, -torch.log(torch.diagonal(chol)).sum()
    # singular Sigma_A (rank-deficient encoder): general eigenvalues, real and >= 0 here
    sign, logdet = torch.linalg.slogdet(eye - sa @ sb)
    if sign <= 0 or float(torch.linalg.eigvals(sa @ sb).real.max()) >= 1:
        return joint, torch.full_like(joint, math.inf)
    return joint, -0.5 * logdet


def batch_cos_dv_terms(
    w_a: torch.Tensor, w_b: torch.Tensor, x1: torch.Tensor, x2: torch.Tensor, tau: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-batch cos-DV terms (paper Eq. 15) of linear encoders ``z_A = x_1 W_A^T``, ``z_B = x_2 W_B^T``.

    ``J`` = mean of the diagonal of ``cos/tau``, ``M`` = log mean ``exp`` over the off-diagonal pairs.
    ``x1, x2`` ``[N, p]`` (one fixed batch: the objective is deterministic); ``W`` ``[d, p]``.
    """
    s = bounds.cosine_scores(x1 @ w_a.T, x2 @ w_b.T, tau)
    return bounds.joint_term(s), bounds.dv_marginal_term(s)


@dataclass
class AscentTrace:
    """Record of :func:`dv_ascent`: one entry per *half-step* (alternating) or per step (joint).

    ``objective[k]`` is ``L = J - M`` after update ``k`` (``objective[0]`` is the start);
    ``block[k]`` says which parameters moved (``"theta"``, ``"xi"`` or ``"both"``);
    ``grad_j``/``grad_m`` are the norms of ``grad J`` and ``grad M`` w.r.t. the moved block, taken
    *before* update ``k`` (the Proposition's ``epsilon`` bounds ``grad_m``).
    """

    mode: str
    lr: float
    objective: np.ndarray
    block: list[str]
    grad_j: np.ndarray
    grad_m: np.ndarray
    monitor: np.ndarray  # monitor(w_a, w_b) at the start and after each update (empty without a monitor)

    @property
    def deltas(self) -> np.ndarray:
        """``L`` after each update minus ``L`` before it."""
        return np.diff(self.objective)

    @property
    def n_decreases(self) -> int:
        """Updates that lowered the objective by more than ``1e-12`` (non-finite counts as a decrease)."""
        d = self.deltas
        return int(np.sum(~np.isfinite(d) | (d < -1e-12)))


def dv_ascent(
    terms: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    w_a: torch.Tensor,
    w_b: torch.Tensor,
    lr: float,
    steps: int,
    mode: str = "alternating",
    monitor: Callable[[torch.Tensor, torch.Tensor], float] | None = None,
) -> AscentTrace:
    """Gradient ascent on a DV objective ``L(theta, xi) = J - M`` of two encoders (paper Eq. 2).

    * ``mode="alternating"`` (SDMI, Eqs. 4-5 with one gradient step per E/M step): a step on ``theta``
      with ``xi`` fixed (stop-gradient), then a step on ``xi`` with the *updated* ``theta`` fixed.
    * ``mode="joint"`` (simultaneous step): both blocks step from the same point.

    ``terms(w_a, w_b) -> (J, M)`` evaluates the objective (e.g. :func:`gaussian_dot_dv_terms` with the data
    bound in a closure). ``steps`` iterations; an alternating iteration has two half-steps. Plain
    gradient ascent with learning rate ``lr``; inputs are not modified. Once ``L`` is non-finite the
    trace stops. ``monitor(w_a, w_b)`` (optional) is recorded at every point, e.g. the true MI.
    """
    lr = _check_real(lr, "lr", positive=True)
    steps = _check_int(steps, "steps", 1)
    if mode not in ("alternating", "joint"):
        raise ValueError(f"mode must be 'alternating' or 'joint', got {mode!r}")
    params = [w_a.detach().clone(), w_b.detach().clone()]
    obj: list[float] = []
    block: list[str] = []
    g_j: list[float] = []
    g_m: list[float] = []
    mon: list[float] = []

    def norm(gs: Sequence[torch.Tensor]) -> float:
        return float(torch.sqrt(sum((g * g).sum() for g in gs)))

    def record(value: float) -> None:
        obj.append(value)
        if monitor is not None:
            with torch.no_grad():
                mon.append(float(monitor(params[0], params[1])))

    schedule = [[0], [1]] if mode == "alternating" else [[0, 1]]
    for k in range(steps * len(schedule)):
        which = schedule[k % len(schedule)]
        # one forward pass gives the objective at the current point and the gradient for the next update
        ps = [p.clone().requires_grad_(i in which) for i, p in enumerate(params)]
        j, m = terms(ps[0], ps[1])
        record(float((j - m).detach()))
        if not math.isfinite(obj[-1]):
            break
        sel = [ps[i] for i in which]
        gj = torch.autograd.grad(j, sel, retain_graph=True)
        gm = torch.autograd.grad(m, sel)
        for i, a, b in zip(which, gj, gm):
            params[i] = params[i] + lr * (a - b)
        block.append({(0,): "theta", (1,): "xi"}.get(tuple(which), "both"))
        g_j.append(norm(gj))
        g_m.append(norm(gm))
    else:
        with torch.no_grad():
            j, m = terms(params[0], params[1])
        record(float(j - m))
    return AscentTrace(mode, lr, np.array(obj), block, np.array(g_j), np.array(g_m), np.array(mon))


def linear_gaussian_setting(
    p: int = 4, d: int = 2, init_scale: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A seeded instance for :func:`gaussian_dot_dv_terms`: ``(Sigma_x [p, p], W_A [d, p], W_B [d, p])``.

    ``Sigma_x = A A^T / p + 0.1 I`` with Gaussian ``A``; encoders start at ``init_scale`` times a
    Gaussian matrix, small enough that the DV marginal term is finite at the start. float64.
    """
    p = _check_int(p, "p", 1)
    d = _check_int(d, "d", 1)
    init_scale = _check_real(init_scale, "init_scale", positive=True)
    g = torch.Generator().manual_seed(_check_int(seed, "seed", 0))
    a = torch.randn(p, p, generator=g, dtype=torch.float64)
    sigma_x = a @ a.T / p + 0.1 * torch.eye(p, dtype=torch.float64)
    w_a = init_scale * torch.randn(d, p, generator=g, dtype=torch.float64)
    w_b = init_scale * torch.randn(d, p, generator=g, dtype=torch.float64)
    return sigma_x, w_a, w_b


def linear_gaussian_batch(
    n: int, sigma_x: torch.Tensor, noise_var: float, generator: Generator = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of two views ``x_k = x + n_k``, ``x ~ N(0, Sigma_x)``, ``n_k ~ N(0, noise_var I)``.

    Returns ``(x1, x2)``, each ``[n, p]`` float64 (``Sigma_x`` is ``[p, p]``, positive definite).
    """
    n = _check_int(n, "n", 2)
    sigma_x = _check_square(sigma_x, "sigma_x").double()
    v = _check_real(noise_var, "noise_var", nonneg=True)
    p = sigma_x.shape[0]
    x = torch.randn(n, p, generator=generator, dtype=torch.float64) @ torch.linalg.cholesky(sigma_x).T
    x1 = x + math.sqrt(v) * torch.randn(n, p, generator=generator, dtype=torch.float64)
    x2 = x + math.sqrt(v) * torch.randn(n, p, generator=generator, dtype=torch.float64)
    return x1, x2


def ascent_table(traces: Sequence[AscentTrace]) -> pd.DataFrame:
    """One row per trace of :func:`dv_ascent`: ``mode, lr, updates, decreases, min_delta, start, final, max``.

    ``final`` is the last finite objective and ``diverged`` says whether the objective left the domain
    (marginal term ``+inf``). ``grad_m_over_grad_j`` is the median over updates of
    ``||grad M|| / ||grad J||`` for the moved block (the Proposition assumes ``||grad M|| <= epsilon`` small).
    """
    rows = []
    for t in traces:
        finite = t.objective[np.isfinite(t.objective)]
        d = t.deltas
        rows.append({
            "mode": t.mode, "lr": t.lr, "updates": len(d), "decreases": t.n_decreases,
            "min_delta": float(np.min(np.where(np.isfinite(d), d, -np.inf))) if len(d) else 0.0,
            "start": float(t.objective[0]), "final": float(finite[-1]), "max": float(finite.max()),
            "diverged": bool(not np.isfinite(t.objective[-1])),
            "grad_m_over_grad_j": float(np.median(t.grad_m / t.grad_j)) if len(d) else float("nan"),
        })
    return pd.DataFrame(rows)


Terms = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def gaussian_dot_instance(
    seed: int, p: int = 4, d: int = 2, noise_var: float = 0.5, init_scale: float = 0.1
) -> tuple[Terms, torch.Tensor, torch.Tensor]:
    """``(terms, W_A, W_B)`` for :func:`dv_ascent`: exact population DV, dot critic (:func:`gaussian_dot_dv_terms`).

    ``Sigma_x`` and the starting encoders come from :func:`linear_gaussian_setting` with this ``seed``.
    """
    sigma_x, w_a, w_b = linear_gaussian_setting(p, d, init_scale, seed)

    def terms(wa: torch.Tensor, wb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return gaussian_dot_dv_terms(wa, wb, sigma_x, noise_var)

    return terms, w_a, w_b


def batch_cos_dv_instance(
    seed: int, n: int = 128, p: int = 4, d: int = 3, noise_var: float = 0.5, tau: float = 0.1
) -> tuple[Terms, torch.Tensor, torch.Tensor]:
    """``(terms, W_A, W_B)`` for :func:`dv_ascent`: full-batch cos-DV (Eq. 15) on one fixed batch of ``n`` pairs.

    ``Sigma_x`` from :func:`linear_gaussian_setting` (``seed``), one batch from
    :func:`linear_gaussian_batch`, encoders ``[d, p]`` with standard Gaussian entries.
    """
    sigma_x, _, _ = linear_gaussian_setting(p, 1, 0.1, seed)
    g = torch.Generator().manual_seed(seed)
    x1, x2 = linear_gaussian_batch(n, sigma_x, noise_var, g)
    w_a = torch.randn(d, p, generator=g, dtype=torch.float64)
    w_b = torch.randn(d, p, generator=g, dtype=torch.float64)

    def terms(wa: torch.Tensor, wb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return batch_cos_dv_terms(wa, wb, x1, x2, tau)

    return terms, w_a, w_b


def ascent_sweep(
    instance: Callable[[int], tuple[Terms, torch.Tensor, torch.Tensor]],
    seeds: Sequence[int],
    lrs: Sequence[float],
    steps: int,
    modes: Sequence[str] = ("alternating", "joint"),
) -> pd.DataFrame:
    """:func:`ascent_table` of every (seed, learning rate, mode); ``instance(seed) -> (terms, W_A, W_B)``.

    Returns the table with a leading ``seed`` column: one row per run of :func:`dv_ascent`.
    """
    tables = []
    for seed in seeds:
        terms, w_a, w_b = instance(seed)
        table = ascent_table([dv_ascent(terms, w_a, w_b, lr, steps, mode) for lr in lrs for mode in modes])
        table.insert(0, "seed", seed)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


# --------------------------------------------------------------------------- cumulants (3.4, A.3)
def _flat(t: object, name: str = "t") -> torch.Tensor:
    t = _check_tensor(t, name)
    t = t.reshape(-1)
    if t.numel() < 2:
        raise ValueError(f"{name} needs at least 2 samples, got {t.numel()}")
    return t


def log_mgf(t: torch.Tensor, s: float = 1.0) -> torch.Tensor:
    """Empirical cumulant generating function ``K(s) = log E[e^{sT}]`` (paper Eq. 21), in nats.

    ``t``: samples of ``T`` (any shape, flattened; equal weights). ``K(1)`` is the DV marginal term when
    ``t`` holds scores of marginal pairs. Computed with ``logsumexp``. Scalar tensor.
    """
    t = _flat(t)
    s = _check_real(s, "s")
    return torch.logsumexp(s * t, 0) - math.log(t.numel())


def cumulant_expansion(t: torch.Tensor, s: float = 1.0, variance_weight: float = 0.5) -> torch.Tensor:
    """Second-order expansion of ``K(s)``: ``s E[T] + w s^2 Var[T]`` (paper Eqs. 22-23; ``w = 1/2``).

    ``variance_weight=1.0`` is the paper's Eq. 11, which drops the ``1/2`` (footnote 1). ``Var`` is the
    biased (``1/n``) sample variance, so that for a two-point sample the expansion is exact to order 2.
    """
    t = _flat(t)
    s = _check_real(s, "s")
    w = _check_real(variance_weight, "variance_weight", nonneg=True)
    return s * t.mean() + w * s * s * t.var(unbiased=False)


def cumulant_remainder(t: torch.Tensor, s: float = 1.0) -> torch.Tensor:
    """Remainder ``R_2(s) = K(s) - s kappa_1 - s^2 kappa_2 / 2`` of the expansion (paper Eq. 22), in nats.

    Zero for Gaussian ``T``; for ``T`` in ``[a, b]`` bounded by :func:`remainder_bound`.
    """
    return log_mgf(t, s) - cumulant_expansion(t, s, 0.5)


def remainder_bound(a: float, b: float) -> float:
    """Bound ``(b - a)^3 / 24`` on ``|R_2(1)|`` for any critic with values in ``[a, b]`` (paper Eq. 22 ff.).

    ``R_2(1) = K'''(s*) / 6`` and ``K'''(s)`` is the third central moment of ``T`` under the tilted
    law ``p_s ∝ e^{sT} p``, which lives on ``[a, b]`` too. With ``L = b - a``:
    ``|E(T - mu)^3| <= max|T - mu| * Var(T) <= L * L^2/4`` (Popoviciu), so ``|R_2(1)| <= L^3 / 24``.
    The paper states ``O(1)``; this makes the constant explicit (``L = 2/tau`` for ``cos/tau``).
    """
    a = _check_real(a, "a")
    b = _check_real(b, "b")
    if b < a:
        raise ValueError(f"need a <= b, got a={a}, b={b}")
    return (b - a) ** 3 / 24.0


def gaussian_dot_marginal_log_mgf(
    sigma_a: torch.Tensor, sigma_b: torch.Tensor, s: float = 1.0, scale: float = 1.0
) -> float:
    """Closed-form ``K(s)`` of the dot critic ``T = z_A . z_B / scale`` under the product of marginals.

    ``z_A ~ N(0, Sigma_A)`` and ``z_B ~ N(0, Sigma_B)`` independent (``[d, d]`` each):
    ``K(s) = -1/2 log det(I - (s/scale)^2 Sigma_A Sigma_B)``, and ``+inf`` once the largest eigenvalue of
    ``(s/scale)^2 Sigma_A Sigma_B`` reaches 1. In particular for batch-standardised, decorrelated
    features (``Sigma = I``) and ``scale = 1``, the DV marginal term of the Barlow Twins critic (Eq. 12)
    is infinite. Its second-order expansion is ``(s/scale)^2 tr(Sigma_A Sigma_B) / 2``.
    """
    sa, sb, _ = _check_cov_triplet(sigma_a, sigma_b, None)
    s = _check_real(s, "s")
    scale = _check_real(scale, "scale", positive=True)
    m = (s / scale) ** 2 * (sa @ sb)
    lam = torch.linalg.eigvals(m).real
    if float(lam.max()) >= 1.0:
        return math.inf
    return float(-0.5 * torch.log1p(-lam).sum())


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

    ``sigma_a, sigma_b, cross``: ``[d, d]``. Returns floats.
    """
    sa, sb, c = _check_cov_triplet(sigma_a, sigma_b, cross)
    scale = _check_real(scale, "scale", positive=True)
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
    diverges). It never exceeds :func:`gaussian_mi_from_cov`. Note what it depends on: the cross-covariance
    only through ``tr(C)``, the within-view covariances through the marginal term.
    """
    sa, sb, c = _check_cov_triplet(sigma_a, sigma_b, cross)
    scale = _check_real(scale, "scale", positive=True)
    k1 = gaussian_dot_marginal_log_mgf(sa, sb, 1.0, scale)
    return float(torch.trace(c)) / scale - k1


def off_diagonal(m: torch.Tensor) -> torch.Tensor:
    """The ``d(d-1)`` off-diagonal entries of a square ``[d, d]`` matrix, flat (row-major)."""
    m = _check_square(m, "m")
    d = m.shape[0]
    return m[~torch.eye(d, dtype=torch.bool, device=m.device)]


def off_diagonal_sum(m: torch.Tensor) -> float:
    """``sum_{i != j} m_ij`` of a square matrix (``m = C * C`` gives the Barlow Twins redundancy term)."""
    return float(off_diagonal(m).sum())


def derangement(n: int, generator: Generator = None) -> torch.Tensor:
    """A random permutation ``pi`` of ``range(n)`` with ``pi[i] != i`` for all ``i`` (``n >= 2``)..

    Built as one random ``n``-cycle (each element of a random order maps to the next one), so the
    pairs ``(i, pi[i])`` are marginal pairs (views of two different inputs).
    """
    n = _check_int(n, "n", 2)
    perm = torch.randperm(n, generator=generator)
    pi = torch.empty(n, dtype=torch.long)
    pi[perm] = perm.roll(-1)
    return pi


def marginal_pairs(
    za: torch.Tensor, zb: torch.Tensor, generator: Generator = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair ``za[i]`` with ``zb[pi[i]]`` for a random derangement ``pi``: ``N`` draws of ``p(z_A) p(z_B)``.

    ``za, zb`` ``[N, d]``; returns ``(za, zb[pi])``.
    """
    za, zb = _check_pair(za, zb)
    return za, zb[derangement(za.shape[0], generator).to(zb.device)]


def product_feature_covariance(za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """Sample covariance matrix of the per-coordinate products ``X_i = z_i^A z_i^B`` (paper Eqs. 25-27).

    Rows of ``za, zb`` (``[N, d]``) are taken as given pairs: pass joint pairs for ``Cov`` under
    ``p(z_A, z_B)``, or the output of :func:`marginal_pairs` for ``Cov`` under ``p(z_A) p(z_B)``.
    Returns ``[d, d]`` with ``sum`` of all entries ``= Var[sum_i z_i^A z_i^B]`` (1/N normalisation).
    """
    za, zb = _check_pair(za, zb)
    x = za * zb
    x = x - x.mean(0)
    return x.T @ x / x.shape[0]


def standardise(z: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Batch-standardise the columns of ``z`` (``[N, d]``): zero mean, unit (1/N) variance (Barlow Twins)."""
    z = _check_tensor(z, "z", 2)
    if z.shape[0] < 2:
        raise ValueError(f"z needs at least N=2 rows to standardise, got N={z.shape[0]}")
    eps = _check_real(eps, "eps", nonneg=True)
    z = z - z.mean(0)
    return z / (z.std(0, unbiased=False) + eps)


def cross_covariance(za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """``C = za^T zb / N`` (``[d, d]``), the paper's ``C_ij = 1/N sum_n z_{n,i}^A z_{n,j}^B`` (no centring).

    On batch-standardised features this is the Barlow Twins cross-correlation matrix.
    """
    za, zb = _check_pair(za, zb)
    return za.T @ zb / za.shape[0]


def barlow_twins_terms(za: torch.Tensor, zb: torch.Tensor, lambd: float = 5.1e-3) -> dict[str, float]:
    """Barlow Twins (Zbontar et al. 2021) terms on batch-standardised ``za, zb`` (``[N, d]``).

    ``C`` = cross-correlation; returns ``{"on_diag": sum_i (1 - C_ii)^2, "off_diag": sum_{i != j} C_ij^2,
    "loss": on_diag + lambd * off_diag}``.
    """
    lambd = _check_real(lambd, "lambd", nonneg=True)
    c = cross_covariance(standardise(za), standardise(zb))
    on = float(((1 - torch.diagonal(c)) ** 2).sum())
    off = off_diagonal_sum(c * c)
    return {"on_diag": on, "off_diag": off, "loss": on + lambd * off}


def paper_taylor_surrogate(za: torch.Tensor, zb: torch.Tensor) -> float:
    """The paper's Eq. 13 on batch-standardised features: ``-sum_i C_ii + sum_{i != j} C_ij^2`` (a loss)."""
    c = cross_covariance(standardise(za), standardise(zb))
    return float(-torch.diagonal(c).sum()) + off_diagonal_sum(c * c)


def taylor_dv_dot_surrogate(
    za: torch.Tensor, zb: torch.Tensor, variance_weight: float = 0.5, scale: float = 1.0
) -> dict[str, float]:
    """Taylor-DV loss (paper Eq. 24 with ``w = 1/2``; Eq. 11 with ``w = 1``) for ``T = z_A . z_B / scale``.

    On batch-standardised ``za, zb`` (``[N, d]``) with the marginal moments taken under the product of the
    empirical marginals (all ``N^2`` cross pairs, the population limit of the batch's off-diagonal):
    ``E_pp[T] = 0`` and ``Var_pp[T] = tr(S_A S_B) / scale^2 = (d + sum_{i != j} (S_A)_ij (S_B)_ij) / scale^2``
    where ``S_A, S_B`` are the within-view correlation matrices. Returns ``{"joint": sum_i C_ii / scale,
    "marginal_var": Var_pp[T], "within_offdiag": sum_{i != j} (S_A)_ij (S_B)_ij,
    "loss": -joint + w * marginal_var}``.
    """
    w = _check_real(variance_weight, "variance_weight", nonneg=True)
    scale = _check_real(scale, "scale", positive=True)
    za, zb = _check_pair(za, zb)
    a, b = standardise(za), standardise(zb)
    c = cross_covariance(a, b)
    sa, sb = cross_covariance(a, a), cross_covariance(b, b)
    joint = float(torch.diagonal(c).sum()) / scale
    var = float(torch.trace(sa @ sb)) / scale**2
    within = off_diagonal_sum(sa * sb)
    return {"joint": joint, "marginal_var": var, "within_offdiag": within, "loss": -joint + w * var}


# --------------------------------------------------------------------------- representation families
FAMILIES = ("gaussian", "laplace", "uniform", "mixture", "student_t")


def _unit_noise(shape: tuple[int, ...], family: str, generator: Generator) -> torch.Tensor:
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
    d: int, rho: float, within: float = 0.0, rotation: float = 0.0, generator: Generator = None
) -> torch.Tensor:
    """A valid ``[2d, 2d]`` joint covariance ``[[R, C], [C^T, R]]`` of two standardised views.

    ``R = (1 - within) I + within 11^T`` (equicorrelated within-view correlation; ``within = 0`` is the
    paper's "decorrelated within each view"), ``C = rho R^{1/2} Q R^{1/2}`` with ``Q = expm(rotation * K)``,
    ``K`` a random skew-symmetric matrix (so ``Q`` is orthogonal; ``rotation = 0`` gives ``C = rho R``,
    the symmetric, aligned case of a shared encoder). Positive semi-definite for ``|rho| <= 1``.
    Args: ``d >= 2``; ``|rho| < 1``; ``-1/(d-1) < within < 1``.
    """
    d = _check_int(d, "d", 2)
    rho = _check_rho(rho)
    within = _check_real(within, "within")
    rotation = _check_real(rotation, "rotation")
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
    n: int, joint_cov: torch.Tensor, family: str = "gaussian", generator: Generator = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` joint pairs ``(z_A, z_B)`` with covariance ``joint_cov`` (``[2d, 2d]``) and a chosen law.

    ``[z_A, z_B] = L w`` with ``L`` the symmetric square root of ``joint_cov`` and ``w`` i.i.d. zero-mean,
    unit-variance entries from ``family`` (one of :data:`FAMILIES`). Every family has *exactly the same
    second moments*; only ``family="gaussian"`` is jointly Gaussian, so differences between families
    isolate the Gaussian (Isserlis) assumption. Returns ``(za, zb)``, each ``[n, d]`` float64.
    """
    n = _check_int(n, "n", 1)
    cov = _check_square(joint_cov, "joint_cov").double()
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
    n: int, d: int, rho: float, d_in: int | None = None, generator: Generator = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch-standardised ReLU features of two correlated Gaussian views: a non-Gaussian, network-like case.

    ``x_A, x_B`` are correlated Gaussians (:func:`sample_correlated_gaussians`, ``d_in`` dims, correlation
    ``rho``); a shared random layer ``W`` (``[d, d_in]``, ``d_in = 2d`` by default) gives
    ``z = standardise(relu(x W^T))``. Returns ``(za, zb)``, each ``[n, d]`` float64.
    """
    n = _check_int(n, "n", 2)
    d = _check_int(d, "d", 1)
    d_in = 2 * d if d_in is None else _check_int(d_in, "d_in", 1)
    xa, xb = sample_correlated_gaussians(n, d_in, rho, generator)
    w = torch.randn(d, d_in, generator=generator, dtype=torch.float64) / math.sqrt(d_in)
    return standardise(F.relu(xa @ w.T)), standardise(F.relu(xb @ w.T))


def excess_kurtosis(z: torch.Tensor) -> float:
    """Column-averaged excess kurtosis ``E[(z - mu)^4] / Var^2 - 3`` of ``z`` (``[N, d]``); 0 if Gaussian."""
    z = _check_tensor(z, "z", 2)
    c = z - z.mean(0)
    return float(((c**4).mean(0) / (c**2).mean(0) ** 2 - 3.0).mean())


def cumulant_study(t: torch.Tensor, taus: Sequence[float], lo: float = -1.0, hi: float = 1.0) -> pd.DataFrame:
    """Second-order cumulant expansion of the DV marginal term for the critics ``T = t / tau`` (Eqs. 21-23).

    ``t``: samples of a base critic under the product of marginals (e.g. the off-diagonal cosines of a
    batch), with values in ``[lo, hi]``. For each ``tau``: ``k1 = K(1)`` (exact, empirical), the
    expansions with weight ``1/2`` (Eq. 23) and ``1`` (Eq. 11), the remainder ``R_2(1)``, the bound
    :func:`remainder_bound` on ``[lo/tau, hi/tau]`` and the relative errors of both expansions.
    """
    t = _flat(t)
    lo, hi = _check_real(lo, "lo"), _check_real(hi, "hi")
    rows = []
    for tau in taus:
        tau = _check_real(tau, "taus[...]", positive=True)
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
    za, zb = _check_pair(za, zb)
    sa, sb, _ = _check_cov_triplet(sigma_a, sigma_b, None)
    rows = []
    for scale in scales:
        scale = _check_real(scale, "scales[...]", positive=True)
        exact = gaussian_dot_marginal_log_mgf(sa, sb, 1.0, scale)
        expansion = float(torch.trace(sa @ sb)) / (2 * scale**2)
        for n in batch_sizes:
            n = _check_int(n, "batch_sizes[...]", 2)
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
    za: torch.Tensor, zb: torch.Tensor, generator: Generator = None
) -> dict[str, float]:
    """Measure ``Var[sum_i z_i^A z_i^B]`` (Eqs. 25-28) under the joint and under the product of marginals.

    ``za, zb``: ``[N, d]`` joint pairs; they are batch-standardised first (Barlow Twins' convention). With
    ``C`` the cross-correlation and ``S_A, S_B`` the within-view correlations, returns (all floats):

    * ``bt_offdiag = sum_{i != j} C_ij^2`` (the paper's approximation, Eq. 28 and Eq. 13);
    * ``cross_offdiag = sum_{i != j} C_ij C_ji`` (Isserlis under the joint, decorrelated views);
    * ``within_offdiag = sum_{i != j} (S_A)_ij (S_B)_ij`` (exact under the product of marginals);
    * ``joint_offdiag``, ``joint_var``: measured ``sum_{i != j} Cov(X_i, X_j)`` and ``Var[T]`` over the joint
      pairs, and ``joint_var_isserlis = tr(S_A S_B) + tr(C C)``, the Gaussian prediction;
    * ``marginal_offdiag``, ``marginal_var``: the same measured over marginal pairs (a random derangement,
      :func:`marginal_pairs`), and ``marginal_var_formula = tr(S_A S_B)``.
    """
    za, zb = _check_pair(za, zb)
    a, b = standardise(za), standardise(zb)
    c = cross_covariance(a, b)
    sa, sb = cross_covariance(a, a), cross_covariance(b, b)
    cj = product_feature_covariance(a, b)
    cp = product_feature_covariance(*marginal_pairs(a, b, generator))
    return {
        "bt_offdiag": off_diagonal_sum(c * c),
        "cross_offdiag": off_diagonal_sum(c * c.T),
        "within_offdiag": off_diagonal_sum(sa * sb),
        "joint_offdiag": off_diagonal_sum(cj),
        "joint_var": float(cj.sum()),
        "joint_var_isserlis": float(torch.trace(sa @ sb) + torch.trace(c @ c)),
        "marginal_offdiag": off_diagonal_sum(cp),
        "marginal_var": float(cp.sum()),
        "marginal_var_formula": float(torch.trace(sa @ sb)),
    }


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
    ``tr(C)/s - tr(S_A S_B)/(2 s^2)``), ``sum_cii``, ``bt_offdiag = sum_{i != j} C_ij^2``,
    ``within_offdiag = sum_{i != j} (S_A)_ij (S_B)_ij``, ``paper_eq13 = -sum_i C_ii + sum_{i != j} C_ij^2``
    (a loss) and ``bt_loss = sum_i (1 - C_ii)^2 + lambd bt_offdiag``.
    """
    d = _check_int(d, "d", 2)
    rho = _check_rho(rho)
    scale = _check_real(scale, "scale", positive=True)
    lambd = _check_real(lambd, "lambd", nonneg=True)
    rows = []
    for family, values in (("rotation", rotations), ("within", withins)):
        for v in values:
            g = torch.Generator().manual_seed(seed)
            kw = {"rotation": v} if family == "rotation" else {"within": v}
            cov = view_covariance(d, rho, generator=g, **kw)
            sa, sb, c = cov[:d, :d], cov[d:, d:], cov[:d, d:]
            cii = torch.diagonal(c)
            bt_off = off_diagonal_sum(c * c)
            rows.append({
                "family": family, "param": float(v),
                "true_mi": gaussian_mi_from_cov(sa, sb, c),
                "dv_dot": gaussian_dot_dv(sa, sb, c, scale),
                "taylor_dv": float(torch.trace(c)) / scale - float(torch.trace(sa @ sb)) / (2 * scale**2),
                "sum_cii": float(cii.sum()),
                "bt_offdiag": bt_off,
                "within_offdiag": off_diagonal_sum(sa * sb),
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
    families: Sequence[str] = (*FAMILIES, "relu"),
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
    n = _check_int(n, "n", 4)
    n_mgf = _check_int(n_mgf, "n_mgf", 2)
    rows = []
    for fam in families:
        g = torch.Generator().manual_seed(_check_int(seed, "seed", 0))
        if fam == "relu":
            za, zb = sample_relu_views(n, d, rho, generator=g)
        else:
            g_cov = torch.Generator().manual_seed(seed)
            cov = view_covariance(d, rho, within=within, rotation=rotation, generator=g_cov)
            za, zb = sample_views(n, cov, fam, g)
        vd = variance_decomposition(za, zb, g)
        a, b = standardise(za[:n_mgf]), standardise(zb[:n_mgf])
        cos_off = bounds.off_diagonal(bounds.cosine_scores(a, b, tau))
        dot_off = bounds.off_diagonal(a @ b.T / scale)
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
