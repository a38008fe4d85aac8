"""Figures of the toy Gaussian experiment and MI tracking (chapters 04, 05): cluster centres on the sphere, NN
angle gaps (Table 2) per seed, sensitivity to temperature and momentum, tracked MI curves and their monotonicity."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d.art3d import Line3DCollection

__all__ = [
    "plot_centre_trajectories", "plot_centres_at_epochs", "plot_nn_gaps", "plot_mi_curves", "plot_seed_gaps",
    "plot_sensitivity", "plot_mi_bands", "plot_monotonicity",
]


def _sphere(ax, alpha: float = 0.06) -> None:

    u, v = np.mgrid[0:2 * np.pi:30j, 0:np.pi:15j]
    ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v), color="grey", alpha=alpha, lw=0.5)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_zticks([])


def plot_centre_trajectories(frames: Mapping[str, pd.DataFrame], titles: Mapping[str, str] | None = None,
                             encoder: str = "f", ncols: int = 4) -> Figure:
    """Paper Fig. 3: trajectories of the five cluster centres on the unit sphere, one panel per method.

    ``frames[method]`` is :func:`mi_ssl.experiments.centres_frame` output (``epoch, encoder, cluster, x, y, z``);
    opacity grows with the epoch, the final centre is a large dot.
    """

    names = list(frames)
    nrows = int(np.ceil(len(names) / ncols))
    fig = plt.figure(figsize=(3.2 * ncols, 3.2 * nrows))
    palette = sns.color_palette("tab10", 10)
    for i, name in enumerate(names):
        ax = fig.add_subplot(nrows, ncols, i + 1, projection="3d")
        _sphere(ax)
        df = frames[name]
        df = df[df["encoder"] == encoder]
        epochs = np.sort(df["epoch"].unique())
        for k, grp in df.groupby("cluster"):
            pts = grp.sort_values("epoch")[["x", "y", "z"]].to_numpy()
            # one segment per epoch step, more opaque as training goes on: one collection, not a line per step
            rgba = np.tile((*palette[k][:3], 1.0), (len(pts) - 1, 1))
            rgba[:, 3] = 0.15 + 0.85 * np.arange(1, len(pts)) / len(pts)
            ax.add_collection3d(Line3DCollection(np.stack([pts[:-1], pts[1:]], axis=1), colors=rgba, linewidths=1.2))
            ax.scatter(*pts[-1], color=palette[k], s=40, depthshade=False)
        ax.set_title((titles or {}).get(name, name) + f" ({encoder}, {int(epochs[-1])} ep.)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_centres_at_epochs(frame: pd.DataFrame, epochs: Sequence[int] = (1, 5, 20, 70, 100),
                           encoders: Sequence[str] = ("f", "g")) -> Figure:
    """Paper Fig. 6: the centres of each encoder of one run at chosen epochs (rows: encoders)."""
    palette = sns.color_palette("tab10", 10)
    fig = plt.figure(figsize=(2.8 * len(epochs), 2.9 * len(encoders)))
    for r, enc in enumerate(encoders):
        for c, ep in enumerate(epochs):
            ax = fig.add_subplot(len(encoders), len(epochs), r * len(epochs) + c + 1, projection="3d")
            _sphere(ax)
            sub = frame[(frame["encoder"] == enc) & (frame["epoch"] == ep)]
            for _, row in sub.iterrows():
                ax.scatter(row["x"], row["y"], row["z"], color=palette[int(row["cluster"])], s=45, depthshade=False)
            ax.set_title(f"{enc}, epoch {ep}", fontsize=9)
    fig.tight_layout()
    return fig


def plot_nn_gaps(table: pd.DataFrame, ideal: float = 90.0) -> Figure:
    """Table 2 as a figure: mean NN gap (bars, min-max whiskers) ours vs the paper's, per method/encoder."""

    labels = [f"{m} ({e})" for m, e in zip(table["method"], table["encoder"])]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(labels)), 3.6))
    ax.bar(x - 0.2, table["mean"], 0.4, label="mi-ssl (this run)",
           yerr=[table["mean"] - table["min"], table["max"] - table["mean"]], capsize=2)
    if "paper_mean" in table:
        ax.bar(x + 0.2, table["paper_mean"], 0.4, label="paper, Table 2", alpha=0.7)
    ax.axhline(ideal, color="k", ls="--", lw=1, label=f"ideal ≈ {ideal:.0f}°")
    ax.set_xticks(x, labels, rotation=45, ha="right")
    ax.set_ylabel("mean nearest-neighbour angle (°)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _label_mi_panel(ax, title: str, bottom: bool, left: bool, legend: bool) -> None:
    """Title, axis labels on the outer panels, and the legend on the last column of an MI-curve grid."""
    ax.set_title(title, fontsize=10)
    if bottom:
        ax.set_xlabel("epoch")
    if left:
        ax.set_ylabel("nats")
    if legend:
        ax.legend(fontsize=7, loc="lower right")


def plot_mi_curves(histories: Mapping[str, pd.DataFrame], paradigm: Mapping[str, str],
                   estimators: Sequence[str] = ("mi_cos_dv", "mi_infonce", "mi_jsd")) -> Figure:
    """Paper Figs. 5 and 7: MI estimates per epoch, rows = paradigm (SDMI, JMI), columns = estimator."""
    rows = ["SDMI", "JMI"]
    labels = {"mi_cos_dv": "$I_{cos-DV}$", "mi_infonce": "$I_{InfoNCE}$", "mi_jsd": "$I_{JSD}$ (f-GAN objective)"}
    fig, axes = plt.subplots(len(rows), len(estimators), figsize=(4.2 * len(estimators), 3.2 * len(rows)),
                             sharex=True)
    for r, par in enumerate(rows):
        for c, est in enumerate(estimators):
            ax = axes[r, c]
            for name, h in histories.items():
                if paradigm[name] != par:
                    continue
                ok = h[est].replace([float("inf"), float("-inf")], float("nan"))
                ax.plot(h["epoch"], ok, label=name, lw=1.3)
            _label_mi_panel(ax, f"{par}: {labels.get(est, est)}", r == len(rows) - 1, c == 0,
                            c == len(estimators) - 1)
    fig.tight_layout()
    return fig




def _row_label(method: str, encoder: str) -> str:
    return method if encoder == "f" else f"{method} ({encoder})"


def plot_seed_gaps(table: pd.DataFrame, gaps: pd.DataFrame, ideal: float = 90.0, pentagon: float = 72.0) -> Figure:
    """Table 2 over seeds (chapter 04): every seed's mean NN gap (one colour per seed), our mean with its 95 %
    interval (black bar), the paper's value (red diamond), the ideal and the great-circle pentagon (lines).

    ``table``: :func:`mi_ssl.toy.table2` (``method, encoder, mean, ci_low, ci_high, paper_mean``); ``gaps``:
    :func:`mi_ssl.toy.gap_frame` (one row per ``method, seed, encoder`` with ``mean``).
    """
    rows = list(zip(table["method"], table["encoder"]))
    x = {r: i for i, r in enumerate(rows)}
    seeds = sorted(gaps["seed"].unique())
    colors = dict(zip(seeds, sns.color_palette("colorblind", len(seeds))))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(rows)), 3.8))
    for j, s in enumerate(seeds):
        sub = gaps[(gaps["seed"] == s).to_numpy() & np.array([r in x for r in zip(gaps["method"], gaps["encoder"])])]
        off = (j - (len(seeds) - 1) / 2) * 0.06
        ax.scatter([x[r] + off - 0.12 for r in zip(sub["method"], sub["encoder"])], sub["mean"], s=18,
                   color=colors[s], label=f"seed {s}", zorder=3)
    pos = [x[r] + 0.12 for r in rows]
    ax.errorbar(pos, table["mean"], yerr=[table["mean"] - table["ci_low"], table["ci_high"] - table["mean"]],
                fmt="s", color="black", ms=4, capsize=3, label="mean, 95% interval", zorder=4)
    if "paper_mean" in table:
        ax.scatter(pos, table["paper_mean"], marker="D", s=36, facecolor="none", edgecolor="red", lw=1.5,
                   label="paper, Table 2", zorder=5)
    ax.axhline(ideal, color="k", ls="--", lw=1, label=f"ideal ≈ {ideal:.0f}°")
    ax.axhline(pentagon, color="grey", ls=":", lw=1, label=f"pentagon {pentagon:.0f}°")
    ax.set_xticks(range(len(rows)), [_row_label(*r) for r in rows], rotation=35, ha="right")
    ax.set_ylabel("mean NN angle gap (°)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def plot_sensitivity(frame: pd.DataFrame, factor: str, paper_means: Mapping[tuple[str, str], float] | None = None,
                     label: str | None = None, ncols: int = 4) -> Figure:
    """How the mean NN gap moves with one setting (chapter 04): one panel per Table 2 row that ``factor`` moves,
    ``factor``'s levels on the x axis, every seed's point, the mean over seeds (line) and the paper's value
    (red dashed line; the paper gives no setting for it).

    ``frame``: :func:`mi_ssl.toy.sweep` rows (``method, encoder, seed, mean`` and a column ``factor``).
    """
    keys = [r for r, g in frame.groupby(["method", "encoder"], sort=False) if g[factor].nunique() > 1]
    if not keys:
        raise ValueError(f"no Table 2 row of frame takes more than one value of factor={factor!r}")
    levels = sorted(frame[factor].unique())
    ncols = min(ncols, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.9 * ncols, 2.5 * nrows), sharey=True, squeeze=False)
    for ax, (m, e) in zip(axes.flat, keys):
        sub = frame[(frame["method"] == m) & (frame["encoder"] == e)]
        pos = sub[factor].map({v: i for i, v in enumerate(levels)})
        ax.scatter(pos, sub["mean"], s=14, color="#0173b2", alpha=0.7, label="one seed")
        mean = sub.groupby(factor)["mean"].mean().reindex(levels)
        ax.plot(range(len(levels)), mean.to_numpy(), color="#0173b2", lw=1.5, marker="s", ms=4, label="mean")
        if paper_means and (m, e) in paper_means:
            ax.axhline(paper_means[(m, e)], color="red", ls="--", lw=1.2, label="paper, Table 2")
        ax.set_xticks(range(len(levels)), [f"{v:g}" for v in levels])
        ax.set_title(_row_label(m, e), fontsize=9)
        ax.set_xlim(-0.5, len(levels) - 0.5)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("mean NN gap (°)")
    for ax in axes[-1]:
        ax.set_xlabel(label or factor)
    axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def plot_mi_bands(histories: Mapping[tuple[str, int], pd.DataFrame], paradigm: Mapping[str, str],
                  estimators: Sequence[str] = ("mi_cos_dv", "mi_infonce", "mi_jsd")) -> Figure:
    """Paper Figs. 5 and 7 over seeds (chapter 05): per method the median MI estimate per epoch (line) and the
    band from the lowest to the highest seed; rows = paradigm (SDMI, JMI), columns = estimator.

    ``histories[(method, seed)]``: a run's history (``epoch`` and one column per estimator, nats; infinite
    values, SimSiam's first epoch, are left out).
    """
    rows = [p for p in ("SDMI", "JMI") if p in set(paradigm.values())]
    labels = {"mi_cos_dv": "$I_{cos-DV}$", "mi_infonce": "$I_{InfoNCE}$", "mi_jsd": "$I_{JSD}$ (f-GAN objective)"}
    methods = list(dict.fromkeys(m for m, _ in histories))
    colors = dict(zip(methods, sns.color_palette("tab10", len(methods))))
    fig, axes = plt.subplots(len(rows), len(estimators), figsize=(4.2 * len(estimators), 3.1 * len(rows)),
                             sharex=True, squeeze=False)
    for r, par in enumerate(rows):
        for c, est in enumerate(estimators):
            ax = axes[r, c]
            for m in methods:
                if paradigm[m] != par:
                    continue
                wide = pd.concat({s: h.set_index("epoch")[est] for (mm, s), h in histories.items() if mm == m}, axis=1)
                wide = wide.replace([np.inf, -np.inf], np.nan)
                ax.fill_between(wide.index, wide.min(axis=1), wide.max(axis=1), color=colors[m], alpha=0.2, lw=0)
                ax.plot(wide.index, wide.median(axis=1), color=colors[m], lw=1.3, label=f"{m} ({wide.shape[1]} seeds)")
            _label_mi_panel(ax, f"{par}: {labels.get(est, est)}", r == len(rows) - 1, c == 0,
                            c == len(estimators) - 1)
    fig.tight_layout()
    return fig


