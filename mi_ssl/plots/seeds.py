"""Per-seed figures for any chapter: one point per seed with its mean and 95 % interval; curves per seed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = ["plot_seed_points", "plot_seed_curves"]


def plot_seed_points(frame: pd.DataFrame, x: str, y: str, *, hue: str | None = None, col: str | None = None,
                     refs: Mapping[str, float] | None = None, connect: str | None = None, logy: bool = False,
                     ylabel: str | None = None, title: str | None = None) -> Figure:
    """One point per seed (row of ``frame``) at each category of ``x``, with the mean and its 95 % t-interval.

    ``hue``: a second category, side by side within each ``x``; ``col``: one panel per value (each with its own
    ``x`` categories); ``refs``:
    ``{label: value}`` horizontal reference lines (e.g. a ceiling); ``connect``: a column (e.g. ``"seed"``)
    whose rows are joined by thin lines across ``x`` (paired comparisons); ``logy``: log y-axis. The mean is a
    black bar, the interval a black whisker (:func:`mi_ssl.stats.summarize`; none for a single seed).
    """
    from ..stats import summarize

    for c in (x, y, hue, col, connect):
        if c is not None and c not in frame.columns:
            raise ValueError(f"column {c!r} is not in the frame; columns: {', '.join(map(str, frame.columns))}")
    panels = list(dict.fromkeys(frame[col])) if col else [None]
    per_panel = [frame[frame[col] == p] if col else frame for p in panels]
    widest = max(part[x].nunique() for part in per_panel)
    fig, axes = plt.subplots(1, len(panels), figsize=(max(4.2, 0.9 * widest + 2.5) * len(panels), 3.8),
                             squeeze=False, sharey=True)
    hues = list(dict.fromkeys(frame[hue])) if hue else [None]
    colours = dict(zip(hues, sns.color_palette("colorblind", len(hues))))
    width = 0.7 / len(hues)
    rng = np.random.default_rng(0)
    for ax, panel, sub in zip(axes[0], panels, per_panel):
        xs = list(dict.fromkeys(sub[x]))  # each panel shows its own categories
        for j, h in enumerate(hues):
            part = sub[sub[hue] == h] if hue else sub
            offset = (j - (len(hues) - 1) / 2) * width
            for i, cat in enumerate(xs):
                vals = part.loc[part[x] == cat, y].to_numpy(dtype=float)
                vals = vals[np.isfinite(vals)]
                if not vals.size:
                    continue
                pos = i + offset
                ax.scatter(pos + rng.uniform(-0.12, 0.12, vals.size) * width, vals, s=18, color=colours[h],
                           alpha=0.8, zorder=3, label=str(h) if (hue and i == 0) else None)
                s = summarize(vals)
                ax.hlines(s.mean, pos - 0.35 * width, pos + 0.35 * width, color="black", lw=2, zorder=4)
                if s.n > 1:
                    ax.vlines(pos, s.low, s.high, color="black", lw=1, zorder=4)
            if connect:
                wide = part.pivot_table(index=connect, columns=x, values=y, aggfunc="first").reindex(columns=xs)
                for _, row in wide.iterrows():
                    ax.plot(np.arange(len(xs)) + offset, row.to_numpy(dtype=float), color=colours[h], lw=0.6,
                            alpha=0.4, zorder=2)
        for (label, value), ls in zip((refs or {}).items(), ["--", ":", "-.", (0, (5, 1))] * 4):
            ax.axhline(value, color="grey", ls=ls, lw=1.2, label=label)
        ax.set_xticks(range(len(xs)), [str(v) for v in xs], rotation=20 if len(xs) > 4 else 0)
        ax.set_xlabel(x)
        if logy:
            ax.set_yscale("log")
        if panel is not None:
            ax.set_title(f"{col} = {panel}", fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    axes[0, 0].set_ylabel(ylabel or y)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_seed_curves(histories: Mapping[tuple[str, int], pd.DataFrame], panels: Mapping[str, str],
                     refs: Mapping[str, Mapping[str, float]] | None = None,
                     negate: Sequence[str] = ("loss",)) -> Figure:
    """Training curves of many runs, one thin line per seed, one colour per method, one panel per column.

    ``histories[(method, seed)]``: a ``fit`` history (``epoch`` and the columns of ``panels``); ``panels``:
    ``{column: panel title}``; a column in ``negate`` is drawn as ``-column`` (``-loss``: the objective as an MI
    value); ``refs``: ``{column: {label: value}}`` horizontal lines drawn on that column's panel.
    """
    methods = list(dict.fromkeys(m for m, _ in histories))
    colours = dict(zip(methods, sns.color_palette("colorblind", len(methods))))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.7), squeeze=False)
    for ax, (column, title) in zip(axes[0], panels.items()):
        for (method, seed), h in histories.items():
            if column not in h:
                raise ValueError(f"history of ({method!r}, {seed}) has no column {column!r}")
            y = -h[column] if column in negate else h[column]
            ax.plot(h["epoch"], y.replace([np.inf, -np.inf], np.nan), color=colours[method], lw=1, alpha=0.75,
                    label=method if seed == min(s for m, s in histories if m == method) else None)
        for (label, value), ls in zip((refs or {}).get(column, {}).items(), ["--", ":", "-.", (0, (5, 1))] * 4):
            ax.axhline(value, color="k" if ls == "--" else "grey", ls=ls, lw=1.2, label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("nats")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
