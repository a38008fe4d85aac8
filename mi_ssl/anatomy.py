"""What one update of each paradigm does, inspected from the outside (book chapter 03).

The paper's two paradigms (Section 3) are update rules: JMI takes one joint step on a shared encoder
(Eq. 10, Algorithm 2); SDMI alternates an E-step on ``f`` and an M-step on ``g``, the other branch behind a
stop-gradient (Eqs. 4-5, Algorithm 1). This module checks those statements on real learners built from the
registry, without looking inside :mod:`mi_ssl.paradigms`:

* :func:`paradigm_setup` — a JMI and an SDMI learner on the toy data, from one seed, and one minibatch of views.
* :func:`step_changes` — one JMI step, one E-step and one M-step through the same
  :class:`~mi_ssl.training.Stepper` as :func:`~mi_ssl.training.fit`; for every tensor of the learner's state,
  whether it is bit-identical afterwards and its relative change.
* :func:`autograd_anatomy` — forward hooks on each encoder and ``torch.autograd.graph.saved_tensors_hooks``:
  which outputs carry a graph and how many bytes autograd saved, attributed to the encoder (or the objective)
  that was running; :func:`graph_tables` runs it for the three steps and the counterfactual without the
  stop-gradient (:func:`no_stop_gradient_loss`).
* :func:`block_ascent` — many small alternating (E, M) or joint steps on one fixed minibatch, recording the
  DV objective ``L(theta, xi)`` of Eq. 2 after each update (the Proposition of Section 3.1: block-coordinate
  ascent does not decrease ``L`` for small steps).
* :func:`seed_anatomy` — all of the above for each seed of a list, as tables with a ``seed`` column.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from .checks import check_int, check_real
from .paradigms import AlternatingEM, Learner, symmetric

__all__ = [
    "STEPS",
    "ParadigmSetup",
    "Anatomy",
    "state_snapshot",
    "pre_bn_biases",
    "state_changes",
    "paradigm_setup",
    "step_changes",
    "autograd_anatomy",
    "no_stop_gradient_loss",
    "graph_tables",
    "block_ascent",
    "seed_anatomy",
]

#: The three steps of chapter 03: ``(label, method, phase)``.
STEPS: tuple[tuple[str, str, str], ...] = (("JMI joint", "jmi", "joint"), ("SDMI E", "sdmi", "E"),
                                           ("SDMI M", "sdmi", "M"))
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_AFFINE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def state_snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of every tensor of ``module.state_dict()`` (parameters and buffers)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def pre_bn_biases(module: nn.Module) -> set[str]:
    """State-dict names of the biases of linear/conv layers followed directly by a BatchNorm in a ``Sequential``.

    Such a bias gets a zero gradient in exact arithmetic (the BatchNorm subtracts the batch mean, so a constant
    shift of its input cannot change the output); it moves only by rounding.
    """
    names = set()
    for prefix, sub in module.named_modules():
        if not isinstance(sub, nn.Sequential):
            continue
        children = list(sub.named_children())
        for (name, layer), (_, nxt) in zip(children, children[1:]):
            if isinstance(layer, _AFFINE) and isinstance(nxt, _NORMS) and layer.bias is not None:
                names.add(".".join(p for p in (prefix, name, "bias") if p))
    return names


def state_changes(label: str, learner: nn.Module, before: dict[str, torch.Tensor],
                  after: dict[str, torch.Tensor]) -> pd.DataFrame:
    """One row per state tensor (``num_batches_tracked`` counters left out) of what one step changed.

    Columns: ``step`` (= ``label``), ``tensor``, ``encoder`` (first name component), ``kind`` (``parameter`` or
    ``buffer``), ``bit_identical`` (``torch.equal``), ``rel_change`` (``||after - before|| / max(||before||,
    ||after||)``: the max keeps tensors that start at zero on the same scale) and ``pre_bn``
    (:func:`pre_bn_biases`).
    """
    params = dict(learner.named_parameters())
    pre_bn = pre_bn_biases(learner)
    rows = []
    for k, b in before.items():
        if k.endswith("num_batches_tracked"):
            continue
        a = after[k]
        bd, ad = b.double(), a.double()
        rows.append({"step": label, "tensor": k, "encoder": k.split(".")[0],
                     "kind": "parameter" if k in params else "buffer", "bit_identical": torch.equal(b, a),
                     "rel_change": float((ad - bd).norm() / torch.maximum(ad.norm(), bd.norm()).clamp_min(1e-30)),
                     "pre_bn": k in pre_bn})
    return pd.DataFrame(rows)


@dataclass
class ParadigmSetup:
    """A JMI and an SDMI learner (``learners["jmi"]``, ``learners["sdmi"]``), their steppers, one minibatch."""

    seed: int
    learners: dict[str, Learner]
    steppers: dict[str, Callable[..., torch.Tensor]]
    v1: torch.Tensor
    v2: torch.Tensor
    configs: dict = field(default_factory=dict)


def paradigm_setup(seed: int = 0, batch_size: int = 256, device: str | torch.device = "cpu",
                   methods: Sequence[str] = ("jmi", "sdmi")) -> ParadigmSetup:
    """Learners of ``methods`` on the toy data (registry defaults, seed ``seed``) and two views of its first
    ``batch_size`` training points. The initialisation is seeded, so the JMI encoder and SDMI's ``f`` start
    from the same weights; SDMI's ``g`` is drawn after ``f``."""
    from .config import make_config
    from .data import load_dataset, make_augment
    from .data.views import two_views
    from .training import Stepper, build_learner

    seed = check_int(seed, "seed", 0)
    batch_size = check_int(batch_size, "batch_size", 2)
    dev = torch.device(device)
    data = load_dataset("gaussian", seed=seed)
    configs = {m: make_config(m, "gaussian", seed=seed, device=str(dev), batch_size=batch_size) for m in methods}
    learners = {m: build_learner(cfg, data).to(dev) for m, cfg in configs.items()}
    steppers = {m: Stepper(configs[m], learners[m], dev) for m in methods}
    gen = torch.Generator(device=dev).manual_seed(seed)
    v1, v2 = two_views(make_augment(data), data.train_x[:batch_size].to(dev), gen)
    return ParadigmSetup(seed, learners, steppers, v1, v2, configs)


