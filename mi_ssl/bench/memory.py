"""Peak CPU memory of one kernel's forward + backward, measured in a fresh process.

Method (recorded with every measurement): a new Python process imports torch and :mod:`mi_ssl`, runs the
kernel once at ``N = 256`` (so code, thread pools and allocator state exist before the measurement), makes
the two ``[N, D]`` inputs, and reads its resident set size (``/proc/self/statm``) and its peak resident set
size (``getrusage(RUSAGE_SELF).ru_maxrss``). It then runs the kernel's forward and backward once and reads
the peak again. The rise of the peak over the resident size just before the call is the most memory the
call held at once: every tensor it allocated and had not yet freed (the score matrix, what autograd saved,
the gradients), measured by the operating system rather than by the code under test. It is valid when the
call set a new peak (``new_peak: true``); for an N x N kernel at large N it does by far. The ratio divides
that rise by the bytes of one N x N float32 matrix (``4 N^2``).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["METHOD", "peak_memory", "matrix_bytes"]

METHOD = ("fresh subprocess per kernel; warm-up call at N=256; peak RSS (getrusage ru_maxrss) after one "
          "forward+backward minus current RSS (/proc/self/statm) just before it; ratio to one N x N float32 "
          "matrix (4 N^2 bytes)")


def matrix_bytes(n: int) -> int:
    """Bytes of one ``[n, n]`` float32 matrix."""
    return 4 * n * n


def _rss_now() -> int | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _child(name: str, n: int, dim: int, seed: int) -> dict[str, Any]:
    """Runs in the fresh process: the measurement described in the module docstring."""
    import torch

    from ..checks import finite_checks
    from .kernels import FLOOR, floor, objective_kernels, random_pair
    from .measure import max_rss_bytes

    torch.set_num_threads(1)
    fn = {FLOOR: floor, **objective_kernels()}[name]
    with finite_checks(False):
        za, zb = random_pair(256, dim, seed)
        fn(za, zb).backward()
    za, zb = random_pair(n, dim, seed)
    gc.collect()
    rss0, peak0 = _rss_now(), max_rss_bytes()
    with finite_checks(False):
        fn(za, zb).backward()
    peak1 = max_rss_bytes()
    rise = peak1 - rss0 if rss0 is not None and peak1 is not None else None
    return {"n": n, "dim": dim, "rss_before_mib": rss0 / 2**20 if rss0 else None,
            "peak_before_mib": peak0 / 2**20 if peak0 else None, "peak_after_mib": peak1 / 2**20 if peak1 else None,
            "new_peak": bool(peak1 and peak0 and peak1 > peak0),
            "peak_rise_mib": rise / 2**20 if rise is not None else None,
            "ratio_to_matrix": rise / matrix_bytes(n) if rise is not None else None}


def peak_memory(name: str, n: int = 8192, dim: int = 3, seed: int = 0, timeout_s: float = 600) -> dict[str, Any]:
    """Peak memory of kernel ``name`` (the floor or one of :func:`~mi_ssl.bench.kernels.objective_kernels`)
    at ``[n, dim]``, in a fresh process, with one torch thread. See the module docstring for the method.

    Raises ``ValueError`` for an unknown kernel name and ``RuntimeError`` if the process fails.
    """
    from .kernels import FLOOR, objective_kernels

    known = [FLOOR, *objective_kernels()]
    if name not in known:
        raise ValueError(f"name={name!r} is not a kernel; allowed: {', '.join(known)}")
    root = str(Path(__file__).resolve().parents[2])          # the folder that holds this mi_ssl
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]),
           "OMP_NUM_THREADS": "1"}
    code = ("import json, sys; from mi_ssl.bench.memory import _child; "
            "print(json.dumps(_child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))")
    proc = subprocess.run([sys.executable, "-c", code, name, str(n), str(dim), str(seed)], env=env,
                          capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"peak-memory process for {name!r} at N={n} failed: {proc.stderr.strip()[-500:]}")
    return {"kernel": name, **json.loads(proc.stdout.strip().splitlines()[-1])}
