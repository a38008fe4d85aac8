"""Where the two views of a benchmarked step come from: the three pipelines, synthetic images, kornia views.

* ``reference`` — the lightly / solo-learn way: :class:`~mi_ssl.data.reference.TwoViewDataset` with
  per-image ``torchvision.transforms.v2`` in a ``DataLoader`` with worker processes (pinned memory on CUDA,
  persistent workers), views moved with ``.to(device, non_blocking=True)``;
* ``device`` — mi-ssl's training path (:func:`mi_ssl.training.fit`): uint8 images resident on the device,
  :func:`~mi_ssl.data.views.view_batches` (batched augmentation on the device, no workers), channels-last;
* ``model`` — the ceiling: the same step on two views already on the device (made once, reused).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import torch

from .plan import IMAGE_SHAPES, PREFETCH, BenchError

__all__ = ["PIPELINES", "PIPELINE_TITLES", "synthetic_data", "kornia_augment", "reference_loader",
           "reference_batches", "device_batches", "stop_streams"]

#: The three pipelines, in the order they are reported.
PIPELINES: tuple[str, ...] = ("reference", "device", "model")

PIPELINE_TITLES: dict[str, str] = {
    "reference": "(a) reference: torchvision v2 per image, DataLoader workers",
    "device": "(b) mi-ssl: uint8 on device, batched device augmentation",
    "device_kornia": "(b') mi-ssl data path, kornia.augmentation views",
    "model": "(c) model only: precomputed views on device",
}

_NUM_CLASSES = {"digits": 10, "cifar10": 10, "cifar100": 100, "tinyimagenet": 200, "imagenet100": 100}
#: Default synthetic training-set sizes (the real sizes; ImageNet-100 capped at 20k = 3 GB of uint8).
_SYNTHETIC_N = {"digits": 1347, "cifar10": 50_000, "cifar100": 50_000, "tinyimagenet": 100_000,
                "imagenet100": 20_000}


def synthetic_data(dataset: str = "cifar10", n_train: int | None = None, *, n_test: int = 10_000,
                   image_size: int | None = None, seed: int = 0) -> Any:
    """Random uint8 images of ``dataset``'s shape as an :class:`~mi_ssl.data.SSLData` named ``dataset``.

    Throughput does not depend on pixel values, so this stands in for the real files. ``image_size``
    overrides the side (the tiny smoke mode uses 8). Labels are uniform random class indices.
    The normalisation constants are the real data set's, so the augmentation is the real one.
    """
    from ..data import SSLData
    from ..data.stats import CHANNEL_STATS

    if dataset not in IMAGE_SHAPES:
        raise BenchError(f"dataset={dataset!r} has no synthetic image shape; allowed: {', '.join(IMAGE_SHAPES)}")
    c, h, w = IMAGE_SHAPES[dataset]
    if image_size is not None:
        h = w = int(image_size)
    n_train = _SYNTHETIC_N[dataset] if n_train is None else int(n_train)
    if n_train < 2 or n_test < 2:
        raise BenchError(f"synthetic sizes must be >= 2 images, got n_train={n_train}, n_test={n_test}")
    g = torch.Generator().manual_seed(seed)
    k = _NUM_CLASSES[dataset]
    mean, std = CHANNEL_STATS[dataset]
    return SSLData(
        dataset, "image",
        torch.randint(0, 256, (n_train, c, h, w), generator=g, dtype=torch.uint8),
        torch.randint(0, k, (n_train,), generator=g),
        torch.randint(0, 256, (n_test, c, h, w), generator=g, dtype=torch.uint8),
        torch.randint(0, k, (n_test,), generator=g),
        num_classes=k, mean=mean, std=std,
        source=f"synthetic: uniform random uint8 [{n_train}, {c}, {h}, {w}], seed {seed}",
    )


class _KorniaAugment:
    """One view per call from a ``kornia.augmentation`` pipeline (kornia draws from the global RNG)."""

    def __init__(self, seq: torch.nn.Module) -> None:
        self.seq = seq

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.seq(x.float() / 255.0)


def kornia_augment(data: Any, device: torch.device | str = "cpu") -> Callable[..., torch.Tensor]:
    """The image recipe of ``data`` (see :mod:`mi_ssl.data.recipes`) with ``kornia.augmentation``.

    RandomResizedCrop, HorizontalFlip, ColorJitter (torchvision's formulas; kornia draws one
    operation order per call, not per image) with probability ``jitter_p``, RandomGrayscale,
    GaussianBlur where the recipe has one, Normalize. kornia is optional: imported here, and a
    missing install is a clear :class:`BenchError`.
    """
    try:
        import kornia.augmentation as K
    except ImportError:
        raise BenchError("augment_impl 'kornia' needs the optional package kornia (`pip install kornia`), "
                         "which is not installed; allowed without it: 'ours'") from None
    from ..data.augment import make_augment
    from ..data.recipes import ImageRecipe

    recipe = make_augment(data).recipe
    if not isinstance(recipe, ImageRecipe):
        raise BenchError(f"augment_impl 'kornia' needs an image data set, got {data.name!r}")
    if recipe.translate or recipe.solarize_p:
        raise BenchError(f"the kornia comparison covers crop/flip/jitter/grayscale/blur only; the {data.name!r} "
                         "recipe also translates or solarises")
    size = recipe.image_size
    steps: list[torch.nn.Module] = [
        K.RandomResizedCrop((size, size), scale=recipe.crop_scale, ratio=recipe.crop_ratio),
        K.RandomHorizontalFlip(p=recipe.flip_p),
    ]
    if recipe.jitters_colour:
        steps.append(K.ColorJitter(*recipe.jitter, p=recipe.jitter_p))
    if recipe.gray_p > 0 and data.input_shape[0] == 3:
        steps.append(K.RandomGrayscale(p=recipe.gray_p))
    if recipe.blur_p > 0:
        k = recipe.kernel_size
        steps.append(K.RandomGaussianBlur((k, k), sigma=recipe.blur_sigma, p=recipe.blur_p))
    steps.append(K.Normalize(mean=torch.tensor(data.mean), std=torch.tensor(data.std)))
    return _KorniaAugment(torch.nn.Sequential(*steps).to(device))


def reference_loader(data: Any, batch_size: int, workers: int, device: torch.device, seed: int) -> Any:
    """The lightly-style loader: :class:`TwoViewDataset` + torchvision v2 per image, ``workers`` processes."""
    from torch.utils.data import DataLoader

    from ..data import TwoViewDataset, make_cpu_transform

    ds = TwoViewDataset(data, make_cpu_transform(data))
    extra = {"persistent_workers": True, "prefetch_factor": PREFETCH} if workers > 0 else {}
    return DataLoader(ds, batch_size=batch_size, shuffle=True, drop_last=True, num_workers=workers,
                      pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(seed), **extra)


def reference_batches(loader: Any, device: torch.device, channels_last: bool) -> Iterator[tuple[torch.Tensor, ...]]:
    """Endless ``(v1, v2)`` from a DataLoader of :class:`TwoViewDataset`, moved to ``device``."""
    while True:
        for v1, v2, _ in loader:
            v1 = v1.to(device, non_blocking=True)
            v2 = v2.to(device, non_blocking=True)
            if channels_last:
                v1 = v1.contiguous(memory_format=torch.channels_last)
                v2 = v2.contiguous(memory_format=torch.channels_last)
            yield v1, v2


def device_batches(x: torch.Tensor, batch_size: int, augment: Callable, seed: int,
                   channels_last: bool) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless ``(v1, v2)``: :func:`~mi_ssl.data.views.view_batches` on device-resident ``x``, epoch after epoch."""
    from ..data import views

    for epoch in itertools.count():
        g = torch.Generator(device=x.device)
        g.manual_seed(seed * 1_000_003 + epoch)
        yield from views.view_batches(x, batch_size, augment, g, channels_last)


def stop_streams(streams: list[Iterator], loader: Any) -> None:
    """Close the batch streams and shut the loader's workers down, so they do not keep prefetching
    (and taking CPU) while the next pipeline is timed."""
    for stream in streams:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    it = getattr(loader, "_iterator", None)           # persistent workers live on the loader's iterator
    if it is not None and hasattr(it, "_shutdown_workers"):
        it._shutdown_workers()
