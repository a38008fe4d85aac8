"""The Table 1 analogue read for the book (chapter 07): the facts its text quotes and its claim record.

:func:`evidence` reads a :func:`mi_ssl.probing.probe_grid` frame and its :func:`~mi_ssl.probing.gain_table`
for the paper's Table 1 pattern (:func:`~mi_ssl.probing.table1_pattern`), the floor-to-ceiling window and the
distance of every method to the ceiling, all paired over the seeds (:func:`mi_ssl.stats.paired`), and puts
every number the chapter glues into one mapping. :func:`claims` turns that into the chapter's
:class:`~mi_ssl.claims.Claim` rows, each verdict read off the paired intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import paper, stats
from .claims import Claim, verdict_from
from .methods import get_method
from .probing import CEILING, FLOOR, table1_pattern

__all__ = ["Table1Evidence", "evidence", "claims"]


def _title(method: str | None) -> str:
    return get_method(method).title if method else "-"


@dataclass(frozen=True)
class Table1Evidence:
    """What chapter 07 reads off one probe grid.

    ``pattern`` is :func:`~mi_ssl.probing.table1_pattern`; ``window`` the ceiling minus the floor, paired by seed
    (None without a ceiling); ``to_ceiling`` the upper end of each SSL row's paired interval to the ceiling;
    ``simsiam`` SimSiam's row of the gain table (None when not run); ``paper_cifar`` the paper's CIFAR-10 top-1
    (encoder f) by method; ``facts`` every number and phrase the chapter glues, by glue name.
    """

    pattern: dict[str, Any]
    window: stats.Paired | None
    to_ceiling: list[float]
    simsiam: pd.Series | None
    paper_cifar: pd.Series
    facts: dict[str, Any]


def evidence(grid: pd.DataFrame, gains: pd.DataFrame) -> Table1Evidence:
    """Read ``grid`` (one row per method, encoder and seed; the floor and, if run, the ceiling among them) and
    ``gains`` (its gain table) for the chapter: the Table 1 pattern, the window, and the glued facts."""
    pat = table1_pattern(grid)
    wide = grid.pivot_table(index="seed", columns=["method", "encoder"], values="top1")
    ssl = gains[gains.paradigm != "baseline"]
    has_ceiling = (CEILING, "f") in wide.columns
    window = stats.paired(wide[CEILING, "f"], wide[FLOOR, "f"]) if has_ceiling else None
    to_ceiling = ([stats.paired(wide[k], wide[CEILING, "f"]).high for k in zip(ssl.method, ssl.encoder)]
                  if has_ceiling else [])
    side = ssl.vs_floor.map(lambda v: "ahead" if ">" in v else "behind" if "<" in v else "tie").value_counts()
    tp = paper.table1()
    best_paper = tp.loc[tp.groupby("dataset", sort=False).top1.idxmax()]
    cifar = tp[(tp.dataset == "cifar10") & (tp.encoder == "f")].set_index("method").top1
    proto_vs = pat.get("vs_established", {})
    by_row = gains.set_index(["method", "encoder"])
    simsiam = by_row.loc[("simsiam", "f")] if ("simsiam", "f") in by_row.index else None
    facts = dict(
        window=str(window), n_ahead=int(side.get("ahead", 0)), n_tie=int(side.get("tie", 0)),
        n_behind=int(side.get("behind", 0)), n_rows=len(ssl), best=_title(pat["best"]),
        runner_up=_title(pat["runner_up"]), best_vs_runner_up=str(pat["best_vs"].get(pat["runner_up"], "-")),
        n_best_ahead=sum(p.low > 0 for p in pat["best_vs"].values()), n_others=len(pat["best_vs"]),
        best_sdmi=_title(pat["paradigm_best"].get("SDMI")), best_jmi=_title(pat["paradigm_best"].get("JMI")),
        paradigms=str(pat.get("paradigms", "-")), sdmi_vs_field=str(proto_vs.get("sdmi", "-")),
        jmi_vs_field=str(proto_vs.get("jmi", "-")),
        paper_best=", ".join(f"{_title(m)} ({d})" for m, d in zip(best_paper.method, best_paper.dataset)),
        paper_sdmi_c10=float(cifar["sdmi"]), paper_jmi_c10=float(cifar["jmi"]), paper_c10_lo=float(cifar.min()),
        paper_c10_hi=float(cifar.max()),
        simsiam_gain="-" if simsiam is None else
        f"{simsiam.gain:+.1f} [{simsiam.gain_low:+.1f}, {simsiam.gain_high:+.1f}]")
    return Table1Evidence(pat, window, to_ceiling, simsiam, cifar, facts)


def claims(ev: Table1Evidence, setting: str, seeds: Sequence[int], n_recorded: int,
           anchor: str = "probe-claims") -> list[Claim]:
    """Chapter 07's claim record: Table 1's pattern (no single best, both paradigms competitive, the prototypes
    competitive with the established methods) under ``setting`` on ``seeds``, and the paper-scale accuracies,
    not testable here (``n_recorded`` recorded paper-scale runs with an accuracy are listed, not compared).

    Verdicts: "no single best" holds unless one method is ahead of every other with its paired interval above 0;
    "both paradigms" holds when best SDMI - best JMI is a tie; "prototypes" holds unless a prototype's interval
    to the per-seed median of the established methods lies below 0.
    """
    pat, f, cifar, seeds = ev.pattern, ev.facts, ev.paper_cifar, tuple(seeds)
    proto_vs = pat.get("vs_established", {})
    c10 = ", ".join(f"{_title(m)} {cifar[m]:.2f}" for m in cifar.index)
    return [
        Claim("table1_no_single_best", "No single method outperforms all others (Table 1 pattern)",
              f"best per data set differs: {f['paper_best']} (Table 1)",
              f"best mean {f['best']}; vs runner-up {f['runner_up']}: {f['best_vs_runner_up']}",
              verdict_from(not pat["single_best"]), setting, anchor, seeds),
        Claim("table1_paradigms", "Both paradigms (SDMI and JMI) are competitive (Table 1 pattern)",
              f"CIFAR-10 (Table 1): {c10}",
              f"best SDMI ({f['best_sdmi']}) - best JMI ({f['best_jmi']}): {f['paradigms']}",
              "not testable here" if "paradigms" not in pat else
              verdict_from(stats.verdict(pat["paradigms"]) == "tie"), setting, anchor, seeds),
        Claim("table1_prototypes", "The SDMI and JMI prototypes are competitive with established methods",
              f"SDMI {cifar['sdmi']:.2f}, JMI {cifar['jmi']:.2f} vs {cifar.min():.2f}-{cifar.max():.2f} on CIFAR-10 "
              "(Table 1)",
              f"vs the per-seed median of the established methods: SDMI {f['sdmi_vs_field']}; JMI {f['jmi_vs_field']}",
              "not testable here" if not proto_vs else
              verdict_from(all(stats.verdict(p) != "a < b" for p in proto_vs.values())),
              setting, anchor, seeds),
        Claim("table1_image_scale", "Table 1's accuracies on CIFAR-10/100, TinyImageNet, ImageNet-100",
              "e.g. SDMI (f) {:.2f} ± {:.2f} % on CIFAR-10 (Table 1)".format(*paper.TABLE1["sdmi", "f"][0]),
              f"{n_recorded} recorded paper-scale run(s) with an accuracy (listed, not compared)", "not testable here",
              "needs a GPU: papermill book/07_linear_probing.ipynb out.ipynb -p dataset cifar10 -p data_dir DIR "
              "-p device cuda -p profile paper -p epochs 1000 -p seeds '[0, 1, 2]'", "probe-paper-scale", ()),
    ]
