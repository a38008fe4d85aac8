"""`mi-ssl bench --small`: kernel timing against the floor, peak memory, run times, its record and command.

Truths used: a kernel that sleeps a known time cannot be timed below it; the floor must hold the score
matrix and its exponential at once (two N x N matrices, derived by hand); lightly's NTXentLoss computes the
same number as ``objectives.nt_xent`` (SimCLR's loss, independently written); ratios are medians over the
floor's median, recomputed from the raw numbers.
"""

import json
import sys
import time

import pytest
import torch

from mi_ssl import bench, objectives
from mi_ssl.bench import kernels, memory, small
from mi_ssl.cli import main


def test_time_kernels_times_every_kernel_with_the_floor_beside_it():
    def slow(za, zb):
        time.sleep(0.004)
        return kernels.floor(za, zb)

    res = bench.time_kernels({"slow": slow}, [16, 32], budget_s=0.01, min_repeats=3, max_repeats=4)
    assert set(res["ms"]) == {bench.FLOOR, "slow"} and list(res["ms"])[0] == bench.FLOOR
    for n in ("16", "32"):
        assert 3 <= res["repeats"][n] <= 4
        assert res["min_ms"]["slow"][n] >= 4.0                       # it sleeps 4 ms every call
        assert res["min_ms"]["slow"][n] <= res["ms"]["slow"][n]
        assert res["ratio_to_floor"]["slow"][n] == pytest.approx(res["ms"]["slow"][n] / res["ms"]["floor"][n])
        assert res["ratio_to_floor"]["floor"][n] == 1.0


def test_time_kernels_runs_forward_and_backward():
    seen = []

    def probe(za, zb):
        seen.append((za.shape, za.requires_grad))
        return (za * zb).sum()

    bench.time_kernels({"probe": probe}, [8], dim=5, budget_s=0.0, min_repeats=1, max_repeats=1)
    assert seen == [(torch.Size([8, 5]), True)] * 2              # one untimed call, one timed


@pytest.mark.parametrize("kw, match", [({"sizes": [1]}, "sizes"), ({"sizes": []}, "sizes"),
                                       ({"sizes": [8], "dim": 0}, "dim"),
                                       ({"sizes": [8], "min_repeats": 5, "max_repeats": 2}, "min_repeats")])
def test_time_kernels_rejects_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        bench.time_kernels({}, **kw)


def test_objective_kernels_are_the_package_functions():
    za, zb = (z.detach() for z in kernels.random_pair(40, 3, seed=1))  # values only: no graph
    ks = bench.objective_kernels(tau=0.2)
    assert ks["objectives.cos_dv"](za, zb).item() == pytest.approx(objectives.cos_dv(za, zb, 0.2).item())
    # the estimators are +I on cosine scores at tau = 1; moco_infonce = log N - I_InfoNCE at its own tau
    from mi_ssl import bounds
    s1 = bounds.cosine_scores(za, zb, 1.0)
    assert float(ks["bounds.infonce(cosine_scores)"](za, zb)) == pytest.approx(float(bounds.infonce(s1)))
    assert {"objectives.nt_xent", "objectives.moco_infonce", "bounds.dv(cosine_scores)", "bounds.jsd(cosine_scores)",
            "bounds.nwj(cosine_scores)"} < set(ks)


def test_lightly_ntxent_computes_our_nt_xent():
    pytest.importorskip("lightly")
    ks, info = bench.lightly_kernels(tau=0.3)
    assert info["available"] and info["compares_with"] == {"lightly.NTXentLoss": "objectives.nt_xent"}
    za, zb = (z.detach() for z in kernels.random_pair(50, 4, seed=2))
    assert float(ks["lightly.NTXentLoss"](za, zb)) == pytest.approx(float(objectives.nt_xent(za, zb, 0.3)), rel=1e-5)


