"""What the book's Performance appendix reads from ``benchmarks/results/``: records loaded, checked, tabulated.

Every derived number of a record is recomputed here from the raw ones stored beside it and must agree
(:func:`check_record`, :func:`check_small_record`); the claims the appendix makes are checked on every
record by :func:`check_claims`. Tables are ``pandas`` frames (imported where a table is made); the
figures are drawn by :mod:`mi_ssl.plots`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..paper import MEMORY_GB
from .plan import EPOCH_IMAGES, PAPER_EPOCHS
from .record import SCHEMA

__all__ = ["RecordError", "PROVENANCE_KEYS", "PAPER_MEMORY_RATIO", "LABELS", "default_results_dir", "load_records",
           "check_record", "check_claims", "check_small_record", "headline", "throughput_frame", "throughput_long",
           "cost_frame", "variants_frame", "facts", "sync_counts", "isolated_frame", "augment_frame", "probe_frame",
           "kernel_frame", "runs_frame"]

#: What every record's provenance must hold.
PROVENANCE_KEYS = frozenset({"device", "device_type", "torch", "torchvision", "cuda", "commit", "command",
                             "timestamp", "synthetic"})
#: Appendix C.1 of the paper: SDMI prototype's GPU memory over the other methods' (about 15 GB / 7 GB).
PAPER_MEMORY_RATIO = MEMORY_GB["sdmi"] / MEMORY_GB["others"]
#: Short names of the pipelines in tables and figures.
LABELS = {"reference": "(a) reference", "device": "(b) mi-ssl", "device_kornia": "(b') kornia views",
          "model": "(c) model only"}


class RecordError(ValueError):
    """A record whose stored numbers do not follow from its raw ones, or that breaks a claim."""


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise RecordError(message)


def _close(a: float | None, b: float | None, rel: float = 1e-9) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, rel_tol=rel))


def default_results_dir(start: str | Path | None = None) -> Path:
    """``benchmarks/results`` in ``start`` (default: the working directory), its nearest parent that has one,
    or beside this package's checkout."""
    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents, Path(__file__).resolve().parents[2]):
        if (d / "benchmarks" / "results").is_dir():
            return d / "benchmarks" / "results"
    raise FileNotFoundError(f"no benchmarks/results folder in {here}, its parents or beside mi_ssl")


def load_records(results_dir: str | Path, schema: str = SCHEMA) -> dict[str, dict[str, Any]]:
    """``{file name: record}`` of the JSON files in ``results_dir`` whose ``schema`` is ``schema``, by name."""
    out = {}
    for path in sorted(Path(results_dir).glob("*.json")):
        rec = json.loads(path.read_text())
        if isinstance(rec, dict) and rec.get("schema") == schema:
            out[path.name] = rec
    return out


def check_record(rec: Mapping[str, Any], name: str = "record") -> bool:
    """A step-benchmark record: provenance complete, and images/s, epoch seconds, 1,000-epoch hours, TFLOP/s
    and the ratios b/a, b/c recomputed from timed steps, seconds, batch size and FLOPs equal the stored ones.
    Raises :class:`RecordError` naming the record, method and pipeline; returns ``True``."""
    missing = PROVENANCE_KEYS - set(rec["provenance"])
    _need(not missing, f"{name}: provenance lacks {sorted(missing)}")
    _need(rec["provenance"]["synthetic"] == rec["settings"]["synthetic"], f"{name}: synthetic flags disagree")
    for m, e in rec["methods"].items():
        if "error" in e:
            continue
        ips = {p: v["steps"] * e["batch_size"] / v["seconds"] for p, v in e["pipelines"].items()}
        for p, v in e["pipelines"].items():
            where = f"{name}: {m} / {p}"
            _need(_close(v["images_per_s"], ips[p]), f"{where}: images_per_s != steps x batch / seconds")
            epoch = EPOCH_IMAGES * e["passes_per_epoch"] / ips[p]
            _need(_close(v["epoch_seconds"], epoch), f"{where}: epoch_seconds")
            _need(_close(v["projected_1000_epochs_hours"], epoch * PAPER_EPOCHS / 3600), f"{where}: 1,000-epoch hours")
            if e["flops_per_step"]:
                _need(_close(v["tflops"], e["flops_per_step"] * v["steps"] / v["seconds"] / 1e12), f"{where}: TFLOP/s")
            if v.get("isolated_step_ms") is not None:
                _need(0 < v["isolated_step_host_ms"] <= v["isolated_step_ms"], f"{where}: host time above step time")
        for key, (num, den) in {"device_over_reference": ("device", "reference"),
                                "device_over_model": ("device", "model")}.items():
            if num in ips and den in ips:
                _need(_close(e["ratios"][key], ips[num] / ips[den]), f"{name}: {m}: ratio {key}")
    return True


