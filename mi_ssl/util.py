"""Small helpers every part of :mod:`mi_ssl` needs, written once: atomic file writes, device resolution,
provenance of a result, and a frozen-module context.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["atomic_write", "resolve_device", "git_commit", "git_dirty", "cpu_model", "provenance", "evaluating"]


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> None:
    """Write ``path`` so that a reader sees either the old file or the whole new one, never a part.

    ``write(tmp)`` writes the content to a temporary path beside ``path`` (same file system); the temporary
    file then replaces ``path`` in one ``os.replace``. If ``write`` fails, ``path`` is untouched and the
    temporary file is removed.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def resolve_device(device: str | torch.device | None, name: str = "device") -> torch.device:
    """``auto``/``None`` -> ``cuda`` when available, else ``cpu``; a device string otherwise.

    Raises ``ValueError`` naming ``name`` for a string that is not a device, or for CUDA where none is available.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"{name}={device!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}={device!r} but no CUDA device is available here; use cpu or auto")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{name}={device!r} is not supported; use auto, cpu, cuda or cuda:N")
    return dev


def _git(*args: str) -> str | None:
    """Output of ``git ARGS`` in the checkout :mod:`mi_ssl` is imported from; ``None`` outside git."""
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit() -> str:
    """The short commit of the checkout :mod:`mi_ssl` is imported from; outside git (a copied tree on a
    GPU machine) ``$MI_SSL_COMMIT``, else ``"unknown"``."""
    return _git("rev-parse", "--short", "HEAD") or os.environ.get("MI_SSL_COMMIT") or "unknown"


def git_dirty() -> bool | None:
    """Whether tracked files of that checkout differ from its commit; ``None`` outside git."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status)


def cpu_model() -> str:
    """The host CPU as the kernel names it (``model name`` of ``/proc/cpuinfo``; ``platform.processor()`` where
    there is none) and the instruction set torch's CPU kernels use, e.g. ``"AMD EPYC (AVX512)"``.

    Timings on a shared CPU machine move with the host it lands on; a record that names the CPU says which."""
    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    name = name or platform.processor() or "unknown"
    return f"{name} ({torch.backends.cpu.get_cpu_capability()})"


def provenance(device: torch.device | str = "cpu", **extra: Any) -> dict[str, Any]:
    """Where a result comes from: device name, host CPU (:func:`cpu_model`), torch version, commit, plus any
    ``extra`` fields."""
    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {"device": name, "cpu": cpu_model(), "torch": torch.__version__, "commit": git_commit(), **extra}


@contextlib.contextmanager
def evaluating(*modules: nn.Module) -> Iterator[None]:
    """Run a block with ``modules`` in eval mode and without autograd; each module's mode is restored after."""
    modes = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        with torch.no_grad():
            yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)
