"""Recorded paper-scale runs: the JSON records under ``benchmarks/results/paper_runs/`` that the linear-probing
chapter shows beside its CPU table.

A record is a run's ``summary.json`` (or any object) that states where its number comes from —
:data:`PAPER_RUN_FIELDS` — at its top level or in its ``provenance`` block; a number without its device,
commit and command is refused, not shown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["PAPER_RUN_FIELDS", "default_paper_runs_dir", "load_paper_runs"]

#: What a recorded paper-scale run (``benchmarks/results/paper_runs/*.json``) must state: the fields are read
#: from the top level or from its ``provenance`` block (``command`` also from a ``"Command: ..."`` in its ``note``).
PAPER_RUN_FIELDS: tuple[str, ...] = ("method", "dataset", "epochs", "device", "commit", "command")

_COLUMNS = [*PAPER_RUN_FIELDS, "synthetic", "top1", "seconds_per_epoch", "peak_memory_gib", "file"]


def default_paper_runs_dir(start: str | Path | None = None) -> Path | None:
    """``benchmarks/results/paper_runs`` in ``start`` (default: the working directory) or its nearest parent."""
    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        cand = d / "benchmarks" / "results" / "paper_runs"
        if cand.is_dir():
            return cand
    return None


def _run_field(rec: dict[str, Any], name: str) -> Any:
    prov = rec.get("provenance") if isinstance(rec.get("provenance"), dict) else {}
    if rec.get(name) is not None:
        return rec[name]
    if prov.get(name) is not None:
        return prov[name]
    if name == "command":
        for text in (rec.get("note"), prov.get("note")):
            if isinstance(text, str) and "Command:" in text:
                return text.split("Command:", 1)[1].strip()
    return None


def _run_top1(rec: dict[str, Any]) -> float:
    if rec.get("top1") is not None:
        return float(rec["top1"])
    probe = rec.get("probe")
    if isinstance(probe, dict):
        tops = [v["top1"] for v in probe.values() if isinstance(v, dict) and "top1" in v]
        if tops:
            return float(tops[0])
    return float("nan")


def _row(rec: dict[str, Any], path: Path) -> dict[str, Any]:
    fields = {f: _run_field(rec, f) for f in PAPER_RUN_FIELDS}
    missing = [f for f, v in fields.items() if v is None]
    if missing:
        raise ValueError(f"{path}: a recorded run must state {', '.join(PAPER_RUN_FIELDS)} (top level "
                         f"or provenance); missing: {', '.join(missing)}")
    synthetic = bool(rec.get("synthetic", False))
    return {**fields, "synthetic": synthetic, "top1": float("nan") if synthetic else _run_top1(rec),
            "seconds_per_epoch": rec.get("seconds_per_epoch", float("nan")),
            "peak_memory_gib": rec.get("peak_memory_gib", float("nan")), "file": path.name}


def load_paper_runs(directory: str | Path | None) -> pd.DataFrame:
    """Recorded paper-scale runs: one row per record of every ``*.json`` in ``directory``.

    A file holds one record (an object, e.g. a run's ``summary.json`` with its ``provenance``) or a list.
    Every record must state :data:`PAPER_RUN_FIELDS`; one that does not is refused with a ``ValueError``
    naming the file and what is missing. Columns: the fields, ``synthetic`` (the record says its data were
    random, so its accuracy means nothing), ``top1`` (linear probe, %; NaN where none was recorded and always
    NaN for synthetic data), ``seconds_per_epoch``, ``peak_memory_gib``, ``file``. A missing or empty directory
    gives an empty table.
    """
    rows: list[dict[str, Any]] = []
    if directory is not None and Path(directory).is_dir():
        for path in sorted(Path(directory).glob("*.json")):
            blob = json.loads(path.read_text())
            rows.extend(_row(rec, path) for rec in (blob if isinstance(blob, list) else [blob]))
    df = pd.DataFrame(rows, columns=_COLUMNS)
    return df.astype({"synthetic": bool, "top1": float, "seconds_per_epoch": float, "peak_memory_gib": float})
