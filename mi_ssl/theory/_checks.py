"""Input checks that only the theory modules need, built on :mod:`mi_ssl.checks`.

A correlation ``|rho| < 1``, a square ``[d, d]`` matrix, and the covariance triplet
``(Sigma_A, Sigma_B, C)`` of two views. Errors name the parameter, its value and what is allowed.
"""

from __future__ import annotations

import torch

from ..checks import check_real, check_tensor


def check_rho(rho: object, name: str = "rho") -> float:
    """A correlation: a finite real with ``|rho| < 1``."""
    rho = check_real(rho, name)
    if not -1.0 < rho < 1.0:
        raise ValueError(f"{name} must satisfy |{name}| < 1 (a correlation), got {name}={rho}")
    return rho


def check_square(m: object, name: str) -> torch.Tensor:
    """A finite floating-point square ``[d, d]`` matrix, as ``float64``."""
    m = check_tensor(m, name, 2)
    if m.shape[0] != m.shape[1]:
        raise ValueError(f"{name} must be a square [d, d] matrix, got shape {tuple(m.shape)}")
    return m.double()


def check_covariances(
    sigma_a: object, sigma_b: object, cross: object | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``Sigma_A, Sigma_B`` and (optional) ``C = E[z_A z_B^T]``: square, all of one shape ``[d, d]``, ``float64``."""
    sa = check_square(sigma_a, "sigma_a")
    sb = check_square(sigma_b, "sigma_b")
    if sa.shape != sb.shape:
        raise ValueError(
            f"sigma_a and sigma_b must have the same shape, got {tuple(sa.shape)} and {tuple(sb.shape)}"
        )
    c = None
    if cross is not None:
        c = check_square(cross, "cross")
        if c.shape != sa.shape:
            raise ValueError(f"cross must have shape {tuple(sa.shape)} like sigma_a, got {tuple(c.shape)}")
    return sa, sb, c
