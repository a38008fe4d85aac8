"""Multi-process (DDP) training that computes the *same* gradient as one process on the global batch.

``torchrun --nproc_per_node=N -m mi_ssl.cli train ...`` runs :func:`mi_ssl.training.fit` in ``N``
processes. Each process holds a replica of the networks and a contiguous ``1/N`` slice of every
global minibatch (:func:`shard_slice`); ``--batch-size`` is the global batch. Three things make
the run a faithful data-parallel version of the single-process run:

* **Whole-batch objectives see the whole batch.** NT-Xent's negatives, the marginal term of cos-DV,
  MoCo's in-batch keys, the batch statistics of Barlow Twins and VICReg and EMI's covariances are all
  functions of every row. :func:`prepare_learner` therefore gives the learner :func:`gather_with_grad`
  (``learner.gather``), which it applies to the representations before calling the objective, so
  every process evaluates the loss ``L`` of the global batch (the same number on every rank).
* **The gather passes gradients back correctly** (lightly issues #1176 and #1977 were exactly here).
  Every rank back-propagates its own copy of ``L``; together the ranks differentiate
  ``sum_r L_r = N L``. The rows of rank ``r`` influence every rank's copy, so the gradient with
  respect to them is ``sum_r' dL_r'/dz_r``: the backward all-reduces (sums) the incoming gradient and
  keeps this rank's rows. Each rank's parameter gradient is then ``N dL/dtheta`` restricted to its
  own rows, and DDP's *average* over ranks gives ``(1/N) sum_r N dL/dtheta|_r = dL/dtheta`` — exactly
  the single-process gradient. A gather whose backward only slices (no all-reduce) yields ``1/N`` of
  it, and one built from a non-differentiable ``all_gather`` drops the other ranks' terms entirely.
* **Batch normalisation uses global batch statistics** (:func:`convert_sync_bn`): PyTorch's
  ``SyncBatchNorm`` on CUDA, and :class:`SyncBatchNorm` below (differentiable all-reduces of the
  per-channel sums, same ``sum over ranks`` convention) where PyTorch's refuses to run (CPU/gloo).

Conventions: ranks are ordered, rank ``r``'s rows sit at ``[r*k, (r+1)*k)`` of the global batch, and
every collective here is called by every rank in the same order (``fit`` keeps the per-rank control
flow identical: same number of batches, same losses, same MI estimates on every rank).
"""

from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .util import resolve_device

__all__ = [
    "is_distributed",
    "world_size",
    "rank",
    "launched_with_torchrun",
    "init_from_env",
    "gather_with_grad",
    "all_reduce_with_grad",
    "wrap_ddp",
    "unwrap_ddp",
    "convert_sync_bn",
    "revert_sync_bn",
    "SyncBatchNorm",
    "prepare_learner",
    "release_learner",
    "shard_slice",
    "barrier",
    "cleanup",
]


