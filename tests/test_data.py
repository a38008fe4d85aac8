"""Data loaders: every on-disk format is written here in its real layout (tiny) and read by the real code."""

from __future__ import annotations

import pickle
import random
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mi_ssl.data import (
    DATASETS,
    DatasetError,
    SSLData,
    canonical_name,
    folders,
    load_dataset,
    load_gaussian,
    mnist1d_data,
)
from mi_ssl.data.stats import CHANNEL_STATS


def test_registry_names_and_unknown_names_list_the_allowed_ones():
    assert DATASETS == ("gaussian", "mnist1d", "digits", "cifar10", "cifar100", "tinyimagenet", "imagenet100",
                        "folder")
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist")
    for name in DATASETS:
        assert name in str(err.value)
    assert canonical_name("CIFAR-10") == "cifar10" and canonical_name("tiny_imagenet") == "tinyimagenet"


def test_gaussian_is_the_papers_toy_and_seeded():
    a, b, c = (load_dataset("gaussian", seed=s) for s in (1, 1, 2))
    assert a.train_x.shape == (2500, 2) and a.num_classes == 5 and a.modality == "vector"
    assert torch.equal(a.train_x, b.train_x) and not torch.equal(a.train_x, c.train_x)
    assert torch.equal(a.train_x, load_gaussian(1).train_x)


def test_image_size_only_for_the_jpeg_data_sets():
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("cifar10", image_size=64)


# ---------------------------------------------------------------------------------- MNIST-1D
@pytest.fixture(scope="module")
def mnist1d_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mnist1d")


def test_mnist1d_generated_offline_with_standard_shapes(mnist1d_dir):
    np.random.seed(123)
    random.seed(123)
    before_np, before_py = np.random.get_state()[1].copy(), random.getstate()
    data = load_dataset("mnist1d", mnist1d_dir)
    assert (np.random.get_state()[1] == before_np).all() and random.getstate() == before_py  # RNGs untouched
    assert data.modality == "signal" and data.num_classes == 10
    assert data.train_x.shape == (4000, 1, 40) and data.test_x.shape == (1000, 1, 40)
    assert data.train_x.dtype == torch.float32 and data.train_y.dtype == torch.int64
    assert set(data.train_y.unique().tolist()) == set(range(10))
    assert data.train_y.bincount().min() > 350                           # ~400 per class
    both = torch.cat([data.train_x, data.test_x])
    assert abs(both.mean().item()) < 1e-3 and abs(both.std().item() - 1) < 1e-3     # standardised by mnist1d
    assert len(list(mnist1d_dir.glob("mnist1d-*.npz"))) == 1


def test_mnist1d_cached_load_does_not_regenerate(mnist1d_dir, monkeypatch):
    first = load_dataset("mnist1d", mnist1d_dir)

    def fail(*a, **k):
        raise AssertionError("regenerated although cached")

    monkeypatch.setattr(mnist1d_data, "generate_mnist1d", fail)
    again = load_dataset("mnist1d", mnist1d_dir)
    assert torch.equal(first.train_x, again.train_x) and torch.equal(first.test_y, again.test_y)


def test_mnist1d_pinned_arguments_are_the_packages_defaults():
    from mnist1d.data import get_dataset_args

    pkg = get_dataset_args(as_dict=True)
    pkg.pop("url", None)
    assert pkg == mnist1d_data.MNIST1D_ARGS


def test_mnist1d_corrupt_cache_is_regenerated(tmp_path, monkeypatch):
    fake = {"x": np.zeros((8, 40)), "y": np.arange(8) % 10,
            "x_test": np.ones((2, 40)), "y_test": np.arange(2)}
    monkeypatch.setattr(mnist1d_data, "generate_mnist1d", lambda *a: fake)
    first = load_dataset("mnist1d", tmp_path)                      # writes the (fake) cache
    cache = next(tmp_path.glob("mnist1d-*.npz"))
    cache.write_bytes(b"not a zip")
    again = load_dataset("mnist1d", tmp_path)
    assert torch.equal(first.test_x, again.test_x) and again.train_x.shape == (8, 1, 40)


