"""How parameters move: the two optimisation paradigms of the paper (Sections 3.1-3.3, Algorithms 1-2).

A *learner* holds the networks of one method and knows, for one minibatch of two views, which
loss to compute in which *phase*; :func:`mi_ssl.training.fit` owns the loop, the optimisers (one per
phase) and the schedule. Three update rules cover every method of the paper:

* :class:`JointStep` — **JMI** (Eq. 10, Algorithm 2): one shared encoder ``f``; both views go
  through it and one gradient step moves it. Phase ``"joint"``.
* :class:`AlternatingEM` — **SDMI prototype** (Eqs. 3-6, Algorithm 1): two independently initialised
  encoders ``f`` and ``g``. The **E-step** updates ``f`` with ``g`` frozen (stop-gradient), the
  **M-step** updates ``g`` with ``f`` frozen. Phases ``"E"`` and ``"M"``; ``fit`` runs them as an
  E-pass then an M-pass over the minibatches of each epoch (Algorithm 1) or alternates per batch.
* :class:`TargetNetwork` — the implicit SDMI of SimSiam, BYOL and MoCo-v3 (Eqs. 7-9): an online
  encoder (plus predictor) takes the gradient step (the E-step); the target branch is then set by
  the *implicit M-step*: a copy of the online weights (SimSiam, Eq. 8) or their EMA (BYOL, MoCo-v3,
  Eq. 9). Phase ``"online"``.
* :class:`Supervised` — not an MI paradigm but the ceiling the paper's Table 1 is read against: the same
  encoder and a linear classifier trained with cross-entropy on the labels. Phase ``"supervised"``; its
  minibatches are one view and the labels (``uses_labels``), stepped by the same loop.

In every rule the frozen branch is evaluated under ``torch.no_grad()``: it never builds an autograd
graph, so an SDMI step holds the activations of one encoder only.

All losses are symmetrised over the two view orders, ``1/2 [l(a_1, b_2) + l(a_2, b_1)]``, as in the
paper's Algorithms 1-2, then multiplied by the method's ``loss_scale`` (the factor to its published loss). What
the objective sees is the method's too (``loss_on``, :attr:`mi_ssl.methods.Method.loss_on`): ``"normalised"``
l2-normalises each of its inputs (the encoder's output, or the predictor's where there is one) first,
``"embedding"`` passes them as the networks computed them. The encoders themselves never normalise.

Under ``torchrun`` a learner is given a ``gather`` (rows of every process, with
gradient: :func:`mi_ssl.distributed.prepare_learner` sets it), so whole-batch objectives see the global batch;
this module knows nothing about processes.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_real

Objective = Callable[..., torch.Tensor]
Gather = Callable[[torch.Tensor], torch.Tensor]

#: What an objective may be applied to (as :data:`mi_ssl.methods.LOSS_ON`).
_LOSS_ON = ("embedding", "normalised")

__all__ = ["Learner", "JointStep", "AlternatingEM", "TargetNetwork", "Supervised", "symmetric"]


def symmetric(objective: Objective, a1, a2, b1, b2, **kwargs) -> torch.Tensor:
    """``1/2 [objective(a1, b2) + objective(a2, b1)]``: the two view orders of Algorithms 1-2.

    When both branches are the same tensors (JMI: ``a = b``) and the objective is symmetric in its two
    arguments (``objective.symmetric``), the two terms are equal and one evaluation is returned.
    """
    if a1 is b1 and a2 is b2 and getattr(objective, "symmetric", False):
        return objective(a1, a2, **kwargs)
    return 0.5 * (objective(a1, b2, **kwargs) + objective(a2, b1, **kwargs))


def _frozen(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Forward through a stop-gradient branch: no graph is built, the output is a leaf."""
    with torch.no_grad():
        return module(x)


