"""``run_benchmark``: every method's optimiser step, timed with each data pipeline in front of it.

Every method's step (:class:`mi_ssl.training.Stepper`: forward under bf16 autocast on CUDA, backward, fused
SGD, EMA/copy target update) is timed with the pipelines of :mod:`mi_ssl.bench.pipelines`, in one process
and one run, so the only thing that differs between them is where the two views come from. The reference
pipeline gets a fresh loader per method, warmed up with ``workers x prefetch_factor`` more steps (worker
start-up, first prefetched batches) and shut down after its measurement, so its workers never take CPU from
another pipeline's timing. Methods with explicit E- and M-steps (SDMI) alternate their phases step by step;
every step consumes one fresh minibatch of two views, and an SDMI epoch takes two passes.
"""

from __future__ import annotations

import gc
import itertools
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .measure import augment_rates, count_flops, measure_steps, probe_timing
from .pipelines import (
    PIPELINES,
    device_batches,
    kornia_augment,
    reference_batches,
    reference_loader,
    stop_streams,
    synthetic_data,
)
from .plan import EPOCH_IMAGES, PAPER_EPOCHS, PREFETCH, TINY, BenchError, Plan, make_plan, peak_bf16_tflops
from .record import SCHEMA, bench_provenance, clean, derive, recompute_ratios, summarise, write_json

if TYPE_CHECKING:
    from ..training import TrainConfig

__all__ = ["run_benchmark"]

_NOTES_STEP = [
    "images_per_s = batch_size x timed steps / seconds; each step puts two views of batch_size "
    "images through one optimiser step of one phase",
    "SDMI (explicit E/M) alternates phases step by step; its epoch takes two passes",
    "FLOPs: matrix products and convolutions of forward + backward (FlopCounterMode), counted once",
    "epoch and 1,000-epoch times count optimiser steps only (fit's MI tracking and checkpoints are extra)",
]
_NOTE_AUGMENT = ("view makers alone: two views of one batch; torchvision runs one image at a time in one process "
                 "with one thread (one DataLoader worker's share of the reference pipeline)")
_NOTE_SYNTHETIC = ("synthetic data: uniform random uint8 images of the data set's shape (throughput does not "
                   "depend on pixel values); no real data set files were read")


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
        pipelines: subset of :data:`~mi_ssl.bench.PIPELINES` (default all).
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
    plan = make_plan(methods, dataset=dataset, data_dir=data_dir, synthetic=synthetic, batch_size=batch_size,
                     steps=steps, warmup=warmup, device=device, workers=workers, backbone=backbone,
                     profile=profile, compile=compile, compile_views=compile_views, pipelines=pipelines,
                     augment_impls=augment_impls, augment_only=augment_only, probe=probe,
                     probe_epochs=probe_epochs, tiny=tiny, threads=threads, seed=seed,
                     command=command if command is not None else shlex.join(sys.argv), out=out)
    if "kornia" in plan.augment_impls:
        kornia_augment(synthetic_data("cifar10", 2, n_test=2, image_size=8))     # fail early if missing
    old_threads, old_cudnn = torch.get_num_threads(), torch.backends.cudnn.benchmark
    if plan.threads is not None:
        torch.set_num_threads(plan.threads)
    torch.backends.cudnn.benchmark = bool(cudnn_benchmark)
    try:
        return _run(plan, progress or (lambda line: None))
    finally:
        torch.set_num_threads(old_threads)
        torch.backends.cudnn.benchmark = old_cudnn


def _load(plan: Plan) -> Any:
    """The data set of the run: synthetic images of its shape, or the real files."""
    from ..data import FILE_DATASETS, load_dataset

    image_size = TINY["image_size"] if plan.tiny else None
    if plan.synthetic:
        data = synthetic_data(plan.dataset, plan.n_synthetic, n_test=TINY["n_test"] if plan.tiny else 10_000,
                              image_size=image_size, seed=plan.seed)
    else:
        try:
            data = load_dataset(plan.dataset, plan.data_dir)
        except ValueError as e:
            hint = " (or pass --synthetic to benchmark on random images of this shape)" \
                if plan.dataset in FILE_DATASETS else ""
            raise BenchError(f"{e}{hint}") from None
    if data.modality != "image":
        raise BenchError(f"dataset={plan.dataset!r} is not an image data set")
    if len(data.train_x) < plan.batch_size:
        raise BenchError(f"batch_size={plan.batch_size} is larger than the {len(data.train_x)} training images")
    return data


