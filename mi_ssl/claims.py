"""The paper's claims and what the chapters found: one small machine-readable record per chapter.

A chapter that tests a claim of the paper ends by calling :func:`record` with one :class:`Claim` per claim:
the paper's statement and number (with its table/figure/equation), ours with its interval over seeds, the
verdict, the setting it was tested in and the seeds. The page "Which of the paper's claims hold" renders
every record with :func:`load` and :func:`verdict_table`; nothing on that page is typed by hand.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from .util import atomic_write, git_commit

__all__ = ["VERDICTS", "verdict_from", "Claim", "record", "load", "verdict_table", "DEFAULT_DIR"]

#: The words a verdict may use, in the order the verdict page sorts them.
VERDICTS = ("holds", "holds under stated setting", "tie", "does not hold", "not testable here")

#: Where chapters write their records, relative to the book's folder (the chapters' working directory).
DEFAULT_DIR = "_claims"


def verdict_from(holds: bool, under_stated_setting: bool = False) -> str:
    """``"holds"`` when the claim holds as the paper states it; else ``"holds under stated setting"`` when it holds
    only under the setting the claim names; else ``"does not hold"``."""
    if holds:
        return "holds"
    return "holds under stated setting" if under_stated_setting else "does not hold"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper and its test here.

    ``key`` is unique within the chapter; ``anchor`` is the label of the chapter section that tests it;
    ``paper`` quotes the paper's number with its source (e.g. ``"88.3° (Table 2)"``); ``ours`` is our
    estimate with its interval over ``seeds``; ``setting`` says what the verdict is conditional on.
    """

    key: str
    claim: str
    paper: str
    ours: str
    verdict: str
    setting: str = ""
    anchor: str = ""
    seeds: tuple[int, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict={self.verdict!r} is not allowed; use one of {', '.join(VERDICTS)}")
        if not self.key or not self.claim:
            raise ValueError("a claim needs a non-empty key and claim text")


def record(chapter: str, claims: Sequence[Claim], directory: str | Path = DEFAULT_DIR) -> Path:
    """Write ``directory/<chapter>.json`` (atomically) with the chapter's claims and the commit; returns the path."""
    keys = [c.key for c in claims]
    if len(set(keys)) != len(keys):
        raise ValueError(f"claim keys must be unique within chapter {chapter!r}; got {keys}")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{chapter}.json"
    blob = {"chapter": chapter, "commit": git_commit(), "claims": [asdict(c) for c in claims]}
    atomic_write(path, lambda p: p.write_text(json.dumps(blob, indent=1)))
    return path


def load(directory: str | Path = DEFAULT_DIR, expect: Sequence[str] = ()) -> pd.DataFrame:
    """Every chapter record under ``directory`` as one frame (one row per claim).

    ``expect`` names chapters that must have a record; a missing one is an error that says to run it first.
    """
    d = Path(directory)
    files = sorted(d.glob("*.json")) if d.is_dir() else []
    have = {f.stem for f in files}
    missing = [c for c in expect if c not in have]
    if missing:
        raise FileNotFoundError(f"no claim record for chapter(s) {', '.join(missing)} in {d}/: run those chapters "
                                f"first (the book builds them in order)")
    rows = []
    for f in files:
        try:
            blob = json.loads(f.read_text())
            rows += [{"chapter": blob["chapter"], "commit": blob.get("commit", ""), **c} for c in blob["claims"]]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"{f} is not a claim record written by mi_ssl.claims.record ({e})") from None
    return pd.DataFrame(rows, columns=["chapter", "commit", *Claim.__dataclass_fields__])


def verdict_table(frame: pd.DataFrame, link: bool = True) -> pd.DataFrame:
    """The verdict page's table: chapter, claim, paper, ours, verdict, setting; the chapter linked to its section."""
    out = frame.copy()
    if link:
        out["chapter"] = [f'<a href="{c}.html{"#" + a if a else ""}">{c.split("_", 1)[0]}</a>'
                          for c, a in zip(out.chapter, out.anchor)]
    out["seeds"] = [", ".join(map(str, s)) if len(s) else "-" for s in out.seeds]
    return out[["chapter", "claim", "paper", "ours", "verdict", "setting", "seeds"]]
