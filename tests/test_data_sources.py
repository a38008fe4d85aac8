"""Where images come from: CIFAR --download (no network here: a local archive or an unreachable URL), the
`folder` data set (any ImageFolder tree), and a decoded cache that sees a source file change."""

import functools
import hashlib
import http.server
import io
import os
import pickle
import tarfile
import threading

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from mi_ssl.cli import main
from mi_ssl.data import DATASETS, DOWNLOADABLE, DatasetError, folders, load_dataset

RED, BLUE, GREEN = (250, 0, 0), (0, 0, 250), (0, 250, 0)


# ------------------------------------------------------------------------------------- download
def _cifar_archive(path, n=2):
    """A CIFAR-10-shaped .tar.gz: 5 training batches and a test batch of ``n`` images; image i of batch b
    has every pixel equal to 10 * b + i, label (b + i) % 10."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for b, name in enumerate([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]):
            data = np.repeat(np.arange(10 * b, 10 * b + n, dtype=np.uint8)[:, None], 3072, axis=1)
            blob = pickle.dumps({b"data": data, b"labels": [(b + i) % 10 for i in range(n)]})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    path.write_bytes(buf.getvalue())
    return hashlib.md5(buf.getvalue()).hexdigest()


@pytest.fixture
def mirror(tmp_path):
    """An HTTP server on the loopback interface serving ``tmp_path / "mirror"`` (no network needed)."""
    (tmp_path / "mirror").mkdir()
    handler = functools.partial(QuietHandler, directory=str(tmp_path / "mirror"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path / "mirror", f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_fetches_unpacks_and_loads(tmp_path, mirror, monkeypatch):
    folder, url = mirror
    md5 = _cifar_archive(folder / "cifar-10-python.tar.gz")
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "url", f"{url}/cifar-10-python.tar.gz")
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "tgz_md5", md5)
    with pytest.raises(DatasetError, match="download=True where a network exists"):
        load_dataset("cifar10", tmp_path / "data")                               # not there yet
    data = load_dataset("cifar10", tmp_path / "data", download=True)
    assert data.train_x.shape == (10, 3, 32, 32) and data.test_x.shape == (2, 3, 32, 32)
    assert data.train_x[:, 0, 0, 0].tolist() == [0, 1, 10, 11, 20, 21, 30, 31, 40, 41]
    assert data.test_y.tolist() == [5, 6]
    assert (tmp_path / "data" / "cifar-10-batches-py" / "test_batch").is_file()
    again = load_dataset("cifar10", tmp_path / "data")                           # on disk now: no download
    assert torch.equal(again.train_x, data.train_x)


def test_download_without_network_is_one_clear_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "url", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar10", tmp_path, download=True)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("cifar10: download of http://127.0.0.1:9/cifar-10-python.tar.gz")
    assert "fetch cifar-10-python.tar.gz elsewhere" in msg and "--data-dir" in msg
    code = main(["train", "--method", "jmi", "--dataset", "cifar10", "--data-dir", str(tmp_path), "--download",
                 "--epochs", "1", "--out", str(tmp_path / "run"), "--no-progress"])
    err_text = capsys.readouterr().err
    assert code == 2 and err_text.count("\n") == 1 and "mi-ssl train: error: cifar10: download of" in err_text
    assert DOWNLOADABLE == ("cifar10", "cifar100")
    with pytest.raises(DatasetError, match="torchvision downloads only cifar10, cifar100"):
        load_dataset("tinyimagenet", tmp_path, download=True)


# --------------------------------------------------------------------------------------- folder
def _image(path, colour, size=(12, 10), fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, fmt)


def _tree(root, classes=(("cat", RED), ("dog", BLUE)), n=10, ext=".png"):
    for name, colour in classes:
        for i in range(n):
            _image(root / name / f"{i:02d}{ext}", colour)
    return root


def _colour(x):
    """Colour name of each uint8 image [N, 3, H, W] (solid images)."""
    mean = x.float().mean(dim=(2, 3))
    return [{0: "red", 1: "green", 2: "blue"}[int(m.argmax())] for m in mean]


def test_folder_labelled_by_subfolder_with_held_out_test(tmp_path):
    assert "folder" in DATASETS
    root = _tree(tmp_path / "pets")
    data = load_dataset("folder", root, image_size=8)
    # every 10th image of each class (path order) is the test split: 9 + 9 train, 1 + 1 test
    assert data.train_x.shape == (18, 3, 8, 8) and data.test_x.shape == (2, 3, 8, 8)
    assert data.num_classes == 2 and data.train_y.tolist() == [0] * 9 + [1] * 9 and data.test_y.tolist() == [0, 1]
    assert _colour(data.train_x) == ["red"] * 9 + ["blue"] * 9 and _colour(data.test_x) == ["red", "blue"]
    assert data.modality == "image" and data.train_x.dtype == torch.uint8 and "2 classes" in data.source


def test_folder_with_split_folders_and_unlabelled_trees(tmp_path):
    for split, n in (("train", 3), ("val", 2)):
        _tree(tmp_path / "a" / split, classes=(("b_dog", BLUE), ("a_cat", RED)), n=n, ext=".jpg")
    data = load_dataset("folder", tmp_path / "a", image_size=8)
    assert data.train_y.tolist() == [0, 0, 0, 1, 1, 1] and data.test_y.tolist() == [0, 0, 1, 1]
    assert _colour(data.test_x) == ["red", "red", "blue", "blue"]          # a_cat is class 0 (sorted)

    for i in range(20):
        _image(tmp_path / "loose" / f"img{i:02d}.jpeg", GREEN, fmt="JPEG")
    data = load_dataset("folder", tmp_path / "loose", image_size=8)
    assert data.num_classes == 1 and len(data.train_x) == 18 and len(data.test_x) == 2
    assert set(data.train_y.tolist()) == {0} and "unlabelled" in data.source


def test_folder_errors_name_the_tree_and_the_rule(tmp_path):
    with pytest.raises(DatasetError, match="folder: needs --data-dir"):
        load_dataset("folder")
    with pytest.raises(DatasetError, match="is not a folder"):
        load_dataset("folder", tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        load_dataset("folder", tmp_path / "empty")
    root = _tree(tmp_path / "mixed", n=10)
    _image(root / "stray.png", RED)
    with pytest.raises(DatasetError, match="holds both images .*stray.png.* and class folders"):
        load_dataset("folder", root, image_size=8)
    root = _tree(tmp_path / "few", n=3)
    with pytest.raises(DatasetError, match="the test split of .* has 0 image"):
        load_dataset("folder", root, image_size=8)
    _tree(tmp_path / "s" / "train", classes=(("cat", RED),), n=2)
    _tree(tmp_path / "s" / "test", classes=(("cow", GREEN),), n=2)
    with pytest.raises(DatasetError, match="has classes that .*train lacks: cow"):
        load_dataset("folder", tmp_path / "s", image_size=8)


def test_train_on_a_folder_from_the_command_line(tmp_path, capsys):
    root = _tree(tmp_path / "imgs", n=10)
    out = tmp_path / "run"
    assert main(["train", "--method", "jmi", "--dataset", "folder", "--data-dir", str(root), "--epochs", "1",
                 "--batch-size", "9", "--proj-dim", "16", "--track-every", "0", "--device", "cpu",
                 "--out", str(out), "--no-progress"]) == 0
    assert "jmi/folder: 1 epochs" in capsys.readouterr().out
    assert (out / "checkpoint.pt").is_file()


# ---------------------------------------------------------------------------- cache invalidation
def _cache_files(root, split):
    return sorted((root / ".mi_ssl_cache").glob(f"folder-{split}-8px-*-x.npy"))


def test_decoded_cache_is_reused_and_sees_a_file_replaced_in_place(tmp_path, monkeypatch):
    root = _tree(tmp_path / "t", n=10, ext=".jpg")
    first = load_dataset("folder", root, image_size=8)
    assert len(_cache_files(root, "train")) == 1

    def no_decoding(*a, **k):
        raise AssertionError("the unchanged tree was decoded again")

    with monkeypatch.context() as m:
        m.setattr(folders, "decode_image", no_decoding)
        again = load_dataset("folder", root, image_size=8)                 # unchanged: read from the cache
    assert torch.equal(again.train_x, first.train_x)

    target = root / "cat" / "00.jpg"                                     # train image 0 (red)
    before = target.stat()
    _image(target, GREEN, fmt="JPEG")                                    # replaced in place by a green one
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    changed = load_dataset("folder", root, image_size=8)
    assert _colour(changed.train_x[:2]) == ["green", "red"]
    assert torch.equal(changed.train_x[1:], first.train_x[1:])
    assert len(_cache_files(root, "train")) == 1                         # the stale cache was removed
    assert len(_cache_files(root, "test")) == 1

    # same modification time, other size: seen too
    old = target.stat()
    _image(target, BLUE, size=(64, 48), fmt="JPEG")
    os.utime(target, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert target.stat().st_size != old.st_size and target.stat().st_mtime_ns == old.st_mtime_ns
    assert _colour(load_dataset("folder", root, image_size=8).train_x[:1]) == ["blue"]


def test_fingerprint_covers_path_size_mtime_and_label(tmp_path):
    p = tmp_path / "a.jpg"
    p.write_bytes(b"x" * 10)
    os.utime(p, ns=(0, 10**18))
    base = folders.source_fingerprint(tmp_path, [p], [0])
    assert folders.source_fingerprint(tmp_path, [p], [1]) != base        # another label
    os.utime(p, ns=(0, 10**18 + 1))                                      # one nanosecond later
    assert folders.source_fingerprint(tmp_path, [p], [0]) != base
    os.utime(p, ns=(0, 10**18))
    assert folders.source_fingerprint(tmp_path, [p], [0]) == base        # a function of those only
    p.write_bytes(b"x" * 11)
    os.utime(p, ns=(0, 10**18))
    assert folders.source_fingerprint(tmp_path, [p], [0]) != base
    q = tmp_path / "b.jpg"
    p.rename(q)
    assert folders.source_fingerprint(tmp_path, [q], [0]) != base