def _config_for(plan: Plan) -> Callable[[str], TrainConfig]:
    """``method -> TrainConfig`` at the run's batch, device, backbone and profile (no MI tracking)."""
    from ..training import make_config

    def cfg_for(method: str) -> TrainConfig:
        over: dict[str, Any] = {"batch_size": plan.batch_size, "device": str(plan.device), "backbone": plan.backbone,
                                "compile": plan.compile, "track_every": 0, "seed": plan.seed}
        if plan.tiny:
            over.update(proj_hidden=TINY["proj_hidden"], proj_dim=TINY["proj_dim"], pred_hidden=TINY["pred_hidden"])
        return make_config(method, plan.dataset, plan.profile, **over)

    return cfg_for


def _new_record(plan: Plan, data: Any, backbone: str, peak: float | None) -> dict[str, Any]:
    """The record before any measurement: schema, provenance, settings, notes."""
    dev, workers = plan.device, plan.workers
    return {
        "schema": SCHEMA,
        "complete": False,
        "provenance": bench_provenance(dev, plan.command, synthetic=plan.synthetic),
        "settings": {
            "dataset": plan.dataset, "data_source": data.source, "synthetic": plan.synthetic,
            "n_train": int(len(data.train_x)), "image_shape": list(data.input_shape),
            "batch_size": plan.batch_size, "steps": plan.steps, "warmup": plan.warmup,
            "reference_extra_warmup": workers * PREFETCH if workers > 0 else 0,
            "workers": workers, "pin_memory": dev.type == "cuda", "persistent_workers": workers > 0,
            "backbone": backbone, "profile": plan.profile, "compile": plan.compile,
            "compile_views": plan.compile_views, "amp_bf16": dev.type == "cuda",
            "channels_last": dev.type == "cuda", "fused_optimizer": dev.type == "cuda",
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark), "pipelines": plan.pipelines,
            "augment_impls": plan.augment_impls, "tiny": plan.tiny, "seed": plan.seed,
            "torch_threads": torch.get_num_threads(), "peak_bf16_tflops": peak, "epoch_images": EPOCH_IMAGES,
            "paper_epochs": PAPER_EPOCHS,
        },
        "methods": {},
        "summary": {},
        "augment": None,
        "probe": None,
        "notes": ([] if plan.augment_only else list(_NOTES_STEP)) + [_NOTE_AUGMENT]
        + ([_NOTE_SYNTHETIC] if plan.synthetic else []),
    }


def _run(plan: Plan, log: Callable[[str], None]) -> dict[str, Any]:
    """Measure what ``plan`` asks for; the record is saved after every stage when ``plan.out`` is set."""
    from ..data.augment import make_augment

    dev = plan.device
    data = _load(plan)
    peak = peak_bf16_tflops(torch.cuda.get_device_name(dev)) if dev.type == "cuda" else None
    cfg_for = _config_for(plan)
    result = _new_record(plan, data, cfg_for(plan.methods[0]).backbone, peak)

    def save() -> None:
        if plan.out is not None:
            write_json(plan.out, result)

    augment_ours = make_augment(data, compile=plan.compile_views)
    result["augment"] = augment_rates(data, augment_ours, plan.augment_impls, dev, plan.batch_size, plan.steps,
                                      plan.warmup, plan.seed)
    for k, v in result["augment"].items():
        log(f"augment {k:12s} {v['images_per_s']:12,.0f} img/s (two views; {v['where']})")
    save()
    if plan.augment_only:
        result["settings"]["pipelines"] = []
    else:
        variants: list[tuple[str, Callable]] = []
        if "device" in plan.pipelines:
            variants += [("device", augment_ours)] if "ours" in plan.augment_impls else []
            variants += [("device_kornia", kornia_augment(data, dev))] if "kornia" in plan.augment_impls else []
        for method in plan.methods:
            result["methods"][method] = _bench_method(plan, method, cfg_for(method), data, augment_ours, variants,
                                                      peak, log)
            save()
        result["summary"] = summarise(result)
        if plan.probe:
            _add_probe(plan, result, data, cfg_for("jmi"), log)
    result["complete"] = True
    result = clean(result)
    save()
    return result


