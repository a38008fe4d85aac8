"""Probing trained encoders with the paper's linear-probe protocol (Section 4.3, Table 1).

Features of the *backbone* (the representation before the projector) are computed once on the
un-augmented train and test splits with the encoder frozen; a linear classifier is trained on the
train features with cross-entropy and scored top-1 on the test split (:func:`mi_ssl.evaluation.linear_probe`).
A weighted kNN and the collapse diagnostics of :mod:`mi_ssl.evaluation` (effective rank, per-dimension std
of normalised embeddings) are reported beside it.

* :func:`probe_encoder` — one frozen encoder; :func:`probe_run` — every encoder of a run directory
  (``mi-ssl probe``); :func:`probe_fit`, :func:`probe_table` — every encoder of trained runs, cached
  beside each run.
* the two baselines of Table 1: the floor (:func:`random_init_encoder`, the untrained initialisation) and
  the ceiling (:func:`supervised_baseline`, the same backbone trained with cross-entropy by
  :func:`mi_ssl.training.fit`).

The paper's own numbers are in :mod:`mi_ssl.paper`; recorded paper-scale runs in :mod:`mi_ssl.records`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from . import evaluation
from .config import TrainConfig
from .data import load_dataset
from .data.base import SSLData
from .experiments import run_key
from .learners import build_learner, build_supervised
from .methods import get_method
from .networks import Encoder
from .rundir import PROBES, SUMMARY, RunDir, load_run
from .training import FitResult, fit
from .util import atomic_write, resolve_device

__all__ = ["encoder_features", "probe_encoder", "probe_run", "probe_fit", "probe_table", "random_init_encoder",
           "supervised_baseline"]



def encoder_features(encoder: nn.Module, data: SSLData, device: torch.device | str = "cpu",
                     batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Frozen features ``(h_train [N, F], h_test [M, F], z_train [N, D], z_test [M, D])`` on CPU.

    ``h`` = backbone features (probed), ``z`` = projector outputs (used for collapse diagnostics).
    """
    device = torch.device(device)
    encoder = encoder.to(device)

    def to_input(x: torch.Tensor) -> torch.Tensor:
        return data.to_float(x.to(device))

    def both(x: torch.Tensor) -> torch.Tensor:
        h = encoder.features(x)
        return torch.cat([h, encoder.projector(h)], dim=1)

    out = []
    for x in (data.train_x, data.test_x):
        hz = evaluation.extract_features(both, x, batch_size=batch_size, device=device, transform=to_input)
        out.append(hz)
    f_dim = encoder.backbone.feature_dim
    return out[0][:, :f_dim], out[1][:, :f_dim], out[0][:, f_dim:], out[1][:, f_dim:]


def probe_encoder(encoder: nn.Module, data: SSLData, *, device: torch.device | str = "cpu", epochs: int = 100,
                  seed: int = 0, knn_k: int = 20, embedding_probe: bool = False) -> dict[str, Any]:
    """Linear probe top-1 (%), kNN top-1 (%) and collapse diagnostics of one frozen encoder.

    With ``embedding_probe`` a second linear probe reads the projector outputs ``z`` (key ``z_top1``): a
    collapse that the projector absorbs shows there even when the backbone features ``h`` still separate
    the classes.
    """
    h_tr, h_te, z_tr, z_te = encoder_features(encoder, data, device)
    probe = evaluation.linear_probe(h_tr, data.train_y, h_te, data.test_y, epochs=epochs, seed=seed, device=device)
    report = evaluation.collapse_report(z_te)
    out = {
        "top1": float(probe["top1"]),
        "train_top1": float(probe.get("train_top1", float("nan"))),
        "knn_top1": float(evaluation.knn_accuracy(h_tr, data.train_y, h_te, data.test_y, k=knn_k)),
        "effective_rank": float(report["effective_rank"]),
        "embedding_std": float(report["embedding_std"]),
        "embedding_dim": int(z_te.shape[1]),
        "feature_dim": int(h_te.shape[1]),
    }
    if embedding_probe:
        zp = evaluation.linear_probe(z_tr, data.train_y, z_te, data.test_y, epochs=epochs, seed=seed, device=device)
        out["z_top1"] = float(zp["top1"])
    return out


def probe_run(run_dir: str | Path, *, dataset: str | None = None, data_dir: str | None = None,
              device: str = "auto", epochs: int = 100) -> dict[str, dict[str, Any]]:
    """Probe every encoder of a run written by ``mi-ssl train`` and store the results in its summary.json.

    The run directory is locked while probing (a run still training there is not probed). A data set whose
    inputs have another shape than the run's is refused before any feature is computed.
    """
    dev = resolve_device(device)
    run = RunDir(run_dir)
    cfg, learner, state = load_run(run_dir, device=str(dev))
    data = load_dataset(dataset or cfg.dataset, data_dir or cfg.data_dir, seed=cfg.seed)
    trained_on = [int(s) for s in state["input_shape"]]
    if list(data.input_shape) != trained_on:
        raise ValueError(f"dataset {data.name!r} has inputs of shape {list(data.input_shape)}, but the run in "
                         f"{run_dir} was trained on {cfg.dataset!r} with inputs of shape {trained_on}; probe it on "
                         f"a data set of that shape")
    if data.modality == "vector":
        raise ValueError(f"dataset {data.name!r} has no image/signal classes to probe meaningfully; "
                         "use the toy chapter's NN angle gaps instead")
    run.claim_for_update()
    try:
        summary = run.read_json(SUMMARY)       # a corrupt summary.json is reported before the probe runs
        results = {name: probe_encoder(enc, data, device=dev, epochs=epochs, seed=cfg.seed)
                   for name, enc in learner.encoders().items()}
        run.write_json(SUMMARY, {**summary, "probe": {"dataset": data.name, "epochs": epochs, **results}})
    finally:
        run.release()
    return results


