"""Figures of the performance appendix (chapter 09): throughput per data pipeline, N x N kernel times."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = ["plot_bench_throughput", "plot_kernel_times"]


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
    """N x N objectives against the plain N x N floor (chapter 09): forward + backward milliseconds against ``N``
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
    bx.set_title("Ratio to the plain N x N floor")
    bx.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig
