"""The ``mi-ssl`` command: ``train``, ``probe``, ``export``, ``methods``, ``datasets``, ``bench``.

Examples::

    mi-ssl methods
    mi-ssl train --method jmi --dataset gaussian --epochs 100 --out runs/jmi
    mi-ssl train --method sdmi --dataset cifar10 --data-dir ~/data --profile paper --device cuda --out runs/sdmi
    mi-ssl train --method sdmi --dataset cifar10 --data-dir ~/data --out runs/sdmi --resume
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

__all__ = ["main", "build_parser"]


def _add_train(sub: argparse._SubParsersAction) -> None:
    from .data import DATASETS
    from .methods import METHODS, PROFILES

    p = sub.add_parser(
        "train", help="pre-train one method on one dataset",
        description="Pre-train a method; writes DIR/history.csv (one row per epoch: epoch, loss, mi_cos_dv, "
                    "mi_infonce, mi_jsd, ...), DIR/summary.json and a resumable DIR/checkpoint.pt. "
                    "Unset options take the (method, dataset, profile) defaults of mi_ssl.methods.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--method", required=True, choices=list(METHODS), metavar="NAME",
                   help=f"one of: {', '.join(METHODS)}")
    p.add_argument("--dataset", default="gaussian", choices=list(DATASETS), metavar="NAME",
                   help=f"one of: {', '.join(DATASETS)}")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory")
    p.add_argument("--epochs", type=int, help="number of epochs (default: profile's)")
    p.add_argument("--profile", default="cpu", choices=PROFILES,
                   help="'cpu': laptop-sized defaults; 'paper': the paper's Tables 3, 5, 6")
    p.add_argument("--data-dir", help="folder holding the dataset files (cifar*, tinyimagenet, imagenet100), "
                                      "or your ImageFolder tree for --dataset folder")
    p.add_argument("--download", action="store_true",
                   help="fetch CIFAR-10/100 into --data-dir first if missing (needs a network)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="base learning rate (cosine decay)")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--warmup-epochs", type=int)
    p.add_argument("--tau", type=float, help="critic temperature (cos-DV, InfoNCE, NT-Xent)")
    p.add_argument("--momentum", type=float, help="EMA coefficient (byol, mocov3 only)")
    p.add_argument("--schedule", choices=["epoch", "batch"], help="SDMI alternation: per epoch (Alg. 1) or per batch")
    p.add_argument("--proj-dim", type=int)
    p.add_argument("--proj-layers", type=int)
    p.add_argument("--checkpoint-every", type=int, help="epochs between checkpoints")
    p.add_argument("--track-every", type=int, help="epochs between MI estimates (0: off)")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the step")
    p.add_argument("--compile-views", action="store_true", default=None,
                   help="torch.compile the view maker (fused kernels on a GPU; compiling takes tens of seconds)")
    p.add_argument("--no-amp", action="store_true", help="disable bf16 autocast on CUDA")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _cmd_train(a: argparse.Namespace) -> int:
    from .config import make_config
    from .training import fit

    cfg = make_config(
        a.method, a.dataset, a.profile, epochs=a.epochs, data_dir=a.data_dir, device=a.device, seed=a.seed,
        batch_size=a.batch_size, lr=a.lr, weight_decay=a.weight_decay, warmup_epochs=a.warmup_epochs,
        tau=a.tau, momentum=a.momentum, schedule=a.schedule, proj_dim=a.proj_dim, proj_layers=a.proj_layers,
        checkpoint_every=a.checkpoint_every, track_every=a.track_every, compile=a.compile,
        compile_views=a.compile_views, amp=False if a.no_amp else None,
    )
    data = None
    if a.download:  # fetched into --data-dir if missing (CIFAR only; others say so), then trained on
        from .data import load_dataset

        data = load_dataset(a.dataset, a.data_dir, seed=a.seed, download=True)
    res = fit(cfg, data, out=a.out, resume=a.resume, progress=False if a.no_progress else None)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    a = parser.parse_args(argv)
    handlers = {"train": _cmd_train, "probe": _cmd_probe, "export": _cmd_export, "methods": _cmd_methods,
                "datasets": _cmd_datasets}
    if a.command == "bench":
        return a.handler(a, argv)             # argv: the command line its record keeps
    try:
        return handlers[a.command](a)
    except (ValueError, FileNotFoundError) as e:
        print(f"mi-ssl {a.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
