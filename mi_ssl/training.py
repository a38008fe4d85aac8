"""``fit``: one training loop for every method, dataset and device.

The loop knows nothing about any particular method: a :class:`~mi_ssl.paradigms.Learner` says
which phases exist (``"joint"``; ``"E"``/``"M"``; ``"online"``), which parameters each phase moves and
what the loss of a minibatch is. ``fit`` owns the rest:

* data on the device once, a seeded permutation per epoch and batched two-view augmentation on the
  device (no DataLoader workers);
* one SGD optimiser per phase, warm-up + cosine learning rate computed from the step (no scheduler
  state), bf16 autocast and channels-last on CUDA;
* SDMI alternation: an E-pass then an M-pass over the minibatches (Algorithm 1, ``schedule="epoch"``)
  or E and M on every minibatch (``schedule="batch"``);
* MI tracking every ``track_every`` epochs on fixed views of held-out data with cos-DV, InfoNCE and
  JSD between the branches the paper pairs (Section 4.2);
* atomic checkpoints every ``checkpoint_every`` epochs and at the end, ``resume=True`` continuing
  bit-identically (every epoch's randomness is a function of ``(seed, epoch)``), and a stop with a
  message on a non-finite loss that keeps the last good checkpoint;
* ``history.csv`` (one row per epoch) and ``summary.json`` in the run directory;
* under ``torchrun`` (``WORLD_SIZE > 1``): DDP with synchronised batch norm, each global minibatch
  (``batch_size`` is global) split across ranks, whole-batch objectives on the gathered batch so the
  gradient equals the single-process one (:mod:`mi_ssl.distributed`); only rank 0 writes files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from . import bounds, distributed
from .checks import finite_checks
from .data import load_dataset
from .data.augment import make_augment
from .data.base import SSLData
from .methods import get_method, hyperparameters
from .networks import Encoder, Predictor, Projector, build_backbone
from .objectives import get_objective
from .paradigms import AlternatingEM, JointStep, Learner, TargetNetwork

__all__ = ["TrainConfig", "make_config", "build_learner", "fit", "FitResult", "NonFiniteLossError",
           "load_run", "track_mi"]

CHECKPOINT = "checkpoint.pt"
HISTORY = "history.csv"
SUMMARY = "summary.json"

# config field -> objective keyword, where they differ
_OBJECTIVE_KWARG = {"emi_eps": "eps"}


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or inf; the run stopped and the last good checkpoint was kept."""


