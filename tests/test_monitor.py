"""Online evaluation, the TensorBoard mirror, config files and ``--set``, and the code-keyed run cache."""

import dataclasses
import json
import math
import shutil

import pandas as pd
import pytest
import torch

from mi_ssl import evaluation, experiments
from mi_ssl.cli import main
from mi_ssl.config import TrainConfig, make_config, parse_settings, resolve_config
from mi_ssl.data import load_dataset
from mi_ssl.probing import encoder_features
from mi_ssl.rundir import load_run
from mi_ssl.training import fit


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0).subset(n_train=400, n_test=200, seed=0)


def _digits_cfg(**kw):
    return make_config("sdmi", "digits", **{"epochs": 2, "batch_size": 128, "device": "cpu", "track_n": 200,
                                            "track_every": 0, **kw})


def test_online_knn_columns_are_the_knn_of_the_encoders_and_change_no_weight(tmp_path, digits):
    plain = fit(_digits_cfg(), digits, progress=False)
    res = fit(_digits_cfg(eval_every=2, eval_probe=True), digits, out=tmp_path, progress=False)
    hist = pd.read_csv(tmp_path / "history.csv")
    cols = ["knn_top1_f", "probe_top1_f", "knn_top1_g", "probe_top1_g"]
    assert set(cols) <= set(hist.columns)
    assert hist[cols].notna().all(axis=1).tolist() == [True, False, True]            # epochs 0 and 2
    # the same training: every other column and every weight equal those of the run without evaluation
    pd.testing.assert_frame_equal(res.history.drop(columns=[*cols, "seconds"]), plain.history.drop(columns="seconds"))
    for a, b in zip(res.learner.state_dict().values(), plain.learner.state_dict().values()):
        assert torch.equal(a, b)
    # the last kNN column is the kNN top-1 of the trained encoder's frozen features on the held-out split
    _, learner, _ = load_run(tmp_path)
    for name, enc in learner.encoders().items():
        h_tr, h_te, _, _ = encoder_features(enc, digits)
        assert hist[f"knn_top1_{name}"].iloc[-1] == pytest.approx(
            evaluation.knn_accuracy(h_tr, digits.train_y, h_te, digits.test_y, k=20))
        assert 100 / 10 < hist[f"knn_top1_{name}"].iloc[-1] <= 100     # above chance (10 classes)


def test_eval_every_on_unlabelled_data_is_refused(digits):
    one_class = dataclasses.replace(digits, num_classes=1, train_y=digits.train_y * 0, test_y=digits.test_y * 0)
    with pytest.raises(ValueError, match="eval_every=1 needs labelled data"):
        fit(_digits_cfg(eval_every=1), one_class, progress=False)


def test_cli_eval_every_and_tensorboard_mirror_every_history_row(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    assert main(["train", "--method", "jmi", "--dataset", "digits", "--epochs", "2", "--batch-size", "256",
                 "--device", "cpu", "--no-progress", "--eval-every", "1", "--logger", "tensorboard",
                 "--out", str(out)]) == 0
    hist = pd.read_csv(out / "history.csv")
    assert hist["knn_top1_f"].notna().all() and len(hist) == 3
    acc = EventAccumulator(str(out / "tb"))
    acc.Reload()
    for col in ("loss", "mi_cos_dv", "lr", "knn_top1_f"):
        events = acc.Scalars(col)
        rows = hist.dropna(subset=[col])
        assert [e.step for e in events] == rows["epoch"].tolist()
        assert [e.value for e in events] == pytest.approx(rows[col].tolist(), rel=1e-6)
    assert "loss" in acc.Tags()["scalars"] and math.isnan(hist["loss"].iloc[0])   # epoch 0 has no loss: not logged


def test_a_missing_tensorboard_is_one_clear_line(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)      # as if tensorboard were not installed
    code = main(["train", "--method", "jmi", "--epochs", "1", "--device", "cpu", "--no-progress", "--batch-size", "500",
                 "--logger", "tensorboard", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "pip install 'mi-ssl[log]'" in err


# ----------------------------------------------------------------------------- config file and --set
def test_precedence_is_flag_then_set_then_file_then_profile(tmp_path):
    file = tmp_path / "run.yaml"
    file.write_text("method: simclr\ndataset: gaussian\nepochs: 3\nlr: 0.2\ntau: 0.2\namp: null\n")
    cfg = resolve_config({"lr": 0.05, "seed": None}, ["tau=0.3", "track_every=2"], file)
    default = make_config("simclr", "gaussian")
    assert (cfg.lr, cfg.tau, cfg.epochs, cfg.track_every) == (0.05, 0.3, 3, 2)       # flag, set, file, set
    assert cfg.batch_size == default.batch_size and cfg.seed == 0                     # profile default
    out = tmp_path / "out"
    assert main(["train", "--config", str(file), "--set", "tau=0.3", "--lr", "0.05", "--set", "track_every=2",
                 "--device", "cpu", "--no-progress", "--out", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved == {**dataclasses.asdict(cfg), "device": "cpu"}
    # the saved config.json, passed back as --config, gives the same config
    assert resolve_config({}, [], out / "config.json") == TrainConfig(**saved)


def test_set_reaches_every_field_with_its_type():
    cfg = make_config("byol", "digits")
    for f in dataclasses.fields(TrainConfig):
        value = getattr(cfg, f.name)
        text = "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        assert parse_settings([f"{f.name}={text}"]) == {f.name: value}, f.name
    assert parse_settings(["amp=true", "channels_last=no", "data_dir=none", "epochs=7", "lr=1e-3"]) == \
        {"amp": True, "channels_last": False, "data_dir": None, "epochs": 7, "lr": 1e-3}


@pytest.mark.parametrize("text, message", [
    ("lr: abc\n", "lr='abc' is not a finite number"),
    ("epochs: 2.5\n", "epochs=2.5 is not an integer"),
    ("colour: red\n", "'colour' is not a training option"),
    ("- lr\n", "expected 'key: value' lines, found a list"),
    ("logger: wandb\nmethod: jmi\n", "logger='wandb' is not allowed; expected one of none, tensorboard"),
])
def test_bad_config_files_are_named(tmp_path, text, message):
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    with pytest.raises(ValueError, match="^" + ("" if "logger" in text else f"--config {file}: ") + ".*"
                       + message.replace("(", r"\(").replace(")", r"\)")):
        resolve_config({"method": "jmi"}, [], file)


# ----------------------------------------------------------------------------- the run cache sees the code
def test_run_key_changes_with_the_package_source(tmp_path, monkeypatch):
    import mi_ssl

    copy = tmp_path / "mi_ssl"
    shutil.copytree(mi_ssl.__path__[0], copy, ignore=shutil.ignore_patterns("__pycache__"))
    digest = experiments._source_digest.__wrapped__
    before = digest(copy)
    assert digest(copy) == before                                       # a pure function of the files
    (copy / "objectives.py").write_text((copy / "objectives.py").read_text() + "\n# changed\n")
    assert digest(copy) != before
    (copy / "objectives.py").unlink()
    assert len({before, digest(copy)}) == 2
    cfg = make_config("jmi", "gaussian")
    key = experiments.run_key(cfg)
    assert experiments.run_key(cfg) == key                               # computed once, stable in a process
    monkeypatch.setattr(experiments, "_source_digest", lambda: "other-code")
    assert experiments.run_key(cfg) != key
