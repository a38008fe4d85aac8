"""Tests of :mod:`mi_ssl.emi_runs` on two tiny toy runs: the summary's structure and facts that hold for any run
(the ridge only lowers ``I_G``; the toy encoder maps to R^3; five centres have NN gaps between 0 and 180°)."""

from __future__ import annotations

import pytest

from mi_ssl import emi_runs, experiments
from mi_ssl.data import load_dataset


@pytest.fixture(scope="module")
def runs():
    data = load_dataset("gaussian", seed=0)
    res = experiments.run_grid(["emi", "jmi"], [0], "gaussian", data, workers=1, epochs=2, batch_size=500,
                               track_n=200)
    return res, data


def test_run_summary_rows_and_invariants(runs) -> None:
    res, data = runs
    s = emi_runs.run_summary(res, data, eps=1e-3)
    assert list(zip(s.method, s.seed)) == [("emi", 0), ("jmi", 0)]
    assert (s.I_G_0 >= s.I_G_eps).all()          # a ridge is added noise: it cannot raise the estimate
    assert (s.d_out == 3).all()
    assert (s.feature_var > 0).all() and (s.I_G_eps < s.ridge_cap).all()  # identical views of that scale bound it
    assert s.nn_gap.between(0, 180).all() and (s.nn_gap_min <= s.nn_gap).all()
    assert (s.objective_min_epoch >= 1).all() and (s.paradigm == "JMI").all()
    # EMI's objective is its own Gaussian MI on the training batch: -loss is that estimate
    emi = s.set_index("method").loc["emi"]
    assert emi.objective == pytest.approx(-float(res[("emi", 0)].history["loss"].iloc[-1]))


def test_held_out_views_are_seeded(runs) -> None:
    res, data = runs
    a = emi_runs.held_out_gaussian_mi(res[("emi", 0)], data, 1e-3, seed=5)
    b = emi_runs.held_out_gaussian_mi(res[("emi", 0)], data, 1e-3, seed=5)
    assert a == b
    with pytest.raises(ValueError, match="eps"):
        emi_runs.held_out_gaussian_mi(res[("emi", 0)], data, 0.0)