def step_changes(setup: ParadigmSetup, steps: Sequence[tuple[str, str, str]] = STEPS) -> pd.DataFrame:
    """Take each step of ``steps`` in order (the learners move: the M-step follows the E-step, as in Algorithm 1)
    and stack :func:`state_changes` of each, with the step's ``loss`` (before the update) as a column."""
    parts = []
    for label, method, phase in steps:
        learner = setup.learners[method]
        before = state_snapshot(learner)
        loss = float(setup.steppers[method](phase, setup.v1, setup.v2, 0.0))
        parts.append(state_changes(label, learner, before, state_snapshot(learner)).assign(loss=loss))
    return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True)
class Anatomy:
    """One loss evaluation: the loss, each encoder call's output ``(encoder, tensor)`` in call order, and the
    bytes autograd saved for backward by part (``"objective"`` for everything outside an encoder)."""

    loss: torch.Tensor
    outputs: list[tuple[str, torch.Tensor]]
    saved: Counter


def autograd_anatomy(learner: Learner, evaluate: Callable[[], torch.Tensor]) -> Anatomy:
    """Run ``evaluate()`` once with hooks on ``learner.encoders()``; see :class:`Anatomy`.

    A forward pre-hook/hook pair tracks which encoder is running; ``saved_tensors_hooks`` counts
    ``numel * element_size`` of every tensor autograd saves, charged to that encoder. The hooks are removed
    afterwards, whatever happens.
    """
    part, outputs, saved, hooks = ["objective"], [], Counter(), []
    for name, enc in learner.encoders().items():
        def pre(module, args, name=name):
            part.append(name)

        def post(module, args, out, name=name):
            part.pop()
            outputs.append((name, out))

        hooks += [enc.register_forward_pre_hook(pre), enc.register_forward_hook(post)]

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[part[-1]] += t.numel() * t.element_size()
        return t

    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = evaluate()
    finally:
        for h in hooks:
            h.remove()
    return Anatomy(loss, outputs, saved)


