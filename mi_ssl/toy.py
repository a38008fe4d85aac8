"""The toy Gaussian experiment over seeds (paper Section 4.2, Appendix B.1): Table 2 and the MI curves'
monotonicity as distributions over seeds, and the sensitivity of Table 2 to settings the paper does not give.

The runs come from :func:`mi_ssl.experiments.run_grid` (``{(method, seed): FitResult}``); everything here
reads finished runs and returns long tables, one row per run (and encoder, or estimator):

* :func:`gap_frame` — the nearest-neighbour (NN) angle gaps of each run's final cluster centres (Table 2's
  mean, min, max and SD over the five centres; the SD is the *population* SD, ``ddof=0``: the spread of
  five numbers, which is what the paper's SD column agrees with);
* :func:`table2` — Table 2 over seeds: mean ± sd and the 95 % t-interval of each row's mean gap, beside the
  paper's row, and whether the paper's value lies in our interval;
* :func:`sweep` — the same gaps when one setting changes (temperature, optimiser momentum), re-using the
  base runs for the methods a setting does not touch;
* :func:`within` / :func:`elsewhere` / :func:`concordance` — at which settings a paper row falls in our
  interval (and only there), and how much of the paper's ordering of the rows a setting reproduces;
* :func:`mono_frame` — :func:`mi_ssl.experiments.monotonicity` of every tracked MI curve, one row per
  (method, seed, estimator);
* :func:`comparisons` / :func:`comparison_table` — paired comparisons of methods seed by seed;
* :func:`order_verdict`, :func:`table2_claims`, :func:`ordering_claims` — the verdicts the chapter records
  (:mod:`mi_ssl.claims`): Table 2's rows and the orderings Section 4.3 reads from it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import torch.nn.functional as F

from . import claims, evaluation, experiments, paper, stats
from .data.base import SSLData
from .methods import METHODS, get_method
from .training import FitResult

__all__ = ["GAP_COLUMNS", "nn_gaps", "gap_frame", "table2", "seed_values", "affects", "sweep", "within",
           "elsewhere", "concordance", "concordance_by", "mono_frame", "comparisons", "comparison_table",
           "strongest", "order_verdict", "interval_text", "table2_claims", "ordering_claims"]

#: The per-run statistics of the five NN angles (degrees), as in the paper's Table 2.
GAP_COLUMNS = ("mean", "min", "max", "sd")
_OBJECTIVE_KEYS = frozenset(k for m in METHODS for k in get_method(m).objective_keys)

Grid = Mapping[tuple[str, int], FitResult]
DataFor = Callable[..., SSLData] | Mapping[int, SSLData]


def nn_gaps(result: FitResult, data: SSLData) -> dict[str, dict[str, float]]:
    """``{encoder: {mean, min, max, sd}}`` of one run: NN angle gaps (degrees) of the cluster centres of the
    held-out points, every encoder in eval mode, its outputs l2-normalised onto the sphere (whatever the method's
    loss sees); ``sd`` with ``ddof=0`` over the ``K`` centres."""
    out = {}
    for name, enc in result.learner.encoders().items():
        z = F.normalize(evaluation.extract_features(enc, data.test_x, transform=data.to_float), dim=1)
        g = evaluation.nn_angle_gaps(evaluation.cluster_centres(z, data.test_y, data.num_classes))
        out[name] = {"mean": g["mean"], "min": g["min"], "max": g["max"], "sd": stats.population_sd(g["per_centre"])}
    return out


def _data(data: DataFor, seed: int) -> SSLData:
    return data[seed] if isinstance(data, Mapping) else data(seed=seed)


def gap_frame(grid: Grid, data: DataFor) -> pd.DataFrame:
    """One row per run and encoder: ``method, seed, encoder, mean, min, max, sd`` plus ``paradigm``.

    ``data``: ``{seed: SSLData}`` or a callable ``data(seed=...)`` (the data each seed's runs trained on).
    """
    rows = []
    for (method, seed), res in grid.items():
        d = _data(data, seed)
        for enc, g in nn_gaps(res, d).items():
            rows.append({"method": method, "seed": seed, "encoder": enc, **g,
                         "paradigm": get_method(method).paradigm})
    return pd.DataFrame(rows)


def table2(gaps: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Table 2 over seeds: one row per (method, encoder) of ``gaps`` (:func:`gap_frame`).

    Columns: ``n, mean, sd, ci_low, ci_high, min, max`` of the per-seed mean gap (:func:`mi_ssl.stats.seed_table`;
    ``sd`` over seeds with ``ddof=1``), ``nn_sd`` (the per-run SD of the five angles, ``ddof=0``, averaged over
    seeds), the paper's ``paper_mean`` and ``paper_sd`` (``nan`` for a row the paper does not have) and
    ``paper_in_ci`` (the paper's mean inside our interval).
    """
    t = stats.seed_table(gaps, ["method", "encoder"], "mean", level)
    t["nn_sd"] = gaps.groupby(["method", "encoder"], sort=False)["sd"].mean().to_numpy()
    t.insert(2, "paradigm", [get_method(m).paradigm for m in t["method"]])
    row = [paper.TABLE2.get((m, e), (math.nan,) * 4) for m, e in zip(t["method"], t["encoder"])]
    t["paper_mean"] = [r[0] for r in row]
    t["paper_sd"] = [r[3] for r in row]
    t["paper_in_ci"] = (t["ci_low"] <= t["paper_mean"]) & (t["paper_mean"] <= t["ci_high"])
    return t


def seed_values(gaps: pd.DataFrame, method: str, encoder: str = "f", column: str = "mean") -> pd.Series:
    """One method's per-seed values (indexed and sorted by seed), for :func:`mi_ssl.stats.paired`."""
    sub = gaps[(gaps["method"] == method) & (gaps["encoder"] == encoder)]
    if sub.empty:
        raise ValueError(f"no rows for method={method!r}, encoder={encoder!r} in the gap table")
    return sub.set_index("seed")[column].sort_index()


def affects(key: str, method: str) -> bool:
    """Whether the config field ``key`` changes ``method``'s run: an objective hyper-parameter (``tau``,
    ``lambd``, ...) only matters to the methods whose objective takes it; any other field (``sgd_momentum``,
    ``lr``) to every method."""
    return key not in _OBJECTIVE_KEYS or key in get_method(method).objective_keys


def sweep(methods: Sequence[str], seeds: Sequence[int], settings: Iterable[Mapping[str, Any]],
          base: Mapping[str, Any], base_gaps: pd.DataFrame, data: Callable[..., SSLData], *,
          dataset: str = "gaussian", cache_dir: str | None = None, workers: int | None = None,
          **overrides: Any) -> pd.DataFrame:
    """NN gaps when settings change one at a time: :func:`gap_frame` rows with one column per key of ``base``.

    ``base`` holds the settings of ``base_gaps`` (e.g. ``{"tau": 0.5, "sgd_momentum": 0.9}``); each item of
    ``settings`` overrides some of them (``{"tau": 0.1}``). A method a setting does not affect
    (:func:`affects`), and a setting equal to ``base``, re-use the rows of ``base_gaps`` (restricted to
    ``seeds``); the others are trained with :func:`mi_ssl.experiments.run_grid` (``overrides`` passed on, e.g.
    ``epochs``, ``track_every=0``). The ``setting`` column names the change (``"tau=0.1"``; ``"base"``).
    """
    seeds = list(seeds)
    known = base_gaps[base_gaps["seed"].isin(seeds) & base_gaps["method"].isin(methods)]
    if set(known["seed"]) != set(seeds):
        raise ValueError(f"base_gaps has no rows for seeds {sorted(set(seeds) - set(known['seed']))}")
    parts = [known.assign(setting="base", **base)]
    for change in settings:
        unknown = set(change) - set(base)
        if unknown:
            raise ValueError(f"setting {dict(change)} changes {sorted(unknown)}, not in base {dict(base)}")
        moved = {k: v for k, v in change.items() if base[k] != v}
        if not moved:
            continue
        label = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in moved.items())
        run = [m for m in methods if any(affects(k, m) for k in moved)]
        grid = experiments.run_grid(run, seeds, dataset, data, workers=workers, cache_dir=cache_dir,
                                    **{**base, **moved, **overrides}) if run else {}
        new = gap_frame(grid, data) if grid else known.iloc[:0]
        parts.append(pd.concat([new, known[~known["method"].isin(run)]]).assign(setting=label, **{**base, **moved}))
    return pd.concat(parts, ignore_index=True)


