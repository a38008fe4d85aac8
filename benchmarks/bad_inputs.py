"""What a user sees for bad inputs and faults: the CLI, the Python API, chapter parameters and files.

    python benchmarks/bad_inputs.py [--out benchmarks/results/bad-inputs.md]

Each case is run as a user would meet it (``mi-ssl`` through :func:`mi_ssl.cli.main`, which is what the console
script calls; the Python API by a call; a chapter parameter through :func:`mi_ssl.params.check`, the function
every chapter calls after its ``parameters`` cell) and is judged on what comes back:

* CLI: exit status 2 and exactly one line on stderr, starting ``mi-ssl CMD: error:`` (argparse's own usage line
  plus error line for a malformed option);
* API and chapter parameters: an exception whose type is ``ValueError`` (``TypeError`` for a tensor of the wrong
  dtype) or one of :mod:`mi_ssl.errors`' and whose message is one line — never a silently wrong value, never an
  exception from deep inside torch.

The table (case, where, what the user sees, verdict) is printed and written as Markdown. The exit status is 1
when any case ends in a traceback, a multi-line message or no error at all.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from mi_ssl import bounds, objectives, params, theory
from mi_ssl.cli import main as cli
from mi_ssl.config import make_config
from mi_ssl.data import load_dataset
from mi_ssl.errors import MiSslError
from mi_ssl.rundir import load_run

TRAIN = ["train", "--method", "jmi", "--dataset", "gaussian", "--epochs", "1", "--device", "cpu", "--no-progress",
         "--batch-size", "500", "--track-every", "0"]


def run_cli(argv: list[str]) -> tuple[str, bool]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli(argv)
        except SystemExit as e:  # argparse
            code = e.code
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    shown = lines[-1] if lines else "(nothing on stderr)"
    argparse_usage = len(lines) == 2 and lines[0].startswith("usage:")
    ok = (code == 2 and (len(lines) == 1 or argparse_usage) and shown.startswith(f"mi-ssl {argv[0]}: error: ")
          and "Traceback" not in err.getvalue())
    return f"exit {code}: {shown}", ok


def locked(run: Path, argv: list[str]) -> Callable[[], tuple[str, bool]]:
    """``argv`` run while another writer holds ``run/.lock`` (as a second ``mi-ssl train`` would)."""
    def case() -> tuple[str, bool]:
        import fcntl

        fd = os.open(run / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, b"pid 12345 (mi-ssl train)")
            return run_cli(argv)
        finally:
            os.close(fd)
    return case


def run_api(call: Callable[[], object]) -> tuple[str, bool]:
    try:
        value = call()
    except (ValueError, TypeError, MiSslError, OSError) as e:
        msg = str(e)
        return f"{type(e).__name__}: {msg}", "\n" not in msg.strip()
    except Exception as e:  # noqa: BLE001 - anything else is what this audit is for
        return f"UNEXPECTED {type(e).__name__}: {e}", False
    return f"no error (returned {value!r:.60})", False


CHAPTER_PARAMETERS: dict[str, tuple[type, object]] = {  # a parameters cell: annotation and default
    "seeds": (list[int], [0, 1, 2, 3, 4]), "methods": (list[str], ["sdmi", "jmi"]), "epochs": (int, 100),
    "device": (str, "cpu"), "dataset": (str, "gaussian"), "lr": (float, 0.5),
}


def chapter(**values: object) -> Callable[[], object]:
    """A chapter's globals after papermill injected ``values``: checked as the chapter checks them."""
    namespace: dict[str, object] = {"__annotations__": {k: t for k, (t, _) in CHAPTER_PARAMETERS.items()},
                                    **{k: v for k, (_, v) in CHAPTER_PARAMETERS.items()}, **values}
    return lambda: params.check(namespace)


