"""Linear probing (paper Section 4.3, Table 1): the probe on known cases, the baselines, `mi-ssl probe`,
the recorded-runs reader, and the paper-scale path of chapter 07 on generated CIFAR-format files."""

import json
import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from mi_ssl import paper, probing, records
from mi_ssl.cli import main
from mi_ssl.data import SSLData, load_dataset
from mi_ssl.networks import Encoder
from mi_ssl.training import fit, make_config

ROOT = Path(__file__).resolve().parents[1]


class _Fixed(nn.Module):
    """A 'backbone' that applies a fixed function; ``feature_dim`` as the networks of mi_ssl.networks have."""

    def __init__(self, fn, feature_dim: int) -> None:
        super().__init__()
        self.fn, self.feature_dim = fn, feature_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def _blobs(n_per_class: int = 40, classes: int = 4, dim: int = 6, seed: int = 0) -> SSLData:
    """Well separated Gaussian blobs (centres 10 apart, std 0.3): linearly separable with certainty."""
    g = torch.Generator().manual_seed(seed)
    centres = 10.0 * torch.eye(classes, dim)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(classes).repeat_interleave(n)
        return centres[y] + 0.3 * torch.randn(len(y), dim, generator=g), y

    tr_x, tr_y = split(n_per_class)
    te_x, te_y = split(n_per_class // 2)
    return SSLData("blobs", "vector", tr_x, tr_y, te_x, te_y, num_classes=classes)


def test_probe_separates_separable_features_and_flags_a_constant_encoder():
    data = _blobs()
    identity = Encoder(_Fixed(lambda x: x, 6))
    rep = probing.probe_encoder(identity, data, epochs=50, embedding_probe=True)
    assert rep["top1"] == 100.0 and rep["knn_top1"] == 100.0 and rep["z_top1"] == 100.0
    assert rep["feature_dim"] == 6 and rep["embedding_dim"] == 6
    # four centres on orthogonal axes + small isotropic noise: the centred embeddings span 3 large directions
    assert 2.5 < rep["effective_rank"] < 4.5

    constant = Encoder(_Fixed(lambda x: torch.ones(len(x), 6), 6))
    rep = probing.probe_encoder(constant, data, epochs=50)
    # no information: every test point gets the same class, so accuracy is that class's share (1/4 here)
    assert rep["top1"] == pytest.approx(25.0)
    assert rep["effective_rank"] == 0.0 and rep["embedding_std"] == 0.0


def test_subset_is_seeded_and_keeps_pairs():
    data = _blobs()
    a = data.subset(20, 10, seed=3)
    b = data.subset(20, 10, seed=3)
    assert a.train_x.shape == (20, 6) and a.test_x.shape == (10, 6)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert torch.equal(a.train_x.argmax(1), a.train_y)          # each kept sample kept its own label
    assert data.subset() is not data and len(data.subset(None, None).train_x) == len(data.train_x)
    with pytest.raises(ValueError, match="n_train=1"):
        data.subset(1)


def test_floor_is_the_initialisation_and_ceiling_learns_the_labels(tmp_path):
    data = load_dataset("mnist1d").subset(1000, 500, seed=0)
    cfg = make_config("jmi", "mnist1d", epochs=3, device="cpu", track_every=0)
    seen = {}
    fit(cfg, data, progress=False,
        callbacks=[lambda ep, learner: seen.setdefault(ep, {k: v.clone() for k, v in learner.f.state_dict().items()})])
    floor = probing.random_init_encoder(cfg, data)
    for k, v in floor.state_dict().items():                    # the floor is exactly where training started
        assert torch.equal(v, seen[0][k]), k

    sup = probing.supervised_baseline(cfg, data, cache_dir=tmp_path / "cache", progress=False)
    again = probing.supervised_baseline(cfg, data, cache_dir=tmp_path / "cache", progress=False)
    assert len(list((tmp_path / "cache").glob("supervised-mnist1d-*.pt"))) == 1
    for (k, v), (_, w) in zip(sup.state_dict().items(), again.state_dict().items()):
        assert torch.equal(v, w), k                            # the second call read the cache
    acc_floor = probing.probe_encoder(floor, data, epochs=50)["top1"]
    acc_sup = probing.probe_encoder(sup, data, epochs=50)["top1"]
    assert acc_sup > acc_floor + 5, (acc_floor, acc_sup)


def test_cli_probe_writes_the_probe_into_summary(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--method", "sdmi", "--dataset", "digits", "--epochs", "1", "--out", str(run),
                 "--device", "cpu", "--no-progress", "--batch-size", "256", "--track-every", "0"]) == 0
    assert main(["probe", "--run", str(run), "--device", "cpu", "--epochs", "30"]) == 0
    out = capsys.readouterr().out
    assert "f: linear probe top-1" in out and "g: linear probe top-1" in out
    summary = json.loads((run / "summary.json").read_text())
    probe = summary["probe"]
    assert probe["dataset"] == "digits" and probe["epochs"] == 30
    for enc in ("f", "g"):                                      # SDMI has two encoders; both are probed
        assert 10.0 < probe[enc]["top1"] <= 100.0 and probe[enc]["feature_dim"] == 128
    assert summary["method"] == "sdmi"                          # the rest of the summary is kept
    # re-training (resume) keeps the probe
    assert main(["train", "--method", "sdmi", "--dataset", "digits", "--epochs", "1", "--out", str(run),
                 "--device", "cpu", "--no-progress", "--batch-size", "256", "--track-every", "0", "--resume"]) == 0
    assert json.loads((run / "summary.json").read_text())["probe"]["f"] == probe["f"]


