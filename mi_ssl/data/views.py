"""Minibatches of views: a seeded permutation per pass and batched augmentation on the data's device.

Every random draw of a run is a function of ``(seed, epoch, stream)`` (:func:`epoch_generator`), so an
epoch is the same whether the run went through it in one go or resumed just before it.

* :func:`epoch_generator` — the generator of one pass of one epoch.
* :func:`two_views` — two independent augmentations of one batch (the pair ``(x_1, x_2)`` of the paper's
  Algorithms 1-2).
* :func:`view_batches` — one pass over device-resident data: two views per minibatch, or one view and the
  labels (the supervised ceiling); under ``torchrun`` each rank's slice of every global minibatch.
* :func:`batches_per_epoch` — how many minibatches one pass yields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from ..distributed import shard_slice

__all__ = ["epoch_generator", "batches_per_epoch", "two_views", "view_batches"]

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def epoch_generator(seed: int, epoch: int, device: torch.device | str, stream: int = 0) -> torch.Generator:
    """A generator on ``device`` seeded from ``(seed, epoch, stream)``; distinct streams never share a seed
    for the stream numbers a run uses (one per pass, one per rank, one for the MI-tracking views)."""
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + epoch * 7_919 + stream * 104_729) % (2**63 - 1))
    return g


def batches_per_epoch(n: int, batch_size: int) -> int:
    """Full minibatches in one pass over ``n`` samples (a last partial batch is dropped; a batch larger than
    ``n`` is the full set)."""
    return max(n // min(batch_size, n), 1)


def two_views(augment: Augment, x: torch.Tensor, g: torch.Generator,
              channels_last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independently augmented views ``[B, ...]`` of the batch ``x [B, ...]`` (on its device), drawn
    from ``g`` one after the other; image views in channels-last layout if asked."""
    v1, v2 = augment(x, g), augment(x, g)
    if channels_last and v1.ndim == 4:
        v1 = v1.contiguous(memory_format=torch.channels_last)
        v2 = v2.contiguous(memory_format=torch.channels_last)
    return v1, v2


def view_batches(x: torch.Tensor, batch_size: int, augment: Augment, g: torch.Generator,
                 channels_last: bool = False, *, rank: int = 0, world_size: int = 1,
                 augment_generator: torch.Generator | None = None,
                 labels: torch.Tensor | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One pass over device-resident data ``x [N, ...]``: a permutation drawn from ``g``, then per minibatch
    the pair ``(v1, v2)`` of :func:`two_views` — or, with ``labels [N]``, one view and its labels ``(v, y)``.

    Distributed (``world_size > 1``): ``batch_size`` is the global batch; every rank draws the same
    permutation from ``g`` and takes its contiguous slice of each global batch
    (:func:`mi_ssl.distributed.shard_slice`), augmented with its own ``augment_generator``.
    """
    n = len(x)
    bs = min(batch_size, n)
    perm = torch.randperm(n, generator=g, device=x.device)
    g_aug = g if augment_generator is None else augment_generator
    part = shard_slice(bs, rank, world_size) if world_size > 1 else slice(None)
    for b in range(batches_per_epoch(n, batch_size)):
        idx = perm[b * bs:(b + 1) * bs][part]
        if labels is None:
            yield two_views(augment, x[idx], g_aug, channels_last)
        else:
            v = augment(x[idx], g_aug)
            yield (v.contiguous(memory_format=torch.channels_last) if channels_last and v.ndim == 4 else v), labels[idx]
