"""The ``mi-ssl`` command: ``train``, ``probe``, ``export``, ``methods``, ``datasets``, ``bench``.

Examples::

    mi-ssl methods
    mi-ssl train --method jmi --dataset gaussian --epochs 100 --out runs/jmi
    mi-ssl train --method sdmi --dataset cifar10 --data-dir ~/data --profile paper --device cuda --out runs/sdmi
    mi-ssl train --method sdmi --dataset cifar10 --data-dir ~/data --out runs/sdmi --resume
    mi-ssl train --config run.yaml --set lr=0.1 --eval-every 10 --logger tensorboard --out runs/mine
    mi-ssl probe --run runs/sdmi
    mi-ssl export --run runs/sdmi --encoder f --out sdmi_f.pt
    torchrun --nproc_per_node=2 -m mi_ssl.cli train --method simclr --dataset cifar10 ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

__all__ = ["main", "build_parser", "error_line"]


def _add_train(sub: argparse._SubParsersAction) -> None:
    from .config import LOGGERS
    from .data import DATASETS
    from .methods import METHODS, PROFILES

    p = sub.add_parser(
        "train", help="pre-train one method on one dataset",
        description="Pre-train a method; writes DIR/history.csv (one row per epoch: epoch, loss, mi_cos_dv, "
                    "mi_infonce, mi_jsd, ...), DIR/summary.json, DIR/config.json (the resolved config) and a "
                    "resumable DIR/checkpoint.pt. Settings, highest precedence first: these options > --set "
                    "KEY=VALUE > --config FILE > the (method, dataset, profile) defaults of mi_ssl.methods. "
                    "A run directory holds one run: a non-empty DIR needs --resume or --overwrite.")
    p.add_argument("--method", choices=list(METHODS), metavar="NAME",
                   help=f"one of: {', '.join(METHODS)} (required, here or in --config/--set)")
    p.add_argument("--dataset", choices=list(DATASETS), metavar="NAME",
                   help=f"one of: {', '.join(DATASETS)} (default: gaussian)")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory")
    p.add_argument("--config", metavar="FILE",
                   help="YAML (or JSON) file of 'field: value' lines; any TrainConfig field (a run's config.json "
                        "is such a file)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                   help="set any TrainConfig field, e.g. --set lambd=0.01 (repeatable; overrides --config)")
    p.add_argument("--epochs", type=int, help="number of epochs (default: profile's)")
    p.add_argument("--profile", choices=PROFILES,
                   help="'cpu' (default): laptop-sized defaults; 'paper': the paper's Tables 3, 5, 6")
    p.add_argument("--data-dir", help="folder holding the dataset files (cifar*, tinyimagenet, imagenet100), "
                                      "or your ImageFolder tree for --dataset folder")
    p.add_argument("--download", action="store_true",
                   help="fetch CIFAR-10/100 into --data-dir first if missing (needs a network)")
    p.add_argument("--device", help="auto (default) | cpu | cuda | cuda:N")
    p.add_argument("--seed", type=int, help="seed of the initialisation, the views and the data (default 0)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="base learning rate (warm-up, then cosine decay to 0)")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--warmup-epochs", type=int)
    p.add_argument("--tau", type=float, help="critic temperature (cos-DV, InfoNCE, NT-Xent)")
    p.add_argument("--momentum", type=float, help="EMA coefficient (byol, mocov3 only)")
    p.add_argument("--schedule", choices=["epoch", "batch"], help="SDMI alternation: per epoch (Alg. 1) or per batch")
    p.add_argument("--proj-dim", type=int)
    p.add_argument("--proj-layers", type=int)
    p.add_argument("--checkpoint-every", type=int, help="epochs between checkpoints")
    p.add_argument("--track-every", type=int, help="epochs between MI estimates (0: off)")
    p.add_argument("--eval-every", type=int,
                   help="epochs between online evaluations: kNN top-1 of each encoder on the held-out split, "
                        "as history.csv columns knn_top1_<encoder> (0, the default: off)")
    p.add_argument("--eval-probe", action="store_true", default=None,
                   help="with --eval-every, the linear probe too (columns probe_top1_<encoder>)")
    p.add_argument("--logger", choices=LOGGERS,
                   help="tensorboard: mirror every history row to DIR/tb (needs pip install 'mi-ssl[log]')")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the step")
    p.add_argument("--compile-views", action="store_true", default=None,
                   help="torch.compile the view maker (fused kernels on a GPU; compiling takes tens of seconds)")
    p.add_argument("--no-amp", action="store_true", help="disable bf16 autocast on CUDA")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in DIR from its checkpoint; refused if a setting that defines the run "
                        "differs (all may change but device, amp, channels_last, compile, compile_views, "
                        "checkpoint_every, track_every, eval_every, eval_probe, logger, data_dir, profile)")
    p.add_argument("--extend", action="store_true",
                   help="with --resume, train on to a larger --epochs: the trained epochs keep their schedule, the "
                        "new ones follow the cosine laid over the new total from the start (the learning rate "
                        "jumps back up: the result differs from a run trained that long from the start)")
    p.add_argument("--overwrite", action="store_true", help="delete the run in DIR (its files only) and start over")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _cmd_train(a: argparse.Namespace) -> int:
    from .config import resolve_config
    from .training import fit

    flags = dict(
        method=a.method, dataset=a.dataset, profile=a.profile, epochs=a.epochs, data_dir=a.data_dir,
        device=a.device, seed=a.seed, batch_size=a.batch_size, lr=a.lr, weight_decay=a.weight_decay,
        warmup_epochs=a.warmup_epochs, tau=a.tau, momentum=a.momentum, schedule=a.schedule, proj_dim=a.proj_dim,
        proj_layers=a.proj_layers, checkpoint_every=a.checkpoint_every, track_every=a.track_every,
        eval_every=a.eval_every, eval_probe=a.eval_probe, logger=a.logger, compile=a.compile,
        compile_views=a.compile_views, amp=False if a.no_amp else None,
    )
    cfg = resolve_config(flags, a.settings, a.config)
    data = None
    if a.download:  # fetched into --data-dir if missing (CIFAR only; others say so), then trained on
        from .data import load_dataset

        data = load_dataset(cfg.dataset, cfg.data_dir, seed=cfg.seed, download=True)
    res = fit(cfg, data, out=a.out, resume=a.resume, overwrite=a.overwrite, extend=a.extend,
              progress=False if a.no_progress else None)
    s = res.summary
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports (and writes)
        return 0
    print(f"{cfg.method}/{cfg.dataset}: {s['epochs']} epochs, loss {s['final_loss']:.4f}, "
          f"I_cos-DV {s['mi_cos_dv']:.3f}, I_InfoNCE {s['mi_infonce']:.3f}, I_JSD {s['mi_jsd']:.3f} nats; "
          f"{s['seconds_per_epoch']:.3f} s/epoch -> {a.out}")
    return 0


def _add_probe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="linear probe (and kNN, collapse diagnostics) of a trained run",
                       description="Extract frozen backbone features of every encoder of a run, train a linear "
                                   "classifier on the train split, report top-1 on the test split; writes the "
                                   "results under 'probe' in DIR/summary.json.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--run", required=True, metavar="DIR", help="run directory written by `mi-ssl train`")
    p.add_argument("--dataset", help="dataset to probe on (default: the run's)")
    p.add_argument("--data-dir", help="dataset folder (default: the run's)")
    p.add_argument("--device", default="auto")
    p.add_argument("--epochs", type=int, default=100, help="probe training epochs")


def _cmd_probe(a: argparse.Namespace) -> int:
    from .probing import probe_run

    res = probe_run(a.run, dataset=a.dataset, data_dir=a.data_dir, device=a.device, epochs=a.epochs)
    for enc, r in res.items():
        print(f"{enc}: linear probe top-1 {r['top1']:.2f}%  kNN {r['knn_top1']:.2f}%  "
              f"effective rank {r['effective_rank']:.1f}")
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a run's backbone as a plain state_dict (+ JSON sidecar)",
                       description="Write the backbone of one encoder of a run as a plain state_dict (torchvision "
                                   "key names for the ResNets; torch.load(FILE, weights_only=True)) and FILE.json: "
                                   "how to rebuild it (torchvision recipe for the ResNets), its input "
                                   "normalisation, the run's config and commits. mi_ssl.load_backbone(FILE) reads "
                                   "it back.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--run", required=True, metavar="DIR", help="run directory written by `mi-ssl train`")
    p.add_argument("--encoder", default="f", metavar="f|g",
                   help="f: the online / E-step encoder; g: the second encoder of SDMI methods that have one")
    p.add_argument("--out", required=True, metavar="FILE", help="file to write (the sidecar is FILE.json)")


def _cmd_export(a: argparse.Namespace) -> int:
    from .export import export_backbone, sidecar_path

    out = export_backbone(a.run, a.out, encoder=a.encoder)
    side = json.loads(sidecar_path(out).read_text())
    print(f"{side['method']}/{side['dataset']} encoder {side['encoder']}: {side['backbone']} backbone, "
          f"{side['feature_dim']} features -> {out} (+ {sidecar_path(out).name})")
    return 0


def _add_methods(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("methods", help="print the SDMI/JMI taxonomy of every method (paper Table 7)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")


def _cmd_methods(a: argparse.Namespace) -> int:
    from .methods import taxonomy

    rows = taxonomy()
    if a.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    cols = ["method", "paradigm", "update", "objective_type", "objective", "loss_on", "head_end", "loss_scale",
            "components"]
    if a.format == "csv":
        print(",".join(cols))
        for r in rows:
            print(",".join(f'"{r[c]}"' if "," in r[c] else r[c] for c in cols))
        return 0
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    print("  ".join(c.ljust(width[c]) for c in cols))
    print("  ".join("-" * width[c] for c in cols))
    for r in rows:
        print("  ".join(r[c].ljust(width[c]) for c in cols))
    return 0


def _add_datasets(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("datasets", help="list the datasets and what each needs on disk")


def _cmd_datasets(a: argparse.Namespace) -> int:
    from .data import DATASETS, describe

    for name in DATASETS:
        print(f"{name:13s} {describe(name)}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad command line answered in one line (the error and where the help is), status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mi-ssl", description="Self-supervised learning as mutual-information maximisation (SDMI / JMI).",
        epilog="Run `mi-ssl COMMAND --help` for the options of each command.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(sub)
    _add_probe(sub)
    _add_export(sub)
    _add_methods(sub)
    _add_datasets(sub)
    from .bench import add_parser as _add_bench

    _add_bench(sub)
    return parser


def error_line(e: BaseException) -> str:
    """The one line ``mi-ssl`` prints for a user-facing error (an ``OSError`` as ``FILE: reason``)."""
    if isinstance(e, OSError) and e.strerror:
        text = f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    else:
        text = str(e) or type(e).__name__
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Every error a user can act on (:mod:`mi_ssl.errors`, a ``ValueError`` for a bad option
    or file, an ``OSError`` such as a missing file or a full disk) is printed as one line, exit status 2;
    Ctrl-C stops with status 130 (the lock is released; ``--resume`` continues). Other exceptions are bugs and
    keep their traceback."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    a = parser.parse_args(argv)
    handlers = {"train": _cmd_train, "probe": _cmd_probe, "export": _cmd_export, "methods": _cmd_methods,
                "datasets": _cmd_datasets}
    if a.command == "bench":
        return a.handler(a, argv)             # argv: the command line its record keeps
    from .errors import MiSslError

    try:
        return handlers[a.command](a)
    except (MiSslError, ValueError, OSError) as e:
        print(f"mi-ssl {a.command}: error: {error_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mi-ssl {a.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