class Learner(nn.Module, ABC):
    """Base class: networks of one method plus its per-phase step. Subclasses set ``phases``.

    ``gather``: ``None`` in one process; under ``torchrun`` a function ``[b, D] -> [B, D]`` that concatenates
    every process's rows with gradient, applied before the objective. ``uses_labels``: minibatches are one view
    and its labels ``(v, y)`` instead of two views. ``first_stream``: the random stream of the first pass of an
    epoch (:func:`mi_ssl.data.views.epoch_generator`).

    ``loss_on``: ``"embedding"`` (default) — the objective sees the branch outputs as computed; ``"normalised"`` —
    each row is l2-normalised first. ``loss_scale > 0``: the symmetrised loss is multiplied by it.
    """

    phases: tuple[str, ...] = ()
    gather: Gather | None = None
    uses_labels: bool = False
    first_stream: int = 0

    def __init__(self, objective: Objective, objective_kwargs: dict | None = None, *, loss_on: str = "embedding",
                 loss_scale: float = 1.0) -> None:
        super().__init__()
        if loss_on not in _LOSS_ON:
            raise ValueError(f"loss_on={loss_on!r} is unknown; allowed: {', '.join(_LOSS_ON)}")
        self.objective = objective
        self.objective_kwargs = dict(objective_kwargs or {})
        self.loss_on = loss_on
        self.loss_scale = check_real(loss_scale, "loss_scale", positive=True)

    # -- what fit() needs ------------------------------------------------------------------
    @abstractmethod
    def parameters_for(self, phase: str) -> list[nn.Parameter]:
        """Parameters the optimiser of ``phase`` moves."""

    @abstractmethod
    def loss(self, phase: str, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        """Scalar loss of one minibatch (``v1``, ``v2``: the two views, ``[B, ...]``; with ``uses_labels`` one
        view and its labels ``[B]``) in ``phase``."""

    def after_step(self, phase: str) -> None:
        """Called after the optimiser step of ``phase`` (EMA targets update here)."""

    def end_epoch(self) -> None:
        """Called at the end of every epoch (SimSiam's previous-epoch snapshot is taken here)."""

    @abstractmethod
    def tracked_pair(self) -> tuple[nn.Module, nn.Module] | None:
        """The two branches whose MI the paper tracks (Section 4.2); ``None`` means undefined (−inf)."""

    @abstractmethod
    def encoders(self) -> dict[str, nn.Module]:
        """Named encoders worth evaluating (e.g. ``{"f": ..., "g": ...}`` for SDMI)."""

    def _check_phase(self, phase: str) -> None:
        if phase not in self.phases:
            raise ValueError(f"phase must be one of {self.phases} for {type(self).__name__}, got {phase!r}")

    def _objective(self, a1, a2, b1, b2) -> torch.Tensor:
        # each distinct tensor is gathered/normalised once (JMI passes z1, z2 twice), so that `symmetric` still
        # sees a1 is b1 and evaluates a symmetric objective once
        def once(fn: Callable[[torch.Tensor], torch.Tensor], ts: tuple) -> tuple:
            done: dict[int, torch.Tensor] = {}
            for t in ts:
                if id(t) not in done:
                    done[id(t)] = fn(t)
            return tuple(done[id(t)] for t in ts)

        ts = (a1, a2, b1, b2)
        if self.gather is not None:
            # whole-batch objectives need every process's rows; the gather's backward makes the data-parallel
            # gradient the one-process one
            ts = once(self.gather, ts)
        if self.loss_on == "normalised":
            ts = once(lambda t: F.normalize(t, dim=1), ts)
        loss = symmetric(self.objective, *ts, **self.objective_kwargs)
        return loss if self.loss_scale == 1.0 else loss * self.loss_scale


class JointStep(Learner):
    """JMI (Algorithm 2): ``L = 1/2 [l(f(x1), f(x2)) + l(f(x2), f(x1))]``, one step on ``theta``."""

    phases = ("joint",)

    def __init__(self, f: nn.Module, objective: Objective, objective_kwargs: dict | None = None, *,
                 loss_on: str = "embedding", loss_scale: float = 1.0) -> None:
        super().__init__(objective, objective_kwargs, loss_on=loss_on, loss_scale=loss_scale)
        self.f = f

    def parameters_for(self, phase: str) -> list[nn.Parameter]:
        self._check_phase(phase)
        return list(self.f.parameters())

    def loss(self, phase: str, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        self._check_phase(phase)
        z1, z2 = self.f(v1), self.f(v2)
        return self._objective(z1, z2, z1, z2)

    def tracked_pair(self) -> tuple[nn.Module, nn.Module]:
        return self.f, self.f

    def encoders(self) -> dict[str, nn.Module]:
        return {"f": self.f}


class AlternatingEM(Learner):
    """SDMI prototype (Algorithm 1): encoders ``f_theta`` and ``g_xi``, E-step on ``f``, M-step on ``g``.

    E-step (Eq. 4): ``L_E = 1/2 [l(f(x1), SG g(x2)) + l(f(x2), SG g(x1))]``, moves ``theta``.
    M-step (Eq. 5): ``L_M = 1/2 [l(g(x1), SG f(x2)) + l(g(x2), SG f(x1))]``, moves ``xi``.

    With ``predictor_f``/``predictor_g`` (the SDMI-NoDV-Pred ablation), the trainable branch's output
    passes through its own predictor before the loss, and the predictor moves with its encoder.
    """

    phases = ("E", "M")

    def __init__(
        self,
        f: nn.Module,
        g: nn.Module,
        objective: Objective,
        objective_kwargs: dict | None = None,
        predictor_f: nn.Module | None = None,
        predictor_g: nn.Module | None = None,
        *,
        loss_on: str = "embedding",
        loss_scale: float = 1.0,
    ) -> None:
        super().__init__(objective, objective_kwargs, loss_on=loss_on, loss_scale=loss_scale)
        if f is g:
            raise ValueError("AlternatingEM needs two independent encoders f and g, got the same module twice")
        self.f, self.g = f, g
        self.predictor_f = predictor_f if predictor_f is not None else nn.Identity()
        self.predictor_g = predictor_g if predictor_g is not None else nn.Identity()

    def parameters_for(self, phase: str) -> list[nn.Parameter]:
        self._check_phase(phase)
        if phase == "E":
            return [*self.f.parameters(), *self.predictor_f.parameters()]
        return [*self.g.parameters(), *self.predictor_g.parameters()]

    def loss(self, phase: str, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        self._check_phase(phase)
        train, frozen, head = (
            (self.f, self.g, self.predictor_f) if phase == "E" else (self.g, self.f, self.predictor_g)
        )
        a1, a2 = head(train(v1)), head(train(v2))
        b1, b2 = _frozen(frozen, v1), _frozen(frozen, v2)
        return self._objective(a1, a2, b1, b2)

    def tracked_pair(self) -> tuple[nn.Module, nn.Module]:
        return self.f, self.g

    def encoders(self) -> dict[str, nn.Module]:
        return {"f": self.f, "g": self.g}


class TargetNetwork(Learner):
    """Online encoder (+ optional predictor) against a target branch: SimSiam, BYOL, MoCo-v3.

    ``L = 1/2 [l(h(f(x1)), SG t(x2)) + l(h(f(x2)), SG t(x1))]`` where the target ``t`` is

    * ``target="copy"`` (SimSiam, Eq. 8): the online encoder itself, its outputs detached — the
      target's weights are a copy of the online weights at every step;
    * ``target="ema"`` (BYOL, MoCo-v3, Eq. 9): a separate encoder ``g`` updated after every step as
      ``xi <- m xi + (1 - m) theta`` (buffers such as BN statistics are copied).

    MI tracking for ``"copy"`` uses the previous epoch's online encoder as the M-branch (Section 4.2).
    """

    phases = ("online",)

    def __init__(
        self,
        f: nn.Module,
        objective: Objective,
        objective_kwargs: dict | None = None,
        predictor: nn.Module | None = None,
        target: str = "ema",
        momentum: float = 0.996,
        *,
        loss_on: str = "embedding",
        loss_scale: float = 1.0,
    ) -> None:
        super().__init__(objective, objective_kwargs, loss_on=loss_on, loss_scale=loss_scale)
        if target not in ("ema", "copy"):
            raise ValueError(f"target must be 'ema' or 'copy', got {target!r}")
        if target == "ema" and not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1) for an EMA target, got {momentum}")
        self.f = f
        self.predictor = predictor if predictor is not None else nn.Identity()
        self.target_kind = target
        self.momentum = momentum
        # the EMA target, or (copy) the previous epoch's snapshot used only for MI tracking
        self.g = copy.deepcopy(f)
        for p in self.g.parameters():
            p.requires_grad_(False)
        self.register_buffer("has_previous", torch.tensor(target == "ema"))

    def parameters_for(self, phase: str) -> list[nn.Parameter]:
        self._check_phase(phase)
        return [*self.f.parameters(), *self.predictor.parameters()]

    def loss(self, phase: str, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        self._check_phase(phase)
        z1, z2 = self.f(v1), self.f(v2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        if self.target_kind == "copy":
            t1, t2 = z1.detach(), z2.detach()
        else:
            t1, t2 = _frozen(self.g, v1), _frozen(self.g, v2)
        return self._objective(p1, p2, t1, t2)

    @torch.no_grad()
    def after_step(self, phase: str) -> None:
        if self.target_kind != "ema":
            return
        online = list(self.f.parameters())
        target = list(self.g.parameters())
        torch._foreach_lerp_(target, online, 1.0 - self.momentum)
        for tb, ob in zip(self.g.buffers(), self.f.buffers()):
            tb.copy_(ob)

    @torch.no_grad()
    def end_epoch(self) -> None:
        if self.target_kind == "copy":
            self.g.load_state_dict(self.f.state_dict())
            self.has_previous.fill_(True)

    def tracked_pair(self) -> tuple[nn.Module, nn.Module] | None:
        return (self.f, self.g) if bool(self.has_previous) else None

    def encoders(self) -> dict[str, nn.Module]:
        return {"f": self.f} if self.target_kind == "copy" else {"f": self.f, "g": self.g}


class Supervised(Learner):
    """The supervised ceiling of Table 1: ``L = CE(W f(x), y)`` on one augmented view per sample.

    ``f`` is an :class:`~mi_ssl.networks.Encoder` (the backbone; an identity projector, so ``f(x)`` are the
    backbone features) and ``head`` a linear classifier ``[feature_dim] -> [num_classes]``; both move in the
    one phase ``"supervised"``. Labels are used here and nowhere else in training; the head is thrown away
    and ``f`` is probed like any self-supervised encoder. Its passes draw from random stream 7 (the stream
    the first supervised baseline used, so its cached ceilings stay valid).
    """

    phases = ("supervised",)
    uses_labels = True
    first_stream = 7

    def __init__(self, f: nn.Module, head: nn.Module) -> None:
        super().__init__(F.cross_entropy)
        self.f, self.head = f, head

    def parameters_for(self, phase: str) -> list[nn.Parameter]:
        self._check_phase(phase)
        return [*self.f.parameters(), *self.head.parameters()]

    def loss(self, phase: str, v: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self._check_phase(phase)
        return self.objective(self.head(self.f(v)), y)

    def tracked_pair(self) -> None:
        return None

    def encoders(self) -> dict[str, nn.Module]:
        return {"f": self.f}