def no_stop_gradient_loss(learner: AlternatingEM, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
    """SDMI's symmetrised loss with *both* branches differentiable: ``-L(theta, xi)`` of Eq. 2 (the
    counterfactual "SDMI without the stop-gradient"; its value equals the E- and M-step losses)."""
    return symmetric(learner.objective, learner.f(v1), learner.f(v2), learner.g(v1), learner.g(v2),
                     **learner.objective_kwargs)


def graph_tables(setup: ParadigmSetup) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`autograd_anatomy` of the JMI loss, the E- and M-step losses and SDMI without the stop-gradient.

    Returns ``(outputs, saved)``: ``outputs`` one row per encoder call (``step, encoder, requires_grad,
    has_grad_fn, grad_norm`` — the norm of the loss's gradient with respect to that output, 0 for an output
    without a graph); ``saved`` one row per ``step, part`` with ``bytes`` and ``megabytes`` (``bytes / 2**20``).
    """
    jmi, sdmi, v1, v2 = setup.learners["jmi"], setup.learners["sdmi"], setup.v1, setup.v2
    cases = {"JMI joint": (jmi, lambda: jmi.loss("joint", v1, v2)),
             "SDMI E": (sdmi, lambda: sdmi.loss("E", v1, v2)),
             "SDMI M": (sdmi, lambda: sdmi.loss("M", v1, v2)),
             "SDMI without SG": (sdmi, lambda: no_stop_gradient_loss(sdmi, v1, v2))}
    out_rows, saved_rows = [], []
    for case, (learner, evaluate) in cases.items():
        an = autograd_anatomy(learner, evaluate)
        with_graph = [o for _, o in an.outputs if o.grad_fn is not None]
        grads = dict(zip(map(id, with_graph), torch.autograd.grad(an.loss, with_graph))) if with_graph else {}
        for name, out in an.outputs:
            g = grads.get(id(out))
            out_rows.append({"step": case, "encoder": name, "requires_grad": out.requires_grad,
                             "has_grad_fn": out.grad_fn is not None,
                             "grad_norm": float(g.norm()) if g is not None else 0.0})
        saved_rows += [{"step": case, "part": p, "bytes": int(an.saved.get(p, 0)),
                        "megabytes": an.saved.get(p, 0) / 2**20} for p in ("f", "g", "objective")]
    return pd.DataFrame(out_rows), pd.DataFrame(saved_rows)


def block_ascent(learner: AlternatingEM, v1: torch.Tensor, v2: torch.Tensor, lr: float, steps: int,
                 mode: str = "alternating") -> np.ndarray:
    """The DV objective ``L(theta, xi) = -loss`` (nats) along plain gradient ascent on one fixed minibatch.

    ``mode="alternating"``: each iteration is an E-step on ``f`` then an M-step on ``g`` (SGD, no momentum, the
    learner's own step losses); ``"joint"``: one step on both encoders of :func:`no_stop_gradient_loss`. Works on
    a deep copy (``learner`` is untouched). Returns ``[1 + updates]`` values: before any update and after each
    update (two per alternating iteration). BatchNorm runs in training mode, so ``L`` is a deterministic function
    of the weights on the fixed minibatch.
    """
    if not isinstance(learner, AlternatingEM):
        raise TypeError(f"learner must be an AlternatingEM (two encoders f, g), got {type(learner).__name__}")
    lr = check_real(lr, "lr", positive=True)
    steps = check_int(steps, "steps", 1)
    if mode not in ("alternating", "joint"):
        raise ValueError(f"mode must be 'alternating' or 'joint', got {mode!r}")
    model = copy.deepcopy(learner).train()

    def objective() -> float:
        with torch.no_grad():
            return -float(no_stop_gradient_loss(model, v1, v2))

    def step(params: list[nn.Parameter], loss_fn: Callable[[], torch.Tensor]) -> None:
        loss = loss_fn()
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        with torch.no_grad():
            for p, g in zip(params, grads):
                if g is not None:
                    p.sub_(lr * g)

    values = [objective()]
    for _ in range(steps):
        if mode == "alternating":
            for phase in ("E", "M"):
                step(model.parameters_for(phase), lambda phase=phase: model.loss(phase, v1, v2))
                values.append(objective())
        else:
            step([*model.f.parameters(), *model.g.parameters()], lambda: no_stop_gradient_loss(model, v1, v2))
            values.append(objective())
    return np.asarray(values)


def seed_anatomy(seeds: Iterable[int], batch_size: int = 256, device: str | torch.device = "cpu",
                 lrs: Sequence[float] = (0.003, 0.5), steps: int = 20) -> dict[str, pd.DataFrame]:
    """Chapter 03 for each seed: ``{"init", "changes", "outputs", "saved", "ascent"}``, each with a ``seed`` column.

    ``init``: ``same_init`` (the JMI encoder and SDMI's ``f`` start bit-identical) and ``g_differs`` (SDMI's ``g``
    does not equal ``f``); ``changes``: :func:`step_changes`; ``outputs``, ``saved``: :func:`graph_tables` on the
    learners before those steps; ``ascent``: one row per ``(mode, lr)`` with ``updates``, ``decreases`` (updates that
    lowered ``L`` by more than ``1e-6`` nats, float32 rounding), ``start``, ``final`` and ``max_drop`` of
    :func:`block_ascent` on the SDMI learner.
    """
    out: dict[str, list[pd.DataFrame]] = {"init": [], "changes": [], "outputs": [], "saved": [], "ascent": []}
    for seed in seeds:
        setup = paradigm_setup(seed, batch_size, device)
        jf, sf, sg = (state_snapshot(m) for m in (setup.learners["jmi"].f, setup.learners["sdmi"].f,
                                                  setup.learners["sdmi"].g))
        out["init"].append(pd.DataFrame([{"seed": seed, "same_init": all(torch.equal(jf[k], sf[k]) for k in jf),
                                          "g_differs": any(not torch.equal(sf[k], sg[k]) for k in sf)}]))
        outputs, saved = graph_tables(setup)
        rows = []
        for lr in lrs:
            for mode in ("alternating", "joint"):
                v = block_ascent(setup.learners["sdmi"], setup.v1, setup.v2, lr, steps, mode)
                d = np.diff(v)
                rows.append({"mode": mode, "lr": float(lr), "updates": len(d), "decreases": int((d < -1e-6).sum()),
                             "start": float(v[0]), "final": float(v[-1]), "max_drop": float(max(0.0, -d.min()))})
        out["outputs"].append(outputs.assign(seed=seed))
        out["saved"].append(saved.assign(seed=seed))
        out["ascent"].append(pd.DataFrame(rows).assign(seed=seed))
        out["changes"].append(step_changes(setup).assign(seed=seed))
    return {k: pd.concat(v, ignore_index=True) for k, v in out.items()}
