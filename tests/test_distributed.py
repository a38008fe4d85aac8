"""DDP correctness on CPU (gloo, 2 processes): the distributed loss and gradients equal the single-process ones.

Ground truth is the single-process computation on the same global batch (16 rows, split 8/8). The
distributed side runs in one pair of processes (start-up dominates the cost) started with
``torch.multiprocessing.spawn`` on free localhost ports; they save what they computed and the test
process compares. The same pair then runs ``fit`` as torchrun would launch it. A deliberately
wrong gather (backward without the all-reduce, lightly issue #1176) must give different
gradients — half the true ones — so these tests can fail.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from mi_ssl import distributed, objectives
from mi_ssl.data import load_dataset
from mi_ssl.data.augment import make_augment
from mi_ssl.training import Stepper, build_learner, load_run, make_config

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available in this PyTorch build",
)

WORLD = 2
GLOBAL = 16
LOCAL = GLOBAL // WORLD
SPAWN_TIMEOUT_S = 150.0
WHOLE_BATCH = ["cos_dv", "nt_xent", "moco_infonce", "barlow_twins", "vicreg", "emi"]
KWARGS = {"cos_dv": {"tau": 0.5}, "nt_xent": {"tau": 0.5}, "moco_infonce": {"tau": 0.5}}
# one method per update rule x objective family; the toy encoder has two BatchNorm1d layers (SyncBN path)
METHODS = ["jmi", "sdmi", "sdmi_nodv_pred", "simclr", "byol", "mocov3", "simsiam", "barlow_twins", "vicreg", "emi"]
RTOL, ATOL = 1e-5, 1e-9
FIT_METHODS = ("jmi", "sdmi")  # fit end to end: JointStep, and AlternatingEM (two DDP modules)


# =========================================================================== process plumbing
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(fn, *args) -> None:
    """Run ``fn(rank, *args)`` in WORLD processes; fail (after killing them) past SPAWN_TIMEOUT_S."""
    ctx = mp.spawn(fn, args=args, nprocs=WORLD, join=False)
    deadline = time.monotonic() + SPAWN_TIMEOUT_S
    while not ctx.join(timeout=1.0):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                if p.is_alive():
                    p.terminate()
            pytest.fail(f"distributed workers did not finish within {SPAWN_TIMEOUT_S:.0f} s")


def _init_group(rank: int, port: int) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=60))


class _NaiveGather(torch.autograd.Function):
    """The bug: all_gather forward, backward only slices this rank's rows (no all-reduce)."""

    @staticmethod
    def forward(ctx, x):
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad):
        r = dist.get_rank()
        return grad[r * LOCAL:(r + 1) * LOCAL]


def _linear_encoder(state: dict) -> nn.Module:
    enc = nn.Linear(6, 4).double()
    enc.load_state_dict(state)
    return enc


def _objective_grads(enc: nn.Module, x1, x2, name: str, gather) -> tuple[float, list[torch.Tensor]]:
    loss = objectives.get_objective(name)(gather(enc(x1)), gather(enc(x2)), **KWARGS.get(name, {}))
    loss.backward()
    module = distributed.unwrap_ddp(enc)
    return float(loss.detach()), [p.grad.clone() for p in module.parameters()]


def _method_steps(learner, cfg, v1, v2, shard: slice = slice(None), ddp: bool = False) -> dict:
    """One optimiser step per phase on views ``v1[shard], v2[shard]``; losses, gradients, final state."""
    stepper = Stepper(cfg, learner, torch.device("cpu"))
    if ddp:
        distributed.prepare_learner(learner, torch.device("cpu"))
    out = {"loss": {}, "grad": {}}
    for ph in learner.phases:
        out["loss"][ph] = float(stepper(ph, v1[shard], v2[shard], 0.5))
        out["grad"][ph] = [p.grad.clone() for p in learner.parameters_for(ph)]
    if ddp:
        distributed.release_learner(learner)
    out["state"] = {k: v.clone() for k, v in learner.state_dict().items()}
    return out