# ------------------------------------------------------------------------------------ digits
def test_digits_fixed_stratified_split():
    data = load_dataset("digits")
    assert data.train_x.shape == (1347, 1, 8, 8) and data.test_x.shape == (450, 1, 8, 8)
    assert data.train_x.dtype == torch.uint8 and data.train_x.max() == 255 and data.train_x.min() == 0
    assert data.num_classes == 10
    all_counts = torch.cat([data.train_y, data.test_y]).bincount().double()
    expected = all_counts * 450 / 1797                                 # stratified: class shares kept
    assert (data.test_y.bincount() - expected).abs().max() <= 1
    again = load_dataset("digits", seed=5)                             # the split never depends on seed
    assert torch.equal(data.train_x, again.train_x) and torch.equal(data.test_y, again.test_y)
    x = data.train_x.float() / 255
    mean, std = CHANNEL_STATS["digits"]
    assert abs(x.mean().item() - mean[0]) < 1e-3 and abs(x.std().item() - std[0]) < 1e-3
    assert data.mean == mean


# ------------------------------------------------------------------------------------- CIFAR
def _cifar_batch(n: int, label_key: str, first_label: int, classes: int) -> dict:
    """``n`` images whose red/green/blue planes are constant ``10 i``, ``10 i + 1``, ``10 i + 2``."""
    data = np.zeros((n, 3072), dtype=np.uint8)
    for i in range(n):
        for c in range(3):
            data[i, c * 1024:(c + 1) * 1024] = 10 * i + c
    labels = [(first_label + i) % classes for i in range(n)]
    return {b"batch_label": b"testing", label_key.encode(): labels, b"data": data,
            b"filenames": [f"img{i}.png".encode() for i in range(n)]}


def _write_cifar10(root: Path) -> Path:
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    for k in range(1, 6):
        with open(d / f"data_batch_{k}", "wb") as f:
            pickle.dump(_cifar_batch(4, "labels", k, 10), f)
    with open(d / "test_batch", "wb") as f:
        pickle.dump(_cifar_batch(3, "labels", 0, 10), f)
    return d


def test_cifar10_reads_the_python_pickle_batches(tmp_path):
    folder = _write_cifar10(tmp_path)
    data = load_dataset("cifar10", tmp_path)
    assert data.train_x.shape == (20, 3, 32, 32) and data.test_x.shape == (3, 3, 32, 32)
    assert data.train_x.dtype == torch.uint8 and data.num_classes == 10 and data.modality == "image"
    # channel-major rows: plane c of image i is the constant 10 i + c
    assert (data.train_x[2, 1] == 21).all() and (data.train_x[2, 2] == 22).all()
    assert (data.test_x[1, 0] == 10).all()
    assert data.train_y[:4].tolist() == [1, 2, 3, 4] and data.train_y[4:8].tolist() == [2, 3, 4, 5]
    assert data.mean == CHANNEL_STATS["cifar10"][0]
    same = load_dataset("cifar10", folder)                  # the batches folder itself works too
    assert torch.equal(same.train_x, data.train_x)


def test_cifar100_reads_fine_labels(tmp_path):
    d = tmp_path / "cifar-100-python"
    d.mkdir()
    for split, n in (("train", 5), ("test", 2)):
        batch = _cifar_batch(n, "fine_labels", 97, 100)
        batch[b"coarse_labels"] = [0] * n
        with open(d / split, "wb") as f:
            pickle.dump(batch, f)
    data = load_dataset("cifar100", tmp_path)
    assert data.num_classes == 100 and data.train_x.shape == (5, 3, 32, 32)
    assert data.train_y.tolist() == [97, 98, 99, 0, 1]


def test_cifar_missing_files_say_what_was_expected_and_where(tmp_path):
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar10", tmp_path)
    msg = str(err.value)
    for part in ("cifar-10-batches-py", "data_batch_1", str(tmp_path), "data-dir", "download=True"):
        assert part in msg
    folder = _write_cifar10(tmp_path / "partial")
    (folder / "data_batch_3").unlink()
    with pytest.raises(DatasetError, match="not found: data_batch_3"):
        load_dataset("cifar10", tmp_path / "partial")
    with pytest.raises(DatasetError, match="cifar-100-python"):
        load_dataset("cifar100", tmp_path)
    file = tmp_path / "afile"
    file.write_text("x")
    with pytest.raises(DatasetError, match="is a file"):
        load_dataset("cifar10", file)


