"""Critics and mutual-information estimates, evaluated on a score matrix or on two batches of representations.

Convention used everywhere in :mod:`mi_ssl`: a *score matrix* ``S`` of shape ``[N, N]`` holds the
critic ``T(z_A^(i), z_B^(j))`` for every pair of a batch. Its **diagonal** holds the ``N`` *joint
pairs* (two views of the same input, samples of ``p(z_A, z_B)``); its **off-diagonal** holds the
``N(N-1)`` *marginal pairs* (views of different inputs, samples of ``p(z_A) p(z_B)``).

Everything here is an **estimate** of a mutual information (or of a divergence), ``+I`` in **nats**;
the training losses built on them (``-I`` or a surrogate) live in :mod:`mi_ssl.objectives` and have
other names. Every bound is "joint term minus marginal term" (paper Eq. 1, Section A.2). Each
docstring states what the estimate lower-bounds and its ceiling.

Two families of functions:

* on a given score matrix ``[N, N]``: :func:`dv`, :func:`nwj`, :func:`infonce`, :func:`jsd`, ...;
* on two batches ``za, zb`` ``[N, D]`` with the cosine critic: :func:`cos_dv_estimate`,
  :func:`cos_infonce_estimate`, :func:`estimate_all`. These never form ``S`` through autograd: they
  call :func:`row_logsumexp`, whose own backward needs two products with the saved ``exp`` matrix
  (``N < BLOCKED_FROM``) or recomputes it a block of rows at a time (larger ``N``: memory
  ``O(block x N)`` instead of ``O(N^2)``).

Bad input (non-tensors, wrong rank, mismatched shapes, ``N < 2``, non-finite values, ``tau <= 0``)
raises ``ValueError``/``TypeError`` naming the argument (:mod:`mi_ssl.checks`). The finiteness check
needs a device sync; hot training loops switch it off with :func:`mi_ssl.checks.finite_checks`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from .checks import check_int, check_real, check_tensor, checking_finite
from .checks import check_pair as _check_pair
from .checks import check_scores as _check_scores

__all__ = [
    "off_diagonal",
    "cosine_scores",
    "dot_scores",
    "at_least_float32",
    "cosine_factors",
    "row_logsumexp",
    "sym_row_logsumexp",
    "BLOCKED_FROM",
    "BLOCK_BYTES",
    "joint_term",
    "dv_marginal_term",
    "dv",
    "nwj",
    "infonce",
    "jsd",
    "jsd_divergence",
    "taylor_dv",
    "cos_dv_estimate",
    "cos_infonce_estimate",
    "estimate_all",
    "logdet_mi_estimate",
]

#: :func:`row_logsumexp` evaluates blocks of rows (never the whole ``[N, N]`` matrix) from this ``N`` on.
#: Measured on a 2-core AMD EPYC (1 MiB L2 per core), one thread, ``D = 3``, forward+backward of the
#: excluded-diagonal row log-sum-exp, medians (ms, whole vs blocks of 1 MiB): 2.4 vs 4.6 at N = 1,024,
#: 13.5 vs 15.5 at 2,048, 17 vs 14 at 2,500, 58 vs 23 at 3,500, 115 vs 45 at 5,000 (blocks reuse cache-sized
#: buffers instead of faulting in fresh ``N^2`` pages; 0.25 to 8 MiB blocks tried, 1-2 MiB best), with memory
#: ``O(block)`` instead of ``N^2``.
BLOCKED_FROM = 2048
#: Bytes of one block of rows of the score matrix, per device type: about the L2 cache on a CPU; on an
#: accelerator (default for device types not listed) large blocks, so that kernel launches stay few and
#: only a matrix above 64 MiB (N > 4,096 in float32) is split. The accelerator value is not measured.
BLOCK_BYTES = {"cpu": 1 << 20, "cuda": 64 << 20}

# exp(S - shift) with the fixed shift 1/tau (the cosine critic's maximum) is never below exp(-2/tau);
# keep that far from the smallest normal number (fp32 ~ e^-87, fp64 ~ e^-708), else use each row's max.
_MAX_SPAN = {torch.float32: 60.0, torch.float64: 600.0}
_NORM_EPS = 1e-12  # as F.normalize: a zero row stays zero (its cosine with anything is 0)


def _check_tau(tau: object) -> float:
    return check_real(tau, "tau", positive=True)


def at_least_float32(z: torch.Tensor) -> torch.Tensor:
    """``z`` in float32 if it is half precision (fp16/bf16, e.g. from autocast), else unchanged: the
    ``N x N`` log-sum-exps and covariances here need at least float32."""
    return z.float() if z.dtype in (torch.float16, torch.bfloat16) else z


def off_diagonal(s: torch.Tensor) -> torch.Tensor:
    """The ``N(N-1)`` off-diagonal entries of ``[N, N]`` as a flat vector (row-major order). A copy."""
    n = s.shape[0]
    return s.flatten()[1:].view(n - 1, n + 1)[:, :-1].flatten()


def _without_diagonal(s: torch.Tensor, fill: float) -> torch.Tensor:
    """A copy of ``[N, N]`` with its diagonal set to ``fill`` (``-inf`` drops the joint pairs from a
    log-sum-exp, a softplus or an exp exactly: no cancellation however large the diagonal)."""
    out = s.clone()
    out.diagonal().fill_(fill)
    return out


def _softplus_sum(s: torch.Tensor) -> torch.Tensor:
    """``sum softplus(s)`` as ``sum max(s, 0) + sum log(1 + exp(-|s|))``, for no-gradient estimates.

    Within one machine epsilon per entry (absolute) of ``F.softplus(s).sum()``, ``-inf`` entries adding 0. On the
    CPU it is about 5x faster: torch's ``softplus``/``log1p`` kernels are not vectorised there, ``exp`` and ``log``
    are (measured: 0.7 vs 3.4 ms for a 100 x 2,500 float32 block, one thread). :func:`estimate_all` uses it
    when its temperature is too small for the fixed shift.
    """
    return s.clamp(min=0).sum() + s.abs().neg_().exp_().add_(1).log_().sum()


def _sum_log_at_least_one(y: torch.Tensor, bound: float) -> torch.Tensor:
    """``sum log(y)`` of entries ``1 <= y <= bound`` (a contiguous tensor, overwritten), taking ``log`` of products.

    ``log`` is the costly pass on the CPU (1.4 ns per float32 entry, one thread; a product 0.1 ns), so up to 8
    entries are multiplied first (halving the vector up to three times), as many as keep the product finite in
    the dtype (``bound^k`` below its largest value). The sum is as accurate as the plain one (float32, N = 2,500:
    relative 8e-8 from float64 either way).
    """
    k, cap = 1, 0.9 * math.log(torch.finfo(y.dtype).max)
    while k < 8 and 2 * k * math.log(bound) <= cap:
        k *= 2
    v, rest = y.view(-1), y.new_zeros(())
    while k > 1 and v.numel() > 1:
        half = v.numel() // 2
        if v.numel() % 2:
            rest = rest + v[-1].log2()
        v, k = v[:half].mul_(v[half:2 * half]), k // 2
    return (v.log2_().sum() + rest) * _LN2


# --------------------------------------------------------------------------- critics
def cosine_scores(za: torch.Tensor, zb: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """Cosine critic divided by a temperature: ``S_ij = cos(za_i, zb_j) / tau``.

    Args:
        za, zb: ``[N, D]`` representations of view A and view B (row ``i`` of both comes from input ``i``).
        tau: temperature ``> 0``; ``tau = 1`` is the plain cosine critic ``T_cos`` of paper Eq. 14.

    Returns:
        ``[N, N]`` score matrix, entries in ``[-1/tau, 1/tau]``.
    """
    za, zb = _check_pair(za, zb)
    tau = _check_tau(tau)
    return F.normalize(za, dim=1) @ F.normalize(zb, dim=1).T / tau


def dot_scores(za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """Dot-product critic ``S_ij = za_i . zb_j`` (paper Eq. 12, the Barlow Twins critic). ``[N, N]``."""
    za, zb = _check_pair(za, zb)
    return za @ zb.T


# --------------------------------------------------------------------------- the N x N kernel
_LOG2E = 1.0 / math.log(2.0)
_LN2 = math.log(2.0)


def _base2_factors(a: torch.Tensor, b: torch.Tensor, shift: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Factors ``(a2, b2)`` whose product is the score in base 2, minus the fixed shift if there is one:
    ``a2_i . b2_j = (a_i . b_j - shift) log2(e)``.

    Base 2 because ``exp2`` is ~3x faster than ``exp`` on the CPU (torch 2.14, AVX-512: 0.09 vs 0.26 ms per
    ``[100, 2500]`` float32 block, one thread) at the same accuracy; the shift rides in an extra column
    (``a2 = [a log2 e, -shift log2 e]``, ``b2 = [b, 1]``), so the product subtracts it with no pass of its own.
    """
    if shift is None:
        return a * _LOG2E, b
    return (torch.cat([a * _LOG2E, a.new_full((a.shape[0], 1), -shift * _LOG2E)], dim=1),
            torch.cat([b, b.new_ones(b.shape[0], 1)], dim=1))


