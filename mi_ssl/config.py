"""What defines a run: :class:`TrainConfig` and :func:`make_config` (defaults from :mod:`mi_ssl.methods`).

A config is plain data (every field a number, string or ``None``), so it is stored verbatim in a run
directory (:mod:`mi_ssl.rundir`) and hashed to name cached runs (:func:`mi_ssl.experiments.run_key`).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import MissingExtraError
from .methods import get_method, hyperparameters

__all__ = ["TrainConfig", "make_config", "resolve_config", "read_config_file", "parse_settings", "LOGGERS"]

# config field -> objective keyword, where they differ
_OBJECTIVE_KWARG = {"emi_eps": "eps"}


@dataclass
class TrainConfig:
    """Everything that defines a run. Build one with :func:`make_config` (it fills in the defaults), or from a
    YAML file and ``key=value`` settings with :func:`resolve_config`.

    Besides the method's hyper-parameters: ``track_*`` set the MI tracking (every ``track_every`` epochs on
    ``track_n`` held-out samples, critic temperature ``track_tau``); ``eval_every > 0`` adds the online
    evaluation of :func:`mi_ssl.training.fit` (kNN top-1 of each encoder's backbone features every
    ``eval_every`` epochs, and the linear probe with ``eval_probe``); ``logger="tensorboard"`` mirrors every
    history row to TensorBoard event files in ``DIR/tb``. Which fields a resumed run may change:
    :data:`mi_ssl.rundir.RESUME_FREE`.
    """

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
    eval_every: int = 0
    eval_probe: bool = False
    logger: str = "none"
    checkpoint_every: int = 10
    data_dir: str | None = None
    profile: str = "cpu"

    def objective_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the method's objective, read from this config."""
        keys = get_method(self.method).objective_keys
        return {_OBJECTIVE_KWARG.get(k, k): getattr(self, k) for k in keys}


_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}
#: the values a field gets when neither the method's defaults nor an override sets it
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
LOGGERS = ("none", "tensorboard")


def make_config(method: str, dataset: str = "gaussian", profile: str = "cpu", **overrides: Any) -> TrainConfig:
    """Defaults for ``(method, dataset, profile)`` from :mod:`mi_ssl.methods`, then ``overrides``.

    Overrides set to ``None`` are ignored (convenient for CLI flags). Unknown fields and options
    that make no sense for the method are refused with the reason (an option that only repeats the value
    the method gets anyway is accepted, so a saved ``config.json`` can be passed back in).
    """
    m = get_method(method)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(overrides) - _FIELDS
    if unknown:
        raise ValueError(f"unknown training option(s) {sorted(unknown)}; allowed: {', '.join(sorted(_FIELDS))}")
    defaults = {**_DEFAULTS, **hyperparameters(method, dataset, profile)}
    if "momentum" in overrides and m.update != "ema" and overrides["momentum"] != defaults["momentum"]:
        raise ValueError(
            f"momentum={overrides['momentum']} is refused for method {method!r}: only methods with an EMA "
            f"target (byol, mocov3) have a momentum encoder; {method!r} uses update rule '{m.update}'"
        )
    if "schedule" in overrides and m.update != "em" and overrides["schedule"] != defaults["schedule"]:
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

    for f in dataclasses.fields(cfg):     # NaN fails every comparison below, inf some: refuse both here
        value = getattr(cfg, f.name)
        if isinstance(value, float):
            need(math.isfinite(value), f.name, "a finite number")
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
    need(cfg.eval_every >= 0, "eval_every", ">= 0 (0 turns the online evaluation off)")
    need(cfg.logger in LOGGERS, "logger", f"one of {', '.join(LOGGERS)}")
    need(cfg.checkpoint_every >= 1, "checkpoint_every", "an integer >= 1")
    need(cfg.track_n >= 2, "track_n", "an integer >= 2")


# =========================================================================== config files and key=value
def _convert(name: str, value: Any) -> Any:
    """``value`` (a YAML value, or text from ``--set``) as the type of field ``name``; ValueError if it is not."""
    from .params import _Invalid, spec_from_annotation  # the chapters' converters: one reading of text

    annotation = next(f.type for f in dataclasses.fields(TrainConfig) if f.name == name)
    spec, optional = spec_from_annotation(annotation)
    if optional and (value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "~"))):
        return None
    try:
        return spec.convert(value)
    except _Invalid:
        raise ValueError(f"{name}={value!r} is not {spec.describe()}{' or None' if optional else ''}") from None


def _checked(source: str, settings: dict[Any, Any]) -> dict[str, Any]:
    out = {}
    for key, value in settings.items():
        if key not in _FIELDS:
            near = difflib.get_close_matches(str(key), sorted(_FIELDS), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f"; allowed: {', '.join(sorted(_FIELDS))}"
            raise ValueError(f"{source}: {key!r} is not a training option{hint}")
        try:
            out[key] = _convert(key, value)
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None
    return out


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The settings in a YAML (or JSON) file of ``key: value`` lines, each converted to its field's type.

    A run's own ``config.json`` is such a file. Raises ``FileNotFoundError`` or ``ValueError`` (unreadable
    file, not a mapping, unknown key, bad value), each naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--config {path}: no such file")
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise ValueError(f"--config {path}: not a text file") from None
    try:
        settings = json.loads(text)
    except ValueError:
        settings = _read_yaml(path, text)
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise ValueError(f"--config {path}: expected 'key: value' lines, found a {type(settings).__name__}")
    return _checked(f"--config {path}", settings)


def _read_yaml(path: Path, text: str) -> Any:
    try:
        import yaml
    except ImportError:   # PyYAML comes with the book and test extras (papermill); JSON needs nothing
        raise MissingExtraError(f"--config {path}: reading YAML needs PyYAML (pip install pyyaml); "
                                f"or write the file as JSON") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"--config {path}: not a YAML file ({' '.join(str(e).split())})") from None


def parse_settings(items: Sequence[str]) -> dict[str, Any]:
    """``["lr=0.1", "eval_probe=true"]`` -> ``{"lr": 0.1, "eval_probe": True}``, each value converted to its
    field's type (text read as YAML: ``none``/``null`` is ``None`` for the fields that allow it)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. --set lr=0.1")
        out.update(_checked(f"--set {item}", {key.strip().replace("-", "_"): value.strip()}))
    return out


def resolve_config(flags: dict[str, Any] | None = None, settings: Sequence[str] = (),
                   file: str | Path | None = None) -> TrainConfig:
    """A config from every source, highest precedence first: ``flags`` (command-line options; ``None``
    values are unset) > ``settings`` (``--set key=value``) > ``file`` (``--config run.yaml``) > the
    ``(method, dataset, profile)`` defaults of :mod:`mi_ssl.methods`. ``method`` must come from one of them;
    ``dataset`` defaults to ``gaussian`` and ``profile`` to ``cpu``."""
    layers = [read_config_file(file) if file is not None else {}, parse_settings(settings),
              {k: v for k, v in (flags or {}).items() if v is not None}]
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    if merged.get("method") is None:
        raise ValueError("no method given: pass --method NAME (or method: NAME in --config, or --set method=NAME)")
    method = merged.pop("method")
    return make_config(method, merged.pop("dataset", None) or "gaussian", merged.pop("profile", None) or "cpu",
                       **merged)