def test_probe_fit_caches_reports_beside_the_run(tmp_path):
    from mi_ssl import experiments

    data = load_dataset("digits").subset(256, 128, seed=0)
    res = experiments.run_methods(["jmi"], "digits", data, cache_dir=tmp_path, progress=False, epochs=1,
                                  device="cpu", track_every=0)["jmi"]
    first = probing.probe_fit(res, data, epochs=20)
    stored = json.loads((res.out / "probes.json").read_text())
    assert list(stored.values()) == [first]
    table = probing.probe_table({"jmi": res}, data, epochs=20)
    assert table.top1.iloc[0] == first["f"]["top1"] and table.paradigm.iloc[0] == "JMI"


def test_paper_tables_are_transcribed_as_the_paper_prints_them():
    t = paper.table1()
    assert len(t) == 9 * 4 and set(t.dataset) == {"cifar10", "cifar100", "tinyimagenet", "imagenet100"}

    def row(m, e, d):
        return tuple(t[(t.method == m) & (t.encoder == e) & (t.dataset == d)][["top1", "std"]].iloc[0])

    assert row("sdmi", "f", "cifar10") == (88.61, 0.13)
    assert row("sdmi", "g", "imagenet100") == (70.83, 0.16)
    assert row("simsiam", "f", "tinyimagenet") == (19.19, 0.69)
    assert row("vicreg", "f", "cifar10") == (85.49, 1.03)
    assert dict(paper.SIMSIAM_ABLATION) == {"simsiam": (89.68, 0.35), "simsiam_sdmi": (88.43, 0.78)}