def within(frame: pd.DataFrame, by: str | list[str] = "setting", level: float = 0.95) -> pd.DataFrame:
    """:func:`table2` of each group of ``frame`` (e.g. each setting of a :func:`sweep`), stacked: the
    ``paper_in_ci`` column then says at which settings each paper row falls inside our interval."""
    keys = [by] if isinstance(by, str) else list(by)
    out = []
    for key, g in frame.groupby(keys, sort=False):
        t = table2(g, level)
        for k, v in zip(keys, key if isinstance(key, tuple) else (key,)):
            t[k] = v
        out.append(t)
    return pd.concat(out, ignore_index=True)


def elsewhere(by_setting: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``by_setting`` (:func:`within`, ``"base"`` skipped) where the paper's mean lies inside our interval
    although it lies outside at the chapter's setting (``table``, :func:`table2`), and our mean there is closer
    to the paper's than at the chapter's setting (a wide interval alone, from seeds that scatter, is no match)."""
    miss = {(m, e): abs(mean - pm) for m, e, mean, pm, ok in
            zip(table["method"], table["encoder"], table["mean"], table["paper_mean"], table["paper_in_ci"]) if not ok}
    keep = [ok and st != "base" and (m, e) in miss and abs(mean - pm) < miss[(m, e)] for m, e, st, ok, mean, pm in
            zip(by_setting["method"], by_setting["encoder"], by_setting["setting"], by_setting["paper_in_ci"],
                by_setting["mean"], by_setting["paper_mean"])]
    return by_setting[keep]


def concordance(means: Mapping[tuple[str, str], float], tie: float = 1.0) -> tuple[int, int]:
    """How much of the paper's ordering of Table 2's rows ``means`` reproduces: ``(agreeing, pairs)``.

    Over every pair of rows present in both ``means`` (``{(method, encoder): mean gap}``) and
    :data:`mi_ssl.paper.TABLE2` whose paper means differ by more than ``tie`` degrees, count the pairs that
    ``means`` orders the same way. ``agreeing == pairs``: the paper's ordering appears.
    """
    rows = [r for r in means if r in paper.TABLE2 and math.isfinite(means[r])]
    agree = pairs = 0
    for a, b in itertools.combinations(rows, 2):
        d_paper = paper.TABLE2[a][0] - paper.TABLE2[b][0]
        if abs(d_paper) <= tie:
            continue
        pairs += 1
        agree += (means[a] - means[b]) * d_paper > 0
    return int(agree), pairs


def concordance_by(by_setting: pd.DataFrame, tie: float = 1.0) -> pd.DataFrame:
    """:func:`concordance` of each setting of ``by_setting`` (:func:`within`): ``setting, agreeing, pairs``."""
    rows = []
    for st, t in by_setting.groupby("setting", sort=False):
        agree, pairs = concordance(dict(zip(zip(t["method"], t["encoder"]), t["mean"])), tie)
        rows.append({"setting": st, "agreeing": agree, "pairs": pairs})
    return pd.DataFrame(rows)


def mono_frame(grid: Grid, estimators: Sequence[str] = ("mi_cos_dv", "mi_infonce", "mi_jsd")) -> pd.DataFrame:
    """:func:`mi_ssl.experiments.monotonicity` of every MI curve: one row per (method, seed, estimator)."""
    rows = []
    for (method, seed), res in grid.items():
        for est in estimators:
            rows.append({"method": method, "seed": seed, "estimator": est,
                         "paradigm": get_method(method).paradigm, **experiments.monotonicity(res.history[est])})
    return pd.DataFrame(rows)


def comparisons(gaps: pd.DataFrame, pairs: Iterable[tuple[str, str]], encoder: str = "f"
                ) -> dict[tuple[str, str], stats.Paired]:
    """``{(a, b): stats.paired(a, b)}``: the per-seed difference of the mean gaps of methods ``a`` and ``b``."""
    return {(a, b): stats.paired(seed_values(gaps, a, encoder), seed_values(gaps, b, encoder)) for a, b in pairs}


def comparison_table(cmp: Mapping[tuple[str, str], stats.Paired]) -> pd.DataFrame:
    """:func:`comparisons` as a table: ``a, b``, the mean difference, its 95 % interval, seeds won, verdict."""
    return pd.DataFrame([{"a": a, "b": b, "a − b (°)": p.mean, "95% interval": f"{p.low:+.1f} to {p.high:+.1f}",
                          "seeds a ahead": p.wins, "seeds b ahead": p.losses, "verdict": stats.verdict(p, a, b)}
                         for (a, b), p in cmp.items()])


def strongest(table: pd.DataFrame, paradigm: str, exclude: str, encoder: str = "f") -> str:
    """The method of ``paradigm`` other than ``exclude`` with the largest mean gap in ``table`` (:func:`table2`)."""
    sub = table[(table["paradigm"] == paradigm) & (table["method"] != exclude) & (table["encoder"] == encoder)]
    if sub.empty:
        raise ValueError(f"table has no {paradigm}-paradigm method other than {exclude!r}")
    return str(sub.sort_values("mean").iloc[-1]["method"])


def order_verdict(p: stats.Paired) -> str:
    """The verdict on a claim "a > b" from the paired interval of ``a - b``: ``"holds"`` (above 0), ``"tie"``
    (contains 0, or one seed: no interval) or ``"does not hold"`` (below 0)."""
    return {"tie": "tie"}.get(stats.verdict(p), "holds" if p.low > 0 else "does not hold")


def interval_text(s: stats.Summary | stats.Paired, unit: str = "°") -> str:
    """``"85.4° (95% CI 75.8 to 95.0, n=5)"``: a summary or a paired difference (signed) as claim text."""
    sign = "+" if isinstance(s, stats.Paired) else ""
    return f"{s.mean:{sign}.1f}{unit} (95% CI {s.low:{sign}.1f} to {s.high:{sign}.1f}, n={s.n})"


def table2_claims(table: pd.DataFrame, by_setting: pd.DataFrame | None, seeds: Sequence[int], *, anchor: str,
                  setting: str) -> list[claims.Claim]:
    """One claim per row of the paper's Table 2 (rows of ``table`` that :data:`mi_ssl.paper.TABLE2` has).

    The verdict: ``"holds"`` when the paper's mean lies in our 95 % interval (``table``, :func:`table2`, at the
    chapter's ``setting``); ``"holds under stated setting"`` when it does not there but does at some setting of
    ``by_setting`` (:func:`within` of a :func:`sweep`, through :func:`elsewhere`: inside the interval there and our
    mean closer to the paper's), which the claim names;
    ``"does not hold"`` otherwise.
    """
    out = []
    found = elsewhere(by_setting, table) if by_setting is not None else None
    for r in table.itertuples():
        if (r.method, r.encoder) not in paper.TABLE2:
            continue
        verdict, where = ("holds", setting) if r.paper_in_ci else ("does not hold", setting)
        if found is not None:
            hit = found[(found["method"] == r.method) & (found["encoder"] == r.encoder)]
            if len(hit):
                verdict = "holds under stated setting"
                where = f"{setting}; but with {' or '.join(hit['setting'])} ({int(hit['n'].iloc[0])} seeds)"
        enc = "" if r.encoder == "f" else f", encoder {r.encoder}"
        ours = stats.Summary(int(r.n), r.mean, r.sd, r.ci_low, r.ci_high, ())
        out.append(claims.Claim(
            key=f"table2_{r.method}_{r.encoder}", claim=f"Table 2 row: mean NN angle gap of {r.method}{enc}",
            paper=f"{r.paper_mean:.2f}° (Table 2)", ours=interval_text(ours), verdict=verdict, setting=where,
            anchor=anchor, seeds=tuple(int(s) for s in seeds)))
    return out


def ordering_claims(table: pd.DataFrame, cmp: Mapping[tuple[str, str], stats.Paired], seeds: Sequence[int], *,
                    anchor: str, setting: str) -> list[claims.Claim]:
    """The orderings Section 4.3 reads from Table 2, each from the paired comparisons ``cmp`` (:func:`comparisons`,
    which must hold ``("jmi", m)`` for every other method of ``table`` and ``("sdmi", m)`` for the SDMI-paradigm ones).

    * ``jmi_largest`` — the JMI prototype has the largest gap: ``"holds"`` if its paired interval is above zero
      against every other method, ``"does not hold"`` if below zero against one, ``"tie"`` otherwise;
    * ``jmi_vs_closest_jmi`` / ``jmi_vs_simclr`` / ``sdmi_vs_sdmi_paradigm`` — JMI against its closest
      JMI-paradigm competitor (:func:`strongest`) and against SimCLR, SDMI ``f`` against the strongest other
      SDMI-paradigm method: :func:`order_verdict`.
    """
    p = {k: v[0] for k, v in paper.TABLE2.items()}
    jmi = {b: d for (a, b), d in cmp.items() if a == "jmi"}
    lead = ("holds" if all(d.low > 0 for d in jmi.values()) else
            "does not hold" if any(d.high < 0 for d in jmi.values()) else "tie")
    ties = [b for b, d in jmi.items() if stats.verdict(d) == "tie"]
    closest, rival = strongest(table, "JMI", "jmi"), strongest(table, "SDMI", "sdmi")
    jmi_mean = float(table[(table["method"] == "jmi") & (table["encoder"] == "f")]["mean"].iloc[0])

    def claim(key: str, text: str, paper_text: str, ours: str, verdict: str) -> claims.Claim:
        return claims.Claim(key=key, claim=text, paper=paper_text, ours=ours, verdict=verdict, setting=setting,
                            anchor=anchor, seeds=tuple(int(s) for s in seeds))

    def versus(a: str, b: str) -> tuple[str, str]:
        return f"{a} − {b}: {interval_text(cmp[(a, b)])}", order_verdict(cmp[(a, b)])

    return [
        claim("jmi_largest", "The JMI prototype separates the clusters most (largest mean NN gap)",
              f"{p[('jmi', 'f')]:.2f}°, the largest row (Table 2; Section 4.3)",
              f"{jmi_mean:.1f}°; paired ties with: {', '.join(ties) or 'none'}", lead),
        claim("jmi_vs_closest_jmi", f"JMI ahead of its closest JMI-paradigm competitor ({closest} here)",
              f"{p[('jmi', 'f')]:.2f}° vs {p[('vicreg', 'f')]:.2f}° (VICReg; Table 2, Section 4.3)",
              *versus("jmi", closest)),
        claim("jmi_vs_simclr", "JMI prototype ahead of SimCLR",
              f"{p[('jmi', 'f')]:.2f}° vs {p[('simclr', 'f')]:.2f}° (Table 2)", *versus("jmi", "simclr")),
        claim("sdmi_vs_sdmi_paradigm", f"SDMI prototype ahead of the strongest other SDMI-paradigm method "
              f"({rival} here)", f"{p[('sdmi', 'f')]:.2f}° vs {p[('mocov3', 'f')]:.2f}° (MoCo; Table 2, Section 4.3)",
              *versus("sdmi", rival)),
    ]