@dataclass
class TrainConfig:
    """Everything that defines a run. Build one with :func:`make_config` (it fills in the defaults)."""

    method: str
    dataset: str
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    backbone: str
    proj_layers: int
    proj_hidden: int
    proj_dim: int
    pred_hidden: int = 256
    optimizer: str = "sgd"
    sgd_momentum: float = 0.9
    warmup_epochs: int = 0
    momentum: float = 0.996
    tau: float = 0.1
    lambd: float = 5.1e-3
    sim_weight: float = 25.0
    var_weight: float = 25.0
    cov_weight: float = 1.0
    eps: float = 1e-4
    emi_eps: float = 1e-3
    schedule: str = "epoch"
    seed: int = 0
    device: str = "auto"
    amp: bool | None = None
    channels_last: bool | None = None
    compile: bool = False
    compile_views: bool = False
    track_every: int = 1
    track_n: int = 2500
    track_tau: float = 1.0
    checkpoint_every: int = 10
    data_dir: str | None = None
    profile: str = "cpu"

    def resolved_device(self) -> torch.device:
        """``auto`` -> ``cuda`` when available, else ``cpu``; asking for CUDA without one is an error."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        dev = torch.device(self.device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} but no CUDA device is available; use --device cpu or auto")
        return dev

    def objective_kwargs(self) -> dict[str, Any]:
        keys = get_method(self.method).objective_keys
        return {_OBJECTIVE_KWARG.get(k, k): getattr(self, k) for k in keys}


_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def make_config(method: str, dataset: str = "gaussian", profile: str = "cpu", **overrides: Any) -> TrainConfig:
    """Defaults for ``(method, dataset, profile)`` from :mod:`mi_ssl.methods`, then ``overrides``.

    Overrides set to ``None`` are ignored (convenient for CLI flags). Unknown fields and options
    that make no sense for the method are refused with the reason.
    """
    m = get_method(method)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(overrides) - _FIELDS
    if unknown:
        raise ValueError(f"unknown training option(s) {sorted(unknown)}; allowed: {', '.join(sorted(_FIELDS))}")
    if "momentum" in overrides and m.update != "ema":
        raise ValueError(
            f"momentum={overrides['momentum']} is refused for method {method!r}: only methods with an EMA "
            f"target (byol, mocov3) have a momentum encoder; {method!r} uses update rule '{m.update}'"
        )
    if "schedule" in overrides and m.update != "em":
        raise ValueError(
            f"schedule={overrides['schedule']!r} is refused for method {method!r}: the E/M alternation schedule "
            f"applies only to methods with explicit E- and M-steps (sdmi, sdmi_nodv, sdmi_nodv_pred)"
        )
    cfg = TrainConfig(method=method, dataset=dataset, profile=profile,
                      **{**hyperparameters(method, dataset, profile), **overrides})
    _validate(cfg)
    return cfg


def _validate(cfg: TrainConfig) -> None:
    def need(cond: bool, name: str, allowed: str) -> None:
        if not cond:
            raise ValueError(f"{name}={getattr(cfg, name)!r} is not allowed; expected {allowed}")

    need(cfg.epochs >= 1, "epochs", "an integer >= 1")
    need(cfg.batch_size >= 2, "batch_size", "an integer >= 2 (the marginal term needs two samples)")
    need(cfg.lr > 0, "lr", "a number > 0")
    need(cfg.weight_decay >= 0, "weight_decay", "a number >= 0")
    need(cfg.tau > 0, "tau", "a number > 0")
    need(cfg.track_tau > 0, "track_tau", "a number > 0")
    need(0 <= cfg.momentum < 1, "momentum", "a number in [0, 1)")
    need(cfg.schedule in ("epoch", "batch"), "schedule", "'epoch' (Algorithm 1) or 'batch'")
    need(cfg.optimizer in ("sgd", "adam"), "optimizer", "'sgd' or 'adam'")
    need(0 <= cfg.warmup_epochs < cfg.epochs or cfg.warmup_epochs == 0, "warmup_epochs", "in [0, epochs)")
    need(cfg.track_every >= 0, "track_every", ">= 0 (0 turns MI tracking off)")
    need(cfg.checkpoint_every >= 1, "checkpoint_every", "an integer >= 1")
    need(cfg.track_n >= 2, "track_n", "an integer >= 2")


# =========================================================================== building
def _encoder(cfg: TrainConfig, input_shape: tuple[int, ...]) -> nn.Module:
    backbone = build_backbone(cfg.backbone, input_shape)
    projector = Projector(backbone.feature_dim, cfg.proj_hidden, cfg.proj_dim, layers=cfg.proj_layers)
    return Encoder(backbone, projector)


def build_learner(cfg: TrainConfig, data: SSLData | tuple[int, ...]) -> Learner:
    """Networks of ``cfg.method`` wired into its update rule; seeded by ``cfg.seed``.

    ``data``: the data set, or just its per-sample input shape (all the networks need from it).
    """
    input_shape = tuple(data) if isinstance(data, tuple) else data.input_shape
    torch.manual_seed(cfg.seed)
    m = get_method(cfg.method)
    objective = get_objective(m.objective)
    kwargs = cfg.objective_kwargs()
    f = _encoder(cfg, input_shape)
    dim = cfg.proj_dim if cfg.proj_layers > 0 else f.backbone.feature_dim
    if m.update == "joint":
        return JointStep(f, objective, kwargs)
    if m.update == "em":
        g = _encoder(cfg, input_shape)  # independently initialised (the RNG has moved on)
        pf = Predictor(dim, cfg.pred_hidden) if m.predictor == "both" else None
        pg = Predictor(dim, cfg.pred_hidden) if m.predictor == "both" else None
        return AlternatingEM(f, g, objective, kwargs, predictor_f=pf, predictor_g=pg)
    pred = Predictor(dim, cfg.pred_hidden) if m.predictor == "online" else None
    return TargetNetwork(f, objective, kwargs, predictor=pred, target=m.update, momentum=cfg.momentum)


def _optimizer(cfg: TrainConfig, params: list[nn.Parameter], device: torch.device) -> torch.optim.Optimizer:
    extra = {"fused": True} if device.type == "cuda" else {}
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **extra)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.sgd_momentum, weight_decay=cfg.weight_decay, **extra)


def lr_at(cfg: TrainConfig, progress: float) -> float:
    """Learning rate at ``progress`` epochs (fractional): linear warm-up, then cosine decay to 0."""
    if cfg.warmup_epochs > 0 and progress < cfg.warmup_epochs:
        return cfg.lr * progress / cfg.warmup_epochs
    span = max(cfg.epochs - cfg.warmup_epochs, 1e-12)
    t = min((progress - cfg.warmup_epochs) / span, 1.0)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * t))


# =========================================================================== MI tracking
def _forward_batched(module: nn.Module, x: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    return torch.cat([module(x[i:i + batch]).float() for i in range(0, len(x), batch)])


@torch.no_grad()
def track_mi(learner: Learner, v1: torch.Tensor, v2: torch.Tensor, tau: float = 1.0) -> dict[str, float]:
    """cos-DV, InfoNCE and JSD between the method's tracked branches on fixed held-out views.

    ``v1, v2``: ``[N, ...]`` the two views of the held-out inputs. The branches are put in eval mode.
    SimSiam at epoch 0 has no previous-epoch branch: every estimate is ``-inf`` (paper convention).
    """
    pair = learner.tracked_pair()
    if pair is None:
        return {"mi_cos_dv": -math.inf, "mi_infonce": -math.inf, "mi_jsd": -math.inf}
    a, b = pair
    modes = [(mod, mod.training) for mod in (a, b)]
    for mod, _ in modes:
        mod.eval()
    try:
        za, zb = _forward_batched(a, v1), _forward_batched(b, v2)
    finally:
        for mod, was in modes:
            mod.train(was)
    return bounds.estimate_all(za, zb, tau)


# =========================================================================== one step, one batch stream
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


def batches_per_epoch(n: int, batch_size: int) -> int:
    """Full minibatches per epoch (a last partial batch is dropped; a batch larger than ``n`` is the full set)."""
    return max(n // min(batch_size, n), 1)


def two_views(augment: Callable, x: torch.Tensor, g: torch.Generator,
              channels_last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independently augmented views of the batch ``x`` (on its device)."""
    v1, v2 = augment(x, g), augment(x, g)
    if channels_last and v1.ndim == 4:
        v1 = v1.contiguous(memory_format=torch.channels_last)
        v2 = v2.contiguous(memory_format=torch.channels_last)
    return v1, v2