def test_recorded_runs_need_provenance_and_synthetic_data_has_no_accuracy(tmp_path):
    empty = records.load_paper_runs(tmp_path / "missing")
    assert empty.empty and empty[empty.synthetic].top1.isna().all()          # usable as an empty table
    good = {"method": "jmi", "dataset": "cifar10", "epochs": 1000, "probe": {"f": {"top1": 88.0}},
            "provenance": {"device": "NVIDIA H100", "commit": "abc1234"},
            "note": "real data. Command: papermill book/07_linear_probing.ipynb out.ipynb -p profile paper"}
    synthetic = {**good, "method": "sdmi", "synthetic": True, "top1": 99.0}
    (tmp_path / "a.json").write_text(json.dumps([good, synthetic]))
    (tmp_path / "history.csv").write_text("not a record")
    runs = records.load_paper_runs(tmp_path)
    assert list(runs.method) == ["jmi", "sdmi"]
    assert runs.top1.iloc[0] == 88.0 and math.isnan(runs.top1.iloc[1])
    assert runs.command.iloc[0].startswith("papermill book/07") and runs.device.iloc[0] == "NVIDIA H100"
    assert list(runs.synthetic) == [False, True]
    (tmp_path / "b.json").write_text(json.dumps({"method": "byol", "dataset": "cifar10", "epochs": 2, "top1": 90}))
    with pytest.raises(ValueError, match=r"b\.json.*missing: device, commit, command"):
        records.load_paper_runs(tmp_path)


def _write_cifar10(root: Path, n_train_batch: int = 32, n_test: int = 40) -> None:
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in [*[(f"data_batch_{k}", n_train_batch) for k in range(1, 6)], ("test_batch", n_test)]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
        with open(d / name, "wb") as f:
            pickle.dump(batch, f)


