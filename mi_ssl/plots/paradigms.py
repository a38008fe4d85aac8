"""Figures of the two paradigms and of EMI (chapters 03, 06): the SDMI/JMI schematic, what one step moves, the
Gaussian MI against the true MI and against the data-processing ceiling."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = [
    "plot_paradigm_schematic", "plot_step_anatomy", "plot_gaussian_mi_checks", "plot_gaussian_vs_true_mi",
    "plot_objective_vs_ceiling",
]


def _box(ax, xy: tuple[float, float], text: str, color: str, w: float = 1.5, h: float = 0.62,
         fontsize: int = 9, alpha: float = 0.9) -> tuple[float, float]:
    from matplotlib.patches import FancyBboxPatch

    x, y = xy
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.04,rounding_size=0.12",
                                fc=color, ec="black", lw=1.0, alpha=alpha))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return x, y


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], color: str = "black", ls: str = "-",
           lw: float = 1.3, text: str | None = None, text_offset: tuple[float, float] = (0.0, 0.15),
           rad: float = 0.0, fontsize: int = 8) -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color=color, lw=lw, ls=ls,
                                                          shrinkA=2, shrinkB=2,
                                                          connectionstyle=f"arc3,rad={rad}"))
    if text:
        mx, my = (start[0] + end[0]) / 2 + text_offset[0], (start[1] + end[1]) / 2 + text_offset[1]
        ax.text(mx, my, text, ha="center", va="center", fontsize=fontsize, color=color)


def plot_paradigm_schematic() -> Figure:
    """Paper Fig. 1 redrawn: (a) SDMI, two encoders, E- and M-step with the stop-gradient; (b) JMI, one encoder.

    Solid black arrows: forward pass; dashed red: gradient; a grey bar across an arrow: stop-gradient.
    Drawn from boxes and arrows only (no data).
    """
    c_x, c_f, c_g, c_loss = "#f2f2f2", "#a6cee3", "#fdbf6f", "#b2df8a"
    red = "#d62728"
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [1, 1, 1]})

    def sdmi_panel(ax, step: str) -> None:
        trainable, frozen = (r"$f_\theta$", r"$g_\xi$") if step == "E" else (r"$g_\xi$", r"$f_\theta$")
        col_t, col_fr = (c_f, c_g) if step == "E" else (c_g, c_f)
        _box(ax, (0.9, 3.0), r"$x_1$", c_x, w=0.9)
        _box(ax, (0.9, 1.0), r"$x_2$", c_x, w=0.9)
        _box(ax, (3.0, 3.0), f"{trainable}\n(trained)", col_t)
        _box(ax, (3.0, 1.0), f"{frozen}\n(frozen)", col_fr, alpha=0.45)
        _box(ax, (5.3, 2.0), "cos-DV\nEq. 15", c_loss, w=1.4)
        for y in (3.0, 1.0):
            _arrow(ax, (1.35, y), (2.25, y))
        # forward into the loss; the frozen branch crosses a stop-gradient bar
        _arrow(ax, (3.75, 3.0), (4.6, 2.25))
        _arrow(ax, (3.75, 1.0), (4.6, 1.75))
        ax.plot([4.05, 4.35], [1.55, 1.15], color="grey", lw=5, solid_capstyle="butt")
        ax.text(4.45, 1.0, "SG", color="grey", fontsize=9, fontweight="bold")
        # gradient back into the trained encoder only
        _arrow(ax, (4.6, 2.5), (3.6, 3.4), color=red, ls="--", text=r"$\nabla$", text_offset=(0.15, 0.25), rad=0.25)
        moved, held = ("θ", "ξ") if step == "E" else ("ξ", "θ")
        ax.text(3.0, 4.05, f"{step}-step (Eq. {4 if step == 'E' else 5}): step on {moved}, {held} held fixed",
                ha="center", fontsize=9)
        ax.text(3.0, -0.05, "both views pass through both encoders;\nswapped view order in the symmetric loss",
                ha="center", fontsize=7.5, color="dimgrey")

    def jmi_panel(ax) -> None:
        _box(ax, (0.9, 3.0), r"$x_1$", c_x, w=0.9)
        _box(ax, (0.9, 1.0), r"$x_2$", c_x, w=0.9)
        _box(ax, (3.0, 2.0), "$f_\\theta$\n(shared,\ntrained)", c_f, h=1.1)
        _box(ax, (5.3, 2.0), "cos-DV\nEq. 15", c_loss, w=1.4)
        _arrow(ax, (1.35, 3.0), (2.25, 2.3))
        _arrow(ax, (1.35, 1.0), (2.25, 1.7))
        _arrow(ax, (3.75, 2.25), (4.6, 2.25), text=r"$z_1$", text_offset=(0.0, 0.18))
        _arrow(ax, (3.75, 1.75), (4.6, 1.75), text=r"$z_2$", text_offset=(0.0, -0.18))
        _arrow(ax, (4.6, 2.55), (3.4, 2.7), color=red, ls="--", text=r"$\nabla$ via $z_1$",
               text_offset=(0.1, 0.35), rad=0.3)
        _arrow(ax, (4.6, 1.45), (3.4, 1.3), color=red, ls="--", text=r"$\nabla$ via $z_2$",
               text_offset=(0.1, -0.35), rad=-0.3)
        ax.text(3.0, 4.05, "JMI (Eq. 10, Alg. 2): one joint step on θ", ha="center", fontsize=9)
        ax.text(3.0, -0.05, "no stop-gradient, no second encoder", ha="center", fontsize=7.5, color="dimgrey")

    sdmi_panel(axes[0], "E")
    sdmi_panel(axes[1], "M")
    jmi_panel(axes[2])
    for ax, title in zip(axes, ["(a) SDMI, E-step", "(a) SDMI, M-step", "(b) JMI"]):
        ax.set_xlim(0.2, 6.3)
        ax.set_ylim(-0.45, 4.3)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_step_anatomy(changes: pd.DataFrame, saved: pd.DataFrame | None = None) -> Figure:
    """Which tensors one optimiser step moved (chapter 03), and what each forward pass saved for backward.

    ``changes``: long table with columns ``step`` (e.g. ``"JMI joint"``, ``"SDMI E"``), ``tensor`` (state-dict
    name), ``rel_change`` (``||after - before|| / max(||before||, ||after||)``; exactly ``0`` = bit-identical) and
    ``kind`` (``"parameter"`` or ``"buffer"``); tensors a learner does not have are missing rows (drawn
    grey). ``saved``: optional table ``step, part, megabytes`` (bytes the autograd graph saved, by part).
    """
    from matplotlib.colors import LogNorm

    steps = list(dict.fromkeys(changes["step"]))
    tensors = list(dict.fromkeys(changes["tensor"]))
    grid = changes.pivot_table(index="tensor", columns="step", values="rel_change", aggfunc="first")
    grid = grid.reindex(index=tensors, columns=steps)
    kinds = changes.drop_duplicates("tensor").set_index("tensor")["kind"].reindex(tensors)
    ncols = 2 if saved is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.0 + 4.6 * (ncols - 1), 0.28 * len(tensors) + 1.6),
                             squeeze=False, gridspec_kw={"width_ratios": [1.3, 1][:ncols]})
    ax = axes[0, 0]
    vals = grid.to_numpy(dtype=float)
    positive = vals[np.isfinite(vals) & (vals > 0)]
    lo, hi = (positive.min(), positive.max()) if positive.size else (1e-8, 1.0)
    shown = np.where(vals > 0, vals, np.nan)
    ax.set_facecolor("#e8e8e8")
    im = ax.imshow(shown, aspect="auto", cmap="viridis", norm=LogNorm(vmin=max(lo, hi * 1e-8), vmax=hi))
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            if vals[i, j] == 0:
                ax.text(j, i, "0 (bit-identical)", ha="center", va="center", fontsize=6.5)
            elif not np.isfinite(vals[i, j]):
                ax.text(j, i, "—", ha="center", va="center", fontsize=7, color="grey")
    ax.set_xticks(range(len(steps)), steps, fontsize=8)
    ax.set_yticks(range(len(tensors)), [f"{t}{' (buffer)' if k == 'buffer' else ''}" for t, k in
                                        zip(tensors, kinds)], fontsize=6.5)
    ax.set_title("relative change of each tensor in one step", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.6)
    if saved is not None:
        ax = axes[0, 1]
        wide = saved.pivot_table(index="step", columns="part", values="megabytes", aggfunc="sum", fill_value=0.0)
        wide = wide.reindex(list(dict.fromkeys(saved["step"])))
        wide.plot.barh(stacked=True, ax=ax, color=sns.color_palette("Set2", wide.shape[1]))
        ax.invert_yaxis()
        ax.set_xlabel("tensors saved for backward (MB)")
        ax.set_ylabel("")
        ax.legend(fontsize=7, title="saved by", title_fontsize=7)
        ax.set_title("autograd graph of one loss evaluation", fontsize=9)
    fig.tight_layout()
    return fig


def plot_gaussian_mi_checks(bias: pd.DataFrame, ridge: pd.DataFrame) -> Figure:
    """The Gaussian (EMI) estimator on correlated Gaussians (chapter 06).

    Left: mean error (estimate - true MI) against the batch size ``n``, one line per ``rho``, bands one
    standard deviation; dashed: the large-``N`` bias ``d^2/(2N)`` at ``rho = 0`` (column ``wilks``).
    ``bias`` columns: ``rho, n, mean_error, sd_error, wilks``. Right: the estimate against the ridge
    ``eps`` (``ridge`` columns ``eps, estimate, truth``), log x-axis with ``eps = 0`` drawn at the left edge.
    """
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8))
    pal = sns.color_palette("viridis", bias["rho"].nunique())
    for colour, (rho, sub) in zip(pal, bias.groupby("rho")):
        sub = sub.sort_values("n")
        a1.plot(sub["n"], sub["mean_error"], "o-", color=colour, label=f"ρ = {rho:g}")
        a1.fill_between(sub["n"], sub["mean_error"] - sub["sd_error"], sub["mean_error"] + sub["sd_error"],
                        color=colour, alpha=0.12)
    w = bias.drop_duplicates("n").sort_values("n")
    a1.plot(w["n"], w["wilks"], "k--", lw=1, label="d²/(2N)")
    a1.axhline(0, color="grey", lw=0.8)
    a1.set_xscale("log")
    a1.set_xlabel("batch size N")
    a1.set_ylabel("estimate − true MI (nats)")
    a1.set_title("bias and spread of the plug-in Gaussian MI (ε = 0)", fontsize=10)
    a1.legend(fontsize=7)
    r = ridge.sort_values("eps")
    pos = r[r["eps"] > 0]
    x_zero = pos["eps"].min() / 10 if len(pos) else 1e-6
    xs = np.where(r["eps"] > 0, r["eps"], x_zero)
    a2.plot(xs, r["estimate"], "o-", label="estimate")
    a2.axhline(float(r["truth"].iloc[0]), color="k", ls="--", lw=1, label="true MI")
    a2.set_xscale("log")
    a2.set_xticks(list(xs), ["0"] + [f"{e:g}" for e in pos["eps"]] if (r["eps"] == 0).any()
                  else [f"{e:g}" for e in pos["eps"]], fontsize=8)
    a2.set_xlabel("ridge ε")
    a2.set_ylabel("nats")
    a2.set_title("the ridge only lowers the estimate", fontsize=10)
    a2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_gaussian_vs_true_mi(df: pd.DataFrame) -> Figure:
    """Gaussian (second-moment) MI estimate next to the true MI, one pair of bars per case (chapter 06).

    ``df`` columns: ``case``, ``gaussian`` (the estimate), ``truth`` (true MI, or an upper bound on it) and
    ``truth_kind`` (``"exact"`` or ``"upper bound"``, shown hatched).
    """
    x = np.arange(len(df))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.15 * len(df)), 3.8))
    ax.bar(x - 0.2, df["gaussian"], 0.4, color="#0173b2")
    hatches = ["//" if k != "exact" else "" for k in df["truth_kind"]]
    for xi, t, h in zip(x, df["truth"], hatches):
        ax.bar(xi + 0.2, t, 0.4, color="#de8f05", hatch=h, edgecolor="black", lw=0.5)
    from matplotlib.patches import Patch

    handles = [Patch(color="#0173b2", label="Gaussian estimate (EMI)"),
               Patch(facecolor="#de8f05", edgecolor="black", lw=0.5, label="true MI"),
               Patch(facecolor="#de8f05", edgecolor="black", lw=0.5, hatch="//", label="upper bound on the true MI")]
    ax.set_xticks(x, df["case"], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("nats")
    ax.legend(handles=handles, fontsize=8)
    fig.tight_layout()
    return fig


def plot_objective_vs_ceiling(histories: Mapping[str, pd.DataFrame], ceilings: Mapping[str, float]) -> Figure:
    """Each run's training objective as an MI value (``-loss`` per epoch) against horizontal reference lines.

    ``histories[name]`` is a ``fit`` history (columns ``epoch``, ``loss``); for an objective that is an MI
    estimate (EMI: ``loss = -I_Gaussian``), ``-loss`` is what the method reports as the MI.
    ``ceilings``: ``{label: value}`` drawn as horizontal lines (e.g. a data-processing ceiling on the true MI).
    """
    fig, ax = plt.subplots(figsize=(6.2, 3.6))
    for name, h in histories.items():
        ax.plot(h["epoch"], -h["loss"], lw=1.5, label=f"{name}: −loss")
    for (label, value), ls in zip(ceilings.items(), ["--", ":", "-.", (0, (5, 1))] * 4):
        ax.axhline(value, color="k" if ls == "--" else "grey", ls=ls, lw=1.2, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
