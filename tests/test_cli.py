"""The `mi-ssl` command: train writes the run directory, methods prints the taxonomy, errors are clear."""

import errno
import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from mi_ssl.cli import main


def test_methods_prints_every_method_with_its_paradigm(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name, paradigm in [("sdmi", "SDMI"), ("jmi", "JMI"), ("simclr", "JMI"), ("byol", "SDMI")]:
        line = next(ln for ln in out.splitlines() if ln.startswith(name + " "))
        assert paradigm in line


def test_train_then_resume_writes_history_and_summary(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--method", "jmi", "--dataset", "gaussian", "--epochs", "2", "--out", str(out),
            "--device", "cpu", "--no-progress", "--batch-size", "500"]
    assert main(args) == 0
    assert main([*args[:5], "--epochs", "3", *args[7:], "--resume"]) == 2      # a longer run: only with --extend
    assert "epochs 2 -> 3 extends the run; pass --extend" in capsys.readouterr().err
    assert main([*args[:5], "--epochs", "3", *args[7:], "--resume", "--extend"]) == 0
    hist = pd.read_csv(out / "history.csv")
    assert hist["epoch"].tolist() == [0, 1, 2, 3]
    assert json.loads((out / "summary.json").read_text())["epochs"] == 3


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    code = main(["train", "--method", "jmi", "--epochs", "1", "--out", str(tmp_path), "--momentum", "0.9"])
    assert code == 2
    assert "momentum=0.9 is refused" in capsys.readouterr().err
    proc = subprocess.run([sys.executable, "-m", "mi_ssl.cli", "train", "--method", "dino", "--out", "x"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr and "sdmi" in proc.stderr


# ----------------------------------------------------------------------------- every user-facing error: one line, 2
TRAIN = ["train", "--method", "jmi", "--dataset", "gaussian", "--epochs", "1", "--device", "cpu", "--no-progress",
         "--batch-size", "500", "--track-every", "0"]


def _one_line_error(capsys, argv, *expected):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith(f"mi-ssl {argv[0]}: error: "), err
    for text in expected:
        assert text in err, err
    return err


@pytest.fixture(scope="module")
def gaussian_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "g"
    assert main([*TRAIN, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "d"
    assert main(["train", "--method", "jmi", "--dataset", "digits", "--epochs", "1", "--device", "cpu",
                 "--no-progress", "--track-every", "0", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("extra, expected", [
    (["--device", "foo"], ["device='foo' is not a device"]),
    (["--lr", "inf"], ["lr=inf is not allowed; expected a finite number"]),
    (["--lr", "nan"], ["lr=nan is not allowed; expected a finite number"]),
    (["--lr", "-1"], ["lr=-1.0 is not allowed; expected a number > 0"]),
    (["--epochs", "0"], ["epochs=0 is not allowed; expected an integer >= 1"]),
    (["--set", "lrr=0.1"], ["--set lrr=0.1: 'lrr' is not a training option (did you mean 'lr'?)"]),
    (["--set", "tau=abc"], ["--set tau=abc: tau='abc' is not a finite number"]),
    (["--set", "tau"], ["--set 'tau': expected KEY=VALUE"]),
    (["--config", "/nonexistent/run.yaml"], ["--config /nonexistent/run.yaml: no such file"]),
    (["--extend"], ["extend needs resume"]),
    (["--resume", "--overwrite"], ["exclude each other"]),
    (["--lr", "1e6"], ["the weights are exploding. The run stopped. Last good checkpoint: none yet in",
                       "Try a smaller --lr (now 1e+06)."]),
])
def test_bad_train_options_are_one_line_errors(tmp_path, capsys, extra, expected):
    _one_line_error(capsys, [*TRAIN, "--out", str(tmp_path / "run"), *extra], *expected)


def test_run_directory_errors_are_one_line(tmp_path, capsys, gaussian_run):
    (tmp_path / "file").write_text("x")
    _one_line_error(capsys, [*TRAIN, "--out", str(tmp_path / "file")], "is a file, not a directory")
    _one_line_error(capsys, [*TRAIN, "--out", str(gaussian_run)], "already holds a run (jmi/gaussian",
                    "pass --resume")
    _one_line_error(capsys, [*TRAIN, "--out", str(gaussian_run), "--resume", "--lr", "0.1", "--tau", "0.3"],
                    "these settings differ from the run's: lr 0.5 -> 0.1; tau 0.5 -> 0.3.")
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: [1, 2\n")
    _one_line_error(capsys, [*TRAIN, "--out", str(tmp_path / "r"), "--config", str(bad)], f"--config {bad}: not a YAML")


def test_a_full_disk_is_one_line_and_leaves_the_directory_usable(tmp_path, capsys, monkeypatch):
    from mi_ssl import rundir

    real = rundir.atomic_write

    def full(path, write):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(rundir, "atomic_write", full)
    out = tmp_path / "run"
    _one_line_error(capsys, [*TRAIN, "--out", str(out)], f"{out / 'config.json'}: No space left on device")
    monkeypatch.setattr(rundir, "atomic_write", real)
    assert not (out / ".lock").exists()
    assert main([*TRAIN, "--out", str(out), "--resume"]) == 0          # nothing was written: it starts afresh


def test_probe_errors_are_one_line(tmp_path, capsys, gaussian_run, digits_run):
    _one_line_error(capsys, ["probe", "--run", str(gaussian_run), "--dataset", "digits", "--device", "cpu"],
                    "dataset 'digits' has inputs of shape [1, 8, 8], but the run", "with inputs of shape [2]")
    _one_line_error(capsys, ["probe", "--run", str(tmp_path / "none")], "no checkpoint at")
    copy = tmp_path / "copy"
    shutil.copytree(digits_run, copy)
    (copy / "summary.json").write_text('{"final_loss": ')
    _one_line_error(capsys, ["probe", "--run", str(copy), "--device", "cpu", "--epochs", "1"],
                    f"{copy / 'summary.json'}: not a readable JSON file")
    raw = (copy / "checkpoint.pt").read_bytes()
    (copy / "checkpoint.pt").write_bytes(raw[: len(raw) // 2])
    for cmd in (["probe", "--run", str(copy)], ["export", "--run", str(copy), "--out", str(tmp_path / "b.pt")]):
        _one_line_error(capsys, cmd, f"{copy / 'checkpoint.pt'}: not a readable checkpoint")
