"""The one training loop: run directory contract, determinism, bit-identical resume, NaN stop, bad options."""

import dataclasses
import json
import math
import re

import pandas as pd
import pytest
import torch
from torch import nn

from mi_ssl import monitor, objectives
from mi_ssl.data import load_dataset
from mi_ssl.errors import DivergenceError
from mi_ssl.networks import Encoder
from mi_ssl.training import NonFiniteLossError, fit, load_run, make_config

COLUMNS = ["epoch", "loss", "mi_cos_dv", "mi_infonce", "mi_jsd"]


@pytest.fixture(scope="module")
def toy():
    return load_dataset("gaussian", seed=0)


def _small(method, **kw):
    base = dict(epochs=3, batch_size=500, track_n=500, checkpoint_every=1, device="cpu")
    return make_config(method, "gaussian", **{**base, **kw})


def test_run_directory_contract(tmp_path, toy):
    res = fit(_small("jmi"), toy, out=tmp_path, progress=False)
    hist = pd.read_csv(tmp_path / "history.csv")
    assert list(hist.columns[:5]) == COLUMNS
    assert hist["epoch"].tolist() == [0, 1, 2, 3]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["method"] == "jmi" and summary["epochs"] == 3
    assert summary["provenance"]["torch"] == torch.__version__
    assert (tmp_path / "checkpoint.pt").exists()
    assert res.history.shape[0] == 4


@pytest.mark.parametrize("method", ["sdmi", "jmi", "simsiam", "byol", "mocov3", "simclr", "barlow_twins",
                                    "vicreg", "emi", "sdmi_nodv", "sdmi_nodv_pred", "simsiam_nopred",
                                    "simsiam_sdmi"])
def test_every_method_trains_on_the_toy(method, toy):
    res = fit(_small(method, epochs=2), toy, progress=False)
    h = res.history
    assert h["loss"].iloc[1:].map(math.isfinite).all()
    if method.startswith("simsiam"):
        assert h["mi_cos_dv"].iloc[0] == -math.inf  # no previous-epoch branch at epoch 0
        assert math.isfinite(h["mi_cos_dv"].iloc[-1])
    else:
        assert h[["mi_cos_dv", "mi_infonce", "mi_jsd"]].map(math.isfinite).all().all()
    if method.startswith("sdmi"):
        assert {"loss_E", "loss_M"} <= set(h.columns)


def test_same_seed_same_run(toy):
    a = fit(_small("sdmi"), toy, progress=False).history
    b = fit(_small("sdmi"), toy, progress=False).history
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))


def _assert_kill_and_resume_is_bit_identical(cfg, data, root, kill_at):
    """Train uninterrupted; train again but die after epoch ``kill_at``; resume; both must agree bit for bit."""
    full = fit(cfg, data, out=root / "full", progress=False)

    def die(epoch, learner):
        if epoch == kill_at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(cfg, data, out=root / "cut", progress=False, callbacks=[die])
    resumed = fit(cfg, data, out=root / "cut", progress=False, resume=True)
    pd.testing.assert_frame_equal(full.history.drop(columns="seconds"), resumed.history.drop(columns="seconds"))
    # the summary counts the epochs of both sessions, not only the resumed one's
    total = resumed.summary["train_seconds_total"]
    assert total == pytest.approx(resumed.history["seconds"].sum(), abs=1e-3)
    assert total > resumed.history["seconds"].iloc[kill_at + 1:].sum()
    for (k, p), (k2, q) in zip(full.learner.state_dict().items(), resumed.learner.state_dict().items()):
        assert k == k2 and torch.equal(p, q), k


@pytest.mark.parametrize("method", ["sdmi", "byol", "simsiam"])
def test_kill_and_resume_is_bit_identical(tmp_path, toy, method):
    _assert_kill_and_resume_is_bit_identical(_small(method, epochs=4), toy, tmp_path, kill_at=2)


def test_non_finite_loss_stops_with_message_and_keeps_last_checkpoint(tmp_path, toy, monkeypatch):
    calls = {"n": 0}
    real = objectives.OBJECTIVES["cos_dv"]

    def poisoned(za, zb, **kw):
        calls["n"] += 1
        loss = real(za, zb, **kw)
        return loss * float("nan") if calls["n"] > 20 else loss  # epochs 1-2 fine (5 batches x 2 orders)

    monkeypatch.setitem(objectives.OBJECTIVES, "cos_dv", poisoned)
    cfg = _small("jmi", epochs=5)
    with pytest.raises(NonFiniteLossError, match="non-finite at epoch 3.*Last good checkpoint"):
        fit(cfg, toy, out=tmp_path, progress=False)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2
    assert all(torch.isfinite(v).all() for v in state["learner"].values() if v.is_floating_point())