def check_claims(rec: Mapping[str, Any], name: str = "record") -> bool:
    """The appendix's claims on one record: SDMI's step costs about 4/3 of JMI's FLOPs, SimSiam's copied target
    adds only a predictor, BYOL's EMA target runs a second forward, SDMI takes two passes an epoch, SDMI / JMI
    peak memory stays below the paper's 15 GB / 7 GB (where measured), and on a GPU the device path does not
    beat its own model-only ceiling beyond noise (b/c < 1.1). Raises :class:`RecordError`; returns ``True``."""
    fl = {m: e.get("flops_per_step") for m, e in rec["methods"].items() if "error" not in e}
    if fl.get("sdmi") and fl.get("jmi"):
        r = fl["sdmi"] / fl["jmi"]
        _need(1.25 < r < 1.45, f"{name}: SDMI/JMI FLOPs per step {r:.3f}, expected about 4/3")
    if fl.get("simsiam") and fl.get("jmi"):
        _need(1.0 <= fl["simsiam"] / fl["jmi"] < 1.1, f"{name}: SimSiam should add only a predictor to JMI's step")
    if fl.get("byol") and fl.get("simsiam"):
        _need(fl["byol"] / fl["simsiam"] > 1.25, f"{name}: BYOL's EMA target runs a second forward")
    for m, e in rec["methods"].items():
        if "error" not in e and "passes_per_epoch" in e:
            _need(e["passes_per_epoch"] == (2 if e["update"] == "em" else 1), f"{name}: {m} passes per epoch")
    mem = rec.get("summary", {}).get("sdmi_over_jmi_peak_memory_model")
    if mem is not None:
        _need(mem < PAPER_MEMORY_RATIO, f"{name}: SDMI/JMI peak memory {mem:.2f} is not below the paper's "
                                        f"{PAPER_MEMORY_RATIO:.2f}")
    if rec["provenance"]["device_type"] == "cuda":
        for m, e in rec["methods"].items():
            bc = e.get("ratios", {}).get("device_over_model")
            _need(bc is None or bc < 1.1, f"{name}: {m} b/c = {bc} > 1.1")
    return True


def check_small_record(rec: Mapping[str, Any], name: str = "small record") -> bool:
    """A ``--small`` record: provenance present, each kernel's ratio = its median / the floor's median at the
    same N, each memory ratio = peak rise / (4 N^2 bytes) and each run total = the sum of its runs."""
    from .kernels import FLOOR

    missing = {"device", "torch", "commit", "command", "timestamp"} - set(rec["provenance"])
    _need(not missing, f"{name}: provenance lacks {sorted(missing)}")
    k = rec.get("kernels")
    if k:
        for kernel, ms in k["ms"].items():
            for n, v in ms.items():
                _need(_close(k["ratio_to_floor"][kernel][n], v / k["ms"][FLOOR][n]), f"{name}: {kernel} at N={n}")
    mem = rec.get("memory")
    if mem:
        for kernel, v in mem["kernels"].items():
            if v["peak_rise_mib"] is not None:
                _need(_close(v["ratio_to_matrix"], v["peak_rise_mib"] * 2**20 / (4 * mem["n"] ** 2)),
                      f"{name}: memory ratio of {kernel}")
    for part, r in rec.get("runs", {}).items():
        _need(_close(r["total_seconds"], sum(v["seconds"] for v in r["methods"].values())), f"{name}: {part} total")
    return True


