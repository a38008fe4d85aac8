"""Figures of the linear-probe chapters over seeds (07, 08): Table 1 per seed, ablations' collapse and recovery,
the SDMI-NoDV-Pred budget."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["plot_probe_seeds", "plot_ablation_seeds", "plot_budget"]


_PARADIGM_COLORS = {"SDMI": "#0173b2", "JMI": "#de8f05", "baseline": "0.4"}
_ROLE_COLORS = ("#0173b2", "#d55e00", "#029e73", "#cc78bc", "#ca9161")


def _row_labels(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    """``(method, encoder, label)`` per (method, encoder) of a probe-grid frame, in frame order; the encoder
    is named only for methods with more than one."""
    pairs = list(dict.fromkeys(zip(frame.method, frame.encoder)))
    many = {m for m in dict.fromkeys(frame.method) if sum(p[0] == m for p in pairs) > 1}
    titles = dict(zip(frame.method, frame.title))
    return [(m, e, f"{titles[m]} ({e})" if m in many else titles[m]) for m, e in pairs]


def _seed_points(ax, x: float, values: np.ndarray, color, label: str | None = None) -> None:
    """Every seed's value as a dot (spread sideways by rank so equal values stay visible), the mean with
    its 95 % t-interval as a black bar."""
    from ..stats import summarize

    offsets = np.linspace(-0.18, 0.18, len(values)) if len(values) > 1 else np.zeros(1)
    ax.scatter(x + offsets[np.argsort(np.argsort(values))], values, s=16, color=color, alpha=0.8, zorder=3,
               label=label, edgecolor="none")
    s = summarize(values)
    err = None if math.isnan(s.low) else [[s.mean - s.low], [s.high - s.mean]]
    ax.errorbar([x], [s.mean], yerr=err, fmt="_", color="k", ms=14, capsize=4, lw=1.4, zorder=4)


def _band(ax, values: np.ndarray, color, label: str, ls: str) -> None:
    """The range over seeds of a baseline as a shaded band, its mean as a line."""
    ax.axhspan(float(values.min()), float(values.max()), color=color, alpha=0.15, lw=0)
    ax.axhline(float(values.mean()), color=color, ls=ls, lw=1.2, label=label)


def plot_probe_seeds(frame: pd.DataFrame, paper: pd.DataFrame | None = None, value: str = "top1",
                     floor: str = "random init", ceiling: str = "supervised") -> Figure:
    """Table 1 over seeds (chapter 07): (a) each method's linear-probe accuracy, one dot per seed, the mean
    with its 95 % interval, the floor's and the ceiling's range over seeds as bands; (b) each method's paired
    gain over the floor of the same seed; (c) with ``paper``, the paper's numbers as bars with their std.

    ``frame`` is :func:`mi_ssl.probing.probe_grid`'s (columns ``method, encoder, title, paradigm, seed`` and
    ``value``); ``paper`` has one row per bar with columns ``label, paradigm, top1, std`` and a ``dataset``.
    """
    ssl = frame[~frame.method.isin([floor, ceiling])]
    rows = _row_labels(ssl)
    base = frame[frame.method == floor].set_index("seed")[value]
    ncols = 3 if paper is not None else 2
    fig, axes = plt.subplots(1, ncols, figsize=(6.2 * ncols, 4.6),
                             gridspec_kw={"width_ratios": [3, 3, 2][:ncols]})
    ax, gx = axes[0], axes[1]
    for x, (m, e, _) in enumerate(rows):
        g = ssl[(ssl.method == m) & (ssl.encoder == e)]
        color = _PARADIGM_COLORS.get(g.paradigm.iloc[0], "0.4")
        _seed_points(ax, x, g[value].to_numpy(float), color)
        _seed_points(gx, x, (g[value].to_numpy(float) - base.loc[g.seed].to_numpy(float)), color)
    _band(ax, base.to_numpy(float), "0.3", f"{floor} (floor): range over seeds", "--")
    if ceiling in set(frame.method):
        _band(ax, frame[frame.method == ceiling][value].to_numpy(float), "k", f"{ceiling} (ceiling)", ":")
    gx.axhline(0.0, color="0.3", ls="--", lw=1.2)
    labels = [lab for *_, lab in rows]
    for a in (ax, gx):
        a.set_xticks(range(len(rows)), labels, rotation=40, ha="right")
    for p, c in _PARADIGM_COLORS.items():
        if p != "baseline" and p in set(ssl.paradigm):
            ax.scatter([], [], color=c, s=16, label=f"{p} paradigm (one dot per seed)")
    ax.set_ylabel("linear probe top-1 (%)")
    ax.set_title(f"(a) probe accuracy, {base.size} seeds; bar: mean and 95% interval")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.86), ncol=2, framealpha=0.9)
    gx.set_ylabel("gain over the floor of the same seed (points)")
    gx.set_title("(b) paired gain over the untrained encoder")
    if paper is not None:
        px = axes[2]
        px.bar(range(len(paper)), paper.top1, yerr=paper["std"], capsize=3,
               color=[_PARADIGM_COLORS.get(p, "0.4") for p in paper.paradigm])
        px.set_ylim(max(0.0, float(paper.top1.min()) - 6), min(100.0, float(paper.top1.max()) + 3))
        px.set_xticks(range(len(paper)), paper.label, rotation=40, ha="right")
        px.set_title(f"(c) paper, Table 1: {paper.dataset.iloc[0]} (mean ± std, 3 runs)")
    fig.tight_layout()
    return fig


def plot_ablation_seeds(frame: pd.DataFrame, families: Mapping[str, Sequence[str]], metrics: Mapping[str, str],
                        floor: str = "random init", bands: Sequence[str] = ("top1", "z_top1", "effective_rank")
                        ) -> Figure:
    """Fig. 4 over seeds (chapter 08): one row of panels per metric, one column per family of variants;
    each (variant, encoder) gets one dot per seed and its mean with a 95 % interval, coloured by its place in
    the family (parent, ablation, ...). For the metrics in ``bands``, the ``floor`` rows' range over seeds is a
    band (the untrained encoder's std of normalised embeddings is far below the trained ones': not drawn by default).

    ``frame`` is :func:`mi_ssl.probing.probe_grid`'s; ``families`` maps a panel title to its methods, parent
    first; ``metrics`` maps a column of ``frame`` to its axis label.
    """
    fig, axes = plt.subplots(len(metrics), len(families), squeeze=False, sharey="row",
                             figsize=(4.2 * len(families) + 2, 2.9 * len(metrics)),
                             gridspec_kw={"width_ratios": [max(1, len(_row_labels(frame[frame.method.isin(ms)])))
                                                           for ms in families.values()]})
    base = frame[frame.method == floor]
    for j, (title, methods) in enumerate(families.items()):
        sub = frame[frame.method.isin(methods)]
        rows = _row_labels(sub)
        for i, (col, label) in enumerate(metrics.items()):
            ax = axes[i][j]
            for x, (m, e, _) in enumerate(rows):
                g = sub[(sub.method == m) & (sub.encoder == e)]
                _seed_points(ax, x, g[col].to_numpy(float), _ROLE_COLORS[list(methods).index(m) % 5])
            if len(base) and col in bands and col in base and base[col].notna().all():
                _band(ax, base[col].to_numpy(float), "0.3", f"{floor}: range over seeds", "--")
                ax.legend(fontsize=7, loc="lower left", framealpha=0.9)
            ax.set_xticks(range(len(rows)), [lab for *_, lab in rows] if i == len(metrics) - 1 else [],
                          rotation=30, ha="right")
            if j == 0:
                ax.set_ylabel(label)
            if i == 0:
                ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_budget(frame: pd.DataFrame, methods: Sequence[str], metrics: Mapping[str, str], encoder: str = "f",
                floor: str = "random init") -> Figure:
    """How the ablations move with the training budget (chapter 08): each metric against ``train_epochs``,
    one thin line with small dots per (method, seed), the mean over seeds bold; the floor's range over seeds as a
    band.

    ``frame`` holds :func:`mi_ssl.probing.probe_grid` rows of several budgets (column ``train_epochs``).
    """
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8), squeeze=False)
    base = frame[frame.method == floor]
    for ax, (col, label) in zip(axes[0], metrics.items()):
        for k, m in enumerate(methods):
            g = frame[(frame.method == m) & (frame.encoder == encoder)]
            color = _ROLE_COLORS[k % 5]
            for _, s in g.groupby("seed"):
                s = s.sort_values("train_epochs")
                ax.plot(s.train_epochs, s[col], color=color, lw=0.7, alpha=0.45, marker=".", ms=4)
            mean = g.groupby("train_epochs")[col].mean()
            ax.plot(mean.index, mean.values, color=color, lw=2.2, marker="o", label=g.title.iloc[0])
        if len(base) and col in base and base[col].notna().all():
            _band(ax, base[col].to_numpy(float), "0.3", f"{floor}: range over seeds", "--")
        ax.set_xlabel("pre-training epochs")
        ax.set_ylabel(label)
        ax.set_xticks(sorted(frame[frame.method.isin(methods)].train_epochs.unique()))
    axes[0][0].legend(fontsize=7, framealpha=0.9)
    fig.tight_layout()
    return fig