def view_batches(x: torch.Tensor, batch_size: int, augment: Callable, g: torch.Generator,
                 channels_last: bool = False, *, rank: int = 0, world_size: int = 1,
                 augment_generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One pass over device-resident data ``x``: a seeded permutation, then two views per minibatch.

    Distributed (``world_size > 1``): ``batch_size`` is the global batch; every rank draws the same
    permutation from ``g`` and takes its contiguous slice of each global batch
    (:func:`mi_ssl.distributed.shard_slice`), augmented with its own ``augment_generator``.
    """
    n = len(x)
    bs = min(batch_size, n)
    perm = torch.randperm(n, generator=g, device=x.device)
    g_aug = g if augment_generator is None else augment_generator
    part = distributed.shard_slice(bs, rank, world_size) if world_size > 1 else slice(None)
    for b in range(batches_per_epoch(n, batch_size)):
        yield two_views(augment, x[perm[b * bs:(b + 1) * bs][part]], g_aug, channels_last)


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


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _git_commit() -> str:
    try:
        here = Path(__file__).resolve().parent
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
                              text=True, timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _provenance(device: torch.device) -> dict[str, str]:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {"device": name, "torch": torch.__version__, "commit": _git_commit()}


def _epoch_generator(seed: int, epoch: int, device: torch.device, stream: int = 0) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + epoch * 7_919 + stream * 104_729) % (2**63 - 1))
    return g


def _progress_enabled(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    return os.environ.get("MI_SSL_PROGRESS", "1") not in ("0", "false", "False")


def fit(
    config: TrainConfig,
    data: SSLData | None = None,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    progress: bool | None = None,
    callbacks: list[Callable[[int, Learner], dict[str, Any] | None]] | None = None,
) -> FitResult:
    """Train ``config.method`` on ``config.dataset``; one loop for every method.

    Args:
        config: from :func:`make_config`.
        data: a loaded :class:`SSLData` (default: ``load_dataset(config.dataset, config.data_dir)``).
        out: run directory for ``history.csv``, ``summary.json`` and ``checkpoint.pt`` (``None``: in memory).
        resume: continue from ``out/checkpoint.pt`` if it exists (the config must name the same method
            and dataset); the finished run is bit-identical on CPU to an uninterrupted one.
        progress: tqdm progress bar (default on, unless ``MI_SSL_PROGRESS=0``).
        callbacks: ``cb(epoch, learner) -> dict | None`` after each epoch (epoch 0 = before training);
            returned dicts are collected in ``FitResult.records`` (e.g. cluster centres per epoch).

    Under ``torchrun`` (``WORLD_SIZE > 1``) every rank runs ``fit``: the process group is created from
    the environment (NCCL on ``cuda:LOCAL_RANK``, gloo on CPU) and destroyed at the end, batch norm is
    synchronised, trainable branches are wrapped in DDP, ``batch_size`` is the global batch (a multiple
    of ``WORLD_SIZE``), losses and MI estimates are global (the same on every rank), callbacks run on
    every rank, and only rank 0 writes files or shows progress. The returned learner is unwrapped.

    Raises:
        NonFiniteLossError: the loss became NaN/inf (the last good checkpoint is kept).
    """
    from tqdm import tqdm

    cfg = config
    # torchrun (WORLD_SIZE > 1): DDP + SyncBatchNorm + gathered objectives; --batch-size is the global batch
    ddp = distributed.launched_with_torchrun()
    owns_group = ddp and not distributed.is_distributed()
    device = distributed.init_from_env(cfg.device) if ddp else cfg.resolved_device()
    rank, world = distributed.rank(), distributed.world_size()
    is_main = rank == 0
    if ddp and cfg.batch_size % world:
        raise ValueError(f"batch_size={cfg.batch_size} is the global batch and must be a multiple of the "
                         f"number of processes (WORLD_SIZE={world})")
    if data is None:
        data = load_dataset(cfg.dataset, cfg.data_dir, seed=cfg.seed)
    elif data.name != cfg.dataset:
        raise ValueError(f"data is {data.name!r} but config.dataset is {cfg.dataset!r}")
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    amp = cfg.amp if cfg.amp is not None else device.type == "cuda"
    channels_last = (cfg.channels_last if cfg.channels_last is not None
                     else device.type == "cuda" and data.modality == "image")

    learner = build_learner(cfg, data).to(device)
    if ddp:
        distributed.convert_sync_bn(learner)  # same parameter objects: build optimisers after, wrap in DDP later
    stepper = Stepper(cfg, learner, device, channels_last=channels_last, amp=amp)
    phases, optimizers = learner.phases, stepper.optimizers

    history: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    start_epoch = 1
    ckpt_path = out_dir / CHECKPOINT if out_dir is not None else None
    if resume:
        if ckpt_path is None:
            raise ValueError("resume=True needs a run directory (out=...)")
        if ckpt_path.exists():
            state = torch.load(ckpt_path, map_location=device, weights_only=False)
            saved = state["config"]
            for key in ("method", "dataset", "seed"):
                if saved[key] != getattr(cfg, key):
                    raise ValueError(f"cannot resume: checkpoint has {key}={saved[key]!r}, config has "
                                     f"{key}={getattr(cfg, key)!r}")
            learner.load_state_dict(state["learner"])
            for ph, opt in optimizers.items():
                opt.load_state_dict(state["optimizers"][ph])
            history, records = state["history"], state["records"]
            start_epoch = state["epoch"] + 1
    if ddp:  # after channels-last and resume, so DDP's bucket views and rank-0 broadcast see the final weights
        distributed.prepare_learner(learner, device)

    # fixed held-out views for MI tracking (same every epoch, so changes reflect the encoders)
    augment = make_augment(data)
    n_track = min(cfg.track_n, len(data.test_x))
    track_x = data.test_x[:n_track].to(device)
    g_track = _epoch_generator(cfg.seed, 0, device, stream=99)
    track_v1, track_v2 = two_views(augment, track_x, g_track, channels_last)
    if cfg.compile_views:   # after the tracking views: their shape differs from a minibatch's (a second compile)
        augment.compile()

    train_x = data.train_x.to(device)
    n_batches = batches_per_epoch(len(train_x), cfg.batch_size)
    check_every = 1 if device.type == "cpu" else 50

    def epoch_row(epoch: int, losses: dict[str, list[torch.Tensor]], seconds: float) -> dict[str, Any]:
        row: dict[str, Any] = {"epoch": epoch}
        all_losses = [x for v in losses.values() for x in v]
        row["loss"] = float(torch.stack(all_losses).mean()) if all_losses else math.nan
        if cfg.track_every and (epoch % cfg.track_every == 0 or epoch == cfg.epochs):
            row.update(track_mi(learner, track_v1, track_v2, cfg.track_tau))
        else:
            row.update({"mi_cos_dv": math.nan, "mi_infonce": math.nan, "mi_jsd": math.nan})
        if len(phases) > 1:
            for ph in phases:
                row[f"loss_{ph}"] = float(torch.stack(losses[ph]).mean()) if losses.get(ph) else math.nan
        row["lr"] = lr_at(cfg, epoch)
        row["seconds"] = round(seconds, 4)
        return row

    def run_callbacks(epoch: int) -> None:
        for cb in callbacks or []:
            rec = cb(epoch, learner)
            if rec is not None:
                records.append({"epoch": epoch, **rec})

    def save_checkpoint(epoch: int) -> None:
        if ckpt_path is None or not is_main:
            return
        state = {"config": dataclasses.asdict(cfg), "epoch": epoch, "learner": learner.state_dict(),
                 "optimizers": {ph: o.state_dict() for ph, o in optimizers.items()},
                 "history": history, "records": records, "input_shape": list(data.input_shape),
                 "mi_ssl_version": 1}
        _atomic_write(ckpt_path, lambda p: torch.save(state, p))

    def write_history() -> None:
        if out_dir is not None and is_main:
            _atomic_write(out_dir / HISTORY, lambda p: pd.DataFrame(history).to_csv(p, index=False))

    if start_epoch == 1:
        history.append(epoch_row(0, {}, 0.0))
        run_callbacks(0)

    bar = tqdm(range(start_epoch, cfg.epochs + 1), disable=not (is_main and _progress_enabled(progress)),
               desc=f"{cfg.method}/{cfg.dataset}", unit="epoch", initial=start_epoch - 1, total=cfg.epochs)
    steps_done = {ph: 0 for ph in phases}
    t_start = time.perf_counter()
    with finite_checks(False):
        for epoch in bar:
            t0 = time.perf_counter()
            learner.train()
            losses: dict[str, list[torch.Tensor]] = {ph: [] for ph in phases}
            # one pass = one permutation of the data; Algorithm 1 draws fresh minibatches per pass
            if cfg.schedule == "epoch":
                plan = [(p_i, (ph,)) for p_i, ph in enumerate(phases)]
            else:
                plan = [(0, phases)]
            for pass_id, pass_phases in plan:
                g = _epoch_generator(cfg.seed, epoch, device, stream=pass_id)
                # distributed: the same permutation on every rank, a per-rank augmentation stream
                g_aug = _epoch_generator(cfg.seed, epoch, device, stream=1000 * (rank + 1) + pass_id) if ddp else None
                for b, (v1, v2) in enumerate(view_batches(train_x, cfg.batch_size, augment, g, channels_last,
                                                          rank=rank, world_size=world, augment_generator=g_aug)):
                    progress_ep = epoch - 1 + b / n_batches
                    for ph in pass_phases:
                        losses[ph].append(stepper(ph, v1, v2, progress_ep))
                        steps_done[ph] += 1
                        if steps_done[ph] % check_every == 0 or b == n_batches - 1:
                            if not bool(torch.isfinite(torch.stack(losses[ph][-check_every:])).all()):
                                write_history()
                                last = history[-1]["epoch"] if history else 0
                                where = f"{ckpt_path} (epoch {last})" if ckpt_path else "none (no out=)"
                                raise NonFiniteLossError(
                                    f"{cfg.method}/{cfg.dataset}: the {ph} loss became non-finite at epoch "
                                    f"{epoch}, step {b + 1}/{n_batches} (lr={lr_at(cfg, progress_ep):.4g}). "
                                    f"Last good checkpoint: {where}. Try a smaller --lr or --batch-size.")
            learner.end_epoch()
            row = epoch_row(epoch, losses, time.perf_counter() - t0)
            history.append(row)
            bar.set_postfix(loss=f"{row['loss']:.4f}", mi=f"{row['mi_cos_dv']:.3f}")
            run_callbacks(epoch)
            write_history()
            if epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs:
                save_checkpoint(epoch)
    bar.close()
    if ddp:  # plain modules and BatchNorm*d again (same weights on every rank)
        distributed.release_learner(learner)

    hist = pd.DataFrame(history)
    last = hist.iloc[-1]
    summary = {
        "method": cfg.method, "dataset": cfg.dataset, "epochs": int(last["epoch"]),
        "final_loss": float(last["loss"]), "mi_cos_dv": float(last["mi_cos_dv"]),
        "mi_infonce": float(last["mi_infonce"]), "mi_jsd": float(last["mi_jsd"]),
        "train_seconds_this_session": round(time.perf_counter() - t_start, 3),
        "seconds_per_epoch": float(hist["seconds"].iloc[1:].mean()) if len(hist) > 1 else math.nan,
        "train_seconds_total": round(float(hist["seconds"].sum()), 3),   # every session's epochs, resumes included
        "config": dataclasses.asdict(cfg), "provenance": _provenance(device),
    }
    if device.type == "cuda":
        summary["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    if ddp:
        summary["provenance"]["world_size"] = world
    # a resumed run keeps the probe that `mi-ssl probe` wrote into its summary
    old = {}
    if out_dir is not None and start_epoch > 1 and (out_dir / SUMMARY).exists():
        old = json.loads((out_dir / SUMMARY).read_text())
    summary = {**{k: v for k, v in old.items() if k in ("probe",)}, **summary}
    if out_dir is not None and is_main:
        _atomic_write(out_dir / SUMMARY, lambda p: p.write_text(json.dumps(summary, indent=2, default=str)))
    if owns_group:
        distributed.barrier()
        distributed.cleanup()
    return FitResult(cfg, learner, hist, summary, records, out_dir)


def load_run(run_dir: str | Path, device: str = "cpu") -> tuple[TrainConfig, Learner, dict[str, Any]]:
    """Load a finished (or interrupted) run: its config, learner (eval mode) and checkpoint state."""
    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}; is {run_dir} a directory written by `mi-ssl train`?")
    state = torch.load(path, map_location=device, weights_only=False)
    cfg = TrainConfig(**state["config"])
    shape = state.get("input_shape")  # written by every checkpoint; the data set is only read if it is missing
    learner = build_learner(cfg, tuple(shape) if shape else load_dataset(cfg.dataset, cfg.data_dir, seed=cfg.seed))
    learner.load_state_dict(state["learner"])
    learner.eval()
    return cfg, learner, state
