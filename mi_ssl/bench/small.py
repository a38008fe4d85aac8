"""``mi-ssl bench --small``: what the book's CPU budget is spent on, in one run and one record.

Four parts, each optional:

* ``kernels`` — forward + backward of every N x N objective and estimator at each ``N`` next to the plain
  N x N floor and lightly's ``NTXentLoss`` (:mod:`mi_ssl.bench.kernels`);
* ``memory`` — peak memory of the N x N losses and of the floor at the largest ``N``, in fresh processes
  (:mod:`mi_ssl.bench.memory`);
* ``toy`` — wall time of one :func:`~mi_ssl.training.fit` per method on the Gaussian toy at book chapter
  04's parameters (:data:`TOY_RUN`);
* ``mnist1d`` — the same on MNIST-1D at book chapter 07's defaults (:data:`MNIST1D_RUN`);
* ``toy_grid`` — wall time of chapter 04's whole Table 2 over :data:`GRID_SEEDS` (every method on every seed
  through :func:`~mi_ssl.experiments.run_grid`: worker processes, one torch thread per run, no cache).

Everything runs with one torch thread. The record (schema :data:`SMALL_SCHEMA`) keeps the raw medians
beside the ratios, and the provenance keeps the load average: on a shared machine the seconds move,
the ratios measured in one process much less.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from .kernels import lightly_kernels, objective_kernels, time_kernels
from .memory import METHOD, matrix_bytes, peak_memory
from .plan import BenchError, check_choice
from .record import bench_provenance, clean, write_json

__all__ = ["SMALL_SCHEMA", "SMALL_PARTS", "SMALL_SIZES", "GRID_SEEDS", "TOY_RUN", "MNIST1D_RUN", "MEMORY_KERNELS",
           "time_runs", "time_grid", "run_small"]

SMALL_SCHEMA = "mi-ssl-bench-small/1"
SMALL_PARTS = ("kernels", "memory", "toy", "mnist1d", "toy_grid")
#: Seeds of the grid timing: the book chapters' default of five seeds per method.
GRID_SEEDS = (0, 1, 2, 3, 4)
#: Batch sizes of the kernel timing: a minibatch, the toy's full batch (2,500) and one large batch.
SMALL_SIZES = (256, 1024, 2500, 8192)
#: Kernels whose peak memory is measured: the training losses and the floor.
MEMORY_KERNELS = ("floor", "objectives.cos_dv", "objectives.nt_xent", "objectives.moco_infonce")

#: Book chapter 04 (``04_toy_gaussian.ipynb``), its parameters cell: Table 2's rows, full batch of 2,500,
#: 100 epochs, SGD with momentum 0.9 and cosine decay at each method's registry learning rate (0.5; VICReg 0.05),
#: tau 0.5, seed 0, MI tracked every epoch (the default); the grid also records the cluster centres after every
#: epoch, as the chapter does (``grid``: options of :func:`~mi_ssl.experiments.run_grid` only).
TOY_RUN: dict[str, Any] = {
    "dataset": "gaussian", "source": "book/04_toy_gaussian.ipynb",
    "methods": ("sdmi", "simsiam", "mocov3", "byol", "jmi", "simclr", "barlow_twins", "vicreg"),
    "overrides": {"epochs": 100, "batch_size": 2500, "tau": 0.5, "sgd_momentum": 0.9, "seed": 0, "device": "cpu"},
    "grid": {"track_centres": True},
}
#: Book chapter 07 (``07_linear_probing.ipynb``) at its defaults: profile ``cpu`` (MNIST-1D, batch 128, Adam) with
#: the chapter's 3 pre-training epochs, seed 0, MI estimated at the start and the end only (``track_every = epochs``).
MNIST1D_RUN: dict[str, Any] = {
    "dataset": "mnist1d", "source": "book/07_linear_probing.ipynb",
    "methods": ("sdmi", "simsiam", "byol", "mocov3", "jmi", "simclr", "barlow_twins", "vicreg", "emi"),
    "overrides": {"epochs": 3, "seed": 0, "device": "cpu"}, "track_every_is_epochs": True,
}


def time_runs(spec: dict[str, Any], methods: Sequence[str] | None = None, epochs: int | None = None,
              log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Wall seconds of one in-memory :func:`~mi_ssl.training.fit` (no run directory, no progress bar) per
    method of ``spec`` (:data:`TOY_RUN` or :data:`MNIST1D_RUN`); ``epochs`` overrides the spec's epochs
    (a quick look; the record says so). The data set is loaded once, before the clock starts."""
    from ..data import load_dataset
    from ..training import fit, make_config

    over = dict(spec["overrides"])
    if epochs is not None:
        over["epochs"] = epochs
    t0 = time.perf_counter()
    data = load_dataset(spec["dataset"], seed=over.get("seed", 0))
    out: dict[str, Any] = {"source": spec["source"], "dataset": spec["dataset"], "epochs_override": epochs,
                           "data_seconds": time.perf_counter() - t0, "methods": {}}
    for m in methods if methods is not None else spec["methods"]:
        kw = dict(over)
        if spec.get("track_every_is_epochs"):
            kw["track_every"] = make_config(m, spec["dataset"], "cpu", **kw).epochs
        cfg = make_config(m, spec["dataset"], "cpu", **kw)
        t0 = time.perf_counter()
        res = fit(cfg, data, progress=False)
        seconds = time.perf_counter() - t0
        out["methods"][m] = {"seconds": seconds, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                             "track_every": cfg.track_every, "final_loss": res.summary.get("final_loss")}
        if log is not None:
            log(f"{spec['dataset']:8s} {m:13s} {seconds:8.2f} s ({cfg.epochs} epochs)")
    out["total_seconds"] = sum(v["seconds"] for v in out["methods"].values())
    return out


