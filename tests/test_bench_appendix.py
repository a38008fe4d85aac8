"""The Performance appendix's record checks and tables (`mi_ssl.bench.appendix`), on hand-made records whose
derived numbers are worked out here, and on every record committed in benchmarks/results."""

import copy

import pytest

from mi_ssl import paper
from mi_ssl.bench import appendix
from mi_ssl.bench.pipelines import PIPELINES


def _pipe(steps, seconds, batch, flops, passes):
    ips = steps * batch / seconds
    epoch = 50_000 * passes / ips
    return {"steps": steps, "seconds": seconds, "images_per_s": ips, "epoch_seconds": epoch,
            "projected_1000_epochs_hours": epoch * 1000 / 3600, "tflops": flops * steps / seconds / 1e12,
            "isolated_step_host_ms": 1.0, "isolated_step_ms": 2.0, "peak_memory_mb": None}


def _record(device_type="cuda"):
    """Batch 10: reference 4 steps in 2 s (20 img/s), device 4 in 0.5 s (80), model 8 in 0.5 s (160)."""
    methods = {}
    for name, update, flops in (("jmi", "joint", 3e9), ("sdmi", "em", 4e9), ("simsiam", "copy", 3.1e9),
                                ("byol", "ema", 4.1e9)):
        passes = 2 if update == "em" else 1
        pipes = {"reference": _pipe(4, 2.0, 10, flops, passes), "device": _pipe(4, 0.5, 10, flops, passes),
                 "model": _pipe(8, 0.5, 10, flops, passes)}
        methods[name] = {"paradigm": "JMI", "update": update, "batch_size": 10, "passes_per_epoch": passes,
                         "flops_per_step": flops, "pipelines": pipes,
                         "ratios": {"device_over_reference": 4.0, "device_over_model": 0.5}}
    return {"schema": "mi-ssl-bench/1",
            "provenance": {k: "x" for k in appendix.PROVENANCE_KEYS} | {"device_type": device_type,
                                                                         "synthetic": True, "device": "GPU",
                                                                         "timestamp": "2026-01-01", "commit": "abc"},
            "settings": {"synthetic": True, "pipelines": list(PIPELINES), "image_shape": [3, 32, 32],
                         "batch_size": 10, "n_train": 100, "torch_threads": 1},
            "methods": methods, "summary": {"sdmi_over_jmi_peak_memory_model": 1.3}}


def test_a_consistent_record_passes_and_each_tampered_number_is_named():
    rec = _record()
    assert appendix.check_record(rec, "r") and appendix.check_claims(rec, "r")
    for path, match in [(("methods", "jmi", "ratios", "device_over_model"), "jmi: ratio device_over_model"),
                        (("methods", "sdmi", "pipelines", "device", "images_per_s"), "sdmi / device: images_per_s"),
                        (("methods", "sdmi", "pipelines", "model", "epoch_seconds"), "sdmi / model: epoch_seconds"),
                        (("methods", "byol", "pipelines", "reference", "tflops"), "byol / reference: TFLOP/s")]:
        bad = copy.deepcopy(rec)
        d = bad
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] *= 1.01
        with pytest.raises(appendix.RecordError, match=match):
            appendix.check_record(bad, "r")
    bad = copy.deepcopy(rec)
    del bad["provenance"]["commit"]
    with pytest.raises(appendix.RecordError, match="provenance lacks"):
        appendix.check_record(bad)


def test_claims_fail_where_the_record_contradicts_them():
    rec = _record()
    rec["methods"]["sdmi"]["flops_per_step"] = 6e9                      # 2x JMI, not ~4/3
    with pytest.raises(appendix.RecordError, match="about 4/3"):
        appendix.check_claims(rec)
    rec = _record()
    rec["summary"]["sdmi_over_jmi_peak_memory_model"] = 15 / 7 + 0.01
    with pytest.raises(appendix.RecordError, match="paper's 2.14"):
        appendix.check_claims(rec)
    rec = _record()
    rec["methods"]["jmi"]["ratios"]["device_over_model"] = 1.2          # b/c > 1.1 on a GPU: impossible
    with pytest.raises(appendix.RecordError, match="b/c"):
        appendix.check_claims(rec)
    rec["provenance"]["device_type"] = "cpu"                            # on a shared CPU, noise is allowed
    assert appendix.check_claims(rec)


def test_paper_memory_ratio_is_the_papers():
    assert appendix.PAPER_MEMORY_RATIO == pytest.approx(15 / 7)
    assert appendix.PAPER_MEMORY_RATIO == paper.MEMORY_GB["sdmi"] / paper.MEMORY_GB["others"]


def test_facts_and_tables_by_hand():
    rec = _record()
    f = appendix.facts(rec)
    assert f["flops_sdmi_jmi"] == pytest.approx(4 / 3) and f["epoch_sdmi_jmi"] == pytest.approx(8 / 3)
    assert f["flops_simsiam_jmi"] == pytest.approx(3.1 / 3) and f["mem_sdmi_jmi"] == 1.3
    assert f["jmi_hours_b"] == pytest.approx(50_000 / 80 * 1000 / 3600)
    tp = appendix.throughput_frame(rec)
    assert tp.loc["jmi", "(b) mi-ssl img/s"] == pytest.approx(80) and tp.loc["jmi", "b/a"] == 4.0
    assert len(appendix.throughput_long(rec)) == 4 * 3
    assert appendix.cost_frame(rec).loc["sdmi", "passes/epoch"] == 2
    iso = appendix.isolated_frame({"r": rec})
    assert len(iso) == 12 and (iso["host / step"] == 0.5).all()


def test_headline_is_the_newest_full_gpu_record():
    old, new, partial = _record(), _record(), _record()
    old["provenance"]["timestamp"], new["provenance"]["timestamp"] = "2026-01-01", "2026-02-01"
    partial["provenance"]["timestamp"] = "2026-03-01"
    partial["settings"]["pipelines"] = ["device", "model"]
    name, rec, status = appendix.headline({"old": old, "new": new, "partial": partial})
    assert name == "new" and rec is new and "GPU record new" in status
    v = appendix.variants_frame({"old": old, "new": new}, name, rec)
    assert set(v.record) == {"old"} and (v["ratio to headline"] == 1.0).all()
    smoke = _record("cpu")
    assert appendix.headline({}, smoke)[:2] == ("smoke", smoke)
    assert appendix.headline({}, None)[:2] == (None, None)


def test_every_committed_record_is_consistent_and_keeps_the_claims():
    rdir = appendix.default_results_dir()
    recs = appendix.load_records(rdir)
    assert len(recs) >= 5
    for name, rec in recs.items():
        assert appendix.check_record(rec, name) and appendix.check_claims(rec, name)
    for name, rec in appendix.load_records(rdir, "mi-ssl-bench-small/1").items():
        assert appendix.check_small_record(rec, name)
