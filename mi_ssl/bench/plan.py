"""The settings of one ``mi-ssl bench`` run: defaults, the GPU peak table, and the validated :class:`Plan`.

Every argument of :func:`mi_ssl.bench.run_benchmark` is checked here, once, before anything is measured;
a bad one raises :class:`BenchError` naming the parameter, the value and what is allowed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..util import resolve_device

__all__ = ["BenchError", "PEAK_BF16_TFLOPS", "EPOCH_IMAGES", "PAPER_EPOCHS", "IMAGE_SHAPES", "TINY", "PREFETCH",
           "peak_bf16_tflops", "default_workers", "Plan", "make_plan", "check_methods", "check_choice"]


class BenchError(ValueError):
    """Bad benchmark input; the message names the parameter, the value and what is allowed."""


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

#: ``(channels, height, width)`` of each image data set the benchmark knows.
IMAGE_SHAPES: dict[str, tuple[int, int, int]] = {
    "digits": (1, 8, 8), "cifar10": (3, 32, 32), "cifar100": (3, 32, 32),
    "tinyimagenet": (3, 64, 64), "imagenet100": (3, 224, 224),
}

#: The CPU smoke mode (``--tiny``): seconds on a laptop.
TINY = {"image_size": 8, "n_train": 128, "n_test": 64, "batch_size": 16, "steps": 3, "warmup": 1,
        "backbone": "digits_cnn", "proj_hidden": 64, "proj_dim": 32, "pred_hidden": 16,
        "probe_train": 256, "probe_test": 64, "probe_epochs": 10, "max_workers": 1}
#: Batches each DataLoader worker of the reference pipeline prefetches.
PREFETCH = 2


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


@dataclass(frozen=True)
class Plan:
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
    threads: int | None
    seed: int
    command: str
    out: Path | None


def check_methods(methods: Sequence[str] | str | None) -> list[str]:
    """Registry names (space or comma separated; ``"main"``, ``"all"``); ``None`` -> the main methods."""
    from ..methods import MAIN_METHODS, METHODS

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


def check_choice(name: str, values: Sequence[str], allowed: Sequence[str]) -> list[str]:
    """``values`` (space or comma separated), each one of ``allowed``; duplicates dropped, order kept."""
    vals = [v.strip() for x in values for v in str(x).split(",") if v.strip()]
    bad = [v for v in vals if v not in allowed]
    if bad:
        raise BenchError(f"{name}={bad!r} is not allowed; allowed: {', '.join(allowed)}")
    return list(dict.fromkeys(vals))


def _device(device: str, tiny: bool) -> torch.device:
    """:func:`mi_ssl.util.resolve_device`, limited to what the benchmark measures (CPU and CUDA)."""
    try:
        dev = resolve_device("cpu" if tiny and device == "auto" else device)
    except ValueError as e:
        raise BenchError(str(e)) from None
    if dev.type not in ("cpu", "cuda"):
        raise BenchError(f"device={device!r} is not supported; allowed: auto, cpu, cuda, cuda:N")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise BenchError(f"device={device!r} but only {torch.cuda.device_count()} CUDA device(s) exist")
    if tiny and dev.type != "cpu":
        raise BenchError(f"tiny=True is the CPU smoke mode; got device={device!r}")
    return dev


def _count(name: str, value: object, lo: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < lo:
        raise BenchError(f"{name}={value!r} is not allowed; expected an integer >= {lo}")
    return value


def make_plan(methods: Sequence[str] | str | None, *, dataset: str, data_dir: str | None,
              synthetic: int | bool | None, batch_size: int | None, steps: int | None, warmup: int | None,
              device: str, workers: int | None, backbone: str | None, profile: str, compile: bool,
              compile_views: bool, pipelines: Sequence[str] | None, augment_impls: Sequence[str],
              augment_only: bool, probe: bool, probe_epochs: int | None, tiny: bool, threads: int | None,
              seed: int, command: str, out: str | Path | None) -> Plan:
    """Check every argument of :func:`~mi_ssl.bench.run_benchmark` and fill in the defaults (normal / tiny)."""
    from ..methods import PROFILES
    from ..networks import BACKBONES
    from .pipelines import PIPELINES

    names = check_methods(methods)
    dev = _device(device, tiny)
    if dataset not in IMAGE_SHAPES:
        raise BenchError(f"dataset={dataset!r} is not allowed; the benchmark measures image pipelines: "
                         f"{', '.join(IMAGE_SHAPES)}")
    if profile not in PROFILES:
        raise BenchError(f"profile={profile!r} is not allowed; allowed: {', '.join(PROFILES)}")
    if backbone is not None and backbone not in BACKBONES:
        raise BenchError(f"backbone={backbone!r} is not allowed; allowed: {', '.join(BACKBONES)}")
    chosen = check_choice("pipelines", list(pipelines) if pipelines is not None else list(PIPELINES), PIPELINES)
    impls = check_choice("augment_impls", list(augment_impls), ("ours", "kornia")) or ["ours"]

    def pick(value: int | None, key: str, normal: int) -> int:
        return value if value is not None else (TINY[key] if tiny else normal)

    batch_size = _count("batch_size", pick(batch_size, "batch_size", 512), 2)
    steps = _count("steps", pick(steps, "steps", 50), 1)
    warmup = _count("warmup", pick(warmup, "warmup", 10), 0)
    probe_epochs = _count("probe_epochs", pick(probe_epochs, "probe_epochs", 100), 1)
    workers = _count("workers", workers if workers is not None else
                     (min(default_workers(), TINY["max_workers"]) if tiny else default_workers()), 0)
    threads = threads if threads is not None else (1 if tiny else None)
    if threads is not None:
        _count("threads", threads, 1)
    if tiny:                                   # always synthetic
        synthetic = TINY["n_train"] if synthetic in (None, False, True) else synthetic
        backbone = backbone or TINY["backbone"]
    is_synthetic = synthetic not in (None, False)
    n_syn = None if synthetic is True or not is_synthetic else synthetic
    if n_syn is not None and (not isinstance(n_syn, int) or n_syn < batch_size):
        raise BenchError(f"synthetic={n_syn!r} is not allowed; expected a number of images >= batch_size={batch_size}")
    return Plan(methods=names, device=dev, dataset=dataset, data_dir=data_dir, synthetic=is_synthetic,
                n_synthetic=n_syn, batch_size=batch_size, steps=steps, warmup=warmup, workers=workers,
                backbone=backbone, profile=profile, compile=compile, compile_views=compile_views,
                pipelines=chosen, augment_impls=impls, augment_only=augment_only, probe=probe,
                probe_epochs=probe_epochs, tiny=tiny, threads=threads, seed=seed, command=command,
                out=Path(out) if out is not None else None)
