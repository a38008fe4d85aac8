"""The ``mi-ssl bench`` command (also ``python -m mi_ssl.bench``): its options and what it prints and writes."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .plan import IMAGE_SHAPES, default_workers
from .report import small_to_markdown, to_markdown
from .run import run_benchmark
from .small import SMALL_PARTS, SMALL_SIZES, run_small

__all__ = ["add_parser", "main", "DESCRIPTION"]

DESCRIPTION = (
    "mi-ssl bench: how fast is one pre-training step, and what feeds it. Every method's optimiser step is timed "
    "with three data pipelines in front of it: (a) reference (torchvision v2 per image, DataLoader workers), "
    "(b) mi-ssl (uint8 on the device, batched augmentation), (c) model only (views made once). "
    "With --small instead: the small-scale CPU benchmark (N x N objectives against the plain N x N floor and "
    "lightly's NTXentLoss, peak memory against one N x N matrix, one toy and one MNIST-1D run per method). "
    "Writes a JSON record (--out) and a markdown table (--markdown)."
)

_EPILOG = """examples:
  mi-ssl bench --tiny --probe                        CPU smoke run, seconds
  mi-ssl bench --device cuda --synthetic --profile paper --probe --out gpu.json --markdown gpu.md
  mi-ssl bench --small --out benchmarks/results/cpu-2core-small.json --markdown benchmarks/results/cpu-2core-small.md
  mi-ssl bench --small --parts kernels --sizes 256 1024    the kernel table alone, quick
"""


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after each option's help; the examples kept as written."""


def _add_step_options(p: argparse.ArgumentParser) -> None:
    from ..methods import MAIN_METHODS, METHODS

    p.add_argument("--methods", nargs="+", metavar="NAME",
                   help=f"methods (space or comma separated; 'main', 'all'); default: {' '.join(MAIN_METHODS)} "
                        f"(--small: each chapter's list). Known: {', '.join(METHODS)}")
    p.add_argument("--dataset", default="cifar10", help=f"image data set: {', '.join(IMAGE_SHAPES)}")
    p.add_argument("--data-dir", help="folder of the real data set (not needed with --synthetic)")
    p.add_argument("--synthetic", nargs="?", type=int, const=-1, default=None, metavar="N",
                   help="N random uint8 images of the data set's shape instead of the files "
                        "(no N: the real training-set size, 50,000 for CIFAR)")
    p.add_argument("--batch-size", type=int, help="images per step (default 512; --tiny 16)")
    p.add_argument("--steps", type=int, help="timed steps per method and pipeline (default 50; --tiny 3)")
    p.add_argument("--warmup", type=int, help="untimed steps first (default 10; --tiny 1)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--workers", type=int, help="DataLoader workers of the reference pipeline "
                                               f"(default cpu_count - 1, at most 16: {default_workers()} here)")
    p.add_argument("--backbone", help="override the data set's backbone (resnet18 for CIFAR)")
    p.add_argument("--profile", default="cpu", choices=["cpu", "paper"],
                   help="hyper-parameters: 'paper' = Tables 3/5 (projector depth per method)")
    p.add_argument("--compile", action="store_true", help="torch.compile the step (as mi-ssl train --compile)")
    p.add_argument("--compile-views", action="store_true",
                   help="torch.compile our view maker (as mi-ssl train --compile-views)")
    p.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    p.add_argument("--pipelines", nargs="+", metavar="NAME", help="subset of reference device model")
    p.add_argument("--augment-impl", nargs="+", default=["ours"], metavar="IMPL",
                   help="view makers for pipeline (b): ours and/or kornia (optional package; adds the "
                        "pipeline device_kornia)")
    p.add_argument("--augment-only", action="store_true", help="only compare the view makers (no model)")
    p.add_argument("--probe", action="store_true", help="also time the linear-probe protocol (50k + 10k images)")
    p.add_argument("--probe-epochs", type=int, help="L-BFGS iterations of the timed probe (default 100; --tiny 10)")
    p.add_argument("--tiny", action="store_true",
                   help="CPU smoke mode: 8x8 synthetic images, digits_cnn, batch 16, 3 steps (seconds)")
    p.add_argument("--threads", type=int, help="torch CPU threads during the run (default: unchanged; --tiny 1)")


