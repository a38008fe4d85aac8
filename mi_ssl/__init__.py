"""mi-ssl: self-supervised representation learning as mutual-information maximisation.

Modules, one concept each (see DESIGN.md):

* :mod:`mi_ssl.bounds` — critics and MI lower bounds on a score matrix (DV, NWJ, InfoNCE, JSD, Taylor-DV).
* :mod:`mi_ssl.theory` — closed forms (Gaussian MI, optimal critics) used by the theory chapters.
* :mod:`mi_ssl.objectives` — SSL losses of ``(z1, z2)``.
* :mod:`mi_ssl.paradigms` — how parameters move: JMI joint step, SDMI E-/M-steps, EMA and copied targets.
* :mod:`mi_ssl.methods` — the registry: method name -> objective x paradigm x components.
* :mod:`mi_ssl.data` — datasets and two-view augmentation.
* :mod:`mi_ssl.networks` — encoders, projectors, predictors.
* :mod:`mi_ssl.training` — ``fit``: one loop for every method.
* :mod:`mi_ssl.evaluation` — linear probe, kNN, NN angle gaps, collapse diagnostics.
* :mod:`mi_ssl.export` — a run's backbone as a plain ``state_dict`` + JSON sidecar; :func:`load_backbone` reads it.
"""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    if name == "load_backbone":                 # lazily: `import mi_ssl` stays free of torch
        from .export import load_backbone

        return load_backbone
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
