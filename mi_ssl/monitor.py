"""Watching a run while :func:`mi_ssl.training.fit` trains it: the divergence guard, the online evaluation
and the TensorBoard mirror of the history.

* :func:`divergence` — after every epoch, before a checkpoint is written: has the run blown up although its
  loss is still finite? (A non-finite loss is caught by the loop itself, step by step.)
* :func:`online_eval` — kNN top-1 (and optionally the linear probe) of each encoder on held-out data,
  as extra ``history.csv`` columns every ``eval_every`` epochs.
* :class:`TensorBoardLog` — every history row as TensorBoard scalars in ``DIR/tb``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data.base import SSLData
from .errors import MissingExtraError

__all__ = ["EMBEDDING_STD_LIMIT", "WEIGHT_LIMIT", "divergence", "online_eval", "eval_columns", "TensorBoardLog"]

#: Largest allowed per-coordinate standard deviation, over held-out inputs in training mode (batch norm on the
#: batch's statistics; nothing the forward would update is kept), of an encoder's
#: backbone features ``h`` and of its embedding ``z`` (before any normalisation the objective applies).
#: Healthy runs stay below 2 (measured: see :func:`divergence`); 1e4 is more than three orders above.
EMBEDDING_STD_LIMIT = 1e4
#: Largest allowed absolute value of any trainable weight (parameters, not batch-norm statistics). It
#: catches a blow-up the representations hide: an encoder that ends in an l2-normalisation keeps ``h`` and
#: ``z`` bounded while its weights grow without limit. Healthy runs keep every weight below ~15
#: (measured); 1e4 is almost three orders above.
WEIGHT_LIMIT = 1e4


@contextlib.contextmanager
def _batch_statistics(module: nn.Module) -> Iterator[None]:
    """Forward in training mode (batch norm on the batch's own statistics, as the loss saw it) and leave no
    trace: every buffer (running statistics, step counters) and the mode are restored afterwards. Eval-mode
    batch norm would read running statistics that a young run has barely moved, and inflate the features of a
    healthy encoder by orders of magnitude (seen: std 2e7 after one step of a ResNet-18 on 9 images)."""
    saved = {name: b.detach().clone() for name, b in module.named_buffers()}
    was = module.training
    module.train()
    try:
        yield
    finally:
        with torch.no_grad():
            for name, b in module.named_buffers():
                b.copy_(saved[name])
        module.train(was)


def divergence(encoders: dict[str, nn.Module], x: torch.Tensor) -> str | None:
    """Why the run has diverged, or ``None`` if it has not.

    ``encoders``: the learner's named encoders (:meth:`~mi_ssl.paradigms.Learner.encoders`); ``x``: a fixed
    batch of held-out inputs ``[B, ...]`` (model input, on the encoders' device). Diverged means: a weight
    or a representation value that is not finite, a weight with ``|w| > WEIGHT_LIMIT``, or a coordinate of
    the backbone features ``h`` or of the embedding ``z`` whose standard deviation over ``x`` exceeds
    :data:`EMBEDDING_STD_LIMIT` (``h`` too: a projector that ends in a batch norm keeps ``z`` bounded).

    The limits were set from what healthy runs show: the largest value over every epoch of jmi, sdmi,
    simsiam, byol, mocov3, barlow_twins, vicreg, emi and simclr at their CPU-profile defaults (``gaussian``,
    100 epochs: ``|w| <= 13.3``, std of h and z <= 0.15; ``digits``, 10 epochs: ``|w| <= 1.08``, std of h <= 0.65,
    of z <= 1.82). Diverging runs cross both limits by orders of magnitude: at ``lr=1e6`` the toy encoder's
    weights pass 6e5 in the first epoch (its l2-normalised output stays bounded, as does its loss) and go
    on to 1e24; on ``digits`` the weights reach ~1e7 and the std of h 1e6-8e6 while the batch-normalised
    z stays near 50.
    """
    for name, enc in encoders.items():
        biggest = max((float(p.detach().abs().max()) for p in enc.parameters() if p.numel()), default=0.0)
        if not math.isfinite(biggest) or biggest > WEIGHT_LIMIT:
            return (f"a weight of encoder {name} reached |w| = {biggest:.3g} (limit {WEIGHT_LIMIT:.0e}): "
                    f"the weights are exploding")
        with _batch_statistics(enc), torch.no_grad():
            h = enc.features(x) if hasattr(enc, "features") else enc(x)
            z = enc.projector(h) if hasattr(enc, "projector") else h
        for what, t in (("backbone features h", h.float()), ("embedding z", z.float())):
            std = float(t.std(dim=0).max()) if t.shape[0] > 1 else 0.0
            if not bool(torch.isfinite(t).all()) or not math.isfinite(std) or std > EMBEDDING_STD_LIMIT:
                return (f"the {what} of encoder {name} have a coordinate with std {std:.3g} over held-out inputs "
                        f"(limit {EMBEDDING_STD_LIMIT:.0e}): the representations are exploding")
    return None


def eval_columns(encoders: list[str], probe: bool) -> list[str]:
    """The history columns :func:`online_eval` fills: ``knn_top1_<encoder>`` (and ``probe_top1_<encoder>``)."""
    return [f"{kind}_top1_{e}" for e in encoders for kind in (("knn", "probe") if probe else ("knn",))]


def online_eval(encoders: dict[str, nn.Module], data: SSLData, device: torch.device, *, probe: bool = False,
                seed: int = 0) -> dict[str, float]:
    """kNN top-1 (%) of each encoder's frozen backbone features, held-out test split against the training
    split (:func:`mi_ssl.evaluation.knn_accuracy`, k = 20), and with ``probe`` the linear-probe top-1 (%)
    (:func:`mi_ssl.evaluation.linear_probe`, 100 L-BFGS iterations), as ``{column: value}``.

    Costs one forward pass over both splits per encoder (and the probe's fit). The encoders run in eval
    mode (their batch-norm statistics do not move) and no training randomness is drawn, so a run with
    online evaluation trains exactly as one without.
    """
    from . import evaluation
    from .probing import encoder_features

    out: dict[str, float] = {}
    for name, enc in encoders.items():
        h_tr, h_te, _, _ = encoder_features(enc, data, device)
        out[f"knn_top1_{name}"] = float(evaluation.knn_accuracy(h_tr, data.train_y, h_te, data.test_y, k=20))
        if probe:
            res = evaluation.linear_probe(h_tr, data.train_y, h_te, data.test_y, epochs=100, seed=seed)
            out[f"probe_top1_{name}"] = float(res["top1"])
    return out


class TensorBoardLog:
    """Every history row as TensorBoard scalars (tag = column, step = epoch) in ``log_dir``.

    ``purge_step``: a resumed run passes its first new epoch; TensorBoard then drops the rows a killed session
    logged past its last checkpoint, so each epoch is shown once. Needs the ``tensorboard`` package
    (``pip install 'mi-ssl[log]'``).
    """

    def __init__(self, log_dir: str | Path, purge_step: int | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise MissingExtraError("logger='tensorboard' needs the tensorboard package: "
                                    "pip install 'mi-ssl[log]' (or pip install tensorboard)") from None
        self.writer = SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)

    def log(self, row: dict[str, Any]) -> None:
        """Write the finite numbers of one history row at step ``row["epoch"]``."""
        step = int(row["epoch"])
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(key, float(value), step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
