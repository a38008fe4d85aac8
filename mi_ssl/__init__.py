"""mi-ssl: self-supervised representation learning as mutual-information maximisation.

Modules, one concept each, in the order data flows (each imports only modules above it):

* :mod:`mi_ssl.util` — atomic file writes, device resolution, provenance, a frozen-module context.
* :mod:`mi_ssl.checks` — input checks shared by every public function, and the finite-check switch.
* :mod:`mi_ssl.distributed` — torchrun/DDP helpers: gather with gradient, synchronised batch norm.
* :mod:`mi_ssl.data` — data sets (:class:`~mi_ssl.data.SSLData`) and batched two-view augmentation.
* :mod:`mi_ssl.data.views` — seeded passes over the data: two views (or one view and labels) per minibatch.
* :mod:`mi_ssl.networks` — encoders (backbone + projector) and predictors.
* :mod:`mi_ssl.bounds` — critics and MI lower bounds on a score matrix (DV, NWJ, InfoNCE, JSD, Taylor-DV).
* :mod:`mi_ssl.theory` — closed forms and numeric checks used by the theory chapters.
* :mod:`mi_ssl.objectives` — SSL losses of ``(z1, z2)``.
* :mod:`mi_ssl.paradigms` — how parameters move: JMI joint step, SDMI E-/M-steps, EMA and copied targets,
  and the supervised ceiling.
* :mod:`mi_ssl.methods` — the registry: method name -> objective x paradigm x components; paper hyper-parameters.
* :mod:`mi_ssl.config` — what defines a run: ``TrainConfig`` and ``make_config``.
* :mod:`mi_ssl.learners` — a method's networks wired into its update rule.
* :mod:`mi_ssl.rundir` — a run directory: checkpoint, history, summary, config; ``load_run``.
* :mod:`mi_ssl.training` — ``fit``: one loop for every method; MI tracking.
* :mod:`mi_ssl.evaluation` — linear probe, kNN, collapse diagnostics, NN angle gaps of frozen features.
* :mod:`mi_ssl.experiments` — cached runs of many methods, centre trajectories, monotonicity of MI curves.
* :mod:`mi_ssl.probing` — the linear-probe protocol on encoders and runs; Table 1's floor and ceiling.
* :mod:`mi_ssl.paper` — the paper's reported numbers, transcribed once.
* :mod:`mi_ssl.export` — a run's backbone as a plain ``state_dict`` + JSON sidecar; :func:`load_backbone` reads it.
* :mod:`mi_ssl.stats` — summaries over seeds, paired comparisons and their verdicts.
* :mod:`mi_ssl.claims` — the paper's claims and our verdicts, one record per chapter.
* :mod:`mi_ssl.params` — chapter parameters, checked in one place.
* :mod:`mi_ssl.records` — recorded paper-scale runs and their provenance.
* :mod:`mi_ssl.plots` — the book's figures.
* :mod:`mi_ssl.bench` — ``mi-ssl bench``: the cost of one training step, by data pipeline.
* :mod:`mi_ssl.cli` — the ``mi-ssl`` command.
"""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    if name == "load_backbone":                 # lazily: `import mi_ssl` stays free of torch
        from .export import load_backbone

        return load_backbone
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
