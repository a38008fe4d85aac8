"""Tiny-ImageNet and ImageNet-100 from JPEG folders, decoded once into a memory-mapped uint8 cache.

Layouts read:

* Tiny-ImageNet (Stanford CS231n)::

      tiny-imagenet-200/wnids.txt
      tiny-imagenet-200/train/<wnid>/images/*.JPEG         (500 per class, 200 classes, 64x64)
      tiny-imagenet-200/val/images/*.JPEG + val/val_annotations.txt   (10,000; used as the test set)

  (``val/<wnid>/...`` class folders, as some preprocessing scripts leave them, are read too.)
* ImageNet-100 (the 100-class subset of ImageNet-1k introduced by CMC, Tian et al. 2020,
  :data:`IMAGENET100_WNIDS`), ImageFolder-style::

      <root>/train/<wnid>/*.JPEG    (~1,300 per class)
      <root>/val/<wnid>/*.JPEG      (50 per class)

  ``<root>`` may also be a full ImageNet-1k folder: only the 100 subset classes are read. A tree
  with other classes is read as found (with a warning).

Images are converted to RGB, resized so the short side is ``image_size`` and centre-cropped to
``image_size`` x ``image_size`` (Tiny-ImageNet is already 64x64). The first load decodes every
file (threads, JPEG draft mode) straight into a ``.npy`` file, which later loads memory-map
(copy-on-write), so the array never has to fit in memory. Sizes of the training array, ``N x 3 x S x S``
bytes: Tiny-ImageNet 1.2 GB; ImageNet-100 (126,689 images) 19.1 GB at 224 px, 6.2 GB at 128,
4.8 GB at 112, 1.6 GB at 64. The cache lives beside the data (``<root>/.mi_ssl_cache``) if that
is writable, else in the cache root (``$MI_SSL_CACHE_DIR`` or ``~/.cache/mi_ssl``); its file names hash
the folder, the image size and every file's path, size and modification time (:func:`source_fingerprint`),
so a changed tree -- a JPEG replaced in place included -- is decoded again, and the stale cache removed.

* ``folder``: any ImageFolder tree of the user's own images (:func:`load_folder`), labelled by sub-folder
  or unlabelled, with ``train/`` + ``test/`` (or ``val/``) split folders or a fixed hold-out::

      <root>/<class>/**/*.jpg          labelled: class k is the k-th sub-folder name in sorted order
      <root>/*.jpg                     unlabelled: one class
      <root>/train/..., <root>/test/... (or val/): the same, per split
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from .base import DatasetError, SSLData
from .cache import cache_key, default_cache_dir, save_npy_mapped, save_npz_atomic, writable_dir
from .stats import CHANNEL_STATS

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpeg", ".jpg", ".png"})
_FORMAT = 2                   # 2: keyed on every file's size and mtime (source_fingerprint)

#: The ImageNet-100 classes (CMC's ``imagenet100.txt``, Tian et al. 2020), in CMC's order.
IMAGENET100_WNIDS: tuple[str, ...] = (
    "n02869837", "n01749939", "n02488291", "n02107142", "n13037406", "n02091831", "n04517823", "n04589890",
    "n03062245", "n01773797", "n01735189", "n07831146", "n07753275", "n03085013", "n04485082", "n02105505",
    "n01983481", "n02788148", "n03530642", "n04435653", "n02086910", "n02859443", "n13040303", "n03594734",
    "n02085620", "n02099849", "n01558993", "n04493381", "n02109047", "n04111531", "n02877765", "n04429376",
    "n02009229", "n01978455", "n02106550", "n01820546", "n01692333", "n07714571", "n02974003", "n02114855",
    "n03785016", "n03764736", "n03775546", "n02087046", "n07836838", "n04099969", "n04592741", "n03891251",
    "n02701002", "n03379051", "n02259212", "n07715103", "n03947888", "n04026417", "n02326432", "n03637318",
    "n01980166", "n02113799", "n02086240", "n03903868", "n02483362", "n04127249", "n02089973", "n03017168",
    "n02093428", "n02804414", "n02396427", "n04418357", "n02172182", "n01729322", "n02113978", "n03787032",
    "n02089867", "n02119022", "n03777754", "n04238763", "n02231487", "n03032252", "n02138441", "n02104029",
    "n03837869", "n03494278", "n04136333", "n03794056", "n03492542", "n02018207", "n04067472", "n03930630",
    "n03584829", "n02123045", "n04229816", "n02100583", "n03642806", "n04336792", "n03259280", "n02116738",
    "n02108089", "n03424325", "n01855672", "n02090622",
)


# ------------------------------------------------------------------------------------ decoding
def decode_image(path: Path, size: int) -> np.ndarray:
    """One image file -> uint8 ``[3, size, size]``: RGB, short side resized to ``size``, centre crop."""
    from PIL import Image

    with Image.open(path) as im:
        im.draft("RGB", (size, size))           # JPEG: decode at the smallest scale still >= size
        im = im.convert("RGB")
        w, h = im.size
        if (w, h) != (size, size):
            scale = size / min(w, h)
            nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
            im = im.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=None)
            left, top = (nw - size) // 2, (nh - size) // 2
            im = im.crop((left, top, left + size, top + size))
        return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)


def _decode_all(paths: list[Path], out: np.ndarray, size: int, name: str) -> None:
    def one(i: int) -> None:
        try:
            out[i] = decode_image(paths[i], size)
        except Exception as e:  # noqa: BLE001 - PIL raises many types for a bad file
            raise DatasetError(f"{name}: cannot decode image {paths[i]} ({type(e).__name__}: {e})") from e

    workers = min(8, os.cpu_count() or 1)
    log.info("%s: decoding %d images to %dx%d (%d threads)", name, len(paths), size, size, workers)
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(one, range(len(paths)), chunksize=64):
            pass


def source_fingerprint(root: Path, paths: list[Path], labels: list[int]) -> str:
    """A hash of every source file's path (relative to ``root``), size and ``mtime_ns``, and of the labels.

    A file replaced, edited, added, removed, renamed or moved to another class changes it, so the decoded
    cache is rebuilt. One ``stat`` per file (about 20 us each: ~2.5 s for ImageNet-100's 126,689 files on a
    shared CPU machine), where hashing the contents would read every byte (~0.5 GB/s from a warm page cache:
    ~30 s for ImageNet-100's ~14 GB, minutes from disk) on every load. Not seen: a different file of the
    same size copied over with its old modification time kept (``cp -p``, ``touch -r``).
    """
    h = hashlib.sha1()
    for p, y in zip(paths, labels):
        try:
            st = p.stat()
        except OSError as e:
            raise DatasetError(f"cannot read image {p} ({type(e).__name__}: {e.strerror})") from e
        h.update(f"{p.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\0{y}\n".encode())
    return h.hexdigest()[:16]


def _cached_split(name: str, split: str, root: Path, paths: list[Path], labels: list[int], size: int,
                  cache_dir: Path | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoded ``(x uint8 [N, 3, S, S], y int64 [N])`` for ``paths``, from or into the cache.

    The cache file is named after the tree (``root``), the split, the size and :func:`source_fingerprint`;
    writing a new one removes the older caches of the same tree, split and size in that folder.
    """
    tree = cache_key(str(root.resolve()))[:8]
    key = cache_key(_FORMAT, str(root.resolve()), split, size, len(paths), source_fingerprint(root, paths, labels))
    prefix = f"{name}-{split}-{size}px-{tree}-"
    stem = prefix + key
    if cache_dir is not None:
        candidates = [cache_dir]
    else:
        candidates = [root / ".mi_ssl_cache", default_cache_dir() / name]
    for d in candidates:                                    # an existing cache anywhere wins
        x_path, y_path = d / f"{stem}-x.npy", d / f"{stem}-y.npz"
        if x_path.is_file() and y_path.is_file():
            try:
                x = np.load(x_path, mmap_mode="c")
                with np.load(y_path) as f:
                    y = f["y"]
                if x.shape == (len(paths), 3, size, size) and y.shape == (len(paths),):
                    return torch.from_numpy(x), torch.from_numpy(y)
            except (OSError, ValueError, KeyError):
                pass                                        # unreadable: decode again
    try:
        d = writable_dir(*candidates)
    except OSError as e:
        raise DatasetError(f"{name}: no writable cache directory for decoded images ({e}); "
                           f"pass cache_dir= or set MI_SSL_CACHE_DIR") from e
    x_path, y_path = d / f"{stem}-x.npy", d / f"{stem}-y.npz"
    save_npy_mapped(x_path, (len(paths), 3, size, size), np.uint8, lambda array: _decode_all(paths, array, size, name))
    y = np.asarray(labels, dtype=np.int64)
    save_npz_atomic(y_path, y=y)
    for old in d.glob(prefix + "*"):                        # caches of this tree's older contents
        if not old.name.startswith(stem):
            old.unlink(missing_ok=True)
    return torch.from_numpy(np.load(x_path, mmap_mode="c")), torch.from_numpy(y)


def _images_under(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


# ------------------------------------------------------------------------------ Tiny-ImageNet
def _tiny_root(data_dir: Path) -> Path:
    for root in (data_dir / "tiny-imagenet-200", data_dir):
        if (root / "wnids.txt").is_file():
            return root
    raise DatasetError(
        f"tinyimagenet: expected {data_dir / 'tiny-imagenet-200' / 'wnids.txt'} (with "
        f"train/<wnid>/images/*.JPEG, val/images/*.JPEG and val/val_annotations.txt); not found. "
        f"Pass --data-dir (data_dir=) pointing at the folder that contains tiny-imagenet-200/ "
        f"(unzipped tiny-imagenet-200.zip from the CS231n site).")


def _tiny_files(root: Path) -> tuple[list[str], list[Path], list[int], list[Path], list[int]]:
    wnids = sorted({line.strip() for line in (root / "wnids.txt").read_text().splitlines() if line.strip()})
    if not wnids:
        raise DatasetError(f"tinyimagenet: {root / 'wnids.txt'} lists no class ids")
    index = {w: i for i, w in enumerate(wnids)}
    train_paths: list[Path] = []
    train_labels: list[int] = []
    for w in wnids:
        d = root / "train" / w
        files = _images_under(d) if d.is_dir() else []
        if not files:
            raise DatasetError(f"tinyimagenet: no images for class {w} under {d}/images/ "
                               f"(expected train/<wnid>/images/*.JPEG for every id in wnids.txt)")
        train_paths += files
        train_labels += [index[w]] * len(files)

    val_paths: list[Path] = []
    val_labels: list[int] = []
    ann = root / "val" / "val_annotations.txt"
    if ann.is_file():
        for n, line in enumerate(ann.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split("\t") if "\t" in line else line.split()
            if len(parts) < 2 or parts[1] not in index:
                raise DatasetError(f"tinyimagenet: {ann}:{n}: expected '<file>\\t<wnid>\\t...' with a "
                                   f"wnid from wnids.txt, got {line!r}")
            path = root / "val" / "images" / parts[0]
            if not path.is_file():
                raise DatasetError(f"tinyimagenet: {ann}:{n} names {path}, which does not exist")
            val_paths.append(path)
            val_labels.append(index[parts[1]])
    else:
        for w in wnids:
            files = _images_under(root / "val" / w) if (root / "val" / w).is_dir() else []
            val_paths += files
            val_labels += [index[w]] * len(files)
    if not val_paths:
        raise DatasetError(f"tinyimagenet: no validation images: expected {ann} and "
                           f"{root / 'val' / 'images'}/*.JPEG")
    return wnids, train_paths, train_labels, val_paths, val_labels


def load_tinyimagenet(data_dir: Path, *, image_size: int = 64, cache_dir: Path | None = None) -> SSLData:
    """Tiny-ImageNet: uint8 ``[100000, 3, S, S]`` train, ``[10000, 3, S, S]`` test (the val set), 200 classes.

    Class ``k`` is the ``k``-th id of ``wnids.txt`` in sorted order (torchvision ImageFolder's order).
    """
    root = _tiny_root(Path(data_dir).expanduser())
    wnids, tr_paths, tr_labels, va_paths, va_labels = _tiny_files(root)
    train_x, train_y = _cached_split("tinyimagenet", "train", root, tr_paths, tr_labels, image_size,
                                     cache_dir)
    test_x, test_y = _cached_split("tinyimagenet", "val", root, va_paths, va_labels, image_size, cache_dir)
    mean, std = CHANNEL_STATS["tinyimagenet"]
    return SSLData("tinyimagenet", "image", train_x, train_y, test_x, test_y, len(wnids), mean=mean, std=std,
                   source=str(root))


# ------------------------------------------------------------------------------- ImageNet-100
_IN100_NAMES = ("imagenet100", "imagenet-100", "ImageNet-100", "ImageNet100", "imagenet")


def _in100_root(data_dir: Path) -> Path:
    for root in (data_dir, *(data_dir / n for n in _IN100_NAMES)):
        if (root / "train").is_dir() and (root / "val").is_dir():
            return root
    raise DatasetError(
        f"imagenet100: expected {data_dir}/train/<wnid>/*.JPEG and {data_dir}/val/<wnid>/*.JPEG "
        f"(or the same under {data_dir}/imagenet100/); not found. Pass --data-dir (data_dir=) pointing "
        f"at the ImageNet-100 folder (ImageFolder layout, validation images sorted into class folders) "
        f"or at ImageNet-1k.")


def _in100_classes(root: Path) -> list[str]:
    found = sorted(d.name for d in (root / "train").iterdir() if d.is_dir() and not d.name.startswith("."))
    if set(IMAGENET100_WNIDS) <= set(found):
        return sorted(IMAGENET100_WNIDS)
    if not found:
        raise DatasetError(f"imagenet100: no class folders under {root / 'train'} "
                           f"(expected train/<wnid>/*.JPEG)")
    warnings.warn(f"imagenet100: {root / 'train'} has {len(found)} class folders, not the standard 100-class "
                  f"subset (CMC's list, IMAGENET100_WNIDS); reading the classes as found", stacklevel=3)
    return found


def load_imagenet100(data_dir: Path, *, image_size: int = 224, cache_dir: Path | None = None) -> SSLData:
    """ImageNet-100: uint8 ``[N, 3, S, S]`` train and val (the test set), ``S = image_size``.

    Class ``k`` is the ``k``-th wnid in sorted order (torchvision ImageFolder's order). See the module
    docstring for the memory each ``image_size`` needs.
    """
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    root = _in100_root(Path(data_dir).expanduser())
    classes = _in100_classes(root)
    splits = {}
    for split in ("train", "val"):
        paths: list[Path] = []
        labels: list[int] = []
        for k, w in enumerate(classes):
            d = root / split / w
            files = _images_under(d) if d.is_dir() else []
            if split == "train" and not files:
                raise DatasetError(f"imagenet100: no images in {d} (expected {root}/train/{w}/*.JPEG)")
            paths += files
            labels += [k] * len(files)
        if not paths:
            raise DatasetError(f"imagenet100: no images under {root / split}/<wnid>/ for the "
                               f"{len(classes)} classes (val images must be sorted into class folders)")
        splits[split] = _cached_split("imagenet100", split, root, paths, labels, image_size, cache_dir)
    mean, std = CHANNEL_STATS["imagenet100"]
    return SSLData("imagenet100", "image", *splits["train"], *splits["val"], len(classes), mean=mean, std=std,
                   source=f"{root} ({image_size}px)")


# ------------------------------------------------------------------------------------- folder
#: Without split folders, every ``HOLD_OUT``-th image of each class (in path order) is the test split.
HOLD_OUT = 10


def _tree_files(d: Path) -> tuple[list[str], list[Path], list[int]]:
    """``(classes, paths, labels)`` of one tree: class sub-folders (sorted), or loose images (one class ``""``)."""
    subdirs = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    per_class = {c.name: _images_under(c) for c in subdirs}
    classes = [c for c, files in per_class.items() if files]
    loose = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if classes and loose:
        raise DatasetError(f"folder: {d} holds both images ({loose[0].name}, ...) and class folders "
                           f"({classes[0]}/, ...); put every image in a class folder, or none")
    if loose:
        return [""], loose, [0] * len(loose)
    paths = [p for c in classes for p in per_class[c]]
    labels = [k for k, c in enumerate(classes) for _ in per_class[c]]
    return classes, paths, labels


def _folder_splits(root: Path) -> tuple[list[str], dict[str, tuple[list[Path], list[int]]]]:
    test_dir = next((root / n for n in ("test", "val") if (root / n).is_dir()), None)
    if (root / "train").is_dir() and test_dir is not None:
        classes, tr_paths, tr_labels = _tree_files(root / "train")
        te_classes, te_paths, te_labels = _tree_files(test_dir)
        unknown = sorted(set(te_classes) - set(classes))
        if unknown:
            raise DatasetError(f"folder: {test_dir} has classes that {root / 'train'} lacks: {', '.join(unknown)}")
        index = {c: k for k, c in enumerate(classes)}
        te_labels = [index[te_classes[y]] for y in te_labels]
        return classes, {"train": (tr_paths, tr_labels), "test": (te_paths, te_labels)}
    classes, paths, labels = _tree_files(root)
    splits: dict[str, tuple[list[Path], list[int]]] = {"train": ([], []), "test": ([], [])}
    seen = [0] * len(classes)
    for p, y in zip(paths, labels):
        seen[y] += 1
        part = splits["test" if seen[y] % HOLD_OUT == 0 else "train"]
        part[0].append(p)
        part[1].append(y)
    return classes, splits


def load_folder(data_dir: Path, *, image_size: int = 64, cache_dir: Path | None = None) -> SSLData:
    """Any ImageFolder tree as an :class:`SSLData`: uint8 ``[N, 3, S, S]`` (``S = image_size``), decoded once.

    Layouts (see the module docstring): class sub-folders (class ``k`` = ``k``-th name in sorted order) or
    loose images (unlabelled: one class, label 0); ``train/`` with ``test/`` (or ``val/``) are the splits,
    otherwise every :data:`HOLD_OUT`-th image of each class in path order is held out as the test split.
    Images are RGB, short side resized to ``image_size`` and centre-cropped; normalised with the ImageNet
    statistics. The decoded cache follows the rules of ``tinyimagenet``/``imagenet100``.
    """
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DatasetError(f"folder: data_dir {root} is not a folder; pass --data-dir (data_dir=) pointing at an "
                           f"ImageFolder tree (<dir>/<class>/*.jpg, or <dir>/*.jpg unlabelled)")
    classes, splits = _folder_splits(root)
    if not splits["train"][0] and not splits["test"][0]:
        raise DatasetError(f"folder: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {root}; expected "
                           f"<dir>/<class>/*.jpg, <dir>/*.jpg, or the same under <dir>/train and <dir>/test")
    for split, (paths, _) in splits.items():
        if len(paths) < 2:
            raise DatasetError(
                f"folder: the {split} split of {root} has {len(paths)} image(s), at least 2 are needed; add "
                f"images (without train/ and test/ folders every {HOLD_OUT}th image of a class is held out "
                f"for testing) or make <dir>/train and <dir>/test folders")
    data = {split: _cached_split("folder", split, root, paths, labels, image_size, cache_dir)
            for split, (paths, labels) in splits.items()}
    mean, std = CHANNEL_STATS["folder"]
    kind = f"{len(classes)} classes" if classes != [""] else "unlabelled"
    return SSLData("folder", "image", *data["train"], *data["test"], len(classes), mean=mean, std=std,
                   source=f"{root} ({image_size}px, {kind})")
