"""`mi-ssl bench`: the CPU smoke mode writes a complete record whose derived numbers follow from its raw ones.

One ``--tiny`` run (all nine methods x three pipelines + the probe timing, seconds on a CPU) is shared by
the tests. Derived numbers are recomputed here from the raw ``steps``/``seconds`` and compared; FLOP counts
are checked against what each update rule must cost (SDMI runs a second, frozen encoder; SimSiam's copied
target runs none).
"""

import json
import math
import subprocess
import sys

import pytest
import torch

from mi_ssl import bench
from mi_ssl.cli import main
from mi_ssl.methods import MAIN_METHODS

PIPE_KEYS = {"steps", "warmup", "seconds", "steps_per_s", "images_per_s", "peak_memory_mb", "rss_peak_rise_mb",
             "tflops", "share_of_peak", "epoch_seconds", "projected_1000_epochs_hours", "loss_finite"}
PROVENANCE_KEYS = {"device", "device_type", "torch", "torchvision", "cuda", "commit", "command", "timestamp",
                   "synthetic"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    args = ["bench", "--tiny", "--device", "cpu", "--probe", "--quiet",
            "--out", str(out / "r.json"), "--markdown", str(out / "r.md")]
    assert main(args) == 0
    return json.loads((out / "r.json").read_text()), (out / "r.md").read_text()


def test_record_has_provenance_and_every_method_and_pipeline(tiny):
    rec, _ = tiny
    assert rec["schema"] == bench.SCHEMA and rec["complete"] is True
    assert PROVENANCE_KEYS <= set(rec["provenance"])
    pv = rec["provenance"]
    assert pv["device_type"] == "cpu" and pv["cuda"] is None and pv["synthetic"] is True
    assert "--tiny" in pv["command"] and pv["torch"] == torch.__version__
    assert rec["settings"]["synthetic"] is True and rec["settings"]["tiny"] is True
    assert any("synthetic" in n for n in rec["notes"])
    assert list(rec["methods"]) == list(MAIN_METHODS)
    for name, m in rec["methods"].items():
        assert "error" not in m, (name, m.get("error"))
        assert set(m["pipelines"]) == set(bench.PIPELINES), name
        for pipe, r in m["pipelines"].items():
            assert PIPE_KEYS <= set(r), (name, pipe, PIPE_KEYS - set(r))
            assert r["steps"] == rec["settings"]["steps"] and r["seconds"] > 0
            assert r["peak_memory_mb"] is None                  # no device allocator on the CPU
            assert r["share_of_peak"] is None                   # no bf16 peak for a CPU
        assert m["flops_per_step"] > 0
    # the reference loader's warm-up also drains what its workers prefetched
    ref = rec["methods"]["jmi"]["pipelines"]["reference"]
    assert ref["warmup"] == rec["settings"]["warmup"] + rec["settings"]["reference_extra_warmup"]


def test_derived_numbers_follow_from_the_raw_measurements(tiny):
    rec, _ = tiny
    bs = rec["settings"]["batch_size"]
    for name, m in rec["methods"].items():
        p = m["pipelines"]
        ips = {k: v["steps"] * bs / v["seconds"] for k, v in p.items()}
        for k, v in p.items():
            assert v["images_per_s"] == pytest.approx(ips[k], rel=1e-9)
            assert v["tflops"] == pytest.approx(m["flops_per_step"] * v["steps"] / v["seconds"] / 1e12, rel=1e-9)
            passes = 2 if name == "sdmi" else 1                       # SDMI: an E-pass and an M-pass per epoch
            assert v["epoch_seconds"] == pytest.approx(50_000 * passes / ips[k], rel=1e-9)
            assert v["projected_1000_epochs_hours"] == pytest.approx(v["epoch_seconds"] * 1000 / 3600, rel=1e-9)
        assert m["ratios"]["device_over_reference"] == pytest.approx(ips["device"] / ips["reference"], rel=1e-9)
        assert m["ratios"]["device_over_model"] == pytest.approx(ips["device"] / ips["model"], rel=1e-9)
    assert rec["methods"]["sdmi"]["passes_per_epoch"] == 2 and rec["methods"]["jmi"]["passes_per_epoch"] == 1
    s = rec["summary"]
    jmi = rec["methods"]["jmi"]["pipelines"]
    assert s["jmi_projected_1000_epochs_hours_device"] == pytest.approx(
        50_000 / jmi["device"]["images_per_s"] * 1000 / 3600, rel=1e-9)
    assert s["sdmi_over_jmi_peak_memory_model"] is None         # CPU: no peak device memory to compare


def test_flops_per_step_reflect_each_update_rule(tiny):
    rec, _ = tiny
    f = {n: m["flops_per_step"] for n, m in rec["methods"].items()}
    # SDMI: trainable encoder forward + backward on two views (~3 forwards) + the frozen encoder's forward on
    # both (1 more): ~4/3 of JMI's step; the first conv needs no input gradient, so slightly more than 4/3.
    assert 1.25 < f["sdmi"] / f["jmi"] < 1.45
    # SimSiam's target is a stop-gradient copy: no second forward, only the small predictor on top of JMI's
    assert 1.0 <= f["simsiam"] / f["jmi"] < 1.1
    # BYOL's EMA target runs a forward like SDMI's frozen encoder
    assert f["byol"] / f["simsiam"] > 1.25
    # the joint methods share the same encoder: the losses differ by little
    for name in ("simclr", "barlow_twins", "vicreg", "emi"):
        assert f[name] / f["jmi"] == pytest.approx(1.0, abs=0.05), name


def test_markdown_renders_the_measured_numbers(tiny):
    rec, md = tiny
    assert md == bench.to_markdown(rec)
    assert "| method |" in md and "b/a" in md and "b/c" in md and "synthetic: true" in md
    for name, m in rec["methods"].items():
        row = next(line for line in md.splitlines() if line.startswith(f"| {name} |"))
        assert f"{m['ratios']['device_over_reference']:.2f}" in row
        assert f"{m['ratios']['device_over_model']:.2f}" in row
    assert "Linear-probe protocol" in md and "View makers alone" in md and "One step alone" in md


def test_isolated_steps_split_host_and_device_time(tiny):
    rec, _ = tiny
    for m in rec["methods"].values():
        for v in m["pipelines"].values():
            assert 0 < v["isolated_step_host_ms"] <= v["isolated_step_ms"]


def test_probe_and_augment_timings_are_recorded(tiny):
    rec, _ = tiny
    pr = rec["probe"]
    assert pr["n_train"] == 256 and pr["n_test"] == 64
    assert pr["total_seconds"] == pytest.approx(pr["feature_seconds"] + pr["linear_probe_seconds"]
                                                + pr["knn_seconds"], rel=1e-6)
    aug = rec["augment"]
    assert {"ours", "torchvision"} <= set(aug)
    for v in aug.values():
        assert v["images_per_s"] > 0 and math.isfinite(v["images_per_s"])
    # batched makers: time to queue the work on the host; syncs are only counted on CUDA
    assert 0 < aug["ours"]["host_seconds"] <= aug["ours"]["seconds"]
    assert aug["ours"]["host_syncs_per_two_views"] is None
    assert bench.count_host_syncs(lambda: torch.zeros(3).sum().item(), torch.device("cpu")) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_host_syncs_are_counted_on_cuda():
    dev = torch.device("cuda")
    x = torch.arange(4.0, device=dev)
    assert bench.count_host_syncs(lambda: x.sum().item(), dev) >= 1
    assert bench.count_host_syncs(lambda: (x * 2).sum(), dev) == 0     # the view makers: tests/test_augment.py


def test_peak_table_matches_device_names():
    assert bench.peak_bf16_tflops("NVIDIA H100 80GB HBM3") == 989.4
    assert bench.peak_bf16_tflops("NVIDIA H100 PCIe") == 756.0
    assert bench.peak_bf16_tflops("NVIDIA H200") == 989.4
    assert bench.peak_bf16_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert bench.peak_bf16_tflops("Tesla T4") is None


def test_ratios_by_hand():
    m = {"batch_size": 10, "pipelines": {
        "reference": {"steps": 4, "seconds": 2.0},     # 20 img/s
        "device": {"steps": 4, "seconds": 0.5},        # 80 img/s
        "model": {"steps": 8, "seconds": 0.5},         # 160 img/s
    }}
    r = bench.recompute_ratios(m)
    assert r["device_over_reference"] == pytest.approx(4.0)
    assert r["device_over_model"] == pytest.approx(0.5)
    assert r["reference_over_model"] == pytest.approx(0.125)
    assert r["kornia_over_ours"] is None


def test_bad_input_is_a_clear_error(capsys):
    assert main(["bench", "--tiny", "--methods", "dino"]) == 2
    err = capsys.readouterr().err
    assert "dino" in err and "allowed" in err and "sdmi" in err
    assert main(["bench", "--tiny", "--pipelines", "gpu"]) == 2
    assert "pipelines=['gpu']" in capsys.readouterr().err
    assert main(["bench", "--tiny", "--batch-size", "1"]) == 2
    assert "batch_size=1" in capsys.readouterr().err
    assert main(["bench", "--dataset", "gaussian", "--device", "cpu"]) == 2
    assert "image" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown method"):
        bench.run_benchmark(["dino"], tiny=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_clear_error(capsys):
    assert main(["bench", "--device", "cuda", "--synthetic", "1024"]) == 2
    assert "no CUDA device is available" in capsys.readouterr().err
    proc = subprocess.run([sys.executable, "-m", "mi_ssl.bench", "--device", "cuda"], capture_output=True, text=True)
    assert proc.returncode == 2 and "no CUDA device is available" in proc.stderr


def test_missing_kornia_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "kornia", None)
    monkeypatch.setitem(sys.modules, "kornia.augmentation", None)
    with pytest.raises(ValueError, match="pip install kornia"):
        bench.run_benchmark(["jmi"], tiny=True, augment_impls=["ours", "kornia"])


def test_kornia_pipeline_runs_beside_ours():
    pytest.importorskip("kornia")
    rec = bench.run_benchmark(["jmi"], tiny=True, pipelines=["device"], augment_impls=["ours", "kornia"])
    p = rec["methods"]["jmi"]["pipelines"]
    assert set(p) == {"device", "device_kornia"}
    assert rec["methods"]["jmi"]["ratios"]["kornia_over_ours"] == pytest.approx(
        p["device_kornia"]["images_per_s"] / p["device"]["images_per_s"])
    assert "kornia" in rec["augment"]


def test_compile_views_reaches_the_view_maker_and_the_record(monkeypatch, tmp_path):
    from mi_ssl.data.augment import Augment

    compiled = []
    monkeypatch.setattr(Augment, "compile", lambda self: compiled.append(self) or self)   # wiring, not inductor
    rec = bench.run_benchmark(["jmi"], tiny=True, device="cpu", pipelines=["device"], compile_views=True,
                              command="test")
    assert rec["settings"]["compile_views"] is True and len(compiled) == 1
