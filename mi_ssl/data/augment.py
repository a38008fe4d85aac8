"""Batched, device-resident two-view augmentation (the fast path, airbench-style: no DataLoader workers).

An :class:`Augment` maps a whole batch already on the device to one random view of every sample,
with independent random parameters per sample, in batched tensor ops on ``x``'s device:

>>> aug = make_augment("cifar10")
>>> x = torch.randint(0, 256, (512, 3, 32, 32), dtype=torch.uint8)
>>> v1, v2 = aug(x), aug(x)                 # two views, float32 [512, 3, 32, 32], normalised

Randomness is split from computation so tests can look at it: ``params = aug.sample_params(B,
generator, device)`` draws every random quantity as a dict of ``[B, ...]`` tensors, and
``aug.apply(x, params)`` is deterministic. ``aug(x, generator)`` is ``apply(x, sample_params(...))``.
Parameters are drawn on the generator's device (on ``x``'s device, from the global generator,
when none is given) and moved to ``x``'s device in one copy, so a CPU generator with a fixed seed
gives the same views on CPU and GPU (up to float rounding). The same number of random numbers is
drawn whatever the probabilities, so changing one probability does not reshuffle the others.

The image path follows torchvision's semantics (:class:`~mi_ssl.data.recipes.ImageRecipe`):
the crop and flip are one ``affine_grid``/``grid_sample`` (bilinear, continuous crop boxes, no
antialiasing: crops are resized to at most the stored size in every default recipe, i.e.
upsampled, where antialiasing does nothing); colour jitter applies its four operations in an
independent random order per sample, with torchvision's arithmetic (the tests compare each
operation with ``torchvision.transforms.v2.functional``). On a GPU the whole view costs a few
dozen kernel launches per jitter slot and no host synchronisation.

Throughput (one view, uint8 in, normalised float32 out; H100, torch 2.11, 2026-11-22):
CIFAR-10 B=512 ~4-5 ms (~100k img/s), Tiny-ImageNet B=512 ~7 ms, ImageNet-100 B=256 at 224 px
~10 ms. On one CPU thread the batched path is ~5x faster than the per-image ``transforms.v2``
pipeline of :mod:`mi_ssl.data.reference` (CIFAR-10, 512 images).
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .base import SSLData
from .recipes import RECIPES, ImageRecipe, NoiseRecipe, Recipe, SignalRecipe, recipe_for, with_strength
from .stats import CHANNEL_STATS

Params = dict[str, torch.Tensor]

_CROP_ATTEMPTS = 10
_GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601-2 luma, as torchvision's rgb_to_grayscale
_HUE_SECTORS = (5.0, 3.0, 1.0)          # HSV -> RGB offsets of R, G, B in sixths of a turn


def _draw_device(generator: torch.Generator | None, device: torch.device | str | None) -> torch.device:
    if generator is not None:
        return generator.device
    return torch.device(device) if device is not None else torch.device("cpu")


def _move(params: Params, device: torch.device | str | None) -> Params:
    """``params`` on ``device`` in one host-to-device copy (packed as float32 columns, then unpacked)."""
    if device is None:
        return params
    device = torch.device(device)
    if all(v.device == device for v in params.values()):
        return params
    flat = [v.reshape(v.shape[0], -1) for v in params.values()]
    packed = torch.cat([f.float() for f in flat], dim=1).to(device, non_blocking=True)
    out, at = {}, 0
    for (key, v), f in zip(params.items(), flat):
        col = packed[:, at:at + f.shape[1]]
        at += f.shape[1]
        out[key] = (col > 0.5 if v.dtype == torch.bool else col.to(v.dtype)).reshape(v.shape)
    return out


def _uniform(shape: tuple[int, ...], lo: float, hi: float, generator: torch.Generator | None,
             device: torch.device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=generator, device=device)


class Augment(ABC):
    """A random view maker for a batch: ``aug(x, generator=None) -> view`` (float32, same batch size).

    Subclasses implement :meth:`sample_params` (all randomness) and :meth:`apply` (deterministic).
    """

    recipe: Recipe

    @abstractmethod
    def sample_params(self, batch_size: int, generator: torch.Generator | None = None,
                      device: torch.device | str | None = None, *,
                      shape: tuple[int, ...] | None = None) -> Params:
        """Random ``[B, ...]`` parameters on ``device`` for ``B = batch_size`` samples of shape ``shape``."""

    @abstractmethod
    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """The view of ``x`` under ``params`` (deterministic)."""

    _compiled_apply: Callable[[torch.Tensor, Params], torch.Tensor] | None = None

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        params = self.sample_params(x.shape[0], generator, x.device, shape=tuple(x.shape[1:]))
        return (self._compiled_apply or self.apply)(x, params)

    def compile(self) -> Augment:
        """Compile :meth:`apply` with ``torch.compile`` (one graph, static shapes); returns ``self``.

        The random draws (:meth:`sample_params`) stay eager, so the views are the same up to float
        rounding (tested). On a GPU the view then costs a few fused kernels instead of hundreds of
        small ones; the first call of each batch shape compiles (tens of seconds). On a CPU it does
        not pay: a graph cannot depend on subset sizes, so hue and blur go through masks, and the
        compiled masked view is slower than the eager subset one (CIFAR-10, 512 images, 2 threads:
        124 against 87 ms for two views; ``benchmarks/results/cpu-2core-augment-cifar10-2threads-*``).
        """
        self._compiled_apply = torch.compile(self.apply, fullgraph=True, dynamic=False)
        return self

    @property
    def compiled(self) -> bool:
        """Whether :meth:`compile` was called."""
        return self._compiled_apply is not None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.recipe}{', compiled' if self.compiled else ''})"


class NoiseAugment(Augment):
    """``x + tau * eps``, ``eps ~ N(0, I)``, for vectors ``[B, D]``: the toy's views (paper Section 4.2)."""

    def __init__(self, recipe: NoiseRecipe | None = None) -> None:
        self.recipe = recipe or NoiseRecipe()

    def sample_params(self, batch_size: int, generator: torch.Generator | None = None,
                      device: torch.device | str | None = None, *,
                      shape: tuple[int, ...] | None = None) -> Params:
        """``{"noise": [B, *shape]}``, standard normal (``shape`` defaults to the toy's ``(2,)``)."""
        shape = shape if shape is not None else (2,)
        eps = torch.randn((batch_size, *shape), generator=generator, device=_draw_device(generator, device))
        return _move({"noise": eps}, device)

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """``[B, D]`` float32: ``x + tau * noise``."""
        return x.float() + self.recipe.tau * params["noise"].to(x.device, torch.float32)


