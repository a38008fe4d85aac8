"""Encoders, projectors and predictors.

A self-supervised model here is ``Encoder(backbone, projector)``:

* the **backbone** maps an input batch to the *representation* ``h`` of shape ``[N, feature_dim]``
  (what is probed downstream); every backbone carries an ``int`` attribute ``feature_dim``;
* the **projector** maps ``h`` to the *embedding* ``z`` of shape ``[N, out_dim]`` on which the SSL
  objective (and the critic of :mod:`mi_ssl.bounds`) is evaluated;
* SDMI-paradigm methods that need one (SimSiam, BYOL, MoCo-v3, SDMI-NoDV-Pred) add a
  :class:`Predictor` on top of ``z``; it lives outside :class:`Encoder` because the paradigm decides
  on which branch it is applied.

Backbones (paper Section 4.2 and Tables 3, 5, 6):

=================  ===========================  ==================  =============
name               input ``[N, ...]``           ``feature_dim``     used for
=================  ===========================  ==================  =============
``toy_mlp``        ``[N, 2]``                   3                   ``gaussian``
``digits_cnn``     ``[N, 1, 8, 8]``             128                 ``digits``
``mnist1d_cnn``    ``[N, 1, 40]``               128                 ``mnist1d``
``resnet18``       ``[N, 3, H, W]``             512                 CIFAR, TinyImageNet
``resnet50``       ``[N, 3, H, W]``             2048                ImageNet-100
=================  ===========================  ==================  =============

The ResNets are torchvision's (``weights=None``: nothing is downloaded) with ``fc`` replaced by
``Identity``; with ``small_images=True`` the stem is the usual CIFAR one (3x3 stride-1 ``conv1``, no
max-pool). Their ``state_dict`` keys are torchvision's. They run in ``channels_last``:
``model.to(memory_format=torch.channels_last)`` and the same for the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torchvision
from torch import nn

__all__ = [
    "BACKBONES",
    "ToyMLP",
    "Digits2dCNN",
    "Signal1dCNN",
    "resnet",
    "build_backbone",
    "Projector",
    "Predictor",
    "Encoder",
    "count_parameters",
]


# --------------------------------------------------------------------------- backbones
class ToyMLP(nn.Module):
    """The paper's toy encoder for the 2-D Gaussian mixture (Section 4.2), without its last step.

    ``Linear(2 -> 64, bias) -> BatchNorm1d -> ReLU -> Linear(64 -> 3) -> BatchNorm1d``: input ``[N, in_dim]``
    float, output the embedding ``[N, 3]`` (``feature_dim = out_dim = 3``; the toy uses no projector,
    ``Projector(..., layers=0)``). The paper ends this encoder with an l2-normalisation onto the sphere
    ``S^2``; here that step is not part of the network but of the method: the learner applies it before a
    loss whose registry row says ``loss_on="normalised"`` (the cosine critics) and not before Barlow Twins',
    VICReg's or EMI's (:attr:`mi_ssl.methods.Method.loss_on`). The evaluation on the sphere (NN angle gaps,
    cluster centres) normalises the output itself.
    """

    def __init__(self, in_dim: int = 2, hidden_dim: int = 64, out_dim: int = 3) -> None:
        super().__init__()
        for name, value in (("in_dim", in_dim), ("hidden_dim", hidden_dim), ("out_dim", out_dim)):
            _check_positive_int(name, value)
        self.feature_dim: int = out_dim
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim, bias=True),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, out_dim, bias=True),
            nn.BatchNorm1d(out_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [N, in_dim]`` -> ``z [N, out_dim]`` (not normalised)."""
        return self.net(x)


def _conv_bn_relu(conv: type[nn.Module], c_in: int, c_out: int, **kw: Any) -> list[nn.Module]:
    bn = nn.BatchNorm2d if conv is nn.Conv2d else nn.BatchNorm1d
    return [conv(c_in, c_out, bias=False, **kw), bn(c_out), nn.ReLU(inplace=True)]


