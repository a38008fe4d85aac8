"""Statistics over seeds: what a comparison between methods is allowed to say.

A number from one training run is one draw from a distribution over seeds (data, initialisation, views).
The chapters report every comparison through these functions:

* :func:`summarize` — mean, standard deviation (``ddof=1``), a Student-t 95 % interval of the mean, and
  the per-seed values themselves (a mean hides a bimodal outcome; figures draw the points).
* :func:`paired` — a paired comparison of two methods run on the same seeds (same data, same views): the
  mean difference, its t-interval, and how many seeds each side wins. Pairing removes the seed-to-seed
  variation both methods share.
* :func:`verdict` — the three-way reading of a paired interval: ``"a > b"``, ``"a < b"`` or ``"tie"``.

Intervals are t-intervals (exact for normal data, conservative enough at the 5-10 seeds a chapter runs);
with one seed there is no interval and the functions say so (``nan`` bounds) rather than invent one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

__all__ = ["Summary", "Paired", "summarize", "paired", "verdict", "seed_table", "population_sd"]


@dataclass(frozen=True)
class Summary:
    """Mean, sample sd (``ddof=1``), t-interval of the mean at ``level`` and the values, over ``n`` seeds."""

    n: int
    mean: float
    sd: float
    low: float
    high: float
    values: tuple[float, ...]
    level: float = 0.95

    def __str__(self) -> str:
        return f"{self.mean:.1f} ± {self.sd:.1f} (95% CI {self.low:.1f}–{self.high:.1f}, n={self.n})"


@dataclass(frozen=True)
class Paired:
    """``a - b`` seed by seed: mean difference with its t-interval, and the counts of seeds won and tied."""

    n: int
    mean: float
    low: float
    high: float
    wins: int
    losses: int
    ties: int
    level: float = 0.95

    def __str__(self) -> str:
        return (f"{self.mean:+.1f} (95% CI {self.low:+.1f} to {self.high:+.1f}; "
                f"{self.wins}/{self.n} seeds ahead, {self.losses} behind)")


def _values(values: Sequence[float] | np.ndarray | pd.Series, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError(f"{name} is empty; a summary over seeds needs at least one value")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} contains non-finite values: {v.tolist()}")
    return v


def _t_interval(v: np.ndarray, level: float) -> tuple[float, float]:
    if v.size < 2:
        return math.nan, math.nan
    half = _st.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
    return float(v.mean() - half), float(v.mean() + half)


def summarize(values: Sequence[float] | np.ndarray | pd.Series, level: float = 0.95) -> Summary:
    """Mean ± sd (``ddof=1``) and the t-interval of the mean over seeds; ``nan`` interval for one seed."""
    v = _values(values, "values")
    low, high = _t_interval(v, level)
    sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return Summary(int(v.size), float(v.mean()), sd, low, high, tuple(float(x) for x in v), level)


def paired(a: Sequence[float] | np.ndarray | pd.Series, b: Sequence[float] | np.ndarray | pd.Series, *,
           level: float = 0.95, tie: float = 0.0) -> Paired:
    """Paired difference ``a - b`` over the same seeds (same order); a seed with ``|a - b| <= tie`` is a tie."""
    va, vb = _values(a, "a"), _values(b, "b")
    if va.shape != vb.shape:
        raise ValueError(f"a and b must hold one value per seed each; got {va.size} and {vb.size} values")
    d = va - vb
    low, high = _t_interval(d, level)
    wins, losses = int((d > tie).sum()), int((d < -tie).sum())
    return Paired(int(d.size), float(d.mean()), low, high, wins, losses, int(d.size) - wins - losses, level)


def verdict(p: Paired, a: str = "a", b: str = "b") -> str:
    """``"a > b"`` when the paired interval lies above 0, ``"a < b"`` below 0, ``"tie"`` when it holds 0."""
    if math.isnan(p.low):
        return "tie"
    if p.low > 0:
        return f"{a} > {b}"
    if p.high < 0:
        return f"{a} < {b}"
    return "tie"


def seed_table(frame: pd.DataFrame, by: str | list[str], value: str, level: float = 0.95) -> pd.DataFrame:
    """One row per group of ``frame`` (one row per seed): n, mean, sd, t-interval low/high, min, max."""
    rows = []
    for key, g in frame.groupby(by, sort=False):
        s = summarize(g[value], level)
        keys = key if isinstance(key, tuple) else (key,)
        names = by if isinstance(by, list) else [by]
        rows.append({**dict(zip(names, keys)), "n": s.n, "mean": s.mean, "sd": s.sd, "ci_low": s.low,
                     "ci_high": s.high, "min": min(s.values), "max": max(s.values)})
    return pd.DataFrame(rows)


def population_sd(values: Sequence[float] | np.ndarray) -> float:
    """Standard deviation with ``ddof=0`` (the spread of a finite set of numbers, e.g. five NN angles)."""
    return float(_values(values, "values").std(ddof=0))
