"""The claim records the chapters write (02, 06, 07, 08): each verdict is read off the evidence, and flips when the
evidence does. Hand-built frames where the arithmetic is easy to check; small real studies for the derivation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mi_ssl import ablations, claims, emi_runs, probing, table1, theory


def _verdicts(rows: list[claims.Claim]) -> dict[str, str]:
    assert all(isinstance(c, claims.Claim) for c in rows)
    return {c.key: c.verdict for c in rows}


# ------------------------------------------------------------------------------------ chapter 02: S1-S5
@pytest.fixture(scope="module")
def derivation_frames():
    seeds, d = [0, 1], 8
    cum = theory.over_seeds(theory.cumulant_check, seeds, d=d, rho=0.8, n=400, taus=[2.0, 1.0, 0.1])
    dot = theory.over_seeds(theory.dot_critic_check, seeds, d=d, rho=0.8, scales=[1.0, 4.0], batch_sizes=[200, 400])
    var = theory.over_seeds(theory.variance_cases, seeds, d=d, rho=0.8, n=100_000)
    fam = theory.over_seeds(theory.family_study, seeds, d=d, rho=0.8, within=0.0, rotation=1.0, n=20_000, n_mgf=200,
                            tau=0.2, scale=4.0)
    land = theory.over_seeds(theory.surrogate_landscape, seeds, d=d, rho=0.8, rotations=[0.0, 1.0, 2.0],
                             withins=[0.0, 0.2, 0.4], scale=4.0, lambd=5e-3)
    return cum, dot, var, fam, theory.landscape_claims(land, d=d, scale=4.0), seeds, d


def test_derivation_claims_read_each_step_off_its_frame(derivation_frames):
    cum, dot, var, fam, lc, seeds, d = derivation_frames
    rows = theory.derivation_claims(cum, dot, var, fam, lc, seeds, d=d)
    stated = "holds under stated setting"
    assert _verdicts(rows) == {"s1-taylor-dv": stated, "s2-drop-half": stated, "s3-dot-critic": "does not hold",
                               "s4-isserlis": "does not hold", "s5-bt-form": stated}
    assert [c.anchor for c in rows] == [f"sec-bt-s{k}" for k in range(1, 6)]
    assert all(c.seeds == (0, 1) for c in rows) and "at tau=0.1" in rows[0].ours and "[0.1]" in rows[0].setting
    # the verdicts follow the evidence
    soft = theory.derivation_claims(cum[cum.tau > 0.5], dot[dot.scale > 1], var, fam, lc, seeds, d=d)
    assert _verdicts(soft)["s1-taylor-dv"] == "holds" and _verdicts(soft)["s3-dot-critic"] == "holds"
    broken = cum.assign(identity_gap=1e-3)
    assert _verdicts(theory.derivation_claims(broken, dot, var, fam, lc, seeds, d=d))["s2-drop-half"] == "does not hold"
    isserlis = var.assign(marginal_offdiag=var.bt_offdiag)
    assert _verdicts(theory.derivation_claims(cum, dot, isserlis, fam, lc, seeds, d=d))["s4-isserlis"] == "holds"
    loose = lc.assign(affine_resid=0.1)
    assert _verdicts(theory.derivation_claims(cum, dot, var, fam, loose, seeds, d=d))["s5-bt-form"] == "does not hold"


# ------------------------------------------------------------------------------------ chapter 06: EMI
def _emi_frames(objective: float = 5.0, jmi_gap: float = 88.0):
    bias = pd.DataFrame({"seed": [0, 0, 1, 1], "n": [32, 8192] * 2, "mean_error": [0.3, 0.01, 0.25, -0.02]})
    nonlinear = pd.DataFrame({"seed": [0, 0, 1, 1], "map": ["identity", "y -> y^3"] * 2,
                              "error": [0.01, -0.5, -0.01, -0.4]})
    binary = pd.DataFrame({"seed": [0, 1], "sigma": [0.3, 0.3], "I_G": [0.9, 0.95], "true_mi": [0.6, 0.61]})
    runs = pd.DataFrame({"method": ["emi", "emi", "jmi", "jmi"], "seed": [0, 1, 0, 1],
                         "objective": [objective, objective + 0.2, 1.0, 1.1], "ridge_cap": [9.0, 9.0, 5.0, 5.0],
                         "nn_gap": [60.0, 62.0, jmi_gap, jmi_gap + 1]})
    return bias, nonlinear, binary, runs


def test_emi_claims_verdicts_follow_the_tables():
    rows = emi_runs.emi_claims(*_emi_frames(), toy_mi=1.7, seeds=[0, 1], d=4, jmi_paper_gap=88.3)
    assert _verdicts(rows) == {"emi-exact-gaussian": "holds", "emi-invariance": "does not hold",
                               "emi-measures-mi": "does not hold", "emi-toy-ceiling": "does not hold",
                               "emi-toy-geometry": "does not hold"}
    assert "N=8192: at most 0.020 nats" in rows[0].ours and "88.3°" in rows[4].paper
    # an objective under the ceiling and a geometry that matches JMI's turn the last two verdicts
    rows = emi_runs.emi_claims(*_emi_frames(objective=1.0, jmi_gap=61.0), toy_mi=1.7, seeds=[0, 1], d=4,
                               jmi_paper_gap=88.3)
    assert _verdicts(rows)["emi-toy-ceiling"] == "holds" and _verdicts(rows)["emi-toy-geometry"] == "holds"


# ------------------------------------------------------------------------------------ chapter 07: Table 1
def _probe_grid(sdmi_lead: float = 0.0) -> pd.DataFrame:
    per_seed = {"random init": (70.0, 71.0, 69.0), "supervised": (90.0, 91.0, 92.0),
                "sdmi": (83.0, 84.0, 82.0), "simsiam": (68.0, 70.0, 67.0), "byol": (80.0, 81.0, 79.0),
                "jmi": (81.0, 83.0, 82.0), "simclr": (79.0, 80.0, 81.0)}
    paradigm = {"random init": "baseline", "supervised": "baseline", "jmi": "JMI", "simclr": "JMI"}
    return pd.DataFrame([{"method": m, "encoder": "f", "title": m, "paradigm": paradigm.get(m, "SDMI"), "seed": s,
                          "top1": v + (sdmi_lead if m == "sdmi" else 0.0)}
                         for m, vals in per_seed.items() for s, v in enumerate(vals)])


def test_table1_evidence_and_claims():
    grid = _probe_grid()
    ev = table1.evidence(grid, probing.gain_table(grid))
    # ceiling - floor per seed: 20, 20, 23 -> mean 21
    assert ev.window.mean == pytest.approx(21.0) and len(ev.to_ceiling) == 5 and max(ev.to_ceiling) < 0
    assert ev.simsiam.gain == pytest.approx(-5 / 3) and ev.facts["simsiam_gain"].startswith("-1.7 [")
    assert ev.facts["best"] == "SDMI prototype" and ev.facts["n_rows"] == 5
    assert ev.facts["n_behind"] + ev.facts["n_tie"] >= 1  # SimSiam
    assert set(ev.facts) >= {"window", "paper_best", "paradigms", "sdmi_vs_field", "paper_c10_lo"}
    rows = table1.claims(ev, "test setting", [0, 1, 2], n_recorded=0)
    assert _verdicts(rows) == {"table1_no_single_best": "holds", "table1_paradigms": "holds",
                               "table1_prototypes": "holds", "table1_image_scale": "not testable here"}
    assert rows[0].setting == "test setting" and rows[3].seeds == ()
    lead = table1.evidence(_probe_grid(15.0), probing.gain_table(_probe_grid(15.0)))
    assert _verdicts(table1.claims(lead, "s", [0, 1, 2], 0))["table1_no_single_best"] == "does not hold"
    no_ceiling = grid[grid.method != "supervised"]
    ev = table1.evidence(no_ceiling, probing.gain_table(no_ceiling))
    assert ev.window is None and ev.to_ceiling == [] and ev.facts["window"] == "None"


# ------------------------------------------------------------------------------------ chapter 08: ablations
def _ablation_grid(nodv_pred_rank: float = 1.0, nodv_pred_top1: float = 60.0, epochs: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    spec = {  # method: (top1, effective rank) around which five seeds scatter
        "random init": (55.0, 20.0), "sdmi": (75.0, 20.0), "sdmi_nodv": (50.0, 1.2),
        "sdmi_nodv_pred": (nodv_pred_top1, nodv_pred_rank), "simsiam": (70.0, 10.0),
        "simsiam_nopred": (45.0, 1.0), "simsiam_sdmi": (74.0, 25.0)}
    rows = []
    for m, (top1, rank) in spec.items():
        for e in ("fg" if m.startswith("sdmi") else "f"):
            for s in range(5):
                jitter = rng.normal(0, 0.3)
                rows.append({"method": m, "encoder": e, "seed": s, "train_epochs": epochs, "top1": top1 + jitter,
                             "z_top1": top1 - 5 + jitter, "effective_rank": rank * (1 + 0.01 * jitter),
                             "std_ratio": 0.95})
    return pd.DataFrame(rows)


def test_ablation_evidence_budgets_and_claims():
    grid = _ablation_grid()
    ev = ablations.evidence(grid)
    assert ev.verdicts == {"nodv_collapses": True, "nodv_pred_recovers": False, "nopred_collapses": True,
                           "ss_sdmi_recovers": True}
    assert ev.rank("sdmi", "g") == pytest.approx(20.0, rel=0.01) and "rank_random init_f" not in ev.ranks
    assert ev.paired["top1_sdmi_nodv_sdmi_f"].mean == pytest.approx(-25.0, abs=0.5) and ev.std_min == 0.95
    assert ev.facts()["paper_ss_gap"] == pytest.approx(88.43 - 89.68)
    assert isinstance(ev.facts()["top1_sdmi_nodv_sdmi_g"], str)
    longer = _ablation_grid(nodv_pred_rank=19.0, nodv_pred_top1=76.0, epochs=30)
    budgets = ablations.budget_recovery(pd.concat([grid, longer]), [3, 30])
    assert budgets.recovered == {3: False, 30: True} and "at 30 epochs" in budgets.text
    assert budgets.per_budget[30]["g"][1] == pytest.approx(0.95, abs=0.02)
    rows = ablations.claims(ev, budgets, 3, "test", [0, 1, 2, 3, 4])
    assert _verdicts(rows) == {"sdmi_nodv_collapses": "holds", "sdmi_nodv_pred_recovers": "holds under stated setting",
                               "simsiam_nopred_collapses": "holds", "simsiam_sdmi_recovers": "holds"}
    assert "recovered at [30]" in rows[1].setting
    only_main = ablations.claims(ev, ablations.budget_recovery(grid, [3]), 3, "test", range(5))
    assert _verdicts(only_main)["sdmi_nodv_pred_recovers"] == "does not hold"
    recovered = ablations.evidence(_ablation_grid(nodv_pred_rank=19.0, nodv_pred_top1=76.0))
    assert recovered.verdicts["nodv_pred_recovers"] and not math.isnan(recovered.rank("sdmi_nodv_pred"))