class SignalAugment(Augment):
    """Shift, stretch, amplitude scale and noise for signals ``[B, C, L]``.

    See :class:`~mi_ssl.data.recipes.SignalRecipe`.
    """

    def __init__(self, recipe: SignalRecipe | None = None) -> None:
        self.recipe = recipe or SignalRecipe()

    def sample_params(self, batch_size: int, generator: torch.Generator | None = None,
                      device: torch.device | str | None = None, *,
                      shape: tuple[int, ...] | None = None) -> Params:
        """``shift [B]`` (samples), ``stretch [B]``, ``scale [B]``, ``noise [B, C, L]`` (standard normal)."""
        r, b = self.recipe, batch_size
        shape = shape if shape is not None else (1, r.length)
        d = _draw_device(generator, device)
        params = {
            "shift": _uniform((b,), -r.max_shift, r.max_shift, generator, d),
            "stretch": _uniform((b,), *r.stretch, generator, d),
            "scale": _uniform((b,), *r.scale, generator, d),
            "noise": torch.randn((b, *shape), generator=generator, device=d),
        }
        return _move(params, device)

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """``[B, C, L]`` float32: ``scale * x[c + (t - c) * stretch - shift] + noise_std * noise``."""
        if x.dim() != 3:
            raise ValueError(f"signals must be [B, C, L], got shape {tuple(x.shape)}")
        x = x.float()
        b, c, length = x.shape
        p = {k: v.to(x.device) for k, v in params.items()}
        centre = (length - 1) / 2
        t = torch.arange(length, device=x.device, dtype=torch.float32)
        src = centre + (t - centre) * p["stretch"][:, None] - p["shift"][:, None]   # [B, L]
        i0 = src.floor()
        w = (src - i0)[:, None, :]                                                  # [B, 1, L]
        i0 = i0.long()
        i1 = i0 + 1
        if self.recipe.circular:
            v0 = x.gather(2, (i0 % length)[:, None, :].expand(b, c, length))
            v1 = x.gather(2, (i1 % length)[:, None, :].expand(b, c, length))
        else:
            def take(i: torch.Tensor) -> torch.Tensor:
                inside = ((i >= 0) & (i < length))[:, None, :]
                v = x.gather(2, i.clamp(0, length - 1)[:, None, :].expand(b, c, length))
                return v * inside
            v0, v1 = take(i0), take(i1)
        view = (1 - w) * v0 + w * v1
        return p["scale"][:, None, None] * view + self.recipe.noise_std * p["noise"]


