"""Downstream evaluation of trained encoders: the paper's linear-probe protocol (Section 4.3, Table 1).

Features of the *backbone* (the representation before the projector) are computed once on the
un-augmented train and test splits with the encoder frozen; a linear classifier is trained on the
train features with cross-entropy and scored top-1 on the test split. A weighted kNN and the collapse
diagnostics of :mod:`mi_ssl.evaluation` (effective rank, per-dimension std of normalised
embeddings) are reported beside it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import evaluation
from .data import load_dataset
from .data.base import SSLData

__all__ = ["encoder_features", "probe_encoder", "probe_run"]


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
                  seed: int = 0, knn_k: int = 20) -> dict[str, Any]:
    """Linear probe top-1 (%), kNN top-1 (%) and collapse diagnostics of one frozen encoder."""
    h_tr, h_te, z_tr, z_te = encoder_features(encoder, data, device)
    probe = evaluation.linear_probe(h_tr, data.train_y, h_te, data.test_y, epochs=epochs, seed=seed, device=device)
    report = evaluation.collapse_report(z_te)
    return {
        "top1": float(probe["top1"]),
        "train_top1": float(probe.get("train_top1", float("nan"))),
        "knn_top1": float(evaluation.knn_accuracy(h_tr, data.train_y, h_te, data.test_y, k=knn_k)),
        "effective_rank": float(report["effective_rank"]),
        "embedding_std": float(report["embedding_std"]),
        "embedding_dim": int(z_te.shape[1]),
        "feature_dim": int(h_te.shape[1]),
    }


def probe_run(run_dir: str | Path, *, dataset: str | None = None, data_dir: str | None = None,
              device: str = "auto", epochs: int = 100) -> dict[str, dict[str, Any]]:
    """Probe every encoder of a run written by ``mi-ssl train`` and store the results in its summary.json."""
    from .training import load_run

    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    cfg, learner, _ = load_run(run_dir, device=str(dev))
    data = load_dataset(dataset or cfg.dataset, data_dir or cfg.data_dir, seed=cfg.seed)
    if data.modality == "vector":
        raise ValueError(f"dataset {data.name!r} has no image/signal classes to probe meaningfully; "
                         "use the toy chapter's NN angle gaps instead")
    results = {name: probe_encoder(enc, data, device=dev, epochs=epochs, seed=cfg.seed)
               for name, enc in learner.encoders().items()}
    summary_path = Path(run_dir) / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    summary["probe"] = {"dataset": data.name, "epochs": epochs, **results}
    tmp = summary_path.with_name("summary.json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str))
    os.replace(tmp, summary_path)
    return results
