"""The CPU reference path: one image at a time with torchvision ``transforms.v2``, in DataLoader workers.

This is how lightly's and solo-learn's examples make two views; it reads the same
:class:`~mi_ssl.data.recipes.ImageRecipe` as the batched path (:mod:`mi_ssl.data.augment`), so the
two draw views from the same family and the benchmark compares like with like:

>>> data = load_dataset("cifar10", "~/data")
>>> ds = TwoViewDataset(data, make_cpu_transform(data))
>>> loader = torch.utils.data.DataLoader(ds, batch_size=512, shuffle=True, num_workers=8)
>>> for v1, v2, y in loader: ...             # v1, v2: float32 [512, 3, 32, 32], normalised

Known small differences from the batched path: torchvision rounds to uint8 after each step up to
``ToDtype`` (the batched path stays in float), rounds crop boxes and translations to whole pixels,
and resizes with antialiasing.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from .augment import Augment, _name_and_recipe, make_augment
from .base import SSLData
from .recipes import ImageRecipe, Recipe

Transform = Callable[[torch.Tensor], torch.Tensor]


class PerSample:
    """One sample ``[...] -> [...]`` through a batched :class:`~.augment.Augment` (signals, vectors)."""

    def __init__(self, augment: Augment) -> None:
        self.augment = augment

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.augment(x[None])[0]

    def __repr__(self) -> str:
        return f"PerSample({self.augment!r})"


def image_transform(recipe: ImageRecipe, mean: tuple[float, ...], std: tuple[float, ...]) -> v2.Compose:
    """A ``transforms.v2`` pipeline for one uint8 image ``[C, H, W]`` -> float32 ``[C, S, S]``, normalised."""
    steps: list[Callable] = [
        v2.RandomResizedCrop(recipe.image_size, scale=recipe.crop_scale, ratio=recipe.crop_ratio,
                             antialias=True),
    ]
    if recipe.translate > 0:
        steps.append(v2.RandomAffine(degrees=0.0, translate=(recipe.translate, recipe.translate)))
    if recipe.flip_p > 0:
        steps.append(v2.RandomHorizontalFlip(p=recipe.flip_p))
    if recipe.jitters_colour:
        b, c, s, h = recipe.jitter
        steps.append(v2.RandomApply([v2.ColorJitter(brightness=b, contrast=c, saturation=s, hue=h)],
                                    p=recipe.jitter_p))
    if recipe.gray_p > 0 and len(mean) == 3:
        steps.append(v2.RandomGrayscale(p=recipe.gray_p))
    if recipe.blur_p > 0:
        steps.append(v2.RandomApply([v2.GaussianBlur(recipe.kernel_size, sigma=recipe.blur_sigma)],
                                    p=recipe.blur_p))
    if recipe.solarize_p > 0:
        # On uint8 the threshold is in 0..255; x >= t (t in [0, 1]) <=> k >= ceil(255 t) for x = k / 255.
        steps.append(v2.RandomSolarize(threshold=math.ceil(255 * recipe.solarize_threshold),
                                       p=recipe.solarize_p))
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    return v2.Compose(steps)


def make_cpu_transform(dataset: str | SSLData, *, strength: str = "default",
                       recipe: Recipe | None = None) -> Transform:
    """The per-sample view maker for ``dataset``, with the same recipe as :func:`~.augment.make_augment`.

    Images: a ``transforms.v2`` pipeline, uint8 ``[C, H, W]`` -> normalised float32 ``[C, S, S]``.
    Signals and vectors: the batched augmentation applied to a batch of one (global RNG).
    """
    name, recipe, mean, std = _name_and_recipe(dataset, strength, recipe)
    if isinstance(recipe, ImageRecipe):
        if mean is None or std is None:
            raise ValueError(f"{name}: image augmentation needs per-channel mean and std")
        return image_transform(recipe, mean, std)
    return PerSample(make_augment(dataset, strength=strength, recipe=recipe))


class TwoViewDataset(Dataset):
    """``(view1, view2, label)`` per index: two independent draws of ``transform`` on one sample of ``data``.

    ``split`` is ``"train"`` or ``"test"``. Labels are int64 scalars (used only by evaluation).
    """

    def __init__(self, data: SSLData, transform: Transform, *, split: str = "train") -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.x: torch.Tensor = getattr(data, f"{split}_x")
        self.y: torch.Tensor = getattr(data, f"{split}_y")
        self.transform = transform

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.x[index]
        return self.transform(x), self.transform(x), self.y[index]
