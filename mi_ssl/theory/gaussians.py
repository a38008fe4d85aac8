"""Gaussian closed forms: the test bed whose mutual information is known exactly (book chapter 01).

* **Correlated Gaussians**: ``x ~ N(0, I_d)``, ``y = rho x + sqrt(1 - rho^2) eps``, with
  ``I(x; y) = -(d/2) log(1 - rho^2)``; a sampler; the optimal critic ``T* = log p(y|x) / p(y)`` as an
  ``[N, N]`` score matrix (diagonal = joint pairs, as in :mod:`mi_ssl.bounds`); the MI of any jointly
  Gaussian pair from its covariances.
* **Gaussian channel** (paper Section A.4, Eq. 29): ``x ~ N(0, s^2 I_d)``, ``z_k = x + n_k``; closed forms
  of ``I(x; z_k)`` and ``I(z_1; z_2)`` and a sampler.

All values in nats; tensors are ``float64`` by default (these functions check equations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..checks import check_int, check_pair, check_real
from ._checks import check_covariances, check_rho

__all__ = [
    "gaussian_mi",
    "rho_for_mi",
    "sample_correlated_gaussians",
    "gaussian_optimal_critic",
    "gaussian_mi_from_cov",
    "ChannelMI",
    "gaussian_channel_mi",
    "sample_gaussian_channel",
]


# --------------------------------------------------------------------------- correlated Gaussians
def gaussian_mi(rho: float, d: int = 1) -> float:
    """True MI of the correlated-Gaussian pair, in nats: ``I(x; y) = -(d/2) log(1 - rho^2)``.

    ``x ~ N(0, I_d)``, ``y = rho x + sqrt(1 - rho^2) eps`` with ``eps ~ N(0, I_d)``: ``d`` independent
    coordinate pairs of correlation ``rho``. Args: ``rho`` with ``|rho| < 1``; ``d >= 1``.
    """
    rho = check_rho(rho)
    d = check_int(d, "d", 1)
    return -0.5 * d * math.log1p(-rho * rho)


def rho_for_mi(mi: float, d: int = 1) -> float:
    """Inverse of :func:`gaussian_mi`: the ``rho >= 0`` with ``-(d/2) log(1 - rho^2) = mi``; ``mi >= 0``."""
    mi = check_real(mi, "mi", nonneg=True)
    d = check_int(d, "d", 1)
    return math.sqrt(-math.expm1(-2.0 * mi / d))


def sample_correlated_gaussians(
    n: int,
    d: int,
    rho: float,
    generator: torch.Generator | None = None,
    *,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` joint pairs ``(x_i, y_i)``: ``x ~ N(0, I_d)``, ``y = rho x + sqrt(1 - rho^2) eps``.

    Returns ``(x, y)``, both ``[n, d]``; row ``i`` of both is one joint pair. Sampling runs on the
    CPU ``generator`` (reproducible across devices), then moves to ``device``.
    """
    n = check_int(n, "n", 1)
    d = check_int(d, "d", 1)
    rho = check_rho(rho)
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
    x, y = check_pair(x, y, min_rows=1, names=("x", "y"))
    rho = check_rho(rho)
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
    (``sigma_a``, ``sigma_b`` and ``Sigma`` must be positive definite).
    """
    sa, sb, c = check_covariances(sigma_a, sigma_b, cross)
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
    s = check_real(signal_std, "signal_std", positive=True)
    n1 = check_real(noise_std_1, "noise_std_1", positive=True)
    n2 = check_real(noise_std_2, "noise_std_2", positive=True)
    d = check_int(d, "d", 1)
    s2, v1, v2 = s * s, n1 * n1, n2 * n2
    r2 = s2 * s2 / ((s2 + v1) * (s2 + v2))
    return ChannelMI(
        input_view_1=0.5 * d * math.log1p(s2 / v1),
        input_view_2=0.5 * d * math.log1p(s2 / v2),
        view_view=-0.5 * d * math.log1p(-r2),
        view_correlation=math.sqrt(r2),
    )


def sample_gaussian_channel(
    n: int,
    signal_std: float,
    noise_std_1: float,
    noise_std_2: float,
    generator: torch.Generator | None = None,
    d: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw ``(x, z_1, z_2)``, each ``[n, d]`` float64, from the channel of :func:`gaussian_channel_mi`."""
    n = check_int(n, "n", 1)
    d = check_int(d, "d", 1)
    s = check_real(signal_std, "signal_std", positive=True)
    n1 = check_real(noise_std_1, "noise_std_1", positive=True)
    n2 = check_real(noise_std_2, "noise_std_2", positive=True)
    x = s * torch.randn(n, d, generator=generator, dtype=torch.float64)
    z1 = x + n1 * torch.randn(n, d, generator=generator, dtype=torch.float64)
    z2 = x + n2 * torch.randn(n, d, generator=generator, dtype=torch.float64)
    return x, z1, z2
