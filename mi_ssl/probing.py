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
* seeds as an axis: :func:`probe_seed` trains (or loads) one method at one seed and probes it, returning a few
  numbers per encoder; :func:`probe_grid` does that for every method (floor and ceiling included) on every
  seed in worker processes (:func:`mi_ssl.experiments.parallel_map`), through the run cache;
  :func:`gain_table` summarises the grid over seeds (mean, sd, 95 % interval) with each method's paired gain
  over the floor of the same seed (:func:`mi_ssl.stats.paired`).

The paper's own numbers are in :mod:`mi_ssl.paper`; recorded paper-scale runs in :mod:`mi_ssl.records`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import evaluation, stats
from .config import TrainConfig
from .data import load_dataset
from .data.base import SSLData
from .experiments import method_config, parallel_map, run, run_key
from .learners import build_learner, build_supervised
from .methods import get_method
from .networks import Encoder
from .rundir import PROBES, SUMMARY, RunDir, load_run
from .training import FitResult, fit
from .util import atomic_write, resolve_device

__all__ = ["encoder_features", "probe_encoder", "probe_run", "probe_fit", "probe_table", "random_init_encoder",
           "supervised_baseline", "FLOOR", "CEILING", "probe_seed", "probe_grid", "gain_table", "protocol_table",
           "table1_view", "paper_bars", "table1_pattern", "seed_view"]


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


# =========================================================================== seeds as an axis
#: the method names :func:`probe_seed` and :func:`probe_grid` give the two baselines of Table 1
FLOOR, CEILING = "random init", "supervised"


@functools.lru_cache(maxsize=2)
def _seed_data(dataset: str, data_dir: str | None, seed: int, train_subset: int | None,
               test_subset: int | None) -> SSLData:
    return load_dataset(dataset, data_dir, seed=seed).subset(train_subset, test_subset, seed=seed)


def _baseline_report(name: str, cfg: TrainConfig, data: SSLData, cache_dir: str | Path | None,
                     probe_epochs: int, embedding_probe: bool) -> dict[str, Any]:
    """:func:`probe_encoder` of the floor or the ceiling of ``cfg``, cached as JSON in ``cache_dir``."""
    path = None
    if cache_dir is not None:
        tag = "floor" if name == FLOOR else "ceiling"
        key = run_key(cfg, data, f"{tag}|{probe_epochs}|{embedding_probe}")
        path = Path(cache_dir) / f"{tag}-{cfg.dataset}-{key}.json"
        if path.exists():
            try:
                return json.loads(path.read_text())
            except ValueError:
                pass                                    # unreadable: probe again and overwrite
    enc = (random_init_encoder(cfg, data) if name == FLOOR
           else supervised_baseline(cfg, data, cache_dir=cache_dir, progress=False))
    rep = probe_encoder(enc, data, device=cfg.device, epochs=probe_epochs, seed=cfg.seed,
                        embedding_probe=embedding_probe)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda p: p.write_text(json.dumps(rep)))
    return rep