def plot_monotonicity(mono: pd.DataFrame, value: str = "spearman", threshold: float | None = 0.9,
                      by: str = "setting") -> Figure:
    """How monotone the MI curves are over seeds (chapter 05): one panel per ``by`` group (e.g. full batch,
    mini-batch), methods on the x axis, one point per seed and estimator (colour), ``threshold`` dashed.

    ``mono``: :func:`mi_ssl.toy.mono_frame` rows (``method, seed, estimator`` and ``value``) with a ``by`` column.
    """
    groups = list(dict.fromkeys(mono[by]))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.6 * len(groups), 3.4), sharey=True, squeeze=False)
    for ax, g in zip(axes[0], groups):
        sub = mono[mono[by] == g]
        sns.stripplot(data=sub, x="method", y=value, hue="estimator", dodge=True, jitter=0.15, size=3.5,
                      palette="colorblind", ax=ax)
        if threshold is not None:
            ax.axhline(threshold, color="k", ls="--", lw=1)
        ax.set_title(str(g), fontsize=10)
        ax.set_xlabel("")
        ax.tick_params(axis="x", rotation=35)
        if ax is not axes[0, -1]:
            ax.get_legend().remove()
        else:
            ax.legend(fontsize=7, title="", loc="lower left")
    axes[0, 0].set_ylabel({"spearman": "Spearman ρ (MI vs epoch)"}.get(value, value))
    fig.tight_layout()
    return fig