def test_missing_lightly_is_recorded_not_fatal(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightly", None)
    monkeypatch.setitem(sys.modules, "lightly.loss", None)
    ks, info = bench.lightly_kernels()
    assert ks == {} and info["available"] is False and "lightly" in info["reason"]


def test_peak_memory_of_the_floor_is_two_matrices():
    # forward: S = za @ zb.T and exp(S) exist at once; backward: exp(S) (saved) and the gradient G * exp(S).
    # Everything else is [N, 3]. So the peak is two N x N float32 matrices, a little more for bookkeeping.
    r = memory.peak_memory("floor", n=3072)                      # 36 MiB matrices: fresh mappings, fully counted
    assert r["valid"] and r["n"] == 3072
    assert r["ratio_to_matrix"] == pytest.approx(r["peak_rise_mib"] * 2**20 / (4 * 3072**2))
    assert 1.9 < r["ratio_to_matrix"] < 2.6, r
    with pytest.raises(ValueError, match="not a kernel"):
        memory.peak_memory("dino", n=64)


def test_small_record_markdown_and_checks(tmp_path):
    out = tmp_path / "small.json"
    rec = bench.run_small(["kernels", "toy"], sizes=[32, 64], budget_s=0.01, methods=["jmi", "vicreg"], epochs=1,
                          note="test", command="test", out=out)
    assert json.loads(out.read_text()) == rec
    assert rec["schema"] == bench.SMALL_SCHEMA and rec["complete"] and rec["provenance"]["note"] == "test"
    assert rec["memory"] is None and set(rec["runs"]) == {"toy"}
    toy = rec["runs"]["toy"]
    assert toy["source"] == "book/04_toy_gaussian.ipynb" and toy["epochs_override"] == 1
    assert {m: v["epochs"] for m, v in toy["methods"].items()} == {"jmi": 1, "vicreg": 1}
    assert all(v["batch_size"] == 2500 for v in toy["methods"].values())       # chapter 04: full batch
    assert toy["total_seconds"] == pytest.approx(sum(v["seconds"] for v in toy["methods"].values()))
    assert bench.check_small_record(rec)
    md = bench.small_to_markdown(rec)
    assert "| objectives.cos_dv |" in md and "N = 64" in md and "Epochs overridden" in md and "| jmi |" in md
    bad = json.loads(json.dumps(rec))
    bad["kernels"]["ratio_to_floor"]["objectives.cos_dv"]["64"] *= 2
    with pytest.raises(ValueError, match="cos_dv at N=64"):
        bench.check_small_record(bad)


def _chapter_defaults(name: str) -> dict:
    import ast
    from pathlib import Path

    import nbformat

    nb = nbformat.read(Path(__file__).resolve().parents[1] / "book" / name, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return {n.target.id: ast.literal_eval(n.value) for n in ast.parse(cell.source).body if isinstance(n, ast.AnnAssign)}


def test_chapter_parameters_are_kept():
    # the timed toy runs are chapter 04's: its parameters cell, lr None = each method's registry value
    toy = _chapter_defaults("04_toy_gaussian.ipynb")
    assert toy["lr"] is None and "lr" not in small.TOY_RUN["overrides"]
    for key in ("epochs", "batch_size", "tau", "sgd_momentum", "device"):
        assert small.TOY_RUN["overrides"][key] == toy[key], key
    assert list(small.TOY_RUN["methods"]) == toy["methods"] and small.TOY_RUN["grid"] == {"track_centres": True}
    probe = _chapter_defaults("07_linear_probing.ipynb")
    assert small.MNIST1D_RUN["overrides"]["epochs"] == probe["epochs"] and probe["profile"] == "cpu"
    assert list(small.MNIST1D_RUN["methods"]) == probe["methods"]
    assert len(small.TOY_RUN["methods"]) == 8 and len(small.MNIST1D_RUN["methods"]) == 9
    assert small.SMALL_SIZES == (256, 1024, 2500, 8192)


def test_small_command(tmp_path, capsys):
    args = ["bench", "--small", "--parts", "kernels", "--sizes", "16", "--budget", "0", "--quiet",
            "--out", str(tmp_path / "s.json"), "--markdown", str(tmp_path / "s.md")]
    assert main(args) == 0
    rec = json.loads((tmp_path / "s.json").read_text())
    assert rec["provenance"]["command"].startswith("mi-ssl bench --small --parts kernels")
    assert capsys.readouterr().out == (tmp_path / "s.md").read_text() + "\n"
    assert main(["bench", "--small", "--parts", "gpu"]) == 2
    assert "parts=['gpu']" in capsys.readouterr().err
    assert main(["bench", "--small", "--tiny"]) == 2
    assert "--small and --tiny" in capsys.readouterr().err
    assert main(["bench", "--small", "--sizes", "1"]) == 2
    assert "sizes=[1]" in capsys.readouterr().err


def test_time_grid_counts_every_run_and_reports_markdown() -> None:
    from mi_ssl.bench.report import small_to_markdown
    from mi_ssl.bench.small import TOY_RUN, time_grid

    g = time_grid(TOY_RUN, seeds=(0, 1), workers=1, methods=["vicreg"], epochs=1)
    assert g["runs"] == 2 and g["workers"] == 1 and g["wall_seconds"] > 0 and g["seeds"] == [0, 1]
    rec = {"provenance": {"device": "cpu", "cpu_count": 2, "command": "x", "commit": "c", "torch": "t",
                          "timestamp": "now"}, "grids": {"toy": g}}
    assert "| toy | 1 x 2 | 2 | 1 |" in small_to_markdown(rec)
