"""Timing of one optimiser step, its FLOPs, the view makers alone and the linear-probe protocol.

Timing: ``warmup`` steps are run first and not timed; then ``steps`` steps between two
``torch.cuda.synchronize()`` calls. Peak device memory is ``torch.cuda.max_memory_allocated``; on a CPU
only the rise of the process's peak RSS is given (a lower bound). A few steps are then run alone, each
between two synchronisations, to split a step into host time and device time.
"""

from __future__ import annotations

import functools
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from ..checks import finite_checks
from ..util import evaluating
from .pipelines import kornia_augment, synthetic_data

__all__ = ["sync", "max_rss_bytes", "measure_steps", "count_flops", "count_host_syncs", "augment_rates",
           "probe_timing", "ISOLATED_STEPS"]

#: Steps run one at a time after the timed ones, to split a step's time into host and device (median).
ISOLATED_STEPS = 5


def sync(device: torch.device) -> None:
    """Wait for ``device`` (a no-op on a CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def max_rss_bytes() -> int | None:
    """This process's peak resident set size in bytes (``None`` where ``resource`` is missing: Windows)."""
    try:
        import resource
    except ImportError:
        return None
    scale = 1 if sys.platform == "darwin" else 1024            # ru_maxrss: bytes on macOS, KiB on Linux
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


def _isolated(step: Callable[[], Any], device: torch.device, n: int) -> tuple[list[float], list[float]]:
    """``n`` calls of ``step`` alone: (seconds until the host has issued it, seconds until the device is done)."""
    host, total = [], []
    for _ in range(n):
        sync(device)
        t_a = time.perf_counter()
        step()
        t_b = time.perf_counter()
        sync(device)
        host.append(t_b - t_a)
        total.append(time.perf_counter() - t_a)
    return host, total


def measure_steps(stepper: Any, phases: Sequence[str], batches: Iterator, *, warmup: int, steps: int,
                  batch_size: int, device: torch.device) -> dict[str, Any]:
    """Run ``warmup`` untimed and ``steps`` timed steps of ``stepper`` on ``batches``; peak memory of both.

    Phases alternate step by step (SDMI's E- and M-steps); finite checks are off, as in ``fit``.
    """
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    rss0 = max_rss_bytes()
    k = 0

    def step() -> torch.Tensor:
        nonlocal k
        v1, v2 = next(batches)
        loss = stepper(phases[k % len(phases)], v1, v2, 1.0)
        k += 1
        return loss

    with finite_checks(False):                      # as in fit(): no host sync per loss
        for _ in range(warmup):
            step()
        sync(device)
        t0 = time.perf_counter()
        losses = [step() for _ in range(steps)]
        sync(device)
        seconds = time.perf_counter() - t0
        host, total = _isolated(step, device, min(ISOLATED_STEPS, steps))
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
        rss1 = max_rss_bytes()
        out["peak_memory_mb"] = None
        out["rss_peak_rise_mb"] = (rss1 - rss0) / 2**20 if rss0 is not None and rss1 is not None else None
    return out


