"""One study repeated over a list of seeds, as one table (the chapters report every sampled claim over seeds).

A *study* is a function of ``seed=`` (and keyword settings) that returns a ``pandas.DataFrame`` or a mapping of
numbers; :func:`over_seeds` calls it once per seed and stacks the results with a leading ``seed`` column, so a
chapter can summarise any column per seed with :func:`mi_ssl.stats.summarize` or assert a claim on every seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from ..checks import check_int
from ..stats import summarize

__all__ = ["over_seeds", "seed_interval"]


def over_seeds(study: Callable[..., pd.DataFrame | Mapping[str, Any]], seeds: Iterable[int], **kwargs: Any
               ) -> pd.DataFrame:
    """``study(seed=s, **kwargs)`` for each ``s`` in ``seeds``, stacked: one block of rows per seed.

    A DataFrame result keeps its rows (a ``seed`` column is put first); a mapping becomes one row. Seeds must be
    distinct integers ``>= 0``; the order of ``seeds`` is kept.
    """
    seeds = [check_int(s, "seeds[...]", 0) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds!r} must be a non-empty list of distinct integers")
    parts = []
    for s in seeds:
        out = study(seed=s, **kwargs)
        if isinstance(out, pd.DataFrame):
            frame = out.copy()
        elif isinstance(out, Mapping):
            frame = pd.DataFrame([dict(out)])
        else:
            raise TypeError(f"study must return a DataFrame or a mapping; {getattr(study, '__name__', study)!r} "
                            f"returned {type(out).__name__}")
        frame.insert(0, "seed", s)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def seed_interval(values: Iterable[float], digits: int = 2, unit: str = "") -> str:
    """Text for a value measured on each seed: ``"0.09 (95 % CI 0.06 to 0.11, 5 seeds)"``.

    Mean and Student-t interval from :func:`mi_ssl.stats.summarize`; with one seed only the value and ``"1 seed"``.
    ``unit`` is appended to each number (e.g. ``"°"``).
    """
    digits = check_int(digits, "digits", 0)
    s = summarize(list(values))
    f = lambda x: f"{x:.{digits}f}{unit}"  # noqa: E731
    if s.n == 1:
        return f"{f(s.mean)} (1 seed)"
    return f"{f(s.mean)} (95 % CI {f(s.low)} to {f(s.high)}, {s.n} seeds)"
