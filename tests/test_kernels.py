"""The N x N kernels of :mod:`mi_ssl.bounds` and the losses built on them, against plain definitions.

The references below are the textbook formulas written independently here, with a boolean mask for the
off-diagonal set and no shared code with the package: they are slow, simple and obviously right. Each
fast path (whole matrix or row blocks; fixed shift ``1/tau`` or per-row maximum) must agree with them to
1e-6 relative in float64 for N from 2 up, for sharp critics whose diagonal dominates, and for small
``tau``; gradients are checked by finite differences (``torch.autograd.gradcheck``) on every path.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mi_ssl import bounds
from mi_ssl import objectives as O

F64 = torch.float64


# ----------------------------------------------------------------------------- independent references
def _offdiag_mask(n: int) -> torch.Tensor:
    return ~torch.eye(n, dtype=torch.bool)


def ref_dv(s: torch.Tensor) -> torch.Tensor:
    n = s.shape[0]
    return s.diagonal().mean() - (torch.logsumexp(s[_offdiag_mask(n)], 0) - math.log(n * (n - 1)))


def ref_infonce(s: torch.Tensor) -> torch.Tensor:
    return (s.diagonal() - torch.logsumexp(s, 1)).mean() + math.log(s.shape[0])


def ref_jsd(s: torch.Tensor) -> torch.Tensor:
    off = s[_offdiag_mask(s.shape[0])]
    return -torch.logaddexp(torch.zeros_like(s.diagonal()), -s.diagonal()).mean() \
        - torch.logaddexp(torch.zeros_like(off), off).mean()


def ref_nwj(s: torch.Tensor) -> torch.Tensor:
    return s.diagonal().mean() - torch.exp(s[_offdiag_mask(s.shape[0])] - 1).mean()


def ref_taylor(s: torch.Tensor, w: float) -> torch.Tensor:
    off = s[_offdiag_mask(s.shape[0])]
    return s.diagonal().mean() - (off.mean() + w * ((off - off.mean()) ** 2).mean())


def ref_cos(za: torch.Tensor, zb: torch.Tensor, tau: float) -> torch.Tensor:
    return (za / za.norm(dim=1, keepdim=True)) @ (zb / zb.norm(dim=1, keepdim=True)).T / tau


def ref_nt_xent(za: torch.Tensor, zb: torch.Tensor, tau: float) -> torch.Tensor:
    n = za.shape[0]
    z = torch.cat([za, zb])
    logits = ref_cos(z, z, tau).masked_fill(torch.eye(2 * n, dtype=torch.bool), -math.inf)
    twin = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(logits, twin)


def _views(n: int, d: int, noise: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    za = torch.randn(n, d, generator=g, dtype=F64)
    return za, za + noise * torch.randn(n, d, generator=g, dtype=F64)


def _close(got: torch.Tensor | float, want: torch.Tensor, rel: float = 1e-6) -> None:
    assert float(got) == pytest.approx(float(want), rel=rel, abs=1e-12)


# (N, noise, tau): N from 2 up; noise 1e-3 with tau 0.01 is a sharp critic whose diagonal dominates
# (joint cosines ~1, marginal ~0: exp(S_ii) / exp(S_ij) ~ e^100); tau 1e-3 takes the per-row-max path.
CASES = [(2, 0.5, 1.0), (3, 0.3, 0.1), (17, 1.0, 0.5), (17, 1e-3, 0.01), (40, 1e-3, 1e-3), (64, 0.2, 0.1)]


@pytest.fixture(params=["whole", "blocked"])
def path(request, monkeypatch):
    """Run a test on the one-shot kernel, then on blocks of one row (every N blocked)."""
    if request.param == "blocked":
        monkeypatch.setattr(bounds, "BLOCKED_FROM", 2)
        monkeypatch.setitem(bounds.BLOCK_BYTES, "cpu", 3)  # rows = max(1, 3 // (N * 8)) -> 1 row
    return request.param


# ----------------------------------------------------------------------------- values
@pytest.mark.parametrize("n, noise, tau", CASES)
def test_pair_estimates_and_losses_equal_the_definitions(n, noise, tau, path) -> None:
    za, zb = _views(n, 4, noise)
    s = ref_cos(za, zb, tau)
    _close(bounds.cos_dv_estimate(za, zb, tau), ref_dv(s))
    _close(bounds.cos_infonce_estimate(za, zb, tau), ref_infonce(s))
    _close(O.cos_dv(za, zb, tau), -ref_dv(s))
    _close(O.moco_infonce(za, zb, tau), math.log(n) - ref_infonce(s))
    _close(O.nt_xent(za, zb, tau), ref_nt_xent(za, zb, tau))
    est = bounds.estimate_all(za, zb, tau)
    _close(est["mi_cos_dv"], ref_dv(s))
    _close(est["mi_infonce"], ref_infonce(s))
    _close(est["mi_jsd"], ref_jsd(s))


@pytest.mark.parametrize("n, noise, tau", CASES)
def test_score_matrix_bounds_equal_the_definitions(n, noise, tau) -> None:
    s = ref_cos(*_views(n, 4, noise), tau)
    for shift in (0.0, 5.0):  # NWJ is not shift invariant; test it off the cosine's symmetric range too
        _close(bounds.dv(s + shift), ref_dv(s + shift))
        _close(bounds.infonce(s + shift), ref_infonce(s + shift))
        _close(bounds.jsd(s + shift), ref_jsd(s + shift))
        _close(bounds.nwj(s + shift), ref_nwj(s + shift))
        _close(bounds.taylor_dv(s + shift, 0.5), ref_taylor(s + shift, 0.5))
        _close(bounds.taylor_dv(s + shift, 1.0), ref_taylor(s + shift, 1.0))


def test_a_dominant_diagonal_is_dropped_exactly_not_subtracted() -> None:
    # joint scores 700 above the marginal ones: subtracting exp(S_ii) from a whole-matrix sum would leave
    # nothing of the marginal pairs (e^-700 of the total); masking keeps them exactly.
    s = torch.tensor([[700.0, 0.0, math.log(3.0)], [math.log(2.0), 700.0, 0.0], [0.0, 1.0, 700.0]], dtype=F64)
    marginal = math.log((1 + 3 + 2 + 1 + 1 + math.e) / 6)
    assert float(bounds.dv_marginal_term(s)) == pytest.approx(marginal, rel=1e-14)
    assert float(bounds.dv(s)) == pytest.approx(700.0 - marginal, rel=1e-14)
    sp = lambda t: math.log1p(math.exp(t))  # noqa: E731
    want_jsd = -sp(-700.0) - (sp(0.0) + sp(math.log(3)) + sp(math.log(2)) + sp(0.0) + sp(0.0) + sp(1.0)) / 6
    assert float(bounds.jsd(s)) == pytest.approx(want_jsd, rel=1e-14)
    assert float(bounds.taylor_dv(s, 1.0)) == pytest.approx(float(ref_taylor(s, 1.0)), rel=1e-14)


@pytest.mark.parametrize("dtype, tau", [(torch.float32, 0.1), (torch.float32, 0.02), (F64, 0.002)])
def test_shift_and_row_max_paths_agree(dtype, tau) -> None:
    # 0.1 in float32 uses the fixed shift 1/tau; 0.02 in float32 and 0.002 in float64 are past the span the
    # fixed shift allows (2/tau > 60 resp. 600) and take each row's maximum.
    za, zb = _views(50, 3, 0.05, seed=3)
    za, zb = za.to(dtype), zb.to(dtype)
    a, b, shift = bounds.cosine_factors(za, zb, tau)
    assert (shift is None) == (2 / tau > (60 if dtype == torch.float32 else 600))
    ref = torch.logsumexp(ref_cos(za.double(), zb.double(), tau).masked_fill(torch.eye(50, dtype=torch.bool),
                                                                               -math.inf), 1)
    for sh in {shift, None}:
        for rows in (None, 7):
            got = bounds.row_logsumexp(a, b, exclude_diagonal=True, shift=sh, block_rows=rows)
            assert torch.allclose(got.double(), ref, rtol=1e-6 if dtype == F64 else 2e-6, atol=0)


def test_half_precision_is_computed_in_float32() -> None:
    za, zb = _views(30, 8, 0.3, seed=4)
    want = ref_dv(ref_cos(za.bfloat16().double(), zb.bfloat16().double(), 0.1))
    got = O.cos_dv(za.bfloat16(), zb.bfloat16(), 0.1)
    assert got.dtype == torch.float32
    _close(got, -want, rel=1e-5)


# ----------------------------------------------------------------------------- gradients
def _gradcheck(fn, *inputs) -> None:
    inputs = tuple(x.detach().clone().requires_grad_() for x in inputs)
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("exclude_diagonal", [True, False])
@pytest.mark.parametrize("shift", [None, 3.0])
@pytest.mark.parametrize("block_rows", [None, 1, 2, 5])
def test_row_logsumexp_gradcheck(exclude_diagonal, shift, block_rows) -> None:
    za, zb = _views(5, 3, 0.5, seed=6)
    a, b, _ = bounds.cosine_factors(za, zb, 1 / 3)  # |a_i . b_j| <= 3 = shift
    weights = torch.linspace(-1.0, 2.0, 5, dtype=F64)  # a non-uniform upstream gradient

    def f(a, b):
        return (weights * bounds.row_logsumexp(a, b, exclude_diagonal=exclude_diagonal, shift=shift,
                                               block_rows=block_rows)).sum()

    _gradcheck(f, a, b)


@pytest.mark.parametrize("exclude_diagonal", [True, False])
@pytest.mark.parametrize("shift", [None, 3.0])
@pytest.mark.parametrize("block_rows", [None, 1, 2, 5, 7])
def test_sym_row_logsumexp_is_row_logsumexp_of_the_symmetric_product(exclude_diagonal, shift, block_rows) -> None:
    """Each mirrored pair scored once (strips of rows), same values and gradients as the general kernel."""
    z = F.normalize(_views(7, 3, 0.5, seed=7)[0], dim=1)  # |3 z_i . z_j| <= 3 = shift
    weights = torch.linspace(-1.0, 2.0, 7, dtype=F64)

    def f(z):
        return (weights * bounds.sym_row_logsumexp(z, 3.0, exclude_diagonal=exclude_diagonal, shift=shift,
                                                   block_rows=block_rows)).sum()

    s = 3.0 * z @ z.T
    ref = torch.logsumexp(s.masked_fill(torch.eye(7, dtype=torch.bool), -math.inf) if exclude_diagonal else s, dim=1)
    got = bounds.sym_row_logsumexp(z, 3.0, exclude_diagonal=exclude_diagonal, shift=shift, block_rows=block_rows)
    assert torch.allclose(got, ref, rtol=1e-12, atol=0)
    _gradcheck(f, z)
    strips = bounds.sym_row_logsumexp(z.clone().requires_grad_(), 3.0, exclude_diagonal=exclude_diagonal,
                                      shift=shift, block_rows=block_rows).grad_fn
    symmetric = shift is not None and block_rows is not None and block_rows < 7
    assert (type(strips).__name__ == "_SymRowLogSumExpBackward") == symmetric


def test_sym_row_logsumexp_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="z needs at least N=2 rows"):
        bounds.sym_row_logsumexp(torch.randn(1, 3), 1.0, exclude_diagonal=True)
    with pytest.raises(ValueError, match="z must be"):
        bounds.sym_row_logsumexp(torch.randn(3), 1.0)
    with pytest.raises(TypeError, match="scale must be a real number"):
        bounds.sym_row_logsumexp(torch.randn(3, 2), "2")
    with pytest.raises(ValueError, match="block_rows must be an integer >= 1"):
        bounds.sym_row_logsumexp(torch.randn(3, 2), 1.0, block_rows=0)


@pytest.mark.parametrize("n, tau", [(2, 1.0), (4, 0.5), (6, 0.05)])
def test_losses_gradcheck(n, tau, path) -> None:
    za, zb = _views(n, 3, 0.4, seed=7)
    for loss in (O.cos_dv, O.moco_infonce, O.nt_xent):
        _gradcheck(lambda a, b: loss(a, b, tau), za, zb)  # noqa: B023
    _gradcheck(lambda a, b: bounds.cos_infonce_estimate(a, b, tau), za, zb)


@pytest.mark.parametrize("name", ["dv", "dv_marginal_term", "nwj", "infonce", "jsd", "taylor_dv", "joint_term"])
def test_score_matrix_bounds_gradcheck(name) -> None:
    g = torch.Generator().manual_seed(8)
    s = torch.randn(5, 5, generator=g, dtype=F64) + 4 * torch.eye(5, dtype=F64)
    _gradcheck(getattr(bounds, name), s)


@pytest.mark.parametrize("n, noise, tau", CASES)
def test_gradients_equal_those_of_the_definitions(n, noise, tau, path) -> None:
    # where finite differences are too coarse (scores ~1/tau = 1000): against autograd of the references
    za, zb = _views(n, 3, noise, seed=9)
    pairs = [(O.cos_dv, lambda a, b: -ref_dv(ref_cos(a, b, tau))),
             (O.moco_infonce, lambda a, b: math.log(n) - ref_infonce(ref_cos(a, b, tau))),
             (O.nt_xent, lambda a, b: ref_nt_xent(a, b, tau))]
    for fast, ref in pairs:
        got = torch.autograd.grad(fast(za.requires_grad_(), zb.requires_grad_(), tau), (za, zb))
        want = torch.autograd.grad(ref(za, zb), (za, zb))
        for g, w in zip(got, want):
            assert torch.allclose(g, w, rtol=1e-6, atol=1e-9 * float(w.abs().max()))


def test_gradient_through_one_side_only() -> None:
    za, zb = _views(9, 3, 0.3, seed=9)
    za.requires_grad_()
    O.cos_dv(za, zb, 0.1).backward()
    assert zb.grad is None and torch.isfinite(za.grad).all() and za.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- memory of the blocked path
def test_blocked_path_saves_nothing_n_by_n() -> None:
    n = 64
    za, zb = _views(n, 3, 0.3, seed=10)
    a, b, shift = bounds.cosine_factors(za.requires_grad_(), zb, 0.1)
    blocked = bounds.row_logsumexp(a, b, exclude_diagonal=True, shift=shift, block_rows=8)
    whole = bounds.row_logsumexp(a, b, exclude_diagonal=True, shift=shift)
    assert max(t.numel() for t in blocked.grad_fn.saved_tensors if t is not None) < n * n
    assert max(t.numel() for t in whole.grad_fn.saved_tensors if t is not None) == n * n
    assert torch.allclose(blocked, whole, rtol=1e-12, atol=0)


def test_automatic_choice_of_path(monkeypatch) -> None:
    a = torch.randn(6, 2, dtype=F64)
    assert bounds.row_logsumexp(a, a).grad_fn is None  # no input needs a gradient: nothing is saved
    a.requires_grad_()
    saved = bounds.row_logsumexp(a, a).grad_fn.saved_tensors
    assert saved[-1] is not None and saved[-1].shape == (6, 6)        # N < BLOCKED_FROM: whole, saved
    monkeypatch.setattr(bounds, "BLOCKED_FROM", 6)
    monkeypatch.setitem(bounds.BLOCK_BYTES, "cpu", 100)  # 100 // (6 * 8) = 2 rows per block
    assert bounds.row_logsumexp(a, a).grad_fn.saved_tensors[-1] is None  # blocked: recomputed


def test_row_logsumexp_rejects_bad_input() -> None:
    a = torch.randn(4, 2)
    with pytest.raises(TypeError, match="a and b must have the same dtype"):
        bounds.row_logsumexp(a, a.double())
    with pytest.raises(ValueError, match="a and b must have the same shape"):
        bounds.row_logsumexp(a, torch.randn(4, 3))
    with pytest.raises(ValueError, match="a and b need at least N=2"):
        bounds.row_logsumexp(a[:1], a[:1], exclude_diagonal=True)
    with pytest.raises(ValueError, match="block_rows must be an integer >= 1"):
        bounds.row_logsumexp(a, a, block_rows=0)
    with pytest.raises(TypeError, match="shift must be a real number"):
        bounds.row_logsumexp(a, a, shift="1")
    with pytest.raises(TypeError, match="b must be a floating-point tensor"):
        bounds.row_logsumexp(a, a.long())
    # one row without its diagonal entry is fine when the diagonal is kept: log exp(a . b)
    one = bounds.row_logsumexp(a[:1], a[:1])
    assert float(one) == pytest.approx(float(a[0] @ a[0]), rel=1e-6)
