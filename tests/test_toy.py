"""The toy experiment's seed tables (mi_ssl.toy) against hand-computed geometry and counts."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from mi_ssl import paper, stats, toy
from mi_ssl.data import SSLData, load_dataset
from mi_ssl.experiments import run_grid
from mi_ssl.training import FitResult


class _Lookup(nn.Module):
    """Maps input row ``[k, 0]`` to the fixed direction ``points[k]`` (a stand-in encoder)."""

    def __init__(self, points: torch.Tensor) -> None:
        super().__init__()
        self.points = nn.Parameter(points, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.points[x[:, 0].long()]


def _fake(points: np.ndarray, reps: int = 3) -> tuple[FitResult, SSLData]:
    k = len(points)
    y = torch.arange(k).repeat(reps)
    x = torch.stack([y.float(), torch.zeros(len(y))], 1)
    data = SSLData("fake", "vector", x, y, x, y, k)
    learner = SimpleNamespace(encoders=lambda: {"f": _Lookup(torch.tensor(points, dtype=torch.float32))})
    return FitResult(config=None, learner=learner, history=pd.DataFrame(), summary={}), data


def _pentagon() -> np.ndarray:
    a = 2 * np.pi * np.arange(5) / 5
    return np.stack([np.cos(a), np.sin(a), np.zeros(5)], 1)


def test_pentagon_on_a_great_circle_has_72_degree_gaps() -> None:
    res, data = _fake(_pentagon())
    g = toy.nn_gaps(res, data)["f"]
    assert g["mean"] == pytest.approx(72.0, abs=1e-4) and g["sd"] == pytest.approx(0.0, abs=1e-4)


def test_gaps_are_measured_on_the_sphere() -> None:
    res, data = _fake(_pentagon() * np.array([[1.0], [3.0], [0.5], [2.0], [7.0]]))   # rows of other lengths
    assert toy.nn_gaps(res, data)["f"]["mean"] == pytest.approx(72.0, abs=1e-4)


def test_bipyramid_has_90_degree_gaps_and_population_sd() -> None:
    a = 2 * np.pi * np.arange(3) / 3
    bipyramid = np.concatenate([np.stack([np.cos(a), np.sin(a), np.zeros(3)], 1), [[0, 0, 1], [0, 0, -1]]])
    res, data = _fake(bipyramid)
    assert toy.nn_gaps(res, data)["f"]["mean"] == pytest.approx(90.0, abs=1e-4)
    # a pentagon squeezed to a 4-point square + a pole: NN angles 90, 90, 90, 90 (square) and 90 (pole) -> tilt
    # one square point 30 deg up towards the pole: its NN angle becomes 60, the pole's 60, the rest stay 90
    sq = np.array([[1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0], [0, 0, 1.0]])
    sq[0] = [math.cos(math.radians(30)), 0, math.sin(math.radians(30))]   # 60 deg from the pole
    res, data = _fake(sq)
    g = toy.nn_gaps(res, data)["f"]
    angles = np.array([60, 90, 90, 90, 60])          # tilted point, its two old neighbours, opposite point, pole
    assert g["mean"] == pytest.approx(angles.mean(), abs=1e-3)
    assert (g["min"], g["max"]) == pytest.approx((60, 90), abs=1e-3)
    assert g["sd"] == pytest.approx(angles.std(ddof=0), abs=1e-3)     # population sd, ddof = 0


def _gaps(rows: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"method": m, "encoder": e, "seed": s, "mean": v, "min": v, "max": v, "sd": 1.0}
                         for (m, e), vals in rows.items() for s, v in enumerate(vals)])


def test_table2_interval_and_paper_row() -> None:
    t = toy.table2(_gaps({("jmi", "f"): [80.0, 90.0], ("simclr", "f"): [88.0, 88.2], ("emi", "f"): [1.0, 2.0]}))
    jmi = t.set_index("method").loc["jmi"]
    half = 12.706204736 * math.sqrt(50) / math.sqrt(2)             # t_{0.975, 1} * sd / sqrt(n)
    assert (jmi.ci_low, jmi.ci_high) == pytest.approx((85 - half, 85 + half))
    assert jmi.paper_mean == paper.TABLE2[("jmi", "f")][0] and bool(jmi.paper_in_ci)
    simclr = t.set_index("method").loc["simclr"]
    assert not simclr.paper_in_ci and simclr.paradigm == "JMI"
    assert math.isnan(t.set_index("method").loc["emi"].paper_mean)


def test_concordance_counts_the_papers_pairs() -> None:
    means = {r: v[0] for r, v in paper.TABLE2.items()}
    # 9 rows, 36 pairs; SDMI f/g (0.70 apart) and Barlow Twins/VICReg (0.53) are ties at 1 degree
    assert toy.concordance(means) == (34, 34)
    assert toy.concordance({r: -v for r, v in means.items()}) == (0, 34)
    swapped = {**means, ("jmi", "f"): means[("simclr", "f")] - 1}     # JMI below SimCLR, above SDMI and below
    agree, pairs = toy.concordance(swapped)
    # JMI now sits below SimCLR (65.8) and above MoCo (49.6): it loses its order with SimCLR, BT, VICReg,
    # SDMI f and SDMI g
    assert (agree, pairs) == (34 - 5, 34)


def test_affects() -> None:
    assert toy.affects("tau", "sdmi") and toy.affects("tau", "simclr")
    assert not toy.affects("tau", "byol") and not toy.affects("tau", "barlow_twins")
    assert all(toy.affects("sgd_momentum", m) for m in ("byol", "sdmi", "vicreg"))


def test_seed_values_sorted_and_checked() -> None:
    g = _gaps({("jmi", "f"): [3.0, 1.0]}).iloc[::-1]
    assert toy.seed_values(g, "jmi").tolist() == [3.0, 1.0]
    with pytest.raises(ValueError, match="method='sdmi'"):
        toy.seed_values(g, "sdmi")


def test_sweep_reuses_unaffected_methods_and_trains_the_rest() -> None:
    data = load_dataset("gaussian", seed=0)
    kw = dict(epochs=2, track_every=0, tau=0.5, workers=1)
    base = run_grid(["jmi", "byol"], [0], "gaussian", lambda seed: data, **kw)
    base_gaps = toy.gap_frame(base, {0: data})
    frame = toy.sweep(["jmi", "byol"], [0], [{"tau": 0.5}, {"tau": 0.1}], {"tau": 0.5}, base_gaps,
                      lambda seed: data, epochs=2, track_every=0, workers=1)
    assert sorted(set(frame.setting)) == ["base", "tau=0.1"]
    moved = frame[frame.setting == "tau=0.1"].set_index(["method", "encoder"])
    assert (moved.tau == 0.1).all() and len(moved) == 3                       # jmi f, byol f and g
    before = base_gaps.set_index(["method", "encoder"])
    assert moved.loc[("byol", "g"), "mean"] == before.loc[("byol", "g"), "mean"]   # tau does not touch BYOL: re-used
    alone = run_grid(["jmi"], [0], "gaussian", lambda seed: data, epochs=2, track_every=0, tau=0.1, workers=1)
    assert moved.loc[("jmi", "f"), "mean"] == toy.gap_frame(alone, {0: data}).set_index("method").loc["jmi", "mean"]
    assert moved.loc[("jmi", "f"), "mean"] != before.loc[("jmi", "f"), "mean"]
    with pytest.raises(ValueError, match="lambd"):
        toy.sweep(["jmi"], [0], [{"lambd": 1.0}], {"tau": 0.5}, base_gaps, lambda seed: data)


def test_mono_frame_one_row_per_curve() -> None:
    h = pd.DataFrame({"epoch": range(5), "mi_cos_dv": [0, 1, 2, 3, 4.0], "mi_infonce": [4, 3, 2, 1, 0.0]})
    res = FitResult(config=None, learner=None, history=h, summary={})
    m = toy.mono_frame({("sdmi", 0): res, ("jmi", 1): res}, ("mi_cos_dv", "mi_infonce"))
    assert len(m) == 4 and set(m.paradigm) == {"SDMI", "JMI"}
    assert m.set_index(["method", "estimator"]).loc[("sdmi", "mi_cos_dv"), "spearman"] == pytest.approx(1.0)
    assert m.set_index(["method", "estimator"]).loc[("jmi", "mi_infonce"), "spearman"] == pytest.approx(-1.0)


def test_order_verdict_reads_the_paired_interval() -> None:
    assert toy.order_verdict(stats.paired([5.0, 6.0, 7.0], [1.0, 1.5, 2.0])) == "holds"
    assert toy.order_verdict(stats.paired([1.0, 1.5, 2.0], [5.0, 6.0, 7.0])) == "does not hold"
    assert toy.order_verdict(stats.paired([1.0, 3.0, 2.0], [2.0, 2.0, 2.0])) == "tie"
    assert toy.interval_text(stats.paired([1.0, 3.0], [1.0, 1.0])).startswith("+1.0° (95% CI -11.7 to +13.7")


def test_table2_claims_verdict_rule() -> None:
    gaps = _gaps({("jmi", "f"): [80.0, 90.0], ("simclr", "f"): [88.0, 88.2], ("sdmi", "f"): [60.0, 60.5],
                  ("emi", "f"): [1.0, 2.0]})
    table = toy.table2(gaps)
    moved = _gaps({("jmi", "f"): [10.0, 11.0], ("simclr", "f"): [65.0, 66.0], ("sdmi", "f"): [10.0, 10.5]})
    by = toy.within(pd.concat([gaps.assign(setting="base"), moved.assign(setting="tau=0.1")]))
    got = {c.key: c for c in toy.table2_claims(table, by, [0, 1], anchor="toy-table2", setting="tau=0.5")}
    assert set(got) == {"table2_jmi_f", "table2_simclr_f", "table2_sdmi_f"}          # EMI is not in Table 2
    assert got["table2_jmi_f"].verdict == "holds" and got["table2_jmi_f"].setting == "tau=0.5"
    assert got["table2_simclr_f"].verdict == "holds under stated setting"           # 65.8 in [65, 66] +- t
    assert "tau=0.1" in got["table2_simclr_f"].setting
    assert got["table2_sdmi_f"].verdict == "does not hold"
    assert got["table2_jmi_f"].paper == "88.26° (Table 2)" and got["table2_jmi_f"].seeds == (0, 1)


def test_comparisons_pair_by_seed_and_strongest() -> None:
    gaps = _gaps({("jmi", "f"): [90.0, 72.0, 89.0], ("simclr", "f"): [89.0, 72.0, 72.0],
                  ("vicreg", "f"): [50.0, 55.0, 60.0]})
    cmp = toy.comparisons(gaps, [("jmi", "simclr"), ("jmi", "vicreg")])
    assert cmp[("jmi", "simclr")].mean == pytest.approx(6.0) and cmp[("jmi", "simclr")].wins == 2
    t = toy.comparison_table(cmp)
    assert t["verdict"].tolist() == ["tie", "jmi > vicreg"] and t["seeds a ahead"].tolist() == [2, 3]
    table = toy.table2(gaps)
    assert toy.strongest(table, "JMI", "jmi") == "simclr"                 # 77.7 vs VICReg's 55
    with pytest.raises(ValueError, match="SDMI-paradigm"):
        toy.strongest(table, "SDMI", "sdmi")


def test_elsewhere_and_concordance_by_setting() -> None:
    gaps = _gaps({("jmi", "f"): [88.0, 88.5], ("simclr", "f"): [88.4, 88.6]})      # SimCLR ahead: against the paper
    moved = _gaps({("jmi", "f"): [88.0, 88.5], ("simclr", "f"): [65.0, 66.0]})
    by = toy.within(pd.concat([gaps.assign(setting="base"), moved.assign(setting="tau=0.1")]))
    hit = toy.elsewhere(by, toy.table2(gaps))
    # JMI's 88.26 is inside at the chapter's setting already: only SimCLR's row moves in
    assert hit[["method", "setting"]].values.tolist() == [["simclr", "tau=0.1"]]
    c = toy.concordance_by(by).set_index("setting")
    assert c.loc["base"].tolist() == [0, 1] and c.loc["tau=0.1"].tolist() == [1, 1]
    # a setting whose seeds scatter so widely that the interval holds the paper's value, with a mean further away
    wide = _gaps({("jmi", "f"): [88.0, 88.5], ("simclr", "f"): [160.0, 20.0]})   # mean 90
    by = toy.within(pd.concat([gaps.assign(setting="base"), wide.assign(setting="tau=1")]))
    assert toy.elsewhere(by, toy.table2(gaps)).empty


def test_ordering_claims_verdicts() -> None:
    gaps = _gaps({("jmi", "f"): [90.0, 72.0, 89.0], ("simclr", "f"): [89.0, 72.0, 72.0],
                  ("vicreg", "f"): [50.0, 55.0, 60.0], ("sdmi", "f"): [71.5, 71.7, 71.6],
                  ("mocov3", "f"): [40.0, 50.0, 45.0]})
    cmp = toy.comparisons(gaps, [("jmi", "simclr"), ("jmi", "vicreg"), ("jmi", "sdmi"), ("jmi", "mocov3"),
                                 ("sdmi", "mocov3")])
    got = {c.key: c for c in toy.ordering_claims(toy.table2(gaps), cmp, [0, 1, 2], anchor="a", setting="s")}
    assert got["jmi_largest"].verdict == "tie" and "simclr" in got["jmi_largest"].ours
    assert got["jmi_vs_simclr"].verdict == "tie" and got["jmi_vs_closest_jmi"].claim.endswith("(simclr here)")
    assert got["sdmi_vs_sdmi_paradigm"].verdict == "holds" and "mocov3" in got["sdmi_vs_sdmi_paradigm"].claim
    assert "74.47° vs 49.64°" in got["sdmi_vs_sdmi_paradigm"].paper
