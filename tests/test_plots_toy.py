"""The toy-experiment figures of `mi_ssl.plots` (book chapters 04 and 05): what each draws, on small tables."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mi_ssl import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _gaps() -> pd.DataFrame:
    vals = {("jmi", "f"): [72.0, 89.0, 88.0], ("sdmi", "g"): [71.0, 71.5, 72.0]}
    return pd.DataFrame([{"method": m, "encoder": e, "seed": s, "mean": v}
                         for (m, e), vs in vals.items() for s, v in zip((0, 1, 2), vs)])


def test_seed_gaps_draws_every_seed_the_interval_and_the_paper():
    gaps = _gaps()
    table = pd.DataFrame({"method": ["jmi", "sdmi"], "encoder": ["f", "g"], "mean": [83.0, 71.5],
                          "ci_low": [60.0, 70.0], "ci_high": [106.0, 73.0], "paper_mean": [88.26, 73.77]})
    fig = plots.plot_seed_gaps(table, gaps)
    (ax,) = fig.axes
    seed_pts = [c for c in ax.collections if c.get_label().startswith("seed ")]
    assert len(seed_pts) == 3 and all(len(c.get_offsets()) == 2 for c in seed_pts)
    ys = sorted(y for c in seed_pts for y in np.asarray(c.get_offsets())[:, 1])
    assert ys == sorted(gaps["mean"])
    paper = next(c for c in ax.collections if c.get_label() == "paper, Table 2")
    assert np.asarray(paper.get_offsets())[:, 1].tolist() == [88.26, 73.77]
    assert {round(line.get_ydata()[0]) for line in ax.lines if len(line.get_ydata()) == 2} >= {90, 72}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["jmi", "sdmi (g)"]
    bars = next(c for c in ax.containers if hasattr(c, "has_yerr") and c.has_yerr)
    seg = bars.lines[2][0].get_segments()
    assert [s[:, 1].tolist() for s in seg] == [[60.0, 106.0], [70.0, 73.0]]


def test_sensitivity_one_panel_per_moved_row_with_the_papers_line():
    rows = []
    for tau, shift in ((0.1, -20.0), (0.5, 0.0)):
        for s in (0, 1):
            rows.append({"method": "jmi", "encoder": "f", "seed": s, "tau": tau, "mean": 88.0 + shift + s})
            rows.append({"method": "byol", "encoder": "f", "seed": s, "tau": 0.5, "mean": 40.0})
    fig = plots.plot_sensitivity(pd.DataFrame(rows), "tau", {("jmi", "f"): 88.26}, label="τ")
    visible = [a for a in fig.axes if a.get_visible()]
    assert len(visible) == 1 and visible[0].get_title() == "jmi"         # BYOL does not move with tau
    ax = visible[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.1", "0.5"]
    mean_line = next(line for line in ax.lines if line.get_label() == "mean")
    assert mean_line.get_ydata().tolist() == [68.5, 88.5]
    assert next(line for line in ax.lines if line.get_label() == "paper, Table 2").get_ydata()[0] == 88.26
    assert len(ax.collections[0].get_offsets()) == 4 and ax.get_xlabel() == "τ"
    with pytest.raises(ValueError, match="factor='sgd_momentum'"):
        plots.plot_sensitivity(pd.DataFrame(rows).assign(sgd_momentum=0.9), "sgd_momentum")


def test_mi_bands_median_and_seed_range():
    h = {("sdmi", s): pd.DataFrame({"epoch": [0, 1, 2], "mi_cos_dv": [0.0, 1.0 + s, 2.0 + s]}) for s in (0, 1, 2)}
    h[("jmi", 0)] = pd.DataFrame({"epoch": [0, 1, 2], "mi_cos_dv": [-np.inf, 1.0, 3.0]})
    fig = plots.plot_mi_bands(h, {"sdmi": "SDMI", "jmi": "JMI"}, ("mi_cos_dv",))
    top, bottom = fig.axes
    line = top.lines[0]
    assert line.get_label() == "sdmi (3 seeds)" and line.get_ydata().tolist() == [0.0, 2.0, 3.0]
    band = top.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == 0.0 and band.max() == 4.0                       # lowest and highest seed
    assert np.isnan(bottom.lines[0].get_ydata()[0])                       # -inf left out
    assert top.get_title().startswith("SDMI") and bottom.get_title().startswith("JMI")


def test_monotonicity_panels_points_and_threshold():
    mono = pd.DataFrame([{"setting": st, "method": m, "seed": s, "estimator": e, "spearman": 0.95}
                         for st in ("full batch", "batch 500") for m in ("sdmi", "jmi") for s in (0, 1)
                         for e in ("mi_cos_dv", "mi_jsd")])
    fig = plots.plot_monotonicity(mono, threshold=0.9)
    assert [a.get_title() for a in fig.axes] == ["full batch", "batch 500"]
    for ax in fig.axes:
        pts = sum(len(c.get_offsets()) for c in ax.collections)
        assert pts == 8                                                   # 2 methods x 2 seeds x 2 estimators
        assert any(list(line.get_ydata()) == [0.9, 0.9] for line in ax.lines)
    assert fig.axes[0].get_legend() is None and fig.axes[1].get_legend() is not None


def test_centre_trajectories_one_panel_per_run_segments_fading_in_and_final_dots():
    from mpl_toolkits.mplot3d.art3d import Line3DCollection

    rng = np.random.default_rng(0)
    rows = []
    for epoch in range(11):
        for cluster in range(5):
            v = rng.normal(size=3)
            x, y, z = v / np.linalg.norm(v)
            rows += [{"epoch": epoch, "encoder": enc, "cluster": cluster, "x": x, "y": y, "z": z} for enc in "fg"]
    frame = pd.DataFrame(rows)
    fig = plots.plot_centre_trajectories({"jmi": frame, "sdmi": frame}, {"jmi": "JMI"}, ncols=2)
    assert len(fig.axes) == 2 and fig.axes[0].get_title().startswith("JMI (f, 10 ep.)")
    lines = [c for c in fig.axes[0].collections if isinstance(c, Line3DCollection)][1:]  # [0]: the sphere
    assert len(lines) == 5 and all(len(c.get_colors()) == 10 for c in lines)       # 10 epoch steps per centre
    alpha = lines[0].get_colors()[:, 3]
    assert np.all(np.diff(alpha) > 0) and alpha[-1] == pytest.approx(1.0 - 0.85 / 11)
    plt.close(fig)
