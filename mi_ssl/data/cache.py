"""Where data and decoded caches live, and atomic writes of cached arrays.

* data root (``data_dir=None``): ``$MI_SSL_DATA_DIR``, else ``~/.cache/mi_ssl``;
* cache root (generated or decoded arrays): ``$MI_SSL_CACHE_DIR``, else ``~/.cache/mi_ssl``.

Cache files are written with :func:`mi_ssl.util.atomic_write` (a temporary name, then a rename), so an
interrupted write never leaves a truncated file that a later load would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..util import atomic_write


def default_data_dir() -> Path:
    """``$MI_SSL_DATA_DIR`` or ``~/.cache/mi_ssl``."""
    return Path(os.environ.get("MI_SSL_DATA_DIR") or Path.home() / ".cache" / "mi_ssl").expanduser()


def default_cache_dir() -> Path:
    """``$MI_SSL_CACHE_DIR`` or ``~/.cache/mi_ssl``."""
    return Path(os.environ.get("MI_SSL_CACHE_DIR") or Path.home() / ".cache" / "mi_ssl").expanduser()


def cache_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable ``parts`` (names a cache file after what made it)."""
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def save_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez`` to ``path`` atomically (:func:`mi_ssl.util.atomic_write`)."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:      # a file object: np.savez would append ".npz" to a bare path
            np.savez(f, **arrays)

    atomic_write(path, write)


def save_npy_mapped(path: Path, shape: tuple[int, ...], dtype: np.dtype | type,
                    fill: Callable[[np.ndarray], None]) -> None:
    """Write a ``.npy`` array larger than memory (e.g. ImageNet-100 at 224 px, ~19 GB) atomically:
    ``fill(array)`` fills a memory map of a temporary file, which then replaces ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)
        try:
            fill(array)
            array.flush()
        finally:
            del array

    atomic_write(path, write)


def writable_dir(*candidates: Path) -> Path:
    """The first candidate directory that exists or can be created and is writable."""
    for d in candidates:
        try:
            d.mkdir(parents=True, exist_ok=True)
            probe = d / f".write-probe-{os.getpid()}"
            probe.touch()
            probe.unlink()
            return d
        except OSError:
            continue
    raise OSError(f"none of these directories is writable: {', '.join(map(str, candidates))}")