# ---------------------------------------------------------------------------------------------
# Image operations on float images in [0, 1], [N, C, H, W]; per-sample factors are [N].


_CONSTANTS: dict[tuple, torch.Tensor] = {}


def _constant(values: tuple[float, ...], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``values`` as a ``[1, len, 1, 1]`` tensor on ``device``, made once (no host-to-device copy per call).

    Inside ``torch.compile`` the constant is made in the graph instead (it becomes a compile-time constant).
    """
    if torch.compiler.is_compiling():
        return torch.tensor(values, device=device, dtype=dtype).view(1, -1, 1, 1)
    key = (values, device, dtype)
    if key not in _CONSTANTS:
        _CONSTANTS[key] = torch.tensor(values, device=device, dtype=dtype).view(1, -1, 1, 1)
    return _CONSTANTS[key]


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    """``[N, 1, H, W]`` luma of ``[N, C, H, W]`` (``C`` = 1 or 3)."""
    if x.shape[1] == 1:
        return x
    return (x * _constant(_GRAY_WEIGHTS, x.device, x.dtype)).sum(1, keepdim=True)


def _blend(a: torch.Tensor, b: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    f = factor.view(-1, 1, 1, 1)
    return (f * a + (1 - f) * b).clamp_(0, 1)


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``clip(f * x)`` per sample."""
    return (x * factor.view(-1, 1, 1, 1)).clamp(0, 1)


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the mean grey level of each image."""
    mean = _grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(x, mean, factor)


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the grayscale image (no-op for one channel)."""
    if x.shape[1] == 1:
        return x
    return _blend(x, _grayscale(x), factor)


def adjust_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue by ``shift`` turns (in ``[-0.5, 0.5]``); no-op for one channel.

    The HSV round trip of torchvision's ``adjust_hue`` in closed form: with ``V = max``,
    ``S = (max - min) / max`` and the hue ``H`` in sixths of a turn, channel ``n`` of the result is
    ``V - V S clip(min(k, 4 - k), 0, 1)`` with ``k = (n + H) mod 6`` and ``n = 5, 3, 1`` for R, G, B.
    """
    if x.shape[1] == 1:
        return x
    v, imax = x.max(dim=1, keepdim=True)
    delta = v - x.min(dim=1, keepdim=True).values
    s = delta / v.clamp_min(1e-12)
    diff = x.roll(-1, dims=1) - x.roll(-2, dims=1)              # channel i: x[i + 1] - x[i + 2]
    h6 = 2 * imax + diff.gather(1, imax) / delta.clamp_min(1e-12)
    k = torch.remainder(h6 + 6 * shift.view(-1, 1, 1, 1) + _constant(_HUE_SECTORS, x.device, x.dtype), 6.0)
    return v - v * s * torch.clamp(torch.minimum(k, 4 - k), 0, 1)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Separable Gaussian blur with one ``sigma`` (pixels) per sample, reflect padding; ``[N, C, H, W]``."""
    n, c, h, w = x.shape
    if n == 0:
        return x
    half = kernel_size // 2
    if half >= min(h, w):                   # reflect padding needs pad < size
        half = min(h, w) - 1
    if half <= 0:
        return x
    t = torch.arange(-half, half + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-0.5 * (t[None, :] / sigma[:, None].to(x.dtype)) ** 2)
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, dim=0)        # [N*C, K]
    y = x.reshape(1, n * c, h, w)
    y = F.conv2d(F.pad(y, (half, half, 0, 0), mode="reflect"), k[:, None, None, :], groups=n * c)
    y = F.conv2d(F.pad(y, (0, 0, half, half), mode="reflect"), k[:, None, :, None], groups=n * c)
    return y.reshape(n, c, h, w)


