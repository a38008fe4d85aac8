"""A ``mi-ssl bench`` record as markdown: provenance, throughput with the ratios b/a and b/c, FLOPs,
memory, projected epoch times, one step alone, the view makers and the probe timing."""

from __future__ import annotations

from typing import Any

from .pipelines import PIPELINES
from .plan import EPOCH_IMAGES

__all__ = ["to_markdown", "small_to_markdown", "fmt"]

_SHORT = {"reference": "(a) reference", "device": "(b) mi-ssl", "device_kornia": "(b') kornia",
          "model": "(c) model only"}


def fmt(v: float | None, spec: str = ",.0f", suffix: str = "") -> str:
    """``v`` formatted with ``spec`` and ``suffix``; ``"n/a"`` for ``None``."""
    return "n/a" if v is None else f"{v:{spec}}{suffix}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _header(result: dict[str, Any]) -> list[str]:
    pv, st = result["provenance"], result["settings"]
    return [
        f"# mi-ssl bench — {pv['device']} ({pv['device_type']})",
        "",
        f"- command: `{pv['command']}`",
        f"- commit {pv['commit']}{' (dirty tree)' if pv.get('dirty') else ''}, torch {pv['torch']}, "
        f"torchvision {pv['torchvision']}, CUDA {pv['cuda'] or 'n/a'}, {pv['timestamp']}",
        f"- data: {st['dataset']} {'x'.join(map(str, st['image_shape']))}, {st['n_train']:,} images, "
        f"**synthetic: {str(st['synthetic']).lower()}**",
        f"- batch {st['batch_size']}, {st['steps']} timed steps after {st['warmup']} warm-up steps "
        f"(+{st['reference_extra_warmup']} for the reference loader), backbone {st['backbone']}, profile "
        f"{st['profile']}, bf16 autocast {st['amp_bf16']}, channels-last {st['channels_last']}, compile "
        f"{st['compile']}, cudnn.benchmark {st['cudnn_benchmark']}, {st['workers']} DataLoader workers",
        f"- dense bf16 peak: {fmt(st['peak_bf16_tflops'], '.1f', ' TFLOP/s')}",
        "",
    ]


def _throughput_row(name: str, e: dict[str, Any], pipes: list[str]) -> list[str]:
    p = e.get("pipelines", {})
    best = p.get("device") or p.get("device_kornia") or p.get("model") or p.get("reference") or {}
    model = p.get("model", {})
    flops = e.get("flops_per_step")
    share = model.get("share_of_peak")
    return [name, *[fmt(p.get(k, {}).get("images_per_s")) for k in pipes],
            fmt(e["ratios"]["device_over_reference"], ".2f"), fmt(e["ratios"]["device_over_model"], ".2f"),
            fmt(flops / 1e9 if flops else None, ",.1f"), fmt(model.get("tflops"), ".1f"),
            fmt(share * 100 if share is not None else None, ".1f"),
            fmt(best.get("peak_memory_mb")), fmt(best.get("epoch_seconds"), ".1f"),
            fmt(best.get("projected_1000_epochs_hours"), ".1f")]


def _throughput(result: dict[str, Any]) -> list[str]:
    pipes = [p for p in ("reference", "device", "device_kornia", "model")
             if any(p in e.get("pipelines", {}) for e in result["methods"].values())]
    if not pipes:
        return []
    head = ["method", *[f"{_SHORT[p]} img/s" for p in pipes], "b/a", "b/c", "GFLOP/step", "TFLOP/s (c)",
            "% bf16 peak (c)", "peak MB (b)", "epoch s (b)", "1000 ep h (b)"]
    lines = ["## Throughput", "", _row(head), "|" + "---|" * len(head)]
    for name, e in result["methods"].items():
        if "error" in e:
            lines.append(f"| {name} | error: {e['error'][:80]} |" + " |" * (len(head) - 2))
        else:
            lines.append(_row(_throughput_row(name, e, pipes)))
    s = result.get("summary", {})
    return lines + ["", "b/a = mi-ssl / reference, b/c = mi-ssl / model-only ceiling (images per second). "
                    f"Epoch = {EPOCH_IMAGES:,} images (SDMI: two passes). "
                    f"SDMI / JMI peak memory (model only): {fmt(s.get('sdmi_over_jmi_peak_memory_model'), '.2f')}; "
                    f"JMI 1,000 epochs: {fmt(s.get('jmi_projected_1000_epochs_hours_device'), '.1f')} h (b), "
                    f"{fmt(s.get('jmi_projected_1000_epochs_hours_reference'), '.1f')} h (a).", ""]


