"""``fit``: one training loop for every method, dataset and device (the supervised ceiling included).

The loop knows nothing about any particular method: a :class:`~mi_ssl.paradigms.Learner` says
which phases exist (``"joint"``; ``"E"``/``"M"``; ``"online"``; ``"supervised"``), which parameters each
phase moves and what the loss of a minibatch is. ``fit`` owns the rest:

* data on the device once, a seeded permutation per epoch and batched two-view augmentation on the
  device, no DataLoader workers (:mod:`mi_ssl.data.views`);
* one optimiser per phase, warm-up + cosine learning rate computed from the step (no scheduler
  state), bf16 autocast and channels-last on CUDA (:class:`Stepper`);
* SDMI alternation: an E-pass then an M-pass over the minibatches (Algorithm 1, ``schedule="epoch"``)
  or E and M on every minibatch (``schedule="batch"``);
* MI tracking every ``track_every`` epochs on fixed views of held-out data with cos-DV, InfoNCE and
  JSD between the branches the paper pairs (Section 4.2, :func:`track_mi`);
* a run directory (:mod:`mi_ssl.rundir`) that belongs to this run (locked; ``resume``/``overwrite``/
  ``extend`` say what to do with one that is not empty): ``history.csv`` after every epoch, checkpoints
  every ``checkpoint_every`` epochs and at the end, ``summary.json``; ``resume=True`` continues
  bit-identically (every epoch's randomness is a function of ``(seed, epoch)``);
* a divergence guard (:mod:`mi_ssl.monitor`): a non-finite loss, or exploding weights or representations,
  stop the run with one line that names the last good checkpoint;
* optional online evaluation (kNN / linear probe columns) and a TensorBoard mirror of the history;
* under ``torchrun`` (``WORLD_SIZE > 1``): DDP with synchronised batch norm, each global minibatch
  (``batch_size`` is global) split across ranks, whole-batch objectives on the gathered batch so the
  gradient equals the single-process one (:mod:`mi_ssl.distributed`); only rank 0 writes files.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from . import bounds, distributed, monitor
from .checks import finite_checks
from .config import TrainConfig, make_config
from .data import load_dataset
from .data.augment import make_augment
from .data.base import SSLData
from .data.views import batches_per_epoch, epoch_generator, two_views, view_batches
from .errors import DivergenceError
from .learners import build_learner
from .paradigms import Learner
from .rundir import TENSORBOARD, RunDir, load_run
from .util import evaluating, provenance, resolve_device

# TrainConfig, make_config, build_learner and load_run are fit's inputs and outputs; they live in
# mi_ssl.config, mi_ssl.learners and mi_ssl.rundir and are named here so one import reaches a whole run.
__all__ = ["TrainConfig", "make_config", "build_learner", "load_run", "fit", "FitResult", "NonFiniteLossError",
           "DivergenceError",
           "track_mi", "lr_at", "Stepper"]

Callback = Callable[[int, Learner], "dict[str, Any] | None"]
MI_COLUMNS = ("mi_cos_dv", "mi_infonce", "mi_jsd")
#: steps between the (host-synchronising) finiteness checks of the loss on a GPU (every step on a CPU)
CHECK_EVERY_CUDA = 50
#: held-out inputs on which the divergence guard measures the embeddings after every epoch
GUARD_N = 256


class NonFiniteLossError(DivergenceError):
    """The loss became NaN or inf; the run stopped and the last good checkpoint was kept."""


# =========================================================================== one step
def lr_at(cfg: TrainConfig, progress: float) -> float:
    """Learning rate at ``progress`` epochs (fractional): linear warm-up, then cosine decay to 0."""
    if cfg.warmup_epochs > 0 and progress < cfg.warmup_epochs:
        return cfg.lr * progress / cfg.warmup_epochs
    span = max(cfg.epochs - cfg.warmup_epochs, 1e-12)
    t = min((progress - cfg.warmup_epochs) / span, 1.0)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * t))


def _optimizer(cfg: TrainConfig, params: list[nn.Parameter], device: torch.device) -> torch.optim.Optimizer:
    extra = {"fused": True} if device.type == "cuda" else {}
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **extra)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.sgd_momentum, weight_decay=cfg.weight_decay, **extra)


class Stepper:
    """One optimiser step of one phase: set the learning rate, forward under autocast, backward, step.

    Holds one optimiser per phase of the learner (``stepper.optimizers``). :func:`fit` and the
    benchmark both use it, so both measure the same step.
    """

    def __init__(self, cfg: TrainConfig, learner: Learner, device: torch.device, *,
                 channels_last: bool = False, amp: bool = False) -> None:
        self.cfg, self.learner = cfg, learner
        if channels_last:
            learner.to(memory_format=torch.channels_last)
        self.optimizers = {ph: _optimizer(cfg, learner.parameters_for(ph), device) for ph in learner.phases}
        self.loss_fn = torch.compile(learner.loss) if cfg.compile else learner.loss
        self.autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp)

    def __call__(self, phase: str, v1: torch.Tensor, v2: torch.Tensor, progress_epochs: float) -> torch.Tensor:
        """Step ``phase`` on views ``v1, v2`` (``[B, ...]``) at ``progress_epochs``; returns the detached loss."""
        opt = self.optimizers[phase]
        lr = lr_at(self.cfg, progress_epochs)
        for group in opt.param_groups:
            group["lr"] = lr
        with self.autocast:
            loss = self.loss_fn(phase, v1, v2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self.learner.after_step(phase)
        return loss.detach().float()


# =========================================================================== MI tracking
def _forward_batched(module: nn.Module, x: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    return torch.cat([module(x[i:i + batch]).float() for i in range(0, len(x), batch)])


def track_mi(learner: Learner, v1: torch.Tensor, v2: torch.Tensor, tau: float = 1.0) -> dict[str, float]:
    """cos-DV, InfoNCE and JSD (nats) between the method's tracked branches on fixed held-out views.

    ``v1, v2``: ``[N, ...]`` the two views of the held-out inputs. The branches run in eval mode (their mode
    is restored after). SimSiam at epoch 0 has no previous-epoch branch: every estimate is ``-inf`` (paper
    convention), as for a learner without tracked branches (the supervised ceiling).
    """
    pair = learner.tracked_pair()
    if pair is None:
        return dict.fromkeys(MI_COLUMNS, -math.inf)
    a, b = pair
    with evaluating(a, b):
        za, zb = _forward_batched(a, v1), _forward_batched(b, v2)
    return bounds.estimate_all(za, zb, tau)


# =========================================================================== the loop
@dataclass
class FitResult:
    """What :func:`fit` returns: the trained learner, its history and summary, and the run directory."""

    config: TrainConfig
    learner: Learner
    history: pd.DataFrame
    summary: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    out: Path | None = None


def fit(
    config: TrainConfig,
    data: SSLData | None = None,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    extend: bool = False,
    progress: bool | None = None,
    callbacks: list[Callback] | None = None,
    learner: Learner | None = None,
) -> FitResult:
    """Train ``config.method`` on ``config.dataset``; one loop for every method.

    Args:
        config: from :func:`make_config` (or :func:`~mi_ssl.config.resolve_config`).
        data: a loaded :class:`SSLData` (default: ``load_dataset(config.dataset, config.data_dir)``).
        out: run directory (:mod:`mi_ssl.rundir`; ``None``: in memory). It belongs to one run: a non-empty
            one needs ``resume`` or ``overwrite``, and a second process writing it is refused.
        resume: continue the run in ``out`` from its checkpoint (from the start if it has none yet). Every
            setting that defines the run must be the same (:data:`mi_ssl.rundir.RESUME_FREE` lists those
            that may change, e.g. ``device``); so must the data. On the same device the finished run is
            bit-identical to an uninterrupted one.
        overwrite: delete the run in ``out`` (its files only) and start over.
        extend: with ``resume``, allow ``config.epochs`` above the run's: the run trains on to the new
            total. How the schedule continues: the epochs already trained keep the schedule they had (a
            cosine over the old total, decayed to 0); the new epochs follow warm-up + cosine laid over the
            *new* total from epoch 0, so the learning rate jumps back up to its value at that point of the
            longer schedule (a warm restart). An extended run therefore differs from one trained for the new
            total from the start; ``summary.json["schedule"]`` lists the segments.
        progress: tqdm progress bar (default on, unless ``MI_SSL_PROGRESS=0``).
        callbacks: ``cb(epoch, learner) -> dict | None`` after each epoch (epoch 0 = before training);
            returned dicts are collected in ``FitResult.records`` (e.g. cluster centres per epoch).
        learner: a learner built elsewhere from ``config`` (default: :func:`~mi_ssl.learners.build_learner`;
            :func:`~mi_ssl.learners.build_supervised` gives the supervised ceiling).

    Under ``torchrun`` every rank runs ``fit`` (:class:`_Processes`): ``batch_size`` is the global batch,
    losses and MI estimates are global, callbacks run on every rank, only rank 0 writes files or shows
    progress, and the returned learner is unwrapped.

    Raises:
        DivergenceError: the run diverged: a non-finite loss (:class:`NonFiniteLossError`), or exploding
            weights or embeddings (:func:`mi_ssl.monitor.divergence`); the last good checkpoint is kept.
        RunDirError: ``out`` cannot be used as asked (see above).
    """
    cfg = config
    procs = _Processes.start(cfg)
    run = RunDir(out, writes=procs.rank == 0)
    run.claim(cfg, resume=resume, overwrite=overwrite, extend=extend)
    try:
        return _fit(cfg, data, run, procs, resume, progress, callbacks, learner)
    finally:
        run.release()


def _fit(cfg: TrainConfig, data: SSLData | None, run: RunDir, procs: _Processes, resume: bool,
         progress: bool | None, callbacks: list[Callback] | None, learner: Learner | None) -> FitResult:
    device = procs.device
    data = _check_data(cfg, data)
    fingerprint = _fingerprint(data) if run.path is not None else None
    amp, channels_last = _layout(cfg, device, data)

    learner = (learner if learner is not None else build_learner(cfg, data)).to(device)
    if procs.ddp:
        distributed.convert_sync_bn(learner)  # same parameter objects: build optimisers after, wrap in DDP later
    stepper = Stepper(cfg, learner, device, channels_last=channels_last, amp=amp)
    last, history, records, state = (run.resume(cfg, learner, stepper.optimizers, device, fingerprint)
                                     if resume else (0, [], [], {}))
    schedule = _schedule(cfg, last, state)
    if procs.ddp:  # after channels-last and resume, so DDP's bucket views and rank-0 broadcast see the final weights
        distributed.prepare_learner(learner, device)

    augment = make_augment(data)
    track_views = _tracking_views(cfg, data, augment, device, channels_last)
    if cfg.compile_views:   # after the tracking views: their shape differs from a minibatch's (a second compile)
        augment.compile()
    minibatches = _Minibatches(cfg, data, learner, augment, procs, channels_last)
    guard_x = data.to_float(data.test_x[:GUARD_N].to(device))
    logger = _logger(cfg, run, last)

    def log_epoch(epoch: int, losses: dict[str, list[torch.Tensor]], seconds: float) -> None:
        row = _epoch_row(cfg, learner, epoch, losses, seconds, track_views)
        if cfg.eval_every:
            row.update(_online_eval(cfg, learner, data, device, epoch))
        history.append(row)
        if logger is not None:
            logger.log(row)
        records.extend(_callback_records(callbacks, epoch, learner))

    def stop(err: DivergenceError) -> DivergenceError:
        run.write_history(history)
        return type(err)(f"{err} The run stopped. Last good checkpoint: {run.describe_checkpoint()}. "
                         f"Try a smaller --lr (now {cfg.lr:g}).")

    run.write_config(cfg)
    if last == 0:
        log_epoch(0, {}, 0.0)
    bar = _progress_bar(cfg, learner, last, enabled=procs.rank == 0 and progress_enabled(progress))
    t_start = time.perf_counter()
    try:
        with finite_checks(False):      # the loop checks its own losses, every procs.check_every steps
            for epoch in bar:
                t0 = time.perf_counter()
                try:
                    losses = _train_epoch(cfg, learner, stepper, minibatches, epoch, procs.check_every)
                except NonFiniteLossError as err:
                    raise stop(err) from None
                reason = monitor.divergence(_plain(learner.encoders()), guard_x)
                if reason is not None:
                    raise stop(DivergenceError(f"{_run_name(cfg, learner)}/{cfg.dataset}: at epoch {epoch} {reason}."))
                learner.end_epoch()
                log_epoch(epoch, losses, time.perf_counter() - t0)
                bar.set_postfix(loss=f"{history[-1]['loss']:.4f}", mi=f"{history[-1]['mi_cos_dv']:.3f}")
                run.write_history(history)
                if epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs:
                    run.save_checkpoint(cfg, epoch, learner, stepper.optimizers, history, records, data.input_shape,
                                        meta={"data_fingerprint": fingerprint, "schedule": schedule})
    finally:
        bar.close()
        if logger is not None:
            logger.close()
    procs.release(learner)

    hist = pd.DataFrame(history)
    summary = _summary(cfg, learner, hist, time.perf_counter() - t_start, procs)
    summary["schedule"] = schedule
    run.write_summary(summary, keep=("probe",) if last > 0 else ())  # a resumed run keeps `mi-ssl probe`'s result
    procs.close()
    return FitResult(cfg, learner, hist, summary, records, run.path)


# =========================================================================== the loop's parts
@dataclass
class _Processes:
    """This process's place in the run: one process, or one rank of a ``torchrun`` launch (``WORLD_SIZE > 1``:
    the process group is created from the environment, NCCL on ``cuda:LOCAL_RANK`` or gloo on CPU, and
    destroyed at the end; batch norm is synchronised and trainable branches are wrapped in DDP)."""

    device: torch.device
    ddp: bool = False
    owns_group: bool = False
    rank: int = 0
    world: int = 1

    @property
    def check_every(self) -> int:
        """Steps between the (host-synchronising) NaN/inf checks of the loss: every step on a CPU."""
        return 1 if self.device.type == "cpu" else CHECK_EVERY_CUDA

    @classmethod
    def start(cls, cfg: TrainConfig) -> _Processes:
        """One process on ``cfg.device``; under torchrun, join (or create) the process group."""
        if not distributed.launched_with_torchrun():
            return cls(resolve_device(cfg.device))
        owns_group = not distributed.is_distributed()
        device = distributed.init_from_env(cfg.device)
        world = distributed.world_size()
        if cfg.batch_size % world:
            raise ValueError(f"batch_size={cfg.batch_size} is the global batch and must be a multiple of the "
                             f"number of processes (WORLD_SIZE={world})")
        return cls(device, True, owns_group, distributed.rank(), world)

    def release(self, learner: Learner) -> None:
        """Plain modules and BatchNorm*d again (same weights on every rank)."""
        if self.ddp:
            distributed.release_learner(learner)

    def close(self) -> None:
        """Destroy the process group this run created."""
        if self.owns_group:
            distributed.barrier()
            distributed.cleanup()


def _layout(cfg: TrainConfig, device: torch.device, data: SSLData) -> tuple[bool, bool]:
    """``(amp, channels_last)``: the config's, or on by default on CUDA (channels-last for images only)."""
    amp = cfg.amp if cfg.amp is not None else device.type == "cuda"
    channels_last = (cfg.channels_last if cfg.channels_last is not None
                     else device.type == "cuda" and data.modality == "image")
    return amp, channels_last


