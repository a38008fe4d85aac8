"""Figures of the theory chapters (01, 02): bounds against the true MI, the channel, block-coordinate ascent,
cumulants, the dot critic's MGF, the variance decomposition, the surrogate landscape, non-Gaussian families."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = [
    "BOUND_LABELS", "plot_bounds_vs_mi", "plot_channel", "plot_ascent", "plot_cumulants", "plot_dot_mgf",
    "plot_variance_decomposition", "plot_surrogate_landscape", "plot_family_study",
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
