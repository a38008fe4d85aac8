"""Seed statistics against hand computations, and the claim records' round trip and checks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from mi_ssl import claims, stats


def test_summary_by_hand() -> None:
    s = stats.summarize([1.0, 2.0, 3.0, 4.0])
    assert s.mean == 2.5 and s.n == 4
    assert s.sd == pytest.approx(math.sqrt(5 / 3))
    half = 3.182446305284263 * math.sqrt(5 / 3) / 2          # t_{0.975, 3} * sd / sqrt(n)
    assert (s.low, s.high) == pytest.approx((2.5 - half, 2.5 + half))
    assert stats.population_sd([1.0, 2.0, 3.0, 4.0]) == pytest.approx(math.sqrt(1.25))


def test_one_seed_has_no_interval() -> None:
    s = stats.summarize([7.0])
    assert s.sd == 0.0 and math.isnan(s.low) and math.isnan(s.high)
    assert stats.verdict(stats.paired([1.0], [0.0])) == "tie"


def test_interval_covers_at_its_level() -> None:
    rng = np.random.default_rng(0)
    cover = 0
    for _ in range(2000):
        s = stats.summarize(rng.normal(3.0, 2.0, 5))
        cover += s.low <= 3.0 <= s.high
    assert 0.93 < cover / 2000 < 0.97


def test_paired_removes_shared_variation() -> None:
    base = np.array([10.0, 50.0, 90.0, 30.0, 70.0])               # huge seed-to-seed spread
    a, b = base + 1.0, base                                        # a is always exactly one ahead
    p = stats.paired(a, b)
    assert p.mean == pytest.approx(1.0) and p.wins == 5 and p.losses == 0
    assert stats.verdict(p, "a", "b") == "a > b"
    assert stats.verdict(stats.paired(b, a), "b", "a") == "b < a"
    # unpaired, the same data is a tie: the interval of each mean is wide
    assert stats.summarize(a).low < stats.summarize(b).high
    t = st.ttest_rel(a + np.array([0, 0.1, -0.1, 0.05, 0]), b)
    assert t.pvalue < 0.05


def test_paired_tie_threshold_and_bad_input() -> None:
    p = stats.paired([1.0, 2.0, 3.0], [1.05, 1.0, 3.0], tie=0.1)
    assert (p.wins, p.losses, p.ties) == (1, 0, 2)
    with pytest.raises(ValueError, match="one value per seed"):
        stats.paired([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="non-finite"):
        stats.summarize([1.0, float("nan")])
    with pytest.raises(ValueError, match="empty"):
        stats.summarize([])


def test_seed_table() -> None:
    f = pd.DataFrame({"method": ["a"] * 3 + ["b"] * 2, "seed": [0, 1, 2, 0, 1], "gap": [1.0, 2.0, 3.0, 5.0, 5.0]})
    t = stats.seed_table(f, "method", "gap").set_index("method")
    assert t.loc["a", "mean"] == 2.0 and t.loc["a", "sd"] == 1.0 and t.loc["b", "sd"] == 0.0
    assert (t.loc["a", "min"], t.loc["a", "max"], t.loc["b", "n"]) == (1.0, 3.0, 2)


def test_claims_round_trip(tmp_path) -> None:
    c = [claims.Claim("jmi_gap", "JMI separates best", "88.3° (Table 2)", "85 ± 7", "tie", "tau=0.5", "table-2",
                      (0, 1, 2))]
    claims.record("04_toy", c, tmp_path)
    f = claims.load(tmp_path, expect=["04_toy"])
    assert f.loc[0, "verdict"] == "tie" and list(f.loc[0, "seeds"]) == [0, 1, 2]
    t = claims.verdict_table(f)
    assert 'href="04_toy.html#table-2"' in t.loc[0, "chapter"] and t.loc[0, "seeds"] == "0, 1, 2"
    with pytest.raises(FileNotFoundError, match="07_probe"):
        claims.load(tmp_path, expect=["04_toy", "07_probe"])


def test_claims_refuse_bad_records(tmp_path) -> None:
    with pytest.raises(ValueError, match="verdict='maybe'"):
        claims.Claim("k", "c", "p", "o", "maybe")
    c = claims.Claim("k", "c", "p", "o", "holds")
    with pytest.raises(ValueError, match="unique"):
        claims.record("x", [c, c], tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        claims.load(tmp_path)


def test_verdict_from_names_the_three_outcomes() -> None:
    assert claims.verdict_from(True) == "holds" and claims.verdict_from(True, under_stated_setting=True) == "holds"
    assert claims.verdict_from(False, under_stated_setting=True) == "holds under stated setting"
    assert claims.verdict_from(False) == "does not hold"
    assert {claims.verdict_from(h, u) for h in (True, False) for u in (True, False)} <= set(claims.VERDICTS)