def count_flops(learner: Any, stepper: Any, phase: str, v1: torch.Tensor, v2: torch.Tensor) -> int | None:
    """FLOPs of one optimiser step's forward + backward (matrix products and convolutions), counted once."""
    try:
        from torch.utils.flop_counter import FlopCounterMode
    except ImportError:
        return None
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
    torch.cuda.synchronize(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def _batched_rate(aug: Callable, xd: torch.Tensor, device: torch.device, steps: int, warmup: int,
                  seed: int) -> dict[str, Any]:
    """Images/s of two views of ``xd`` per call of a batched view maker, and its host time and syncs."""
    from ..data.views import two_views

    g = torch.Generator(device=device)
    g.manual_seed(seed)
    for _ in range(warmup):
        aug(xd, g), aug(xd, g)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        aug(xd, g), aug(xd, g)
    queued = time.perf_counter() - t0
    sync(device)
    s = time.perf_counter() - t0
    syncs = count_host_syncs(functools.partial(two_views, aug, xd, g), device)
    return {"where": f"{device.type}, batched", "batches": steps, "seconds": s,
            "images_per_s": len(xd) * steps / s, "host_seconds": queued, "host_syncs_per_two_views": syncs}


def _per_image_rate(data: Any, x: torch.Tensor, steps: int) -> dict[str, Any]:
    """Images/s of torchvision v2 per image in this process with one thread (one DataLoader worker's share)."""
    from ..data import make_cpu_transform

    tf = make_cpu_transform(data)
    n_batches = max(1, min(steps, 3))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)            # a DataLoader worker runs with one thread
    try:
        for i in range(min(len(x), 8)):
            tf(x[i]), tf(x[i])
        t0 = time.perf_counter()
        for _ in range(n_batches):
            views = [(tf(img), tf(img)) for img in x]
            torch.stack([v[0] for v in views]), torch.stack([v[1] for v in views])
        s = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    return {"where": "cpu, one image at a time, one process, one thread", "batches": n_batches,
            "seconds": s, "images_per_s": len(x) * n_batches / s}


def augment_rates(data: Any, ours: Callable, augment_impls: Sequence[str], device: torch.device, batch_size: int,
                  steps: int, warmup: int, seed: int) -> dict[str, dict[str, Any]]:
    """Images/s of making two views of a batch, per view maker (no model): ``ours`` and kornia on ``device``,
    torchvision v2 per image in this one process (what one DataLoader worker does)."""
    x = data.train_x[:min(batch_size, len(data.train_x))]
    makers: dict[str, Callable] = {"ours": ours}
    if "kornia" in augment_impls:
        makers["kornia"] = kornia_augment(data, device)
    xd = x.to(device)
    out = {name: _batched_rate(aug, xd, device, steps, warmup, seed) for name, aug in makers.items()}
    out["torchvision"] = _per_image_rate(data, x, steps)
    return out


def probe_timing(data: Any, cfg: Any, device: torch.device, epochs: int, n_train: int, n_test: int,
                 image_size: int | None, seed: int, synthetic: bool) -> dict[str, Any]:
    """Seconds of the linear-probe protocol (:mod:`mi_ssl.probing`): frozen features of ``n_train`` +
    ``n_test`` images through the backbone of ``cfg``'s encoder, then
    :func:`~mi_ssl.evaluation.linear_probe` and kNN."""
    from .. import evaluation, probing, training

    if synthetic or len(data.train_x) < n_train:
        probe_data = synthetic_data(data.name, n_train, n_test=n_test, image_size=image_size, seed=seed + 1)
        source = "synthetic"
    else:
        probe_data, source = data, data.source
    encoder = training.build_learner(cfg, probe_data).f.to(device)
    sync(device)
    t0 = time.perf_counter()
    with evaluating(encoder):
        h_tr, h_te, _, _ = probing.encoder_features(encoder, probe_data, device)
    sync(device)
    t1 = time.perf_counter()
    res = evaluation.linear_probe(h_tr, probe_data.train_y, h_te, probe_data.test_y, epochs=epochs, seed=seed,
                                  device=device)
    sync(device)
    t2 = time.perf_counter()
    evaluation.knn_accuracy(h_tr, probe_data.train_y, h_te, probe_data.test_y, k=20)
    sync(device)
    t3 = time.perf_counter()
    return {
        "backbone": cfg.backbone, "n_train": int(len(probe_data.train_x)), "n_test": int(len(probe_data.test_x)),
        "image_shape": list(probe_data.input_shape), "data": source, "epochs": epochs,
        "lbfgs_iterations": res["iterations"], "feature_seconds": t1 - t0, "linear_probe_seconds": t2 - t1,
        "knn_seconds": t3 - t2, "total_seconds": t3 - t0,
        "top1_note": "random labels: accuracy is chance level and not reported",
    }
