"""Many runs at once: the same numbers as each run alone, in worker processes or not, cached or not."""

from __future__ import annotations

import functools
import os
import subprocess
import time

import pandas as pd
import pytest
import torch

from mi_ssl import experiments
from mi_ssl.data import load_dataset
from mi_ssl.training import fit

KW = dict(epochs=2, batch_size=500, track_n=300, device="cpu")


def _alone(method: str, seed: int) -> pd.DataFrame:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = experiments.method_config(method, "gaussian", seed=seed, **KW)
        return fit(cfg, load_dataset("gaussian", seed=seed), progress=False).history
    finally:
        torch.set_num_threads(threads)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"), check_exact=True)


@pytest.mark.parametrize("workers", [1, 2])
def test_grid_equals_each_run_alone(workers, tmp_path) -> None:
    data = functools.partial(load_dataset, "gaussian")
    grid = experiments.run_grid(["jmi", "sdmi"], [3, 4], "gaussian", data, workers=workers, progress=False,
                                cache_dir=tmp_path if workers == 2 else None, **KW)
    assert list(grid) == [("jmi", 3), ("jmi", 4), ("sdmi", 3), ("sdmi", 4)]
    for (method, seed), res in grid.items():
        _same(res.history, _alone(method, seed))
        assert res.config.seed == seed
    if workers == 2:                      # the cache holds every run: a second call re-uses them, same numbers
        again = experiments.run_grid(["jmi"], [4], "gaussian", data, workers=1, progress=False, cache_dir=tmp_path,
                                     **KW)
        _same(again[("jmi", 4)].history, grid[("jmi", 4)].history)
        assert len(list(tmp_path.iterdir())) == 4


def test_grid_and_parallel_map_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="seeds"):
        experiments.run_grid(["jmi"], [], "gaussian")
    with pytest.raises(ValueError, match="seeds"):
        experiments.run_grid(["jmi"], [1, 1], "gaussian")
    with pytest.raises(ValueError, match="workers=0"):
        experiments.parallel_map(dict, [{}], workers=0)


def test_parallel_map_keeps_order_and_restores_threads() -> None:
    before = torch.get_num_threads()
    out = experiments.parallel_map(dict, [{"a": i} for i in range(5)], workers=1, progress=False)
    assert out == [{"a": i} for i in range(5)] and torch.get_num_threads() == before


def test_parallel_map_keeps_its_workers_between_calls() -> None:
    """The spawned workers are started once per process and re-used; a failing task raises, and the next call
    starts a fresh pool."""
    try:
        first = set(experiments.parallel_map(os.getpid, [{}] * 4, workers=2, progress=False))
        started = set(experiments._worker_pool(2)._processes)  # the pool's processes (spawned as tasks came)
        second = set(experiments.parallel_map(os.getpid, [{}] * 4, workers=2, progress=False))
        # kept, not restarted: both calls ran in the processes the first one started (a slow-starting second
        # process may have run no task of the first call)
        kept = first | second
        assert os.getpid() not in kept and 1 <= len(started) <= 2 and kept <= started
        assert set(experiments._worker_pool(2)._processes) == started
        start = time.perf_counter()   # a failing task stops the pool at once, the task still running included
        with pytest.raises(TypeError):
            experiments.parallel_map(subprocess.call, [{"args": ["sleep", "60"]}, {"args": 5}], workers=2,
                                     progress=False)
        assert time.perf_counter() - start < 50     # the 60 s task was stopped, not waited for
        third = set(experiments.parallel_map(os.getpid, [{}] * 2, workers=2, progress=False))
        assert not third & started
    finally:
        experiments.shutdown_workers()