# =========================================================================== the baselines of Table 1
def random_init_encoder(config: TrainConfig, data: SSLData) -> nn.Module:
    """The untrained encoder ``f`` of ``config`` (the floor of Table 1).

    Built exactly as :func:`mi_ssl.learners.build_learner` builds ``f`` (same seed, same order of draws),
    so it is the very initialisation every run with this backbone, projector and seed starts from.
    """
    return build_learner(config, data).encoders()["f"]


def supervised_baseline(config: TrainConfig, data: SSLData, *, cache_dir: str | Path | None = None,
                        progress: bool | None = None) -> nn.Module:
    """The ceiling of Table 1: ``config``'s backbone trained with cross-entropy on the labels.

    :func:`mi_ssl.training.fit` steps :class:`~mi_ssl.paradigms.Supervised` with everything the
    self-supervised run ``config`` describes: backbone, initialisation (seed), epochs, batch size, optimiser,
    learning rate, cosine schedule, weight decay and augmentation (one view per sample). The linear
    classifier trained with it is then thrown away: the returned :class:`~mi_ssl.networks.Encoder`
    (backbone, identity projector; CPU, eval mode) is probed like any other. With ``cache_dir`` the trained
    weights are stored as ``supervised-<dataset>-<key>.pt`` (the key of :func:`mi_ssl.experiments.run_key`:
    config and data) and re-used.
    """
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"supervised-{config.dataset}-{run_key(config, data, 'supervised')}.pt"
        if path.exists():
            backbone = build_supervised(config, data).f.backbone
            backbone.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return Encoder(backbone).eval()
    backbone = fit(config, data, progress=progress, learner=build_supervised(config, data)).learner.f.backbone.cpu()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda p: torch.save(backbone.state_dict(), p))
    return Encoder(backbone).eval()


def probe_fit(result: FitResult, data: SSLData, *, device: torch.device | str = "cpu", epochs: int = 100,
              tag: str = "", embedding_probe: bool = False) -> dict[str, dict[str, Any]]:
    """:func:`probe_encoder` of every encoder of a :class:`~mi_ssl.training.FitResult`: ``{encoder: report}``.

    When the run has a directory (a cached run), the reports are stored in ``probes.json`` beside its
    checkpoint, keyed by ``(dataset, n_train, n_test, probe epochs, tag)``, and re-used on the next call.
    """
    key = f"{data.name}|{len(data.train_x)}|{len(data.test_x)}|{epochs}|{int(embedding_probe)}|{tag}"
    run = RunDir(result.out)
    try:
        stored = run.read_json(PROBES)
    except ValueError:
        stored = {}                          # unreadable: probe again and overwrite
    if key in stored:
        return stored[key]
    seed = result.config.seed
    reports = {name: probe_encoder(enc, data, device=device, epochs=epochs, seed=seed,
                                   embedding_probe=embedding_probe)
               for name, enc in result.learner.encoders().items()}
    run.write_json(PROBES, {**stored, key: reports})
    return reports


def probe_table(results: dict[str, Any], data: SSLData, *, device: torch.device | str = "cpu",
                epochs: int = 100, baselines: dict[str, nn.Module] | None = None, tag: str = "",
                embedding_probe: bool = False) -> pd.DataFrame:
    """One row per (method, encoder): ``method, title, paradigm, encoder, top1, knn_top1, effective_rank,
    embedding_std, embedding_std_iso, embedding_dim, feature_dim, train_epochs, mi_cos_dv, mi_infonce``
    (and ``z_top1`` with ``embedding_probe``).

    ``results`` maps method names to :class:`~mi_ssl.training.FitResult`; ``baselines`` maps row names
    (e.g. ``"random init"``, ``"supervised"``) to frozen encoders probed the same way (paradigm
    ``"baseline"``). ``mi_*`` are the run's last tracked MI estimates (nats, between the branches the
    paper pairs; NaN for baselines and untracked runs).
    """
    rows = []
    for name, res in results.items():
        m = get_method(name)
        tracked = res.history.dropna(subset=["mi_cos_dv"])
        mi = {k: float(tracked[k].iloc[-1]) if len(tracked) else float("nan") for k in ("mi_cos_dv", "mi_infonce")}
        for enc, rep in probe_fit(res, data, device=device, epochs=epochs, tag=tag,
                                  embedding_probe=embedding_probe).items():
            rows.append({"method": name, "title": m.title, "paradigm": m.paradigm, "encoder": enc, **rep,
                         "train_epochs": int(res.config.epochs), **mi})
    for name, enc in (baselines or {}).items():
        rep = probe_encoder(enc, data, device=device, epochs=epochs, embedding_probe=embedding_probe)
        rows.append({"method": name, "title": name, "paradigm": "baseline", "encoder": "f", **rep,
                     "train_epochs": 0, "mi_cos_dv": float("nan"), "mi_infonce": float("nan")})
    df = pd.DataFrame(rows)
    df["embedding_std_iso"] = 1.0 / df["embedding_dim"].pow(0.5)
    cols = ["method", "title", "paradigm", "encoder", "top1", *(["z_top1"] if embedding_probe else []), "knn_top1",
            "effective_rank", "embedding_std", "embedding_std_iso", "embedding_dim", "feature_dim", "train_epochs",
            "mi_cos_dv", "mi_infonce"]
    return df[cols]
