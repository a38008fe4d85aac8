"""The probe-over-seeds figures of `mi_ssl.plots` (book chapters 07 and 08): what each draws, on small frames."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402

from mi_ssl import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


FLOOR = {0: 80.0, 1: 83.0, 2: 78.0}


def _frame(epochs: int = 6, shift: float = 0.0) -> pd.DataFrame:
    rows = []
    for seed, fl in FLOOR.items():
        rows.append({"method": "random init", "encoder": "f", "title": "random init", "paradigm": "baseline",
                     "seed": seed, "top1": fl, "effective_rank": 40.0, "train_epochs": 0})
        rows.append({"method": "supervised", "encoder": "f", "title": "supervised", "paradigm": "baseline",
                     "seed": seed, "top1": 95.0 + seed, "effective_rank": 50.0, "train_epochs": epochs})
        for enc, off in (("f", 2.0), ("g", 1.0)):
            rows.append({"method": "sdmi", "encoder": enc, "title": "SDMI", "paradigm": "SDMI", "seed": seed,
                         "top1": fl + off + shift, "effective_rank": 30.0 + seed, "train_epochs": epochs})
        rows.append({"method": "jmi", "encoder": "f", "title": "JMI", "paradigm": "JMI", "seed": seed,
                     "top1": 85.0 + seed + shift, "effective_rank": 10.0 + seed, "train_epochs": epochs})
    return pd.DataFrame(rows)


def _dots(ax) -> list[np.ndarray]:
    """The y values of each non-empty scatter of an axis, in drawing order."""
    return [c.get_offsets()[:, 1].data.copy() for c in ax.collections
            if isinstance(c, PathCollection) and len(c.get_offsets())]


def test_probe_seeds_draws_every_seed_the_paired_gain_and_the_baseline_bands():
    paper = pd.DataFrame({"label": ["SDMI (f)", "JMI"], "paradigm": ["SDMI", "JMI"], "top1": [88.6, 88.0],
                          "std": [0.1, 0.5], "dataset": "cifar10"})
    fig = plots.plot_probe_seeds(_frame(), paper=paper)
    ax, gx, px = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["SDMI (f)", "SDMI (g)", "JMI"]
    a = _dots(ax)
    assert [sorted(v) for v in a] == [[80.0, 82.0, 85.0], [79.0, 81.0, 84.0], [85.0, 86.0, 87.0]]
    # (b): each seed's value minus the floor of the same seed (JMI: 85-80, 86-83, 87-78)
    assert [sorted(v) for v in _dots(gx)] == [[2.0] * 3, [1.0] * 3, [3.0, 5.0, 9.0]]
    # the floor band spans its range over seeds (78..83), the ceiling's 95..97; lines at their means
    spans = sorted((round(p.get_y(), 6), round(p.get_y() + p.get_height(), 6)) for p in ax.patches)
    assert spans == [(78.0, 83.0), (95.0, 97.0)]
    assert sorted(round(l.get_ydata()[0], 6) for l in ax.get_lines() if len(set(l.get_ydata())) == 1
                  and len(l.get_xdata()) == 2) == pytest.approx([80.333333, 96.0])
    assert [p.get_height() for p in px.patches] == pytest.approx([88.6, 88.0]) and "cifar10" in px.get_title()
    assert len(plots.plot_probe_seeds(_frame()).axes) == 2        # no paper panel without the paper


def test_ablation_seeds_one_panel_per_metric_and_family():
    fam = {"(a) SDMI": ["sdmi"], "(b) JMI": ["jmi"]}
    fig = plots.plot_ablation_seeds(_frame(), fam, {"top1": "probe (%)", "effective_rank": "eff. rank"})
    assert len(fig.axes) == 4
    top_a, top_b, rank_a, rank_b = fig.axes
    assert top_a.get_title() == "(a) SDMI" and top_a.get_ylabel() == "probe (%)"
    assert [sorted(v) for v in _dots(rank_a)] == [[30.0, 31.0, 32.0]] * 2           # f and g
    assert [sorted(v) for v in _dots(top_b)] == [[85.0, 86.0, 87.0]]
    # the floor's band for the metrics in `bands` (both rows by default; none when left out)
    assert [(p.get_y(), p.get_y() + p.get_height()) for p in top_b.patches] == [(78.0, 83.0)]
    assert [(p.get_y(), p.get_y() + p.get_height()) for p in rank_a.patches] == [(40.0, 40.0)]
    fig = plots.plot_ablation_seeds(_frame(), fam, {"top1": "probe (%)"}, bands=())
    assert all(not ax.patches for ax in fig.axes)
    assert [t.get_text() for t in rank_a.get_xticklabels()] == ["SDMI (f)", "SDMI (g)"]


def test_budget_lines_per_seed_and_the_mean_over_seeds():
    frame = pd.concat([_frame(6), _frame(12, shift=4.0)], ignore_index=True)
    fig = plots.plot_budget(frame, ["jmi"], {"top1": "probe (%)"})
    (ax,) = fig.axes
    lines = [l for l in ax.get_lines() if len(l.get_xdata()) == 2 and list(l.get_xdata()) == [6, 12]]
    seeds, mean = lines[:3], lines[3]
    assert sorted(tuple(l.get_ydata()) for l in seeds) == [(85.0, 89.0), (86.0, 90.0), (87.0, 91.0)]
    assert list(mean.get_ydata()) == pytest.approx([86.0, 90.0]) and mean.get_label() == "JMI"
    assert [t for t in ax.get_xticks()] == [6, 12]