def _isolated_steps(result: dict[str, Any]) -> list[str]:
    """Host ms and total ms of one isolated step per method and pipeline (newer records only)."""
    cells = {(m, p): v for m, e in result["methods"].items() for p, v in e.get("pipelines", {}).items()
             if v.get("isolated_step_ms") is not None}
    if not cells:
        return []
    pipes = [p for p in (*PIPELINES, "device_kornia") if any(q == p for _, q in cells)]
    head = ["method"] + [f"{p} host / step ms" for p in pipes]
    n = max(v["isolated_steps"] for v in cells.values())
    lines = [f"### One step alone (median of {n}, each between two synchronisations)", "",
             _row(head), "|" + "---|" * len(head)]
    for m in result["methods"]:
        cols = [cells.get((m, p)) for p in pipes]
        lines.append(_row([m, *["" if v is None else f"{v['isolated_step_host_ms']:.1f} / {v['isolated_step_ms']:.1f}"
                                for v in cols]]))
    return lines + ["", "Host = time until the host has issued the step (views included); step = until the device "
                        "has finished it. Host close to step: the host (kernel launches, Python) bounds the speed; "
                        "host well below step: the device does.", ""]


def _augment(result: dict[str, Any]) -> list[str]:
    if not result.get("augment"):
        return []
    lines = ["## View makers alone (two views of one batch)", "",
             "| maker | where | img/s | host ms per two views | host syncs per two views |", "|---|---|---|---|---|"]
    for k, v in result["augment"].items():
        host = v.get("host_seconds")
        host_ms = "n/a" if host is None else f"{1e3 * host / v['batches']:.2f}"
        syncs = v.get("host_syncs_per_two_views")
        lines.append(f"| {k} | {v['where']} | {fmt(v['images_per_s'])} | {host_ms} | "
                     f"{'n/a' if syncs is None else syncs} |")
    return lines + [""]


def _probe(result: dict[str, Any]) -> list[str]:
    pr = result.get("probe")
    if not pr:
        return []
    return ["## Linear-probe protocol", "",
            f"{pr['n_train']:,} + {pr['n_test']:,} images through {pr['backbone']}: features "
            f"{pr['feature_seconds']:.2f} s, linear probe ({pr['epochs']} L-BFGS iterations max, "
            f"{pr['lbfgs_iterations']} run) {pr['linear_probe_seconds']:.2f} s, kNN {pr['knn_seconds']:.2f} s; "
            f"total {pr['total_seconds']:.2f} s.", ""]


def to_markdown(result: dict[str, Any]) -> str:
    """The record as markdown: provenance, a throughput table with ratios b/a and b/c, FLOPs, memory,
    projected epoch times, one step alone, the view makers and the probe timing."""
    lines = [*_header(result), *_throughput(result), *_isolated_steps(result), *_augment(result), *_probe(result)]
    lines += [f"- {n}" for n in result.get("notes", [])]
    if not result.get("complete", True):
        lines += ["", "**Incomplete run: the record stops at the last method measured.**"]
    return "\n".join(lines) + "\n"


