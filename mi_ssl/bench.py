"""``mi-ssl bench``: how fast is one pre-training step, and what feeds it.

Every method's optimiser step (:class:`mi_ssl.training.Stepper`: forward under bf16 autocast on CUDA,
backward, fused SGD, EMA/copy target update) is timed with three data pipelines in front of it, in
one process and one run, so the only thing that differs between them is where the two views come from:

* ``reference`` — the lightly / solo-learn way: :class:`~mi_ssl.data.reference.TwoViewDataset` with
  per-image ``torchvision.transforms.v2`` in a ``DataLoader`` with ``workers`` worker processes
  (pinned memory on CUDA, persistent workers), views moved with ``.to(device, non_blocking=True)``;
* ``device`` — mi-ssl's training path (:func:`mi_ssl.training.fit`): uint8 images resident on the
  device, :func:`~mi_ssl.training.view_batches` (batched augmentation on the device, no workers),
  channels-last, bf16 autocast and fused optimisers on CUDA, optionally ``torch.compile``;
* ``model`` — the ceiling: the same step on two views already on the device (made once, reused).

Timing: ``warmup`` steps are run first and not timed; then ``steps`` steps between two
``torch.cuda.synchronize()`` calls. The reference pipeline gets a fresh loader per method, warmed up
with ``workers x prefetch_factor`` more steps (worker start-up, first prefetched batches) and shut
down after its measurement, so its workers never take CPU from another pipeline's timing. Methods
with explicit E- and M-steps (SDMI) alternate their phases step by step; every step consumes one
fresh minibatch of two views (Algorithm 1's ``schedule="epoch"`` draws fresh minibatches for each
pass), and an SDMI epoch takes two passes.

Reported per method and pipeline: images per second (``batch_size x steps / seconds``: images
whose two views went through one optimiser step), peak device memory
(``torch.cuda.max_memory_allocated``; on CPU only the rise of the process's peak RSS, a lower bound),
the epoch time and the 1,000-epoch time this implies for a 50,000-image epoch (CIFAR-10), FLOPs per
step (``torch.utils.flop_counter.FlopCounterMode``, counted once: matrix products and convolutions of
forward and backward, elementwise work not counted), achieved TFLOP/s and its share of the GPU's dense
bf16 peak (:data:`PEAK_BF16_TFLOPS`), and for a few steps run alone the host's share of a step
(``isolated_step_host_ms`` against ``isolated_step_ms``: is the host or the device the bottleneck?).
``probe=True`` times the linear-probe protocol of
:mod:`mi_ssl.probing` on 50,000 + 10,000 images. ``augment`` compares the view makers alone.

Throughput does not depend on pixel values, so ``synthetic=N`` benchmarks on ``N`` random uint8
images of the data set's shape (recorded as ``"synthetic": true``).

>>> res = run_benchmark(tiny=True, device="cpu")             # seconds, on a laptop CPU
>>> print(to_markdown(res))

Command line: ``mi-ssl bench --help`` (or ``python -m mi_ssl.bench --help``); ``benchmarks/README.md``
has the GPU recipe. This module imports only torch (+ torchvision through :mod:`mi_ssl.data.reference`)
so it runs on a bare GPU box with ``PYTHONPATH=.``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import itertools
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "PIPELINES", "PIPELINE_TITLES", "PEAK_BF16_TFLOPS", "EPOCH_IMAGES", "SCHEMA",
    "peak_bf16_tflops", "synthetic_data", "kornia_augment", "count_host_syncs", "run_benchmark", "recompute_ratios",
    "to_markdown", "add_parser", "main",
]

SCHEMA = "mi-ssl-bench/1"

#: The three pipelines, in the order they are reported.
PIPELINES: tuple[str, ...] = ("reference", "device", "model")

PIPELINE_TITLES: dict[str, str] = {
    "reference": "(a) reference: torchvision v2 per image, DataLoader workers",
    "device": "(b) mi-ssl: uint8 on device, batched device augmentation",
    "device_kornia": "(b') mi-ssl data path, kornia.augmentation views",
    "model": "(c) model only: precomputed views on device",
}

#: Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s, from NVIDIA's data sheets, matched on
#: ``torch.cuda.get_device_name()``: ``(substrings that must all appear, lower case), peak``;
#: first match wins, no match -> ``None``.
PEAK_BF16_TFLOPS: tuple[tuple[tuple[str, ...], float | None], ...] = (
    (("h100", "pcie"), 756.0),
    (("h100", "nvl"), None),          # not in our table: reported as unknown
    (("h100",), 989.4),               # SXM5 ("NVIDIA H100 80GB HBM3")
    (("h200",), 989.4),
    (("a100",), 312.0),
)

#: Images in one epoch of the paper's CIFAR-10 runs (training split).
EPOCH_IMAGES = 50_000
#: The paper's CIFAR pre-training length (Table 3).
PAPER_EPOCHS = 1000

_IMAGE_SHAPES: dict[str, tuple[int, int, int]] = {
    "digits": (1, 8, 8), "cifar10": (3, 32, 32), "cifar100": (3, 32, 32),
    "tinyimagenet": (3, 64, 64), "imagenet100": (3, 224, 224),
}
_NUM_CLASSES = {"digits": 10, "cifar10": 10, "cifar100": 100, "tinyimagenet": 200, "imagenet100": 100}
#: Default synthetic training-set sizes (the real sizes; ImageNet-100 capped at 20k = 3 GB of uint8).
_SYNTHETIC_N = {"digits": 1347, "cifar10": 50_000, "cifar100": 50_000, "tinyimagenet": 100_000,
                "imagenet100": 20_000}

_TINY = {"image_size": 8, "n_train": 128, "n_test": 64, "batch_size": 16, "steps": 3, "warmup": 1,
         "backbone": "digits_cnn", "proj_hidden": 64, "proj_dim": 32, "pred_hidden": 16,
         "probe_train": 256, "probe_test": 64, "probe_epochs": 10, "max_workers": 1}
_PREFETCH = 2


class BenchError(ValueError):
    """Bad benchmark input; the message names the parameter, the value and what is allowed."""


# =========================================================================== small helpers
def _import_training() -> types.ModuleType:
    """:mod:`mi_ssl.training`, also where pandas is missing (a bare GPU box with only torch).

    ``training`` imports pandas at module level for ``fit``'s history table, which the benchmark
    never builds; without pandas an empty placeholder module stands in so the import succeeds.
    """
    try:
        import pandas  # noqa: F401
    except ImportError:
        stub = types.ModuleType("pandas")
        stub.__dict__["__mi_ssl_stub__"] = True
        sys.modules["pandas"] = stub
    from . import training

    return training


def peak_bf16_tflops(device_name: str) -> float | None:
    """Dense bf16 peak (TFLOP/s) of a GPU named ``device_name``; ``None`` when it is not in the table."""
    name = device_name.lower()
    for keys, peak in PEAK_BF16_TFLOPS:
        if all(k in name for k in keys):
            return peak
    return None


def default_workers() -> int:
    """``os.cpu_count() - 1``, at least 0 and at most 16."""
    return max(0, min((os.cpu_count() or 1) - 1, 16))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _max_rss_bytes() -> int | None:
    try:
        import resource
    except ImportError:         # not on Windows
        return None
    scale = 1 if sys.platform == "darwin" else 1024            # ru_maxrss: bytes on macOS, KiB on Linux
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


def _git(*args: str) -> str | None:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _commit() -> tuple[str, bool | None]:
    """``(commit, dirty)`` from git; without a repository, ``$MI_SSL_COMMIT`` (dirty unknown)."""
    sha = _git("rev-parse", "HEAD")
    if not sha:
        return os.environ.get("MI_SSL_COMMIT", "unknown"), None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return sha, (bool(status) if status is not None else None)


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise BenchError(f"device={device!r} is not a device; allowed: auto, cpu, cuda, cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise BenchError(f"device={device!r} is not supported; allowed: auto, cpu, cuda, cuda:N")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise BenchError(f"device={device!r} but no CUDA device is available; use --device cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise BenchError(f"device={device!r} but only {torch.cuda.device_count()} CUDA device(s) exist")
    return dev


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def _provenance(device: torch.device, command: str, synthetic: bool) -> dict[str, Any]:
    import torchvision

    commit, dirty = _commit()
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        props = torch.cuda.get_device_properties(device)
        memory = round(props.total_memory / 2**30, 2)
    else:
        name, memory = _cpu_name(), None
    pandas = sys.modules.get("pandas")
    return {
        "device": name,
        "device_type": device.type,
        "device_memory_gib": memory,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
        "dirty": dirty,
        "command": command,
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "synthetic": synthetic,
        "pandas_stubbed": bool(getattr(pandas, "__mi_ssl_stub__", False)),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


# =========================================================================== data
def synthetic_data(dataset: str = "cifar10", n_train: int | None = None, *, n_test: int = 10_000,
                   image_size: int | None = None, seed: int = 0) -> Any:
    """Random uint8 images of ``dataset``'s shape as an :class:`~mi_ssl.data.SSLData` named ``dataset``.

    Throughput does not depend on pixel values, so this stands in for the real files. ``image_size``
    overrides the side (the tiny smoke mode uses 8). Labels are uniform random class indices.
    The normalisation constants are the real data set's, so the augmentation is the real one.
    """
    from .data import SSLData
    from .data.stats import CHANNEL_STATS

    if dataset not in _IMAGE_SHAPES:
        raise BenchError(f"dataset={dataset!r} has no synthetic image shape; allowed: {', '.join(_IMAGE_SHAPES)}")
    c, h, w = _IMAGE_SHAPES[dataset]
    if image_size is not None:
        h = w = int(image_size)
    n_train = _SYNTHETIC_N[dataset] if n_train is None else int(n_train)
    if n_train < 2 or n_test < 2:
        raise BenchError(f"synthetic sizes must be >= 2 images, got n_train={n_train}, n_test={n_test}")
    g = torch.Generator().manual_seed(seed)
    k = _NUM_CLASSES[dataset]
    mean, std = CHANNEL_STATS[dataset]
    return SSLData(
        dataset, "image",
        torch.randint(0, 256, (n_train, c, h, w), generator=g, dtype=torch.uint8),
        torch.randint(0, k, (n_train,), generator=g),
        torch.randint(0, 256, (n_test, c, h, w), generator=g, dtype=torch.uint8),
        torch.randint(0, k, (n_test,), generator=g),
        num_classes=k, mean=mean, std=std,
        source=f"synthetic: uniform random uint8 [{n_train}, {c}, {h}, {w}], seed {seed}",
    )


class _KorniaAugment:
    """One view per call from a ``kornia.augmentation`` pipeline (kornia draws from the global RNG)."""

    def __init__(self, seq: torch.nn.Module) -> None:
        self.seq = seq

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.seq(x.float() / 255.0)


def kornia_augment(data: Any, device: torch.device | str = "cpu") -> Callable[..., torch.Tensor]:
    """The image recipe of ``data`` (see :mod:`mi_ssl.data.recipes`) with ``kornia.augmentation``.

    RandomResizedCrop, HorizontalFlip, ColorJitter (torchvision's formulas; kornia draws one
    operation order per call, not per image) with probability ``jitter_p``, RandomGrayscale,
    GaussianBlur where the recipe has one, Normalize. kornia is optional: imported here, and a
    missing install is a clear :class:`BenchError`.
    """
    try:
        import kornia.augmentation as K
    except ImportError:
        raise BenchError("augment_impl 'kornia' needs the optional package kornia (`pip install kornia`), "
                         "which is not installed; allowed without it: 'ours'") from None
    from .data.augment import make_augment
    from .data.recipes import ImageRecipe

    recipe = make_augment(data).recipe
    if not isinstance(recipe, ImageRecipe):
        raise BenchError(f"augment_impl 'kornia' needs an image data set, got {data.name!r}")
    if recipe.translate or recipe.solarize_p:
        raise BenchError(f"the kornia comparison covers crop/flip/jitter/grayscale/blur only; the {data.name!r} "
                         "recipe also translates or solarises")
    size = recipe.image_size
    steps: list[torch.nn.Module] = [
        K.RandomResizedCrop((size, size), scale=recipe.crop_scale, ratio=recipe.crop_ratio),
        K.RandomHorizontalFlip(p=recipe.flip_p),
    ]
    if recipe.jitters_colour:
        steps.append(K.ColorJitter(*recipe.jitter, p=recipe.jitter_p))
    if recipe.gray_p > 0 and data.input_shape[0] == 3:
        steps.append(K.RandomGrayscale(p=recipe.gray_p))
    if recipe.blur_p > 0:
        k = recipe.kernel_size
        steps.append(K.RandomGaussianBlur((k, k), sigma=recipe.blur_sigma, p=recipe.blur_p))
    steps.append(K.Normalize(mean=torch.tensor(data.mean), std=torch.tensor(data.std)))
    return _KorniaAugment(torch.nn.Sequential(*steps).to(device))


# =========================================================================== batch streams
def _reference_batches(loader: Any, device: torch.device, channels_last: bool) -> Iterator[tuple[torch.Tensor, ...]]:
    """Endless ``(v1, v2)`` from a DataLoader of :class:`TwoViewDataset`, moved to ``device``."""
    while True:
        for v1, v2, _ in loader:
            v1 = v1.to(device, non_blocking=True)
            v2 = v2.to(device, non_blocking=True)
            if channels_last:
                v1 = v1.contiguous(memory_format=torch.channels_last)
                v2 = v2.contiguous(memory_format=torch.channels_last)
            yield v1, v2


def _device_batches(x: torch.Tensor, batch_size: int, augment: Callable, seed: int,
                    channels_last: bool) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless ``(v1, v2)`` from :func:`~mi_ssl.training.view_batches` over device-resident ``x``, epoch after epoch."""
    training = _import_training()
    for epoch in itertools.count():
        g = torch.Generator(device=x.device)
        g.manual_seed(seed * 1_000_003 + epoch)
        yield from training.view_batches(x, batch_size, augment, g, channels_last)


