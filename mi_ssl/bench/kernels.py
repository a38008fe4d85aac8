"""Forward + backward time of N x N objectives and estimators, next to the plain N x N floor.

A *kernel* is any callable ``(za [N, D], zb [N, D]) -> scalar``; :func:`time_kernels` times
``kernel(za, zb).backward()`` for every kernel of a dict at each batch size, in one process, with the
kernels interleaved round by round (so a machine whose load drifts slows them alike) and reports the
median. The **floor** is the N x N work written plainly in autograd: one score matrix, one elementwise
pass, one reduction, and their backward, ``S = za @ zb.T; S.exp().sum().backward()``. It is a reference,
not a lower bound: :func:`mi_ssl.bounds.row_logsumexp` does the same passes in base 2 and with the
backward's products laid out for the BLAS, and runs under it on a CPU. Timing a new
kernel is adding it to the dict and re-running; nothing here knows what a kernel computes.

lightly's ``NTXentLoss`` (an optional dependency: ``pip install mi-ssl[bench]``) is timed beside
:func:`mi_ssl.objectives.nt_xent`, the loss it computes (SimCLR's 2N-view NT-Xent, no memory bank).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from .. import bounds, objectives
from ..checks import finite_checks

__all__ = ["Kernel", "FLOOR", "floor", "objective_kernels", "lightly_kernels", "random_pair", "time_kernels"]

Kernel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: Name of the floor kernel in every timing table.
FLOOR = "floor"


def floor(za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """The plain N x N floor: ``(za @ zb.T).exp().sum()`` (one matrix product, one exp, one sum). Scalar."""
    return (za @ zb.T).exp().sum()


def objective_kernels(tau: float = 0.1, track_tau: float = 1.0) -> dict[str, Kernel]:
    """The N x N losses of :mod:`mi_ssl.objectives` at temperature ``tau`` (their default), and the
    score-matrix estimators of :mod:`mi_ssl.bounds` on cosine scores at ``track_tau`` (as ``fit``'s MI
    tracking computes them), by name."""
    def on_cosine(estimator: Callable[[torch.Tensor], torch.Tensor]) -> Kernel:
        return lambda za, zb: estimator(bounds.cosine_scores(za, zb, track_tau))

    return {
        "objectives.cos_dv": lambda za, zb: objectives.cos_dv(za, zb, tau),
        "objectives.nt_xent": lambda za, zb: objectives.nt_xent(za, zb, tau),
        "objectives.moco_infonce": lambda za, zb: objectives.moco_infonce(za, zb, tau),
        "bounds.dv(cosine_scores)": on_cosine(bounds.dv),
        "bounds.infonce(cosine_scores)": on_cosine(bounds.infonce),
        "bounds.jsd(cosine_scores)": on_cosine(bounds.jsd),
        "bounds.nwj(cosine_scores)": on_cosine(bounds.nwj),
    }


def lightly_kernels(tau: float = 0.1) -> tuple[dict[str, Kernel], dict[str, Any]]:
    """lightly's losses that compute one of ours, and what the record says about them.

    Returns ``(kernels, info)``: ``{"lightly.NTXentLoss": ...}`` and ``{"available": True, "version": ...,
    "compares_with": {"lightly.NTXentLoss": "objectives.nt_xent"}}`` where lightly imports; else ``{}`` and
    ``{"available": False, "reason": ...}``.
    """
    try:
        import lightly
        from lightly.loss import NTXentLoss
    except Exception as e:           # ImportError, or a broken optional install: the record says which
        return {}, {"available": False, "reason": f"{type(e).__name__}: {e}"[:300]}
    loss = NTXentLoss(temperature=tau, memory_bank_size=0)
    return ({"lightly.NTXentLoss": lambda za, zb: loss(za, zb)},
            {"available": True, "version": getattr(lightly, "__version__", "unknown"),
             "compares_with": {"lightly.NTXentLoss": "objectives.nt_xent"}})


def random_pair(n: int, dim: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two float32 leaves ``[n, dim]`` that require gradients: ``zb`` is ``za`` plus noise (a positive pair)."""
    g = torch.Generator().manual_seed(seed)
    za = torch.randn(n, dim, generator=g)
    zb = za + 0.5 * torch.randn(n, dim, generator=g)
    return za.requires_grad_(), zb.requires_grad_()


def _once(fn: Kernel, za: torch.Tensor, zb: torch.Tensor) -> float:
    za.grad = zb.grad = None
    t0 = time.perf_counter()
    fn(za, zb).backward()
    return time.perf_counter() - t0


def time_kernels(kernels: Mapping[str, Kernel], sizes: Sequence[int], *, dim: int = 3, seed: int = 0,
                 budget_s: float = 2.0, min_repeats: int = 3, max_repeats: int = 25,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Forward + backward milliseconds of each kernel at each ``N`` in ``sizes``, with the floor beside them.

    At each ``N``, every kernel (and :func:`floor`, always) runs once untimed; the repeats
    ``r = clip(budget_s / sum of those times, min_repeats, max_repeats)`` then run round by round, one
    call of each kernel per round, on the same ``[N, dim]`` inputs, with finite checks off (as in ``fit``).

    Returns ``{"sizes", "dim", "repeats": {N: r}, "ms": {name: {N: median}}, "min_ms": {...},
    "ratio_to_floor": {name: {N: median / floor's median}}}`` (``N`` as a string key, as in JSON).
    """
    if not sizes or any(not isinstance(n, int) or n < 2 for n in sizes):
        raise ValueError(f"sizes={list(sizes)!r} is not allowed; expected batch sizes N >= 2")
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim={dim!r} is not allowed; expected an integer >= 1")
    if not 1 <= min_repeats <= max_repeats:
        raise ValueError(f"min_repeats={min_repeats}, max_repeats={max_repeats}: need 1 <= min_repeats <= max_repeats")
    named = {FLOOR: floor, **{k: v for k, v in kernels.items() if k != FLOOR}}
    out: dict[str, Any] = {"sizes": list(sizes), "dim": dim, "repeats": {}, "ms": {k: {} for k in named},
                           "min_ms": {k: {} for k in named}, "ratio_to_floor": {k: {} for k in named}}
    with finite_checks(False):
        for n in sizes:
            za, zb = random_pair(n, dim, seed)
            first = {k: _once(fn, za, zb) for k, fn in named.items()}
            r = int(min(max_repeats, max(min_repeats, math.ceil(budget_s / max(sum(first.values()), 1e-9)))))
            times: dict[str, list[float]] = {k: [] for k in named}
            for _ in range(r):
                for k, fn in named.items():
                    times[k].append(_once(fn, za, zb))
            key = str(n)
            out["repeats"][key] = r
            for k, ts in times.items():
                out["ms"][k][key] = 1e3 * statistics.median(ts)
                out["min_ms"][k][key] = 1e3 * min(ts)
            for k in named:
                out["ratio_to_floor"][k][key] = out["ms"][k][key] / out["ms"][FLOOR][key]
            if log is not None:
                log(f"N={n:6d} ({r} repeats): floor {out['ms'][FLOOR][key]:9.2f} ms; " + ", ".join(
                    f"{k} {out['ratio_to_floor'][k][key]:.2f}x" for k in named if k != FLOOR))
            del za, zb
    return out
