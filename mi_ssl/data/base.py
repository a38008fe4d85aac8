"""The one container every dataset loader returns, and the errors loaders raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

Modality = Literal["vector", "signal", "image"]


class DatasetError(ValueError):
    """A dataset name, directory or file that cannot be used; the message says what was expected."""


@dataclass
class SSLData:
    """A labelled train/test split; labels are used only by evaluation, never by pre-training.

    Shapes and dtypes by ``modality``:

    * ``"vector"``: ``train_x`` float32 ``[N, D]`` (the toy Gaussian mixture, ``D = 2``).
    * ``"signal"``: ``train_x`` float32 ``[N, 1, L]`` (MNIST-1D, ``L = 40``).
    * ``"image"``: ``train_x`` uint8 ``[N, C, H, W]`` (digits, CIFAR, TinyImageNet, ImageNet-100);
      ``mean``/``std`` (per channel, in ``[0, 1]`` units) normalise them.

    ``train_y``/``test_y`` are int64 ``[N]`` class indices in ``[0, num_classes)``.
    """

    name: str
    modality: Modality
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x, y = getattr(self, f"{split}_x"), getattr(self, f"{split}_y")
            if x.shape[0] != y.shape[0]:
                raise DatasetError(f"{self.name}: {split}_x has {x.shape[0]} rows but {split}_y has {y.shape[0]}")
        if self.modality == "image" and self.train_x.dtype != torch.uint8:
            raise DatasetError(f"{self.name}: image data must be uint8 [N, C, H, W], got {self.train_x.dtype}")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. ``(2,)``, ``(1, 40)`` or ``(3, 32, 32)``."""
        return tuple(self.train_x.shape[1:])

    def to_float(self, x: torch.Tensor) -> torch.Tensor:
        """Model input for un-augmented data: images -> normalised float, others unchanged (float32)."""
        if self.modality != "image":
            return x.float()
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        return (x.float() / 255.0 - mean) / std

    def subset(self, n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> SSLData:
        """A seeded random subset: ``n_train`` training and ``n_test`` test samples (``None``: all), in their
        original order, labels kept with their samples.

        Runs the paper-scale path (CIFAR, ResNet-18) on a CPU in seconds. The name stays the same, so runs on a
        subset must be cached apart from full runs (:func:`mi_ssl.experiments.run_key` hashes the data too).
        """
        g = torch.Generator().manual_seed(seed)

        def pick(x: torch.Tensor, y: torch.Tensor, n: int | None, name: str) -> tuple[torch.Tensor, torch.Tensor]:
            if n is None or n >= len(x):
                return x, y
            if not isinstance(n, int) or n < 2:
                raise ValueError(f"{name}={n!r} is not allowed; expected None or an integer >= 2")
            idx = torch.randperm(len(x), generator=g)[:n].sort().values
            return x[idx], y[idx]

        tr_x, tr_y = pick(self.train_x, self.train_y, n_train, "n_train")
        te_x, te_y = pick(self.test_x, self.test_y, n_test, "n_test")
        source = f"{self.source} (subset: {len(tr_x)} train / {len(te_x)} test, seed {seed})"
        return SSLData(self.name, self.modality, tr_x, tr_y, te_x, te_y, self.num_classes, mean=self.mean,
                       std=self.std, source=source)

    def __repr__(self) -> str:
        return (
            f"SSLData({self.name!r}, modality={self.modality}, train={tuple(self.train_x.shape)}, "
            f"test={tuple(self.test_x.shape)}, classes={self.num_classes})"
        )