def _shifted_exp(a2: torch.Tensor, b2: torch.Tensor, row0: int, exclude_diagonal: bool,
                 shift: float | None) -> tuple[torch.Tensor, torch.Tensor | float]:
    """``E = exp(a b^T - m)`` for the rows ``row0 ...`` held in ``a2`` (``[B, D']``) against all of ``b2``
    (``[N, D']``), the factors of :func:`_base2_factors`, with the joint entries ``(i, row0 + i)`` set to 0 if
    ``exclude_diagonal``. Returns ``(E, m)``, ``m`` in nats.

    ``m`` is ``shift`` (a bound on every entry, already inside the factors) or, if ``None``, each row's
    maximum (``[B]``). Two passes over the ``[B, N]`` block (the product and ``exp2``), three with ``shift=None``.
    """
    s = a2 @ b2.T
    if exclude_diagonal:
        s.diagonal(offset=row0).fill_(-math.inf)
    if shift is not None:
        return s.exp2_(), shift
    m2 = s.amax(dim=1)
    return s.sub_(m2[:, None]).exp2_(), m2 * _LN2


def _rows_per_block(a: torch.Tensor) -> int:
    n = a.shape[0]
    budget = BLOCK_BYTES.get(a.device.type, BLOCK_BYTES["cuda"])
    return max(1, min(n, budget // (n * a.element_size())))


class _RowLogSumExp(torch.autograd.Function):
    """``l_i = log sum_j exp(a_i . b_j)`` (``j != i`` if ``exclude_diagonal``) with its own backward.

    Gradient: ``dl_i/da_i = sum_j P_ij b_j``, ``dl_i/db_j = P_ij a_i`` with ``P_ij = exp(a_i . b_j - l_i)``,
    i.e. two products of the ``exp`` matrix with the ``[N, D]`` inputs, whose row weights are folded
    into ``[N]`` vectors (no ``N x N`` elementwise pass in the backward). One block: the matrix is saved
    from the forward. Several blocks: each block is recomputed in the backward, nothing ``N x N`` is kept.

    Both products keep the ``exp`` matrix as the BLAS's streamed operand and the thin ``[N, D]`` one in the
    layout that suits it: ``E (b^T)^T`` with ``b^T`` contiguous and ``(w a)^T E`` into ``grad_b^T``. The plain
    ``E b`` and ``E^T (w a)`` are 3-6x slower on the CPU (D = 3, one thread: 0.29 vs 0.06 ms per ``[52, 5000]``
    block).
    """

    @staticmethod
    def forward(ctx, a, b, exclude_diagonal, shift, rows):  # type: ignore[override]
        n = a.shape[0]
        ctx.exclude_diagonal, ctx.shift, ctx.rows = exclude_diagonal, shift, rows
        a2, b2 = _base2_factors(a, b, shift)
        if rows >= n:                                   # one block: keep exp(S - m) for the backward
            e, m = _shifted_exp(a2, b2, 0, exclude_diagonal, shift)
            row_sum = e.sum(dim=1)
            ctx.save_for_backward(a, b, row_sum.reciprocal(), e)
            return torch.log(row_sum) + m
        out, inv_sum = a.new_empty(n), a.new_empty(n)
        for r0 in range(0, n, rows):
            e, m = _shifted_exp(a2[r0:r0 + rows], b2, r0, exclude_diagonal, shift)
            row_sum = e.sum(dim=1)
            out[r0:r0 + rows] = torch.log(row_sum) + m
            inv_sum[r0:r0 + rows] = row_sum.reciprocal()
        ctx.save_for_backward(a, b, inv_sum, None)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # type: ignore[override]
        a, b, inv_sum, saved = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad[:2]
        w = (grad * inv_sum)[:, None]  # P_ij = E_ij / sum_j E_ij: the row weights of E, times dL/dl_i
        bt = b.T.contiguous() if need_a else None
        if saved is not None:
            return (torch.mm(saved, bt.T).mul_(w) if need_a else None,
                    torch.mm((a * w).T, saved).T.contiguous() if need_b else None, None, None, None)
        n, rows = a.shape[0], ctx.rows
        a2, b2 = _base2_factors(a, b, ctx.shift)
        ga = torch.empty_like(a) if need_a else None
        gbt = a.new_zeros(b.shape[1], b.shape[0]) if need_b else None
        for r0 in range(0, n, rows):
            e, _ = _shifted_exp(a2[r0:r0 + rows], b2, r0, ctx.exclude_diagonal, ctx.shift)
            wr = w[r0:r0 + rows]
            if need_a:
                torch.mm(e, bt.T, out=ga[r0:r0 + rows]).mul_(wr)
            if need_b:
                gbt.addmm_((a[r0:r0 + rows] * wr).T, e)
        return ga, gbt.T.contiguous() if need_b else None, None, None, None


def row_logsumexp(a: torch.Tensor, b: torch.Tensor, *, exclude_diagonal: bool = False,
                  shift: float | None = None, block_rows: int | None = None) -> torch.Tensor:
    """Row log-sum-exp of the product ``a b^T`` without an autograd graph over ``N x N`` tensors.

    ``l_i = log sum_j exp(a_i . b_j)``, the sum over ``j != i`` if ``exclude_diagonal`` (the marginal
    pairs of row ``i``; the joint entry is dropped exactly, not subtracted). This is the ``N x N`` work of
    every contrastive estimate: InfoNCE (Eq. 20) needs ``l`` over whole rows, the DV marginal term
    (Eq. 15) is ``logsumexp_i(l_i)`` over the off-diagonal rows, NT-Xent is ``l`` of ``z z^T``.

    Args:
        a, b: ``[N, D]`` floating tensors of one dtype (the critic's scale folded into ``a``).
        exclude_diagonal: drop the entries ``(i, i)``.
        shift: a number ``>= max_ij a_i . b_j``, used as the stabilising shift of every entry; only
            correct if ``exp(a_i . b_j - shift)`` does not underflow (``1/tau`` for the cosine critic
            with ``2/tau`` well inside the dtype's exponent range, :func:`cosine_factors`). ``None``:
            each row's maximum (one more pass, always safe).
        block_rows: rows per block. ``>= N``: the whole ``exp`` matrix at once, saved for the backward
            (memory ``N^2``); fewer: blocks of rows, the ``exp`` recomputed in the backward (memory
            ``block_rows x N``). ``None``: whole below :data:`BLOCKED_FROM`, else blocks of about
            :data:`BLOCK_BYTES` of the device.

    Returns:
        ``[N]``; differentiable in ``a`` and ``b`` (first order).

    ``torch.compile`` does not trace into it: the block loop would unroll (compiling cos-DV at N = 2,500
    took 85 s instead of 9 s) and the kernel leaves it little to fuse (steady state within noise of eager).
    """
    a, b = _check_pair(a, b, min_rows=2 if exclude_diagonal else 1, names=("a", "b"))
    if a.dtype != b.dtype:
        raise TypeError(f"a and b must have the same dtype; got a {a.dtype} and b {b.dtype}")
    return _row_logsumexp(a, b, exclude_diagonal, *_kernel_options(shift, block_rows))


def _kernel_options(shift: object, block_rows: object) -> tuple[float | None, int | None]:
    """``shift`` and ``block_rows`` of the row log-sum-exp kernels, checked (``None`` stays ``None``)."""
    return (None if shift is None else check_real(shift, "shift"),
            None if block_rows is None else check_int(block_rows, "block_rows", 1))


def _block_rows(x: torch.Tensor, block_rows: int | None) -> int:
    """Rows per block: ``block_rows``, or by default the whole matrix below :data:`BLOCKED_FROM` rows, else about
    :data:`BLOCK_BYTES` of the device."""
    if block_rows is not None:
        return block_rows
    return x.shape[0] if x.shape[0] < BLOCKED_FROM else _rows_per_block(x)


@torch.compiler.disable
def _row_logsumexp(a: torch.Tensor, b: torch.Tensor, exclude_diagonal: bool, shift: float | None,
                   block_rows: int | None) -> torch.Tensor:
    return _RowLogSumExp.apply(a, b, exclude_diagonal, shift, _block_rows(a, block_rows))


class _SymRowLogSumExp(torch.autograd.Function):
    """``l_i = log sum_j exp(c z_i . z_j)`` of a symmetric score matrix, a strip of rows at a time, each entry
    pair ``(i, j), (j, i)`` evaluated once: about half the ``exp`` work of :class:`_RowLogSumExp`.

    The strip of rows ``I = [r0, r1)`` is scored against the columns ``j >= r0``: its row sums go to ``I``, its
    column sums right of its own square to the rows ``j >= r1`` (the mirrored entries). Backward, with
    ``w_i = dL/dl_i / sum_j E_ij`` and ``E`` symmetric: ``dL/dz_k = c (w_k (E z)_k + (E (w z))_k)``, both
    products of the strips with ``x = [z, w z]`` (``[N, 2D]``) the same way. Fixed shift only (a row's maximum
    needs the whole row first).
    """

    @staticmethod
    def forward(ctx, z, scale, exclude_diagonal, shift, rows):  # type: ignore[override]
        n = z.shape[0]
        ctx.scale, ctx.exclude_diagonal, ctx.shift, ctx.rows = scale, exclude_diagonal, shift, rows
        a2, b2 = _base2_factors(z * scale, z, shift)
        row_sum = z.new_zeros(n)
        for r0 in range(0, n, rows):
            r1 = min(r0 + rows, n)
            e, _ = _shifted_exp(a2[r0:r1], b2[r0:], 0, exclude_diagonal, shift)  # own square, then right of it
            row_sum[r0:r1] += e.sum(dim=1)
            row_sum[r1:] += e[:, r1 - r0:].sum(dim=0)
        ctx.save_for_backward(z, row_sum.reciprocal())
        return torch.log(row_sum) + shift

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # type: ignore[override]
        z, inv_sum = ctx.saved_tensors
        n, d, rows = z.shape[0], z.shape[1], ctx.rows
        w = (grad * inv_sum)[:, None]
        x = torch.cat([z, z * w], dim=1)                # [N, 2D]
        xt = x.T.contiguous()                           # the thin operand laid out as the BLAS streams E
        ex, ex_mirror_t = torch.empty_like(x), x.new_zeros(2 * d, n)
        a2, b2 = _base2_factors(z * ctx.scale, z, ctx.shift)
        for r0 in range(0, n, rows):
            r1 = min(r0 + rows, n)
            e, _ = _shifted_exp(a2[r0:r1], b2[r0:], 0, ctx.exclude_diagonal, ctx.shift)
            torch.mm(e, xt[:, r0:].T, out=ex[r0:r1])                # sum_{j >= r0} E_ij x_j
            ex_mirror_t[:, r1:].addmm_(x[r0:r1].T, e[:, r1 - r0:])   # the mirrored E_ji x_i, j >= r1
        ex += ex_mirror_t.T                                          # (E x)_k = sum_j E_kj x_j
        return (ex[:, :d] * w + ex[:, d:]).mul_(ctx.scale), None, None, None, None


def sym_row_logsumexp(z: torch.Tensor, scale: float, *, exclude_diagonal: bool = False,
                      shift: float | None = None, block_rows: int | None = None) -> torch.Tensor:
    """:func:`row_logsumexp` of the symmetric product ``scale z z^T``: ``l_i = log sum_j exp(scale z_i . z_j)``.

    NT-Xent's ``N x N`` work (the ``2N`` views against each other). Where :func:`row_logsumexp` would evaluate
    blocks (``N >= BLOCKED_FROM``, or ``block_rows < N``) and ``shift`` is given, each mirrored pair of entries is
    evaluated once: half the ``exp`` work (NT-Xent of a batch of 2,500, ``N = 5,000``, forward+backward, one
    thread: 51 -> 29 ms). Otherwise it is :func:`row_logsumexp` of ``(scale z, z)``.

    Args:
        z: ``[N, D]`` floating tensor. scale: the critic's factor (``1/tau`` for unit rows).
        exclude_diagonal, shift, block_rows: as :func:`row_logsumexp` (``shift >= scale max_ij z_i . z_j``).

    Returns:
        ``[N]``; differentiable in ``z`` (first order).
    """
    z = check_tensor(z, "z", 2)
    if exclude_diagonal and z.shape[0] < 2:
        raise ValueError(f"z needs at least N=2 rows without its diagonal; got N={z.shape[0]}")
    return _sym_row_logsumexp(z, check_real(scale, "scale"), exclude_diagonal, *_kernel_options(shift, block_rows))


@torch.compiler.disable
def _sym_row_logsumexp(z: torch.Tensor, scale: float, exclude_diagonal: bool, shift: float | None,
                       block_rows: int | None) -> torch.Tensor:
    n, block_rows = z.shape[0], _block_rows(z, block_rows)
    if block_rows >= n or shift is None:  # the whole matrix saved for the backward, or a row maximum
        return _RowLogSumExp.apply(z * scale, z, exclude_diagonal, shift, block_rows)
    return _SymRowLogSumExp.apply(z, scale, exclude_diagonal, shift, block_rows)


def cosine_factors(za: torch.Tensor, zb: torch.Tensor, tau: float
                   ) -> tuple[torch.Tensor, torch.Tensor, float | None]:
    """The factors of :func:`cosine_scores` for :func:`row_logsumexp`: ``(a, b, shift)``.

    ``a = za_n / tau``, ``b = zb_n`` (``[N, D]``, unit rows ``z_n``, at least float32), so that
    ``a_i . b_j = cos(za_i, zb_j) / tau``; ``shift = 1/tau`` (the largest score) where
    ``exp(S - 1/tau) >= exp(-2/tau)`` stays far from underflow in that dtype, else ``None``. Unchecked
    (callers check ``za``, ``zb``, ``tau``).
    """
    za, zb = at_least_float32(za), at_least_float32(zb)
    a = za / (torch.linalg.vector_norm(za, dim=1, keepdim=True).clamp_min(_NORM_EPS) * tau)
    b = F.normalize(zb, dim=1, eps=_NORM_EPS)
    return a, b, _cosine_shift(tau, a.dtype)


def _cosine_shift(tau: float, dtype: torch.dtype) -> float | None:
    """``1/tau``, the cosine critic's largest score, where ``exp(S - 1/tau) >= exp(-2/tau)`` stays far from
    underflow in ``dtype``; else ``None`` (shift each row by its maximum)."""
    return 1.0 / tau if 2.0 / tau <= _MAX_SPAN.get(dtype, 0.0) else None


# --------------------------------------------------------------------------- bounds on a score matrix
# Public functions validate their input once, then use these unchecked helpers.
def _joint(s: torch.Tensor) -> torch.Tensor:
    return torch.diagonal(s).mean()


def _dv_marginal(s: torch.Tensor) -> torch.Tensor:
    n = s.shape[0]
    return torch.logsumexp(_without_diagonal(s, -math.inf).flatten(), dim=0) - math.log(n * (n - 1))


def joint_term(scores: torch.Tensor) -> torch.Tensor:
    """Joint term ``E_{p(z_A, z_B)}[T]`` of Eq. 1 estimated by the mean of the diagonal of ``[N, N]``. Scalar."""
    return _joint(_check_scores(scores))


def dv_marginal_term(scores: torch.Tensor) -> torch.Tensor:
    """DV marginal term ``log E_{p(z_A)p(z_B)}[e^T]`` over the ``N(N-1)`` off-diagonal pairs of ``[N, N]`` (Eq. 15).

    Computed as a log-sum-exp with the diagonal masked to ``-inf``, minus ``log(N(N-1))``: stable for
    large scores and exact however much the diagonal dominates.
    """
    return _dv_marginal(_check_scores(scores))


def dv(scores: torch.Tensor) -> torch.Tensor:
    """Donsker–Varadhan bound (paper Eq. 1) with the batch estimate of Eq. 15, in nats. ``scores``: ``[N, N]``.

    ``I_DV = mean_i S_ii - log( 1/(N(N-1)) sum_{i != j} exp S_ij )``.

    In the population, lower-bounds ``I(Z_A; Z_B)`` for every fixed critic. The *batch* estimate is
    biased upwards (Jensen: ``E[-log mean] >= -log E[mean]``): small for bounded critics and MI well
    below ``log N``, but for a sharp critic and MI above ``log N`` a typical batch misses the rare
    marginal pairs that dominate ``E[e^T]`` and the estimate can exceed the true MI (book chapter 01).
    Ceiling: none in general; for a critic bounded in ``[a, b]`` it is at most ``b - a`` (``2/tau``
    for the cosine critic).
    """
    s = _check_scores(scores)
    return _joint(s) - _dv_marginal(s)


def nwj(scores: torch.Tensor) -> torch.Tensor:
    """NWJ / f-divergence (KL) bound of Nguyen, Wainwright & Jordan (2010), in nats. ``scores``: ``[N, N]``.

    ``I_NWJ = mean_i S_ii - e^{-1} mean_{i != j} exp S_ij``.

    Lower-bounds ``I(Z_A; Z_B)`` for every critic (unbiased batch estimate); it is never above the
    DV value of the same critic (``log u <= u/e``). Tight at ``T* = 1 + log p(z_A,z_B)/(p(z_A)p(z_B))``.
    No ceiling (it is not computed in the log domain: scores above ~88 overflow in float32).
    """
    s = _check_scores(scores)
    n = s.shape[0]
    return _joint(s) - torch.exp(_without_diagonal(s, -math.inf) - 1.0).sum() / (n * (n - 1))


def infonce(scores: torch.Tensor) -> torch.Tensor:
    """InfoNCE bound (paper Eq. 20; Oord et al. 2018, Poole et al. 2019), in nats. ``scores``: ``[N, N]``.

    ``I_NCE = mean_i [ S_ii - log sum_j exp S_ij ] + log N`` where the inner sum runs over the whole
    row (the positive and the ``N - 1`` negatives).

    Lower-bounds ``I(Z_A; Z_B)``; **ceiling** ``log N``: it can never exceed ``log N`` whatever the
    critic, so it saturates when the true MI is larger than ``log N``.
    """
    s = _check_scores(scores)
    return (torch.diagonal(s) - torch.logsumexp(s, dim=1)).mean() + math.log(s.shape[0])


def jsd(scores: torch.Tensor) -> torch.Tensor:
    """Jensen–Shannon objective of paper Section A.2.2 (Hjelm et al. 2019), in nats. ``scores``: ``[N, N]``.

    ``I_JSD = mean_i[-softplus(-S_ii)] - mean_{i != j}[softplus(S_ij)]``.

    **This is the f-GAN objective, reported as is** (as the paper plots it): it lower-bounds
    ``2 * JSD(p(z_A,z_B) || p(z_A)p(z_B)) - 2 log 2``, *not* the mutual information. Its ceiling is
    ``0`` (reached when joint and product of marginals do not overlap) and it equals ``-2 log 2``
    for a critic that cannot tell them apart (``T = 0``). Use :func:`jsd_divergence` for the
    divergence itself.
    """
    s = _check_scores(scores)
    n = s.shape[0]
    marginal = F.softplus(_without_diagonal(s, -math.inf)).sum() / (n * (n - 1))
    return -F.softplus(-torch.diagonal(s)).mean() - marginal


def jsd_divergence(scores: torch.Tensor) -> torch.Tensor:
    """Lower bound on ``JSD(p(z_A,z_B) || p(z_A)p(z_B))`` in nats, in ``[0, log 2]``: ``(I_JSD + 2 log 2)/2``.

    ``scores``: ``[N, N]``.
    """
    return 0.5 * (jsd(scores) + 2.0 * math.log(2.0))


def taylor_dv(scores: torch.Tensor, variance_weight: float = 0.5) -> torch.Tensor:
    """Second-order (cumulant) Taylor surrogate of the DV bound (paper Eqs. 11, 23, 24), in nats. ``[N, N]``.

    ``I_Taylor-DV = mean_i S_ii - ( mean_{i != j} S_ij + w * Var_{i != j} S_ij )``.

    ``variance_weight=0.5`` is the exact second-order expansion ``log E e^T ~ E T + Var T / 2`` of
    Eq. 24; ``variance_weight=1.0`` is Eq. 11, where the paper drops the 1/2 (footnote 1). The
    surrogate is *not* a bound: its error is the cumulant remainder ``R_2`` of Eq. 22.
    """
    w = check_real(variance_weight, "variance_weight", nonneg=True)
    s = _check_scores(scores)
    n = s.shape[0]
    pairs = n * (n - 1)
    mean = _without_diagonal(s, 0.0).sum() / pairs
    centred = _without_diagonal(s - mean, 0.0)
    return _joint(s) - (mean + w * centred.pow(2).sum() / pairs)


# --------------------------------------------------------------------------- estimates on two batches
def cos_dv_estimate(za: torch.Tensor, zb: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """``I_cos-DV`` of a batch (paper Eqs. 14-15): :func:`dv` of :func:`cosine_scores` ``cos/tau``, in nats.

    ``I = 1/N sum_i cos(za_i, zb_i)/tau - log( 1/(N(N-1)) sum_{i != j} exp(cos(za_i, zb_j)/tau) )``.

    Args:
        za, zb: ``[N, D]``, ``N >= 2``; gradients flow into whichever is not detached (stop-gradient
            is the caller's choice, see :mod:`mi_ssl.paradigms`). Half precision is computed in float32.
        tau: temperature ``> 0``.
    Returns:
        scalar estimate (nats); lower-bounds ``I(Z_A; Z_B)`` in the population (Eq. 14); ceiling ``2/tau``.
        The loss ``-I`` is :func:`mi_ssl.objectives.cos_dv`.
    """
    za, zb = _check_pair(za, zb)
    tau = _check_tau(tau)
    a, b, shift = cosine_factors(za, zb, tau)
    n = a.shape[0]
    joint = (a * b).sum(dim=1).mean()
    marginal = torch.logsumexp(_row_logsumexp(a, b, True, shift, None), dim=0)
    return joint - (marginal - math.log(n * (n - 1)))


def cos_infonce_estimate(za: torch.Tensor, zb: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """``I_InfoNCE`` (paper Eq. 20) of a batch with the critic ``cos/tau``: :func:`infonce` of
    :func:`cosine_scores`, in nats.

    ``I = 1/N sum_i [cos(za_i, zb_i)/tau - log sum_j exp(cos(za_i, zb_j)/tau)] + log N``; row ``i`` of
    ``za`` is scored against every row of ``zb`` (its positive and ``N - 1`` negatives).

    Args:
        za, zb: ``[N, D]``, ``N >= 2``. tau: temperature ``> 0``.
    Returns:
        scalar estimate (nats); lower-bounds ``I(Z_A; Z_B)``; ceiling ``log N``. The loss
        ``log N - I`` is :func:`mi_ssl.objectives.moco_infonce`.
    """
    za, zb = _check_pair(za, zb)
    tau = _check_tau(tau)
    a, b, shift = cosine_factors(za, zb, tau)
    n = a.shape[0]
    joint = (a * b).sum(dim=1)
    return (joint - _row_logsumexp(a, b, False, shift, None)).mean() + math.log(n)


@torch.no_grad()
def estimate_all(za: torch.Tensor, zb: torch.Tensor, tau: float = 1.0) -> dict[str, float]:
    """The three MI estimates the paper tracks (Section 4.2), on one cosine critic ``cos/tau``.

    ``{"mi_cos_dv": I_cos-DV (Eq. 14, ceiling 2/tau), "mi_infonce": I_InfoNCE (Eq. 20, ceiling log N),
    "mi_jsd": the f-GAN objective of :func:`jsd` (Section A.2.2, ceiling 0)}`` in nats, equal to
    :func:`dv`, :func:`infonce` and :func:`jsd` of :func:`cosine_scores`.

    ``za, zb``: ``[N, D]``, ``N >= 2`` (computed in at least float32, no gradient). The three share one
    score matrix, formed a block of rows at a time (about :data:`BLOCK_BYTES`, never ``N x N`` above
    that): per block one product and one ``exp`` pass, shifted by the critic's maximum ``1/tau`` (each row's
    maximum when ``exp(-2/tau)`` would underflow), the softplus read off the same ``exp``.
    """
    za, zb = _check_pair(za, zb)
    tau = _check_tau(tau)
    za, zb = at_least_float32(za), at_least_float32(zb)
    a, b = F.normalize(za, dim=1) / tau, F.normalize(zb, dim=1)
    n = a.shape[0]
    rows = _rows_per_block(a)
    joint = (a * b).sum(dim=1)                       # S_ii
    lse_off = a.new_empty(n)                         # log sum_{j != i} exp S_ij
    softplus_off = a.new_zeros(())                   # sum_{i != j} softplus(S_ij)
    shift = _cosine_shift(tau, a.dtype)
    if shift is not None:
        a2, b2 = _base2_factors(a, b, shift)
        e_shift = math.exp(shift)
    for r0 in range(0, n, rows):
        if shift is not None:   # softplus(S) = log(1 + e^shift E), E = exp(S - shift) the LSE's own exp (<= e^30)
            e, _ = _shifted_exp(a2[r0:r0 + rows], b2, r0, True, shift)
            lse_off[r0:r0 + rows] = torch.log(e.sum(dim=1)) + shift
            softplus_off += _sum_log_at_least_one(e.mul_(e_shift).add_(1), 1.0 + e_shift)
        else:                   # the softplus needs the scores themselves, before any exp
            s = a[r0:r0 + rows] @ b.T
            s.diagonal(offset=r0).fill_(-math.inf)
            softplus_off += _softplus_sum(s)
            m = s.amax(dim=1)
            lse_off[r0:r0 + rows] = torch.log(s.sub_(m[:, None]).exp_().sum(dim=1)) + m
    pairs = n * (n - 1)
    mi_dv = joint.mean() - (torch.logsumexp(lse_off, dim=0) - math.log(pairs))
    mi_nce = (joint - torch.logaddexp(lse_off, joint)).mean() + math.log(n)
    mi_jsd = -F.softplus(-joint).mean() - softplus_off / pairs
    return {"mi_cos_dv": float(mi_dv), "mi_infonce": float(mi_nce), "mi_jsd": float(mi_jsd)}


# --------------------------------------------------------------------------- the Gaussian (log-det) estimate
def _logdet_spd(c: torch.Tensor) -> torch.Tensor:
    """``log det`` of a symmetric positive-definite matrix through its Cholesky factor.

    Where the factorisation fails the result is NaN. With the finiteness checks on
    (:func:`mi_ssl.checks.checking_finite`) a failure raises instead, saying whether the covariance had
    non-finite entries (diverged embeddings) or was not positive definite; inside :func:`~mi_ssl.training.fit`
    they are off (no host synchronisation per step) and the NaN loss stops the run with its own message.
    """
    chol, info = torch.linalg.cholesky_ex(c)
    if checking_finite():
        if not bool(torch.isfinite(c).all()):
            raise ValueError("the covariance has non-finite entries: the embeddings are NaN or inf "
                             "(training diverged? lower the learning rate)")
        if bool((info != 0).any()):
            raise ValueError("covariance is not positive definite even with the ridge; raise eps")
    logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    return torch.where(info == 0, logdet, torch.full_like(logdet, math.nan))


def logdet_mi_estimate(za: torch.Tensor, zb: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Gaussian (second-moment, log-det) MI estimate of a batch, in nats (EMI, arXiv 2409.04747).

    ``I = 1/2 log( det C_A det C_B / det C_[A;B] )`` with batch covariances ``C_A``, ``C_B`` (``[D, D]``)
    and ``C_[A;B]`` (``[2D, 2D]``), each plus ``eps * I`` (ridge), log-determinants by Cholesky in float64.

    Args:
        za, zb: ``[N, D]``, ``N >= 2``. eps: ridge ``>= 0`` (equivalent to adding independent Gaussian
            noise of variance ``eps`` to each view).
    Returns:
        scalar in the inputs' dtype (float32 for half precision). Exact MI for jointly Gaussian data, and
        for any data the MI of the Gaussian with the same second moments, which is *not* a bound on the
        true MI in general; invariant under invertible linear maps of either view; no ceiling but the
        ridge's (``1/2 sum_k log((l_k + eps)^2 / (eps (2 l_k + eps)))`` for identical views with
        covariance eigenvalues ``l_k``). Compare :func:`mi_ssl.theory.gaussian_mi`, the closed form of
        correlated Gaussians. The loss is :func:`mi_ssl.objectives.emi`.
    """
    za, zb = _check_pair(za, zb)
    eps = check_real(eps, "eps", nonneg=True)
    za, zb = at_least_float32(za), at_least_float32(zb)
    n, d = za.shape
    # float64 for the covariances and Cholesky factors (2D x 2D: cheap): with N <= 2D the joint covariance is
    # singular but for the ridge, which float32 cannot always resolve.
    z = torch.cat([za, zb], dim=1).double()
    z = z - z.mean(0)
    c = z.T @ z / (n - 1) + eps * torch.eye(2 * d, device=z.device, dtype=z.dtype)
    mi = 0.5 * (_logdet_spd(c[:d, :d]) + _logdet_spd(c[d:, d:]) - _logdet_spd(c))
    return mi.to(za.dtype)
