"""The `mi-ssl` command: train writes the run directory, methods prints the taxonomy, errors are clear."""

import json
import subprocess
import sys

import pandas as pd

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
    assert main([*args[:5], "--epochs", "3", *args[7:], "--resume"]) == 0
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