def _apply_to(x: torch.Tensor, chosen: torch.Tensor, op: Callable[[torch.Tensor, torch.Tensor | slice], torch.Tensor],
              masked: bool) -> torch.Tensor:
    """``x`` with ``op`` applied to the samples where ``chosen`` (``[B]`` bool) holds; the others unchanged.

    ``op(images, index)`` gets the images and the index that picks their per-sample parameters.
    ``masked``: compute ``op`` on the whole batch and select with ``torch.where`` (no host
    synchronisation; the arithmetic of the whole batch). Otherwise: gather the chosen samples, whose
    number the host must know (a synchronisation on a GPU), and write them back in place.
    """
    if masked:
        return torch.where(chosen.view(-1, *([1] * (x.dim() - 1))), op(x, slice(None)), x)
    index = chosen.nonzero().squeeze(1)
    if len(index):
        x[index] = op(x[index], index)
    return x


class ImageAugment(Augment):
    """SimCLR-style views of uint8 images ``[B, C, H, W]`` (:class:`~mi_ssl.data.recipes.ImageRecipe`).

    ``mean``/``std`` (per channel, ``[0, 1]`` units) normalise the output. ``masked`` chooses how hue and
    blur reach the samples that draw them (see :func:`_apply_to`); ``None``: masks everywhere but on the CPU.
    """

    def __init__(self, recipe: ImageRecipe, mean: tuple[float, ...], std: tuple[float, ...], *,
                 masked: bool | None = None) -> None:
        if len(mean) != len(std):
            raise ValueError(f"mean and std must have one entry per channel, got {mean} and {std}")
        self.recipe = recipe
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.masked = masked

    def compile(self) -> ImageAugment:
        """As :meth:`Augment.compile`, with hue and blur through masks (a graph cannot depend on subset sizes)."""
        self.masked = True
        super().compile()
        return self

    # ---------------------------------------------------------------------------- randomness
    def sample_params(self, batch_size: int, generator: torch.Generator | None = None,
                      device: torch.device | str | None = None, *,
                      shape: tuple[int, ...] | None = None) -> Params:
        """Random parameters, one row per sample:

        * ``area`` ``[B]`` — crop area as a fraction of the input image;
        * ``box`` ``[B, 4]`` — crop box ``(x0, y0, x1, y1)`` in fractions of the input's width/height
          (after translation, so it may leave ``[0, 1]`` when ``translate > 0``);
        * ``flip``, ``jitter``, ``gray``, ``blur``, ``solarize`` ``[B]`` bool — which steps apply;
        * ``brightness``, ``contrast``, ``saturation`` ``[B]`` factors, ``hue`` ``[B]`` turns;
        * ``order`` ``[B, 4]`` — the jitter operations' order (a permutation of 0..3 =
          brightness, contrast, saturation, hue);
        * ``sigma`` ``[B]`` — blur sigma in pixels.

        ``shape`` is one input image's ``(C, H, W)`` (default: square ``image_size``); the crop's
        aspect-ratio feasibility depends on it, as in torchvision.
        """
        r, b = self.recipe, batch_size
        d = _draw_device(generator, device)
        h_in, w_in = (shape[-2], shape[-1]) if shape is not None else (r.image_size, r.image_size)

        # Random resized crop (torchvision's rejection sampler, 10 attempts per sample, vectorised).
        s = _uniform((b, _CROP_ATTEMPTS), *r.crop_scale, generator, d)
        log_ratio = _uniform((b, _CROP_ATTEMPTS), math.log(r.crop_ratio[0]), math.log(r.crop_ratio[1]),
                             generator, d)
        ratio = log_ratio.exp()
        wf = torch.sqrt(s * ratio * h_in / w_in)        # crop width / image width
        hf = torch.sqrt(s / ratio * w_in / h_in)        # crop height / image height
        ok = (wf <= 1) & (hf <= 1)
        first = torch.argmax(ok.int(), dim=1, keepdim=True)
        found = ok.any(dim=1)
        wf, hf = wf.gather(1, first).squeeze(1), hf.gather(1, first).squeeze(1)
        # Fallback: torchvision's central crop with the ratio clamped into range.
        in_ratio = w_in / h_in
        if in_ratio < r.crop_ratio[0]:
            fw, fh = 1.0, in_ratio / r.crop_ratio[0]
        elif in_ratio > r.crop_ratio[1]:
            fw, fh = r.crop_ratio[1] / in_ratio, 1.0
        else:
            fw, fh = 1.0, 1.0
        wf = torch.where(found, wf, torch.full_like(wf, fw))
        hf = torch.where(found, hf, torch.full_like(hf, fh))
        u = torch.rand((b, 2), generator=generator, device=d)
        x0 = torch.where(found, u[:, 0] * (1 - wf), (1 - wf) / 2)
        y0 = torch.where(found, u[:, 1] * (1 - hf), (1 - hf) / 2)
        shift = _uniform((b, 2), -r.translate, r.translate, generator, d)   # fractions of the view
        x0 = x0 + shift[:, 0] * wf
        y0 = y0 + shift[:, 1] * hf

        bj, cj, sj, hj = r.jitter
        coins = torch.rand((b, 5), generator=generator, device=d)
        params = {
            "area": wf * hf,
            "box": torch.stack((x0, y0, x0 + wf, y0 + hf), dim=1),
            "flip": coins[:, 0] < r.flip_p,
            "jitter": coins[:, 1] < r.jitter_p,
            "gray": coins[:, 2] < r.gray_p,
            "blur": coins[:, 3] < r.blur_p,
            "solarize": coins[:, 4] < r.solarize_p,
            "brightness": _uniform((b,), max(0.0, 1 - bj), 1 + bj, generator, d),
            "contrast": _uniform((b,), max(0.0, 1 - cj), 1 + cj, generator, d),
            "saturation": _uniform((b,), max(0.0, 1 - sj), 1 + sj, generator, d),
            "hue": _uniform((b,), -hj, hj, generator, d),
            "order": torch.rand((b, 4), generator=generator, device=d).argsort(dim=1),
            "sigma": _uniform((b,), *r.blur_sigma, generator, d),
        }
        return _move(params, device)

    # ------------------------------------------------------------------------- computation
    def crop(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """Crop ``box``, flip where ``flip``, resize to ``image_size``: float ``[B, C, S, S]``, ``[0, 1]``."""
        box = params["box"].to(x.device, torch.float32)
        b = x.shape[0]
        cx = box[:, 0] + box[:, 2] - 1                      # box centre in [-1, 1] coordinates
        cy = box[:, 1] + box[:, 3] - 1
        sx = (box[:, 2] - box[:, 0]) * torch.where(params["flip"].to(x.device), -1.0, 1.0)
        sy = box[:, 3] - box[:, 1]
        theta = torch.zeros(b, 2, 3, device=x.device)
        theta[:, 0, 0], theta[:, 0, 2] = sx, cx
        theta[:, 1, 1], theta[:, 1, 2] = sy, cy
        size = self.recipe.image_size
        grid = F.affine_grid(theta, [b, x.shape[1], size, size], align_corners=False)
        # Crops lie inside the image, so "border" only matters for the half pixel at its edge (no dark
        # rim when upsampling); translated views (digits) are padded with zeros like RandomAffine.
        padding = "zeros" if self.recipe.translate > 0 else "border"
        return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)

    def colour(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """Colour jitter (random order per sample), grayscale, blur, solarise, on float ``[B, C, S, S]``.

        Brightness, contrast and saturation are all ``clip(f * x + (1 - f) * t)`` with target ``t`` =
        0, the mean grey level or the grey image, so each of the four jitter slots is one blend over
        the batch with per-sample ``f`` and ``t`` (``f = 1`` leaves a sample unchanged, exactly).
        Hue (in the slot each sample draws it) and blur act on the samples that draw them through
        :func:`_apply_to`: off the CPU they are computed for the whole batch and selected with masks,
        so the view needs no host synchronisation and, on a GPU, the next batch's views queue behind
        the running step instead of waiting for it; on the CPU, where knowing a subset's size costs
        nothing, only the subset is computed. Both give the same views. ``x`` may be modified in place.
        """
        r = self.recipe
        p = {k: v.to(x.device) for k, v in params.items() if k not in ("box", "area")}
        channels = x.shape[1]
        masked = self.masked if self.masked is not None else x.device.type != "cpu"
        if r.jitters_colour:
            on, order = p["jitter"], p["order"]
            do_hue = r.jitter[3] > 0 and channels == 3
            # factor table: brightness, contrast, saturation, then 1 (identity) for hue / not jittered
            factors = torch.stack((p["brightness"], p["contrast"], p["saturation"], torch.ones_like(p["hue"])), 1)
            blends = any(v > 0 for v in r.jitter[:3])
            for slot in range(4):
                op = order[:, slot:slot + 1]                                        # [B, 1]
                if blends:
                    # saturation is a no-op on one channel (as in torchvision): use the identity there
                    last = 3 if channels == 3 else 2
                    f = factors.gather(1, torch.where(on[:, None] & (op < last), op, 3))
                    grey = _grayscale(x)
                    op4 = op.view(-1, 1, 1, 1)
                    target = torch.where(op4 == 1, grey.mean(dim=(1, 2, 3), keepdim=True), grey)
                    x = _blend(x, target.masked_fill(op4 == 0, 0.0), f)
                if do_hue:
                    x = _apply_to(x, on & (op[:, 0] == 3), lambda v, i: adjust_hue(v, p["hue"][i]), masked)
        if r.gray_p > 0 and channels == 3:
            x = torch.where(p["gray"].view(-1, 1, 1, 1), _grayscale(x).expand_as(x), x)
        if r.blur_p > 0:
            x = _apply_to(x, p["blur"], lambda v, i: gaussian_blur(v, p["sigma"][i], r.kernel_size), masked)
        if r.solarize_p > 0:
            flip = p["solarize"].view(-1, 1, 1, 1) & (x >= r.solarize_threshold)
            x = torch.where(flip, 1 - x, x)
        return x

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        """``x``: uint8 ``[B, C, H, W]`` (or float in ``[0, 1]``) -> normalised float32 ``[B, C, S, S]``.

        ``S = recipe.image_size``.
        """
        if x.dim() != 4:
            raise ValueError(f"images must be [B, C, H, W], got shape {tuple(x.shape)}")
        if x.shape[1] != len(self.mean):
            raise ValueError(f"images have {x.shape[1]} channels but mean/std have {len(self.mean)}")
        xf = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        view = self.colour(self.crop(xf, params), params)
        mean, std = (_constant(v, x.device, torch.float32) for v in (self.mean, self.std))
        return (view - mean) / std


Stats = tuple[float, ...] | None


def _name_and_recipe(dataset: str | SSLData, strength: str,
                     recipe: Recipe | None) -> tuple[str, Recipe, Stats, Stats]:
    """Resolve ``(name, recipe, mean, std)`` for a data set given by name or as :class:`SSLData`."""
    if isinstance(dataset, SSLData):
        name = dataset.name
        if recipe is None:
            if name in RECIPES:
                base = RECIPES[name]
            else:                               # a custom data set: the generic recipe of its modality
                base = {"vector": NoiseRecipe(), "signal": SignalRecipe(),
                        "image": ImageRecipe(image_size=32)}[dataset.modality]
            recipe = with_strength(base, strength)
            if isinstance(recipe, ImageRecipe):        # views keep the stored image size
                recipe = dataclasses.replace(recipe, image_size=dataset.input_shape[-1])
            elif isinstance(recipe, SignalRecipe):
                recipe = dataclasses.replace(recipe, length=dataset.input_shape[-1])
        mean, std = dataset.mean, dataset.std
        if dataset.modality == "image" and mean is None:
            channels = dataset.input_shape[0]
            mean, std = CHANNEL_STATS.get(name, ((0.5,) * channels, (0.25,) * channels))
        return name, recipe, mean, std
    name = str(dataset).lower()
    if name.replace("-", "").replace("_", "") in (n.replace("_", "") for n in RECIPES):
        from .datasets import canonical_name

        name = canonical_name(name)                    # "CIFAR-10" -> "cifar10"
    if recipe is None:
        recipe = recipe_for(name, strength)
    mean, std = CHANNEL_STATS.get(name, (None, None))
    return name, recipe, mean, std


def make_augment(dataset: str | SSLData, *, strength: str = "default", recipe: Recipe | None = None,
                 mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None,
                 compile: bool = False) -> Augment:
    """The batched view maker for ``dataset`` (a name in ``DATASETS`` or an :class:`SSLData`).

    ``strength`` is ``"default"``, ``"weak"`` or ``"none"`` (see :mod:`mi_ssl.data.recipes`);
    ``recipe`` overrides the table. With an :class:`SSLData`, image views keep the stored image
    size and normalise with the data's ``mean``/``std``; ``mean``/``std`` override either.
    ``compile``: :meth:`Augment.compile` the view maker.
    """
    name, recipe, data_mean, data_std = _name_and_recipe(dataset, strength, recipe)
    if isinstance(recipe, NoiseRecipe):
        aug: Augment = NoiseAugment(recipe)
    elif isinstance(recipe, SignalRecipe):
        aug = SignalAugment(recipe)
    else:
        mean = mean if mean is not None else data_mean
        std = std if std is not None else data_std
        if mean is None or std is None:
            raise ValueError(f"{name}: image augmentation needs per-channel mean and std; pass mean=..., std=...")
        aug = ImageAugment(recipe, mean, std)
    return aug.compile() if compile else aug
