"""Running the paper's experiments: cached runs of many methods, centre trajectories, monotonicity.

The chapters call these; nothing here trains by itself — every run goes through
:func:`mi_ssl.training.fit`.

* :func:`run` / :func:`run_methods` — a run is identified by its full :class:`TrainConfig` and the
  fingerprint of its data (:func:`data_fingerprint`); with a
  ``cache_dir`` a finished run is loaded from disk instead of retrained (an unfinished one resumes),
  so chapters that share runs (the toy chapter and the MI-tracking chapter) train them once.
* :func:`run_grid` — every method on every seed, the runs spread over worker processes
  (:func:`parallel_map`, one torch thread each): the same numbers as running each alone, in a fraction
  of the time on a machine with several cores.
* :func:`centre_tracker` — a ``fit`` callback recording the cluster centres of every encoder per epoch
  (paper Figs. 3 and 6).
* :func:`monotonicity` — how monotone an MI curve is: Spearman's rho against the epoch and the share
  of epochs that do not decrease (Figs. 5 and 7 are described as "near-monotonic").
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from . import evaluation
from .config import TrainConfig, make_config
from .data.base import SSLData
from .methods import get_method
from .paradigms import Learner
from .training import FitResult, fit
from .util import evaluating

__all__ = ["run", "run_methods", "run_grid", "parallel_map", "shutdown_workers", "method_config", "run_key",
           "data_fingerprint", "centre_tracker", "centres_frame", "monotonicity", "monotonicity_table", "nn_gap_table"]


_FINGERPRINT_BYTES = 64 * 2**20      # tensors larger than this are fingerprinted from evenly spaced rows


def _tensor_digest(h: Any, t: torch.Tensor) -> None:
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    t = t.detach().cpu()
    if t.numel() * t.element_size() > _FINGERPRINT_BYTES and t.shape[0] > 1:
        rows = max(1, _FINGERPRINT_BYTES // max(1, t[0].numel() * t.element_size()))
        t = t[torch.linspace(0, t.shape[0] - 1, rows).long()]
    h.update(t.contiguous().numpy().tobytes())


def data_fingerprint(data: SSLData) -> str:
    """A short digest of a data set's name, shapes and contents (train and test, inputs and labels).

    Two data sets with the same name but other samples (a subset, another seed, another noise level)
    get other fingerprints; data sets over 64 MiB per tensor are digested from evenly spaced rows
    (shape and dtype always count), so fingerprinting stays fast on ImageNet-scale tensors.
    """
    h = hashlib.sha1(f"{data.name}|{data.modality}|{data.num_classes}|{data.mean}|{data.std}".encode())
    for t in (data.train_x, data.train_y, data.test_x, data.test_y):
        _tensor_digest(h, t)
    return h.hexdigest()[:12]


@functools.cache
def _source_digest(root: Path | None = None) -> str:
    """A digest of the code a run executes: every ``**/*.py`` file (path and contents, sorted by path) of the
    package at ``root`` (default: the ``mi_ssl`` imported here). Computed once per process and root (the
    package does not change under a running process; reading ~100 files once costs milliseconds)."""
    root = Path(__file__).resolve().parent if root is None else Path(root)
    h = hashlib.sha1()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def run_key(cfg: TrainConfig, data: SSLData | None = None, extra: str = "") -> str:
    """The cache key of a run: its full config, the data it trains on when given, ``extra``, and the package's
    source (:func:`_source_digest`): after any change to the code a cached run is trained again, never re-used
    with results of the old code."""
    blob = json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str) + extra
    if data is not None:
        blob += "|data:" + data_fingerprint(data)
    blob += "|code:" + _source_digest()
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def run(cfg: TrainConfig, data: SSLData | None = None, *, cache_dir: str | Path | None = None,
        progress: bool | None = None, track_centres: bool = False) -> FitResult:
    """``fit(cfg)``, cached under ``cache_dir/<method>-<dataset>-<key>`` when a cache is given.

    The key hashes the whole config and, when ``data`` is passed, :func:`data_fingerprint` of it: a
    run on other data (a subset, another seed) never re-uses a cached run of the same config.
    """
    callbacks = [centre_tracker(data)] if track_centres else None
    if cache_dir is None:
        return fit(cfg, data, progress=progress, callbacks=callbacks)
    out = Path(cache_dir) / f"{cfg.method}-{cfg.dataset}-{run_key(cfg, data)}{'-c' if track_centres else ''}"
    return fit(cfg, data, out=out, resume=True, progress=progress, callbacks=callbacks)


def _spearmanr(x: np.ndarray, y: np.ndarray):
    from scipy import stats  # here, not at import: a spawned worker is 0.5 s quicker to start without it

    return stats.spearmanr(x, y)


def _worker_init() -> None:
    # Ctrl-C (a notebook's interrupt reaches the whole process group) is the parent's to handle: it stops the
    # workers itself (shutdown_workers(now=True)); idle workers would otherwise die printing tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)


# One pool of spawned workers per process, kept between calls of parallel_map: starting a worker (a fresh
# interpreter importing torch and mi_ssl) takes about 5 s on the 2-core machine, and a chapter calls
# parallel_map several times (the toy chapter: its grid, then one grid per sensitivity setting).
_POOL: dict[str, Any] = {"workers": 0, "executor": None}
_POOL_LOCK = threading.Lock()


def _worker_pool(workers: int) -> ProcessPoolExecutor:
    with _POOL_LOCK:
        if _POOL["executor"] is not None and _POOL["workers"] != workers:
            _POOL["executor"].shutdown(wait=True)
            _POOL["executor"] = None
        if _POOL["executor"] is None:
            ctx = multiprocessing.get_context("spawn")
            _POOL.update(workers=workers, executor=ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                                                       initializer=_worker_init))
        return _POOL["executor"]


def shutdown_workers(*, now: bool = False) -> None:
    """Stop the worker processes :func:`parallel_map` keeps (they also stop with this process).

    ``now=True``: stop them mid-task (what an error or an interrupt in :func:`parallel_map` does); else each
    finishes the task it runs and the queued ones are dropped.
    """
    with _POOL_LOCK:
        pool = _POOL["executor"]
        _POOL.update(workers=0, executor=None)
    if pool is None:
        return
    if now:  # ProcessPoolExecutor has no public way to stop a running task before Python 3.14
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def _call(fn_and_kwargs: tuple[Callable[..., Any], dict[str, Any]]) -> Any:
    fn, kwargs = fn_and_kwargs
    return fn(**kwargs)


def parallel_map(fn: Callable[..., Any], tasks: Sequence[dict[str, Any]], workers: int | None = None, *,
                 progress: bool | None = None, desc: str = "runs") -> list[Any]:
    """``[fn(**t) for t in tasks]``, spread over ``workers`` processes with one torch thread each.

    Each call runs with one torch thread whatever ``workers`` is (in this process when ``workers == 1``), so
    the results do not depend on how many workers there were. ``fn`` must be importable (a module-level
    function) and its arguments and result picklable: worker processes are *spawned* (a fork of a process
    that already ran torch's thread pools can deadlock). ``workers=None``: one per CPU core, at most one per
    task. Results come back in the order of ``tasks``. The worker processes are started on the first call and
    kept for the next ones with the same ``workers`` (:func:`shutdown_workers` stops them); a failing task stops
    the pool at once (the running tasks are stopped, the queued ones dropped) and its error is raised; so does an
    interrupt.
    """
    from .training import progress_enabled

    tasks = list(tasks)
    n = len(tasks)
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r} must be an integer >= 1 (or None: one per CPU core)")
    bar = None
    if progress_enabled(progress) and n > 1:
        from tqdm.auto import tqdm
        bar = tqdm(total=n, desc=desc, leave=False)
    results: list[Any] = []
    try:
        if workers == 1 or n <= 1:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                for t in tasks:
                    results.append(fn(**t))
                    if bar is not None:
                        bar.update()
            finally:
                torch.set_num_threads(threads)
        else:
            pool = _worker_pool(workers)  # processes start as tasks need them: at most n
            try:
                futures = [pool.submit(_call, (fn, t)) for t in tasks]
                for done in as_completed(futures):
                    done.result()  # the first failure, as soon as it happens
                    if bar is not None:
                        bar.update()
            except BaseException:
                shutdown_workers(now=True)
                raise
            results = [f.result() for f in futures]
    finally:
        if bar is not None:
            bar.close()
    return results


def _grid_run(cfg: TrainConfig, data: SSLData | None, cache_dir: str | Path | None, track_centres: bool) -> FitResult:
    return run(cfg, data, cache_dir=cache_dir, progress=False, track_centres=track_centres)


def method_config(name: str, dataset: str, profile: str = "cpu", **overrides: Any) -> TrainConfig:
    """``make_config`` for one method of a comparison: overrides that do not apply to it (``momentum`` for a
    non-EMA method, ``schedule`` for a method without E/M steps) are dropped rather than refused."""
    m = get_method(name)
    kw = dict(overrides)
    if m.update != "ema":
        kw.pop("momentum", None)
    if m.update != "em":
        kw.pop("schedule", None)
    return make_config(name, dataset, profile, **kw)


def run_grid(methods: Iterable[str], seeds: Iterable[int], dataset: str,
             data: SSLData | Callable[[int], SSLData] | None = None, *, workers: int | None = None,
             cache_dir: str | Path | None = None, progress: bool | None = None, track_centres: bool = False,
             profile: str = "cpu", **overrides: Any) -> dict[tuple[str, int], FitResult]:
    """Every method on every seed: ``{(method, seed): FitResult}``, methods outer, seeds inner.

    ``data``: one :class:`SSLData` shared by all seeds, a picklable callable ``data(seed=seed) -> SSLData`` (e.g.
    ``functools.partial(load_dataset, "gaussian")``: the seed draws the data too), or ``None``
    (``load_dataset(dataset, seed=seed)`` per seed). The runs go through :func:`parallel_map` (one torch
    thread per run, ``workers`` processes) and the run cache, so a result is the same as
    ``run(method_config(...), ...)`` alone with one thread.
    """
    methods, seeds = list(methods), list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds!r} must be a non-empty list of distinct integers")
    tasks, keys = [], []
    for name in methods:
        for seed in seeds:
            d = data(seed=seed) if callable(data) else data
            tasks.append({"cfg": method_config(name, dataset, profile, seed=seed, **overrides), "data": d,
                          "cache_dir": cache_dir, "track_centres": track_centres})
            keys.append((name, seed))
    return dict(zip(keys, parallel_map(_grid_run, tasks, workers, progress=progress, desc="runs")))


def run_methods(methods: Iterable[str], dataset: str, data: SSLData | None = None, *,
                cache_dir: str | Path | None = None, progress: bool | None = None, track_centres: bool = False,
                profile: str = "cpu", **overrides: Any) -> dict[str, FitResult]:
    """Train each method with the same overrides; returns ``{method: FitResult}`` in the given order.

    Overrides that do not apply to a method (``momentum`` for a non-EMA method, ``schedule`` for a
    method without E/M steps) are dropped for that method rather than refused.
    """
    return {name: run(method_config(name, dataset, profile, **overrides), data, cache_dir=cache_dir,
                      progress=progress, track_centres=track_centres) for name in methods}


def _embed(encoder: torch.nn.Module, data: SSLData, x: torch.Tensor) -> torch.Tensor:
    """Unit-norm embeddings ``[N, D]`` (float32, CPU) of the un-augmented inputs ``x``, the encoder in eval mode:
    the toy's centres and NN angles live on the sphere whatever the method's loss sees (its registry row)."""
    with evaluating(encoder):
        z = encoder(data.to_float(x.to(next(encoder.parameters()).device))).float()
    return torch.nn.functional.normalize(z, dim=1).cpu()


def centre_tracker(data: SSLData | None, n: int | None = None):
    """A ``fit`` callback: the unit-norm cluster centres of every encoder on the held-out set, per epoch.

    Returns ``{"centres": {encoder_name: [[x, y, z], ...]}}`` (lists, so checkpoints stay plain).
    """
    if data is None:
        raise ValueError("centre tracking needs the data set (pass data=...)")
    x = data.test_x[:n] if n else data.test_x
    y = data.test_y[:n] if n else data.test_y

    def callback(epoch: int, learner: Learner) -> dict[str, Any]:
        return {"centres": {name: evaluation.cluster_centres(_embed(enc, data, x), y, data.num_classes).tolist()
                            for name, enc in learner.encoders().items()}}

    return callback


def centres_frame(result: FitResult) -> pd.DataFrame:
    """Long table ``epoch, encoder, cluster, x, y, z`` of the centres recorded by :func:`centre_tracker`."""
    rows = []
    for rec in result.records:
        for enc, centres in rec.get("centres", {}).items():
            for k, c in enumerate(centres):
                rows.append({"epoch": rec["epoch"], "encoder": enc, "cluster": k, **dict(zip("xyz", c))})
    return pd.DataFrame(rows)


def monotonicity(values: Iterable[float], tol: float = 0.01) -> dict[str, float]:
    """How monotone a curve is; non-finite values (SimSiam's ``-inf`` at epoch 0) are dropped first.

    Returns ``spearman`` (rank correlation with the epoch; 1 = increasing order), ``nondecreasing`` (share of
    steps that fall by no more than ``tol`` times the curve's range: flat-with-noise counts as not decreasing),
    ``strict_nondecreasing`` (the same with no tolerance), ``drawdown`` (the largest fall below the running
    maximum, as a fraction of the range) and ``gain`` (last minus first value, nats).
    """
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=float)
    if len(v) < 3:
        return {k: math.nan for k in ("spearman", "nondecreasing", "strict_nondecreasing", "drawdown", "gain")}
    rng = float(v.max() - v.min()) or 1.0
    d = np.diff(v)
    return {
        "spearman": float(_spearmanr(np.arange(len(v)), v).statistic),
        "nondecreasing": float(np.mean(d >= -tol * rng)),
        "strict_nondecreasing": float(np.mean(d >= 0)),
        "drawdown": float((np.maximum.accumulate(v) - v).max() / rng),
        "gain": float(v[-1] - v[0]),
    }


def monotonicity_table(results: dict[str, FitResult],
                       estimators: tuple[str, ...] = ("mi_cos_dv", "mi_infonce", "mi_jsd")) -> pd.DataFrame:
    """One row per (method, estimator) with :func:`monotonicity` of its MI curve."""
    rows = []
    for name, res in results.items():
        for est in estimators:
            rows.append({"method": name, "estimator": est, **monotonicity(res.history[est])})
    return pd.DataFrame(rows)


def nn_gap_table(results: dict[str, FitResult], data: SSLData) -> pd.DataFrame:
    """Table 2: NN angle gaps (degrees) of the final cluster centres, one row per (method, encoder)."""
    rows = []
    for name, res in results.items():
        for enc_name, enc in res.learner.encoders().items():
            z = _embed(enc, data, data.test_x)
            gaps = evaluation.nn_angle_gaps(evaluation.cluster_centres(z, data.test_y, data.num_classes))
            rows.append({"method": name, "encoder": enc_name,
                         **{k: float(gaps[k]) for k in ("mean", "min", "max", "sd")}})
    return pd.DataFrame(rows)