def _grads_part(rank: int, port: int, tmp: str) -> None:
    _init_group(rank, port)
    try:
        inp = torch.load(Path(tmp) / "inputs.pt")
        sl = distributed.shard_slice(GLOBAL)
        assert sl == slice(rank * LOCAL, (rank + 1) * LOCAL)
        x1, x2 = inp["x1"][sl], inp["x2"][sl]
        res: dict = {"objective": {}, "naive": {}, "method": {}}
        for name in WHOLE_BATCH:
            enc = distributed.wrap_ddp(_linear_encoder(inp["enc"]), torch.device("cpu"))
            res["objective"][name] = _objective_grads(enc, x1, x2, name, distributed.gather_with_grad)
            enc = distributed.wrap_ddp(_linear_encoder(inp["enc"]), torch.device("cpu"))
            res["naive"][name] = _objective_grads(enc, x1, x2, name, _NaiveGather.apply)
        data = load_dataset("gaussian", seed=0)
        for method in METHODS:
            cfg = make_config(method, "gaussian", batch_size=GLOBAL, device="cpu")
            learner = build_learner(cfg, data).double()
            distributed.convert_sync_bn(learner)
            res["method"][method] = _method_steps(learner, cfg, inp["v1"], inp["v2"], sl, ddp=True)
        torch.save(res, Path(tmp) / f"grads{rank}.pt")
    finally:
        dist.destroy_process_group()


def _fit_part(rank: int, ports: tuple[int, int], tmp: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank),
                      MI_SSL_PROGRESS="0")
    from mi_ssl.training import fit

    out = {}
    for method, port in zip(FIT_METHODS, ports, strict=True):
        os.environ["MASTER_PORT"] = str(port)
        cfg = make_config(method, "gaussian", epochs=2, batch_size=500, track_n=500, device="cpu")
        res = fit(cfg, out=Path(tmp) / method / f"rank{rank}", progress=False)
        assert not dist.is_initialized(), "fit must destroy the process group it created"
        out[method] = {"history": res.history.drop(columns="seconds"), "state": res.learner.state_dict(),
                       "classes": sorted({type(m).__name__ for m in res.learner.modules()})}
    torch.save(out, Path(tmp) / f"fit{rank}.pt")


