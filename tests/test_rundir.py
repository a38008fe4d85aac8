"""The run directory: what a run leaves on disk, atomic writes, resume, and reading a run back."""

import dataclasses
import json
import math
import os

import pandas as pd
import pytest
import torch

from mi_ssl import rundir
from mi_ssl.data import load_dataset
from mi_ssl.errors import CheckpointError, RunDirError
from mi_ssl.rundir import CHECKPOINT, CHECKPOINT_META, CONFIG, HISTORY, LOCK, SUMMARY, RunDir, load_run
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
    assert sorted(p.name for p in out.iterdir()) == sorted([CHECKPOINT, CHECKPOINT_META, CONFIG, HISTORY, SUMMARY])
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
    with pytest.raises(ValueError, match="settings differ from the run.s: seed 0 -> 5"):
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


# ----------------------------------------------------------------------------- one directory, one run
def _cfg(**kw):
    return make_config("jmi", "gaussian", **{"epochs": 2, "batch_size": 500, "track_n": 500, "device": "cpu",
                                              "checkpoint_every": 1, **kw})


def test_a_non_empty_directory_needs_resume_or_overwrite(tmp_path, toy):
    fit(_cfg(), toy, out=tmp_path, progress=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(RunDirError, match=r"already holds a run \(jmi/gaussian, checkpoint at epoch 2 of 2\); "
                                          r"pass --resume .* --overwrite"):
        fit(_cfg(), toy, out=tmp_path, progress=False)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before   # untouched
    res = fit(_cfg(seed=3), toy, out=tmp_path, overwrite=True, progress=False)           # start over, explicitly
    assert json.loads((tmp_path / CONFIG).read_text())["seed"] == 3 and res.history["epoch"].tolist() == [0, 1, 2]
    with pytest.raises(RunDirError, match="exclude each other"):
        fit(_cfg(), toy, out=tmp_path, resume=True, overwrite=True, progress=False)
    with pytest.raises(RunDirError, match="extend needs resume"):
        fit(_cfg(), toy, out=tmp_path, extend=True, progress=False)


def test_overwrite_deletes_only_what_a_run_writes(tmp_path, toy):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match=r"files that are not a run's \(notes.txt\)"):
        fit(_cfg(), toy, out=tmp_path, progress=False)
    with pytest.raises(RunDirError, match="--overwrite deletes a run's files only.*notes.txt"):
        fit(_cfg(), toy, out=tmp_path, overwrite=True, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(RunDirError, match="is a file, not a directory"):
        fit(_cfg(), toy, out=tmp_path / "notes.txt", progress=False)


def test_a_second_writer_is_stopped_by_the_lock_and_a_dead_holder_blocks_nothing(tmp_path, toy):
    import subprocess
    import sys

    holder = RunDir(tmp_path)
    holder.claim(_cfg())
    with pytest.raises(RunDirError, match=rf"is in use: process {os.getpid()} .* is writing a run there"):
        fit(_cfg(), toy, out=tmp_path, progress=False)
    holder.release()
    assert not (tmp_path / LOCK).exists()
    # another process takes the lock and is killed (-9): the kernel drops its flock, the .lock file stays
    code = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, b'process 1 on elsewhere'); print('held', flush=True); "
            "time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / LOCK)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(RunDirError, match="process 1 on elsewhere is writing a run there"):
            fit(_cfg(), toy, out=tmp_path, progress=False)
    finally:
        proc.kill()
        proc.wait()
    assert (tmp_path / LOCK).exists()
    fit(_cfg(epochs=1), toy, out=tmp_path, progress=False)          # the stale .lock does not block
    assert not (tmp_path / LOCK).exists()


def test_resume_lists_every_changed_setting_and_accepts_the_free_ones(tmp_path, toy):
    fit(_cfg(), toy, out=tmp_path, progress=False)
    with pytest.raises(RunDirError, match=r"differ from the run's: lr 0.5 -> 0.1; tau 0.5 -> 0.2\."):
        fit(_cfg(lr=0.1, tau=0.2), toy, out=tmp_path, resume=True, progress=False)
    with pytest.raises(RunDirError, match=r"track_n 500 -> 400"):
        fit(_cfg(track_n=400), toy, out=tmp_path, resume=True, progress=False)
    with pytest.raises(RunDirError, match="epochs 2 -> 1; a run cannot be shortened"):
        fit(_cfg(epochs=1), toy, out=tmp_path, resume=True, progress=False)
    # free fields: where and how often, not what
    free = dataclasses.replace(_cfg(track_every=2, checkpoint_every=5, eval_every=1), profile="paper", data_dir="x")
    res = fit(free, toy, out=tmp_path, resume=True, progress=False)
    assert res.history["epoch"].tolist() == [0, 1, 2]
    with pytest.raises(RunDirError, match="the data differ from the data the run trained on"):
        fit(_cfg(), toy.subset(n_train=1000), out=tmp_path, resume=True, progress=False)


