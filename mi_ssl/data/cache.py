"""Where data and decoded caches live, and atomic writes of cached arrays.

* data root (``data_dir=None``): ``$MI_SSL_DATA_DIR``, else ``~/.cache/mi_ssl``;
* cache root (generated or decoded arrays): ``$MI_SSL_CACHE_DIR``, else ``~/.cache/mi_ssl``.

Cache files are written to a temporary name and renamed into place, so an interrupted write never
leaves a truncated file that a later load would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def default_data_dir() -> Path:
    """``$MI_SSL_DATA_DIR`` or ``~/.cache/mi_ssl``."""
    return Path(os.environ.get("MI_SSL_DATA_DIR") or Path.home() / ".cache" / "mi_ssl").expanduser()


def default_cache_dir() -> Path:
    """``$MI_SSL_CACHE_DIR`` or ``~/.cache/mi_ssl``."""
    return Path(os.environ.get("MI_SSL_CACHE_DIR") or Path.home() / ".cache" / "mi_ssl").expanduser()


def cache_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable ``parts`` (names a cache file after what made it)."""
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def save_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez`` to ``path`` via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class AtomicNpy:
    """A ``.npy`` file filled in place through a memory map, renamed into place by :meth:`commit`.

    Lets a decoder write an array larger than memory (e.g. ImageNet-100 at 224 px, ~19 GB).
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype | type) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.tmp = path, _tmp(path)
        self.array = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=dtype, shape=shape)

    def commit(self) -> None:
        self.array.flush()
        del self.array
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if hasattr(self, "array"):
            del self.array
        self.tmp.unlink(missing_ok=True)


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