def _reference_loader(data: Any, batch_size: int, workers: int, device: torch.device, seed: int) -> Any:
    """The lightly-style loader: :class:`TwoViewDataset` + torchvision v2 per image, ``workers`` processes."""
    from torch.utils.data import DataLoader

    from .data import TwoViewDataset, make_cpu_transform

    ds = TwoViewDataset(data, make_cpu_transform(data))
    extra = {"persistent_workers": True, "prefetch_factor": _PREFETCH} if workers > 0 else {}
    return DataLoader(ds, batch_size=batch_size, shuffle=True, drop_last=True, num_workers=workers,
                      pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(seed), **extra)


def _stop(variants: list[tuple[str, Iterator, int]], loader: Any) -> None:
    """Close the batch streams and shut the loader's workers down, so they do not keep prefetching
    (and taking CPU) while the next pipeline is timed."""
    for _, stream, _ in variants:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    it = getattr(loader, "_iterator", None)           # persistent workers live on the loader's iterator
    if it is not None and hasattr(it, "_shutdown_workers"):
        it._shutdown_workers()


# =========================================================================== measurement
#: Steps run one at a time after the timed ones, to split a step's time into host and device (median).
_ISOLATED_STEPS = 5


def _measure(stepper: Any, phases: Sequence[str], batches: Iterator, *, warmup: int, steps: int,
             batch_size: int, device: torch.device) -> dict[str, Any]:
    """Run ``warmup`` untimed and ``steps`` timed steps of ``stepper`` on ``batches``; peak memory of both."""
    from .checks import finite_checks

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    rss0 = _max_rss_bytes()
    losses = []
    k = 0
    with finite_checks(False):                      # as in fit(): no host sync per loss
        for _ in range(warmup):
            v1, v2 = next(batches)
            stepper(phases[k % len(phases)], v1, v2, 1.0)
            k += 1
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            v1, v2 = next(batches)
            losses.append(stepper(phases[k % len(phases)], v1, v2, 1.0))
            k += 1
        _sync(device)
        seconds = time.perf_counter() - t0
        # a few steps alone, each between two synchronisations: how long the host takes to issue one step
        # (views included) against how long the step takes; equal times mean the host is the bottleneck
        host, total = [], []
        for _ in range(min(_ISOLATED_STEPS, steps)):
            _sync(device)
            t_a = time.perf_counter()
            v1, v2 = next(batches)
            stepper(phases[k % len(phases)], v1, v2, 1.0)
            k += 1
            t_b = time.perf_counter()
            _sync(device)
            host.append(t_b - t_a)
            total.append(time.perf_counter() - t_a)
    del v1, v2
    out: dict[str, Any] = {
        "steps": steps, "warmup": warmup, "seconds": seconds,
        "steps_per_s": steps / seconds, "images_per_s": batch_size * steps / seconds,
        "loss_finite": bool(torch.isfinite(torch.stack(losses)).all()) if losses else None,
        "isolated_steps": len(host),
        "isolated_step_host_ms": 1e3 * statistics.median(host) if host else None,
        "isolated_step_ms": 1e3 * statistics.median(total) if total else None,
    }
    if device.type == "cuda":
        out["peak_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        out["rss_peak_rise_mb"] = None
    else:
        rss1 = _max_rss_bytes()
        out["peak_memory_mb"] = None
        out["rss_peak_rise_mb"] = (rss1 - rss0) / 2**20 if rss0 is not None and rss1 is not None else None
    return out


def _count_flops(learner: Any, stepper: Any, phase: str, v1: torch.Tensor, v2: torch.Tensor) -> int | None:
    """FLOPs of one optimiser step's forward + backward (matrix products and convolutions), counted once."""
    try:
        from torch.utils.flop_counter import FlopCounterMode
    except ImportError:
        return None
    from .checks import finite_checks

    with finite_checks(False), FlopCounterMode(display=False) as counter:
        with stepper.autocast:
            loss = learner.loss(phase, v1, v2)
        loss.backward()
    for opt in stepper.optimizers.values():
        opt.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def count_host_syncs(fn: Callable[[], Any], device: torch.device) -> int | None:
    """How many times ``fn()`` makes the host wait for the CUDA device (``None`` off CUDA).

    Counted with ``torch.cuda.set_sync_debug_mode("warn")``, which warns at every synchronising call
    (``.item()``, ``.tolist()``, ``nonzero``, a device-to-host copy, ...). A view maker with no
    synchronisation lets the next batch's views queue behind the running training step.
    """
    if device.type != "cuda":
        return None
    import warnings

    torch.cuda.synchronize(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def _augment_rates(data: Any, ours: Callable, augment_impls: Sequence[str], device: torch.device, batch_size: int,
                   steps: int, warmup: int, seed: int) -> dict[str, dict[str, Any]]:
    """Images/s of making two views of a batch, per view maker (no model): ``ours`` and kornia on ``device``,
    torchvision v2 per image in this one process (what one DataLoader worker does)."""
    from .data import make_cpu_transform
    from .training import two_views

    bs = min(batch_size, len(data.train_x))
    x = data.train_x[:bs]
    out: dict[str, dict[str, Any]] = {}
    makers: dict[str, Callable] = {"ours": ours}
    if "kornia" in augment_impls:
        makers["kornia"] = kornia_augment(data, device)
    xd = x.to(device)
    for name, aug in makers.items():
        g = torch.Generator(device=device)
        g.manual_seed(seed)
        for _ in range(warmup):
            aug(xd, g), aug(xd, g)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            aug(xd, g), aug(xd, g)
        queued = time.perf_counter() - t0
        _sync(device)
        s = time.perf_counter() - t0
        syncs = count_host_syncs(functools.partial(two_views, aug, xd, g), device)
        out[name] = {"where": f"{device.type}, batched", "batches": steps, "seconds": s,
                     "images_per_s": bs * steps / s, "host_seconds": queued, "host_syncs_per_two_views": syncs}
    # torchvision per image: the reference pipeline's work, in one process (scale by the workers)
    tf = make_cpu_transform(data)
    n_batches = max(1, min(steps, 3))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)            # a DataLoader worker runs with one thread
    try:
        for i in range(min(bs, 8)):
            tf(x[i]), tf(x[i])
        t0 = time.perf_counter()
        for _ in range(n_batches):
            views = [(tf(img), tf(img)) for img in x]
            torch.stack([v[0] for v in views]), torch.stack([v[1] for v in views])
        s = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    out["torchvision"] = {"where": "cpu, one image at a time, one process, one thread", "batches": n_batches,
                          "seconds": s, "images_per_s": bs * n_batches / s}
    return out


def _probe_timing(data: Any, cfg_fn: Callable[[str], Any], device: torch.device, epochs: int,
                  n_train: int, n_test: int, image_size: int | None, seed: int, synthetic: bool) -> dict[str, Any]:
    """Seconds of the linear-probe protocol (:mod:`mi_ssl.probing`): frozen features of ``n_train`` +
    ``n_test`` images through the backbone, then :func:`~mi_ssl.evaluation.linear_probe` and kNN."""
    from . import evaluation, probing

    training = _import_training()
    if synthetic or len(data.train_x) < n_train:
        probe_data = synthetic_data(data.name, n_train, n_test=n_test, image_size=image_size, seed=seed + 1)
        source = "synthetic"
    else:
        probe_data = data
        source = data.source
    cfg = cfg_fn("jmi")
    encoder = training.build_learner(cfg, probe_data).f.to(device)
    _sync(device)
    t0 = time.perf_counter()
    h_tr, h_te, _, _ = probing.encoder_features(encoder, probe_data, device)
    _sync(device)
    t1 = time.perf_counter()
    res = evaluation.linear_probe(h_tr, probe_data.train_y, h_te, probe_data.test_y, epochs=epochs, seed=seed,
                                  device=device)
    _sync(device)
    t2 = time.perf_counter()
    evaluation.knn_accuracy(h_tr, probe_data.train_y, h_te, probe_data.test_y, k=20)
    _sync(device)
    t3 = time.perf_counter()
    return {
        "backbone": cfg.backbone, "n_train": int(len(probe_data.train_x)), "n_test": int(len(probe_data.test_x)),
        "image_shape": list(probe_data.input_shape), "data": source, "epochs": epochs,
        "lbfgs_iterations": res["iterations"], "feature_seconds": t1 - t0, "linear_probe_seconds": t2 - t1,
        "knn_seconds": t3 - t2, "total_seconds": t3 - t0,
        "top1_note": "random labels: accuracy is chance level and not reported",
    }


def _derive(entry: dict[str, Any], flops: int | None, peak: float | None, passes: int) -> None:
    """Add TFLOP/s, share of peak, epoch and 1,000-epoch times to one pipeline's measurement (in place)."""
    ips = entry["images_per_s"]
    entry["tflops"] = flops * entry["steps_per_s"] / 1e12 if flops else None
    entry["share_of_peak"] = entry["tflops"] / peak if entry["tflops"] is not None and peak else None
    entry["epoch_seconds"] = EPOCH_IMAGES * passes / ips
    entry["projected_1000_epochs_hours"] = entry["epoch_seconds"] * PAPER_EPOCHS / 3600


def _ratio(num: dict | None, den: dict | None) -> float | None:
    if not num or not den or "images_per_s" not in num or "images_per_s" not in den:
        return None
    return num["images_per_s"] / den["images_per_s"]


def recompute_ratios(method_result: dict[str, Any]) -> dict[str, float | None]:
    """Ratios of one method's throughputs from its raw numbers (``steps x batch / seconds``).

    ``device_over_reference`` = b/a, ``device_over_model`` = b/c, ``reference_over_model`` = a/c,
    ``kornia_over_ours`` = b'/b (when the kornia pipeline ran).
    """
    p = method_result.get("pipelines", {})
    raw = {k: {"images_per_s": v["steps"] * method_result["batch_size"] / v["seconds"]}
           for k, v in p.items() if "seconds" in v}
    return {
        "device_over_reference": _ratio(raw.get("device"), raw.get("reference")),
        "device_over_model": _ratio(raw.get("device"), raw.get("model")),
        "reference_over_model": _ratio(raw.get("reference"), raw.get("model")),
        "kornia_over_ours": _ratio(raw.get("device_kornia"), raw.get("device")),
    }


# =========================================================================== the run
def _write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)