def _worker(rank: int, ports: tuple[int, int, int], tmp: str) -> None:
    """Everything the distributed side computes, in one pair of processes."""
    _grads_part(rank, ports[0], tmp)
    _fit_part(rank, ports[1:], tmp)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Inputs, the single-process reference, what the two ranks computed, and their fit results."""
    tmp = tmp_path_factory.mktemp("ddp")
    g = torch.Generator().manual_seed(0)
    enc_state = nn.Linear(6, 4).double().state_dict()
    x1 = torch.randn(GLOBAL, 6, generator=g, dtype=torch.float64)
    x2 = x1 + 0.3 * torch.randn(GLOBAL, 6, generator=g, dtype=torch.float64)
    data = load_dataset("gaussian", seed=0)
    aug = make_augment(data)
    xb = data.train_x[:GLOBAL]
    v1, v2 = aug(xb, g).double(), aug(xb, g).double()
    torch.save({"enc": enc_state, "x1": x1, "x2": x2, "v1": v1, "v2": v2}, tmp / "inputs.pt")
    _spawn(_worker, (_free_port(), _free_port(), _free_port()), str(tmp))
    ranks = [torch.load(tmp / f"grads{r}.pt") for r in range(WORLD)]
    fits = [torch.load(tmp / f"fit{r}.pt", weights_only=False) for r in range(WORLD)]

    ref: dict = {"objective": {}, "method": {}}
    for name in WHOLE_BATCH:
        ref["objective"][name] = _objective_grads(_linear_encoder(enc_state), x1, x2, name, lambda t: t)
    for method in METHODS:
        cfg = make_config(method, "gaussian", batch_size=GLOBAL, device="cpu")
        ref["method"][method] = _method_steps(build_learner(cfg, data).double(), cfg, v1, v2)
    return ref, ranks, fits, tmp


# =========================================================================== gathered objectives and DDP steps
def _close(a, b) -> bool:
    return all(torch.allclose(x, y, rtol=RTOL, atol=ATOL) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", WHOLE_BATCH)
def test_distributed_loss_equals_single_process_loss(runs, name):
    ref, ranks, _, _ = runs
    want = ref["objective"][name][0]
    for r, res in enumerate(ranks):
        assert res["objective"][name][0] == pytest.approx(want, rel=RTOL), f"rank {r}"


@pytest.mark.parametrize("name", WHOLE_BATCH)
def test_ddp_gradients_equal_single_process_gradients(runs, name):
    ref, ranks, _, _ = runs
    want = ref["objective"][name][1]
    assert any(bool((w != 0).any()) for w in want)  # a non-trivial gradient
    for r, res in enumerate(ranks):
        assert _close(res["objective"][name][1], want), f"rank {r}: {res['objective'][name][1]} != {want}"


@pytest.mark.parametrize("name", WHOLE_BATCH)
def test_wrong_gather_gives_wrong_gradients(runs, name):
    """Without the all-reduce in backward the DDP gradient is 1/WORLD of the true one: detected."""
    ref, ranks, _, _ = runs
    want = ref["objective"][name][1]
    for res in ranks:
        got = res["naive"][name][1]
        assert res["naive"][name][0] == pytest.approx(ref["objective"][name][0], rel=RTOL)  # forward is fine
        assert not _close(got, want)
        assert _close(got, [w / WORLD for w in want])


@pytest.mark.parametrize("method", METHODS)
def test_ddp_step_of_every_paradigm_matches_single_process(runs, method):
    """The real learners (toy MLP with BatchNorm -> SyncBatchNorm, EMA targets, predictors): one optimiser
    step per phase on 8 + 8 rows equals one step on the 16 rows: losses, gradients, weights, BN statistics."""
    ref, ranks, _, _ = runs
    want = ref["method"][method]
    for r, res in enumerate(ranks):
        got = res["method"][method]
        for ph, loss in want["loss"].items():
            assert got["loss"][ph] == pytest.approx(loss, rel=RTOL), f"rank {r} phase {ph}"
            assert _close(got["grad"][ph], want["grad"][ph]), f"rank {r} phase {ph}"
        assert got["state"].keys() == want["state"].keys()
        for k, v in want["state"].items():
            if v.is_floating_point():
                assert torch.allclose(got["state"][k], v, rtol=RTOL, atol=ATOL), f"rank {r} {k}"
            else:
                assert torch.equal(got["state"][k], v), f"rank {r} {k}"


# =========================================================================== end to end through fit
@pytest.mark.parametrize("method", FIT_METHODS)
def test_fit_under_two_processes(runs, method):
    """``fit`` launched as torchrun launches it (env vars): trains, rank 0 alone writes, the ranks stay in sync."""
    _, _, fits, tmp = runs
    rank0, rank1 = tmp / method / "rank0", tmp / method / "rank1"
    hist = pd.read_csv(rank0 / "history.csv")
    assert hist["epoch"].tolist() == [0, 1, 2]
    assert hist[["loss", "mi_cos_dv", "mi_infonce", "mi_jsd"]].iloc[1:].notna().all().all()
    assert (rank0 / "summary.json").exists() and (rank0 / "checkpoint.pt").exists()
    assert json.loads((rank0 / "summary.json").read_text())["provenance"]["world_size"] == WORLD
    assert not rank1.exists(), "only rank 0 writes (not even the directory)"
    a, b = (res[method] for res in fits)
    pd.testing.assert_frame_equal(a["history"], b["history"])  # global loss and MI: the same on both ranks
    for k, v in a["state"].items():
        assert torch.equal(v, b["state"][k]), f"{method}: ranks diverged at {k}"
    assert not {"DistributedDataParallel", "_TransparentDDP", "SyncBatchNorm"} & set(a["classes"])
    _, learner, _ = load_run(rank0)  # the checkpoint loads into a single-process learner
    for k, v in learner.state_dict().items():
        assert torch.equal(v, a["state"][k]), k


def test_shard_slices_partition_the_global_batch():
    for b, w in [(16, 2), (12, 3), (10, 4)]:
        rows = [i for r in range(w) for i in range(b)[distributed.shard_slice(b, r, w)]]
        assert rows == list(range(w * (b // w)))
    with pytest.raises(ValueError, match="world_size"):
        distributed.shard_slice(1, 0, 2)


def test_single_process_is_untouched():
    """Without a process group every helper is the identity and the learner is not wrapped."""
    x = torch.randn(4, 3, requires_grad=True)
    assert distributed.gather_with_grad(x) is x and distributed.world_size() == 1 and distributed.rank() == 0
    assert not distributed.is_distributed()