def _add_small_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("small-scale CPU benchmark (--small; one torch thread; --methods, --seed, --out, "
                             "--markdown and --quiet apply too)")
    g.add_argument("--small", action="store_true",
                   help="time the N x N objectives/estimators against the plain floor (S = za @ zb.T; "
                        "S.exp().sum().backward()) and lightly's NTXentLoss, their peak memory against one N x N "
                        "float32 matrix, and one toy (chapter 04) and one MNIST-1D (chapter 07) run per method")
    g.add_argument("--parts", nargs="+", metavar="PART", help=f"subset of {' '.join(SMALL_PARTS)} (default all)")
    g.add_argument("--sizes", nargs="+", type=int, metavar="N",
                   help=f"batch sizes of the kernel timing; the largest is the memory N (default "
                        f"{' '.join(map(str, SMALL_SIZES))})")
    g.add_argument("--dim", type=int, default=3, help="embedding width D of the kernel timing")
    g.add_argument("--budget", type=float, default=2.0, help="seconds of repeats per N (at least 3 repeats)")
    g.add_argument("--run-epochs", type=int, help="override the timed runs' epochs (a quick look; recorded)")
    g.add_argument("--note", help="free text kept in the provenance, e.g. how loaded the machine was")


def _add_arguments(p: argparse.ArgumentParser) -> None:
    _add_step_options(p)
    _add_small_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="FILE.json", help="write the JSON record here (updated after every method)")
    p.add_argument("--markdown", metavar="FILE.md", help="write the markdown table here")
    p.add_argument("--quiet", action="store_true", help="no per-measurement lines on stderr")


def _run_small(a: argparse.Namespace, command: str, progress: Callable[[str], None] | None) -> str:
    if a.tiny:
        raise ValueError("--small and --tiny are two different benchmarks; choose one")
    rec = run_small(a.parts, sizes=a.sizes, dim=a.dim, methods=a.methods, epochs=a.run_epochs, budget_s=a.budget,
                    seed=a.seed, note=a.note, command=command, out=a.out, progress=progress)
    return small_to_markdown(rec)


def _run_steps(a: argparse.Namespace, command: str, progress: Callable[[str], None] | None) -> str:
    synthetic: int | bool | None = True if a.synthetic == -1 else a.synthetic
    res = run_benchmark(
        a.methods, dataset=a.dataset, data_dir=a.data_dir, synthetic=synthetic, batch_size=a.batch_size,
        steps=a.steps, warmup=a.warmup, device=a.device, workers=a.workers, backbone=a.backbone,
        profile=a.profile, compile=a.compile, compile_views=a.compile_views, cudnn_benchmark=a.cudnn_benchmark,
        pipelines=a.pipelines, augment_impls=a.augment_impl, augment_only=a.augment_only, probe=a.probe,
        probe_epochs=a.probe_epochs, tiny=a.tiny, threads=a.threads, seed=a.seed, command=command, out=a.out,
        progress=progress)
    return to_markdown(res)


def handle(a: argparse.Namespace, argv: Sequence[str], prog: str = "mi-ssl") -> int:
    """Run the benchmark ``a`` asks for; ``prog argv`` is the command line recorded in the provenance.
    Prints the markdown (and writes it to ``--markdown``); bad input: a one-line error, exit code 2."""
    command = shlex.join([*prog.split(), *argv])
    progress = None if a.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    try:
        md = (_run_small if a.small else _run_steps)(a, command, progress)
    except ValueError as e:
        print(f"{'mi-ssl bench' if prog == 'mi-ssl' else prog}: error: {e}", file=sys.stderr)
        return 2
    if a.markdown:
        path = Path(a.markdown)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(md)
    print(md)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``mi-ssl bench`` on the ``mi-ssl`` command's sub-parsers (``handler`` set via ``set_defaults``;
    call it as ``a.handler(a, argv)`` with the command's arguments)."""
    p = subparsers.add_parser(
        "bench", help="images/s of every method's step with three data pipelines (reference, mi-ssl, model only); "
                      "--small: the N x N objectives, memory and run times on a CPU",
        description=DESCRIPTION, epilog=_EPILOG,
        formatter_class=_Formatter)
    _add_arguments(p)
    p.set_defaults(handler=handle)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mi_ssl.bench ...`` (same options as ``mi-ssl bench``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m mi_ssl.bench", description=DESCRIPTION, epilog=_EPILOG,
                                formatter_class=_Formatter)
    _add_arguments(p)
    return handle(p.parse_args(argv), argv, prog="python -m mi_ssl.bench")
