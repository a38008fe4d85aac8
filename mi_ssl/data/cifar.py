"""CIFAR-10 and CIFAR-100 (Krizhevsky, 2009) from the standard python-pickle batches.

On disk (as distributed, and as torchvision's downloader extracts them)::

    <data_dir>/cifar-10-batches-py/data_batch_1 .. data_batch_5, test_batch
    <data_dir>/cifar-100-python/train, test

Each file is a pickled dict with ``b"data"`` (uint8 ``[N, 3072]``, channel-major 32x32) and
``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100, the 100-class labels). ``data_dir`` may
also be the batches folder itself. 50,000 train / 10,000 test images, uint8 ``[N, 3, 32, 32]``
(150 MB for the training set).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .base import DatasetError, SSLData
from .stats import CHANNEL_STATS


@dataclass(frozen=True)
class _Layout:
    folder: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    label_key: str
    num_classes: int


_LAYOUTS = {
    "cifar10": _Layout("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",),
                       "labels", 10),
    "cifar100": _Layout("cifar-100-python", ("train",), ("test",), "fine_labels", 100),
}


def _find_root(data_dir: Path, layout: _Layout) -> Path | None:
    for root in (data_dir / layout.folder, data_dir):
        if all((root / f).is_file() for f in layout.train + layout.test):
            return root
    return None


def _missing_message(name: str, data_dir: Path, layout: _Layout) -> str:
    root = data_dir if data_dir.name == layout.folder else data_dir / layout.folder
    missing = [f for f in layout.train + layout.test if not (root / f).is_file()]
    expected = ", ".join(layout.train + layout.test)
    return (f"{name}: expected {root}/{expected}; not found: {', '.join(missing)}. "
            f"Pass --data-dir (data_dir=) pointing at the folder that contains {layout.folder}/, "
            f"or download=True where a network exists.")


def _read_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except Exception as e:  # noqa: BLE001 - any unpickling failure means the file is not a CIFAR batch
        raise DatasetError(f"{path}: not a readable CIFAR pickle batch ({type(e).__name__}: {e})") from e
    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: expected a pickled dict with keys b'data' and b'{label_key}', "
                           f"got {type(batch).__name__}")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or label_key not in batch:
        raise DatasetError(f"{path}: expected keys b'data' and b'{label_key}', found "
                           f"{sorted(map(str, batch))}")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(f"{path}: b'data' must be uint8 [N, 3072], got {data.dtype} {list(data.shape)}")
    if labels.shape != (data.shape[0],):
        raise DatasetError(f"{path}: {data.shape[0]} images but {labels.shape[0]} labels")
    return data.reshape(-1, 3, 32, 32), labels


def _download(name: str, data_dir: Path) -> None:
    """Fetch and unpack the archive torchvision's ``CIFAR10``/``CIFAR100`` name (URL, file name, MD5)."""
    from torchvision import datasets
    from torchvision.datasets.utils import download_and_extract_archive

    cls = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    try:
        download_and_extract_archive(cls.url, str(data_dir), filename=cls.filename, md5=cls.tgz_md5)
    except Exception as e:  # noqa: BLE001 - no network, refused, checksum, disk: one message for all
        reason = " ".join(f"{type(e).__name__}: {e}".split())
        reason = reason if len(reason) <= 160 else reason[:157] + "..."
        raise DatasetError(f"{name}: download of {cls.url} into {data_dir} failed ({reason}); without a network, "
                           f"fetch {cls.filename} elsewhere, unpack it into a folder and pass --data-dir") from None


def load_cifar(name: str, data_dir: Path, *, download: bool = False) -> SSLData:
    """CIFAR-10 or CIFAR-100 (``name``) from ``data_dir``.

    Returns uint8 images ``[50000, 3, 32, 32]`` (train) and ``[10000, 3, 32, 32]`` (test).
    """
    layout = _LAYOUTS[name]
    data_dir = Path(data_dir).expanduser()
    root = _find_root(data_dir, layout)
    if root is None and download:
        _download(name, data_dir)
        root = _find_root(data_dir, layout)
    if root is None:
        raise DatasetError(_missing_message(name, data_dir, layout))

    def read(files: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [_read_batch(root / f, layout.label_key) for f in files]
        x = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        if y.size and (y.min() < 0 or y.max() >= layout.num_classes):
            raise DatasetError(f"{name}: labels in {root} must lie in [0, {layout.num_classes}), "
                               f"got [{y.min()}, {y.max()}]")
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)

    train_x, train_y = read(layout.train)
    test_x, test_y = read(layout.test)
    mean, std = CHANNEL_STATS[name]
    return SSLData(name, "image", train_x, train_y, test_x, test_y, layout.num_classes, mean=mean, std=std,
                   source=str(root))