def test_exploding_weights_stop_the_run_and_name_the_last_good_checkpoint(tmp_path, toy):
    """The toy encoder l2-normalises its output, so its loss stays finite at a huge learning rate while its
    weights grow without bound: the guard stops the run on the weights."""
    with pytest.raises(DivergenceError) as err:
        fit(_small("jmi", epochs=6, lr=1e4, track_every=0), toy, out=tmp_path, progress=False)
    msg = str(err.value)
    m = re.search(r"at epoch (\d+) a weight of encoder f reached \|w\| = \S+ \(limit 1e\+04\): the weights are "
                  r"exploding\. The run stopped\. Last good checkpoint: (\S+) \(epoch (\d+)\)\. Try a smaller --lr "
                  r"\(now 10000\)\.$", msg)
    assert m, msg
    bad, named, good = int(m.group(1)), m.group(2), int(m.group(3))
    assert named == str(tmp_path / "checkpoint.pt") and good == bad - 1
    _, learner, state = load_run(tmp_path)
    assert state["epoch"] == good
    assert max(float(p.detach().abs().max()) for p in learner.parameters()) < monitor.WEIGHT_LIMIT
    assert pd.read_csv(tmp_path / "history.csv")["epoch"].tolist() == list(range(bad))   # up to the last good epoch


def test_the_divergence_guard_on_hand_made_encoders():
    """Healthy: None. Weights over the limit; backbone features h exploding (weights small, inputs large) while
    the batch-normalised embedding z is bounded; a non-finite weight."""
    torch.manual_seed(0)

    def encoder(w, bn=False):
        lin = nn.Linear(4, 4, bias=False)
        lin.weight.data = torch.eye(4) * w
        lin.feature_dim = 4
        return Encoder(lin, nn.BatchNorm1d(4) if bn else None)

    x = torch.randn(64, 4)
    assert monitor.divergence({"f": encoder(3.0)}, x) is None
    assert "weights are exploding" in monitor.divergence({"f": encoder(2e4)}, x)
    bn = encoder(100.0, bn=True)
    bn.projector.train()
    bn(x * 1e3)                                                      # z is batch-normalised in training mode
    reason = monitor.divergence({"f": encoder(3.0), "g": bn}, x * 1e3)  # h: std ~ 1e5 > 1e4 while |w| = 100
    assert reason.startswith("the backbone features h of encoder g have a coordinate with std")
    nan = encoder(1.0)
    nan.backbone.weight.data[0, 0] = float("nan")
    assert "weights are exploding" in monitor.divergence({"f": nan}, x)


def test_bad_options_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="momentum=0.9 is refused for method 'jmi'.*EMA target"):
        make_config("jmi", "gaussian", momentum=0.9)
    with pytest.raises(ValueError, match="schedule='batch' is refused for method 'byol'"):
        make_config("byol", "gaussian", schedule="batch")
    with pytest.raises(ValueError, match="unknown method 'dino'; allowed: sdmi"):
        make_config("dino", "gaussian")
    with pytest.raises(ValueError, match="unknown training option"):
        make_config("jmi", "gaussian", learning_rate=0.1)
    with pytest.raises(ValueError, match="batch_size=1 is not allowed"):
        make_config("jmi", "gaussian", batch_size=1)


def test_sdmi_batch_schedule_runs_and_differs_from_epoch_schedule(toy):
    a = fit(_small("sdmi"), toy, progress=False).history
    b = fit(_small("sdmi", schedule="batch"), toy, progress=False).history
    assert not a["loss"].iloc[1:].equals(b["loss"].iloc[1:])


def test_kill_and_resume_is_bit_identical_on_images(tmp_path):
    """Image path: uint8 data, batched augmentation drawn from the epoch's generator, a conv net with BN."""
    cfg = make_config("byol", "digits", epochs=2, batch_size=256, track_n=128, checkpoint_every=1, device="cpu",
                      proj_hidden=32, proj_dim=16, pred_hidden=16)
    _assert_kill_and_resume_is_bit_identical(cfg, load_dataset("digits"), tmp_path, kill_at=1)


def test_monotonicity_statistics_on_hand_made_curves():
    from mi_ssl.experiments import monotonicity

    up = monotonicity([0.0, 1.0, 2.0, 3.0, 4.0])
    assert up["spearman"] == pytest.approx(1.0) and up["nondecreasing"] == 1.0 and up["drawdown"] == 0.0
    dip = monotonicity([float("-inf"), 0.0, 2.0, 1.0, 3.0, 4.0])  # -inf dropped; one fall of 1 over a range of 4
    assert dip["drawdown"] == pytest.approx(0.25) and dip["strict_nondecreasing"] == pytest.approx(0.75)
    noisy_plateau = monotonicity([0.0, 10.0, 9.99, 10.0, 9.995])
    assert noisy_plateau["nondecreasing"] == 1.0 and noisy_plateau["strict_nondecreasing"] == 0.5