# =========================================================================== process group
def is_distributed() -> bool:
    """A process group is initialised and has more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


_current_rank, _current_world_size = rank, world_size


def launched_with_torchrun() -> bool:
    """``WORLD_SIZE`` > 1 in the environment (torchrun sets it), or a multi-process group already exists."""
    try:
        env_world = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise ValueError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not an integer") from None
    return env_world > 1 or is_distributed()


def _env_int(name: str) -> int:
    value = os.environ.get(name)
    if value is None:
        raise ValueError(f"distributed training needs the environment variable {name} (torchrun sets it); "
                         f"launch with `torchrun --nproc_per_node=N -m mi_ssl.cli train ...`")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an integer") from None


def init_from_env(device: str = "auto", timeout_s: float = 1800.0) -> torch.device:
    """Join the process group described by torchrun's environment and return this rank's device.

    Reads ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` (and ``MASTER_ADDR``/``MASTER_PORT`` through
    ``env://``). ``device``: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``/``"cuda:N"``; on
    CUDA the backend is NCCL and the device is ``cuda:LOCAL_RANK`` (the index in ``device`` is
    ignored: torchrun assigns GPUs by local rank); on CPU it is gloo. If a process group already
    exists it is reused as is.
    """
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    kind = resolve_device(device).type
    if kind == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} CUDA device(s) "
                             f"are visible; use --nproc_per_node <= {torch.cuda.device_count()}")
        out = torch.device("cuda", local_rank)
        torch.cuda.set_device(out)
    elif kind == "cpu":
        out = torch.device("cpu")
    else:
        raise ValueError(f"device={device!r} is not supported for distributed training; expected auto, cpu or cuda")
    if not dist.is_available():
        raise RuntimeError("torch.distributed is not available in this PyTorch build")
    if not dist.is_initialized():
        backend = "nccl" if kind == "cuda" else "gloo"
        rank_, world = _env_int("RANK"), _env_int("WORLD_SIZE")
        _env_int("MASTER_PORT")
        if not os.environ.get("MASTER_ADDR"):
            raise ValueError("distributed training needs the environment variable MASTER_ADDR (torchrun sets it)")
        dist.init_process_group(backend, init_method="env://", rank=rank_, world_size=world,
                                timeout=datetime.timedelta(seconds=timeout_s))
    return out


def barrier() -> None:
    """Wait for every rank (no-op without a process group)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def cleanup() -> None:
    """Destroy the process group (no-op without one)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard_slice(global_batch_size: int, rank: int | None = None, world_size: int | None = None) -> slice:
    """Rows of a global minibatch that this rank (or ``rank``) trains on: ``[r*k, (r+1)*k)``, ``k = B // W``.

    Every rank draws the same permutation, so the slices of all ranks partition the global batch in
    rank order, the order in which :func:`gather_with_grad` reassembles it. If ``B`` is not a
    multiple of the world size the last ``B mod W`` rows are dropped (``fit`` refuses such a
    ``--batch-size``; this only happens when the batch is the whole, smaller, dataset).
    """
    r = _current_rank() if rank is None else rank
    w = _current_world_size() if world_size is None else world_size
    if w < 1 or not 0 <= r < w:
        raise ValueError(f"rank={r} and world_size={w} must satisfy 0 <= rank < world_size")
    k = global_batch_size // w
    if k < 1:
        raise ValueError(f"global batch size {global_batch_size} is smaller than world_size={w}: "
                         f"every rank needs at least one row")
    return slice(r * k, (r + 1) * k)


# =========================================================================== differentiable collectives
class _GatherWithGrad(torch.autograd.Function):
    """all_gather + cat along dim 0; backward: all_reduce(SUM) of the gradient, then this rank's rows."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        ctx.rows = x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        r = dist.get_rank()
        return grad[r * ctx.rows:(r + 1) * ctx.rows]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (``[k, ...]``, the same shape on every rank) of all ranks in rank order: ``[W*k, ...]``.

    Differentiable: the backward sums the incoming gradient over ranks (all-reduce) and returns this
    rank's ``k`` rows. With every rank computing the same global loss ``L`` on the gathered tensor and
    DDP averaging parameter gradients, the result is exactly the single-process ``dL/dtheta`` on the
    global batch (see the module docstring). Without a multi-process group it returns ``x`` unchanged.
    """
    if not is_distributed():
        return x
    return _GatherWithGrad.apply(x)


class _AllReduceWithGrad(torch.autograd.Function):
    """all_reduce(SUM); backward: all_reduce(SUM) of the gradient (every rank's output depends on every input)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out = x.contiguous().clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


def all_reduce_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` over ranks, differentiable under the same convention as :func:`gather_with_grad`."""
    if not is_distributed():
        return x
    return _AllReduceWithGrad.apply(x)


# =========================================================================== synchronised batch norm
class SyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm over the *global* batch for any device and backend (used on CPU/gloo, where
    ``torch.nn.SyncBatchNorm`` refuses to run).

    In training mode with a multi-process group, the per-channel mean and (biased) variance are
    computed from all ranks' rows with two differentiable all-reduces (sum, then sum of squared
    deviations: two passes, no ``E[x^2] - E[x]^2`` cancellation); running statistics are updated
    with the unbiased variance, as ``nn.BatchNorm*d``. Otherwise it is ``F.batch_norm``. Same
    parameters, buffers and state-dict keys as the ``BatchNorm*d`` it replaces. Input ``[N, C, *]``.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and is_distributed()):
            return super().forward(input)
        self._check_input_dim(input)
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        if self.momentum is None:
            factor = 1.0 / float(self.num_batches_tracked) if self.track_running_stats else 0.0
        else:
            factor = self.momentum
        dims = [0, *range(2, input.dim())]
        x = input.float() if input.dtype in (torch.float16, torch.bfloat16) else input
        count = x.numel() // x.shape[1] * world_size()
        mean = all_reduce_with_grad(x.sum(dims)) / count
        shape = [1, -1] + [1] * (x.dim() - 2)
        xc = x - mean.view(shape)
        var = all_reduce_with_grad(xc.pow(2).sum(dims)) / count
        y = xc * torch.rsqrt(var + self.eps).view(shape)
        if self.weight is not None:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), factor)
                unbiased = var.detach() * (count / max(count - 1, 1))
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)
        return y.to(input.dtype)


def _replace_bn(module: nn.Module, make) -> nn.Module:
    out = make(module)
    for name, child in module.named_children():
        out.add_module(name, _replace_bn(child, make))
    return out


def _copy_bn(src: nn.modules.batchnorm._BatchNorm, cls) -> nn.modules.batchnorm._BatchNorm:
    new = cls.__new__(cls)
    nn.Module.__init__(new)
    for attr in ("num_features", "eps", "momentum", "affine", "track_running_stats"):
        setattr(new, attr, getattr(src, attr))
    # the same Parameter and buffer objects: optimisers built before the conversion stay valid
    for name, p in src._parameters.items():
        new.register_parameter(name, p)
    for name, b in src._buffers.items():
        new.register_buffer(name, b)
    new.training = src.training
    if cls is nn.SyncBatchNorm:
        new.process_group = None
    return new


_BN_CLASSES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def convert_sync_bn(module: nn.Module) -> nn.Module:
    """Replace every ``nn.BatchNorm{1,2,3}d`` of ``module`` with a synchronised batch norm, in place.

    CUDA modules get ``torch.nn.SyncBatchNorm``, others :class:`SyncBatchNorm`. Parameters and buffers
    are the *same objects* (optimisers stay valid; state-dict keys are unchanged); the original class
    is remembered so :func:`revert_sync_bn` can undo the conversion. Returns ``module`` (or its
    replacement if ``module`` itself is a batch norm).
    """

    def make(m: nn.Module) -> nn.Module:
        if type(m) not in _BN_CLASSES:
            return m
        tensors = [*m._parameters.values(), *m._buffers.values()]
        on_cuda = any(t is not None and t.device.type == "cuda" for t in tensors)
        new = _copy_bn(m, nn.SyncBatchNorm if on_cuda else SyncBatchNorm)
        new._mi_ssl_bn_class = type(m)
        return new

    return _replace_bn(module, make)


def revert_sync_bn(module: nn.Module) -> nn.Module:
    """Undo :func:`convert_sync_bn` (the same parameter and buffer objects, the original ``BatchNorm*d``)."""

    def make(m: nn.Module) -> nn.Module:
        cls = getattr(m, "_mi_ssl_bn_class", None)
        return _copy_bn(m, cls) if cls is not None else m

    return _replace_bn(module, make)


# =========================================================================== DDP
class _TransparentDDP(DistributedDataParallel):
    """DDP whose ``state_dict`` (and ``load_state_dict``) have the wrapped module's keys, without ``module.``.

    A learner whose encoder is wrapped therefore writes checkpoints loadable by a single-process
    learner, and ``target.load_state_dict(online.state_dict())`` (SimSiam's copy) keeps working.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._register_load_state_dict_pre_hook(self._add_prefix)

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        return self.module.state_dict(*args, destination=destination, prefix=prefix, keep_vars=keep_vars)

    @staticmethod
    def _add_prefix(state_dict, prefix, *args) -> None:
        inner = prefix + "module."
        for key in [k for k in state_dict if k.startswith(prefix) and not k.startswith(inner)]:
            state_dict[inner + key[len(prefix):]] = state_dict.pop(key)


def wrap_ddp(module: nn.Module, device: torch.device) -> nn.Module:
    """``DistributedDataParallel`` around ``module`` (returned unchanged if it has no trainable parameter).

    ``forward_sync_buffers=False``: with synchronised batch norm every rank's buffers stay identical,
    and not broadcasting them before every forward keeps forward passes under ``no_grad`` (frozen
    branches, MI tracking) free of collectives. Parameters and buffers are broadcast from rank 0 once,
    here. DDP averages gradients over ranks, which is what :func:`gather_with_grad` is designed for.
    """
    if not any(p.requires_grad for p in module.parameters()):
        return module
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    return _TransparentDDP(module, device_ids=ids, output_device=ids[0] if ids else None, forward_sync_buffers=False)


def unwrap_ddp(module: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (or ``module`` itself)."""
    return module.module if isinstance(module, DistributedDataParallel) else module


def prepare_learner(learner: nn.Module, device: torch.device) -> list[str]:
    """Make a :class:`~mi_ssl.paradigms.Learner` data-parallel, in place; returns the wrapped child names.

    Every batch norm becomes synchronised (target branches too: an EMA target in training mode must
    normalise with the global batch, as in one process), then every direct child with a trainable
    parameter (encoders ``f``/``g`` of SDMI, online encoder and predictor of SimSiam/BYOL/MoCo, each
    separately) is wrapped in DDP; EMA targets (``requires_grad=False``) are not. Each wrapped module
    runs a gradient-carrying forward only in the phase whose backward follows, so no parameter of a
    forward with gradients is ever unused (``find_unused_parameters`` stays off). The learner's ``gather``
    becomes :func:`gather_with_grad`, so its objective sees the global batch.
    """
    for name, child in list(learner.named_children()):
        setattr(learner, name, convert_sync_bn(child))
    wrapped = []
    for name, child in list(learner.named_children()):
        new = wrap_ddp(child, device)
        if new is not child:
            setattr(learner, name, new)
            wrapped.append(name)
    learner.gather = gather_with_grad
    return wrapped


def release_learner(learner: nn.Module) -> None:
    """Undo :func:`prepare_learner`: plain modules and ``BatchNorm*d`` again, same parameter objects."""
    for name, child in list(learner.named_children()):
        setattr(learner, name, revert_sync_bn(unwrap_ddp(child)))
    learner.gather = None