def test_chapter_07_paper_path_runs_on_cifar_format_files(tmp_path):
    """The documented paper-scale command (profile 'paper', ResNet-18), shrunk to one epoch on 128 images."""
    _write_cifar10(tmp_path / "data")
    out = tmp_path / "out.ipynb"
    cmd = [sys.executable, "-m", "papermill", str(ROOT / "book" / "07_linear_probing.ipynb"), str(out),
           "-p", "dataset", "cifar10", "-p", "data_dir", str(tmp_path / "data"), "-p", "device", "cpu",
           "-p", "profile", "paper", "-p", "epochs", "1", "-p", "methods", '["jmi"]', "-p", "train_subset", "128",
           "-p", "cache_dir", str(tmp_path / "cache"), "-p", "probe_epochs", "20", "-p", "seeds", "[0]",
           "-p", "workers", "1",
           "--cwd", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import nbformat

    nb = nbformat.read(out, as_version=4)
    text = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "cifar10: 128 train / 40 test, 1 epochs, backbone resnet18, seeds [0]" in text
    for row in ("jmi", "random init", "supervised"):
        assert row in text
    runs = list((tmp_path / "cache").rglob("summary.json"))
    assert len(runs) == 1
    cfg = json.loads(runs[0].read_text())["config"]
    # Table 5's JMI row for CIFAR-10 and Table 3's shared settings reached the run
    assert (cfg["profile"], cfg["backbone"], cfg["batch_size"], cfg["proj_dim"], cfg["proj_hidden"]) == \
        ("paper", "resnet18", 512, 128, 2048)


# ------------------------------------------------------------------ seeds as an axis: probe_grid, gain_table
def _grid_frame():
    rows = []
    for seed, fl, a, b in [(0, 80.0, 83.0, 79.0), (1, 82.0, 84.0, 81.0), (2, 78.0, 82.0, 79.0)]:
        rows += [{"method": "random init", "encoder": "f", "title": "random init", "paradigm": "baseline",
                  "seed": seed, "top1": fl},
                 {"method": "jmi", "encoder": "f", "title": "JMI", "paradigm": "JMI", "seed": seed, "top1": a},
                 {"method": "sdmi", "encoder": "g", "title": "SDMI", "paradigm": "SDMI", "seed": seed, "top1": b}]
    return pd.DataFrame(rows)


def test_gain_table_pairs_each_method_with_the_floor_of_its_seed():
    t = probing.gain_table(_grid_frame()).set_index("method")
    # JMI - floor per seed: 3, 2, 4 -> mean 3, sd 1; t(0.975, 2) = 4.302653 -> half-width 4.302653 / sqrt(3)
    half = 4.302653 / math.sqrt(3)
    assert t.loc["jmi", "gain"] == pytest.approx(3.0)
    assert (t.loc["jmi", "gain_low"], t.loc["jmi", "gain_high"]) == pytest.approx((3 - half, 3 + half), abs=1e-5)
    assert t.loc["jmi", "ahead"] == 3 and t.loc["jmi", "vs_floor"] == "jmi > random init"
    # SDMI (g) - floor: -1, -1, +1 -> the interval holds 0: a tie
    assert t.loc["sdmi", "gain"] == pytest.approx(-1 / 3) and t.loc["sdmi", "vs_floor"] == "tie"
    assert t.loc["sdmi", "encoder"] == "g" and t.loc["sdmi", "ahead"] == 1
    # the summary over seeds: JMI 83, 84, 82 -> mean 83, sd 1
    assert (t.loc["jmi", "mean"], t.loc["jmi", "sd"], t.loc["jmi", "n"]) == pytest.approx((83.0, 1.0, 3))
    assert math.isnan(t.loc["random init", "gain"]) and t.loc["random init", "vs_floor"] == ""
    with pytest.raises(ValueError, match="floor='none'"):
        probing.gain_table(_grid_frame(), floor="none")
    partial = _grid_frame()
    partial = partial[~((partial.method == "random init") & (partial.seed == 2))]
    with pytest.raises(ValueError, match=r"seeds \[2\] without a floor"):
        probing.gain_table(partial)


def test_probe_grid_runs_every_method_on_every_seed_and_reads_its_cache(tmp_path):
    kw = dict(train_subset=300, test_subset=200, epochs=1, track_every=1, device="cpu", probe_epochs=20,
              batch_size=100, cache_dir=str(tmp_path))
    grid = probing.probe_grid(["sdmi", "jmi"], [3, 4], "digits", workers=1, progress=False, **kw)
    assert list(zip(grid.method, grid.encoder, grid.seed)) == [
        ("random init", "f", 3), ("random init", "f", 4), ("supervised", "f", 3), ("supervised", "f", 4),
        ("sdmi", "f", 3), ("sdmi", "g", 3), ("sdmi", "f", 4), ("sdmi", "g", 4), ("jmi", "f", 3), ("jmi", "f", 4)]
    assert list(grid.train_epochs) == [0, 0, 1, 1, 1, 1, 1, 1, 1, 1]
    assert grid.mi_cos_dv.iloc[:4].isna().all() and grid.mi_cos_dv.iloc[4:].notna().all()
    # digits projector: d = 64; the ceiling has no projector, its "embedding" is the 128-d backbone output
    assert list(grid.embedding_dim) == [64, 64, 128, 128, 64, 64, 64, 64, 64, 64]
    assert list(grid.embedding_std_iso) == pytest.approx([d ** -0.5 for d in grid.embedding_dim])
    # the floor row is the probe of the untrained encoder of that seed, on that seed's subset
    data = load_dataset("digits").subset(300, 200, seed=4)
    cfg = make_config("jmi", "digits", epochs=1, track_every=1, device="cpu", batch_size=100, seed=4)
    direct = probing.probe_encoder(probing.random_init_encoder(cfg, data), data, epochs=20, seed=4)
    assert grid.top1.iloc[1] == pytest.approx(direct["top1"])
    assert grid.seed.iloc[0] != grid.seed.iloc[1] and grid.top1.iloc[0] != grid.top1.iloc[1]
    files = sorted(p.name for p in tmp_path.iterdir())
    again = probing.probe_grid(["sdmi", "jmi"], [3, 4], "digits", workers=1, progress=False, **kw)
    pd.testing.assert_frame_equal(grid, again)                          # read back, not retrained
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    with pytest.raises(ValueError, match="seeds"):
        probing.probe_grid(["jmi"], [1, 1], "digits")


def _pattern_frame(lead: float):
    rows = []
    base = {"sdmi": (83.0, 84.0, 82.0), "byol": (80.0, 81.0, 79.0), "mocov3": (82.0, 80.0, 81.0),
            "jmi": (81.0, 83.0, 82.0), "simclr": (79.0, 80.0, 81.0)}
    for m, vals in base.items():
        for seed, v in enumerate(vals):
            rows.append({"method": m, "encoder": "f", "title": m, "seed": seed,
                         "top1": v + (lead if m == "sdmi" else 0),
                         "paradigm": "SDMI" if m in ("sdmi", "byol", "mocov3") else "JMI"})
    rows.append({"method": "random init", "encoder": "f", "title": "random init", "paradigm": "baseline", "seed": 0,
                 "top1": 99.0})                                      # baselines never enter the pattern
    return pd.DataFrame(rows)


def test_table1_pattern_reads_best_paradigms_and_the_field_from_paired_intervals():
    pat = probing.table1_pattern(_pattern_frame(0.0))
    assert pat["best"] == "sdmi" and pat["runner_up"] == "jmi"        # means 83, 82, 81, 80, 80
    # sdmi - jmi per seed: +2, +1, 0 -> mean 1, sd 1: interval 1 -+ 4.3027/sqrt(3) holds 0
    p = pat["best_vs"]["jmi"]
    assert p.mean == pytest.approx(1.0) and p.low < 0 < p.high and not pat["single_best"]
    assert pat["paradigm_best"] == {"SDMI": "sdmi", "JMI": "jmi"} and pat["paradigms"].mean == pytest.approx(1.0)
    # established = byol, mocov3, simclr; per-seed medians 80, 80, 81 -> sdmi - median: 3, 4, 1; jmi: 1, 3, 1
    assert pat["vs_established"]["sdmi"].mean == pytest.approx(8 / 3)
    assert pat["vs_established"]["jmi"].mean == pytest.approx(5 / 3)
    # ten points ahead: every paired interval of the leader lies above 0
    assert probing.table1_pattern(_pattern_frame(10.0))["single_best"]
    with pytest.raises(ValueError, match="lack some seeds"):
        probing.table1_pattern(_pattern_frame(0.0).iloc[1:])


def test_views_tables_and_the_paper_bars():

    frame = _grid_frame()
    view = probing.seed_view(frame, {"top1": "probe"})
    assert list(view.index) == [("random init", "f"), ("jmi", "f"), ("sdmi", "g")]
    half = 4.302653 / math.sqrt(3)                                    # JMI: 83, 84, 82 -> 83 -+ half
    assert view.loc[("jmi", "f"), "probe"] == f"83.0 [{83 - half:.1f}, {83 + half:.1f}]"
    with pytest.raises(ValueError, match="not columns"):
        probing.seed_view(frame, {"nope": "x"})
    t1 = probing.table1_view(probing.gain_table(frame))
    assert t1.loc[("jmi", "f"), "top-1 mean ± sd"] == "83.0 ± 1.0" and t1.loc[("jmi", "f"), "seeds ahead"] == "3/3"
    assert t1.loc[("jmi", "f"), "paper: cifar10"] == 88.01 and t1.loc[("sdmi", "g"), "paper: cifar100"] == 57.85
    bars = probing.paper_bars("cifar10")
    assert list(bars.label[:2]) == ["SDMI prototype (f)", "SDMI prototype (g)"] and len(bars) == 9
    assert set(bars.paradigm[:5]) == {"SDMI"} and bars.top1[bars.label == "BYOL"].item() == 91.28
    with pytest.raises(ValueError, match="dataset='mnist1d'"):
        probing.paper_bars("mnist1d")
    proto = probing.protocol_table(["jmi", "byol"], "mnist1d", epochs=3)
    assert list(proto.epochs) == [3, 3] and proto.loc["byol", "method-specific"] == "momentum=0.98, pred_hidden=64"
    assert proto.loc["jmi", "method-specific"] == "tau=0.1" and proto.loc["byol", "paradigm"] == "SDMI"
