"""The ablations of paper Section 4.3 / Figure 4 read for the book (chapter 08): collapse, recovery, verdicts.

A :func:`mi_ssl.probing.probe_grid` frame of the variants (one row per method, encoder and seed, with
``top1`` (probe on h), ``z_top1`` (probe on z), ``effective_rank`` of z and ``std_ratio``) is read by
:func:`evidence` for every paired comparison the chapter quotes and for the four verdicts of Figure 4:

* **collapse** of a variant against its parent: its mean effective rank is below half the parent's, with the
  paired interval of the rank difference below 0, on every encoder asked for;
* **recovery** of SDMI-NoDV-Pred: its probe on h is not behind SDMI's (interval high end above 0) and its rank
  is at least half SDMI's, on both encoders; SimSiam-SDMI recovers when it is ahead of SimSiam and of
  SimSiam-NoPred on the probe and has the larger rank.

:func:`budget_recovery` asks the recovery question again at longer training budgets; :func:`claims` writes the
chapter's claim record from both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from . import paper, stats
from .claims import Claim, verdict_from

__all__ = ["FAMILIES", "AblationEvidence", "BudgetRecovery", "evidence", "budget_recovery", "claims"]

#: The two ablation families of Figure 4: (a) the SDMI prototype, (b) SimSiam; the parent first in each.
FAMILIES: Mapping[str, tuple[str, ...]] = {"(a) SDMI prototype": ("sdmi", "sdmi_nodv", "sdmi_nodv_pred"),
                                           "(b) SimSiam": ("simsiam", "simsiam_nopred", "simsiam_sdmi")}

_METRICS = ("top1", "z_top1", "effective_rank")
_PAIRS_A = (("sdmi_nodv", "sdmi"), ("sdmi_nodv_pred", "sdmi"), ("sdmi_nodv_pred", "sdmi_nodv"))
_PAIRS_B = (("simsiam_nopred", "simsiam"), ("simsiam_nopred", "simsiam_sdmi"), ("simsiam_sdmi", "simsiam"))


def _recovers(probe: stats.Paired, rank_ratio: float) -> bool:
    """The recovery criterion: the probe on h is not behind the parent's (interval high end above 0) and the
    effective rank is at least half the parent's."""
    return probe.high > 0 and rank_ratio >= 0.5


@dataclass(frozen=True)
class AblationEvidence:
    """What chapter 08 reads off one grid.

    ``paired`` maps ``"{metric}_{a}_{b}_{encoder}"`` to :class:`mi_ssl.stats.Paired` (``a - b`` by seed);
    ``ranks`` maps ``"rank_{method}_{encoder}"`` to the mean effective rank; ``verdicts`` holds the four
    booleans ``nodv_collapses``, ``nodv_pred_recovers``, ``nopred_collapses``, ``ss_sdmi_recovers``;
    ``std_min`` is the smallest ``std_ratio`` of any variant.
    """

    paired: dict[str, stats.Paired]
    ranks: dict[str, float]
    verdicts: dict[str, bool]
    std_min: float

    def rank(self, method: str, encoder: str = "f") -> float:
        """Mean effective rank of ``method``'s ``encoder`` over the seeds."""
        return self.ranks[f"rank_{method}_{encoder}"]

    def facts(self) -> dict[str, object]:
        """Every number the chapter glues: the paired comparisons as text, the ranks, the std floor and the
        paper's SimSiam-SDMI minus SimSiam gap (Section 4.3)."""
        ss = paper.SIMSIAM_ABLATION
        return {**{k: str(p) for k, p in self.paired.items()}, **self.ranks, "std_min": self.std_min,
                "paper_ss_gap": ss["simsiam_sdmi"][0] - ss["simsiam"][0]}


def evidence(grid: pd.DataFrame) -> AblationEvidence:
    """The paired comparisons, ranks and verdicts of the variants in ``grid`` (see the module docstring)."""
    wide = {c: grid.pivot_table(index="seed", columns=["method", "encoder"], values=c) for c in _METRICS}

    def pair(c: str, a: str, b: str, e: str = "f") -> stats.Paired:
        return stats.paired(wide[c][a, e], wide[c][b, e])

    paired = {f"{c}_{a}_{b}_{e}": pair(c, a, b, e) for c in _METRICS for e in ("f", "g") for a, b in _PAIRS_A}
    paired.update({f"{c}_{a}_{b}_f": pair(c, a, b) for c in _METRICS for a, b in _PAIRS_B})
    ranks = {f"rank_{m}_{e}": float(wide["effective_rank"][m, e].mean())
             for m, e in dict.fromkeys(zip(grid.method, grid.encoder)) if m != "random init"}
    rank = lambda m, e="f": ranks[f"rank_{m}_{e}"]  # noqa: E731

    def collapsed(m: str, parent: str, encoders: str) -> bool:
        return all(rank(m, e) < 0.5 * rank(parent, e) and paired[f"effective_rank_{m}_{parent}_{e}"].high < 0
                   for e in encoders)

    verdicts = {
        "nodv_collapses": collapsed("sdmi_nodv", "sdmi", "fg"),
        "nodv_pred_recovers": all(_recovers(paired[f"top1_sdmi_nodv_pred_sdmi_{e}"],
                                            rank("sdmi_nodv_pred", e) / rank("sdmi", e)) for e in "fg"),
        "nopred_collapses": collapsed("simsiam_nopred", "simsiam", "f"),
        "ss_sdmi_recovers": (paired["top1_simsiam_sdmi_simsiam_f"].high > 0
                             and paired["top1_simsiam_nopred_simsiam_sdmi_f"].high < 0
                             and rank("simsiam_sdmi") > rank("simsiam")),
    }
    variants = [m for ms in FAMILIES.values() for m in ms]
    return AblationEvidence(paired, ranks, verdicts, float(grid[grid.method.isin(variants)].std_ratio.min()))


