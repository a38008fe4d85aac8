"""A run directory: what one run of :func:`mi_ssl.training.fit` leaves on disk, and how it is read back.

::

    DIR/config.json      the resolved TrainConfig (written when the run starts)
    DIR/history.csv      one row per epoch (rewritten after every epoch)
    DIR/summary.json     final numbers, config and provenance (``mi-ssl probe`` adds "probe")
    DIR/checkpoint.pt    learner, optimisers, history and callback records at the last saved epoch
    DIR/probes.json      cached probe reports (:func:`mi_ssl.probing.probe_fit`)

Every file is written atomically (:func:`mi_ssl.util.atomic_write`): a reader, or a run killed mid-write,
sees the old file or the new one, never a part. A checkpoint holds tensors and plain data (the config as
a dict, lists of dicts), so it loads without the code that wrote it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from .config import TrainConfig
from .data import load_dataset
from .learners import build_learner
from .paradigms import Learner
from .util import atomic_write

__all__ = ["RunDir", "load_run", "CHECKPOINT", "HISTORY", "SUMMARY", "CONFIG"]

CHECKPOINT = "checkpoint.pt"
HISTORY = "history.csv"
SUMMARY = "summary.json"
CONFIG = "config.json"
#: format of checkpoint.pt; bumped when its keys change
CHECKPOINT_VERSION = 1
#: config fields a resumed run must share with its checkpoint
_RESUME_KEYS = ("method", "dataset", "seed")


class RunDir:
    """The files of one run in ``path``; ``path=None`` is a run kept in memory (every write is skipped).

    ``writes=False`` (the ranks other than 0 under ``torchrun``) reads but never writes. The epoch of the
    last checkpoint saved or resumed from is ``checkpoint_epoch`` (``None``: none yet).
    """

    def __init__(self, path: str | Path | None, *, writes: bool = True) -> None:
        self.path = Path(path) if path is not None else None
        self.writes = writes and self.path is not None
        self.checkpoint_epoch: int | None = None

    def create(self) -> RunDir:
        """Make the directory (with its parents) if it does not exist yet."""
        if self.path is not None:
            self.path.mkdir(parents=True, exist_ok=True)
        return self

    def __repr__(self) -> str:
        return f"RunDir({str(self.path) if self.path else None!r})"

    def file(self, name: str) -> Path:
        """``path / name``; a run without a directory has no files."""
        if self.path is None:
            raise ValueError(f"this run has no directory (out=None), so it has no {name}")
        return self.path / name

    # ------------------------------------------------------------------ json, csv
    def read_json(self, name: str) -> dict[str, Any]:
        """The object stored in ``name`` (``{}`` if there is no such file)."""
        if self.path is None or not (self.path / name).exists():
            return {}
        return json.loads((self.path / name).read_text())

    def write_json(self, name: str, obj: Any) -> None:
        """Store ``obj`` in ``name`` as indented JSON (anything JSON cannot hold is written as ``str``)."""
        if self.writes:
            text = json.dumps(obj, indent=2, default=str)
            atomic_write(self.file(name), lambda p: p.write_text(text))

    def write_config(self, config: TrainConfig) -> None:
        """Store the resolved config in ``config.json``."""
        self.write_json(CONFIG, dataclasses.asdict(config))

    def write_history(self, rows: list[dict[str, Any]]) -> None:
        """Store the per-epoch rows in ``history.csv``."""
        if self.writes:
            atomic_write(self.file(HISTORY), lambda p: pd.DataFrame(rows).to_csv(p, index=False))

    def write_summary(self, summary: dict[str, Any], *, keep: tuple[str, ...] = ()) -> None:
        """Store ``summary`` in ``summary.json``, carrying over the ``keep`` keys of the summary there now."""
        old = self.read_json(SUMMARY) if keep else {}
        self.write_json(SUMMARY, {**{k: v for k, v in old.items() if k in keep}, **summary})

    # ------------------------------------------------------------------ checkpoint
    def has_checkpoint(self) -> bool:
        return self.path is not None and (self.path / CHECKPOINT).exists()

    def save_checkpoint(self, config: TrainConfig, epoch: int, learner: Learner,
                        optimizers: dict[str, torch.optim.Optimizer], history: list[dict[str, Any]],
                        records: list[dict[str, Any]], input_shape: tuple[int, ...]) -> None:
        """Everything needed to continue after ``epoch`` (the run's randomness is a function of the epoch)."""
        if not self.writes:
            return
        state = {"config": dataclasses.asdict(config), "epoch": epoch, "learner": learner.state_dict(),
                 "optimizers": {ph: o.state_dict() for ph, o in optimizers.items()},
                 "history": history, "records": records, "input_shape": list(input_shape),
                 "mi_ssl_version": CHECKPOINT_VERSION}
        atomic_write(self.file(CHECKPOINT), lambda p: torch.save(state, p))
        self.checkpoint_epoch = epoch

    def load_checkpoint(self, device: torch.device | str = "cpu") -> dict[str, Any]:
        """The checkpoint's state, tensors on ``device``."""
        path = self.file(CHECKPOINT)
        if not path.exists():
            raise FileNotFoundError(f"no checkpoint at {path}; is {self.path} a directory written by `mi-ssl train`?")
        return torch.load(path, map_location=device, weights_only=False)

    def resume(self, config: TrainConfig, learner: nn.Module, optimizers: dict[str, torch.optim.Optimizer],
               device: torch.device) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        """Load the checkpoint into ``learner`` and ``optimizers``: ``(epoch, history, records)`` it ended at;
        ``(0, [], [])`` without a checkpoint. A checkpoint of another method, data set or seed is refused."""
        if self.path is None:
            raise ValueError("resume=True needs a run directory (out=...)")
        if not self.has_checkpoint():
            return 0, [], []
        state = self.load_checkpoint(device)
        for key in _RESUME_KEYS:
            if state["config"][key] != getattr(config, key):
                raise ValueError(f"cannot resume: checkpoint has {key}={state['config'][key]!r}, config has "
                                 f"{key}={getattr(config, key)!r}")
        learner.load_state_dict(state["learner"])
        for ph, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][ph])
        self.checkpoint_epoch = state["epoch"]
        return state["epoch"], state["history"], state["records"]

    def describe_checkpoint(self) -> str:
        """Where the last good checkpoint is, for error messages."""
        if self.path is None:
            return "none (no out=)"
        if self.checkpoint_epoch is None:
            return f"none yet in {self.path}"
        return f"{self.path / CHECKPOINT} (epoch {self.checkpoint_epoch})"


def load_run(run_dir: str | Path, device: str = "cpu") -> tuple[TrainConfig, Learner, dict[str, Any]]:
    """Load a finished (or interrupted) run: its config, learner (eval mode) and checkpoint state."""
    state = RunDir(run_dir, writes=False).load_checkpoint(device)
    cfg = TrainConfig(**state["config"])
    shape = state.get("input_shape")  # written by every checkpoint; the data set is only read if it is missing
    if shape is None:
        shape = load_dataset(cfg.dataset, cfg.data_dir, seed=cfg.seed).input_shape
    learner = build_learner(cfg, tuple(shape))
    learner.load_state_dict(state["learner"])
    learner.eval()
    return cfg, learner, state

