"""Augmentation recipes: the hyper-parameters of a two-view augmentation, held as data.

A recipe says *what* distribution a view is drawn from; two interpreters say *how*:

* :mod:`mi_ssl.data.augment` — batched, on the data's device (the fast path used for training);
* :mod:`mi_ssl.data.reference` — torchvision ``transforms.v2`` on one image at a time, in
  DataLoader workers (the reference path, as lightly's and solo-learn's examples do it).

Both read the same :class:`ImageRecipe` so the two paths draw views from the same family.
The paper (Section 4.2, Appendix C.2-C.3) fixes the Gaussian toy's view noise (``tau = 0.1``) but
not the image recipe; we use the standard SimCLR/BYOL recipe (random resized crop, horizontal
flip, colour jitter 0.4/0.4/0.4/0.1 with p = 0.8, grayscale p = 0.2) with the crop-scale floor
usual for each image size, as solo-learn and lightly do for these benchmarks.

Strengths (``recipe_for(dataset, strength)``):

* ``"default"`` — the SSL recipe above (per data set, see :data:`RECIPES`);
* ``"weak"``    — geometry only: milder crops and flips, no colour changes, less signal noise;
* ``"none"``    — the identity (only normalisation), for evaluation and tests.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

from .gaussian import VIEW_NOISE

STRENGTHS = ("default", "weak", "none")


def _check_prob(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p}")


def _check_range(name: str, r: tuple[float, float], lo: float, hi: float) -> None:
    if len(r) != 2 or not (lo <= r[0] <= r[1] <= hi):
        raise ValueError(f"{name} must be a pair (a, b) with {lo} <= a <= b <= {hi}, got {r}")


@dataclass(frozen=True)
class ImageRecipe:
    """SimCLR-style view of an image, applied in this order (torchvision semantics):

    1. random resized crop: area fraction ``s ~ U(crop_scale)``, aspect ratio
       ``exp(U(log crop_ratio))``, position uniform among boxes inside the image (10 tries, then
       the whole image), resized to ``image_size`` x ``image_size``; then a translation of up
       to ``translate`` of the view's side in x and y (zero padding; for digits);
    2. horizontal flip with probability ``flip_p``;
    3. with probability ``jitter_p`` colour jitter with strengths
       ``jitter = (brightness, contrast, saturation, hue)`` in a random order: factors
       ``U(max(0, 1 - b), 1 + b)`` etc., hue shift ``U(-h, h)`` of a full turn;
    4. grayscale with probability ``gray_p`` (RGB only);
    5. Gaussian blur with probability ``blur_p``: ``sigma ~ U(blur_sigma)`` pixels, an odd kernel
       of ``blur_kernel`` pixels (0: about a tenth of ``image_size``), reflect padding;
    6. solarisation with probability ``solarize_p``: pixels ``>= solarize_threshold`` (in
       ``[0, 1]`` units) become ``1 - x``;
    7. normalisation with the data set's per-channel mean and std.
    """

    modality: ClassVar[str] = "image"

    image_size: int
    crop_scale: tuple[float, float] = (0.2, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    translate: float = 0.0
    flip_p: float = 0.5
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)
    jitter_p: float = 0.8
    gray_p: float = 0.2
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_kernel: int = 0
    solarize_p: float = 0.0
    solarize_threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.image_size < 1:
            raise ValueError(f"image_size must be >= 1, got {self.image_size}")
        _check_range("crop_scale", self.crop_scale, 1e-6, 1.0)
        if len(self.crop_ratio) != 2 or not (0 < self.crop_ratio[0] <= self.crop_ratio[1]):
            raise ValueError(f"crop_ratio must be a pair (a, b) with 0 < a <= b, got {self.crop_ratio}")
        if not 0.0 <= self.translate < 1.0:
            raise ValueError(f"translate must be in [0, 1), got {self.translate}")
        for name in ("flip_p", "jitter_p", "gray_p", "blur_p", "solarize_p"):
            _check_prob(name, getattr(self, name))
        b, c, s, h = self.jitter
        if min(b, c, s) < 0 or not 0 <= h <= 0.5:
            raise ValueError(f"jitter must be (brightness>=0, contrast>=0, saturation>=0, 0<=hue<=0.5), "
                             f"got {self.jitter}")
        _check_range("blur_sigma", self.blur_sigma, 1e-6, math.inf)
        if self.blur_kernel < 0 or (self.blur_kernel and self.blur_kernel % 2 == 0):
            raise ValueError(f"blur_kernel must be 0 (automatic) or odd and positive, got {self.blur_kernel}")
        if not 0.0 <= self.solarize_threshold <= 1.0:
            raise ValueError(f"solarize_threshold must be in [0, 1], got {self.solarize_threshold}")

    @property
    def kernel_size(self) -> int:
        """The blur kernel's side in pixels: ``blur_kernel`` or the odd number nearest ``image_size / 10``."""
        if self.blur_kernel:
            return self.blur_kernel
        return max(3, int(0.1 * self.image_size) // 2 * 2 + 1)

    @property
    def jitters_colour(self) -> bool:
        """Whether colour jitter can change anything (``jitter_p > 0`` and some strength > 0)."""
        return self.jitter_p > 0 and any(v > 0 for v in self.jitter)


@dataclass(frozen=True)
class SignalRecipe:
    """View of a 1-D signal ``[C, L]`` (MNIST-1D): resample, scale, add noise.

    ``view[t] = a * x[c + (t - c) * r - d] + noise``: a shift ``d ~ U(-max_shift, max_shift)``
    samples, a time-stretch ``r ~ U(stretch)`` about the centre ``c = (L - 1) / 2``, linear
    interpolation, circular (``circular=True``, as MNIST-1D's own translations are) or zero
    padding; an amplitude ``a ~ U(scale)``; i.i.d. ``N(0, noise_std^2)`` noise per sample point.
    """

    modality: ClassVar[str] = "signal"

    length: int = 40
    max_shift: float = 8.0
    circular: bool = True
    stretch: tuple[float, float] = (0.9, 1.1)
    scale: tuple[float, float] = (0.8, 1.2)
    noise_std: float = 0.1

    def __post_init__(self) -> None:
        if self.length < 1:
            raise ValueError(f"length must be >= 1, got {self.length}")
        if self.max_shift < 0:
            raise ValueError(f"max_shift must be >= 0, got {self.max_shift}")
        _check_range("stretch", self.stretch, 1e-3, math.inf)
        _check_range("scale", self.scale, 0.0, math.inf)
        if self.noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {self.noise_std}")


@dataclass(frozen=True)
class NoiseRecipe:
    """View of a vector: ``x + eps``, ``eps ~ N(0, tau^2 I)`` (the paper's toy, Sec. 4.2: ``tau = 0.1``)."""

    modality: ClassVar[str] = "vector"

    tau: float = VIEW_NOISE

    def __post_init__(self) -> None:
        if self.tau < 0:
            raise ValueError(f"tau must be >= 0, got {self.tau}")


Recipe = ImageRecipe | SignalRecipe | NoiseRecipe

#: The ``"default"`` recipe of every data set in :data:`mi_ssl.data.DATASETS`.
RECIPES: dict[str, Recipe] = {
    "gaussian": NoiseRecipe(),
    "mnist1d": SignalRecipe(),
    # 8x8 grey digits: no flips (digits are not mirror-symmetric), no hue/saturation (one channel),
    # milder crops and a one-pixel translation.
    "digits": ImageRecipe(image_size=8, crop_scale=(0.5, 1.0), translate=0.125, flip_p=0.0,
                          jitter=(0.4, 0.4, 0.0, 0.0), gray_p=0.0),
    "cifar10": ImageRecipe(image_size=32, crop_scale=(0.2, 1.0)),
    "cifar100": ImageRecipe(image_size=32, crop_scale=(0.2, 1.0)),
    "tinyimagenet": ImageRecipe(image_size=64, crop_scale=(0.2, 1.0)),
    # ImageNet-size images: the full SimCLR recipe, blur included.
    "imagenet100": ImageRecipe(image_size=224, crop_scale=(0.08, 1.0), blur_p=0.5),
    # a user's own images (any size; views keep the stored size, 64 by default): the Tiny-ImageNet recipe
    "folder": ImageRecipe(image_size=64, crop_scale=(0.2, 1.0)),
}


def _weaken(recipe: Recipe) -> Recipe:
    if isinstance(recipe, ImageRecipe):
        lo = max(recipe.crop_scale[0], 0.6)
        return dataclasses.replace(recipe, crop_scale=(lo, 1.0), jitter_p=0.0, gray_p=0.0, blur_p=0.0,
                                   solarize_p=0.0)
    if isinstance(recipe, SignalRecipe):
        return dataclasses.replace(recipe, max_shift=recipe.max_shift / 2, stretch=(1.0, 1.0),
                                   scale=(0.9, 1.1), noise_std=recipe.noise_std / 2)
    return dataclasses.replace(recipe, tau=recipe.tau / 2)


def _identity(recipe: Recipe) -> Recipe:
    if isinstance(recipe, ImageRecipe):
        return dataclasses.replace(recipe, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), translate=0.0,
                                   flip_p=0.0, jitter_p=0.0, gray_p=0.0, blur_p=0.0, solarize_p=0.0)
    if isinstance(recipe, SignalRecipe):
        return dataclasses.replace(recipe, max_shift=0.0, stretch=(1.0, 1.0), scale=(1.0, 1.0), noise_std=0.0)
    return NoiseRecipe(tau=0.0)


def with_strength(recipe: Recipe, strength: str) -> Recipe:
    """``recipe`` at ``strength`` (one of :data:`STRENGTHS`)."""
    if strength == "default":
        return recipe
    if strength == "weak":
        return _weaken(recipe)
    if strength == "none":
        return _identity(recipe)
    raise ValueError(f"strength must be one of {', '.join(STRENGTHS)}; got {strength!r}")


def recipe_for(dataset: str, strength: str = "default") -> Recipe:
    """The recipe of ``dataset`` (a name in :data:`RECIPES`) at ``strength``."""
    if dataset not in RECIPES:
        raise ValueError(f"no augmentation recipe for dataset {dataset!r}; known: {', '.join(RECIPES)}")
    return with_strength(RECIPES[dataset], strength)