def cases(tmp: Path) -> list[tuple[str, str, Callable[[], tuple[str, bool]]]]:
    good = tmp / "good"
    assert cli([*TRAIN, "--out", str(good)]) == 0
    digits = tmp / "digits"
    assert cli(["train", "--method", "jmi", "--dataset", "digits", "--epochs", "1", "--device", "cpu",
                "--no-progress", "--track-every", "0", "--out", str(digits)]) == 0
    (tmp / "file").write_text("x")
    (tmp / "bad.yaml").write_text("lr: [1, 2\n")
    corrupt = tmp / "corrupt"
    corrupt.mkdir()
    (corrupt / "checkpoint.pt").write_bytes(os.urandom(512))
    (corrupt / "config.json").write_bytes((good / "config.json").read_bytes())
    half = tmp / "half"
    half.mkdir()
    for f in good.iterdir():
        if f.is_file():
            (half / f.name).write_bytes(f.read_bytes())
    raw = (half / "checkpoint.pt").read_bytes()
    (half / "checkpoint.pt").write_bytes(raw[: len(raw) // 2])
    badsum = tmp / "badsum"
    badsum.mkdir()
    for f in digits.iterdir():
        if f.is_file():
            (badsum / f.name).write_bytes(f.read_bytes())
    (badsum / "summary.json").write_text('{"final_loss": ')
    z = torch.randn(64, 3)
    out = str(tmp / "run")

    def c(argv: list[str]) -> Callable[[], tuple[str, bool]]:
        return lambda: run_cli(argv)

    def a(call: Callable[[], object]) -> Callable[[], tuple[str, bool]]:
        return lambda: run_api(call)

    return [
        # ---- mi-ssl train
        ("train --device foo", "CLI", c([*TRAIN, "--out", out, "--device", "foo"])),
        ("train --lr inf", "CLI", c([*TRAIN, "--out", out, "--lr", "inf"])),
        ("train --lr nan", "CLI", c([*TRAIN, "--out", out, "--lr", "nan"])),
        ("train --lr -1", "CLI", c([*TRAIN, "--out", out, "--lr", "-1"])),
        ("train --epochs 0", "CLI", c([*TRAIN, "--out", out, "--epochs", "0"])),
        ("train --epochs abc", "CLI", c([*TRAIN, "--out", out, "--epochs", "abc"])),
        ("train --batch-size 0", "CLI", c([*TRAIN, "--out", out, "--batch-size", "0"])),
        ("train --tau 0", "CLI", c([*TRAIN, "--out", out, "--tau", "0"])),
        ("train --method dino (not implemented)", "CLI", c(["train", "--method", "dino", "--out", out])),
        ("train --dataset nope", "CLI", c([*TRAIN[:3], "--dataset", "nope", "--out", out])),
        ("train --dataset cifar10 --data-dir /nonexistent", "CLI",
         c([*TRAIN[:3], "--dataset", "cifar10", "--data-dir", "/nonexistent", "--epochs", "1", "--out", out])),
        ("train --momentum 0.9 (a JMI run refuses an SDMI option)", "CLI",
         c([*TRAIN, "--out", out, "--momentum", "0.9"])),
        ("train --set lrr=0.1 (typo)", "CLI", c([*TRAIN, "--out", out, "--set", "lrr=0.1"])),
        ("train --set tau=abc", "CLI", c([*TRAIN, "--out", out, "--set", "tau=abc"])),
        ("train --set tau (no value)", "CLI", c([*TRAIN, "--out", out, "--set", "tau"])),
        ("train --config missing.yaml", "CLI", c([*TRAIN, "--out", out, "--config", str(tmp / "missing.yaml")])),
        ("train --config with broken YAML", "CLI", c([*TRAIN, "--out", out, "--config", str(tmp / "bad.yaml")])),
        ("train --extend without --resume", "CLI", c([*TRAIN, "--out", out, "--extend"])),
        ("train --resume --overwrite", "CLI", c([*TRAIN, "--out", out, "--resume", "--overwrite"])),
        ("train --lr 1e6 (diverges)", "CLI", c([*TRAIN, "--out", str(tmp / "diverge"), "--lr", "1e6"])),
        ("train --out is a file", "CLI", c([*TRAIN, "--out", str(tmp / "file")])),
        ("train into a finished run without --resume", "CLI", c([*TRAIN, "--out", str(good)])),
        ("train --resume with another --lr and --tau", "CLI",
         c([*TRAIN, "--out", str(good), "--resume", "--lr", "0.1", "--tau", "0.3"])),
        ("train --resume --epochs 3 (longer) without --extend", "CLI",
         c([*TRAIN[:5], "--epochs", "3", *TRAIN[7:], "--out", str(good), "--resume"])),
        ("train --resume while another process writes the run", "CLI", locked(good, [*TRAIN, "--out", str(good),
                                                                                 "--resume"])),
        # ---- mi-ssl probe / export
        ("probe --run missing directory", "CLI", c(["probe", "--run", str(tmp / "none")])),
        ("probe a gaussian run on digits (other input shape)", "CLI",
         c(["probe", "--run", str(good), "--dataset", "digits", "--device", "cpu"])),
        ("probe a run whose summary.json is cut", "CLI",
         c(["probe", "--run", str(badsum), "--device", "cpu", "--epochs", "1"])),
        ("probe a truncated checkpoint", "CLI", c(["probe", "--run", str(half)])),
        ("probe a checkpoint.pt of random bytes", "CLI", c(["probe", "--run", str(corrupt)])),
        ("probe --epochs 0", "CLI", c(["probe", "--run", str(digits), "--epochs", "0", "--device", "cpu"])),
        ("export a truncated checkpoint", "CLI", c(["export", "--run", str(half), "--out", str(tmp / "b.pt")])),
        ("export --encoder h (no such encoder)", "CLI",
         c(["export", "--run", str(good), "--encoder", "h", "--out", str(tmp / "b.pt")])),
        # ---- Python API
        ("objectives.cos_dv(tau=0)", "API", a(lambda: objectives.cos_dv(z, z, tau=0.0))),
        ("objectives.nt_xent(tau=-1)", "API", a(lambda: objectives.nt_xent(z, z, tau=-1.0))),
        ("objectives.cos_dv on integer tensors", "API",
         a(lambda: objectives.cos_dv(torch.ones(8, 3, dtype=torch.long), torch.ones(8, 3, dtype=torch.long)))),
        ("objectives.cos_dv on NaN input", "API", a(lambda: objectives.cos_dv(z.clone().fill_(math.nan), z))),
        ("objectives.cos_dv with za, zb of other shapes", "API", a(lambda: objectives.cos_dv(z, z[:, :2]))),
        ("objectives.vicreg(var_weight=-1)", "API", a(lambda: objectives.vicreg(z, z, var_weight=-1.0))),
        ("objectives.barlow_twins(lambd=-0.1)", "API", a(lambda: objectives.barlow_twins(z, z, lambd=-0.1))),
        ("bounds.dv on a non-square score matrix", "API", a(lambda: bounds.dv(torch.randn(4, 5)))),
        ("bounds.dv on a 1-D tensor", "API", a(lambda: bounds.dv(torch.randn(4)))),
        ("theory.ridge_cap(eps=0)", "API", a(lambda: theory.ridge_cap(3, 100, 0.0))),
        ("make_config('nope')", "API", a(lambda: make_config("nope"))),
        ("make_config('jmi', lr=float('inf'))", "API", a(lambda: make_config("jmi", lr=math.inf))),
        ("load_dataset('nope')", "API", a(lambda: load_dataset("nope"))),
        ("load_run on a directory without a run", "API", a(lambda: load_run(tmp / "file"))),
        ("load_run on a checkpoint of random bytes", "API", a(lambda: load_run(corrupt))),
        # ---- chapter parameters (papermill -p / -y)
        ("-p methods '[\"nope\"]'", "chapter", a(chapter(methods='["nope"]'))),
        ("-p methods nope (one item, not a method)", "chapter", a(chapter(methods="nope"))),
        ("-p epochs abc", "chapter", a(chapter(epochs="abc"))),
        ("-p epochs 0", "chapter", a(chapter(epochs=0))),
        ("-p seeds '[1, \"a\"]'", "chapter", a(chapter(seeds='[1, "a"]'))),
        ("-p seeds '[]'", "chapter", a(chapter(seeds="[]"))),
        ("-p device foo", "chapter", a(chapter(device="foo"))),
        ("-p dataset nope", "chapter", a(chapter(dataset="nope"))),
        ("-p lr -1", "chapter", a(chapter(lr=-1.0))),
        ("-y 'lr: .nan'", "chapter", a(chapter(lr=math.nan))),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bad-inputs.md"),
                        help="Markdown table to write (default: %(default)s)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name, where, case in cases(Path(d)):
            shown, ok = case()
            shown = shown.replace(d, "TMP").replace("|", "\\|")
            rows.append((name, where, shown, "clear" if ok else "FAILS"))
    lines = ["# Bad inputs and faults: what the user sees", "",
             f"{len(rows)} cases, `python benchmarks/bad_inputs.py` (TMP: a temporary folder). "
             "clear = exit 2 and one line (CLI), or a one-line `ValueError`/`TypeError`/`mi_ssl.errors` exception "
             "(API, chapter parameters).",
             "", "| case | where | what the user sees | verdict |", "|---|---|---|---|"]
    lines += [f"| `{n}` | {w} | {s} | {v} |" for n, w, s, v in rows]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    failed = [r for r in rows if r[3] != "clear"]
    print(f"{len(rows) - len(failed)} of {len(rows)} clear", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