def _kernel_table(k: dict[str, Any], lightly: dict[str, Any] | None) -> list[str]:
    sizes = [str(n) for n in k["sizes"]]
    lines = [f"## N x N objectives, forward + backward (D = {k['dim']}, one thread, median)", "",
             _row(["kernel", *[f"N = {int(n):,}: ms (x floor)" for n in sizes]]), "|" + "---|" * (len(sizes) + 1)]
    for name, ms in k["ms"].items():
        ratio = k["ratio_to_floor"][name]
        lines.append(_row([name, *[f"{ms[n]:,.2f} ({ratio[n]:.2f})" for n in sizes]]))
    lines += ["", "repeats per N: " + ", ".join(f"{int(n):,}: {k['repeats'][n]}" for n in sizes)
              + ". floor = `S = za @ zb.T; S.exp().sum().backward()` in the same process."]
    if lightly is not None:
        lines.append("lightly: " + (f"{lightly['version']} (`NTXentLoss` computes `objectives.nt_xent`)"
                                    if lightly.get("available") else f"not available ({lightly.get('reason')})"))
    return lines + [""]


def _memory_table(mem: dict[str, Any]) -> list[str]:
    lines = [f"## Peak memory at N = {mem['n']:,} (one N x N float32 matrix = {mem['matrix_mib']:,.0f} MiB)", "",
             "| kernel | peak rise MiB | x one N x N matrix |", "|---|---|---|"]
    for name, v in mem["kernels"].items():
        lines.append(f"| {name} | {fmt(v['peak_rise_mib'], ',.0f')} | {fmt(v['ratio_to_matrix'], '.2f')} |")
    return lines + ["", f"Method: {mem['method']}.", ""]


def _runs_table(runs: dict[str, Any]) -> list[str]:
    parts = list(runs)
    methods = list(dict.fromkeys(m for r in runs.values() for m in r["methods"]))
    lines = ["## One run per method, wall seconds (in memory, no progress bar)", "",
             _row(["method", *[f"{runs[p]['dataset']} s ({runs[p]['source']})" for p in parts]]),
             "|" + "---|" * (len(parts) + 1)]
    for m in methods:
        lines.append(_row([m, *[fmt(runs[p]["methods"].get(m, {}).get("seconds"), ",.2f") for p in parts]]))
    lines.append(_row(["**total**", *[f"**{runs[p]['total_seconds']:,.1f}**" for p in parts]]))
    over = {p: r["epochs_override"] for p, r in runs.items() if r.get("epochs_override") is not None}
    if over:
        lines += ["", "**Epochs overridden** (not the chapters' runs): "
                  + ", ".join(f"{p}: {e}" for p, e in over.items())]
    return lines + [""]


def _grids_table(grids: dict[str, Any]) -> list[str]:
    lines = ["## Many runs at once: every method on every seed (run_grid: worker processes, one thread each)", "",
             _row(["grid", "methods x seeds", "runs", "workers", "wall s", "source"]), "|---|---|---|---|---|---|"]
    for name, g in grids.items():
        lines.append(_row([name, f"{len(g['methods'])} x {len(g['seeds'])}", str(g["runs"]), str(g["workers"]),
                           fmt(g["wall_seconds"], ",.1f"), g["source"]]))
    return lines + [""]


def small_to_markdown(record: dict[str, Any]) -> str:
    """A ``mi-ssl bench --small`` record as markdown: provenance, the kernel table against the floor,
    peak memory against one N x N matrix, and the wall time of one run per method."""
    pv = record["provenance"]
    lines = [f"# mi-ssl bench --small — {pv['device']}, {pv['cpu_count']} CPUs, one torch thread", "",
             f"- command: `{pv['command']}`",
             f"- commit {pv['commit']}{' (dirty tree)' if pv.get('dirty') else ''}, torch {pv['torch']}, "
             f"{pv['timestamp']}, load average (1 min) at the start {fmt(pv.get('load_average_1min'), '.2f')}"]
    if pv.get("note"):
        lines.append(f"- note: {pv['note']}")
    lines.append("")
    if record.get("kernels"):
        lines += _kernel_table(record["kernels"], record.get("lightly"))
    if record.get("memory"):
        lines += _memory_table(record["memory"])
    if record.get("runs"):
        lines += _runs_table(record["runs"])
    if record.get("grids"):
        lines += _grids_table(record["grids"])
    if not record.get("complete", True):
        lines += ["**Incomplete run: the record stops at the last part measured.**", ""]
    return "\n".join(lines)
