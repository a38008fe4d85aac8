"""Building a learner: a method's networks (:mod:`mi_ssl.networks`) wired into its update rule
(:mod:`mi_ssl.paradigms`) as the registry row (:mod:`mi_ssl.methods`) says, seeded by the config.

From the row come the update rule and predictor, how the projection head ends (``head_end``), what the
loss sees (``loss_on``: the l2-normalised or the raw embedding) and the factor to the published loss
(:meth:`~mi_ssl.methods.Method.loss_factor`).

* :func:`build_learner` — the self-supervised learner of ``config.method``;
* :func:`build_supervised` — the supervised ceiling on the same backbone and seed.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import TrainConfig
from .data.base import SSLData
from .methods import Method, get_method
from .networks import Encoder, Predictor, Projector, build_backbone
from .objectives import get_objective
from .paradigms import AlternatingEM, JointStep, Learner, Supervised, TargetNetwork

__all__ = ["build_learner", "build_supervised"]


def _input_shape(data: SSLData | tuple[int, ...]) -> tuple[int, ...]:
    return tuple(data) if isinstance(data, tuple) else data.input_shape


def _encoder(cfg: TrainConfig, input_shape: tuple[int, ...], method: Method) -> Encoder:
    backbone = build_backbone(cfg.backbone, input_shape)
    projector = Projector(backbone.feature_dim, cfg.proj_hidden, cfg.proj_dim, layers=cfg.proj_layers,
                          last_bn=method.head_end == "bn")
    return Encoder(backbone, projector)


def build_learner(cfg: TrainConfig, data: SSLData | tuple[int, ...]) -> Learner:
    """Networks of ``cfg.method`` wired into its update rule; seeded by ``cfg.seed``.

    ``data``: the data set, or just its per-sample input shape (all the networks need from it).
    """
    input_shape = _input_shape(data)
    torch.manual_seed(cfg.seed)
    m = get_method(cfg.method)
    objective = get_objective(m.objective)
    kwargs = cfg.objective_kwargs()
    how = {"loss_on": m.loss_on, "loss_scale": m.loss_factor(kwargs)}
    f = _encoder(cfg, input_shape, m)
    dim = cfg.proj_dim if cfg.proj_layers > 0 else f.backbone.feature_dim
    if m.update == "joint":
        return JointStep(f, objective, kwargs, **how)
    if m.update == "em":
        g = _encoder(cfg, input_shape, m)  # independently initialised (the RNG has moved on)
        pf = Predictor(dim, cfg.pred_hidden) if m.predictor == "both" else None
        pg = Predictor(dim, cfg.pred_hidden) if m.predictor == "both" else None
        return AlternatingEM(f, g, objective, kwargs, predictor_f=pf, predictor_g=pg, **how)
    pred = Predictor(dim, cfg.pred_hidden) if m.predictor == "online" else None
    return TargetNetwork(f, objective, kwargs, predictor=pred, target=m.update, momentum=cfg.momentum, **how)


def build_supervised(cfg: TrainConfig, data: SSLData) -> Supervised:
    """The supervised ceiling of ``cfg``: its backbone (seeded by ``cfg.seed``, so it starts where
    ``build_learner(cfg, data).f`` starts) and a linear classifier onto ``data.num_classes`` classes."""
    torch.manual_seed(cfg.seed)
    backbone = build_backbone(cfg.backbone, data.input_shape)
    head = nn.Linear(backbone.feature_dim, data.num_classes)
    return Supervised(Encoder(backbone), head)