def probe_seed(method: str, seed: int, dataset: str, *, profile: str = "cpu", data_dir: str | None = None,
               train_subset: int | None = None, test_subset: int | None = None,
               cache_dir: str | Path | None = None, probe_epochs: int = 100, embedding_probe: bool = False,
               reference: str = "jmi", **overrides: Any) -> list[dict[str, Any]]:
    """Train ``method`` at ``seed`` (or load it from ``cache_dir``), probe every encoder: one dict per encoder.

    ``method`` is a registry name, :data:`FLOOR` (the untrained encoder of seed ``seed``) or :data:`CEILING`
    (:func:`supervised_baseline`); both baselines take the backbone, optimiser and epochs of ``reference``'s
    config. The data are ``load_dataset(dataset, data_dir, seed=seed)``, reduced to a seeded random subset
    when ``train_subset``/``test_subset`` are given. ``overrides`` reach :func:`mi_ssl.experiments.method_config`
    (``epochs``, ``device``, ``backbone``, ``track_every``, ...).

    Keys of each dict: ``method, title, paradigm, encoder, seed, top1, knn_top1`` (%), ``effective_rank``,
    ``embedding_std``, ``embedding_std_iso`` (``1/sqrt(d)``, the isotropic value), ``embedding_dim``,
    ``mi_cos_dv`` (the run's last tracked cos-DV estimate between its branches, nats; NaN for the baselines)
    and ``train_epochs`` (0 for the floor); ``z_top1`` (probe on the projector output) with ``embedding_probe``.
    Small and picklable, so :func:`probe_grid` can return it from a worker process.
    """
    data = _seed_data(dataset, data_dir, seed, train_subset, test_subset)
    base = {"seed": seed, "mi_cos_dv": float("nan")}
    if method in (FLOOR, CEILING):
        cfg = method_config(reference, dataset, profile, seed=seed, data_dir=data_dir, **overrides)
        rep = _baseline_report(method, cfg, data, cache_dir, probe_epochs, embedding_probe)
        reports = {"f": rep}
        base.update(title=method, paradigm="baseline", train_epochs=0 if method == FLOOR else int(cfg.epochs))
    else:
        cfg = method_config(method, dataset, profile, seed=seed, data_dir=data_dir, **overrides)
        res = run(cfg, data, cache_dir=cache_dir, progress=False)
        if cache_dir is None:
            reports = {name: probe_encoder(enc, data, device=cfg.device, epochs=probe_epochs, seed=seed,
                                           embedding_probe=embedding_probe)
                       for name, enc in res.learner.encoders().items()}
        else:
            reports = probe_fit(res, data, device=cfg.device, epochs=probe_epochs, embedding_probe=embedding_probe)
        tracked = res.history["mi_cos_dv"].dropna()
        m = get_method(method)
        base.update(title=m.title, paradigm=m.paradigm, train_epochs=int(cfg.epochs),
                    mi_cos_dv=float(tracked.iloc[-1]) if len(tracked) else float("nan"))
    keys = ["top1", *(["z_top1"] if embedding_probe else []), "knn_top1", "effective_rank", "embedding_std",
            "embedding_dim"]
    return [{"method": method, "encoder": enc, **base, **{k: rep[k] for k in keys},
             "embedding_std_iso": 1.0 / float(rep["embedding_dim"]) ** 0.5} for enc, rep in reports.items()]