def time_grid(spec: dict[str, Any], seeds: Sequence[int] = GRID_SEEDS, workers: int | None = None,
              methods: Sequence[str] | None = None, epochs: int | None = None,
              log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Wall seconds of every method of ``spec`` on every seed in one :func:`~mi_ssl.experiments.run_grid` call
    (no cache: every run trains; the data of each seed drawn inside the clock, as a chapter does). Each call starts
    its worker processes inside the clock, as a chapter's first grid does: workers kept from an earlier call are
    stopped first."""
    import functools
    import os

    from ..data import load_dataset
    from ..experiments import run_grid, shutdown_workers

    over = {k: v for k, v in spec["overrides"].items() if k != "seed"}
    if epochs is not None:
        over["epochs"] = epochs
    methods = list(methods if methods is not None else spec["methods"])
    shutdown_workers()
    t0 = time.perf_counter()
    res = run_grid(methods, seeds, spec["dataset"], functools.partial(load_dataset, spec["dataset"]),
                   workers=workers, progress=False, **spec.get("grid", {}), **over)
    wall = time.perf_counter() - t0
    n_workers = workers or min(len(os.sched_getaffinity(0)), len(res))
    if log is not None:
        log(f"{spec['dataset']} grid: {len(methods)} methods x {len(seeds)} seeds = {len(res)} runs, "
            f"{n_workers} workers: {wall:.1f} s")
    return {"source": spec["source"], "dataset": spec["dataset"], "methods": methods, "seeds": list(seeds),
            "runs": len(res), "workers": n_workers, "epochs_override": epochs, "wall_seconds": wall}


def _check_small(parts: Sequence[str] | None, sizes: Sequence[int] | None) -> tuple[list[str], list[int]]:
    chosen = check_choice("parts", list(parts) if parts is not None else list(SMALL_PARTS), SMALL_PARTS)
    sizes = list(sizes) if sizes is not None else list(SMALL_SIZES)
    if not sizes or any(isinstance(n, bool) or not isinstance(n, int) or n < 2 for n in sizes):
        raise BenchError(f"sizes={sizes!r} is not allowed; expected batch sizes N >= 2")
    return chosen, sizes


def run_small(parts: Sequence[str] | None = None, *, sizes: Sequence[int] | None = None, dim: int = 3,
              methods: Sequence[str] | None = None, epochs: int | None = None, budget_s: float = 2.0,
              seed: int = 0, note: str | None = None, command: str = "mi-ssl bench --small",
              out: str | Path | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The small-scale CPU benchmark (module docstring); returns the record, written to ``out`` after each part.

    Args:
        parts: subset of :data:`SMALL_PARTS` (default all).
        sizes: batch sizes ``N`` of the kernel timing (default :data:`SMALL_SIZES`); the largest is the
            memory measurement's ``N``.
        dim: embedding width ``D`` (3, the toy's).
        methods: methods of the timed runs (default: each chapter's list).
        epochs: override the runs' epochs (default: each chapter's).
        budget_s: seconds of repeats per ``N`` in the kernel timing (at least 3 repeats each).
        note: free text kept in the provenance (e.g. "2-core machine shared with 4 other jobs").
    """
    chosen, sizes = _check_small(parts, sizes)
    if methods is not None:
        from .plan import check_methods

        methods = check_methods(methods)
    log = progress or (lambda line: None)
    record: dict[str, Any] = {
        "schema": SMALL_SCHEMA, "complete": False,
        "provenance": bench_provenance(torch.device("cpu"), command, note=note),
        "settings": {"parts": chosen, "sizes": sizes, "dim": dim, "torch_threads": 1, "budget_s": budget_s,
                     "seed": seed, "finite_checks": False, "methods": list(methods) if methods else None,
                     "epochs_override": epochs},
        "kernels": None, "lightly": None, "memory": None, "runs": {}, "grids": {},
    }

    def save() -> None:
        if out is not None:
            write_json(out, record)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if "kernels" in chosen:
            extra, record["lightly"] = lightly_kernels()
            record["kernels"] = time_kernels({**objective_kernels(), **extra}, sizes, dim=dim, seed=seed,
                                             budget_s=budget_s, log=log)
            save()
        if "memory" in chosen:
            n = max(sizes)
            rows = {k: peak_memory(k, n, dim, seed) for k in MEMORY_KERNELS}
            record["memory"] = {"n": n, "dim": dim, "matrix_mib": matrix_bytes(n) / 2**20, "method": METHOD,
                                "kernels": rows}
            log(f"memory N={n}: " + ", ".join(f"{k} {v['ratio_to_matrix']:.2f}x" for k, v in rows.items()))
            save()
        for part, spec in (("toy", TOY_RUN), ("mnist1d", MNIST1D_RUN)):
            if part in chosen:
                record["runs"][part] = time_runs(spec, methods, epochs, log)
                save()
        if "toy_grid" in chosen:
            record["grids"]["toy"] = time_grid(TOY_RUN, methods=methods, epochs=epochs, log=log)
            save()
    finally:
        torch.set_num_threads(threads)
    record["complete"] = True
    record = clean(record)
    save()
    return record
