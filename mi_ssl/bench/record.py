"""The JSON record of ``mi-ssl bench``: provenance, derived numbers, ratios, summary, atomic writes.

Every derived number is a function of raw ones stored beside it (timed steps, seconds, batch size, FLOPs
per step), so a reader can recompute it: :func:`recompute_ratios` does so for the ratios, and
:func:`mi_ssl.bench.appendix.check_record` for every derived field.
"""

from __future__ import annotations

import json
import math
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from ..util import atomic_write, git_dirty, provenance
from .plan import EPOCH_IMAGES, PAPER_EPOCHS

__all__ = ["SCHEMA", "cpu_name", "bench_provenance", "derive", "recompute_ratios", "summarise", "clean",
           "write_json"]

SCHEMA = "mi-ssl-bench/1"


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``; elsewhere what :mod:`platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def bench_provenance(device: torch.device, command: str, **extra: Any) -> dict[str, Any]:
    """:func:`mi_ssl.util.provenance` plus what a timing depends on: the device's name and memory (the CPU's
    model name on a CPU), library versions, the machine, the command line, the time and the load average."""
    import torchvision

    cuda = device.type == "cuda"
    memory = round(torch.cuda.get_device_properties(device).total_memory / 2**30, 2) if cuda else None
    pv = provenance(
        device,
        device_type=device.type,
        device_memory_gib=memory,
        cpu_count=os.cpu_count(),
        torchvision=torchvision.__version__,
        cuda=torch.version.cuda if cuda else None,
        cudnn=torch.backends.cudnn.version() if cuda else None,
        python=platform.python_version(),
        platform=platform.platform(),
        dirty=git_dirty(),
        command=command,
        timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        load_average_1min=round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        **extra,
    )
    if not cuda:
        pv["device"] = cpu_name()
    return pv


def derive(entry: dict[str, Any], flops: int | None, peak: float | None, passes: int) -> None:
    """Add TFLOP/s, share of peak, epoch and 1,000-epoch times to one pipeline's measurement (in place)."""
    ips = entry["images_per_s"]
    entry["tflops"] = flops * entry["steps_per_s"] / 1e12 if flops else None
    entry["share_of_peak"] = entry["tflops"] / peak if entry["tflops"] is not None and peak else None
    entry["epoch_seconds"] = EPOCH_IMAGES * passes / ips
    entry["projected_1000_epochs_hours"] = entry["epoch_seconds"] * PAPER_EPOCHS / 3600


def _ratio(num: dict | None, den: dict | None) -> float | None:
    if not num or not den or "images_per_s" not in num or "images_per_s" not in den:
        return None
    return num["images_per_s"] / den["images_per_s"]


def recompute_ratios(method_result: dict[str, Any]) -> dict[str, float | None]:
    """Ratios of one method's throughputs from its raw numbers (``steps x batch / seconds``).

    ``device_over_reference`` = b/a, ``device_over_model`` = b/c, ``reference_over_model`` = a/c,
    ``kornia_over_ours`` = b'/b (when the kornia pipeline ran).
    """
    p = method_result.get("pipelines", {})
    raw = {k: {"images_per_s": v["steps"] * method_result["batch_size"] / v["seconds"]}
           for k, v in p.items() if "seconds" in v}
    return {
        "device_over_reference": _ratio(raw.get("device"), raw.get("reference")),
        "device_over_model": _ratio(raw.get("device"), raw.get("model")),
        "reference_over_model": _ratio(raw.get("reference"), raw.get("model")),
        "kornia_over_ours": _ratio(raw.get("device_kornia"), raw.get("device")),
    }


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """Cross-method numbers: SDMI / JMI peak memory, JMI's projected 1,000-epoch time, ratio ranges."""
    ms = result["methods"]

    def get(method: str, pipe: str, key: str) -> float | None:
        return ms.get(method, {}).get("pipelines", {}).get(pipe, {}).get(key)

    out: dict[str, Any] = {}
    for pipe in ("model", "device", "reference"):
        s, j = get("sdmi", pipe, "peak_memory_mb"), get("jmi", pipe, "peak_memory_mb")
        out[f"sdmi_over_jmi_peak_memory_{pipe}"] = s / j if s and j else None
        out[f"jmi_projected_1000_epochs_hours_{pipe}"] = get("jmi", pipe, "projected_1000_epochs_hours")
    for key in ("device_over_reference", "device_over_model"):
        vals = [e["ratios"][key] for e in ms.values() if e.get("ratios", {}).get(key) is not None]
        out[f"{key}_min"] = min(vals) if vals else None
        out[f"{key}_max"] = max(vals) if vals else None
    return out


def clean(o: Any) -> Any:
    """Non-finite floats -> ``None`` (JSON has no NaN), tuples -> lists, recursively."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [clean(v) for v in o]
    return o


def write_json(path: str | Path, result: dict[str, Any]) -> None:
    """Write ``result`` (cleaned) to ``path`` atomically, creating the folder; a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(clean(result), indent=2, allow_nan=False) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))