def probe_grid(methods: Iterable[str], seeds: Sequence[int], dataset: str, *, floor: bool = True,
               ceiling: bool = True, workers: int | None = None, progress: bool | None = None,
               **kwargs: Any) -> pd.DataFrame:
    """:func:`probe_seed` of every method (and the floor and ceiling) on every seed, one row per
    (method, encoder, seed), methods in the given order after ``random init`` and ``supervised``.

    The runs are spread over ``workers`` processes with one torch thread each
    (:func:`mi_ssl.experiments.parallel_map`; ``None``: one per core), so the numbers do not depend on how
    many there were; with ``cache_dir`` in ``kwargs`` every trained run, probe and baseline is stored and a
    second call only reads. ``kwargs`` go to :func:`probe_seed`.
    """
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds!r} must be a non-empty list of distinct integers")
    names = [*([FLOOR] if floor else []), *([CEILING] if ceiling else []), *methods]
    tasks = [{"method": m, "seed": s, "dataset": dataset, **kwargs} for m in names for s in seeds]
    # the two-encoder E/M runs cost about twice the others: start them first so the workers finish together
    order = sorted(range(len(tasks)), key=lambda i: names[i // len(seeds)] in (FLOOR, CEILING)
                   or get_method(names[i // len(seeds)]).update != "em")
    out = parallel_map(probe_seed, [tasks[i] for i in order], workers, progress=progress, desc="probe grid")
    rows = [None] * len(tasks)
    for i, r in zip(order, out):
        rows[i] = r
    return pd.DataFrame([row for r in rows for row in r])


def gain_table(frame: pd.DataFrame, value: str = "top1", floor: str = FLOOR, level: float = 0.95) -> pd.DataFrame:
    """Table 1 over seeds: one row per (method, encoder) of a :func:`probe_grid` frame.

    Columns: ``method, encoder, title, paradigm, n, mean, sd, ci_low, ci_high`` (of ``value`` over seeds,
    :func:`mi_ssl.stats.summarize`), and the paired gain over the ``floor`` row of the same seed
    (:func:`mi_ssl.stats.paired`): ``gain, gain_low, gain_high`` (its ``level`` t-interval), ``ahead``
    (seeds on which the method beats the floor) and ``vs_floor`` (:func:`mi_ssl.stats.verdict`, e.g.
    ``"jmi > random init"`` or ``"tie"``); NaN / empty for the floor itself.
    """
    if floor not in set(frame.method):
        raise ValueError(f"floor={floor!r} is not a method of the frame; methods: {sorted(set(frame.method))}")
    base = frame[frame.method == floor].set_index("seed")[value]
    rows = []
    for (m, e), g in frame.groupby(["method", "encoder"], sort=False):
        s = stats.summarize(g[value], level)
        row = {"method": m, "encoder": e, "title": g.title.iloc[0], "paradigm": g.paradigm.iloc[0], "n": s.n,
               "mean": s.mean, "sd": s.sd, "ci_low": s.low, "ci_high": s.high, "gain": np.nan, "gain_low": np.nan,
               "gain_high": np.nan, "ahead": np.nan, "vs_floor": ""}
        if m != floor:
            missing = sorted(set(g.seed) - set(base.index))
            if missing:
                raise ValueError(f"method {m!r} has seeds {missing} without a floor row; run the floor on them too")
            p = stats.paired(g[value].to_numpy(), base.loc[g.seed].to_numpy(), level=level)
            row.update(gain=p.mean, gain_low=p.low, gain_high=p.high, ahead=p.wins,
                       vs_floor=stats.verdict(p, m, floor))
        rows.append(row)
    return pd.DataFrame(rows)


def protocol_table(methods: Iterable[str], dataset: str, profile: str = "cpu", **overrides: Any) -> pd.DataFrame:
    """The pre-training settings of each method (one row per method, indexed by name): paradigm, the settings
    every method has (backbone, epochs, batch, optimiser, lr, weight decay, projector), and the
    hyper-parameters only it has (its objective's, an EMA momentum, a predictor's width)."""
    shared = ["backbone", "epochs", "batch_size", "optimizer", "lr", "weight_decay", "proj_layers", "proj_hidden",
              "proj_dim"]
    rows = []
    for name in methods:
        m, c = get_method(name), method_config(name, dataset, profile, **overrides)
        own = [*m.objective_keys, *(["momentum"] if m.update == "ema" else []),
               *(["pred_hidden"] if m.predictor != "none" else [])]
        rows.append({"method": name, "paradigm": m.paradigm, **{k: getattr(c, k) for k in shared},
                     "method-specific": ", ".join(f"{k}={getattr(c, k):g}" for k in own)})
    return pd.DataFrame(rows).set_index("method")


def table1_view(gains: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """:func:`gain_table` as the book prints it beside the paper: one row per (method, encoder) with
    ``paradigm``, ``top-1 mean ± sd``, ``95% CI``, ``gain over floor [95% CI]``, ``seeds ahead`` and the
    paper's Table 1 columns (:func:`mi_ssl.paper.table1`; ``-`` where the paper has no row)."""
    from .paper import TABLE1_COLUMNS, table1

    f = f"{{:.{digits}f}}"
    g = f"{{:+.{digits}f}}"
    view = pd.DataFrame({
        "method": gains.method, "encoder": gains.encoder, "paradigm": gains.paradigm,
        "top-1 mean ± sd": [f"{f.format(m)} ± {f.format(s)}" for m, s in zip(gains["mean"], gains.sd)],
        "95% CI": [f"{f.format(lo)}–{f.format(hi)}" for lo, hi in zip(gains.ci_low, gains.ci_high)],
        "gain over floor [95% CI]": ["" if np.isnan(m) else f"{g.format(m)} [{g.format(lo)}, {g.format(hi)}]"
                                     for m, lo, hi in zip(gains.gain, gains.gain_low, gains.gain_high)],
        "seeds ahead": ["" if np.isnan(a) else f"{int(a)}/{n}" for a, n in zip(gains.ahead, gains.n)],
    })
    paper = table1().pivot_table(index=["method", "encoder"], columns="dataset", values="top1")
    paper = paper[list(TABLE1_COLUMNS)].add_prefix("paper: ")
    return view.set_index(["method", "encoder"]).join(paper, how="left")


def paper_bars(dataset: str = "cifar10") -> pd.DataFrame:
    """The paper's Table 1 for one data set as bars to draw: ``label, paradigm, top1, std, dataset``, SDMI
    paradigm first (as :func:`mi_ssl.plots.plot_probe_seeds` takes them)."""
    from .paper import table1

    t = table1()
    if dataset not in set(t.dataset):
        raise ValueError(f"dataset={dataset!r} is not a column of Table 1; allowed: {sorted(set(t.dataset))}")
    t = t[t.dataset == dataset].copy()
    t["paradigm"] = [get_method(m).paradigm for m in t.method]
    t["label"] = [get_method(m).title + (f" ({e})" if m == "sdmi" else "") for m, e in zip(t.method, t.encoder)]
    t = t.sort_values("paradigm", key=lambda s: s.map({"SDMI": 0, "JMI": 1}), kind="stable")
    return t[["label", "paradigm", "top1", "std", "dataset"]].reset_index(drop=True)


def table1_pattern(grid: pd.DataFrame, value: str = "top1", encoder: str = "f",
                   prototypes: Sequence[str] = ("sdmi", "jmi"), level: float = 0.95) -> dict[str, Any]:
    """The pattern the paper reads from Table 1, tested on the seed distribution of a :func:`probe_grid` frame.

    Each method is represented by its ``encoder`` (``f``, the online one). All comparisons are paired over
    the seeds (:func:`mi_ssl.stats.paired`, t-interval at ``level``):

    * ``best``, ``runner_up`` (by mean) and ``best_vs``: ``{other: Paired(best - other)}``; ``single_best`` is
      True when ``best`` is ahead of *every* other method with the interval above 0;
    * ``paradigm_best``: ``{paradigm: its best method}`` and ``paradigms``: Paired(best SDMI - best JMI);
    * ``vs_established``: ``{prototype: Paired(prototype - median over the established methods)}``, the
      established methods being the other rows of the paper's Table 1 present in ``grid`` (the per-seed
      median: "competitive" = not below the middle of the field).
    """
    from .paper import TABLE1

    ssl = grid[(grid.paradigm != "baseline") & (grid.encoder == encoder)]
    wide = ssl.pivot(index="seed", columns="method", values=value)
    missing = wide.columns[wide.isna().any()].tolist()
    if missing:
        raise ValueError(f"methods {missing} lack some seeds; every method needs every seed for paired tests")
    means = wide.mean().sort_values(ascending=False)
    best = str(means.index[0])
    best_vs = {m: stats.paired(wide[best], wide[m], level=level) for m in means.index[1:]}
    paradigm = {m: get_method(m).paradigm for m in wide.columns}
    paradigm_best = {p: str(next(m for m in means.index if paradigm[m] == p)) for p in ("SDMI", "JMI")
                     if p in paradigm.values()}
    out: dict[str, Any] = {"best": best, "runner_up": str(means.index[1]) if len(means) > 1 else "",
                           "means": means, "best_vs": best_vs, "paradigm_best": paradigm_best,
                           "single_best": bool(best_vs) and all(p.low > 0 for p in best_vs.values())}
    if len(paradigm_best) == 2:
        out["paradigms"] = stats.paired(wide[paradigm_best["SDMI"]], wide[paradigm_best["JMI"]], level=level)
    established = [m for m in wide.columns if m not in prototypes and (m, "f") in TABLE1]
    if established:
        field_median = wide[established].median(axis=1)
        out["vs_established"] = {p: stats.paired(wide[p], field_median, level=level)
                                 for p in prototypes if p in wide.columns}
    return out


def seed_view(grid: pd.DataFrame, values: dict[str, str], digits: int = 1, level: float = 0.95) -> pd.DataFrame:
    """Several columns of a :func:`probe_grid` frame over seeds, as the book prints them: one row per
    (method, encoder), one column per ``values`` entry (``{column: heading}``) reading ``mean [low, high]``
    (the t-interval at ``level`` of the mean over seeds, :func:`mi_ssl.stats.seed_table`)."""
    absent = [c for c in values if c not in grid.columns]
    if absent:
        raise ValueError(f"values {absent} are not columns of the grid; columns: {list(grid.columns)}")
    long = grid.melt(id_vars=["method", "encoder", "seed"], value_vars=list(values), var_name="metric")
    t = stats.seed_table(long, ["method", "encoder", "metric"], "value", level)
    t["shown"] = [f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
                  for m, lo, hi in zip(t["mean"], t.ci_low, t.ci_high)]
    view = t.pivot(index=["method", "encoder"], columns="metric", values="shown")[list(values)].rename(columns=values)
    order = list(dict.fromkeys(zip(grid.method, grid.encoder)))
    return view.loc[order].rename_axis(columns=None)