def headline(gpu: Mapping[str, dict[str, Any]], smoke: dict[str, Any] | None = None
             ) -> tuple[str | None, dict[str, Any] | None, str]:
    """The record the appendix shows: the newest GPU record with every pipeline and two methods or more; else
    the smoke run; returns ``(name, record, one sentence saying which and why)``."""
    from .pipelines import PIPELINES

    full = sorted((r["provenance"]["timestamp"], k) for k, r in gpu.items()
                  if set(PIPELINES) <= set(r["settings"]["pipelines"]) and len(r["methods"]) >= 2)
    if full:
        name = full[-1][1]
        pv = gpu[name]["provenance"]
        return name, gpu[name], (f"GPU record {name}: {pv['device']}, torch {pv['torch']}, CUDA {pv['cuda']}, "
                                 f"commit {pv['commit'][:10]}.")
    if smoke is not None:
        return "smoke", smoke, ("No GPU benchmark is recorded in benchmarks/results yet. The tables below come from "
                                "the CPU smoke run this page just executed (tiny synthetic images, a small conv net, "
                                "a few steps): they show how the numbers are derived, not how fast anything is on "
                                "a GPU.")
    return None, None, "No GPU benchmark is recorded in benchmarks/results yet, and the smoke run is off."


def throughput_frame(rec: Mapping[str, Any]) -> Any:
    """Images/s per method (rows) and pipeline (columns), with b/a and b/c; failed methods left out."""
    import pandas as pd

    rows = []
    for m, e in rec["methods"].items():
        if "error" not in e:
            rows.append({"method": m, "paradigm": e["paradigm"],
                         **{LABELS[p] + " img/s": v["images_per_s"] for p, v in e["pipelines"].items()},
                         "b/a": e["ratios"]["device_over_reference"], "b/c": e["ratios"]["device_over_model"]})
    return pd.DataFrame(rows).set_index("method")


def throughput_long(rec: Mapping[str, Any]) -> Any:
    """Long table ``method, pipeline, images/s`` (for :func:`mi_ssl.plots.plot_bench_throughput`)."""
    import pandas as pd

    return pd.DataFrame([{"method": m, "pipeline": LABELS[p], "images/s": v["images_per_s"]}
                         for m, e in rec["methods"].items() if "error" not in e for p, v in e["pipelines"].items()])


def cost_frame(rec: Mapping[str, Any]) -> Any:
    """Per method: passes per epoch, GFLOP per step, TFLOP/s and share of the bf16 peak (model only), peak
    memory per pipeline, projected 1,000-epoch hours (b) and (a)."""
    import pandas as pd

    rows = []
    for m, e in rec["methods"].items():
        if "error" in e:
            continue
        p = e["pipelines"]
        c, b, a = p.get("model", {}), p.get("device", {}), p.get("reference", {})
        share = c.get("share_of_peak")
        rows.append({"method": m, "passes/epoch": e["passes_per_epoch"],
                     "GFLOP/step": e["flops_per_step"] / 1e9 if e["flops_per_step"] else None,
                     "TFLOP/s (c)": c.get("tflops"), "% bf16 peak (c)": share * 100 if share is not None else None,
                     "peak MB (c)": c.get("peak_memory_mb"), "peak MB (b)": b.get("peak_memory_mb"),
                     "peak MB (a)": a.get("peak_memory_mb"),
                     "1000 epochs h (b)": b.get("projected_1000_epochs_hours"),
                     "1000 epochs h (a)": a.get("projected_1000_epochs_hours")})
    return pd.DataFrame(rows).set_index("method")


def _setting(rec: Mapping[str, Any]) -> str:
    st = rec["settings"]
    keys = ("compile", "compile_views", "cudnn_benchmark", "profile", "batch_size", "backbone")
    return ", ".join(f"{k}={st.get(k, False)}" for k in keys)  # compile_views: absent from older records


def variants_frame(gpu: Mapping[str, dict[str, Any]], head_name: str | None, head: Mapping[str, Any] | None) -> Any:
    """Every other GPU record's images/s per method and pipeline against the headline's, with its settings."""
    import pandas as pd

    rows = []
    for name, rec in gpu.items():
        if head is None or name == head_name:
            continue
        for m, e in rec["methods"].items():
            for p, v in e.get("pipelines", {}).items():
                base = head["methods"].get(m, {}).get("pipelines", {}).get(p, {}).get("images_per_s")
                rows.append({"record": name, "setting": _setting(rec), "method": m, "pipeline": LABELS[p],
                             "images/s": v["images_per_s"], "headline images/s": base,
                             "ratio to headline": v["images_per_s"] / base if base else None})
    return pd.DataFrame(rows)


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def facts(rec: Mapping[str, Any] | None) -> dict[str, float | None]:
    """The numbers the appendix's text quotes from one record (``None`` where the record has none)."""
    if rec is None:
        return {}
    ms, s = rec["methods"], rec.get("summary", {})
    flops = {m: e.get("flops_per_step") for m, e in ms.items() if "error" not in e}
    jmi = ms.get("jmi", {}).get("pipelines", {})
    sdmi_jmi = _ratio(flops.get("sdmi"), flops.get("jmi"))
    return {"flops_sdmi_jmi": sdmi_jmi, "flops_simsiam_jmi": _ratio(flops.get("simsiam"), flops.get("jmi")),
            "epoch_sdmi_jmi": 2 * sdmi_jmi if sdmi_jmi else None,
            "mem_sdmi_jmi": s.get("sdmi_over_jmi_peak_memory_model"),
            "ba_min": s.get("device_over_reference_min"), "ba_max": s.get("device_over_reference_max"),
            "bc_min": s.get("device_over_model_min"), "bc_max": s.get("device_over_model_max"),
            "jmi_hours_b": jmi.get("device", {}).get("projected_1000_epochs_hours"),
            "jmi_hours_a": jmi.get("reference", {}).get("projected_1000_epochs_hours"),
            "jmi_share": jmi.get("model", {}).get("share_of_peak")}


