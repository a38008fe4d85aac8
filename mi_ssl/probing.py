"""Downstream evaluation of trained encoders: the paper's linear-probe protocol (Section 4.3, Table 1).

Features of the *backbone* (the representation before the projector) are computed once on the
un-augmented train and test splits with the encoder frozen; a linear classifier is trained on the
train features with cross-entropy and scored top-1 on the test split. A weighted kNN and the collapse
diagnostics of :mod:`mi_ssl.evaluation` (effective rank, per-dimension std of normalised
embeddings) are reported beside it.

For the chapters: the floor (:func:`random_init_encoder`, the untrained initialisation) and the ceiling
(:func:`supervised_baseline`, the same backbone trained with cross-entropy) of Table 1, a cached probe of
every encoder of a run (:func:`probe_fit`, :func:`probe_table`), the paper's numbers as data
(:data:`PAPER_TABLE1`, :data:`PAPER_FIG4B`) and the reader of recorded paper-scale runs
(:func:`load_paper_runs`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch
from torch import nn

from . import evaluation, paper
from .data import load_dataset
from .data.base import SSLData

if TYPE_CHECKING:
    from .training import TrainConfig

__all__ = ["encoder_features", "probe_encoder", "probe_run", "PAPER_TABLE1", "PAPER_FIG4B", "PAPER_RUN_FIELDS",
           "paper_table1", "subset", "random_init_encoder", "supervised_baseline", "probe_fit", "probe_table",
           "default_paper_runs_dir", "load_paper_runs"]


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


# =========================================================================== baselines and tables (Table 1)
#: The paper's Table 1 (linear-probe top-1 %, mean and std over 3 runs; ResNet-18 on CIFAR and TinyImageNet,
#: ResNet-50 on ImageNet-100), as ``(method, encoder) -> {dataset: (mean, std)}``; transcribed once in
#: :data:`mi_ssl.paper.TABLE1`.
PAPER_TABLE1: dict[tuple[str, str], dict[str, tuple[float, float]]] = {
    key: dict(zip(paper.TABLE1_COLUMNS, cells)) for key, cells in paper.TABLE1.items()
}

#: Section 4.3, text under Fig. 4(b): linear probe on CIFAR-10 (%, mean and std), the only ablation numbers
#: the paper states in words (Fig. 4(a) gives its ablation results as a bar chart only).
PAPER_FIG4B: dict[str, tuple[float, float]] = dict(paper.SIMSIAM_ABLATION)

#: What a recorded paper-scale run (``benchmarks/results/paper_runs/*.json``) must state: the fields are read
#: from the top level or from its ``provenance`` block (``command`` also from a ``"Command: ..."`` in its ``note``).
PAPER_RUN_FIELDS: tuple[str, ...] = ("method", "dataset", "epochs", "device", "commit", "command")


def paper_table1() -> pd.DataFrame:
    """:data:`PAPER_TABLE1` as a long table ``method, encoder, dataset, top1, std, source``."""
    rows = [{"method": m, "encoder": e, "dataset": d, "top1": mean, "std": std,
             "source": "Sabby et al. 2025, Table 1 (mean ± std over 3 runs)"}
            for (m, e), cells in PAPER_TABLE1.items() for d, (mean, std) in cells.items()]
    return pd.DataFrame(rows)


def subset(data: SSLData, n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> SSLData:
    """A seeded random subset of ``data``: ``n_train`` training and ``n_test`` test samples (``None``: all).

    Used to run the paper-scale path (CIFAR, ResNet-18) on a CPU in seconds. The name stays the same,
    so runs on a subset must be cached apart from full runs (see the chapters' ``cache_dir``).
    """
    g = torch.Generator().manual_seed(seed)

    def pick(x: torch.Tensor, y: torch.Tensor, n: int | None, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        if n is None or n >= len(x):
            return x, y
        if not isinstance(n, int) or n < 2:
            raise ValueError(f"{name}={n!r} is not allowed; expected None or an integer >= 2")
        idx = torch.randperm(len(x), generator=g)[:n].sort().values
        return x[idx], y[idx]

    tr_x, tr_y = pick(data.train_x, data.train_y, n_train, "n_train")
    te_x, te_y = pick(data.test_x, data.test_y, n_test, "n_test")
    return SSLData(data.name, data.modality, tr_x, tr_y, te_x, te_y, data.num_classes, mean=data.mean,
                   std=data.std, source=f"{data.source} (subset: {len(tr_x)} train / {len(te_x)} test, seed {seed})")


def random_init_encoder(config: TrainConfig, data: SSLData) -> nn.Module:
    """The untrained encoder ``f`` of ``config`` (the floor of Table 1).

    Built exactly as :func:`mi_ssl.training.build_learner` builds ``f`` (same seed, same order of draws),
    so it is the very initialisation every run with this backbone, projector and seed starts from.
    """
    from .training import build_learner

    return build_learner(config, data).encoders()["f"]


def supervised_baseline(config: TrainConfig, data: SSLData, *, cache_dir: str | Path | None = None,
                        progress: bool | None = None) -> nn.Module:
    """The ceiling of Table 1: ``config``'s backbone trained with cross-entropy on the labels.

    Same backbone, initialisation (seed), epochs, batch size, optimiser, learning rate, cosine schedule,
    weight decay and augmentation (one view per sample) as the self-supervised run ``config`` describes;
    a linear classifier on top is trained jointly and then thrown away: the returned
    :class:`~mi_ssl.networks.Encoder` (backbone, identity projector) is probed like any other.
    With ``cache_dir`` the trained weights are stored as ``supervised-<dataset>-<key>.pt`` (the key of
    :func:`mi_ssl.experiments.run_key`: config and data) and re-used.
    """
    from tqdm.auto import tqdm

    from .data.augment import make_augment
    from .experiments import run_key
    from .networks import Encoder, build_backbone
    from .training import _epoch_generator, _optimizer, _progress_enabled, batches_per_epoch, lr_at

    device = config.resolved_device()
    torch.manual_seed(config.seed)
    backbone = build_backbone(config.backbone, data.input_shape)
    head = nn.Linear(backbone.feature_dim, data.num_classes)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"supervised-{config.dataset}-{run_key(config, data, 'supervised')}.pt"
        if path.exists():
            backbone.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return Encoder(backbone).eval()
    model = nn.Sequential(backbone, head).to(device)
    opt = _optimizer(config, list(model.parameters()), device)
    augment = make_augment(data)
    x, y = data.train_x.to(device), data.train_y.to(device)
    n, bs = len(x), min(config.batch_size, len(x))
    n_batches = batches_per_epoch(n, config.batch_size)
    amp = config.amp if config.amp is not None else device.type == "cuda"
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp)
    model.train()
    for epoch in tqdm(range(1, config.epochs + 1), disable=not _progress_enabled(progress),
                      desc=f"supervised/{config.dataset}", unit="epoch"):
        g = _epoch_generator(config.seed, epoch, device, stream=7)
        perm = torch.randperm(n, generator=g, device=device)
        for b in range(n_batches):
            idx = perm[b * bs:(b + 1) * bs]
            for group in opt.param_groups:
                group["lr"] = lr_at(config, epoch - 1 + b / n_batches)
            with autocast:
                loss = nn.functional.cross_entropy(model(augment(x[idx], g)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if not torch.isfinite(loss):
            raise RuntimeError(f"supervised baseline on {config.dataset}: the loss became non-finite at epoch "
                               f"{epoch}; try a smaller lr")
    backbone = backbone.cpu()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(backbone.state_dict(), tmp)
        os.replace(tmp, path)
    return Encoder(backbone).eval()


def probe_fit(result: Any, data: SSLData, *, device: torch.device | str = "cpu", epochs: int = 100,
              tag: str = "", embedding_probe: bool = False) -> dict[str, dict[str, Any]]:
    """:func:`probe_encoder` of every encoder of a :class:`~mi_ssl.training.FitResult`: ``{encoder: report}``.

    When the run has a directory (a cached run), the reports are stored in ``probes.json`` beside its
    checkpoint, keyed by ``(dataset, n_train, n_test, probe epochs, tag)``, and re-used on the next call.
    """
    key = f"{data.name}|{len(data.train_x)}|{len(data.test_x)}|{epochs}|{int(embedding_probe)}|{tag}"
    path = Path(result.out) / "probes.json" if getattr(result, "out", None) is not None else None
    stored: dict[str, Any] = {}
    if path is not None and path.exists():
        try:
            stored = json.loads(path.read_text())
        except ValueError:
            stored = {}                          # unreadable: probe again and overwrite
        if key in stored:
            return stored[key]
    seed = result.config.seed
    reports = {name: probe_encoder(enc, data, device=device, epochs=epochs, seed=seed,
                                   embedding_probe=embedding_probe)
               for name, enc in result.learner.encoders().items()}
    if path is not None:
        stored[key] = reports
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(stored, indent=2))
        os.replace(tmp, path)
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
    from .methods import get_method

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


def load_paper_runs(directory: str | Path | None) -> pd.DataFrame:
    """Recorded paper-scale runs: one row per record of every ``*.json`` in ``directory``.

    A file holds one record (an object, e.g. a run's ``summary.json`` with its ``provenance``) or a list.
    Every record must state :data:`PAPER_RUN_FIELDS`; one that does not is refused with a ``ValueError``
    naming the file and what is missing — a number without its device, commit and command is not shown.
    Columns: the fields, ``synthetic`` (the record says its data were random, so its accuracy means
    nothing), ``top1`` (linear probe, %; NaN where none was recorded and always NaN for synthetic data),
    ``seconds_per_epoch``, ``peak_memory_gib``, ``file``. A missing or empty directory gives an empty table.
    """
    rows: list[dict[str, Any]] = []
    if directory is not None and Path(directory).is_dir():
        for path in sorted(Path(directory).glob("*.json")):
            blob = json.loads(path.read_text())
            for rec in blob if isinstance(blob, list) else [blob]:
                fields = {f: _run_field(rec, f) for f in PAPER_RUN_FIELDS}
                missing = [f for f, v in fields.items() if v is None]
                if missing:
                    raise ValueError(f"{path}: a recorded run must state {', '.join(PAPER_RUN_FIELDS)} (top level "
                                     f"or provenance); missing: {', '.join(missing)}")
                synthetic = bool(rec.get("synthetic", False))
                rows.append({**fields, "synthetic": synthetic,
                             "top1": float("nan") if synthetic else _run_top1(rec),
                             "seconds_per_epoch": rec.get("seconds_per_epoch", float("nan")),
                             "peak_memory_gib": rec.get("peak_memory_gib", float("nan")), "file": path.name})
    cols = [*PAPER_RUN_FIELDS, "synthetic", "top1", "seconds_per_epoch", "peak_memory_gib", "file"]
    df = pd.DataFrame(rows, columns=cols)
    return df.astype({"synthetic": bool, "top1": float, "seconds_per_epoch": float, "peak_memory_gib": float})