def test_cifar_malformed_batches_are_named(tmp_path):
    folder = _write_cifar10(tmp_path)
    (folder / "data_batch_2").write_bytes(b"garbage, not a pickle")
    with pytest.raises(DatasetError, match="data_batch_2.*not a readable CIFAR pickle"):
        load_dataset("cifar10", tmp_path)
    with open(folder / "data_batch_2", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": [0, 1]}, f)
    with pytest.raises(DatasetError, match="b'labels'"):
        load_dataset("cifar10", tmp_path)
    with open(folder / "data_batch_2", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(DatasetError, match=r"uint8 \[N, 3072\]"):
        load_dataset("cifar10", tmp_path)


# CIFAR download (a loopback mirror, an unreachable URL): tests/test_data_sources.py


# ------------------------------------------------------------------------------- Tiny-ImageNet
TINY_WNIDS = ("n01443537", "n09193705", "n02124075")             # deliberately not sorted
COLOURS = ((220, 30, 30), (30, 220, 30), (30, 30, 220))


def _jpeg(path: Path, colour, size=(64, 64), mode="RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, colour)
    if mode == "L":
        img = img.convert("L")
    img.save(path, "JPEG", quality=95)


def _write_tiny(root: Path) -> Path:
    t = root / "tiny-imagenet-200"
    t.mkdir(parents=True)
    (t / "wnids.txt").write_text("\n".join(TINY_WNIDS) + "\n")
    lines = []
    for k, (w, colour) in enumerate(zip(TINY_WNIDS, COLOURS)):
        for i in range(3):
            _jpeg(t / "train" / w / "images" / f"{w}_{i}.JPEG", colour)
        (t / "train" / w / f"{w}_boxes.txt").write_text("")
        for i in range(2):
            name = f"val_{2 * k + i}.JPEG"
            _jpeg(t / "val" / "images" / name, colour)
            lines.append(f"{name}\t{w}\t0\t0\t63\t63")
    _jpeg(t / "train" / TINY_WNIDS[0] / "images" / "grey.JPEG", (128, 128, 128), mode="L")
    (t / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return t


def _colour_class(x: torch.Tensor) -> torch.Tensor:
    """Class of each solid-colour image: the index of its brightest channel (sorted-wnid order)."""
    sorted_colours = [COLOURS[TINY_WNIDS.index(w)] for w in sorted(TINY_WNIDS)]
    brightest = x.float().mean(dim=(2, 3)).argmax(1)
    return torch.tensor([[int(np.argmax(c)) for c in sorted_colours].index(b) for b in brightest.tolist()])


def test_tinyimagenet_reads_the_standard_tree_and_caches_it(tmp_path, monkeypatch):
    root = _write_tiny(tmp_path)
    data = load_dataset("tinyimagenet", tmp_path)
    assert data.num_classes == 3 and data.modality == "image"
    assert data.train_x.shape == (10, 3, 64, 64) and data.test_x.shape == (6, 3, 64, 64)
    assert data.train_x.dtype == torch.uint8 and data.train_y.dtype == torch.int64
    grey = data.train_x.float().std(dim=1).mean(dim=(1, 2)) < 1          # the greyscale JPEG became RGB
    assert grey.sum() == 1
    colour = ~grey
    assert torch.equal(_colour_class(data.train_x[colour]), data.train_y[colour])
    assert torch.equal(_colour_class(data.test_x), data.test_y)
    assert data.test_y.bincount().tolist() == [2, 2, 2]
    assert len(list((root / ".mi_ssl_cache").glob("*-x.npy"))) == 2        # cached beside the data

    monkeypatch.setattr(folders, "decode_image", lambda *a: (_ for _ in ()).throw(AssertionError("decoded")))
    again = load_dataset("tinyimagenet", root)                            # data_dir = the tree itself
    assert torch.equal(again.train_x, data.train_x) and torch.equal(again.test_y, data.test_y)


def test_tinyimagenet_image_size_and_cache_dir(tmp_path):
    _write_tiny(tmp_path / "data")
    data = load_dataset("tinyimagenet", tmp_path / "data", image_size=32, cache_dir=tmp_path / "cache")
    assert data.train_x.shape == (10, 3, 32, 32)
    assert len(list((tmp_path / "cache").glob("tinyimagenet-*-32px-*-x.npy"))) == 2


def test_tinyimagenet_bad_trees_give_helpful_errors(tmp_path):
    with pytest.raises(DatasetError) as err:
        load_dataset("tinyimagenet", tmp_path)
    for part in ("tiny-imagenet-200", "wnids.txt", str(tmp_path), "data-dir"):
        assert part in str(err.value)

    root = _write_tiny(tmp_path / "a")
    ann = root / "val" / "val_annotations.txt"
    ann.write_text(ann.read_text() + "val_99.JPEG\tn00000000\t0\t0\t1\t1\n")
    with pytest.raises(DatasetError, match=r"val_annotations.txt:7.*wnid"):
        load_dataset("tinyimagenet", root)

    root = _write_tiny(tmp_path / "b")
    (root / "val" / "images" / "val_0.JPEG").unlink()
    with pytest.raises(DatasetError, match="val_0.JPEG, which does not exist"):
        load_dataset("tinyimagenet", root)

    root = _write_tiny(tmp_path / "c")
    bad = root / "train" / TINY_WNIDS[1] / "images" / f"{TINY_WNIDS[1]}_0.JPEG"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match=f"cannot decode image .*{bad.name}"):
        load_dataset("tinyimagenet", root)
    assert not list((root / ".mi_ssl_cache").glob("*.npy"))             # no half-written cache

    root = _write_tiny(tmp_path / "d")
    for p in (root / "train" / TINY_WNIDS[2] / "images").iterdir():
        p.unlink()
    with pytest.raises(DatasetError, match=f"no images for class {TINY_WNIDS[2]}"):
        load_dataset("tinyimagenet", root)


# -------------------------------------------------------------------------------- ImageNet-100
def _write_imagefolder(root: Path, wnids, per_class=(2, 1), size=(48, 32)) -> None:
    for split, n in zip(("train", "val"), per_class):
        for w in wnids:
            for i in range(n):
                path = root / split / w / f"{w}_{i}.JPEG"
                path.parent.mkdir(parents=True, exist_ok=True)
                img = Image.new("RGB", size, (250, 0, 0))              # left half red, right half blue
                img.paste((0, 0, 250), (size[0] // 2, 0, size[0], size[1]))
                img.save(path, "JPEG", quality=95)


def test_imagenet100_imagefolder_tree_resized_and_centre_cropped(tmp_path):
    wnids = folders.IMAGENET100_WNIDS[:3]
    _write_imagefolder(tmp_path / "imagenet100", wnids)
    with pytest.warns(UserWarning, match="not the standard 100-class subset"):
        data = load_dataset("imagenet100", tmp_path, image_size=16)
    assert data.train_x.shape == (6, 3, 16, 16) and data.test_x.shape == (3, 3, 16, 16)
    assert data.num_classes == 3 and data.train_y.tolist() == [0, 0, 1, 1, 2, 2]
    # 48x32 -> short side 16 -> 24x16 -> centre 16x16: columns 0..3 red, 4..11 red/blue halves, 12..15 blue
    img = data.train_x[0].float()
    assert (img[0, :, :6] > 200).all() and (img[2, :, :6] < 50).all()
    assert (img[2, :, 10:] > 200).all() and (img[0, :, 10:] < 50).all()
    assert data.mean == CHANNEL_STATS["imagenet100"][0]


def test_imagenet100_picks_the_standard_subset_from_a_larger_tree(tmp_path):
    assert len(set(folders.IMAGENET100_WNIDS)) == 100
    extra = "n01440764"                                                   # tench: not in ImageNet-100
    assert extra not in folders.IMAGENET100_WNIDS
    _write_imagefolder(tmp_path, (*folders.IMAGENET100_WNIDS, extra), per_class=(1, 1), size=(8, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_dataset("imagenet100", tmp_path, image_size=8)
    assert data.num_classes == 100 and data.train_x.shape == (100, 3, 8, 8)
    assert data.train_y.tolist() == list(range(100))


def test_imagenet100_missing_or_incomplete_trees(tmp_path):
    with pytest.raises(DatasetError) as err:
        load_dataset("imagenet100", tmp_path)
    for part in ("train/<wnid>", "val/<wnid>", str(tmp_path), "data-dir"):
        assert part in str(err.value)
    wnids = folders.IMAGENET100_WNIDS[:2]
    _write_imagefolder(tmp_path, wnids, per_class=(1, 0), size=(8, 8))
    (tmp_path / "val").mkdir(exist_ok=True)
    with pytest.raises(DatasetError, match="no images under .*val"), pytest.warns(UserWarning):
        load_dataset("imagenet100", tmp_path, image_size=8)
    with pytest.raises(DatasetError, match="download"):
        load_dataset("imagenet100", tmp_path, download=True)


def test_ssldata_repr_and_shapes_for_loaded_images(tmp_path):
    _write_cifar10(tmp_path)
    data = load_dataset("cifar10", tmp_path)
    assert isinstance(data, SSLData) and data.input_shape == (3, 32, 32)
    v = data.to_float(data.test_x)
    assert v.dtype == torch.float32 and v.shape == (3, 3, 32, 32)


def test_every_data_set_is_described():
    from mi_ssl.data import describe

    for name in DATASETS:
        assert describe(name).split()[0] in ("vector", "signal", "image")
    with pytest.raises(DatasetError, match="allowed"):
        describe("svhn")