@dataclass(frozen=True)
class BudgetRecovery:
    """SDMI-NoDV-Pred against SDMI at each training budget: ``per_budget[epochs][encoder] = (Paired probe-on-h
    difference, rank ratio)``, ``recovered[epochs]`` (both encoders recover) and ``text`` (one sentence each)."""

    per_budget: dict[int, dict[str, tuple[stats.Paired, float]]]
    recovered: dict[int, bool]
    text: str


def budget_recovery(budget: pd.DataFrame, epochs: Sequence[int]) -> BudgetRecovery:
    """Ask the recovery question of SDMI-NoDV-Pred at every budget in ``epochs`` (``budget`` stacks the grids
    of those budgets, with a ``train_epochs`` column); the criterion is :func:`evidence`'s."""
    per: dict[int, dict[str, tuple[stats.Paired, float]]] = {}
    for e in epochs:
        b = {c: budget[budget.train_epochs == e].pivot_table(index="seed", columns=["method", "encoder"], values=c)
             for c in ("top1", "effective_rank")}
        rank = b["effective_rank"]
        per[e] = {enc: (stats.paired(b["top1"]["sdmi_nodv_pred", enc], b["top1"]["sdmi", enc]),
                        float(rank["sdmi_nodv_pred", enc].mean() / rank["sdmi", enc].mean())) for enc in "fg"}
    recovered = {e: all(_recovers(p, r) for p, r in v.values()) for e, v in per.items()}
    text = "; ".join(f"at {e} epochs, probe on h against SDMI {v['f'][0]} "
                     f"({'recovered' if recovered[e] else 'not recovered'}), effective rank {v['f'][1]:.2f} of "
                     f"SDMI's (encoder f)" for e, v in per.items()) + "."
    return BudgetRecovery(per, recovered, text)


def claims(ev: AblationEvidence, budgets: BudgetRecovery, main_epochs: int, setting: str,
           seeds: Sequence[int]) -> list[Claim]:
    """Chapter 08's claim record: the four Figure 4 claims, SDMI-NoDV-Pred's at every budget run (``main_epochs``
    is the chapter's main budget; recovery only at a longer one is "holds under stated setting")."""
    seeds, ss = tuple(seeds), paper.SIMSIAM_ABLATION

    def fmt(m: str, p: str) -> str:
        return (f"effective rank {ev.rank(m):.1f} vs {ev.rank(p):.1f} ({p}); probe on h "
                f"{ev.paired[f'top1_{m}_{p}_f']}")

    longer = [e for e, ok in budgets.recovered.items() if ok and e != main_epochs]
    pred = verdict_from(bool(budgets.recovered.get(main_epochs)), under_stated_setting=bool(longer))
    return [
        Claim("sdmi_nodv_collapses", "SDMI-NoDV (no marginal term) collapses, both encoders, despite E/M updates",
              "collapse of f and g (Fig. 4(a), bar chart)", fmt("sdmi_nodv", "sdmi"),
              verdict_from(ev.verdicts["nodv_collapses"]), setting, "ablation-collapse", seeds),
        Claim("sdmi_nodv_pred_recovers",
              "Predictors without the marginal term prevent collapse and recover (SDMI-NoDV-Pred)",
              "entirely prevents collapse, recovers strong performance (Fig. 4(a))", budgets.text, pred,
              f"budgets run: {sorted(budgets.per_budget)} epochs" + (f"; recovered at {longer}" if longer else ""),
              "ablation-predictor", seeds),
        Claim("simsiam_nopred_collapses", "SimSiam without its predictor collapses",
              "collapse (Fig. 4(b), bar chart)", fmt("simsiam_nopred", "simsiam"),
              verdict_from(ev.verdicts["nopred_collapses"]), setting, "ablation-collapse", seeds),
        Claim("simsiam_sdmi_recovers", "SimSiam-SDMI (cos-DV, no predictor) recovers SimSiam's accuracy",
              "SimSiam {:.2f} ± {:.2f} %, SimSiam-SDMI {:.2f} ± {:.2f} % on CIFAR-10 (Section 4.3, Fig. 4(b))".format(
                  *ss["simsiam"], *ss["simsiam_sdmi"]),
              fmt("simsiam_sdmi", "simsiam") + f"; vs SimSiam-NoPred {ev.paired['top1_simsiam_nopred_simsiam_sdmi_f']}",
              verdict_from(ev.verdicts["ss_sdmi_recovers"]), setting, "ablation-collapse", seeds),
    ]