def _check_data(cfg: TrainConfig, data: SSLData | None) -> SSLData:
    if data is None:
        data = load_dataset(cfg.dataset, cfg.data_dir, seed=cfg.seed)
    if data.name != cfg.dataset:
        raise ValueError(f"data is {data.name!r} but config.dataset is {cfg.dataset!r}")
    if cfg.eval_every and data.num_classes < 2:
        raise ValueError(f"eval_every={cfg.eval_every} needs labelled data (a kNN top-1 needs classes), but "
                         f"{data.name!r} has {data.num_classes} class; set eval_every=0")
    return data


def _plain(encoders: dict[str, nn.Module]) -> dict[str, nn.Module]:
    return {name: distributed.unwrap_ddp(enc) for name, enc in encoders.items()}


def _online_eval(cfg: TrainConfig, learner: Learner, data: SSLData, device: torch.device,
                 epoch: int) -> dict[str, float]:
    """The online-evaluation columns of one history row (NaN between evaluation epochs)."""
    if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
        return monitor.online_eval(_plain(learner.encoders()), data, device, probe=cfg.eval_probe, seed=cfg.seed)
    return dict.fromkeys(monitor.eval_columns(list(learner.encoders()), cfg.eval_probe), math.nan)


def _fingerprint(data: SSLData) -> str:
    from .experiments import data_fingerprint  # experiments runs fit: imported here, not at the top

    return data_fingerprint(data)