def test_cached_runs_are_keyed_on_the_data_as_well_as_the_config(tmp_path, toy):
    from mi_ssl.experiments import data_fingerprint, run

    cfg = _small("jmi", epochs=1)
    other = dataclasses.replace(toy, train_x=toy.train_x + 0.01)          # same name and shapes, other samples
    assert data_fingerprint(toy) == data_fingerprint(dataclasses.replace(toy)) != data_fingerprint(other)
    a = run(cfg, toy, cache_dir=tmp_path, progress=False)
    b = run(cfg, other, cache_dir=tmp_path, progress=False)
    again = run(cfg, toy, cache_dir=tmp_path, progress=False)
    assert a.out != b.out and again.out == a.out
    assert len(list(tmp_path.iterdir())) == 2
    pd.testing.assert_frame_equal(again.history.drop(columns="seconds"), a.history.drop(columns="seconds"))


def test_fingerprint_of_a_large_tensor_reads_spaced_rows_but_sees_shape_and_sampled_changes(monkeypatch, toy):
    from mi_ssl import experiments

    monkeypatch.setattr(experiments, "_FINGERPRINT_BYTES", 1024)        # toy train_x is 2500 x 2 float32 = 20 kB
    base = experiments.data_fingerprint(toy)
    first_row = toy.train_x.clone()
    first_row[0] += 1                                                      # row 0 is always among the sampled rows
    assert experiments.data_fingerprint(dataclasses.replace(toy, train_x=first_row)) != base
    shorter = dataclasses.replace(toy, train_x=toy.train_x[:-1], train_y=toy.train_y[:-1])
    assert experiments.data_fingerprint(shorter) != base


def test_compile_views_compiles_the_view_maker_of_fit(monkeypatch):
    from mi_ssl.data.augment import Augment

    compiled = []
    monkeypatch.setattr(Augment, "compile", lambda self: compiled.append(type(self).__name__) or self)
    cfg = make_config("jmi", "digits", epochs=1, batch_size=256, track_n=64, device="cpu", compile_views=True,
                      proj_hidden=32, proj_dim=16)
    fit(cfg, load_dataset("digits"), progress=False)
    assert compiled == ["ImageAugment"]
    assert not make_config("jmi", "digits").compile_views


def test_histories_are_those_recorded_before_the_one_loop_refactor(toy):
    """Recorded at commit ed0bb43 (before fit was split into rundir, views and learners): same seed, same
    numbers. A tolerance covers other CPUs' float summation order, and the tracked MI estimates' new N x N
    kernels (float32 row sums in another order: they moved by ~1e-6 nats, losses and weights did not).
    SimSiam, BYOL and Barlow Twins were re-recorded when their registry rows (issue 9) put the toy's
    l2-normalisation after SimSiam's/BYOL's predictor and not before Barlow Twins' loss, and BYOL's loss at its
    published scale (x4); SDMI and JMI, whose losses did not change, still match ed0bb43."""
    from pathlib import Path

    want = pd.read_csv(Path(__file__).parent / "data" / "toy_histories_ed0bb43.csv")
    for method, rows in want.groupby("method", sort=False):
        cfg = make_config(method, "gaussian", epochs=3, batch_size=500, track_n=500, device="cpu", seed=1)
        got = fit(cfg, toy, progress=False).history.reindex(columns=rows.columns.drop("method"))
        pd.testing.assert_frame_equal(got.reset_index(drop=True), rows.drop(columns="method").reset_index(drop=True),
                                      check_dtype=False, rtol=1e-5, atol=1e-5, obj=method)


def test_the_supervised_ceiling_is_stepped_by_fit(toy):
    """One more learner through the same loop: one view and the labels per minibatch, no tracked MI."""
    from mi_ssl.learners import build_supervised

    cfg = _small("jmi", epochs=3)
    res = fit(cfg, toy, progress=False, learner=build_supervised(cfg, toy))
    h = res.history
    assert res.summary["method"] == "supervised" and list(res.learner.phases) == ["supervised"]
    assert (h["mi_cos_dv"] == -math.inf).all()                            # no pair of branches to track
    assert h["loss"].iloc[1] < math.log(5) and h["loss"].iloc[-1] < h["loss"].iloc[1]
    f, head = res.learner.f.eval(), res.learner.head.eval()
    with torch.no_grad():
        acc = (head(f(toy.test_x)).argmax(1) == toy.test_y).float().mean()
    assert acc > 0.95                                                     # five separated clusters: learnt
