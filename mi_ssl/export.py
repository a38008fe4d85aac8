"""Carry a trained backbone out of a run: a plain ``state_dict`` file plus a JSON sidecar that says how to use it.

``mi-ssl export --run DIR [--encoder f|g] --out FILE`` (:func:`export_backbone`) writes

* ``FILE``: the backbone's ``state_dict`` only (tensors, contiguous, on the CPU; no projector, no
  predictor, no optimiser), readable with ``torch.load(FILE, weights_only=True)``. The ResNets' keys are
  torchvision's (``conv1.weight``, ``bn1.*``, ``layer1.0.conv1.weight``, ...; no ``fc.*``: the head is
  ``Identity``);
* ``FILE.json``: what is needed to rebuild and feed the network: the backbone name and constructor
  arguments, the torchvision recipe for the ResNets (constructor, and the ``conv1``/``maxpool``/``fc``
  replacements of the CIFAR stem), the input shape and normalisation, the feature dimension, the run's
  config and the commits that trained and exported it.

:func:`load_backbone` reads the pair back into the package's own network (:func:`mi_ssl.networks.build_backbone`),
in eval mode. The same weights load into a plain torchvision ResNet built as the sidecar's ``torchvision``
entry says::

    import json, torch, torchvision
    side = json.load(open("backbone.pt.json"))["torchvision"]
    net = torchvision.models.resnet18(weights=None)
    c = side["conv1"]
    net.conv1 = torch.nn.Conv2d(c["in_channels"], c["out_channels"], c["kernel_size"], c["stride"],
                                c["padding"], bias=c["bias"])
    if side["maxpool"] == "Identity":
        net.maxpool = torch.nn.Identity()
    net.fc = torch.nn.Identity()
    net.load_state_dict(torch.load("backbone.pt", weights_only=True))
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data.stats import CHANNEL_STATS
from .networks import build_backbone
from .rundir import load_run  # the one place this module reads a run directory
from .util import atomic_write, git_commit

__all__ = ["export_backbone", "load_backbone", "sidecar_path", "EXPORT_FORMAT"]

#: Version of the sidecar's layout (bumped when a field changes meaning).
EXPORT_FORMAT = 1


def sidecar_path(file: str | Path) -> Path:
    """The JSON sidecar of an exported backbone: ``FILE.json`` beside ``FILE``."""
    file = Path(file)
    return file.with_name(file.name + ".json")


def _torchvision_recipe(backbone: nn.Module, name: str) -> dict[str, Any] | None:
    """How to build the same network from plain torchvision (ResNets only; ``None`` for the package's nets)."""
    if not name.startswith("resnet"):
        return None
    conv1 = backbone.conv1
    return {
        "constructor": f"torchvision.models.{name}",
        "kwargs": {"weights": None},
        "conv1": {"in_channels": conv1.in_channels, "out_channels": conv1.out_channels,
                  "kernel_size": list(conv1.kernel_size), "stride": list(conv1.stride),
                  "padding": list(conv1.padding), "bias": conv1.bias is not None},
        "maxpool": "Identity" if isinstance(backbone.maxpool, nn.Identity) else "unchanged",
        "fc": "Identity",
        "note": "replace conv1 (and maxpool) as given, set fc to Identity, then load_state_dict(strict=True); "
                "the output is the globally pooled [N, feature_dim] representation",
    }


def _input_spec(dataset: str, input_shape: list[int]) -> dict[str, Any]:
    stats = CHANNEL_STATS.get(dataset)
    if stats is None:
        return {"shape": input_shape, "dtype": "float32",
                "preprocess": "none: float32 samples as the data set gives them"}
    mean, std = stats
    return {"shape": input_shape, "dtype": "float32", "mean": list(mean), "std": list(std),
            "preprocess": "uint8 image x [N, C, H, W] -> (x / 255 - mean[c]) / std[c]"}


def export_backbone(run: str | Path, out: str | Path, encoder: str = "f") -> Path:
    """Write encoder ``encoder``'s backbone of run directory ``run`` to ``out`` (+ ``out.json``); returns ``out``.

    Args:
        run: a run directory written by ``mi-ssl train`` / :func:`mi_ssl.training.fit`.
        out: file to write (its folder is created); the sidecar is ``out`` + ``.json``.
        encoder: ``"f"`` (the online / E-step encoder, every method has it) or ``"g"`` (the second branch of
            the SDMI methods with two encoders: the M-step encoder, or the momentum target).

    Raises:
        FileNotFoundError: ``run`` holds no checkpoint.
        ValueError: ``encoder`` is not one of the run's encoders, or ``out`` is a directory.
    """
    out = Path(out)
    if out.is_dir():
        raise ValueError(f"--out {out} is a directory; give the file to write, e.g. {out / 'backbone.pt'}")
    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"--run {run}: not a directory (expected a run directory written by `mi-ssl train`)")
    cfg, learner, state = load_run(run, device="cpu")
    encoders = learner.encoders()
    if encoder not in encoders:
        raise ValueError(f"--encoder {encoder!r} is not an encoder of this run ({cfg.method} has "
                         f"{', '.join(encoders)}); allowed: {', '.join(encoders)}")
    backbone = encoders[encoder].backbone
    weights = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in backbone.state_dict().items()}
    input_shape = [int(s) for s in state["input_shape"]]
    summary_path = run / "summary.json"
    try:
        trained_commit = json.loads(summary_path.read_text())["provenance"]["commit"]
    except (OSError, ValueError, KeyError, TypeError):
        trained_commit = "unknown"
    kwargs: dict[str, Any] = {}
    if cfg.backbone.startswith("resnet"):
        kwargs["small_images"] = isinstance(backbone.maxpool, nn.Identity)
    sidecar = {
        "format": EXPORT_FORMAT,
        "file": out.name,
        "backbone": cfg.backbone,
        "backbone_kwargs": kwargs,
        "feature_dim": int(backbone.feature_dim),
        "input": _input_spec(cfg.dataset, input_shape),
        "torchvision": _torchvision_recipe(backbone, cfg.backbone),
        "encoder": encoder,
        "method": cfg.method,
        "dataset": cfg.dataset,
        "epochs_trained": int(state["epoch"]),
        "config": dataclasses.asdict(cfg),
        "trained_commit": trained_commit,
        "exported_commit": git_commit(),
        "torch": torch.__version__,
        "run": str(run.resolve()),
        "load": "mi_ssl.load_backbone(FILE), or torch.load(FILE, weights_only=True) into the network above",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda p: torch.save(weights, p))
    atomic_write(sidecar_path(out), lambda p: p.write_text(json.dumps(sidecar, indent=2) + "\n"))
    return out


