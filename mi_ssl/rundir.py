"""A run directory: what one run of :func:`mi_ssl.training.fit` leaves on disk, who may write it, and how
it is read back.

::

    DIR/config.json      the resolved TrainConfig (written when each session of the run starts)
    DIR/history.csv      one row per epoch (rewritten after every epoch)
    DIR/summary.json     final numbers, config and provenance (``mi-ssl probe`` adds "probe")
    DIR/checkpoint.pt    learner, optimisers, history and callback records at the last saved epoch
    DIR/checkpoint.json  what the checkpoint holds, as JSON: epoch, input shape, data fingerprint, schedule
    DIR/probes.json      cached probe reports (:func:`mi_ssl.probing.probe_fit`)
    DIR/tb/              TensorBoard event files (``logger="tensorboard"``)
    DIR/.lock            held (``flock``) by the one process writing the run

**One directory, one run.** :meth:`RunDir.claim` is called before anything is written: an empty (or new)
directory starts a run; a non-empty one needs ``resume`` (continue the run there, with the same settings:
:func:`resume_conflicts`) or ``overwrite`` (delete that run's files first); a second writer is stopped by the
lock. The lock is an advisory ``flock`` that the kernel drops when its process ends, however it ends
(``kill -9`` included), so a ``.lock`` left behind never blocks the next run.

**Safe files.** Every file is written atomically (:func:`mi_ssl.util.atomic_write`): a reader, or a run killed
mid-write, sees the old file or the new one, never a part. A checkpoint holds tensors and plain data only
(the config as a dict, lists of dicts) and is read with ``torch.load(weights_only=True)``: loading a run
someone sent you runs no code from it. A file that is not what it should be raises
:class:`~mi_ssl.errors.CheckpointError` naming it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
import socket
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from .config import TrainConfig
from .data import load_dataset
from .errors import CheckpointError, RunDirError
from .learners import build_learner
from .paradigms import Learner
from .util import atomic_write

__all__ = ["RunDir", "load_run", "resume_conflicts", "RESUME_FREE", "CHECKPOINT", "CHECKPOINT_META", "HISTORY",
           "SUMMARY", "CONFIG", "PROBES", "TENSORBOARD", "LOCK"]

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_META = "checkpoint.json"
HISTORY = "history.csv"
SUMMARY = "summary.json"
CONFIG = "config.json"
PROBES = "probes.json"
TENSORBOARD = "tb"
LOCK = ".lock"
#: the files (and the folder) a run writes; ``overwrite`` deletes these and nothing else
RUN_FILES = (CHECKPOINT, CHECKPOINT_META, HISTORY, SUMMARY, CONFIG, PROBES, TENSORBOARD)
#: format of checkpoint.pt; bumped when its keys change
CHECKPOINT_VERSION = 1
_CHECKPOINT_KEYS = ("config", "epoch", "learner", "optimizers", "history", "records")

#: Config fields that a resumed run may change; every other field defines the run and must be the same.
#: Why each is free:
#:
#: * ``device``, ``amp``, ``channels_last``: where and in which arithmetic the steps run. The run can move
#:   between machines; the bit-for-bit equality of a resumed run holds on the same device only.
#: * ``compile``, ``compile_views``: ``torch.compile`` computes the same step and the same views.
#: * ``checkpoint_every``: how often the state is saved, not what it is.
#: * ``track_every``: on which epochs the MI is estimated (on fixed held-out views; the estimate draws no
#:   training randomness), so only which history rows hold numbers changes. ``track_n`` and ``track_tau``
#:   are *not* free: they change what the MI columns measure, and one curve must measure one thing.
#: * ``eval_every``, ``eval_probe``: the online evaluation reads frozen features; it changes no weight.
#: * ``logger``: where the history rows are mirrored.
#: * ``data_dir``: where the data files are; the data themselves must be the same (their fingerprint,
#:   stored in the checkpoint, is compared).
#: * ``profile``: only chooses defaults; every field it sets is compared itself.
#:
#: ``epochs`` is compared by its own rule: a larger value extends the run (``extend=True``,
#: :func:`mi_ssl.training.fit` says how the schedule continues); a smaller one is refused.
RESUME_FREE = ("device", "amp", "channels_last", "compile", "compile_views", "checkpoint_every", "track_every",
               "eval_every", "eval_probe", "logger", "data_dir", "profile")
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def resume_conflicts(stored: dict[str, Any], config: TrainConfig) -> list[str]:
    """The run-defining fields (all but :data:`RESUME_FREE` and ``epochs``) where ``config`` differs from the
    run's ``stored`` config, as ``"name old -> new"`` (a field missing from an older run's config counts
    with its default)."""
    out = []
    for f in dataclasses.fields(TrainConfig):
        if f.name in RESUME_FREE or f.name == "epochs":
            continue
        old, new = stored.get(f.name, _DEFAULTS[f.name]), getattr(config, f.name)
        if old != new:
            out.append(f"{f.name} {old!r} -> {new!r}")
    return out


class RunDir:
    """The files of one run in ``path``; ``path=None`` is a run kept in memory (every write is skipped).

    ``writes=False`` (the ranks other than 0 under ``torchrun``) reads but never writes or locks. The epoch
    of the last checkpoint saved or resumed from is ``checkpoint_epoch`` (``None``: none yet).
    """

    def __init__(self, path: str | Path | None, *, writes: bool = True) -> None:
        self.path = Path(path) if path is not None else None
        self.writes = writes and self.path is not None
        self.checkpoint_epoch: int | None = None
        self._lock_fd: int | None = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path) if self.path else None!r})"

    def create(self) -> RunDir:
        """Make the directory (with its parents) if it does not exist yet."""
        if self.path is not None:
            if self.path.exists() and not self.path.is_dir():
                raise RunDirError(f"out={str(self.path)!r} is a file, not a directory; give a directory for the run")
            self.path.mkdir(parents=True, exist_ok=True)
        return self

    def file(self, name: str) -> Path:
        """``path / name``; a run without a directory has no files."""
        if self.path is None:
            raise ValueError(f"this run has no directory (out=None), so it has no {name}")
        return self.path / name

    # ------------------------------------------------------------------ one run, one writer
    def claim(self, config: TrainConfig, *, resume: bool = False, overwrite: bool = False,
              extend: bool = False) -> None:
        """Make the directory, take its lock and check that ``config`` may be trained into it.

        * empty or new: any config;
        * ``overwrite``: the files of the run there (:data:`RUN_FILES`) are deleted first; a directory that
          also holds other files is refused (``overwrite`` never deletes what a run did not write);
        * ``resume``: the run there must have the same run-defining settings (:func:`resume_conflicts`);
          a larger ``epochs`` needs ``extend``, a smaller one is refused;
        * otherwise a non-empty directory is refused.

        Ranks that do not write (``writes=False``) check nothing here: rank 0 does. Raises
        :class:`~mi_ssl.errors.RunDirError` with what was found and what to pass instead.
        """
        if resume and overwrite:
            raise RunDirError("resume and overwrite exclude each other: --resume continues the run in the "
                              "directory, --overwrite deletes it and starts over")
        if extend and not resume:
            raise RunDirError("extend needs resume: --extend continues a run for more epochs (pass --resume too)")
        if self.path is None:
            if resume:
                raise ValueError("resume=True needs a run directory (out=...)")
            return
        if not self.writes:
            return
        self.create()
        self._lock()
        try:
            self._check_contents(config, resume=resume, overwrite=overwrite, extend=extend)
        except BaseException:
            self.release()
            raise

    def claim_for_update(self) -> None:
        """Take the lock of an existing run to add to it (``mi-ssl probe``); a run being trained there is
        refused, as a second writer is."""
        if self.writes and self.path is not None:
            self._lock()

    def _check_contents(self, config: TrainConfig, *, resume: bool, overwrite: bool, extend: bool) -> None:
        assert self.path is not None
        entries = sorted(p.name for p in self.path.iterdir() if p.name != LOCK)
        if not entries:
            return
        ours = [e for e in entries if e in RUN_FILES or (e.startswith(".") and e.endswith(".tmp"))]
        foreign = [e for e in entries if e not in ours]
        if overwrite:
            if foreign:
                raise RunDirError(f"--overwrite deletes a run's files only, but {self.path} also holds "
                                  f"{_listed(foreign)}; move them away or choose another --out")
            for e in ours:
                p = self.path / e
                shutil.rmtree(p) if p.is_dir() else p.unlink()
            return
        if not resume:
            what = self.describe_run() if not foreign else f"files that are not a run's ({_listed(foreign)})"
            raise RunDirError(f"{self.path} already holds {what}; pass --resume (resume=True) to continue it, "
                              f"--overwrite (overwrite=True) to delete it and start over, or choose another --out")
        stored = self.stored_config()
        if stored is None:
            if foreign:
                raise RunDirError(f"cannot resume: {self.path} holds no run ({CONFIG} and {CHECKPOINT} are missing) "
                                  f"but holds {_listed(foreign)}; choose another --out")
            return
        conflicts = resume_conflicts(stored, config)
        if conflicts:
            raise RunDirError(f"cannot resume {self.path}: these settings differ from the run's: "
                              f"{'; '.join(conflicts)}. Resume with the run's settings, or start a new run "
                              f"(--overwrite, or another --out)")
        old_epochs = stored.get("epochs")
        if config.epochs < old_epochs:
            raise RunDirError(f"cannot resume {self.path}: epochs {old_epochs} -> {config.epochs}; a run cannot be "
                              f"shortened (its learning-rate schedule is laid over {old_epochs} epochs)")
        if config.epochs > old_epochs and not extend:
            raise RunDirError(f"cannot resume {self.path}: epochs {old_epochs} -> {config.epochs} extends the run; "
                              f"pass --extend (extend=True) to train on to epoch {config.epochs} (the cosine "
                              f"schedule is then re-laid over {config.epochs} epochs), or resume with "
                              f"--epochs {old_epochs}")

    def stored_config(self) -> dict[str, Any] | None:
        """The config of the run in the directory (``config.json``, else the checkpoint's); ``None``: no run."""
        if self.path is not None and (self.path / CONFIG).exists():
            return self.read_json(CONFIG)
        if self.has_checkpoint():
            return self.load_checkpoint()["config"]
        return None

    def describe_run(self) -> str:
        """``"a run (sdmi/gaussian, checkpoint at epoch 2 of 10)"``, for messages."""
        cfg = self.stored_config() or {}
        meta = self.read_json(CHECKPOINT_META) if self.path is not None and (self.path / CHECKPOINT_META).exists() \
            else {}
        at = f"checkpoint at epoch {meta['epoch']} of {cfg.get('epochs')}" if "epoch" in meta else "no checkpoint yet"
        return f"a run ({cfg.get('method', '?')}/{cfg.get('dataset', '?')}, {at})"

    def _lock(self) -> None:
        """Take ``DIR/.lock`` (``flock``, not blocking); another holder is named in the error."""
        try:
            import fcntl
        except ImportError:      # not POSIX (Windows): no lock, the other checks still hold
            return
        path = self.file(LOCK)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise RunDirError(f"{self.path} is in use: {holder} is writing a run there ({path} is locked); "
                                  f"wait for it to end or choose another --out") from None
            try:   # its last holder may have deleted the file between our open and flock: lock the new one
                if os.fstat(fd).st_ino == os.stat(path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} on {socket.gethostname()}".encode())
        self._lock_fd = fd

    def release(self) -> None:
        """Give the lock back (deleting ``.lock``); safe to call twice."""
        if self._lock_fd is not None:
            self.file(LOCK).unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------------ json, csv
    def read_json(self, name: str) -> dict[str, Any]:
        """The object stored in ``name`` (``{}`` if there is no such file); a file that is not a JSON object
        raises :class:`~mi_ssl.errors.CheckpointError` naming it."""
        if self.path is None or not (self.path / name).exists():
            return {}
        path = self.path / name
        try:
            obj = json.loads(path.read_text())
        except (ValueError, IsADirectoryError) as e:
            raise CheckpointError(f"{path}: not a readable JSON file ({_first_line(e)}); restore or delete it"
                                  ) from None
        if not isinstance(obj, dict):
            raise CheckpointError(f"{path}: holds a {type(obj).__name__}, expected a JSON object; restore or "
                                  f"delete it")
        return obj

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
                        records: list[dict[str, Any]], input_shape: tuple[int, ...],
                        meta: dict[str, Any] | None = None) -> None:
        """Everything needed to continue after ``epoch`` (the run's randomness is a function of the epoch).

        ``meta``: plain data kept with it (data fingerprint, schedule segments); it and the checkpoint's
        epoch, input shape and format are also written to ``checkpoint.json``.
        """
        if not self.writes:
            return
        head = {"epoch": epoch, "input_shape": list(input_shape), "mi_ssl_version": CHECKPOINT_VERSION,
                **(meta or {})}
        state = {**head, "config": dataclasses.asdict(config), "learner": learner.state_dict(),
                 "optimizers": {ph: o.state_dict() for ph, o in optimizers.items()},
                 "history": history, "records": records}
        atomic_write(self.file(CHECKPOINT), lambda p: torch.save(state, p))
        self.write_json(CHECKPOINT_META, head)
        self.checkpoint_epoch = epoch

    def load_checkpoint(self, device: torch.device | str = "cpu") -> dict[str, Any]:
        """The checkpoint's state, tensors on ``device``; only tensors and plain data are read
        (``weights_only=True``). Raises ``FileNotFoundError`` when there is none and
        :class:`~mi_ssl.errors.CheckpointError` (naming the file) when the file is not a checkpoint."""
        path = self.file(CHECKPOINT)
        if not path.exists():
            raise FileNotFoundError(f"no checkpoint at {path}; is {self.path} a directory written by `mi-ssl train`?")
        try:
            state = torch.load(path, map_location=device, weights_only=True)
        except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, ValueError, KeyError, IndexError,
                TypeError, AttributeError) as e:
            raise CheckpointError(f"{path}: not a readable checkpoint ({_load_failure(e)})") from None
        missing = [k for k in _CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
        if missing:
            raise CheckpointError(f"{path}: not an mi-ssl checkpoint (it lacks {', '.join(missing)})")
        if not isinstance(state["config"], dict) or set(state["config"]) - set(_DEFAULTS):
            raise CheckpointError(f"{path}: its config is not a TrainConfig of this mi_ssl "
                                  f"(unknown fields {sorted(set(state['config']) - set(_DEFAULTS))})")
        return state

    def resume(self, config: TrainConfig, learner: nn.Module, optimizers: dict[str, torch.optim.Optimizer],
               device: torch.device, data_fingerprint: str | None = None
               ) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        """Load the checkpoint into ``learner`` and ``optimizers``: ``(epoch, history, records, state)`` it ended
        at; ``(0, [], [], {})`` without a checkpoint. Settings were compared in :meth:`claim`; here the data
        are (``data_fingerprint``, when both sides have one)."""
        if self.path is None:
            raise ValueError("resume=True needs a run directory (out=...)")
        if not self.has_checkpoint():
            return 0, [], [], {}
        state = self.load_checkpoint(device)
        conflicts = resume_conflicts(state["config"], config)   # a rank that did not claim still checks
        if conflicts:
            raise RunDirError(f"cannot resume {self.path}: these settings differ from the checkpoint's: "
                              f"{'; '.join(conflicts)}")
        stored = state.get("data_fingerprint")
        if stored and data_fingerprint and stored != data_fingerprint:
            raise RunDirError(f"cannot resume {self.path}: the data differ from the data the run trained on "
                              f"(fingerprint {stored} -> {data_fingerprint}); point --data-dir at the same files")
        try:
            learner.load_state_dict(state["learner"])
            for ph, opt in optimizers.items():
                opt.load_state_dict(state["optimizers"][ph])
        except (RuntimeError, KeyError, ValueError) as e:
            raise CheckpointError(f"{self.file(CHECKPOINT)}: its weights do not fit the networks of this config "
                                  f"({_first_line(e)[:160]})") from None
        self.checkpoint_epoch = state["epoch"]
        return state["epoch"], state["history"], state["records"], state

    def describe_checkpoint(self) -> str:
        """Where the last good checkpoint is, for error messages."""
        if self.path is None:
            return "none (no out=)"
        if self.checkpoint_epoch is None:
            return f"none yet in {self.path}"
        return f"{self.path / CHECKPOINT} (epoch {self.checkpoint_epoch})"


def _load_failure(e: BaseException) -> str:
    """What ``torch.load(weights_only=True)`` failing with ``e`` means, in words."""
    if isinstance(e, IsADirectoryError):
        return "it is a directory"
    if isinstance(e, EOFError):
        return "the file is empty or cut short"
    if isinstance(e, pickle.UnpicklingError):
        return ("not a torch file, or one that holds objects other than tensors and plain data; those are not "
                "loaded, since unpickling them could run code")
    if isinstance(e, RuntimeError):
        return f"corrupt or cut short: {_first_line(e).split('. ')[0][:100]}"
    return f"{type(e).__name__}: {_first_line(e)[:100]}"


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _listed(names: list[str], at_most: int = 5) -> str:
    more = f" and {len(names) - at_most} more" if len(names) > at_most else ""
    return ", ".join(names[:at_most]) + more


def load_run(run_dir: str | Path, device: str = "cpu") -> tuple[TrainConfig, Learner, dict[str, Any]]:
    """Load a finished (or interrupted) run: its config, learner (eval mode) and checkpoint state.

    Raises ``FileNotFoundError`` (no checkpoint) or :class:`~mi_ssl.errors.CheckpointError` (a file that is
    not a checkpoint, or weights that do not fit its config's networks), each naming the file.
    """
    run = RunDir(run_dir, writes=False)
    if run.path is not None and run.path.exists() and not run.path.is_dir():
        raise RunDirError(f"{run.path} is a file; expected a run directory written by `mi-ssl train`")
    state = run.load_checkpoint(device)
    cfg = TrainConfig(**state["config"])
    shape = state.get("input_shape")  # written by every checkpoint; the data set is only read if it is missing
    if shape is None:
        shape = load_dataset(cfg.dataset, cfg.data_dir, seed=cfg.seed).input_shape
    learner = build_learner(cfg, tuple(shape))
    try:
        learner.load_state_dict(state["learner"])
    except RuntimeError as e:
        raise CheckpointError(f"{run.file(CHECKPOINT)}: its weights do not fit the networks of its config "
                              f"({_first_line(e)[:160]})") from None
    learner.eval()
    return cfg, learner, state