def test_the_free_fields_are_fields_and_everything_else_defines_the_run():
    fields = {f.name for f in dataclasses.fields(rundir.TrainConfig)}
    assert set(rundir.RESUME_FREE) <= fields
    cfg = _cfg()
    for name in fields - set(rundir.RESUME_FREE) - {"epochs"}:
        value = getattr(cfg, name)
        other = (not value) if isinstance(value, bool) else "x" if isinstance(value, str) or value is None \
            else value + 1
        assert rundir.resume_conflicts(dataclasses.asdict(cfg), dataclasses.replace(cfg, **{name: other})) == \
            [f"{name} {value!r} -> {other!r}"]


def test_extend_continues_on_the_longer_cosine_and_says_so(tmp_path, toy):
    lr = 0.5
    fit(_cfg(epochs=2), toy, out=tmp_path, progress=False)
    with pytest.raises(RunDirError, match="epochs 2 -> 4 extends the run; pass --extend"):
        fit(_cfg(epochs=4), toy, out=tmp_path, resume=True, progress=False)
    res = fit(_cfg(epochs=4), toy, out=tmp_path, resume=True, extend=True, progress=False)
    # epochs 1-2 keep the 2-epoch cosine (0 at its end); 3-4 follow the 4-epoch cosine from the start
    cosine = [lr * 0.5 * (1 + math.cos(math.pi * e / n)) for e, n in [(0, 2), (1, 2), (2, 2), (3, 4), (4, 4)]]
    assert res.history["lr"].tolist() == pytest.approx(cosine, abs=1e-12)
    assert res.summary["schedule"] == [{"from_epoch": 1, "epochs": 2}, {"from_epoch": 3, "epochs": 4}]
    assert json.loads((tmp_path / CONFIG).read_text())["epochs"] == 4
    assert json.loads((tmp_path / CHECKPOINT_META).read_text())["schedule"] == res.summary["schedule"]


# ----------------------------------------------------------------------------- safe checkpoints
class _Payload:
    """A pickle that would create a file when unpickled with weights_only=False."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_only_tensors_and_plain_data_are_read_from_a_checkpoint(finished, tmp_path):
    meta = json.loads((finished.out / CHECKPOINT_META).read_text())
    assert meta["epoch"] == 2 and meta["input_shape"] == [2] and len(meta["data_fingerprint"]) == 12
    run = tmp_path / "evil"
    run.mkdir()
    good = torch.load(finished.out / CHECKPOINT, weights_only=True)
    torch.save({**good, "extra": _Payload(tmp_path / "pwned")}, run / CHECKPOINT)
    with pytest.raises(CheckpointError, match=rf"{run / CHECKPOINT}: not a readable checkpoint"):
        load_run(run)
    assert not (tmp_path / "pwned").exists()                             # nothing was executed


@pytest.mark.parametrize("fault", ["truncated", "empty", "random", "json", "state_dict", "list", "directory",
                                   "alien_config"])
def test_a_file_that_is_not_a_checkpoint_is_named_in_one_error(finished, tmp_path, fault):
    run = tmp_path / "run"
    run.mkdir()
    ck = run / CHECKPOINT
    raw = (finished.out / CHECKPOINT).read_bytes()
    if fault == "truncated":
        ck.write_bytes(raw[: len(raw) * 2 // 3])
    elif fault == "empty":
        ck.write_bytes(b"")
    elif fault == "random":
        ck.write_bytes(bytes(range(256)) * 8)
    elif fault == "json":
        ck.write_text('{"epoch": 2}')
    elif fault == "state_dict":
        torch.save({"weight": torch.ones(2)}, ck)
    elif fault == "list":
        torch.save([1, 2], ck)
    elif fault == "directory":
        ck.mkdir()
    else:
        state = torch.load(finished.out / CHECKPOINT, weights_only=True)
        torch.save({**state, "config": {**state["config"], "colour": "red"}}, ck)
    with pytest.raises(CheckpointError) as err:
        load_run(run)
    assert str(ck) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("cut", [0.05, 0.3, 0.6, 0.9, 0.999])
def test_a_checkpoint_cut_anywhere_is_refused_by_name(finished, tmp_path, cut):
    raw = (finished.out / CHECKPOINT).read_bytes()
    (tmp_path / CHECKPOINT).write_bytes(raw[: int(len(raw) * cut)])
    with pytest.raises(CheckpointError, match=f"{tmp_path / CHECKPOINT}: "):
        load_run(tmp_path)


def test_a_corrupt_json_file_is_named(tmp_path):
    (tmp_path / SUMMARY).write_text('{"final_loss": 1.0, "probe": {')
    with pytest.raises(CheckpointError, match=rf"{tmp_path / SUMMARY}: not a readable JSON file"):
        RunDir(tmp_path).read_json(SUMMARY)
    (tmp_path / SUMMARY).write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="holds a list, expected a JSON object"):
        RunDir(tmp_path).read_json(SUMMARY)