def _clean(o: Any) -> Any:
    """Non-finite floats -> ``None`` (JSON has no NaN)."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    return o


def _check_methods(methods: Sequence[str] | str | None) -> list[str]:
    from .methods import MAIN_METHODS, METHODS

    if methods is None:
        return list(MAIN_METHODS)
    if isinstance(methods, str):
        methods = [methods]
    names = [n.strip() for m in methods for n in str(m).split(",") if n.strip()]
    if names in (["all"], ["main"]):
        return list(METHODS) if names == ["all"] else list(MAIN_METHODS)
    bad = [n for n in names if n not in METHODS]
    if bad or not names:
        raise BenchError(f"methods={bad or names!r}: unknown method(s); allowed: {', '.join(METHODS)} "
                         "(or 'main', 'all')")
    return list(dict.fromkeys(names))


def _check_choice(name: str, values: Sequence[str], allowed: Sequence[str]) -> list[str]:
    vals = [v.strip() for x in values for v in str(x).split(",") if v.strip()]
    bad = [v for v in vals if v not in allowed]
    if bad:
        raise BenchError(f"{name}={bad!r} is not allowed; allowed: {', '.join(allowed)}")
    return list(dict.fromkeys(vals))


def run_benchmark(
    methods: Sequence[str] | str | None = None,
    *,
    dataset: str = "cifar10",
    data_dir: str | None = None,
    synthetic: int | bool | None = None,
    batch_size: int | None = None,
    steps: int | None = None,
    warmup: int | None = None,
    device: str = "auto",
    workers: int | None = None,
    backbone: str | None = None,
    profile: str = "cpu",
    compile: bool = False,
    compile_views: bool = False,
    cudnn_benchmark: bool = False,
    pipelines: Sequence[str] | None = None,
    augment_impls: Sequence[str] = ("ours",),
    augment_only: bool = False,
    probe: bool = False,
    probe_epochs: int | None = None,
    tiny: bool = False,
    threads: int | None = None,
    seed: int = 0,
    command: str | None = None,
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Benchmark ``methods`` (default: the nine main methods) with each pipeline; returns the record.

    Args:
        methods: registry names (:data:`mi_ssl.methods.METHODS`), ``"main"`` or ``"all"``.
        dataset: image data set whose shape, recipe and backbone are used (default ``cifar10``).
        data_dir: folder of the real data set (ignored with ``synthetic``).
        synthetic: ``N`` random uint8 images of the data set's shape instead of the files (``True``:
            the real training-set size; CIFAR: 50,000).
        batch_size, steps, warmup: per step / timed steps / untimed steps (defaults 512 / 50 / 10;
            tiny: 16 / 3 / 1).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        workers: DataLoader workers of the reference pipeline (default ``os.cpu_count() - 1``, <= 16).
        backbone: override the data set's backbone (``resnet18`` for CIFAR).
        profile: ``"cpu"`` or ``"paper"`` (Tables 3, 5: e.g. 3-layer projectors for SDMI).
        compile: ``torch.compile`` the loss (as ``mi-ssl train --compile``).
        compile_views: ``torch.compile`` our view maker (as ``mi-ssl train --compile-views``), in
            pipeline (b) and in the view-maker timing; compiling happens in the warm-up.
        cudnn_benchmark: set ``torch.backends.cudnn.benchmark`` (``fit`` leaves it off).
        pipelines: subset of :data:`PIPELINES` (default all).
        augment_impls: view makers for the device pipeline: ``"ours"`` and/or ``"kornia"`` (optional
            dependency; adds the pipeline ``device_kornia``).
        augment_only: only the view-maker comparison, no model.
        probe: also time the linear-probe protocol on 50,000 + 10,000 images (tiny: 256 + 64).
        probe_epochs: L-BFGS iterations of that probe (default 100; tiny 10).
        tiny: CPU smoke mode: 8x8 (digits-size) synthetic RGB images, a small conv net, a few steps.
        threads: torch CPU threads during the run (default: unchanged; tiny: 1, because on a busy
            2-core machine two OpenMP threads can make a small step 30x slower).
        command: the command line recorded in the provenance (default: ``sys.argv``).
        out: write the JSON record here, after every method (atomically), so a killed run keeps
            what it measured (``"complete": false`` until the end).
        progress: called with one line per finished measurement (e.g. ``print``).

    Raises:
        BenchError: bad input (unknown method, device without CUDA, ...).
    """
    from .methods import PROFILES
    from .networks import BACKBONES

    names = _check_methods(methods)
    dev = _resolve_device("cpu" if tiny and device == "auto" else device)
    if dataset not in _IMAGE_SHAPES:
        raise BenchError(f"dataset={dataset!r} is not allowed; the benchmark measures image pipelines: "
                         f"{', '.join(_IMAGE_SHAPES)}")
    if profile not in PROFILES:
        raise BenchError(f"profile={profile!r} is not allowed; allowed: {', '.join(PROFILES)}")
    if backbone is not None and backbone not in BACKBONES:
        raise BenchError(f"backbone={backbone!r} is not allowed; allowed: {', '.join(BACKBONES)}")
    chosen = _check_choice("pipelines", list(pipelines) if pipelines is not None else list(PIPELINES), PIPELINES)
    impls = _check_choice("augment_impls", list(augment_impls), ("ours", "kornia")) or ["ours"]
    if tiny and dev.type != "cpu":
        raise BenchError(f"tiny=True is the CPU smoke mode; got device={device!r}")
    batch_size = batch_size if batch_size is not None else (_TINY["batch_size"] if tiny else 512)
    steps = steps if steps is not None else (_TINY["steps"] if tiny else 50)
    warmup = warmup if warmup is not None else (_TINY["warmup"] if tiny else 10)
    probe_epochs = probe_epochs if probe_epochs is not None else (_TINY["probe_epochs"] if tiny else 100)
    workers = workers if workers is not None else (min(default_workers(), _TINY["max_workers"]) if tiny
                                                    else default_workers())
    threads = threads if threads is not None else (1 if tiny else None)
    for name, value, lo in (("threads", 1 if threads is None else threads, 1), ("batch_size", batch_size, 2),
                            ("steps", steps, 1), ("warmup", warmup, 0),
                            ("workers", workers, 0), ("probe_epochs", probe_epochs, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < lo:
            raise BenchError(f"{name}={value!r} is not allowed; expected an integer >= {lo}")
    if tiny:                                   # always synthetic
        synthetic = _TINY["n_train"] if synthetic in (None, False, True) else synthetic
        backbone = backbone or _TINY["backbone"]
    is_synthetic = synthetic not in (None, False)
    n_syn = None if synthetic is True or not is_synthetic else synthetic
    if n_syn is not None and (not isinstance(n_syn, int) or n_syn < batch_size):
        raise BenchError(f"synthetic={n_syn!r} is not allowed; expected a number of images >= batch_size={batch_size}")
    if "kornia" in impls:
        kornia_augment(synthetic_data("cifar10", 2, n_test=2, image_size=8))     # fail early if missing
    if command is None:
        command = shlex.join(sys.argv)
    plan = _Plan(methods=names, device=dev, dataset=dataset, data_dir=data_dir, synthetic=is_synthetic,
                 n_synthetic=n_syn, batch_size=batch_size, steps=steps, warmup=warmup, workers=workers,
                 backbone=backbone, profile=profile, compile=compile, compile_views=compile_views,
                 pipelines=chosen, augment_impls=impls,
                 augment_only=augment_only, probe=probe, probe_epochs=probe_epochs, tiny=tiny, seed=seed,
                 command=command, out=Path(out) if out is not None else None)
    old_threads, old_cudnn = torch.get_num_threads(), torch.backends.cudnn.benchmark
    if threads is not None:
        torch.set_num_threads(threads)
    torch.backends.cudnn.benchmark = bool(cudnn_benchmark)
    try:
        return _run(plan, progress or (lambda line: None))
    finally:
        torch.set_num_threads(old_threads)
        torch.backends.cudnn.benchmark = old_cudnn


@dataclass(frozen=True)
class _Plan:
    """The resolved, validated settings of one benchmark run."""

    methods: list[str]
    device: torch.device
    dataset: str
    data_dir: str | None
    synthetic: bool
    n_synthetic: int | None
    batch_size: int
    steps: int
    warmup: int
    workers: int
    backbone: str | None
    profile: str
    compile: bool
    compile_views: bool
    pipelines: list[str]
    augment_impls: list[str]
    augment_only: bool
    probe: bool
    probe_epochs: int
    tiny: bool
    seed: int
    command: str
    out: Path | None


def _run(plan: _Plan, log: Callable[[str], None]) -> dict[str, Any]:
    from .data import FILE_DATASETS, load_dataset
    from .data.augment import make_augment
    from .methods import get_method

    training = _import_training()
    dev, dataset, batch_size, steps, warmup = plan.device, plan.dataset, plan.batch_size, plan.steps, plan.warmup
    workers, seed, tiny = plan.workers, plan.seed, plan.tiny
    # ---- data
    image_size = _TINY["image_size"] if tiny else None
    if plan.synthetic:
        data = synthetic_data(dataset, plan.n_synthetic, n_test=_TINY["n_test"] if tiny else 10_000,
                              image_size=image_size, seed=seed)
    else:
        try:
            data = load_dataset(dataset, plan.data_dir)
        except ValueError as e:
            hint = " (or pass --synthetic to benchmark on random images of this shape)" \
                if dataset in FILE_DATASETS else ""
            raise BenchError(f"{e}{hint}") from None
    if data.modality != "image":
        raise BenchError(f"dataset={dataset!r} is not an image data set")
    if len(data.train_x) < batch_size:
        raise BenchError(f"batch_size={batch_size} is larger than the {len(data.train_x)} training images")

    amp = dev.type == "cuda"
    channels_last = dev.type == "cuda"
    peak = peak_bf16_tflops(torch.cuda.get_device_name(dev)) if dev.type == "cuda" else None

    def cfg_for(method: str) -> Any:
        over: dict[str, Any] = {"batch_size": batch_size, "device": str(dev), "backbone": plan.backbone,
                                "compile": plan.compile, "track_every": 0, "seed": seed}
        if tiny:
            over.update(proj_hidden=_TINY["proj_hidden"], proj_dim=_TINY["proj_dim"],
                        pred_hidden=_TINY["pred_hidden"])
        return training.make_config(method, dataset, plan.profile, **over)

    cfg0 = cfg_for(plan.methods[0])
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "complete": False,
        "provenance": _provenance(dev, plan.command, plan.synthetic),
        "settings": {
            "dataset": dataset, "data_source": data.source, "synthetic": plan.synthetic,
            "n_train": int(len(data.train_x)), "image_shape": list(data.input_shape),
            "batch_size": batch_size, "steps": steps, "warmup": warmup,
            "reference_extra_warmup": workers * _PREFETCH if workers > 0 else 0,
            "workers": workers, "pin_memory": dev.type == "cuda", "persistent_workers": workers > 0,
            "backbone": cfg0.backbone, "profile": plan.profile, "compile": plan.compile,
            "compile_views": plan.compile_views, "amp_bf16": amp,
            "channels_last": channels_last, "fused_optimizer": dev.type == "cuda",
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark), "pipelines": plan.pipelines,
            "augment_impls": plan.augment_impls, "tiny": tiny, "seed": seed, "torch_threads": torch.get_num_threads(),
            "peak_bf16_tflops": peak, "epoch_images": EPOCH_IMAGES, "paper_epochs": PAPER_EPOCHS,
        },
        "methods": {},
        "summary": {},
        "augment": None,
        "probe": None,
        "notes": ([] if plan.augment_only else [
            "images_per_s = batch_size x timed steps / seconds; each step puts two views of batch_size "
            "images through one optimiser step of one phase",
            "SDMI (explicit E/M) alternates phases step by step; its epoch takes two passes",
            "FLOPs: matrix products and convolutions of forward + backward (FlopCounterMode), counted once",
            "epoch and 1,000-epoch times count optimiser steps only (fit's MI tracking and checkpoints are extra)",
        ]) + [
            "view makers alone: two views of one batch; torchvision runs one image at a time in one process "
            "with one thread (one DataLoader worker's share of the reference pipeline)",
        ] + (["synthetic data: uniform random uint8 images of the data set's shape (throughput does not "
              "depend on pixel values); no real data set files were read"] if plan.synthetic else []),
    }

    def save() -> None:
        if plan.out is not None:
            _write_json(plan.out, _clean(result))

    # ---- the view makers alone
    augment_ours = make_augment(data, compile=plan.compile_views)
    result["augment"] = _augment_rates(data, augment_ours, plan.augment_impls, dev, batch_size, steps, warmup, seed)
    for k, v in result["augment"].items():
        log(f"augment {k:12s} {v['images_per_s']:12,.0f} img/s (two views; {v['where']})")
    save()
    if plan.augment_only:
        result["settings"]["pipelines"] = []
        result["complete"] = True
        result = _clean(result)
        save()
        return result

    device_variants: list[tuple[str, Callable]] = []
    if "device" in plan.pipelines:
        if "ours" in plan.augment_impls:
            device_variants.append(("device", augment_ours))
        if "kornia" in plan.augment_impls:
            device_variants.append(("device_kornia", kornia_augment(data, dev)))

    for method in plan.methods:
        m = get_method(method)
        cfg = cfg_for(method)
        entry: dict[str, Any] = {"paradigm": m.paradigm, "update": m.update, "batch_size": batch_size,
                                 "backbone": cfg.backbone, "proj_layers": cfg.proj_layers,
                                 "pipelines": {}}
        learner = stepper = fixed = x_dev = loader = None
        variants: list[tuple[str, Iterator, int]] = []
        try:
            learner = training.build_learner(cfg, data).to(dev)
            stepper = training.Stepper(cfg, learner, dev, channels_last=channels_last, amp=amp)
            phases = learner.phases
            passes = len(phases) if cfg.schedule == "epoch" else 1
            entry.update(phases=list(phases), passes_per_epoch=passes,
                         parameters=sum(p.numel() for p in learner.parameters()),
                         trainable_parameters=sum(p.numel() for ph in phases
                                                  for p in learner.parameters_for(ph)))
            g = torch.Generator(device=dev)
            g.manual_seed(seed)
            fixed = training.two_views(augment_ours, data.train_x[:batch_size].to(dev), g, channels_last)
            entry["flops_per_step"] = _count_flops(learner, stepper, phases[0], *fixed)
            for pipe in [p for p in PIPELINES if p in plan.pipelines]:
                if pipe == "model":
                    variants = [("model", itertools.repeat(fixed), warmup)]
                elif pipe == "reference":
                    loader = _reference_loader(data, batch_size, workers, dev, seed)
                    variants = [("reference", _reference_batches(loader, dev, channels_last),
                                 warmup + result["settings"]["reference_extra_warmup"])]
                else:
                    x_dev = data.train_x.to(dev)
                    variants = [(name, _device_batches(x_dev, batch_size, aug, seed, channels_last), warmup)
                                for name, aug in device_variants]
                for name, stream, n_warm in variants:
                    # compiled steps need every phase compiled before timing
                    n_warm = max(n_warm, 2 * len(phases)) if plan.compile else n_warm
                    r = _measure(stepper, phases, stream, warmup=n_warm, steps=steps,
                                 batch_size=batch_size, device=dev)
                    _derive(r, entry["flops_per_step"], peak, passes)
                    entry["pipelines"][name] = r
                    mem = f"{r['peak_memory_mb']:8.0f} MB" if r["peak_memory_mb"] is not None else "       n/a"
                    log(f"{method:13s} {name:14s} {r['images_per_s']:10,.0f} img/s  {mem}")
                _stop(variants, loader)
                variants, x_dev, loader = [], None, None
        except (RuntimeError, ValueError) as e:          # one failing method must not lose the run
            entry["error"] = f"{type(e).__name__}: {e}"
            log(f"{method:13s} ERROR {entry['error']}")
        finally:
            _stop(variants, loader)
            learner = stepper = fixed = x_dev = loader = None
            variants = []
            if dev.type == "cuda":              # free the method's memory before the next one
                gc.collect()
                torch.cuda.empty_cache()
        entry["ratios"] = recompute_ratios(entry)
        result["methods"][method] = entry
        save()
    result["summary"] = _summary(result)
    if plan.probe:
        n_tr, n_te = (_TINY["probe_train"], _TINY["probe_test"]) if tiny else (EPOCH_IMAGES, 10_000)
        result["probe"] = _probe_timing(data, cfg_for, dev, plan.probe_epochs, n_tr, n_te, image_size, seed,
                                        plan.synthetic)
        log(f"probe: features {result['probe']['feature_seconds']:.2f} s, linear probe "
            f"{result['probe']['linear_probe_seconds']:.2f} s, kNN {result['probe']['knn_seconds']:.2f} s")
    result["complete"] = True
    result = _clean(result)
    save()
    return result


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """Cross-method numbers: SDMI / JMI peak memory, JMI's projected 1,000-epoch time, ratio ranges."""
    ms = result["methods"]

    def get(method: str, pipe: str, key: str) -> float | None:
        return ms.get(method, {}).get("pipelines", {}).get(pipe, {}).get(key)

    out: dict[str, Any] = {}
    for pipe in ("model", "device", "reference"):
        s, j = get("sdmi", pipe, "peak_memory_mb"), get("jmi", pipe, "peak_memory_mb")
        out[f"sdmi_over_jmi_peak_memory_{pipe}"] = s / j if s and j else None
        out[f"jmi_projected_1000_epochs_hours_{pipe}"] = get("jmi", pipe, "projected_1000_epochs_hours")
    for key in ("device_over_reference", "device_over_model"):
        vals = [e["ratios"][key] for e in ms.values() if e.get("ratios", {}).get(key) is not None]
        out[f"{key}_min"] = min(vals) if vals else None
        out[f"{key}_max"] = max(vals) if vals else None
    return out