def sync_counts(gpu: Mapping[str, dict[str, Any]]) -> str:
    """Host synchronisations per two views of our view maker, per GPU record (n/a: made before the count)."""
    parts = []
    for k, r in sorted(gpu.items()):
        v = (r.get("augment") or {}).get("ours", {}).get("host_syncs_per_two_views")
        parts.append(f"{k} (commit {r['provenance']['commit'][:7]}): {'n/a' if v is None else v}")
    return "; ".join(parts) or "no GPU records"


def isolated_frame(records: Mapping[str, dict[str, Any]]) -> Any:
    """One step alone: host ms, step ms and their ratio per record, method and pipeline (newer records only)."""
    import pandas as pd

    return pd.DataFrame([
        {"record": name, "device": rec["provenance"]["device"], "method": m, "pipeline": LABELS[p],
         "host ms": v["isolated_step_host_ms"], "step ms": v["isolated_step_ms"],
         "host / step": v["isolated_step_host_ms"] / v["isolated_step_ms"]}
        for name, rec in records.items() for m, e in rec["methods"].items()
        for p, v in e.get("pipelines", {}).items() if v.get("isolated_step_ms") is not None])


def augment_frame(records: Mapping[str, dict[str, Any]]) -> Any:
    """The view makers alone per record: images/s, host ms and host syncs per two views."""
    import pandas as pd

    rows = []
    for name, rec in records.items():
        st = rec["settings"]
        for maker, v in (rec.get("augment") or {}).items():
            rows.append({"record": name, "device": rec["provenance"]["device"],
                         "data": "x".join(map(str, st["image_shape"])), "batch": min(st["batch_size"], st["n_train"]),
                         "threads": st["torch_threads"], "maker": maker, "where": v["where"],
                         "images/s": v["images_per_s"],
                         "host ms / 2 views": 1e3 * v["host_seconds"] / v["batches"] if "host_seconds" in v else None,
                         "host syncs / 2 views": v.get("host_syncs_per_two_views")})
    return pd.DataFrame(rows)


def probe_frame(records: Mapping[str, dict[str, Any]]) -> Any:
    """Seconds of the linear-probe protocol per record that timed it."""
    import pandas as pd

    return pd.DataFrame([
        {"record": name, "device": rec["provenance"]["device"], "backbone": pr["backbone"],
         "images": f"{pr['n_train']:,} + {pr['n_test']:,}", "features s": pr["feature_seconds"],
         "linear probe s": pr["linear_probe_seconds"], "kNN s": pr["knn_seconds"], "total s": pr["total_seconds"]}
        for name, rec in records.items() if (pr := rec.get("probe"))])


def kernel_frame(rec: Mapping[str, Any]) -> Any:
    """Long table of a ``--small`` record's kernel timing: ``kernel, N, ms, x floor``."""
    import pandas as pd

    k = rec["kernels"]
    return pd.DataFrame([{"kernel": name, "N": int(n), "ms": v, "x floor": k["ratio_to_floor"][name][n]}
                         for name, ms in k["ms"].items() for n, v in ms.items()])


def runs_frame(rec: Mapping[str, Any]) -> Any:
    """Wall seconds of one run per method (rows) and data set (columns) of a ``--small`` record."""
    import pandas as pd

    runs = rec.get("runs") or {}
    return pd.DataFrame({r["dataset"]: {m: v["seconds"] for m, v in r["methods"].items()} for r in runs.values()})
