"""scikit-learn's bundled 8x8 handwritten digits (UCI optdigits test set): real images, no download.

1,797 grey images with intensities 0..16, rescaled to uint8 0..255 (``round(v * 255 / 16)``), split
once into 1,347 train / 450 test, stratified by class, with a fixed seed (the split never changes).
"""

from __future__ import annotations

import numpy as np
import torch

from .base import SSLData
from .stats import CHANNEL_STATS

DIGITS_TEST_SIZE = 450
DIGITS_SPLIT_SEED = 0


def load_digits_data() -> SSLData:
    """digits: train uint8 ``[1347, 1, 8, 8]``, test ``[450, 1, 8, 8]``, 10 classes."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]      # [1797, 1, 8, 8]
    labels = bunch.target.astype(np.int64)
    train, test = train_test_split(np.arange(len(labels)), test_size=DIGITS_TEST_SIZE, stratify=labels,
                                   random_state=DIGITS_SPLIT_SEED)
    mean, std = CHANNEL_STATS["digits"]
    return SSLData(
        "digits", "image",
        torch.from_numpy(images[train]), torch.from_numpy(labels[train]),
        torch.from_numpy(images[test]), torch.from_numpy(labels[test]),
        num_classes=10, mean=mean, std=std,
        source=f"sklearn.datasets.load_digits, stratified split seed {DIGITS_SPLIT_SEED}",
    )
