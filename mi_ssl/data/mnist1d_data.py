"""MNIST-1D (Greydanus & Kobak, 2020), generated offline by the ``mnist1d`` package, cached as ``.npz``.

Ten 1-D digit templates are padded, stretched, scaled, translated, sheared and corrupted by
correlated and i.i.d. noise, then resampled to 40 points. With the package's default arguments
(:data:`MNIST1D_ARGS`, seed 42) this is the standard data set: 5,000 signals, the first 4,000 (after
the package's shuffle) for training and the last 1,000 for testing, standardised to mean 0 and std 1
over the whole set. Generation never touches the network (``mnist1d.data.make_dataset``, not
``get_dataset``, which may download) and takes a couple of seconds; the arrays are then cached.
"""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import numpy as np
import torch

from .base import SSLData
from .cache import cache_key, save_npz_atomic

#: ``mnist1d.data.get_dataset_args()`` of mnist1d 0.0.2 (without its download URL), pinned so the
#: cache key, and the data, do not move if the package's defaults do.
MNIST1D_ARGS: dict[str, object] = {
    "num_samples": 5000,
    "train_split": 0.8,
    "template_len": 12,
    "padding": [36, 60],
    "scale_coeff": 0.4,
    "max_translation": 48,
    "corr_noise_scale": 0.25,
    "iid_noise_scale": 2e-2,
    "shear_scale": 0.75,
    "shuffle_seq": False,
    "final_seq_length": 40,
    "seed": 42,
}
_FORMAT = 1


def generate_mnist1d(args: dict[str, object] | None = None) -> dict[str, np.ndarray]:
    """Run the ``mnist1d`` generator; returns ``x [N, L]``, ``y [N]``, ``x_test``, ``y_test`` (numpy).

    The package seeds NumPy's and Python's global generators; their states are restored afterwards.
    """
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(ObjectView(dict(args or MNIST1D_ARGS)))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}


def load_mnist1d(cache_dir: Path) -> SSLData:
    """MNIST-1D: train float32 ``[4000, 1, 40]``, test ``[1000, 1, 40]``, 10 classes; cached in ``cache_dir``.
    """
    path = Path(cache_dir) / f"mnist1d-{cache_key(_FORMAT, MNIST1D_ARGS)}.npz"
    arrays = None
    if path.exists():
        try:
            with np.load(path) as f:
                arrays = {k: f[k] for k in ("x", "y", "x_test", "y_test")}
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            arrays = None                       # unreadable cache: regenerate
    if arrays is None:
        arrays = generate_mnist1d()
        arrays = {"x": arrays["x"].astype(np.float32), "y": arrays["y"].astype(np.int64),
                  "x_test": arrays["x_test"].astype(np.float32), "y_test": arrays["y_test"].astype(np.int64)}
        try:
            save_npz_atomic(path, **arrays)
        except OSError:
            pass                                # read-only cache location: still return the data
    return SSLData(
        "mnist1d", "signal",
        torch.from_numpy(arrays["x"]).float().unsqueeze(1), torch.from_numpy(arrays["y"]).long(),
        torch.from_numpy(arrays["x_test"]).float().unsqueeze(1), torch.from_numpy(arrays["y_test"]).long(),
        num_classes=10,
        source=f"mnist1d package, generated offline (seed {MNIST1D_ARGS['seed']}); cache {path}",
    )
