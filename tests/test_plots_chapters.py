"""Every figure of the theory chapters (01, 02, 03, 06) is drawn by :mod:`mi_ssl.plots`: each function returns a
Figure with the expected panels and artists on small inputs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mi_ssl import anatomy, plots, theory  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _axes(fig: Figure) -> list:
    return [a for a in fig.axes if a.get_label() != "<colorbar>"]


# ----------------------------------------------------------------------------------------------- chapter 01
def test_bounds_vs_mi_one_panel_per_critic_and_batch_size() -> None:
    sweep = theory.bound_sweep([0.5, 2.0], [8, 16], d=2, n_repeats=2, seed=0)
    fig = plots.plot_bounds_vs_mi(sweep, tau=0.5)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 2
    # four estimators + truth + log N (+ 2/tau on the cosine row)
    assert len(fig.axes[0].lines) >= 6


def test_channel_and_ascent() -> None:
    ch = theory.channel_sweep([0.5, 1.0], n=32, n_repeats=2, seed=0)
    fig = plots.plot_channel(ch)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) >= 3
    terms, wa, wb = theory.gaussian_dot_instance(0, p=4, d=2, noise_var=0.5)
    traces = {"alt": theory.dv_ascent(terms, wa, wb, 0.05, 3, "alternating"),
              "joint": theory.dv_ascent(terms, wa, wb, 0.05, 3, "joint")}
    fig = plots.plot_ascent(traces, ceiling=1.0)
    assert len(fig.axes[0].lines) == 3  # two objectives + the ceiling


# ----------------------------------------------------------------------------------------------- chapter 02
def test_derivation_figures() -> None:
    cum = theory.cumulant_check(d=4, n=60, taus=[1.0, 0.5], seed=0)
    assert len(plots.plot_cumulants(cum).axes) == 2
    dot = theory.dot_critic_check(d=4, scales=[1.0, 4.0], batch_sizes=[20, 40], seed=0)
    est = {s: list(dot[dot.scale == s].batch_k1) for s in (1.0, 4.0)}
    fig = plots.plot_dot_mgf([20, 40], est, exact={s: float(dot[dot.scale == s].exact_k1.iloc[0]) for s in est},
                             expansion={s: float(dot[dot.scale == s].expansion.iloc[0]) for s in est})
    assert len(fig.axes[0].lines) == 2 + 1 + 2  # two estimate curves, one finite exact line, two expansions
    cases = theory.variance_cases(d=4, n=500, seed=0).set_index("case").to_dict("index")
    fig = plots.plot_variance_decomposition(cases)
    assert len(fig.axes[0].patches) >= 2 * 5
    land = theory.surrogate_landscape(4, 0.8, rotations=[0.0, 1.0], withins=[0.0, 0.2], scale=4.0, lambd=5e-3)
    assert len(plots.plot_surrogate_landscape(land).axes) == 2 * 2 + 2  # + the twin axes of the loss panels
    fam = theory.over_seeds(theory.family_study, [0, 1], families=("gaussian", "uniform"), d=4, n=400, n_mgf=50)
    fig = plots.plot_family_study(fam)
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) >= 2 * 4


# ----------------------------------------------------------------------------------------------- chapter 03
def test_paradigm_figures() -> None:
    fig = plots.plot_paradigm_schematic()
    assert len(fig.axes) == 3 and all(len(a.patches) >= 3 for a in fig.axes)
    setup = anatomy.paradigm_setup(0, batch_size=32)
    changes = anatomy.step_changes(setup)
    _, saved = anatomy.graph_tables(setup)
    fig = plots.plot_step_anatomy(changes, saved)
    assert len(_axes(fig)) == 2 and len(_axes(fig)[0].images) == 1


# ----------------------------------------------------------------------------------------------- chapter 06
def test_emi_figures() -> None:
    bias = theory.gaussian_mi_bias([0.0, 0.5], [16, 32], d=2, n_repeats=3)
    ridge = theory.ridge_study([0.0, 1e-3, 1e-1], d=2, n=200)
    fig = plots.plot_gaussian_mi_checks(bias, ridge)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2 + 1 + 1  # two rho, Wilks, zero line
    cases = pd.DataFrame({"case": ["a", "b"], "gaussian": [1.0, 2.0], "truth": [0.5, 1.5],
                          "truth_kind": ["exact", "upper bound"]})
    fig = plots.plot_gaussian_vs_true_mi(cases)
    assert len(fig.axes[0].patches) == 4
    hist = pd.DataFrame({"epoch": [1, 2, 3], "loss": [-1.0, -2.0, -3.0], "mi_cos_dv": [0.1, 0.2, 0.3]})
    fig = plots.plot_objective_vs_ceiling({"emi": hist}, {"ceiling": 1.6})
    assert len(fig.axes[0].lines) == 2
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [1.0, 2.0, 3.0])


# ----------------------------------------------------------------------------------------------- per-seed figures
def test_seed_points_draws_every_seed_and_the_interval() -> None:
    frame = pd.DataFrame({"method": ["a"] * 3 + ["b"] * 3, "seed": [0, 1, 2] * 2, "gap": [1.0, 2.0, 3.0, 5, 6, 7]})
    fig = plots.plot_seed_points(frame, "method", "gap", refs={"ideal": 9.0}, connect="seed")
    ax = fig.axes[0]
    points = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if hasattr(c, "get_offsets")
                             and len(c.get_offsets()) == 3])
    assert sorted(points) == [1, 2, 3, 5, 6, 7]
    assert len([ln for ln in ax.lines if ln.get_label() == "ideal"]) == 1
    assert len([ln for ln in ax.lines if not ln.get_label().startswith("ideal")]) == 3  # one line per seed
    fig = plots.plot_seed_points(frame.assign(panel=["p", "q"] * 3), "method", "gap", hue="panel", col="panel")
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="column 'nope'"):
        plots.plot_seed_points(frame, "method", "nope")


def test_seed_curves_one_line_per_run_and_panel() -> None:
    h = pd.DataFrame({"epoch": [1, 2], "loss": [-1.0, -2.0], "mi_cos_dv": [0.1, 0.2]})
    runs = {("emi", 0): h, ("emi", 1): h, ("jmi", 0): h}
    fig = plots.plot_seed_curves(runs, {"loss": "objective", "mi_cos_dv": "cos-DV"}, refs={"loss": {"ceiling": 1.6}})
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 3 + 1 and len(fig.axes[1].lines) == 3
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [1.0, 2.0])  # -loss
    with pytest.raises(ValueError, match="no column"):
        plots.plot_seed_curves(runs, {"nope": "x"})


def test_glue_figure_closes_the_figure() -> None:
    fig = plots.plot_seed_points(pd.DataFrame({"m": ["a", "a"], "v": [1.0, 2.0]}), "m", "v")
    assert plt.fignum_exists(fig.number)
    assert plots.glue_figure("fig-test", fig) is fig
    assert not plt.fignum_exists(fig.number)


def test_glue_values_stores_python_numbers(monkeypatch) -> None:
    import myst_nb

    stored = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: stored.update({name: (value, display)}))
    plots.glue_values(a=np.float64(1.5), b=np.int64(3), c="text")
    assert stored == {"a": (1.5, False), "b": (3, False), "c": ("text", False)}
    assert type(stored["a"][0]) is float and type(stored["b"][0]) is int
