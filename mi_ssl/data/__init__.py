"""Data sets and two-view augmentations.

* :func:`load_dataset` (:mod:`~mi_ssl.data.datasets`) — every data set as an :class:`SSLData`;
* :func:`make_augment` (:mod:`~mi_ssl.data.augment`) — batched views on the data's device (training);
* :func:`make_cpu_transform` + :class:`TwoViewDataset` (:mod:`~mi_ssl.data.reference`) — the per-image
  torchvision reference path for DataLoader workers;
* :mod:`~mi_ssl.data.recipes` — the augmentation hyper-parameters both paths read;
* :mod:`~mi_ssl.data.views` — minibatches of two views (or one view and labels) per seeded pass.
"""

from .augment import Augment, ImageAugment, NoiseAugment, SignalAugment, make_augment
from .base import DatasetError, SSLData
from .datasets import DATASETS, DOWNLOADABLE, FILE_DATASETS, canonical_name, describe, load_dataset
from .gaussian import load_gaussian
from .recipes import RECIPES, STRENGTHS, ImageRecipe, NoiseRecipe, Recipe, SignalRecipe, recipe_for

_LAZY = {"TwoViewDataset", "make_cpu_transform"}        # torchvision takes ~2 s to import: only on use


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from . import reference

        return getattr(reference, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DATASETS", "DOWNLOADABLE", "FILE_DATASETS", "RECIPES", "STRENGTHS",
    "Augment", "DatasetError", "ImageAugment", "ImageRecipe", "NoiseAugment",
    "NoiseRecipe", "Recipe", "SSLData", "SignalAugment", "SignalRecipe", "TwoViewDataset",
    "canonical_name", "describe", "load_dataset", "load_gaussian", "make_augment", "make_cpu_transform", "recipe_for",
]