def _schedule(cfg: TrainConfig, last: int, state: dict[str, Any]) -> list[dict[str, int]]:
    """The learning-rate schedule's segments: ``[{"from_epoch": e, "epochs": total}, ...]``, each laid over
    ``total`` epochs and used from epoch ``e`` on. One segment, unless the run was extended (:func:`fit`)."""
    if not state:                                   # a new run
        return [{"from_epoch": 1, "epochs": cfg.epochs}]
    stored = state.get("schedule") or [{"from_epoch": 1, "epochs": int(state["config"]["epochs"])}]
    if stored[-1]["epochs"] != cfg.epochs:          # extended: the new epochs follow the longer schedule
        stored = [*stored, {"from_epoch": last + 1, "epochs": cfg.epochs}]
    return stored


def _logger(cfg: TrainConfig, run: RunDir, last: int) -> monitor.TensorBoardLog | None:
    """The TensorBoard mirror of the history (rank 0 with a run directory), or ``None``."""
    if cfg.logger != "tensorboard":
        return None
    if run.path is None:
        raise ValueError("logger='tensorboard' writes into the run directory: give out=DIR (--out)")
    if not run.writes:
        return None
    return monitor.TensorBoardLog(run.file(TENSORBOARD), purge_step=last + 1 if last else None)


