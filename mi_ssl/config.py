"""What defines a run: :class:`TrainConfig` and :func:`make_config` (defaults from :mod:`mi_ssl.methods`).

A config is plain data (every field a number, string or ``None``), so it is stored verbatim in a run
directory (:mod:`mi_ssl.rundir`) and hashed to name cached runs (:func:`mi_ssl.experiments.run_key`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .methods import get_method, hyperparameters

__all__ = ["TrainConfig", "make_config"]

# config field -> objective keyword, where they differ
_OBJECTIVE_KWARG = {"emi_eps": "eps"}


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

    def objective_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the method's objective, read from this config."""
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
