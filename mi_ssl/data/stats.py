"""Per-channel normalisation constants (mean, std in ``[0, 1]`` pixel units), one row per image data set.

Known without loading any data, so an augmentation can be built from a data set's name alone
(:func:`mi_ssl.data.augment.make_augment`). Sources:

* CIFAR-10/100: per-channel mean and standard deviation over all training pixels (the values
  computed over the pixels, not the often-copied per-image average ``(0.2023, 0.1994, 0.2010)``).
* Tiny-ImageNet, ImageNet-100 and ``folder`` (a user's own images): the ImageNet-1k statistics, as most SSL code bases
  (solo-learn, lightly) use for every ImageNet subset.
* digits: computed on this package's fixed 1,347-image training split of scikit-learn's digits
  (``tests/test_data.py`` recomputes it).
"""

from __future__ import annotations

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

CHANNEL_STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "digits": ((0.3053,), (0.3758,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "tinyimagenet": (IMAGENET_MEAN, IMAGENET_STD),
    "imagenet100": (IMAGENET_MEAN, IMAGENET_STD),
    "folder": (IMAGENET_MEAN, IMAGENET_STD),      # a user's own images: the usual ImageNet statistics
}
