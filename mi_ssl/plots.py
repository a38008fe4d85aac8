"""The book's figures (matplotlib + seaborn). Each function draws one figure and returns it.

Functions take the tables produced by :mod:`mi_ssl.theory` (and, later, by training runs) and never
compute anything expensive themselves. Nothing in the package imports this module; the book does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = [
    "BOUND_LABELS",
    "plot_bounds_vs_mi",
    "plot_channel",
    "plot_ascent",
    "plot_cumulants",
    "plot_dot_mgf",
    "plot_variance_decomposition",
    "plot_surrogate_landscape",
    "plot_family_study",
    "plot_centre_trajectories",
    "plot_centres_at_epochs",
    "plot_nn_gaps",
    "plot_mi_curves",
    "plot_paradigm_schematic",
    "plot_step_anatomy",
    "plot_gaussian_mi_checks",
    "plot_gaussian_vs_true_mi",
    "plot_objective_vs_ceiling",
]

BOUND_LABELS = {"dv": "DV", "nwj": "NWJ (T+1)", "infonce": "InfoNCE", "jsd": "JSD objective"}
# seaborn's "colorblind" palette, entries 0, 1, 2, 4
_BOUND_COLORS = dict(zip(BOUND_LABELS, ["#0173b2", "#de8f05", "#029e73", "#cc78bc"]))


def plot_bounds_vs_mi(df: pd.DataFrame, tau: float | None = None, y_max: float | None = None) -> Figure:
    """Estimates against the true MI: rows = critic, columns = batch size ``N`` (chapter 01).

    ``df`` is the long table of :func:`mi_ssl.theory.bound_sweep`. Lines: mean over batches, bands:
    one standard deviation. Dashed black: the truth (``y = x``); dotted: ``log N`` (the InfoNCE ceiling);
    dash-dotted: ``2/tau`` (the ceiling of any DV value of the cosine critic), if ``tau`` is given.
    """
    critics = list(dict.fromkeys(df.critic))
    sizes = sorted(df.n.unique())
    fig, axes = plt.subplots(len(critics), len(sizes), figsize=(3.6 * len(sizes), 3.2 * len(critics)),
                             sharex=True, sharey="row", squeeze=False)
    mi = np.array(sorted(df.true_mi.unique()))
    y_max = y_max if y_max is not None else float(mi.max()) + 1.0
    for r, critic in enumerate(critics):
        for c, n in enumerate(sizes):
            ax = axes[r, c]
            sub = df[(df.critic == critic) & (df.n == n)]
            stats = sub.groupby(["bound", "true_mi"]).estimate.agg(["mean", "std"]).reset_index()
            for bound, label in BOUND_LABELS.items():
                s = stats[stats.bound == bound]
                if s.empty:
                    continue
                ax.plot(s.true_mi, s["mean"], marker="o", ms=3, color=_BOUND_COLORS[bound], label=label)
                ax.fill_between(s.true_mi, s["mean"] - s["std"], s["mean"] + s["std"],
                                color=_BOUND_COLORS[bound], alpha=0.15)
            ax.plot(mi, mi, "k--", lw=1, label="true MI")
            ax.axhline(math.log(n), color="grey", ls=":", lw=1.5, label="log N")
            if tau is not None and critic == "cosine":
                ax.axhline(2 / tau, color="grey", ls="-.", lw=1, label="2/tau")
            ax.set_ylim(-2.0, y_max)
            ax.set_title(f"{critic} critic, N = {n}")
            if r == len(critics) - 1:
                ax.set_xlabel("true MI (nats)")
            if c == 0:
                ax.set_ylabel("estimate (nats)")
    axes[0, -1].legend(loc="upper left", fontsize=8)
    fig.suptitle("MI estimators against the closed-form MI of correlated Gaussians")
    fig.tight_layout()
    return fig


def plot_channel(df: pd.DataFrame) -> Figure:
    """Gaussian channel (paper Eq. 29): ``I(x; z_1)``, ``I(x; z_2)``, ``I(z_1; z_2)`` and its DV estimate."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(df.noise_std, df.i_x_z1, "o-", label="I(x; z1)")
    ax.plot(df.noise_std, df.i_x_z2, "s-", label="I(x; z2)")
    ax.plot(df.noise_std, df.i_z1_z2, "k^-", label="I(z1; z2) (closed form)")
    ax.errorbar(df.noise_std, df.dv_mean, yerr=df.dv_std, fmt="none", ecolor="C3", capsize=3,
                label="DV estimate, optimal critic (mean ± sd)")
    ax.set_xscale("log")
    ax.set_xticks(list(df.noise_std), [f"{v:g}" for v in df.noise_std])
    ax.minorticks_off()
    ax.set_xlabel("noise std of view 1 (signal std 1)")
    ax.set_ylabel("mutual information (nats)")
    ax.set_title("Data processing: view MI ≤ input MI (Eq. 29)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_ascent(traces: Mapping[str, object], ceiling: float | None = None) -> Figure:
    """DV objective along gradient ascent (chapter 01, Proposition 3.1).

    ``traces``: label -> :class:`mi_ssl.theory.AscentTrace`. The x-axis counts iterations; an alternating
    iteration has two half-steps, drawn at ``k + 1/2`` and ``k + 1``. If a trace has a monitor (the true
    MI of the representations), it is drawn dotted in the same colour. ``ceiling``: ``I(x_1; x_2)``.
    """
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (label, t) in enumerate(traces.items()):
        step = 0.5 if t.mode == "alternating" else 1.0
        x = np.arange(len(t.objective)) * step
        ax.plot(x, t.objective, color=f"C{i}", lw=1.5, label=f"{label}: DV objective")
        if len(t.monitor):
            ax.plot(x, t.monitor, color=f"C{i}", lw=1, ls=":", label=f"{label}: true I(z_A; z_B)")
    if ceiling is not None:
        ax.axhline(ceiling, color="k", ls="--", lw=1, label="I(x1; x2)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("nats")
    ax.set_title("DV objective under alternating (SDMI) and joint updates")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_cumulants(df: pd.DataFrame) -> Figure:
    """Left: ``K(1)`` and its expansions (Eq. 23, weight 1/2; Eq. 11, weight 1) against ``1/tau``.

    Right: ``|R_2(1)|`` and the bound ``L^3/24`` (log scale). ``df`` from
    :func:`mi_ssl.theory.cumulant_study`.
    """
    inv = 1 / df.tau
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(inv, df.k1, "ko-", label="K(1) = log E e^T (exact)")
    a.plot(inv, df.expansion_half, "s--", label="E T + Var T / 2 (Eq. 23)")
    a.plot(inv, df.expansion_one, "^--", label="E T + Var T (Eq. 11, ½ dropped)")
    a.set_xlabel("1 / tau")
    a.set_ylabel("nats")
    a.set_title("DV marginal term of cos/tau and its expansions")
    a.legend(fontsize=8)
    b.semilogy(inv, df.remainder.abs(), "ko-", label="|R_2(1)| measured")
    b.semilogy(inv, df.remainder_bound, "r--", label="bound (b - a)^3 / 24")
    b.set_xlabel("1 / tau")
    b.set_ylabel("nats (log scale)")
    b.set_title("Remainder of the second-order expansion")
    b.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_dot_mgf(batch_sizes: Sequence[int], estimates: Mapping[float, Sequence[float]],
                 exact: Mapping[float, float], expansion: Mapping[float, float]) -> Figure:
    """Batch estimates of ``K(1)`` for the dot critic ``z_A . z_B / scale`` against ``N``, with the closed
    form (solid, absent when infinite) and the second-order expansion (dashed) for each scale."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, (scale, est) in enumerate(estimates.items()):
        ax.plot(batch_sizes, est, "o-", color=f"C{i}", label=f"scale {scale:g}: batch estimate")
        if math.isfinite(exact[scale]):
            ax.axhline(exact[scale], color=f"C{i}", lw=1)
        ax.axhline(expansion[scale], color=f"C{i}", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_xticks(list(batch_sizes), [str(n) for n in batch_sizes])
    ax.minorticks_off()
    ax.set_xlabel("batch size N (N(N-1) marginal pairs)")
    ax.set_ylabel("K(1) (nats)")
    ax.set_title("Dot critic on standardised Gaussian features\n(solid: exact; dashed: expansion; "
                 "scale 1: exact is +inf)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_variance_decomposition(cases: Mapping[str, Mapping[str, float]]) -> Figure:
    """Off-diagonal part of ``Var[sum_i z_i^A z_i^B]`` measured under the joint and the product of marginals,
    next to the candidate formulas, for each case (chapter 02)."""
    keys = {
        "joint_offdiag": "measured, joint",
        "cross_offdiag": "Σ C_ij C_ji",
        "marginal_offdiag": "measured, product of marginals",
        "within_offdiag": "Σ (S_A)_ij (S_B)_ij",
        "bt_offdiag": "Σ C_ij² (paper, Eq. 28)",
    }
    rows = [{"case": case, "quantity": label, "value": vals[k]} for case, vals in cases.items()
            for k, label in keys.items()]
    fig, ax = plt.subplots(figsize=(9, 4))
    sns.barplot(pd.DataFrame(rows), x="case", y="value", hue="quantity", ax=ax, palette="colorblind")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("sum over i ≠ j")
    ax.set_xlabel("")
    ax.set_title("Off-diagonal covariances of z_i^A z_i^B: which formula matches which distribution?")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_surrogate_landscape(df: pd.DataFrame) -> Figure:
    """Population values along the two families of :func:`mi_ssl.theory.surrogate_landscape`.

    Top: true MI, exact DV of the dot critic and its Taylor surrogate (higher is better).
    Bottom: the losses of Eq. 13 (left axis) and Barlow Twins (right axis; lower is better).
    """
    fams = list(dict.fromkeys(df.family))
    fig, axes = plt.subplots(2, len(fams), figsize=(5 * len(fams), 6.5), squeeze=False)
    xlabel = {"rotation": "rotation of C away from the diagonal", "within": "within-view correlation"}
    for c, fam in enumerate(fams):
        s = df[df.family == fam]
        ax = axes[0, c]
        ax.plot(s.param, s.true_mi, "k-o", label="true MI")
        ax.plot(s.param, s.dv_dot, "C0-s", label="DV, dot critic (exact)")
        ax.plot(s.param, s.taylor_dv, "C1--^", label="Taylor-DV (Eq. 24)")
        ax.set_title(f"{fam} family: bounds (nats)")
        ax.legend(fontsize=8)
        ax = axes[1, c]
        ax.plot(s.param, s.paper_eq13, "C2-o", label="paper Eq. 13 (left axis)")
        ax.set_ylabel("Eq. 13 loss", color="C2")
        bt = ax.twinx()
        bt.plot(s.param, s.bt_loss, "C3-s", label="Barlow Twins loss (right axis)")
        bt.set_ylabel("Barlow Twins loss", color="C3")
        ax.set_xlabel(xlabel.get(fam, fam))
        ax.set_title(f"{fam} family: losses")
        handles = ax.get_legend_handles_labels()[0] + bt.get_legend_handles_labels()[0]
        ax.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_family_study(df: pd.DataFrame) -> Figure:
    """Relative errors of each approximation step per representation family (chapter 02, beyond Gaussian)."""
    cols = {
        "isserlis_rel_err": "Isserlis: joint Var[T]",
        "marginal_rel_err": "tr(S_A S_B): product Var[T]",
        "cos_expansion_rel_err": "Eq. 23, cos/tau critic",
        "dot_expansion_rel_err": "Eq. 23, dot critic",
    }
    long = df.melt(id_vars="family", value_vars=list(cols), var_name="step", value_name="relative error")
    long["step"] = long.step.map(cols)
    fig, ax = plt.subplots(figsize=(9, 4))
    sns.barplot(long, x="family", y="relative error", hue="step", ax=ax, palette="colorblind")
    ax.set_title("Relative error of each approximation step, by representation family")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- toy Gaussian and MI tracking
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
            grp = grp.sort_values("epoch")
            pts = grp[["x", "y", "z"]].to_numpy()
            for j in range(1, len(pts)):
                ax.plot(*pts[j - 1:j + 1].T, color=palette[k], alpha=0.15 + 0.85 * j / len(pts), lw=1.2)
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


# ----------------------------------------------------------------------------- two paradigms and EMI (03, 06)
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


# =========================================================================== benchmark figures (book chapter 09)
__all__ += ["plot_bench_throughput", "plot_kernel_times"]


def plot_bench_throughput(long: pd.DataFrame, where: str = "") -> Figure:
    """Images per second of one pre-training step per method, one bar per data pipeline, log scale (chapter 09).

    ``long`` has columns ``method``, ``pipeline``, ``images/s`` (:func:`mi_ssl.bench.appendix.throughput_long`);
    ``where`` names the device in the title.
    """
    fig, ax = plt.subplots(figsize=(10, 4))
    sns.barplot(data=long, x="method", y="images/s", hue="pipeline", ax=ax, palette="colorblind")
    ax.set_yscale("log")
    ax.set_title("Images per second of one pre-training step, by data pipeline" + (f" — {where}" if where else ""))
    ax.set_xlabel("")
    ax.tick_params(axis="x", rotation=30)
    ax.legend(title="", fontsize=8)
    fig.tight_layout()
    return fig


def plot_kernel_times(frame: pd.DataFrame, floor: str = "floor", target: float | None = None) -> Figure:
    """N x N objectives against the bare N x N floor (chapter 09): forward + backward milliseconds against ``N``
    (left, log-log; the floor dashed black) and each kernel's time over the floor's (right, log ``N``; the
    floor is 1, ``target`` a dotted line where given).

    ``frame`` has columns ``kernel``, ``N``, ``ms``, ``x floor`` (:func:`mi_ssl.bench.appendix.kernel_frame`).
    """
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.4))
    names = [k for k in dict.fromkeys(frame.kernel) if k != floor]
    colors = dict(zip(names, sns.color_palette("colorblind", len(names))))
    base = frame[frame.kernel == floor].sort_values("N")
    ax.plot(base.N, base.ms, "k--", lw=2, marker="o", label=f"{floor}: (za @ zb.T).exp().sum()")
    for name in names:
        sub = frame[frame.kernel == name].sort_values("N")
        ax.plot(sub.N, sub.ms, marker=".", color=colors[name], label=name)
        bx.plot(sub.N, sub["x floor"], marker=".", color=colors[name], label=name)
    bx.axhline(1.0, color="k", ls="--", lw=1.5, label=floor)
    if target is not None:
        bx.axhline(target, color="grey", ls=":", lw=1.5, label=f"target {target:g}x floor")
    ax.set(xscale="log", yscale="log", xlabel="batch size N", ylabel="forward + backward, ms (median)")
    bx.set(xscale="log", yscale="log", xlabel="batch size N", ylabel="time / floor's time")
    sizes = sorted(frame.N.unique())
    for a in (ax, bx):
        a.set_xticks(sizes, [f"{n:,}" for n in sizes])
        a.minorticks_off()
    ax.set_title("Time against N")
    bx.set_title("Ratio to the bare N x N floor")
    bx.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


# =========================================================================== per-seed figures (chapters 01-03, 06)
__all__ += ["plot_seed_points", "plot_seed_curves"]


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
    from .stats import summarize

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


def glue_figure(name: str, fig: Figure) -> Figure:
    """Store ``fig`` for the book under ``name`` (``myst_nb.glue``, not displayed in place) and close it.

    A chapter then shows it, numbered and captioned, with a ``{glue:figure}`` directive (``:name:`` for
    ``{numref}``); closing keeps the inline backend from drawing it a second time under the code cell.
    """
    from myst_nb import glue

    glue(name, fig, display=False)
    plt.close(fig)
    return fig


__all__ += ["glue_figure"]


def glue_values(**values: object) -> None:
    """Store numbers and text for ``{glue:text}`` (``myst_nb.glue``, not displayed): ``glue_values(gap=1.5)``.

    NumPy scalars become Python numbers first: ``{glue:text}`` reads the stored ``repr``, and ``np.float64(1.5)``
    would not take a format spec such as ``:.2f``.
    """
    from myst_nb import glue

    for name, value in values.items():
        glue(name, value.item() if isinstance(value, np.generic) else value, display=False)


__all__ += ["glue_values"]


# =========================================================================== probes over seeds (chapters 07, 08)
__all__ += ["plot_probe_seeds", "plot_ablation_seeds", "plot_budget"]

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
    from .stats import summarize

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


# =========================================================================== the toy experiment over seeds (04, 05)
__all__ += ["plot_seed_gaps", "plot_sensitivity", "plot_mi_bands", "plot_monotonicity"]


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
