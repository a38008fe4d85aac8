"""Update rules: what is updated when, where the stop-gradient sits, EMA and copy targets."""

import math

import pytest
import torch
from torch import nn

from mi_ssl import objectives as O
from mi_ssl.networks import Encoder, build_backbone
from mi_ssl.paradigms import AlternatingEM, JointStep, Supervised, TargetNetwork


def _net(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def _views(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(16, 4, generator=g), torch.randn(16, 4, generator=g)


def _grads(module):
    return [p.grad for p in module.parameters()]


def test_joint_step_moves_the_shared_encoder_through_both_views():
    f = _net(0)
    learner = JointStep(f, O.cos_dv, {"tau": 0.5})
    v1, v2 = _views()
    learner.loss("joint", v1, v2).backward()
    assert all(g is not None and g.abs().sum() > 0 for g in _grads(f))
    assert learner.tracked_pair() == (f, f)


def test_em_steps_update_only_their_encoder_and_frozen_branch_builds_no_graph():
    f, g = _net(0), _net(1)
    learner = AlternatingEM(f, g, O.cos_dv, {"tau": 0.5})
    v1, v2 = _views()
    loss_e = learner.loss("E", v1, v2)
    loss_e.backward()
    assert all(p.grad is not None for p in f.parameters())
    assert all(p.grad is None for p in g.parameters())
    f.zero_grad(set_to_none=True)
    learner.loss("M", v1, v2).backward()
    assert all(p.grad is not None for p in g.parameters())
    assert all(p.grad is None for p in f.parameters())
    # optimiser groups follow the phases
    assert {id(p) for p in learner.parameters_for("E")} == {id(p) for p in f.parameters()}
    assert {id(p) for p in learner.parameters_for("M")} == {id(p) for p in g.parameters()}


def test_em_loss_is_algorithm_1_symmetrised():
    f, g = _net(0), _net(1)
    learner = AlternatingEM(f, g, O.cos_dv, {"tau": 0.5})
    v1, v2 = _views()
    with torch.no_grad():
        expected = 0.5 * (O.cos_dv(f(v1), g(v2), tau=0.5) + O.cos_dv(f(v2), g(v1), tau=0.5))
        assert torch.allclose(learner.loss("E", v1, v2), expected)
        expected_m = 0.5 * (O.cos_dv(g(v1), f(v2), tau=0.5) + O.cos_dv(g(v2), f(v1), tau=0.5))
        assert torch.allclose(learner.loss("M", v1, v2), expected_m)


def test_em_needs_two_distinct_encoders():
    f = _net(0)
    try:
        AlternatingEM(f, f, O.cos_dv)
    except ValueError as e:
        assert "two independent encoders" in str(e)
    else:
        raise AssertionError("same encoder twice was accepted")


def test_ema_target_update_is_eq9():
    f = _net(0)
    learner = TargetNetwork(f, O.negative_cosine, predictor=nn.Linear(3, 3), target="ema", momentum=0.9)
    with torch.no_grad():
        for p in f.parameters():
            p.add_(1.0)
    before = [p.clone() for p in learner.g.parameters()]
    learner.after_step("online")
    for t_old, t_new, o in zip(before, learner.g.parameters(), f.parameters()):
        assert torch.allclose(t_new, 0.9 * t_old + 0.1 * o)
    assert all(not p.requires_grad for p in learner.g.parameters())
    v1, v2 = _views()
    learner.loss("online", v1, v2).backward()
    assert all(p.grad is None for p in learner.g.parameters())


def test_copy_target_detaches_and_tracks_previous_epoch():
    f = _net(0)
    learner = TargetNetwork(f, O.negative_cosine, target="copy")
    assert learner.tracked_pair() is None  # epoch 0: no previous-epoch branch (-inf by convention)
    learner.end_epoch()
    a, b = learner.tracked_pair()
    assert a is f and b is not f
    assert all(torch.equal(p, q) for p, q in zip(f.parameters(), b.parameters()))
    # without a predictor the copied-target loss still has gradient only through the online side
    v1, v2 = _views()
    loss = learner.loss("online", v1, v2)
    loss.backward()
    assert all(p.grad is not None for p in f.parameters())


def test_supervised_loss_is_cross_entropy_of_the_labels():
    """With a zero classifier every class has probability 1/K, so the loss is ln K whatever the encoder."""
    backbone = build_backbone("toy_mlp", (2,))
    head = nn.Linear(backbone.feature_dim, 4)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    learner = Supervised(Encoder(backbone), head)
    x, y = torch.randn(8, 2), torch.arange(8) % 4
    assert float(learner.loss("supervised", x, y).detach()) == pytest.approx(math.log(4), rel=1e-6)
    assert learner.uses_labels and learner.tracked_pair() is None and set(learner.encoders()) == {"f"}
    assert len(learner.parameters_for("supervised")) == len(list(backbone.parameters())) + 2
    with pytest.raises(ValueError, match="phase must be one of"):
        learner.loss("joint", x, y)


def test_loss_on_normalised_feeds_unit_rows_and_loss_scale_multiplies():
    f = _net(0)
    v1, v2 = _views()
    seen = []

    def probe(a, b):
        seen.append((a, b))
        return (a * b).sum(dim=1).mean()  # scale-dependent on purpose

    plain = JointStep(f, probe)
    scaled = JointStep(f, probe, loss_on="normalised", loss_scale=3.0)
    with torch.no_grad():
        z1, z2 = f(v1), f(v2)
        torch.testing.assert_close(plain.loss("joint", v1, v2), (z1 * z2).sum(1).mean())  # as computed
        n1, n2 = torch.nn.functional.normalize(z1, dim=1), torch.nn.functional.normalize(z2, dim=1)
        torch.testing.assert_close(scaled.loss("joint", v1, v2), 3.0 * (n1 * n2).sum(1).mean())
    a, b = seen[-1]
    torch.testing.assert_close(a.norm(dim=1), torch.ones(len(a)))
    with pytest.raises(ValueError, match="loss_on='sphere' is unknown; allowed: embedding, normalised"):
        JointStep(f, probe, loss_on="sphere")
    with pytest.raises(ValueError, match="loss_scale must be > 0"):
        JointStep(f, probe, loss_scale=0.0)
