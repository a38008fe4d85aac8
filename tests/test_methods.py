"""The registry: names, taxonomy derived from configuration agrees with the paper's Table 7; each method's loss
sees the embedding, ends its head and scales its loss as its row says (and as it was published)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mi_ssl import methods as M
from mi_ssl.config import make_config
from mi_ssl.learners import build_learner
from mi_ssl.objectives import get_objective

DESIGN_NAMES = {"sdmi", "jmi", "simsiam", "byol", "mocov3", "simclr", "barlow_twins", "vicreg", "emi",
                "sdmi_nodv", "sdmi_nodv_pred", "simsiam_nopred", "simsiam_sdmi"}


def test_every_design_name_is_registered():
    assert set(M.METHODS) == DESIGN_NAMES
    assert set(M.ABLATIONS) == {"sdmi_nodv", "sdmi_nodv_pred", "simsiam_nopred", "simsiam_sdmi"}


@pytest.mark.parametrize("name", [n for n, m in M.METHODS.items() if m.table7])
def test_taxonomy_agrees_with_table7(name):
    m = M.METHODS[name]
    assert (m.em_or_joint, m.objective_type, m.paradigm) == M.PAPER_TABLE7[m.table7]


def test_prototypes_and_ablations_are_placed_as_the_paper_says():
    assert M.METHODS["sdmi"].paradigm == "SDMI" and M.METHODS["sdmi"].objective_type == "Explicit MI"
    assert M.METHODS["jmi"].paradigm == "JMI" and M.METHODS["jmi"].objective_type == "Explicit MI"
    assert M.METHODS["emi"].paradigm == "JMI" and M.METHODS["emi"].objective_type == "Explicit MI"
    assert M.METHODS["sdmi_nodv"].objective == "joint_only"
    assert M.METHODS["sdmi_nodv_pred"].predictor == "both"
    assert M.METHODS["simsiam_nopred"].predictor == "none"
    assert M.METHODS["simsiam_sdmi"].objective == "cos_dv" and M.METHODS["simsiam_sdmi"].update == "copy"


_ROW = {"name": "x", "title": "x", "objective": "cos_dv", "update": "joint", "objective_keys": ("tau",),
        "loss_on": "normalised", "head_end": "bn", "source": "a test"}


def test_invalid_configurations_are_refused():
    with pytest.raises(ValueError, match="no predictor"):
        M.Method(**{**_ROW, "predictor": "online"})
    with pytest.raises(ValueError, match="two encoders"):
        M.Method(**{**_ROW, "update": "ema", "predictor": "both"})
    with pytest.raises(ValueError, match="loss_on='sphere' is unknown; allowed: embedding, normalised"):
        M.Method(**{**_ROW, "loss_on": "sphere"})
    with pytest.raises(ValueError, match="head_end='ln' is unknown; allowed: bn, linear"):
        M.Method(**{**_ROW, "head_end": "ln"})
    with pytest.raises(ValueError, match="loss_scale must be > 0"):
        M.Method(**{**_ROW, "loss_scale": 0.0})
    with pytest.raises(ValueError, match="loss_scale_tau=True needs 'tau'"):
        M.Method(**{**_ROW, "objective_keys": (), "loss_scale_tau": True})
    with pytest.raises(ValueError, match="source must say"):
        M.Method(**{**_ROW, "source": ""})
    with pytest.raises(TypeError, match="loss_on"):  # every row states it: no default
        M.Method(**{k: v for k, v in _ROW.items() if k != "loss_on"})


def test_unknown_names_list_what_is_allowed():
    with pytest.raises(ValueError, match="allowed: sdmi, jmi"):
        M.get_method("dino")
    with pytest.raises(ValueError, match="allowed: .*cifar10"):
        M.hyperparameters("jmi", "mnist")


def test_paper_hyperparameters_are_tables_5_and_6():
    hp = M.hyperparameters("sdmi", "cifar100", "paper")
    assert (hp["lr"], hp["weight_decay"], hp["tau"], hp["proj_dim"], hp["proj_layers"]) == (0.03, 5e-4, 0.1, 256, 2)
    assert hp["batch_size"] == 512 and hp["proj_hidden"] == 2048 and hp["epochs"] == 1000
    assert M.hyperparameters("simclr", "cifar10", "paper")["proj_dim"] == 128
    assert M.hyperparameters("byol", "cifar10", "paper")["momentum"] == 0.996
    assert M.hyperparameters("sdmi", "imagenet100", "paper")["batch_size"] == 64
    assert M.hyperparameters("jmi", "imagenet100", "paper")["batch_size"] == 256
    tiny = M.hyperparameters("vicreg", "tinyimagenet", "paper")
    assert (tiny["epochs"], tiny["warmup_epochs"], tiny["backbone"]) == (1000, 5, "resnet18")
    with pytest.raises(ValueError, match="profile 'paper' has no settings"):
        M.hyperparameters("jmi", "gaussian", "paper")


# ---------------------------------------------------------------- normalisation, head end and loss scale per method
_SHAPES = {"gaussian": (2,), "digits": (1, 8, 8), "mnist1d": (1, 40), "cifar10": (3, 32, 32)}


def _recording(learner):
    """Wrap the learner's objective so that every call's two inputs are kept (``symmetric`` still applies)."""
    calls, objective = [], learner.objective

    def recorded(a, b, **kw):
        calls.append((a.detach().clone(), b.detach().clone()))
        return objective(a, b, **kw)

    recorded.symmetric = getattr(objective, "symmetric", False)
    learner.objective = recorded
    return calls


def _toy_views(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    return x + 0.1 * torch.randn(n, 2, generator=g), x + 0.1 * torch.randn(n, 2, generator=g)


@pytest.mark.parametrize("name", list(M.METHODS))
def test_each_methods_loss_sees_what_its_row_says(name):
    m = M.METHODS[name]
    learner = build_learner(make_config(name, "gaussian", seed=0), (2,))
    calls = _recording(learner)
    v1, v2 = _toy_views()
    loss = learner.loss(learner.phases[0], v1, v2)
    assert calls
    seen = [t for call in calls for t in call]
    unit = [torch.allclose(t.norm(dim=1), torch.ones(len(t)), atol=1e-5) for t in seen]
    if m.loss_on == "normalised":
        assert all(unit)
    else:  # the toy MLP's raw 3-D output (last BN): the very tensors the encoder computes, off the sphere
        assert not any(unit)
        with torch.no_grad():
            torch.testing.assert_close(seen[0], learner.f(v1))
            torch.testing.assert_close(seen[1], learner.f(v2))
    # the learner's loss is the row's factor times Algorithms 1-2's symmetrised pair loss
    with torch.no_grad():
        vals = [get_objective(m.objective)(a, b, **learner.objective_kwargs) for a, b in calls]
        expected = vals[0] if len(vals) == 1 else 0.5 * (vals[0] + vals[1])
    torch.testing.assert_close(loss.detach(), m.loss_factor(learner.objective_kwargs) * expected)


@pytest.mark.parametrize("name", list(M.METHODS))
def test_each_methods_projection_head_ends_as_its_row_says(name):
    learner = build_learner(make_config(name, "mnist1d", seed=0), _SHAPES["mnist1d"])
    for enc in learner.encoders().values():
        last = list(enc.projector.net)[-1]
        if M.METHODS[name].head_end == "bn":
            assert isinstance(last, nn.BatchNorm1d) and not last.affine
        else:
            assert type(last) is nn.Linear and last.bias is not None


def test_byol_loss_is_published_scale():
    """BYOL (Grill et al. 2020, Eq. 2): sum over the two view orders of mean(2 - 2 cos(q, z'))."""
    learner = build_learner(make_config("byol", "gaussian", seed=0), (2,))
    calls = _recording(learner)
    loss = learner.loss("online", *_toy_views())
    published = sum((2 - 2 * F.cosine_similarity(p, t, dim=1)).mean() for p, t in calls)
    torch.testing.assert_close(loss.detach() + 4.0, published)


@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_mocov3_loss_is_published_scale(tau):
    """MoCo-v3's reference: CrossEntropy(q k^T / tau, arange) * 2 tau per view order, the two orders summed."""
    learner = build_learner(make_config("mocov3", "gaussian", seed=0, tau=tau), (2,))
    calls = _recording(learner)
    loss = learner.loss("online", *_toy_views())
    published = sum(2 * tau * F.cross_entropy(F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / tau,
                                              torch.arange(len(q))) for q, k in calls)
    torch.testing.assert_close(loss.detach(), published)


def test_loss_factor_and_its_words():
    assert M.METHODS["mocov3"].loss_factor({"tau": 0.2}) == pytest.approx(0.8)
    assert M.METHODS["byol"].loss_factor({}) == 4.0 and M.METHODS["jmi"].loss_factor({"tau": 0.2}) == 1.0
    assert [M.METHODS[n].scale_text for n in ("mocov3", "byol", "sdmi")] == ["4τ", "4", "1"]
    with pytest.raises(ValueError, match="no 'tau'"):
        M.METHODS["mocov3"].loss_factor({})


def test_taxonomy_shows_where_the_loss_sees_the_embedding():
    rows = {r["method"]: r for r in M.taxonomy()}
    assert (rows["vicreg"]["loss_on"], rows["vicreg"]["head_end"]) == ("embedding", "linear")
    assert (rows["barlow_twins"]["loss_on"], rows["barlow_twins"]["head_end"]) == ("embedding", "linear")
    assert (rows["simsiam"]["loss_on"], rows["simsiam"]["head_end"]) == ("normalised", "BN")
    assert rows["mocov3"]["loss_scale"] == "4τ" and rows["byol"]["loss_scale"] == "4"
    assert {r["loss_on"] for n, r in rows.items() if M.METHODS[n].objective in
            ("cos_dv", "joint_only", "nt_xent", "moco_infonce", "negative_cosine")} == {"normalised"}


def _variance_hinge(z, eps=1e-4):
    """VICReg's variance term of one branch, written out: mean_d relu(1 - sqrt(Var z_d + eps))."""
    return torch.relu(1 - torch.sqrt(z.var(0) + eps)).mean()


@pytest.mark.parametrize("dataset", list(_SHAPES))
def test_vicreg_variance_term_is_nonzero_on_a_collapsed_batch_at_every_scale(dataset):
    """An encoder whose embedding has shrunk to about 1 % of its spread (last layer scaled by 0.01): VICReg's loss
    must see that collapse (hinge near 1). With the head ending in a non-affine BN, as it did for every method, each
    dimension is re-standardised to unit variance (up to BN's eps), so the hinge stays near 0 for any encoder that
    has not collapsed exactly; on the toy's l2-normalised output no dimension can reach std 1."""
    torch.manual_seed(0)
    learner = build_learner(make_config("vicreg", dataset, seed=0), _SHAPES[dataset])
    last = [mod for mod in learner.f.modules() if getattr(mod, "weight", None) is not None][-1]
    with torch.no_grad():
        last.weight.mul_(0.01)
        if getattr(last, "bias", None) is not None:
            last.bias.zero_()
    calls = _recording(learner)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(32, *_SHAPES[dataset], generator=g)
    learner.loss("joint", x, x + 0.05 * torch.randn(x.shape, generator=g))
    for z in calls[0]:
        assert z.std(0).max() < 0.2
        assert _variance_hinge(z) > 0.8
