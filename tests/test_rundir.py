"""The run directory: what a run leaves on disk, atomic writes, resume, and reading a run back."""

import dataclasses
import json

import pandas as pd
import pytest
import torch

from mi_ssl import rundir
from mi_ssl.data import load_dataset
from mi_ssl.rundir import CHECKPOINT, CONFIG, HISTORY, SUMMARY, RunDir, load_run
from mi_ssl.training import fit, make_config


@pytest.fixture(scope="module")
def toy():
    return load_dataset("gaussian", seed=0)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, toy):
    out = tmp_path_factory.mktemp("run")
    cfg = make_config("sdmi", "gaussian", epochs=2, batch_size=500, track_n=500, checkpoint_every=1, device="cpu")
    return fit(cfg, toy, out=out, progress=False)


def test_a_run_writes_its_config_history_summary_and_checkpoint(finished):
    out = finished.out
    assert sorted(p.name for p in out.iterdir()) == sorted([CHECKPOINT, CONFIG, HISTORY, SUMMARY])
    assert json.loads((out / CONFIG).read_text()) == dataclasses.asdict(finished.config)
    assert pd.read_csv(out / HISTORY)["epoch"].tolist() == [0, 1, 2]
    assert json.loads((out / SUMMARY).read_text())["epochs"] == 2


def test_checkpoint_holds_tensors_and_plain_data_only(finished):
    state = torch.load(finished.out / CHECKPOINT, weights_only=True)   # no pickled classes inside
    assert state["epoch"] == 2 and state["config"] == dataclasses.asdict(finished.config)
    assert set(state["optimizers"]) == {"E", "M"} and state["input_shape"] == [2]


def test_load_run_gives_back_the_trained_learner_in_eval_mode(finished):
    cfg, learner, state = load_run(finished.out)
    assert cfg == finished.config and not learner.training and state["epoch"] == 2
    for (k, v), w in zip(learner.state_dict().items(), finished.learner.state_dict().values()):
        assert torch.equal(v, w), k
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*mi-ssl train"):
        load_run(finished.out / "missing")
    assert not (finished.out / "missing").exists()                       # reading never creates a directory


def test_resume_refuses_a_checkpoint_of_another_seed(finished):
    other = dataclasses.replace(finished.config, seed=5)
    with pytest.raises(ValueError, match="checkpoint has seed=0, config has seed=5"):
        fit(other, out=finished.out, resume=True, progress=False)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    run = RunDir(tmp_path).create()
    run.write_history([{"epoch": 0, "loss": 1.0}])
    before = (tmp_path / HISTORY).read_text()

    def half_written(self, path, **kw):
        open(path, "w").write("epoch,lo")                                 # a partial file, then the disk fills
        raise OSError("no space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_written)
    with pytest.raises(OSError, match="no space"):
        run.write_history([{"epoch": 0, "loss": 1.0}, {"epoch": 1, "loss": 0.5}])
    assert (tmp_path / HISTORY).read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [HISTORY]


def test_summary_keeps_only_the_keys_asked_for(tmp_path):
    run = RunDir(tmp_path)
    run.write_json(SUMMARY, {"probe": {"f": 1}, "final_loss": 3.0})
    run.write_summary({"final_loss": 2.0}, keep=("probe",))
    assert run.read_json(SUMMARY) == {"probe": {"f": 1}, "final_loss": 2.0}
    run.write_summary({"final_loss": 1.0})
    assert run.read_json(SUMMARY) == {"final_loss": 1.0}


def test_a_run_without_a_directory_or_without_write_rights_writes_nothing(tmp_path):
    memory = RunDir(None).create()
    memory.write_history([{"epoch": 0}])
    memory.write_json(SUMMARY, {"a": 1})
    assert memory.read_json(SUMMARY) == {} and not memory.has_checkpoint()
    assert memory.describe_checkpoint() == "none (no out=)"
    with pytest.raises(ValueError, match="resume=True needs a run directory"):
        memory.resume(None, None, {}, torch.device("cpu"))
    reader = RunDir(tmp_path / "rank1", writes=False).create()
    reader.write_history([{"epoch": 0}])
    reader.write_json(SUMMARY, {"a": 1})
    assert list((tmp_path / "rank1").iterdir()) == []


def test_checkpoint_format_version_is_recorded(finished):
    assert torch.load(finished.out / CHECKPOINT, weights_only=True)["mi_ssl_version"] == rundir.CHECKPOINT_VERSION
