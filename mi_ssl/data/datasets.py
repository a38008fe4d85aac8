"""One entry point for every data set: ``load_dataset(name, data_dir) -> SSLData``.

=============  ========  ==============================  ==========================================
name           modality  train / test                    where it comes from
=============  ========  ==============================  ==========================================
gaussian       vector    2,500 / 2,500 x 2               generated (the paper's toy, seeded)
mnist1d        signal    4,000 / 1,000 x [1, 40]         generated offline by ``mnist1d``, cached
digits         image     1,347 / 450 x [1, 8, 8]         bundled with scikit-learn
cifar10        image     50,000 / 10,000 x [3, 32, 32]   ``<data_dir>/cifar-10-batches-py``
cifar100       image     50,000 / 10,000 x [3, 32, 32]   ``<data_dir>/cifar-100-python``
tinyimagenet   image     100,000 / 10,000 x [3, 64, 64]  ``<data_dir>/tiny-imagenet-200``
imagenet100    image     ~126,689 / 5,000 x [3, S, S]    ``<data_dir>/train``, ``<data_dir>/val``
folder         image     yours x [3, S, S]               any ImageFolder tree ``<data_dir>/<class>/*.jpg``
=============  ========  ==============================  ==========================================

The first three need no files and no network. Images are uint8 ``[N, C, H, W]``; labels int64.
"""

from __future__ import annotations

from pathlib import Path

from .base import DatasetError, SSLData
from .cache import default_cache_dir, default_data_dir
from .gaussian import load_gaussian

#: Every data set name :func:`load_dataset` accepts (``mi-ssl train --dataset NAME``).
DATASETS: tuple[str, ...] = (
    "gaussian", "mnist1d", "digits", "cifar10", "cifar100", "tinyimagenet", "imagenet100", "folder",
)

#: Data sets read from files under ``data_dir``.
#: The data sets read from files under a ``data_dir``.
FILE_DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "tinyimagenet", "imagenet100", "folder")

#: Data sets torchvision can download (``download=True``, ``mi-ssl train --download``).
DOWNLOADABLE: tuple[str, ...] = ("cifar10", "cifar100")

#: Data sets decoded from image files, whose stored size ``image_size`` sets: name -> default size.
IMAGE_FILE_SIZES: dict[str, int] = {"tinyimagenet": 64, "imagenet100": 224, "folder": 64}

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
    "folder": "image [3, 64, 64]: your own images, any ImageFolder tree <data-dir>/<class>/*.jpg (or unlabelled "
              "<data-dir>/*.jpg; train/ + test/ folders, else every 10th image held out); decoded once, cached",
}


def describe(name: str) -> str:
    """One line: what data set ``name`` is and what it needs on disk."""
    return _DESCRIPTIONS[canonical_name(name)]


def load_dataset(name: str, data_dir: str | Path | None = None, *, seed: int = 0, download: bool = False,
                 image_size: int | None = None, cache_dir: str | Path | None = None) -> SSLData:
    """Load data set ``name`` (one of :data:`DATASETS`) as an :class:`SSLData`.

    Args:
        name: data set name; case, ``-`` and ``_`` are ignored.
        data_dir: folder holding the files of ``cifar10``/``cifar100``/``tinyimagenet``/``imagenet100``, or
            the ImageFolder tree of ``folder`` (see each loader for the layout); default ``$MI_SSL_DATA_DIR``
            or ``~/.cache/mi_ssl``.
            For ``mnist1d`` it is where the generated arrays are cached, if given.
        seed: sampling seed of the generated ``gaussian`` toy. ``mnist1d`` is always the standard
            MNIST-1D (its generator's seed 42) and ``digits`` always the same fixed split, so results
            compare across runs and with the literature.
        download: CIFAR only (:data:`DOWNLOADABLE`): fetch the archives with torchvision's downloader if
            they are missing (needs a network; without one, a one-line :class:`DatasetError`).
        image_size: side of the stored square images for ``tinyimagenet`` (default 64), ``imagenet100``
            (default 224; see :mod:`mi_ssl.data.folders` for the memory this takes) and ``folder`` (default 64).
        cache_dir: where generated/decoded arrays go (default: ``data_dir`` for ``mnist1d``; beside
            the images, else ``$MI_SSL_CACHE_DIR`` or ``~/.cache/mi_ssl``, for the JPEG data sets).

    Raises:
        DatasetError: unknown name, or a missing or malformed data directory; the message says
            what was expected and where.
    """
    key = canonical_name(name)
    if image_size is not None and key not in IMAGE_FILE_SIZES:
        raise ValueError(f"image_size applies to {', '.join(IMAGE_FILE_SIZES)} only, not {key!r}")
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

    if key == "folder" and data_dir is None:
        raise DatasetError("folder: needs --data-dir (data_dir=): the ImageFolder tree of your images "
                           "(<dir>/<class>/*.jpg, or <dir>/*.jpg unlabelled)")
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{key}: data_dir {root} is a file; pass the folder that holds the data set")
    if key in ("cifar10", "cifar100"):
        from .cifar import load_cifar

        return load_cifar(key, root, download=download)
    if download:
        raise DatasetError(f"{key}: download=True is not supported (torchvision downloads only "
                           f"{', '.join(DOWNLOADABLE)}); place the files under --data-dir")
    from . import folders

    loader = {"tinyimagenet": folders.load_tinyimagenet, "imagenet100": folders.load_imagenet100,
              "folder": folders.load_folder}[key]
    return loader(root, image_size=image_size or IMAGE_FILE_SIZES[key], cache_dir=cache)
