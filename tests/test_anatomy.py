"""Tests of :mod:`mi_ssl.anatomy` (what one update of each paradigm moves and what its graph holds) and of
:mod:`mi_ssl.roles` (what plays the DV marginal term, derived from the registry).

Ground truths: hand-built modules (which biases sit before a BatchNorm), hand-computed relative changes, the
stop-gradient's definition (a frozen branch builds no graph and saves nothing), the descent lemma (tiny gradient
steps never lower a smooth objective) and the registry's own fields.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mi_ssl import anatomy, roles
from mi_ssl.methods import METHODS, get_method
from mi_ssl.objectives import EXPLICIT_MI, cos_dv
from mi_ssl.paradigms import AlternatingEM, JointStep


def _mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def _views(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, generator=g)
    return x + 0.1 * torch.randn(n, 2, generator=g), x + 0.1 * torch.randn(n, 2, generator=g)


def test_pre_bn_biases_finds_exactly_the_biases_in_front_of_a_batchnorm() -> None:
    net = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.ReLU(),
                        nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)), nn.Linear(4, 2))
    assert anatomy.pre_bn_biases(net) == {"0.bias", "3.0.bias"}
    assert anatomy.pre_bn_biases(nn.Sequential(nn.Linear(2, 2, bias=False), nn.BatchNorm1d(2))) == set()


def test_state_changes_hand_computed() -> None:
    net = nn.Sequential(nn.Linear(1, 1), nn.BatchNorm1d(1))
    before = anatomy.state_snapshot(net)
    with torch.no_grad():
        net[0].weight.copy_(before["0.weight"] * 2)        # |2w - w| / |2w| = 1/2
    after = anatomy.state_snapshot(net)
    t = anatomy.state_changes("s", net, before, after).set_index("tensor")
    assert "1.num_batches_tracked" not in t.index
    assert t.loc["0.weight", "rel_change"] == pytest.approx(0.5)
    assert not t.loc["0.weight", "bit_identical"] and t.loc["0.bias", "bit_identical"]
    assert t.loc["1.running_mean", "kind"] == "buffer" and t.loc["0.bias", "pre_bn"]


def test_stop_gradient_branch_builds_no_graph_and_saves_nothing() -> None:
    learner = AlternatingEM(_mlp(0), _mlp(1), cos_dv, {"tau": 0.5})
    v1, v2 = _views()
    for phase, trained, frozen in (("E", "f", "g"), ("M", "g", "f")):
        an = anatomy.autograd_anatomy(learner, lambda phase=phase: learner.loss(phase, v1, v2))
        assert [n for n, _ in an.outputs].count(frozen) == 2
        assert all(o.grad_fn is None and not o.requires_grad for n, o in an.outputs if n == frozen)
        assert all(o.grad_fn is not None for n, o in an.outputs if n == trained)
        assert an.saved[frozen] == 0 and an.saved[trained] > 0
    both = anatomy.autograd_anatomy(learner, lambda: anatomy.no_stop_gradient_loss(learner, v1, v2))
    assert both.saved["f"] == both.saved["g"] > 0
    # the hooks are gone afterwards
    assert not learner.f._forward_hooks and not learner.f._forward_pre_hooks


def test_no_stop_gradient_loss_has_the_value_of_the_step_losses() -> None:
    learner = AlternatingEM(_mlp(0), _mlp(1), cos_dv, {"tau": 0.5})
    v1, v2 = _views()
    full = float(anatomy.no_stop_gradient_loss(learner, v1, v2).detach())
    assert full == pytest.approx(float(learner.loss("E", v1, v2).detach()), abs=1e-6)
    assert full == pytest.approx(float(learner.loss("M", v1, v2).detach()), abs=1e-6)


@pytest.mark.parametrize("mode,length", [("alternating", 1 + 2 * 5), ("joint", 1 + 5)])
def test_block_ascent_tiny_steps_never_lower_the_objective(mode: str, length: int) -> None:
    learner = AlternatingEM(_mlp(0), _mlp(1), cos_dv, {"tau": 0.5})
    v1, v2 = _views()
    before = anatomy.state_snapshot(learner)
    v = anatomy.block_ascent(learner, v1, v2, lr=1e-3, steps=5, mode=mode)
    assert v.shape == (length,)
    assert (np.diff(v) >= -1e-6).all() and v[-1] > v[0]     # descent lemma: small steps ascend
    assert all(torch.equal(before[k], t) for k, t in anatomy.state_snapshot(learner).items())  # on a copy


def test_block_ascent_refuses_bad_input() -> None:
    v1, v2 = _views()
    with pytest.raises(TypeError, match="AlternatingEM"):
        anatomy.block_ascent(JointStep(_mlp(0), cos_dv), v1, v2, 0.1, 1)
    learner = AlternatingEM(_mlp(0), _mlp(1), cos_dv)
    with pytest.raises(ValueError, match="mode"):
        anatomy.block_ascent(learner, v1, v2, 0.1, 1, mode="sideways")
    with pytest.raises(ValueError, match="lr"):
        anatomy.block_ascent(learner, v1, v2, -0.1, 1)


def test_seed_anatomy_on_the_registry_learners() -> None:
    t = anatomy.seed_anatomy([0], batch_size=64, lrs=(0.003,), steps=2)
    assert t["init"].same_init.all() and t["init"].g_differs.all()
    ch = t["changes"]
    e_step_g = ch[(ch.step == "SDMI E") & (ch.encoder == "g") & (ch.kind == "parameter")]
    m_step_f = ch[(ch.step == "SDMI M") & (ch.encoder == "f") & (ch.kind == "parameter")]
    assert len(e_step_g) and e_step_g.bit_identical.all() and m_step_f.bit_identical.all()
    moved = ch[(ch.step == "JMI joint") & (ch.kind == "parameter") & ~ch.pre_bn]
    assert (~moved.bit_identical).all()
    out = t["outputs"]
    assert (out[(out.step == "SDMI E") & (out.encoder == "g")].grad_norm == 0).all()
    assert (out[out.step == "JMI joint"].grad_norm > 0).all()
    assert set(t["ascent"]["mode"]) == {"alternating", "joint"} and (t["ascent"].seed == 0).all()


# --------------------------------------------------------------------------- roles of the marginal term
def test_every_registry_method_has_a_marginal_term() -> None:
    table = roles.marginal_table()
    assert list(table.method) == list(METHODS)
    assert set(table.marginal_kind) <= set(roles.MARGINAL_KINDS)


def test_marginal_term_follows_objective_and_predictor() -> None:
    for name in METHODS:
        kind, _ = roles.marginal_term(name)
        m = get_method(name)
        if m.objective in EXPLICIT_MI:
            assert kind in ("log-partition", "negatives", "Gaussian entropies"), name
        elif roles.OBJECTIVE_MARGINAL[m.objective] is None:
            assert kind == ("none" if m.predictor == "none" else "predictor"), name
    assert roles.marginal_term("sdmi_nodv")[0] == "none"
    assert roles.marginal_term("simsiam")[0] == "predictor"
    with pytest.raises(ValueError, match="unknown method"):
        roles.marginal_term("nope")
