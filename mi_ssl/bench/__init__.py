"""``mi-ssl bench``: how fast is one pre-training step and what feeds it, and what the book's CPU time is spent on.

Two benchmarks, one record each (JSON with provenance, plus markdown):

* **the step benchmark** (:func:`run_benchmark`): every method's optimiser step timed with three data
  pipelines in front of it — ``reference`` (per-image torchvision in DataLoader workers), ``device``
  (mi-ssl's batched augmentation on the device) and ``model`` (views made once) — with FLOPs, peak memory,
  projected epoch times, the view makers alone and the linear-probe protocol;
* **the small-scale CPU benchmark** (:func:`run_small`, ``mi-ssl bench --small``): every N x N objective
  and estimator against the plain N x N floor and lightly's ``NTXentLoss``, their peak memory against one
  N x N matrix, and one toy and one MNIST-1D run per method.

>>> res = run_benchmark(tiny=True, device="cpu")             # seconds, on a laptop CPU
>>> print(to_markdown(res))

Modules, in the order a measurement flows: :mod:`~mi_ssl.bench.plan` (settings, validation),
:mod:`~mi_ssl.bench.pipelines` (where views come from), :mod:`~mi_ssl.bench.measure` (timing a step),
:mod:`~mi_ssl.bench.run` (the step benchmark), :mod:`~mi_ssl.bench.kernels` and :mod:`~mi_ssl.bench.memory`
(N x N kernels), :mod:`~mi_ssl.bench.small` (the small benchmark), :mod:`~mi_ssl.bench.record` (JSON,
provenance), :mod:`~mi_ssl.bench.report` (markdown), :mod:`~mi_ssl.bench.appendix` (the checks and tables
of the book's Performance appendix), :mod:`~mi_ssl.bench.cli` (the command). ``benchmarks/README.md`` has
the GPU recipe.
"""

from .appendix import (
    check_claims,
    check_record,
    check_small_record,
    headline,
    load_records,
)
from .cli import add_parser, main
from .kernels import FLOOR, floor, lightly_kernels, objective_kernels, time_kernels
from .measure import count_host_syncs
from .pipelines import PIPELINE_TITLES, PIPELINES, kornia_augment, synthetic_data
from .plan import EPOCH_IMAGES, PEAK_BF16_TFLOPS, BenchError, peak_bf16_tflops
from .record import SCHEMA, recompute_ratios
from .report import small_to_markdown, to_markdown
from .run import run_benchmark
from .small import SMALL_SCHEMA, run_small

__all__ = [
    "PIPELINES", "PIPELINE_TITLES", "PEAK_BF16_TFLOPS", "EPOCH_IMAGES", "SCHEMA", "SMALL_SCHEMA", "BenchError",
    "peak_bf16_tflops", "synthetic_data", "kornia_augment", "count_host_syncs", "run_benchmark", "recompute_ratios",
    "to_markdown", "add_parser", "main",
    "FLOOR", "floor", "objective_kernels", "lightly_kernels", "time_kernels", "run_small", "small_to_markdown",
    "load_records", "check_record", "check_small_record", "check_claims", "headline",
]