def load_backbone(file: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The backbone exported to ``file``, rebuilt from its sidecar ``file.json``, weights loaded, in eval mode.

    Input: ``[N, *sidecar["input"]["shape"]]`` float32, preprocessed as ``sidecar["input"]`` says; output
    ``[N, feature_dim]``. Only tensors are read (``weights_only=True``).

    Raises:
        FileNotFoundError: ``file`` or its sidecar is missing.
        ValueError: either file is not what :func:`export_backbone` writes (named in the message).
    """
    file = Path(file)
    side_path = sidecar_path(file)
    for p in (file, side_path):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: not found (mi_ssl.load_backbone needs FILE and FILE.json as written "
                                    f"by `mi-ssl export`)")
    try:
        side = json.loads(side_path.read_text())
        name, kwargs, shape = side["backbone"], dict(side["backbone_kwargs"]), side["input"]["shape"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{side_path}: not an export sidecar of mi-ssl (unreadable or missing {e})") from None
    if side.get("format") != EXPORT_FORMAT:
        raise ValueError(f"{side_path}: export format {side.get('format')!r}, this mi_ssl reads {EXPORT_FORMAT}")
    try:
        weights = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - truncated, not a torch file, or not plain tensors: all one answer
        raise ValueError(f"{file}: not a state_dict written by `mi-ssl export` ({type(e).__name__})") from None
    net = build_backbone(name, shape, **kwargs)
    try:
        net.load_state_dict(weights)
    except (RuntimeError, TypeError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{file}: weights do not fit backbone {name!r} of {side_path.name} ({first})") from None
    return net.to(device).eval()
