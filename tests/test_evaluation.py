"""Evaluation against independent ground truth: polyhedra with known angles, matrices with known
singular values, hand-computed kNN votes, separable and label-shuffled probes."""

from __future__ import annotations

import math
import statistics

import pytest
import torch
from torch import nn

from mi_ssl.evaluation import (
    MEAN_NN_ANGLE_OPTIMUM_5,
    cluster_centres,
    collapse_report,
    effective_rank,
    embedding_std,
    extract_features,
    knn_accuracy,
    linear_probe,
    nn_angle_gaps,
)

torch.set_num_threads(min(2, torch.get_num_threads()))


def _random_rotation(d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def _blobs(n_per: int, k: int, d: int, sep: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centres = sep * torch.eye(k, d)
    y = torch.arange(k).repeat_interleave(n_per)
    return centres[y] + torch.randn(k * n_per, d, generator=g), y


# --------------------------------------------------------------------------- NN angle gaps
def test_nn_gaps_regular_tetrahedron():
    t = torch.tensor([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float64)
    gaps = nn_angle_gaps(t @ _random_rotation(3, 0))  # rotation invariant, normalised inside
    expected = math.degrees(math.acos(-1 / 3))  # 109.4712...
    for key in ("mean", "min", "max"):
        assert gaps[key] == pytest.approx(expected, abs=1e-9)
    assert gaps["sd"] == pytest.approx(0.0, abs=1e-9)


def test_nn_gaps_octahedron_and_triangular_bipyramid_are_90():
    octa = torch.cat([torch.eye(3), -torch.eye(3)])
    s3 = math.sqrt(3) / 2
    bipyramid = torch.tensor([[0, 0, 1], [0, 0, -1], [1, 0, 0], [-0.5, s3, 0], [-0.5, -s3, 0]])
    for pts in (octa, bipyramid):
        gaps = nn_angle_gaps(pts)
        assert gaps["mean"] == pytest.approx(90.0, abs=1e-4)
        assert gaps["min"] == pytest.approx(90.0, abs=1e-4) and gaps["max"] == pytest.approx(90.0, abs=1e-4)


def test_nn_gaps_square_pyramid_optimum_of_the_mean():
    # apex at the pole, 4 base points at polar angle t with cos^2 t = 1/63 (t > 90 deg)
    t = math.acos(-1 / math.sqrt(63))
    base = [[math.sin(t) * math.cos(a), math.sin(t) * math.sin(a), math.cos(t)]
            for a in (0, math.pi / 2, math.pi, 3 * math.pi / 2)]
    gaps = nn_angle_gaps(torch.tensor([[0.0, 0.0, 1.0], *base], dtype=torch.float64))
    apex, base_nn = math.degrees(t), math.degrees(math.acos(1 / 63))
    assert apex == pytest.approx(97.2378, abs=1e-4) and base_nn == pytest.approx(89.0905, abs=1e-4)
    assert gaps["max"] == pytest.approx(apex) and gaps["min"] == pytest.approx(base_nn)
    assert gaps["mean"] == pytest.approx(MEAN_NN_ANGLE_OPTIMUM_5) == pytest.approx(90.71997, abs=1e-5)
    # the optimum beats the Thomson configuration's 90 degrees and no random configuration exceeds it
    g = torch.Generator().manual_seed(0)
    rand = torch.randn(50, 5, 3, generator=g, dtype=torch.float64)
    assert max(nn_angle_gaps(p)["mean"] for p in rand) < MEAN_NN_ANGLE_OPTIMUM_5


def test_nn_gaps_hand_computed_sample_sd():
    # points on the circle at 0, 10, 30, 180 degrees: NN angles 10, 10, 20, 150
    ang = torch.tensor([0.0, 10.0, 30.0, 180.0], dtype=torch.float64).deg2rad()
    gaps = nn_angle_gaps(torch.stack([ang.cos(), ang.sin()], 1))
    assert gaps["per_centre"] == pytest.approx([10, 10, 20, 150])
    assert (gaps["mean"], gaps["min"], gaps["max"]) == pytest.approx((47.5, 10, 150))
    assert gaps["sd"] == pytest.approx(statistics.stdev([10, 10, 20, 150]))  # sample SD (ddof=1)
    with pytest.raises(ValueError, match="at least 2"):
        nn_angle_gaps(torch.ones(1, 3))


def test_cluster_centres():
    z = torch.tensor([[2.0, 0, 0], [0, 2, 0], [1, 0, 0], [0, 0, -3], [0, 0, -1]])
    y = torch.tensor([0, 0, 2, 1, 1])
    c = cluster_centres(z, y, 3)
    r = 1 / math.sqrt(2)
    torch.testing.assert_close(c, torch.tensor([[r, r, 0], [0, 0, -1], [1.0, 0, 0]]))
    with pytest.raises(ValueError, match=r"clusters \[3\]"):
        cluster_centres(z, y, 4)
    with pytest.raises(ValueError, match="num_classes"):
        cluster_centres(z, y, 2)


# --------------------------------------------------------------------------- collapse diagnostics
def test_effective_rank_known_spectra():
    g = torch.Generator().manual_seed(0)
    iso = torch.randn(4000, 8, generator=g)
    assert 7.9 < effective_rank(iso) <= 8.0
    a = torch.randn(100, 1, generator=g, dtype=torch.float64)
    v = torch.randn(1, 16, generator=g, dtype=torch.float64)
    assert effective_rank(a * v + 5.0) == pytest.approx(1.0, abs=1e-6)  # rank 1 after centring
    # centred matrix with singular values (3, 1): p = (3/4, 1/4)
    u1 = torch.tensor([1.0, -1, 1, -1]) / 2
    u2 = torch.tensor([1.0, 1, -1, -1]) / 2
    z = 3 * torch.outer(u1, torch.tensor([1.0, 0, 0])) + torch.outer(u2, torch.tensor([0, 1.0, 0])) + 7
    expected = math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert effective_rank(z) == pytest.approx(expected, rel=1e-6)
    assert effective_rank(torch.ones(10, 4)) == 0.0  # fully collapsed


def test_embedding_std():
    g = torch.Generator().manual_seed(0)
    std, iso = embedding_std(torch.randn(20000, 16, generator=g))
    assert iso == 0.25 and std == pytest.approx(0.25, rel=0.02)
    std, _ = embedding_std(torch.rand(50, 1, generator=g) * torch.tensor([[1.0, 2.0, -1.0]]) + 0)
    assert std == pytest.approx(0.0, abs=1e-7)  # every row points the same way
    std, iso = embedding_std(torch.tensor([[2.0, 0.0], [-5.0, 0.0]]))
    assert (std, iso) == pytest.approx((0.5, 1 / math.sqrt(2)))  # per-dim std (1, 0), population form


def test_collapse_report_keys_and_values():
    g = torch.Generator().manual_seed(0)
    r = collapse_report(torch.randn(1000, 4, generator=g))
    assert {"effective_rank", "effective_rank_ratio", "embedding_std", "embedding_std_isotropic"} <= set(r)
    assert r["effective_rank_ratio"] > 0.98 and r["embedding_std_ratio"] == pytest.approx(1.0, abs=0.05)
    collapsed = collapse_report(torch.ones(10, 4))
    assert collapsed["effective_rank"] == 0.0 and collapsed["embedding_std"] == pytest.approx(0.0, abs=1e-12)


# --------------------------------------------------------------------------- kNN
def test_knn_separable_is_perfect():
    x, y = _blobs(40, 4, 8, sep=20.0, seed=0)
    xt, yt = _blobs(10, 4, 8, sep=20.0, seed=1)
    assert knn_accuracy(x, y, xt, yt, k=200) == 100.0  # k > N is clipped to N


def test_knn_vote_is_temperature_weighted():
    # test point e1; train: e1 (class 0, cos 1), e2 (class 1, cos 0), (e1+e2)/sqrt2 (class 1, cos 0.707)
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    ytr = torch.tensor([0, 1, 1])
    test, yte = torch.tensor([[1.0, 0.0]]), torch.tensor([0])
    # T = 0.07: exp(1/T) >> 1 + exp(0.707/T); T = 10: 1.105 < 1 + 1.073 (the majority wins)
    assert knn_accuracy(train, ytr, test, yte, k=3, temperature=0.07) == 100.0
    assert knn_accuracy(train, ytr, test, yte, k=3, temperature=10.0) == 0.0
    assert knn_accuracy(train, ytr, test, yte, k=1, temperature=10.0) == 100.0


# --------------------------------------------------------------------------- linear probe
@pytest.mark.parametrize("optimizer, lr", [("lbfgs", 1.0), ("adam", 1e-2)])
def test_probe_separable_data(optimizer, lr):
    x, y = _blobs(100, 5, 16, sep=8.0, seed=0)
    xt, yt = _blobs(40, 5, 16, sep=8.0, seed=1)
    r = linear_probe(x, y, xt, yt, epochs=30, optimizer=optimizer, lr=lr, batch_size=128)
    assert r["top1"] == 100.0 and r["train_top1"] == 100.0 and r["epochs"] == 30


def test_probe_random_labels_is_chance_and_deterministic():
    g = torch.Generator().manual_seed(0)
    x, xt = torch.randn(1000, 32, generator=g), torch.randn(1000, 32, generator=g)
    y, yt = torch.randint(0, 10, (1000,), generator=g), torch.randint(0, 10, (1000,), generator=g)
    r = linear_probe(x, y, xt, yt, epochs=50)
    # chance 10%; binomial sd over 1000 test points is ~0.95 points
    assert abs(r["top1"] - 10.0) < 4.0
    assert r == linear_probe(x, y, xt, yt, epochs=50)
    a = linear_probe(x, y, xt, yt, epochs=3, optimizer="adam", lr=1e-2, seed=3)
    assert a == linear_probe(x, y, xt, yt, epochs=3, optimizer="adam", lr=1e-2, seed=3)


def test_probe_bad_input():
    x, y = torch.randn(10, 4), torch.arange(10) % 2
    with pytest.raises(ValueError, match="test_feats"):
        linear_probe(x, y, torch.randn(5, 3), y[:5])
    with pytest.raises(ValueError, match="train_y"):
        linear_probe(x, y.float(), x, y)
    with pytest.raises(ValueError, match="optimizer"):
        linear_probe(x, y, x, y, optimizer="sgd")
    with pytest.raises(ValueError, match="NaN"):
        linear_probe(x * float("nan"), y, x, y)


# --------------------------------------------------------------------------- extract_features
class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.lin(x))


def test_extract_features_eval_mode_batched_and_restored():
    torch.manual_seed(0)
    net = _Net()
    net.bn.running_mean.fill_(1.0)
    net.bn.running_var.fill_(4.0)
    x = torch.randn(10, 4, dtype=torch.float64)
    expected = ((net.lin(x.float()) - 1.0) / math.sqrt(4.0 + net.bn.eps)).detach()
    net.train()

    def closure(b: torch.Tensor) -> torch.Tensor:
        return net(b)

    for fn in (net, net.forward, closure):
        h = extract_features(fn, x, batch_size=3, transform=lambda b: b.float())
        assert h.dtype == torch.float32 and h.device.type == "cpu" and h.shape == (10, 3)
        torch.testing.assert_close(h, expected)
        assert net.training  # restored
    assert net.bn.running_mean.eq(1.0).all()  # eval mode: statistics untouched


def test_extract_features_uint8_and_flatten():
    x = torch.randint(0, 256, (5, 1, 2, 2), dtype=torch.uint8)
    h = extract_features(nn.Identity(), x, batch_size=2, transform=lambda b: b.float() / 255)
    torch.testing.assert_close(h, x.flatten(1).float() / 255)
