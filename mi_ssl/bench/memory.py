"""Peak CPU memory of one kernel's forward + backward, measured in a fresh process.

Method (recorded with every measurement): a new Python process imports torch and :mod:`mi_ssl`, runs the
kernel once at ``N = 256`` (so code, thread pools and allocator state exist before the measurement) and
makes the two ``[N, D]`` inputs. On Linux it then resets the process's peak resident set size (writing
``5`` to ``/proc/self/clear_refs``, after which ``VmHWM`` in ``/proc/self/status`` equals the current
``VmRSS``), runs the kernel's forward and backward once, and reads ``VmHWM`` again. The rise of the peak
over the resident size just before the call is the most memory the call held at once: every tensor it
allocated and had not yet freed (the score matrix, what autograd saved, the gradients), measured by the
operating system rather than by the code under test. Where the peak cannot be reset, the peak of
``getrusage`` is used, and the rise counts only if the call set a new peak (``valid``). The ratio divides the
rise by the bytes of one N x N float32 matrix (``4 N^2``).

Resident memory counts pages, not allocations: at small ``N`` a tensor can reuse heap pages that are already
resident and go uncounted. Once one N x N matrix is larger than glibc's largest mmap threshold (32 MiB, from
``N`` of about 2,900 in float32), every such allocation is a fresh mapping and is counted in full, so the
measurement at ``N = 8192`` is complete.
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

METHOD = ("fresh subprocess per kernel, one torch thread; warm-up call at N=256; peak RSS reset "
          "(/proc/self/clear_refs) just before one forward+backward, then peak RSS (VmHWM) minus the RSS before the "
          "call; ratio to one N x N float32 matrix (4 N^2 bytes)")


def matrix_bytes(n: int) -> int:
    """Bytes of one ``[n, n]`` float32 matrix."""
    return 4 * n * n


def _status_kib(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in bytes; ``None`` off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_peak() -> bool:
    """Reset this process's peak RSS (Linux >= 4.0); ``False`` where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


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
    reset = _reset_peak()
    rss0 = _status_kib("VmRSS")
    peak0 = _status_kib("VmHWM") if reset else max_rss_bytes()
    with finite_checks(False):
        fn(za, zb).backward()
    peak1 = _status_kib("VmHWM") if reset else max_rss_bytes()
    valid = None not in (rss0, peak0, peak1) and (reset or peak1 > peak0)
    rise = peak1 - rss0 if valid else None
    return {"n": n, "dim": dim, "peak_reset": reset, "valid": valid,
            "rss_before_mib": rss0 / 2**20 if rss0 else None, "peak_after_mib": peak1 / 2**20 if peak1 else None,
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
