"""Two-view augmentation: the batched path's distributions and operations, and the CPU reference path.

Ground truth is independent of the code under test: closed-form distributions of the crop sampler,
binomial tolerances for the coin flips, torchvision's functional ops for the colour/blur arithmetic,
and exact pixel crops for the geometry.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from torchvision.transforms.v2 import functional as TF

from mi_ssl.data import (
    ImageAugment,
    ImageRecipe,
    NoiseAugment,
    SignalAugment,
    SignalRecipe,
    SSLData,
    TwoViewDataset,
    make_augment,
    make_cpu_transform,
    recipe_for,
)
from mi_ssl.data import augment as A
from mi_ssl.data.stats import CHANNEL_STATS

N_DIST = 4000          # samples for distribution checks
Z = 4.5                # binomial tolerance in standard deviations


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_images(b: int, c: int = 3, s: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (b, c, s, s), dtype=torch.uint8, generator=gen(seed))


def normalise(x: torch.Tensor, name: str) -> torch.Tensor:
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in CHANNEL_STATS[name])
    return (x.float() / 255 - mean) / std


def assert_rate(mask: torch.Tensor, p: float) -> None:
    n = mask.numel()
    tol = Z * math.sqrt(p * (1 - p) / n) + 1e-12
    assert abs(mask.float().mean().item() - p) <= tol, (mask.float().mean().item(), p)


# --------------------------------------------------------------------------------- contract
@pytest.mark.parametrize("name, x, out_shape", [
    ("gaussian", torch.randn(16, 2), (16, 2)),
    ("mnist1d", torch.randn(16, 1, 40), (16, 1, 40)),
    ("digits", torch.randint(0, 256, (16, 1, 8, 8), dtype=torch.uint8), (16, 1, 8, 8)),
    ("cifar10", torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8), (16, 3, 32, 32)),
    ("cifar100", torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8), (16, 3, 32, 32)),
    ("tinyimagenet", torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8), (4, 3, 64, 64)),
    ("imagenet100", torch.randint(0, 256, (2, 3, 224, 224), dtype=torch.uint8), (2, 3, 224, 224)),
])
def test_views_have_the_batch_shape_float32_and_device(name, x, out_shape):
    aug = make_augment(name)
    v = aug(x, gen())
    assert v.shape == out_shape and v.dtype == torch.float32 and v.device == x.device
    assert torch.isfinite(v).all()


def test_identity_when_every_probability_is_zero_and_scale_is_one():
    for name in ("cifar10", "digits", "tinyimagenet"):
        aug = make_augment(name, strength="none")
        x = random_images(8, *((1, 8) if name == "digits" else (3, 64 if name == "tinyimagenet" else 32)))
        torch.testing.assert_close(aug(x, gen()), normalise(x, name), atol=1e-4, rtol=0)  # float grid
    s = torch.randn(8, 1, 40)
    torch.testing.assert_close(make_augment("mnist1d", strength="none")(s, gen()), s)
    v = torch.randn(8, 2)
    torch.testing.assert_close(make_augment("gaussian", strength="none")(v, gen()), v)


def test_same_seed_same_views_other_seed_other_views():
    aug, x = make_augment("cifar10"), random_images(32)
    torch.testing.assert_close(aug(x, gen(3)), aug(x, gen(3)), atol=0, rtol=0)
    assert not torch.allclose(aug(x, gen(3)), aug(x, gen(4)))
    for name, y in (("mnist1d", torch.randn(32, 1, 40)), ("gaussian", torch.randn(32, 2))):
        a = make_augment(name)
        torch.testing.assert_close(a(y, gen(3)), a(y, gen(3)), atol=0, rtol=0)
        assert not torch.allclose(a(y, gen(3)), a(y, gen(4)))


def test_samples_in_a_batch_get_independent_parameters():
    aug = make_augment("cifar10")
    x = random_images(1).expand(64, -1, -1, -1).contiguous()       # one image, 64 times
    v = aug(x, gen())
    flat = v.flatten(1)
    assert torch.unique(flat, dim=0).shape[0] == 64                  # 64 different views
    p = aug.sample_params(64, gen())
    assert torch.unique(p["box"], dim=0).shape[0] == 64
    # two calls on the same batch (the two views) differ too
    assert not torch.allclose(aug(x, gen(1)), aug(x, gen(2)))


def test_apply_is_the_call_with_sampled_params():
    aug, x = make_augment("cifar10"), random_images(16)
    params = aug.sample_params(16, gen(5), shape=tuple(x.shape[1:]))
    torch.testing.assert_close(aug.apply(x, params), aug(x, gen(5)), atol=0, rtol=0)


# ------------------------------------------------------------------------- crop distribution
def test_crop_area_is_uniform_over_the_scale_range_when_every_box_fits():
    recipe = ImageRecipe(image_size=32, crop_scale=(0.2, 1.0), crop_ratio=(1.0, 1.0))
    p = ImageAugment(recipe, (0.5,) * 3, (0.25,) * 3).sample_params(N_DIST, gen())
    area = p["area"].double().numpy()
    assert area.min() >= 0.2 - 1e-6 and area.max() <= 1.0 + 1e-6
    assert stats.kstest(area, stats.uniform(0.2, 0.8).cdf).pvalue > 1e-3


@pytest.mark.parametrize("scale", [(0.2, 1.0), (0.08, 1.0)])
def test_crop_area_follows_torchvision_rejection_sampler(scale):
    """Square image, ratio in (3/4, 4/3): a draw (s, r) fits iff |log r| <= log(1/s), so the first
    accepted area has density proportional to min(1, log(1/s) / log(4/3)) on the scale range."""
    lo, hi = scale
    big_l = math.log(4 / 3)

    def g(s: float) -> float:
        return min(1.0, math.log(1 / s) / big_l)

    total = integrate.quad(g, lo, hi, points=[0.75])[0]

    def cdf(s: np.ndarray) -> np.ndarray:
        return np.array([integrate.quad(g, lo, min(max(v, lo), hi), points=[0.75])[0] / total for v in s])

    aug = make_augment("cifar10", recipe=ImageRecipe(image_size=32, crop_scale=scale))
    p = aug.sample_params(N_DIST, gen(1))
    area = p["area"].double().numpy()
    assert area.min() >= lo - 1e-6 and area.max() <= hi + 1e-6
    assert stats.kstest(area, cdf).pvalue > 1e-3
    box = p["box"]
    assert (box[:, :2] >= -1e-6).all() and (box[:, 2:] <= 1 + 1e-6).all()       # inside the image
    torch.testing.assert_close((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]), p["area"])
    log_ratio = ((box[:, 2] - box[:, 0]) / (box[:, 3] - box[:, 1])).log()
    assert log_ratio.abs().max() <= big_l + 1e-5


def test_crop_position_is_uniform_among_boxes_inside_the_image():
    recipe = ImageRecipe(image_size=32, crop_scale=(0.25, 0.25), crop_ratio=(1.0, 1.0))  # 16x16 boxes
    p = ImageAugment(recipe, (0.5,) * 3, (0.25,) * 3).sample_params(N_DIST, gen(2))
    x0 = p["box"][:, 0].double().numpy()
    assert stats.kstest(x0, stats.uniform(0, 0.5).cdf).pvalue > 1e-3


# ------------------------------------------------------------------------------ coin flips
def test_flip_jitter_gray_rates_match_the_recipe():
    aug = make_augment("cifar10")
    p = aug.sample_params(N_DIST, gen(7))
    assert_rate(p["flip"], 0.5)
    assert_rate(p["jitter"], 0.8)
    assert_rate(p["gray"], 0.2)
    assert not p["blur"].any() and not p["solarize"].any()
    # coins are independent of each other
    assert_rate(p["flip"][p["jitter"]], 0.5)
    in100 = make_augment("imagenet100").sample_params(N_DIST, gen(8))
    assert_rate(in100["blur"], 0.5)


def test_jitter_factors_are_uniform_in_their_ranges():
    p = make_augment("cifar10").sample_params(N_DIST, gen(9))
    for key, (lo, hi) in {"brightness": (0.6, 1.4), "contrast": (0.6, 1.4), "saturation": (0.6, 1.4),
                          "hue": (-0.1, 0.1)}.items():
        v = p[key].double().numpy()
        assert stats.kstest(v, stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3, key
    order = p["order"]
    assert (order.sort(dim=1).values == torch.arange(4)).all()               # permutations
    assert_rate(order[:, 0] == 3, 0.25)                                        # hue first 1/4 of the time


def test_digits_recipe_never_flips_and_only_jitters_brightness_and_contrast():
    p = make_augment("digits").sample_params(N_DIST, gen())
    assert not p["flip"].any() and not p["gray"].any()
    assert (p["saturation"] == 1).all() and (p["hue"] == 0).all()
    area = p["area"]
    assert area.min() >= 0.5 - 1e-6


# ------------------------------------------------------------------ the operations themselves
def only(**fields) -> ImageAugment:
    """An augmentation of 16x16 RGB images to 8x8 that does nothing but ``fields``."""
    base = dataclasses.replace(recipe_for("cifar10", "none"), image_size=8)
    return ImageAugment(dataclasses.replace(base, **fields), (0.0,) * 3, (1.0,) * 3)


def test_crop_takes_exactly_the_pixels_in_the_box_and_flips_them():
    x = random_images(2, s=16)
    aug = only()
    params = aug.sample_params(2, gen(), shape=(3, 16, 16))
    params["box"] = torch.tensor([[2 / 16, 4 / 16, 10 / 16, 12 / 16], [0.5, 0.0, 1.0, 0.5]])
    params["flip"] = torch.tensor([False, True])
    v = aug.apply(x, params)
    xf = x.float() / 255
    torch.testing.assert_close(v[0], xf[0, :, 4:12, 2:10], atol=1e-5, rtol=0)
    torch.testing.assert_close(v[1], xf[1, :, 0:8, 8:16].flip(-1), atol=1e-5, rtol=0)
    params["box"] = torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 2)                  # whole image, 2x down
    params["flip"] = torch.tensor([False, False])
    torch.testing.assert_close(aug.apply(x, params), torch.nn.functional.avg_pool2d(xf, 2), atol=1e-5, rtol=0)


def test_colour_operations_match_torchvision():
    torch.manual_seed(0)
    x = torch.rand(6, 3, 10, 12)
    f = torch.rand(6) * 0.8 + 0.6
    h = torch.rand(6) * 0.2 - 0.1
    pairs = ((A.adjust_brightness, TF.adjust_brightness, f), (A.adjust_contrast, TF.adjust_contrast, f),
             (A.adjust_saturation, TF.adjust_saturation, f), (A.adjust_hue, TF.adjust_hue, h))
    for ours, ref, fac in pairs:
        want = torch.stack([ref(x[i], fac[i].item()) for i in range(6)])
        torch.testing.assert_close(ours(x, fac), want, atol=2e-6, rtol=0)
    sigma = torch.rand(6) * 1.9 + 0.1
    want = torch.stack([TF.gaussian_blur(x[i], [5, 5], [sigma[i].item()] * 2) for i in range(6)])
    torch.testing.assert_close(A.gaussian_blur(x, sigma, 5), want, atol=2e-6, rtol=0)
    grey = A._grayscale(x).expand(-1, 3, -1, -1)
    torch.testing.assert_close(grey, TF.rgb_to_grayscale(x, 3), atol=2e-6, rtol=0)


def test_jitter_applies_the_four_operations_in_each_samples_own_order():
    x = random_images(4, s=8)
    aug = ImageAugment(dataclasses.replace(recipe_for("cifar10", "none"), image_size=8, jitter_p=1.0,
                                           jitter=(0.4, 0.4, 0.4, 0.1)), (0.0,) * 3, (1.0,) * 3)
    params = aug.sample_params(4, gen(11), shape=(3, 8, 8))
    params["order"] = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]])
    ops = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    keys = ("brightness", "contrast", "saturation", "hue")
    v = aug.apply(x, params)
    for i in range(4):
        want = x[i].float() / 255
        for k in params["order"][i].tolist():
            want = ops[k](want, params[keys[k]][i].item())
        torch.testing.assert_close(v[i], want, atol=1e-5, rtol=0)


def test_grayscale_and_solarize_act_only_on_the_chosen_samples():
    x = random_images(64, s=8)
    aug = only(gray_p=0.5, solarize_p=0.5)
    p = aug.sample_params(64, gen(12), shape=(3, 8, 8))
    v = aug.apply(x, p)
    xf = x.float() / 255
    for i in range(64):
        want = TF.rgb_to_grayscale(xf[i], 3) if p["gray"][i] else xf[i]
        if p["solarize"][i]:
            want = torch.where(want >= 0.5, 1 - want, want)
        torch.testing.assert_close(v[i], want, atol=1e-5, rtol=0)


def test_digits_translation_pads_with_zeros():
    aug = make_augment("digits", recipe=dataclasses.replace(recipe_for("digits", "none"), translate=0.125))
    x = torch.full((1, 1, 8, 8), 255, dtype=torch.uint8)
    p = aug.sample_params(1, gen(), shape=(1, 8, 8))
    p["box"] = torch.tensor([[0.125, 0.0, 1.125, 1.0]])                    # one pixel left
    v = aug.apply(x, p) * aug.std[0] + aug.mean[0]
    torch.testing.assert_close(v[0, 0, :, :7], torch.ones(8, 7), atol=1e-5, rtol=0)
    torch.testing.assert_close(v[0, 0, :, 7], torch.zeros(8), atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------------- signals
def test_signal_integer_shift_is_a_circular_roll_or_a_zero_padded_shift():
    x = torch.randn(3, 1, 40)
    for circular in (True, False):
        recipe = SignalRecipe(max_shift=5, circular=circular, stretch=(1, 1), scale=(1, 1), noise_std=0)
        aug = SignalAugment(recipe)
        p = aug.sample_params(3, gen())
        p["shift"] = torch.tensor([3.0, -2.0, 0.0])
        v = aug.apply(x, p)
        for i, k in enumerate((3, -2, 0)):
            want = x[i].roll(k, dims=-1)
            if not circular and k > 0:
                want[:, :k] = 0
            if not circular and k < 0:
                want[:, k:] = 0
            torch.testing.assert_close(v[i], want)


def test_signal_parameters_and_noise_follow_the_recipe():
    r = recipe_for("mnist1d")
    aug = make_augment("mnist1d")
    p = aug.sample_params(N_DIST, gen())
    ranges = {"shift": (-r.max_shift, r.max_shift), "stretch": r.stretch, "scale": r.scale}
    for key, (lo, hi) in ranges.items():
        assert stats.kstest(p[key].double().numpy(), stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3, key
    zeros = torch.zeros(N_DIST, 1, 40)
    v = aug(zeros, gen(1))                                  # the view of a zero signal is pure noise
    assert abs(v.std().item() - r.noise_std) < 0.01 * r.noise_std + 1e-3


def test_gaussian_views_reuse_the_papers_noise_model():
    x = torch.randn(500, 2)
    ours = make_augment("gaussian")
    assert isinstance(ours, NoiseAugment) and ours.recipe.tau == 0.1
    torch.testing.assert_close(ours(x, gen(4)), x + 0.1 * torch.randn(x.shape, generator=gen(4)))  # x + tau eps
    noise = ours(torch.zeros(20000, 2), gen(5))
    assert abs(noise.std().item() - 0.1) < 0.003


# ------------------------------------------------------------------------------ construction
def test_make_augment_from_data_uses_its_size_and_statistics():
    data = SSLData("custom", "image", random_images(4, s=12), torch.zeros(4, dtype=torch.long),
                   random_images(2, s=12), torch.zeros(2, dtype=torch.long), 1,
                   mean=(0.1, 0.2, 0.3), std=(0.5, 0.5, 0.5))
    aug = make_augment(data)
    assert aug.recipe.image_size == 12 and aug.mean == (0.1, 0.2, 0.3)
    assert aug(data.train_x, gen()).shape == (4, 3, 12, 12)
    none = make_augment(data, strength="none")
    torch.testing.assert_close(none(data.train_x), data.to_float(data.train_x))


def test_bad_recipes_and_names_are_rejected_with_the_allowed_values():
    with pytest.raises(ValueError, match="flip_p"):
        ImageRecipe(image_size=32, flip_p=1.5)
    with pytest.raises(ValueError, match="crop_scale"):
        ImageRecipe(image_size=32, crop_scale=(0.9, 0.2))
    with pytest.raises(ValueError, match="default, weak, none"):
        make_augment("cifar10", strength="extreme")
    with pytest.raises(ValueError, match="cifar10"):
        make_augment("mnist")
    with pytest.raises(ValueError, match="channels"):
        make_augment("cifar10")(random_images(2, c=1))


# ---------------------------------------------------------------------------- CPU reference
def test_cpu_transform_shapes_and_identity_normalisation():
    x = random_images(4)
    tf = make_cpu_transform("cifar10")
    v = tf(x[0])
    assert v.shape == (3, 32, 32) and v.dtype == torch.float32
    ident = make_cpu_transform("cifar10", strength="none")
    views = torch.stack([ident(xi) for xi in x])
    torch.testing.assert_close(views, normalise(x, "cifar10"), atol=1e-5, rtol=0)
    assert make_cpu_transform("digits")(random_images(1, c=1, s=8)[0]).shape == (1, 8, 8)
    assert make_cpu_transform("mnist1d")(torch.randn(1, 40)).shape == (1, 40)
    assert make_cpu_transform("gaussian")(torch.randn(2)).shape == (2,)


def test_cpu_and_batched_paths_draw_from_the_same_family():
    """Mean and spread of the views of one smooth image agree between the two paths."""
    h = torch.linspace(0, 1, 32)
    img = torch.stack([h[:, None] * h[None, :], h[None, :].expand(32, 32), 1 - h[:, None].expand(32, 32)])
    img = (img * 255).round().to(torch.uint8)
    n = 400
    batched = make_augment("cifar10")(img.expand(n, -1, -1, -1).contiguous(), gen(0))
    torch.manual_seed(0)
    tf = make_cpu_transform("cifar10")
    cpu = torch.stack([tf(img) for _ in range(n)])
    assert cpu.shape == batched.shape
    torch.testing.assert_close(cpu.mean(dim=(0, 2, 3)), batched.mean(dim=(0, 2, 3)), atol=0.1, rtol=0)
    torch.testing.assert_close(cpu.std(dim=(0, 2, 3)), batched.std(dim=(0, 2, 3)), atol=0.1, rtol=0)
    # the fraction of grey views (all channels equal after un-normalising) is ~ gray_p (+ saturation 0)
    def grey(v: torch.Tensor) -> torch.Tensor:
        mean, std = (torch.tensor(s).view(1, 3, 1, 1) for s in CHANNEL_STATS["cifar10"])
        u = v * std + mean
        return (u.max(1).values - u.min(1).values).amax(dim=(1, 2)) < 0.02
    assert abs(grey(cpu).float().mean() - grey(batched).float().mean()) < 0.08


def test_two_view_dataset_returns_two_different_views_and_the_label():
    mean, std = CHANNEL_STATS["cifar10"]
    data = SSLData("cifar10", "image", random_images(10), torch.arange(10), random_images(3, seed=1),
                   torch.arange(3), 10, mean=mean, std=std)
    ds = TwoViewDataset(data, make_cpu_transform(data))
    assert len(ds) == 10
    v1, v2, y = ds[4]
    assert v1.shape == v2.shape == (3, 32, 32) and int(y) == 4 and not torch.equal(v1, v2)
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    b1, b2, by = next(iter(loader))
    assert b1.shape == (4, 3, 32, 32) and by.tolist() == [0, 1, 2, 3]
    assert len(TwoViewDataset(data, make_cpu_transform(data), split="test")) == 3
    with pytest.raises(ValueError, match="split"):
        TwoViewDataset(data, make_cpu_transform(data), split="val")


# ---------------------------------------------------------------------------------- devices
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_views_on_cuda_match_cpu_views_with_a_cpu_generator():
    for name, x in (("cifar10", random_images(64)), ("mnist1d", torch.randn(64, 1, 40)),
                    ("imagenet100", random_images(4, s=224))):
        aug = make_augment(name)
        cpu = aug(x, gen(3))
        cuda = aug(x.cuda(), gen(3))
        assert cuda.device.type == "cuda"
        torch.testing.assert_close(cuda.cpu(), cpu, atol=2e-4, rtol=0)
        g = torch.Generator(device="cuda").manual_seed(0)
        assert aug(x.cuda(), g).device.type == "cuda"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_views_on_cuda_never_synchronise_with_the_host():
    # With a generator on the device, making a view must not wait for the GPU: the next batch's
    # views can then be queued while the current training step runs.
    for name, x in (("cifar10", random_images(64)), ("imagenet100", random_images(4, s=224))):
        aug, xc = make_augment(name), x.cuda()
        g = torch.Generator(device="cuda").manual_seed(0)
        aug(xc, g)                                            # first call: caches constants
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            aug(xc, g)
        finally:
            torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("name, x", [("cifar10", random_images(48)), ("imagenet100", random_images(12, s=48)),
                                     ("digits", random_images(48, c=1, s=8))])
def test_masked_and_subset_paths_make_the_same_views(name, x):
    # Hue and blur reach the samples that draw them either through masks over the whole batch (the
    # GPU default: no host synchronisation) or by gathering the subset (the CPU default).
    recipe = recipe_for(name)
    if name == "imagenet100":
        recipe = dataclasses.replace(recipe, image_size=48)
    mean, std = CHANNEL_STATS[name]
    masked, subset = (ImageAugment(recipe, mean, std, masked=m) for m in (True, False))
    params = masked.sample_params(len(x), gen(5), shape=tuple(x.shape[1:]))
    assert params["blur"].any() == (recipe.blur_p > 0)
    assert 0 < params["jitter"].float().mean() < 1
    torch.testing.assert_close(masked.apply(x, params), subset.apply(x, params), atol=1e-6, rtol=0)
    assert ImageAugment(recipe, mean, std).masked is None          # auto: decided per device


def test_apply_to_changes_only_the_chosen_samples():
    x = torch.arange(24, dtype=torch.float32).view(4, 1, 2, 3)
    chosen = torch.tensor([True, False, False, True])
    shift = torch.tensor([10.0, 20.0, 30.0, 40.0])
    for masked in (True, False):
        out = A._apply_to(x.clone(), chosen, lambda v, i: v + shift[i].view(-1, 1, 1, 1), masked)
        expected = x.clone()
        expected[0] += 10
        expected[3] += 40
        torch.testing.assert_close(out, expected)
    untouched = A._apply_to(x.clone(), torch.zeros(4, dtype=torch.bool), lambda v, i: v + 1, False)
    torch.testing.assert_close(untouched, x)


def test_compiled_view_maker_makes_the_same_views():
    # torch.compile of apply (one graph, masks for hue and blur); the random draws stay eager.
    recipe = dataclasses.replace(recipe_for("imagenet100"), image_size=32)      # hue and blur both on
    mean, std = CHANNEL_STATS["imagenet100"]
    eager = ImageAugment(recipe, mean, std, masked=False)
    compiled = ImageAugment(recipe, mean, std).compile()
    assert compiled.compiled and compiled.masked and not eager.compiled and "compiled" in repr(compiled)
    x = random_images(16)
    for seed in (0, 1):                                          # the second call re-uses the compiled graph
        torch.testing.assert_close(compiled(x, gen(seed)), eager(x, gen(seed)), atol=1e-4, rtol=0)
    assert make_augment("mnist1d", compile=True).compiled