# =========================================================================== markdown
def _fmt(v: float | None, spec: str = ",.0f", suffix: str = "") -> str:
    return "n/a" if v is None else f"{v:{spec}}{suffix}"


def _isolated_step_table(result: dict[str, Any]) -> list[str]:
    """Markdown lines: host ms and total ms of one isolated step per method and pipeline (newer records only)."""
    cells = {(m, p): v for m, e in result["methods"].items() for p, v in e.get("pipelines", {}).items()
             if v.get("isolated_step_ms") is not None}
    if not cells:
        return []
    pipes = [p for p in (*PIPELINES, "device_kornia") if any(q == p for _, q in cells)]
    head = ["method"] + [f"{p} host / step ms" for p in pipes]
    n = max(v["isolated_steps"] for v in cells.values())
    lines = [f"### One step alone (median of {n}, each between two synchronisations)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in result["methods"]:
        row = [m]
        for p in pipes:
            v = cells.get((m, p))
            row.append("" if v is None else f"{v['isolated_step_host_ms']:.1f} / {v['isolated_step_ms']:.1f}")
        lines.append("| " + " | ".join(row) + " |")
    return lines + ["", "Host = time until the host has issued the step (views included); step = until the device "
                        "has finished it. Host close to step: the host (kernel launches, Python) bounds the speed; "
                        "host well below step: the device does.", ""]


def to_markdown(result: dict[str, Any]) -> str:
    """The record as markdown: provenance, a throughput table with ratios b/a and b/c, FLOPs, memory,
    projected epoch times, the view makers and the probe timing."""
    pv, st = result["provenance"], result["settings"]
    lines = [
        f"# mi-ssl bench — {pv['device']} ({pv['device_type']})",
        "",
        f"- command: `{pv['command']}`",
        f"- commit {pv['commit']}{' (dirty tree)' if pv.get('dirty') else ''}, torch {pv['torch']}, "
        f"torchvision {pv['torchvision']}, CUDA {pv['cuda'] or 'n/a'}, {pv['timestamp']}",
        f"- data: {st['dataset']} {'x'.join(map(str, st['image_shape']))}, {st['n_train']:,} images, "
        f"**synthetic: {str(st['synthetic']).lower()}**",
        f"- batch {st['batch_size']}, {st['steps']} timed steps after {st['warmup']} warm-up steps "
        f"(+{st['reference_extra_warmup']} for the reference loader), backbone {st['backbone']}, profile "
        f"{st['profile']}, bf16 autocast {st['amp_bf16']}, channels-last {st['channels_last']}, compile "
        f"{st['compile']}, cudnn.benchmark {st['cudnn_benchmark']}, {st['workers']} DataLoader workers",
        f"- dense bf16 peak: {_fmt(st['peak_bf16_tflops'], '.1f', ' TFLOP/s')}",
        "",
    ]
    pipes = [p for p in ("reference", "device", "device_kornia", "model")
             if any(p in e.get("pipelines", {}) for e in result["methods"].values())]
    if pipes:
        short = {"reference": "(a) reference", "device": "(b) mi-ssl", "device_kornia": "(b') kornia",
                 "model": "(c) model only"}
        head = ["method", *[f"{short[p]} img/s" for p in pipes], "b/a", "b/c", "GFLOP/step", "TFLOP/s (c)",
                "% bf16 peak (c)", "peak MB (b)", "epoch s (b)", "1000 ep h (b)"]
        lines += ["## Throughput", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for name, e in result["methods"].items():
            p = e.get("pipelines", {})
            if "error" in e:
                lines.append(f"| {name} | error: {e['error'][:80]} |" + " |" * (len(head) - 2))
                continue
            best = p.get("device") or p.get("device_kornia") or p.get("model") or p.get("reference") or {}
            model = p.get("model", {})
            flops = e.get("flops_per_step")
            share = model.get("share_of_peak")
            row = [name, *[_fmt(p.get(k, {}).get("images_per_s")) for k in pipes],
                   _fmt(e["ratios"]["device_over_reference"], ".2f"), _fmt(e["ratios"]["device_over_model"], ".2f"),
                   _fmt(flops / 1e9 if flops else None, ",.1f"), _fmt(model.get("tflops"), ".1f"),
                   _fmt(share * 100 if share is not None else None, ".1f"),
                   _fmt(best.get("peak_memory_mb")), _fmt(best.get("epoch_seconds"), ".1f"),
                   _fmt(best.get("projected_1000_epochs_hours"), ".1f")]
            lines.append("| " + " | ".join(row) + " |")
        s = result.get("summary", {})
        lines += ["", "b/a = mi-ssl / reference, b/c = mi-ssl / model-only ceiling (images per second). "
                  f"Epoch = {EPOCH_IMAGES:,} images (SDMI: two passes). "
                  f"SDMI / JMI peak memory (model only): {_fmt(s.get('sdmi_over_jmi_peak_memory_model'), '.2f')}; "
                  f"JMI 1,000 epochs: {_fmt(s.get('jmi_projected_1000_epochs_hours_device'), '.1f')} h (b), "
                  f"{_fmt(s.get('jmi_projected_1000_epochs_hours_reference'), '.1f')} h (a).", ""]
        lines += _isolated_step_table(result)
    if result.get("augment"):
        lines += ["## View makers alone (two views of one batch)", "",
                  "| maker | where | img/s | host ms per two views | host syncs per two views |",
                  "|---|---|---|---|---|"]
        for k, v in result["augment"].items():
            host = v.get("host_seconds")
            host_ms = "n/a" if host is None else f"{1e3 * host / v['batches']:.2f}"
            syncs = v.get("host_syncs_per_two_views")
            lines.append(f"| {k} | {v['where']} | {_fmt(v['images_per_s'])} | {host_ms} | "
                         f"{'n/a' if syncs is None else syncs} |")
        lines.append("")
    if result.get("probe"):
        pr = result["probe"]
        lines += ["## Linear-probe protocol", "",
                  f"{pr['n_train']:,} + {pr['n_test']:,} images through {pr['backbone']}: features "
                  f"{pr['feature_seconds']:.2f} s, linear probe ({pr['epochs']} L-BFGS iterations max, "
                  f"{pr['lbfgs_iterations']} run) {pr['linear_probe_seconds']:.2f} s, kNN {pr['knn_seconds']:.2f} s; "
                  f"total {pr['total_seconds']:.2f} s.", ""]
    for n in result.get("notes", []):
        lines.append(f"- {n}")
    if not result.get("complete", True):
        lines += ["", "**Incomplete run: the record stops at the last method measured.**"]
    return "\n".join(lines) + "\n"


# =========================================================================== command line
def _add_arguments(p: argparse.ArgumentParser) -> None:
    from .methods import MAIN_METHODS, METHODS

    p.add_argument("--methods", nargs="+", metavar="NAME",
                   help=f"methods (space or comma separated; 'main', 'all'); default: {' '.join(MAIN_METHODS)}. "
                        f"Known: {', '.join(METHODS)}")
    p.add_argument("--dataset", default="cifar10", help=f"image data set: {', '.join(_IMAGE_SHAPES)}")
    p.add_argument("--data-dir", help="folder of the real data set (not needed with --synthetic)")
    p.add_argument("--synthetic", nargs="?", type=int, const=-1, default=None, metavar="N",
                   help="N random uint8 images of the data set's shape instead of the files "
                        "(no N: the real training-set size, 50,000 for CIFAR)")
    p.add_argument("--batch-size", type=int, help="images per step (default 512; --tiny 16)")
    p.add_argument("--steps", type=int, help="timed steps per method and pipeline (default 50; --tiny 3)")
    p.add_argument("--warmup", type=int, help="untimed steps first (default 10; --tiny 1)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--workers", type=int, help="DataLoader workers of the reference pipeline "
                                               f"(default cpu_count - 1, at most 16: {default_workers()} here)")
    p.add_argument("--backbone", help="override the data set's backbone (resnet18 for CIFAR)")
    p.add_argument("--profile", default="cpu", choices=["cpu", "paper"],
                   help="hyper-parameters: 'paper' = Tables 3/5 (projector depth per method)")
    p.add_argument("--compile", action="store_true", help="torch.compile the step (as mi-ssl train --compile)")
    p.add_argument("--compile-views", action="store_true",
                   help="torch.compile our view maker (as mi-ssl train --compile-views)")
    p.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    p.add_argument("--pipelines", nargs="+", metavar="NAME", help=f"subset of {' '.join(PIPELINES)}")
    p.add_argument("--augment-impl", nargs="+", default=["ours"], metavar="IMPL",
                   help="view makers for pipeline (b): ours and/or kornia (optional package; adds the "
                        "pipeline device_kornia)")
    p.add_argument("--augment-only", action="store_true", help="only compare the view makers (no model)")
    p.add_argument("--probe", action="store_true", help="also time the linear-probe protocol (50k + 10k images)")
    p.add_argument("--probe-epochs", type=int, help="L-BFGS iterations of the timed probe (default 100; --tiny 10)")
    p.add_argument("--tiny", action="store_true",
                   help="CPU smoke mode: 8x8 synthetic images, digits_cnn, batch 16, 3 steps (seconds)")
    p.add_argument("--threads", type=int, help="torch CPU threads during the run (default: unchanged; --tiny 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="FILE.json", help="write the JSON record here (updated after every method)")
    p.add_argument("--markdown", metavar="FILE.md", help="write the markdown table here")
    p.add_argument("--quiet", action="store_true", help="no per-measurement lines on stderr")


def _command(a: argparse.Namespace, prog: str) -> str:
    """The command line that ran: ``sys.argv`` from a shell, else rebuilt from the parsed options."""
    argv = getattr(a, "_argv", None)
    if argv is not None:
        return shlex.join([*prog.split(), *argv])
    if sys.argv[1:2] == ["bench"]:
        return shlex.join(sys.argv)
    parser: argparse.ArgumentParser | None = getattr(a, "_parser", None)
    words = prog.split()
    for action in parser._actions if parser is not None else []:
        value = getattr(a, action.dest, None)
        if not action.option_strings or action.dest == "help" or value == action.default:
            continue
        flag = action.option_strings[-1]
        if isinstance(value, bool):
            words.append(flag)
        elif isinstance(value, list):
            words += [flag, *map(str, value)]
        elif action.const is not None and value == action.const:
            words.append(flag)
        else:
            words += [flag, str(value)]
    return shlex.join(words)


def _handle(a: argparse.Namespace, prog: str = "mi-ssl bench") -> int:
    command = _command(a, prog)
    synthetic: int | bool | None = a.synthetic
    if synthetic == -1:
        synthetic = True
    try:
        res = run_benchmark(
            a.methods, dataset=a.dataset, data_dir=a.data_dir, synthetic=synthetic, batch_size=a.batch_size,
            steps=a.steps, warmup=a.warmup, device=a.device, workers=a.workers, backbone=a.backbone,
            profile=a.profile, compile=a.compile, compile_views=a.compile_views, cudnn_benchmark=a.cudnn_benchmark,
            pipelines=a.pipelines,
            augment_impls=a.augment_impl, augment_only=a.augment_only, probe=a.probe,
            probe_epochs=a.probe_epochs, tiny=a.tiny, threads=a.threads, seed=a.seed, command=command, out=a.out,
            progress=None if a.quiet else (lambda s: print(s, file=sys.stderr, flush=True)),
        )
    except ValueError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    md = to_markdown(res)
    if a.markdown:
        path = Path(a.markdown)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(md)
    print(md)
    return 0


_DESCRIPTION = (__doc__ or "").split("\n\n")[0].replace("``", "")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``mi-ssl bench`` on the ``mi-ssl`` command's sub-parsers (``handler`` set via ``set_defaults``)."""
    p = subparsers.add_parser(
        "bench", help="images/s of every method's step with three data pipelines (reference, mi-ssl, model only)",
        description=_DESCRIPTION + " Writes a JSON record (--out) and a markdown table (--markdown).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_arguments(p)
    p.set_defaults(handler=_handle, _parser=p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mi_ssl.bench ...`` (same options as ``mi-ssl bench``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m mi_ssl.bench", description=_DESCRIPTION,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_arguments(p)
    a = p.parse_args(argv)
    a._argv = argv
    return _handle(a, prog="python -m mi_ssl.bench")


if __name__ == "__main__":
    sys.exit(main())