def _tracking_views(cfg: TrainConfig, data: SSLData, augment: Callable, device: torch.device,
                    channels_last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed views of the first ``track_n`` held-out samples: the same every epoch, so the tracked MI
    changes with the encoders alone."""
    x = data.test_x[:min(cfg.track_n, len(data.test_x))].to(device)
    return two_views(augment, x, epoch_generator(cfg.seed, 0, device, stream=99), channels_last)


class _Minibatches:
    """``minibatches(epoch, stream)``: the minibatches of one pass over the training split, drawn from the
    epoch's ``stream`` — two views each, or one view and the labels for a learner that ``uses_labels``."""

    def __init__(self, cfg: TrainConfig, data: SSLData, learner: Learner, augment: Callable, procs: _Processes,
                 channels_last: bool) -> None:
        self.cfg, self.augment, self.procs, self.channels_last = cfg, augment, procs, channels_last
        self.x = data.train_x.to(procs.device)
        self.y = data.train_y.to(procs.device) if learner.uses_labels else None
        self.n_batches = batches_per_epoch(len(self.x), cfg.batch_size)

    def __call__(self, epoch: int, stream: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        cfg, procs = self.cfg, self.procs
        g = epoch_generator(cfg.seed, epoch, procs.device, stream)
        # distributed: the same permutation on every rank, a per-rank augmentation stream
        g_aug = epoch_generator(cfg.seed, epoch, procs.device, 1000 * (procs.rank + 1) + stream) if procs.ddp else None
        return view_batches(self.x, cfg.batch_size, self.augment, g, self.channels_last, rank=procs.rank,
                            world_size=procs.world, augment_generator=g_aug, labels=self.y)


def _passes(cfg: TrainConfig, learner: Learner) -> list[tuple[int, tuple[str, ...]]]:
    """``(random stream, phases stepped)`` of each pass over the data in one epoch. Algorithm 1 (``schedule=
    "epoch"``) makes one pass per phase, each with fresh minibatches; ``"batch"`` steps every phase per batch."""
    first = learner.first_stream
    if cfg.schedule == "epoch":
        return [(first + i, (ph,)) for i, ph in enumerate(learner.phases)]
    return [(first, learner.phases)]


def _train_epoch(cfg: TrainConfig, learner: Learner, stepper: Stepper, minibatches: _Minibatches, epoch: int,
                 check_every: int) -> dict[str, list[torch.Tensor]]:
    """Every step of one epoch; the detached losses per phase. The losses are checked for NaN/inf every
    ``check_every`` steps of a phase and at the end of each pass."""
    learner.train()
    n = minibatches.n_batches
    losses: dict[str, list[torch.Tensor]] = {ph: [] for ph in learner.phases}
    for stream, phases in _passes(cfg, learner):
        for b, (v1, v2) in enumerate(minibatches(epoch, stream)):
            at = epoch - 1 + b / n
            for ph in phases:
                losses[ph].append(stepper(ph, v1, v2, at))
                if len(losses[ph]) % check_every == 0 or b == n - 1:
                    _check_finite(cfg, learner, ph, losses[ph][-check_every:], epoch, b, n)
    return losses


def _check_finite(cfg: TrainConfig, learner: Learner, phase: str, losses: list[torch.Tensor], epoch: int,
                  b: int, n_batches: int) -> None:
    if not bool(torch.isfinite(torch.stack(losses)).all()):
        raise NonFiniteLossError(
            f"{_run_name(cfg, learner)}/{cfg.dataset}: the {phase} loss became non-finite at epoch {epoch}, "
            f"step {b + 1}/{n_batches} (lr={lr_at(cfg, epoch - 1 + b / n_batches):.4g}).")


def _mean(losses: list[torch.Tensor]) -> float:
    return float(torch.stack(losses).mean()) if losses else math.nan


def _epoch_row(cfg: TrainConfig, learner: Learner, epoch: int, losses: dict[str, list[torch.Tensor]],
               seconds: float, track_views: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
    """One row of ``history.csv``: epoch, mean loss, tracked MI (NaN between tracking epochs), per-phase
    losses of a learner with several phases, learning rate at the epoch's end, seconds."""
    row: dict[str, Any] = {"epoch": epoch, "loss": _mean([x for v in losses.values() for x in v])}
    if cfg.track_every and (epoch % cfg.track_every == 0 or epoch == cfg.epochs):
        row.update(track_mi(learner, *track_views, cfg.track_tau))
    else:
        row.update(dict.fromkeys(MI_COLUMNS, math.nan))
    if len(learner.phases) > 1:
        row.update({f"loss_{ph}": _mean(losses.get(ph, [])) for ph in learner.phases})
    row["lr"] = lr_at(cfg, epoch)
    row["seconds"] = round(seconds, 4)
    return row


def _callback_records(callbacks: list[Callback] | None, epoch: int, learner: Learner) -> list[dict[str, Any]]:
    records = []
    for cb in callbacks or []:
        rec = cb(epoch, learner)
        if rec is not None:
            records.append({"epoch": epoch, **rec})
    return records


def _run_name(cfg: TrainConfig, learner: Learner) -> str:
    return "supervised" if learner.uses_labels else cfg.method


def progress_enabled(progress: bool | None) -> bool:
    """Whether to show progress bars: ``progress`` if given, else on unless ``MI_SSL_PROGRESS`` is 0/false."""
    if progress is not None:
        return progress
    return os.environ.get("MI_SSL_PROGRESS", "1") not in ("0", "false", "False")


def _progress_bar(cfg: TrainConfig, learner: Learner, last: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(range(last + 1, cfg.epochs + 1), disable=not enabled, desc=f"{_run_name(cfg, learner)}/{cfg.dataset}",
                unit="epoch", initial=last, total=cfg.epochs)


def _summary(cfg: TrainConfig, learner: Learner, hist: pd.DataFrame, session_seconds: float,
             procs: _Processes) -> dict[str, Any]:
    """``summary.json``: the last epoch's numbers, timings, config and provenance."""
    last = hist.iloc[-1]
    summary = {
        "method": _run_name(cfg, learner), "dataset": cfg.dataset, "epochs": int(last["epoch"]),
        "final_loss": float(last["loss"]), **{k: float(last[k]) for k in MI_COLUMNS},
        "train_seconds_this_session": round(session_seconds, 3),
        "seconds_per_epoch": float(hist["seconds"].iloc[1:].mean()) if len(hist) > 1 else math.nan,
        "train_seconds_total": round(float(hist["seconds"].sum()), 3),   # every session's epochs, resumes included
        "config": dataclasses.asdict(cfg),
        "provenance": provenance(procs.device, **({"world_size": procs.world} if procs.ddp else {})),
    }
    if procs.device.type == "cuda":
        summary["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(procs.device) / 2**30, 3)
    return summary
