"""One entry point for every data set: ``load_dataset(name, data_dir) -> SSLData``.

=============  ========  ============================  ==========================================
name           modality  train / test                  where it comes from
=============  ========  ============================  ==========================================
gaussian       vector    2,500 / 2,500 x 2             generated (the paper's toy, seeded)
mnist1d        signal    4,000 / 1,000 x [1, 40]       generated offline by ``mnist1d``, cached
digits         image     1,347 / 450 x [1, 8, 8]       bundled with scikit-learn
cifar10        image     50,000 / 10,000 x [3, 32, 32] ``<data_dir>/cifar-10-batches-py``
cifar100       image     50,000 / 10,000 x [3, 32, 32] ``<data_dir>/cifar-100-python``
tinyimagenet   image     100,000 / 10,000 x [3, 64, 64] ``<data_dir>/tiny-imagenet-200``
imagenet100    image     ~126,689 / 5,000 x [3, S, S]  ``<data_dir>/train``, ``<data_dir>/val``
=============  ========  ============================  ==========================================

The first three need no files and no network. Images are uint8 ``[N, C, H, W]``; labels int64.
"""

from __future__ import annotations

from pathlib import Path

from .base import DatasetError, SSLData
from .cache import default_cache_dir, default_data_dir
from .gaussian import load_gaussian

DATASETS: tuple[str, ...] = (
    "gaussian", "mnist1d", "digits", "cifar10", "cifar100", "tinyimagenet", "imagenet100",
)

#: Data sets read from files under ``data_dir``.
FILE_DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "tinyimagenet", "imagenet100")

_ALIASES = {n.replace("_", "").replace("-", ""): n for n in DATASETS} | {"tinyimagenet200": "tinyimagenet"}


def canonical_name(name: str) -> str:
    """``name`` as in :data:`DATASETS`; case, ``-``, ``_`` are ignored (``"CIFAR-10"`` -> ``"cifar10"``)."""
    key = str(name).lower().replace("_", "").replace("-", "")
    if key not in _ALIASES:
        raise DatasetError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    return _ALIASES[key]


_DESCRIPTIONS = {
    "gaussian": "vector [2]: the paper's 5-cluster toy (Sec. 4.2), 2,500 train / 2,500 test; generated, seeded",
    "mnist1d": "signal [1, 40]: MNIST-1D, 4,000 / 1,000, 10 classes; generated offline, cached (~3 s once)",
    "digits": "image [1, 8, 8]: scikit-learn's bundled digits, 1,347 / 450, 10 classes; no files needed",
    "cifar10": "image [3, 32, 32]: 50,000 / 10,000, 10 classes; needs <data-dir>/cifar-10-batches-py "
               "(or download=True with a network)",
    "cifar100": "image [3, 32, 32]: 50,000 / 10,000, 100 classes; needs <data-dir>/cifar-100-python "
                "(or download=True with a network)",
    "tinyimagenet": "image [3, 64, 64]: 100,000 / 10,000, 200 classes; needs <data-dir>/tiny-imagenet-200 "
                    "(decoded once into a cache, 1.2 GB)",
    "imagenet100": "image [3, 224, 224]: ~126,689 / 5,000, 100 classes; needs <data-dir>/train/<wnid>/, "
                   "<data-dir>/val/<wnid>/ (decoded once into a cache, 19 GB at 224 px)",
}


def describe(name: str) -> str:
    """One line: what data set ``name`` is and what it needs on disk."""
    return _DESCRIPTIONS[canonical_name(name)]


def load_dataset(name: str, data_dir: str | Path | None = None, *, seed: int = 0, download: bool = False,
                 image_size: int | None = None, cache_dir: str | Path | None = None) -> SSLData:
    """Load data set ``name`` (one of :data:`DATASETS`) as an :class:`SSLData`.

    Args:
        name: data set name; case, ``-`` and ``_`` are ignored.
        data_dir: folder holding the files of ``cifar10``/``cifar100``/``tinyimagenet``/``imagenet100``
            (see each loader for the layout); default ``$MI_SSL_DATA_DIR`` or ``~/.cache/mi_ssl``.
            For ``mnist1d`` it is where the generated arrays are cached, if given.
        seed: sampling seed of the generated ``gaussian`` toy. ``mnist1d`` is always the standard
            MNIST-1D (its generator's seed 42) and ``digits`` always the same fixed split, so results
            compare across runs and with the literature.
        download: CIFAR only: fetch the archives with torchvision's downloader if they are missing
            (needs a network).
        image_size: side of the stored square images for ``tinyimagenet`` (default 64) and
            ``imagenet100`` (default 224; see :mod:`mi_ssl.data.folders` for the memory this takes).
        cache_dir: where generated/decoded arrays go (default: ``data_dir`` for ``mnist1d``; beside
            the images, else ``$MI_SSL_CACHE_DIR`` or ``~/.cache/mi_ssl``, for the JPEG data sets).

    Raises:
        DatasetError: unknown name, or a missing or malformed data directory; the message says
            what was expected and where.
    """
    key = canonical_name(name)
    if image_size is not None and key not in ("tinyimagenet", "imagenet100"):
        raise ValueError(f"image_size applies to tinyimagenet and imagenet100 only, not {key!r}")
    if image_size is not None and image_size < 8:
        raise ValueError(f"image_size must be >= 8 pixels, got {image_size}")
    cache = Path(cache_dir).expanduser() if cache_dir is not None else None
    if key == "gaussian":
        return load_gaussian(seed)
    if key == "mnist1d":
        from .mnist1d_data import load_mnist1d

        where = cache or (Path(data_dir).expanduser() if data_dir is not None else default_cache_dir())
        return load_mnist1d(where)
    if key == "digits":
        from .digits import load_digits_data

        return load_digits_data()

    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{key}: data_dir {root} is a file; pass the folder that holds the data set")
    if key in ("cifar10", "cifar100"):
        from .cifar import load_cifar

        return load_cifar(key, root, download=download)
    if download:
        raise DatasetError(f"{key}: download=True is not supported (no public automatic download); "
                           f"place the files under --data-dir")
    if key == "tinyimagenet":
        from .folders import load_tinyimagenet

        return load_tinyimagenet(root, image_size=image_size or 64, cache_dir=cache)
    from .folders import load_imagenet100

    return load_imagenet100(root, image_size=image_size or 224, cache_dir=cache)