class Digits2dCNN(nn.Module):
    """Small conv net for scikit-learn's 8x8 grey digits.

    ``[N, C, 8, 8]`` -> conv3x3(C->32)-BN-ReLU -> conv3x3(32->64)-BN-ReLU -> maxpool2 (4x4)
    -> conv3x3(64->128)-BN-ReLU -> global average pool -> ``[N, 128]``.

    Works for any spatial size >= 2 (global pooling). ``feature_dim = width * 4`` (128 by default).
    """

    def __init__(self, in_channels: int = 1, width: int = 32) -> None:
        super().__init__()
        _check_positive_int("in_channels", in_channels)
        _check_positive_int("width", width)
        w = width
        self.feature_dim: int = 4 * w
        self.net = nn.Sequential(
            *_conv_bn_relu(nn.Conv2d, in_channels, w, kernel_size=3, padding=1),
            *_conv_bn_relu(nn.Conv2d, w, 2 * w, kernel_size=3, padding=1),
            nn.MaxPool2d(2),
            *_conv_bn_relu(nn.Conv2d, 2 * w, 4 * w, kernel_size=3, padding=1),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [N, C, H, W]`` float -> ``h [N, feature_dim]``."""
        return self.net(x)


class Signal1dCNN(nn.Module):
    """Small 1-D conv net for MNIST-1D signals.

    ``[N, C, L]`` (``L = 40``; a 2-D ``[N, L]`` input is read as ``C = 1``)
    -> conv5(C->32)-BN-ReLU -> conv3/2(32->64)-BN-ReLU -> conv3/2(64->128)-BN-ReLU (length ``L/4``)
    -> global max- and average-pool, concatenated -> ``Linear(256 -> 128)`` -> ``[N, 128]``.

    Global pooling makes the representation (nearly) invariant to the shifts MNIST-1D applies to
    its templates. ``feature_dim`` is ``out_dim`` (128 by default).
    """

    def __init__(self, in_channels: int = 1, width: int = 32, out_dim: int = 128) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("width", width), ("out_dim", out_dim)):
            _check_positive_int(name, value)
        w = width
        self.feature_dim: int = out_dim
        self.convs = nn.Sequential(
            *_conv_bn_relu(nn.Conv1d, in_channels, w, kernel_size=5, padding=2),
            *_conv_bn_relu(nn.Conv1d, w, 2 * w, kernel_size=3, stride=2, padding=1),
            *_conv_bn_relu(nn.Conv1d, 2 * w, 4 * w, kernel_size=3, stride=2, padding=1),
        )
        self.head = nn.Linear(8 * w, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [N, C, L]`` or ``[N, L]`` float -> ``h [N, feature_dim]``."""
        if x.dim() == 2:
            x = x.unsqueeze(1)
        a = self.convs(x)
        return self.head(torch.cat([a.amax(dim=2), a.mean(dim=2)], dim=1))


_RESNET_FEATURE_DIM = {18: 512, 50: 2048}


def resnet(depth: int = 18, small_images: bool = True, in_channels: int = 3, **kwargs: Any) -> nn.Module:
    """torchvision ResNet-``depth`` (``weights=None``) backbone: ``[N, C, H, W]`` -> ``[N, feature_dim]``.

    ``small_images=True`` swaps in the CIFAR stem (``conv1`` 3x3 stride 1 padding 1, ``maxpool`` ->
    ``Identity``), the usual choice for 32x32 and 64x64 inputs; ``False`` keeps the ImageNet stem
    (7x7 stride 2 + max-pool) for 224x224. ``fc`` becomes ``Identity``, so the output is the
    globally pooled ``[N, 512]`` (ResNet-18) or ``[N, 2048]`` (ResNet-50); the returned module has
    ``feature_dim`` set accordingly. ``kwargs`` go to the torchvision constructor
    (e.g. ``zero_init_residual=True``).
    """
    if depth not in _RESNET_FEATURE_DIM:
        raise ValueError(f"depth must be one of {sorted(_RESNET_FEATURE_DIM)}, got {depth!r}")
    _check_positive_int("in_channels", in_channels)
    ctor = torchvision.models.resnet18 if depth == 18 else torchvision.models.resnet50
    net = ctor(weights=None, **kwargs)
    if small_images:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    if small_images or in_channels != 3:  # same init torchvision gives every other conv
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    net.fc = nn.Identity()
    net.feature_dim = _RESNET_FEATURE_DIM[depth]
    return net


# --------------------------------------------------------------------------- registry
BACKBONES: tuple[str, ...] = ("toy_mlp", "digits_cnn", "mnist1d_cnn", "resnet18", "resnet50")

def build_backbone(name: str, input_shape: Sequence[int], **kw: Any) -> nn.Module:
    """Build backbone ``name`` for samples of shape ``input_shape`` (no batch axis).

    ``input_shape`` is ``(D,)`` for ``toy_mlp``, ``(C, L)`` (or ``(L,)``) for ``mnist1d_cnn`` and
    ``(C, H, W)`` for ``digits_cnn`` and the ResNets; it sets the input width / channels. For the
    ResNets, ``small_images`` defaults to ``max(H, W) <= 64`` (CIFAR stem for CIFAR and
    TinyImageNet, ImageNet stem for 224x224). Other ``kw`` go to the backbone's constructor.
    The result has an ``int`` attribute ``feature_dim``.
    """
    shape = tuple(int(s) for s in input_shape)
    if name not in BACKBONES:
        raise ValueError(f"backbone name={name!r} is unknown; allowed: {list(BACKBONES)}")
    if any(s <= 0 for s in shape):
        raise ValueError(f"input_shape={shape} must have positive entries")

    def need(ndims: tuple[int, ...], what: str) -> None:
        if len(shape) not in ndims:
            raise ValueError(f"backbone {name!r} needs input_shape {what}, got input_shape={shape}")

    if name == "toy_mlp":
        need((1,), "(D,)")
        return ToyMLP(in_dim=shape[0], **kw)
    if name == "mnist1d_cnn":
        need((1, 2), "(C, L) or (L,)")
        return Signal1dCNN(in_channels=shape[0] if len(shape) == 2 else 1, **kw)
    need((3,), "(C, H, W)")
    if name == "digits_cnn":
        return Digits2dCNN(in_channels=shape[0], **kw)
    kw.setdefault("small_images", max(shape[1:]) <= 64)
    return resnet(depth=18 if name == "resnet18" else 50, in_channels=shape[0], **kw)


# --------------------------------------------------------------------------- heads
class Projector(nn.Module):
    """MLP projection head ``[N, in_dim] -> [N, out_dim]``.

    ``layers`` linear layers; every one but the last is followed by ``BatchNorm1d`` and ``ReLU``
    (those linears have no bias: the BN that follows would cancel it). How the head ends is the
    method's (:attr:`mi_ssl.methods.Method.head_end`): with ``last_bn`` the output goes through a
    non-affine ``BatchNorm1d`` (``head_end="bn"``: SimSiam, MoCo-v3), otherwise the last linear keeps its
    bias and nothing follows it (``head_end="linear"``: BYOL, SimCLR, Barlow Twins, VICReg; the bias has
    no gradient under the last two, whose losses centre each dimension). ``layers=2``:
    ``Linear-BN-ReLU-Linear[-BN]``; ``layers=3`` adds one hidden block (paper Table 5 picks 2 or 3 per
    method); ``layers=1`` is a single linear map. ``layers=0`` is ``Identity`` (then ``out_dim`` must
    equal ``in_dim``; ``hidden_dim`` is ignored for 0 and 1 layers), used for the toy, whose backbone
    already maps to the 3-D embedding.
    """

    def __init__(
        self, in_dim: int, hidden_dim: int = 2048, out_dim: int = 256, layers: int = 2, last_bn: bool = True
    ) -> None:
        super().__init__()
        if not isinstance(layers, int) or isinstance(layers, bool) or layers < 0:
            raise ValueError(f"layers must be an int >= 0 (0 = identity; paper uses 2 or 3), got {layers!r}")
        _check_positive_int("in_dim", in_dim)
        _check_positive_int("out_dim", out_dim)
        if layers >= 2:  # hidden_dim is unused (may be 0) for layers 0 and 1
            _check_positive_int("hidden_dim", hidden_dim)
        if layers == 0 and out_dim != in_dim:
            raise ValueError(f"layers=0 is identity: out_dim must equal in_dim={in_dim}, got {out_dim}")
        self.in_dim, self.out_dim, self.layers = in_dim, out_dim, layers
        mods: list[nn.Module] = []
        d = in_dim
        for _ in range(layers - 1):
            mods += [nn.Linear(d, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True)]
            d = hidden_dim
        if layers > 0:
            mods.append(nn.Linear(d, out_dim, bias=not last_bn))
            if last_bn:
                mods.append(nn.BatchNorm1d(out_dim, affine=False))
        self.net: nn.Module = nn.Sequential(*mods) if mods else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``h [N, in_dim]`` -> ``z [N, out_dim]``."""
        return self.net(h)


class Predictor(nn.Module):
    """2-layer prediction MLP ``[N, dim] -> [N, dim]``: ``Linear(dim, hidden)-BN-ReLU-Linear(hidden, dim)``.

    The bottleneck ``hidden_dim = 256`` is the paper's "prediction dimension" (Table 3), used by
    SimSiam, BYOL, MoCo-v3 and the SDMI-NoDV-Pred ablation.
    """

    def __init__(self, dim: int, hidden_dim: int = 256) -> None:
        super().__init__()
        _check_positive_int("dim", dim)
        _check_positive_int("hidden_dim", hidden_dim)
        self.dim = dim
        self.net = nn.Sequential(
            nn.Linear(dim, hidden_dim, bias=False),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, dim),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z [N, dim]`` -> ``p [N, dim]``."""
        return self.net(z)


class Encoder(nn.Module):
    """``backbone`` followed by ``projector``.

    ``features(x)`` is the representation ``h [N, feature_dim]`` (probed downstream);
    ``forward(x)`` is the embedding ``z [N, out_dim]`` the SSL objective sees.
    """

    def __init__(self, backbone: nn.Module, projector: nn.Module | None = None) -> None:
        super().__init__()
        feature_dim = getattr(backbone, "feature_dim", None)
        if not isinstance(feature_dim, int):
            raise ValueError("backbone must have an int attribute feature_dim (see mi_ssl.networks)")
        self.backbone = backbone
        self.projector = projector if projector is not None else nn.Identity()
        self.feature_dim: int = feature_dim
        in_dim = getattr(self.projector, "in_dim", feature_dim)
        if in_dim != feature_dim:
            raise ValueError(f"projector in_dim={in_dim} does not match backbone feature_dim={feature_dim}")
        self.out_dim: int = int(getattr(self.projector, "out_dim", feature_dim))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (backbone input) -> ``h [N, feature_dim]``."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (backbone input) -> ``z [N, out_dim]``."""
        return self.projector(self.backbone(x))


# --------------------------------------------------------------------------- helpers
def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``module`` (BN running statistics are buffers, not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _check_positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
