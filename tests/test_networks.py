"""Backbones, heads and the registry of :mod:`mi_ssl.networks`, checked against hand counts and torchvision's
published parameter counts (ResNet-18: 11,689,512; ResNet-50: 25,557,032, both with a 1000-way fc)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mi_ssl.networks import (
    BACKBONES,
    Digits2dCNN,
    Encoder,
    Predictor,
    Projector,
    Signal1dCNN,
    ToyMLP,
    build_backbone,
    count_parameters,
    resnet,
)

torch.set_num_threads(min(2, torch.get_num_threads()))

# torchvision's documented totals minus the ImageNet fc (512*1000 + 1000 and 2048*1000 + 1000).
RESNET18_NO_FC = 11_689_512 - 513_000
RESNET50_NO_FC = 25_557_032 - 2_049_000
STEM_7x7, STEM_3x3 = 7 * 7 * 3 * 64, 3 * 3 * 3 * 64


@pytest.fixture(scope="module")
def r18_small() -> nn.Module:
    torch.manual_seed(0)
    return resnet(18, small_images=True)


# --------------------------------------------------------------------------- ToyMLP
def test_toy_mlp_matches_paper_up_to_its_l2_step():
    torch.manual_seed(0)
    net = ToyMLP()
    kinds = [type(m) for m in net.net]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear, nn.BatchNorm1d]
    assert (net.net[0].in_features, net.net[0].out_features, net.net[0].bias is not None) == (2, 64, True)
    assert (net.net[3].in_features, net.net[3].out_features) == (64, 3)
    # hand count: 2*64+64 + 2*64 (BN) + 64*3+3 + 2*3 (BN)
    assert count_parameters(net) == 192 + 128 + 195 + 6 == 521
    assert net.feature_dim == 3
    # the paper's l2-normalisation is the learner's step (per method), not the network's: in training mode the
    # output is the last BN's, zero mean and unit (biased) variance per dimension, so its rows are not unit vectors
    net.train()
    z = net(torch.randn(17, 2))
    assert z.shape == (17, 3)
    torch.testing.assert_close(z.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.var(0, unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
    assert not torch.allclose(z.norm(dim=1), torch.ones(17), atol=1e-3)


def test_toy_mlp_is_trainable():
    torch.manual_seed(0)
    net = ToyMLP()
    net(torch.randn(8, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


# --------------------------------------------------------------------------- small conv nets
def test_digits_cnn_shapes():
    torch.manual_seed(0)
    net = Digits2dCNN()
    h = net(torch.randn(5, 1, 8, 8))
    assert h.shape == (5, net.feature_dim) == (5, 128)


def test_signal_cnn_shapes_and_2d_input():
    torch.manual_seed(0)
    net = Signal1dCNN().eval()
    x = torch.randn(6, 1, 40)
    h = net(x)
    assert h.shape == (6, net.feature_dim) == (6, 128)
    torch.testing.assert_close(net(x[:, 0]), h)


# --------------------------------------------------------------------------- ResNets
def test_resnet18_cifar_stem(r18_small):
    assert r18_small.conv1.kernel_size == (3, 3) and r18_small.conv1.stride == (1, 1)
    assert r18_small.conv1.padding == (1, 1)
    assert isinstance(r18_small.maxpool, nn.Identity) and isinstance(r18_small.fc, nn.Identity)
    assert r18_small.feature_dim == 512
    assert count_parameters(r18_small) == RESNET18_NO_FC - STEM_7x7 + STEM_3x3 == 11_168_832


def test_resnet18_imagenet_stem_parameter_count():
    net = resnet(18, small_images=False)
    assert net.conv1.kernel_size == (7, 7) and net.conv1.stride == (2, 2)
    assert isinstance(net.maxpool, nn.MaxPool2d)
    assert count_parameters(net) == RESNET18_NO_FC == 11_176_512


def test_resnet18_forward_and_channels_last_agree(r18_small):
    torch.manual_seed(0)
    net = r18_small.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        h = net(x)
        net_cl = net.to(memory_format=torch.channels_last)
        h_cl = net_cl(x.to(memory_format=torch.channels_last))
        net.to(memory_format=torch.contiguous_format)
    assert h.shape == (2, 512)
    torch.testing.assert_close(h_cl, h, rtol=1e-4, atol=1e-4)


def test_resnet50_tiny_input():
    torch.manual_seed(0)
    net = resnet(50, small_images=False).eval()
    assert net.feature_dim == 2048
    assert count_parameters(net) == RESNET50_NO_FC == 23_508_032
    with torch.no_grad():
        h = net(torch.randn(2, 3, 32, 32))
    assert h.shape == (2, 2048)


def test_resnet_bad_depth():
    with pytest.raises(ValueError, match="depth"):
        resnet(34)


# --------------------------------------------------------------------------- registry
@pytest.mark.parametrize(
    "name, shape, dim",
    [
        ("toy_mlp", (2,), 3),
        ("digits_cnn", (1, 8, 8), 128),
        ("mnist1d_cnn", (1, 40), 128),
        ("mnist1d_cnn", (40,), 128),
    ],
)
def test_build_backbone_small(name, shape, dim):
    torch.manual_seed(0)
    net = build_backbone(name, shape).eval()
    assert isinstance(net.feature_dim, int) and net.feature_dim == dim
    with torch.no_grad():
        assert net(torch.randn(3, *shape)).shape == (3, dim)


def test_build_backbone_resnet_stem_follows_input_size():
    assert build_backbone("resnet18", (3, 64, 64)).conv1.kernel_size == (3, 3)
    assert build_backbone("resnet18", (3, 224, 224)).conv1.kernel_size == (7, 7)
    assert build_backbone("resnet18", (3, 224, 224), small_images=True).conv1.kernel_size == (3, 3)
    assert build_backbone("resnet18", (1, 32, 32)).conv1.in_channels == 1


def test_build_backbone_errors():
    with pytest.raises(ValueError, match="allowed") as err:
        build_backbone("vgg", (3, 32, 32))
    assert all(name in str(err.value) for name in BACKBONES)
    with pytest.raises(ValueError, match="input_shape"):
        build_backbone("digits_cnn", (64,))


# --------------------------------------------------------------------------- heads
def test_projector_layouts_and_counts():
    p2 = Projector(8, 16, 4, layers=2)
    assert [type(m) for m in p2.net] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear, nn.BatchNorm1d]
    # 8*16 (no bias) + 2*16 (BN) + 16*4 (no bias) + 0 (non-affine BN)
    assert count_parameters(p2) == 128 + 32 + 64 == 224
    p3 = Projector(8, 16, 4, layers=3, last_bn=False)
    assert [type(m) for m in p3.net] == [nn.Linear, nn.BatchNorm1d, nn.ReLU] * 2 + [nn.Linear]
    # 8*16 + 32 + 16*16 + 32 + 16*4+4
    assert count_parameters(p3) == 128 + 32 + 256 + 32 + 68
    assert p3(torch.randn(5, 8)).shape == (5, 4)


def test_projector_identity_for_toy():
    p0 = Projector(3, 0, 3, layers=0)
    x = torch.randn(4, 3)
    assert p0(x) is x or torch.equal(p0(x), x)
    assert count_parameters(p0) == 0
    with pytest.raises(ValueError, match="out_dim"):
        Projector(3, 16, 4, layers=0)
    with pytest.raises(ValueError, match="layers"):
        Projector(3, 16, 4, layers=-1)
    with pytest.raises(ValueError, match="hidden_dim"):
        Projector(3, 0, 4, layers=2)


def test_predictor_layout():
    p = Predictor(8, hidden_dim=4)
    assert [type(m) for m in p.net] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert count_parameters(p) == 8 * 4 + 2 * 4 + 4 * 8 + 8
    assert p(torch.randn(3, 8)).shape == (3, 8)
    assert Predictor(256).net[0].out_features == 256  # Table 3: prediction dimension 256


@pytest.mark.parametrize("last_bn", [True, False])
def test_projector_end_decides_whether_the_output_scale_is_free(last_bn):
    """A non-affine BN at the end standardises every output dimension (biased variance 1 in training mode), so a
    loss on its output cannot see the head shrink; a plain linear end passes a shrunk last layer through."""
    torch.manual_seed(0)
    p = Projector(8, 16, 4, layers=2, last_bn=last_bn).train()
    x = torch.randn(64, 8)
    before = p(x).var(0, unbiased=False)
    with torch.no_grad():
        p.net[3].weight.mul_(0.1)
        if p.net[3].bias is not None:
            p.net[3].bias.mul_(0.1)
    after = p(x).var(0, unbiased=False)
    if last_bn:  # var / (var + BN eps): 1 up to the eps, before and after
        torch.testing.assert_close(before, torch.ones(4), atol=1e-3, rtol=0)
        torch.testing.assert_close(after, torch.ones(4), atol=0.1, rtol=0)
    else:
        torch.testing.assert_close(after, before * 1e-2, rtol=1e-4, atol=0)


def test_encoder_features_and_forward():
    torch.manual_seed(0)
    enc = Encoder(Signal1dCNN(), Projector(128, 32, 16)).eval()
    x = torch.randn(4, 1, 40)
    h, z = enc.features(x), enc(x)
    assert (enc.feature_dim, enc.out_dim) == (128, 16)
    assert h.shape == (4, 128) and z.shape == (4, 16)
    torch.testing.assert_close(z, enc.projector(h))
    toy = Encoder(ToyMLP(), Projector(3, 0, 3, layers=0)).eval()
    assert toy.out_dim == 3
    x = torch.randn(5, 2)
    torch.testing.assert_close(toy(x), toy.backbone(x))  # the toy's embedding is the MLP's output, as it is
    with pytest.raises(ValueError, match="feature_dim"):
        Encoder(Signal1dCNN(), Projector(64, 32, 16))
    with pytest.raises(ValueError, match="feature_dim"):
        Encoder(nn.Linear(3, 3))


def test_count_parameters_trainable_only():
    net = nn.Linear(3, 2)
    net.bias.requires_grad_(False)
    assert count_parameters(net) == 8 and count_parameters(net, trainable_only=True) == 6
