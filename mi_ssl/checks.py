"""Input checks shared by every public function of :mod:`mi_ssl`: one implementation, one wording.

Each check returns the (converted) value or raises ``TypeError`` (wrong kind) / ``ValueError`` (wrong
value) with a message that names the parameter, the value it got and what is allowed.

Checking that a tensor is finite reads it back to the host (a device synchronisation). Hot loops switch
that one check off with :func:`finite_checks`; shape, dtype and scalar checks always run (they are free).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
import torch

__all__ = [
    "finite_checks",
    "checking_finite",
    "check_tensor",
    "check_pair",
    "check_scores",
    "check_real",
    "check_int",
]

_CHECK_FINITE = True


@contextlib.contextmanager
def finite_checks(enabled: bool) -> Iterator[None]:
    """Turn the (device-synchronising) finiteness check of tensor inputs on or off inside a block."""
    global _CHECK_FINITE
    old, _CHECK_FINITE = _CHECK_FINITE, enabled
    try:
        yield
    finally:
        _CHECK_FINITE = old


def checking_finite() -> bool:
    """Whether tensor inputs are checked for NaN/inf here: off inside ``finite_checks(False)`` and under
    ``torch.compile``. :func:`mi_ssl.training.fit` turns it off and checks its losses every few steps."""
    return _CHECK_FINITE and not torch.compiler.is_compiling()


def check_tensor(x: object, name: str, ndim: int | None = None, *, floating: bool = True) -> torch.Tensor:
    """``x`` as a tensor of rank ``ndim`` (any rank if ``None``), non-empty, floating point if asked, finite
    where :func:`checking_finite`."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D tensor, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if checking_finite() and x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return x


def check_pair(za: object, zb: object, min_rows: int = 2, names: tuple[str, str] = ("za", "zb")
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Two embeddings ``[N, D]`` of the same shape with ``N >= min_rows`` (2 = one joint and one marginal pair)."""
    na, nb = names
    za = check_tensor(za, na, 2)
    zb = check_tensor(zb, nb, 2)
    if za.shape != zb.shape:
        raise ValueError(f"{na} and {nb} must have the same shape [N, D]; got {na} {tuple(za.shape)} "
                         f"and {nb} {tuple(zb.shape)}")
    if za.shape[0] < min_rows:
        raise ValueError(f"{na} and {nb} need at least N={min_rows} rows; got N={za.shape[0]}")
    return za, zb


def check_scores(scores: object, name: str = "scores") -> torch.Tensor:
    """A square score matrix ``[N, N]``, ``N >= 2`` (joint diagonal plus marginal off-diagonal)."""
    s = check_tensor(scores, name, 2)
    if s.shape[0] != s.shape[1]:
        raise ValueError(f"{name} must be a square [N, N] matrix; got shape {tuple(s.shape)}")
    if s.shape[0] < 2:
        raise ValueError(f"{name} needs N >= 2 (joint diagonal plus marginal off-diagonal); got N={s.shape[0]}")
    return s


def check_real(value: object, name: str, *, positive: bool = False, nonneg: bool = False,
               below: float | None = None) -> float:
    """A finite real number (not a bool), optionally ``> 0``, ``>= 0`` or ``< below``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {name}={value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {name}={value}")
    if nonneg and value < 0:
        raise ValueError(f"{name} must be >= 0, got {name}={value}")
    if below is not None and value >= below:
        raise ValueError(f"{name} must be < {below}, got {name}={value}")
    return value


def check_int(value: object, name: str, minimum: int) -> int:
    """An integer (not a bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {name}={value}")
    return int(value)