def _add_probe(plan: Plan, result: dict[str, Any], data: Any, cfg: TrainConfig,
               log: Callable[[str], None]) -> None:
    n_tr, n_te = (TINY["probe_train"], TINY["probe_test"]) if plan.tiny else (EPOCH_IMAGES, 10_000)
    image_size = TINY["image_size"] if plan.tiny else None
    pr = probe_timing(data, cfg, plan.device, plan.probe_epochs, n_tr, n_te, image_size, plan.seed, plan.synthetic)
    result["probe"] = pr
    log(f"probe: features {pr['feature_seconds']:.2f} s, linear probe {pr['linear_probe_seconds']:.2f} s, "
        f"kNN {pr['knn_seconds']:.2f} s")


def _bench_method(plan: Plan, method: str, cfg: TrainConfig, data: Any, augment_ours: Callable,
                  device_variants: list[tuple[str, Callable]], peak: float | None,
                  log: Callable[[str], None]) -> dict[str, Any]:
    """One method: build its learner and stepper, count FLOPs, time each pipeline. A failure is recorded
    as ``entry["error"]`` so one failing method does not lose the run."""
    from .. import training
    from ..data import views
    from ..methods import get_method

    dev, cuda = plan.device, plan.device.type == "cuda"
    m = get_method(method)
    entry: dict[str, Any] = {"paradigm": m.paradigm, "update": m.update, "batch_size": plan.batch_size,
                             "backbone": cfg.backbone, "proj_layers": cfg.proj_layers, "pipelines": {}}
    try:
        learner = training.build_learner(cfg, data).to(dev)
        stepper = training.Stepper(cfg, learner, dev, channels_last=cuda, amp=cuda)
        phases = learner.phases
        passes = len(phases) if cfg.schedule == "epoch" else 1
        entry.update(phases=list(phases), passes_per_epoch=passes,
                     parameters=sum(p.numel() for p in learner.parameters()),
                     trainable_parameters=sum(p.numel() for ph in phases for p in learner.parameters_for(ph)))
        g = torch.Generator(device=dev)
        g.manual_seed(plan.seed)
        fixed = views.two_views(augment_ours, data.train_x[:plan.batch_size].to(dev), g, cuda)
        entry["flops_per_step"] = count_flops(learner, stepper, phases[0], *fixed)
        for pipe in [p for p in PIPELINES if p in plan.pipelines]:
            for name, stream, n_warm, loader in _streams(plan, pipe, data, fixed, device_variants):
                try:
                    # compiled steps need every phase compiled before timing
                    n_warm = max(n_warm, 2 * len(phases)) if plan.compile else n_warm
                    r = measure_steps(stepper, phases, stream, warmup=n_warm, steps=plan.steps,
                                      batch_size=plan.batch_size, device=dev)
                finally:
                    stop_streams([stream], loader)
                derive(r, entry["flops_per_step"], peak, passes)
                entry["pipelines"][name] = r
                mem = f"{r['peak_memory_mb']:8.0f} MB" if r["peak_memory_mb"] is not None else "       n/a"
                log(f"{method:13s} {name:14s} {r['images_per_s']:10,.0f} img/s  {mem}")
    except (RuntimeError, ValueError) as e:
        entry["error"] = f"{type(e).__name__}: {e}"
        log(f"{method:13s} ERROR {entry['error']}")
    finally:
        learner = stepper = fixed = None
        if cuda:              # free the method's memory before the next one
            gc.collect()
            torch.cuda.empty_cache()
    entry["ratios"] = recompute_ratios(entry)
    return entry


def _streams(plan: Plan, pipe: str, data: Any, fixed: tuple[torch.Tensor, torch.Tensor],
             device_variants: list[tuple[str, Callable]]) -> Iterator[tuple[str, Iterator, int, Any]]:
    """``(name, batch stream, warm-up steps, loader or None)`` of one pipeline, one variant at a time."""
    cuda = plan.device.type == "cuda"
    if pipe == "model":
        yield "model", itertools.repeat(fixed), plan.warmup, None
    elif pipe == "reference":
        loader = reference_loader(data, plan.batch_size, plan.workers, plan.device, plan.seed)
        extra = plan.workers * PREFETCH if plan.workers > 0 else 0
        yield "reference", reference_batches(loader, plan.device, cuda), plan.warmup + extra, loader
    else:
        x_dev = data.train_x.to(plan.device)
        for name, aug in device_variants:
            yield name, device_batches(x_dev, plan.batch_size, aug, plan.seed, cuda), plan.warmup, None
