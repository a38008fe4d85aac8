"""Block-coordinate ascent on a DV objective of two encoders (paper Section 3.1, Proposition, Section A.1).

SDMI alternates an E-step on one encoder and an M-step on the other (Eqs. 4-5); the Proposition says each
half-step cannot lower ``L = J - M`` (Eq. 2) by more than ``O(epsilon)`` (Eqs. 16-18), where ``epsilon``
bounds the marginal term's gradient. These functions check that on objectives that are exact:

* **Objectives** of two linear encoders ``W_A, W_B`` (``[d, p]``) on views ``x_k = x + n_k``:
  the population DV with the dot critic (:func:`gaussian_dot_dv_terms`, closed form) and the full-batch
  cos-DV of Eq. 15 on one fixed batch (:func:`batch_cos_dv_terms`).
* **The ascent**: :func:`dv_ascent` takes alternating (SDMI) or joint (JMI) gradient steps and records an
  :class:`AscentTrace`.
* **Instances and tables** for the book: seeded settings, :func:`ascent_table`, :func:`ascent_sweep`.

Tensors are ``float64``; objective values in nats.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .. import bounds
from ..checks import check_int, check_real
from ._checks import check_square
from .dot_critic import _bilinear_log_mgf

__all__ = [
    "Terms",
    "linear_view_covariances",
    "gaussian_dot_dv_terms",
    "batch_cos_dv_terms",
    "AscentTrace",
    "dv_ascent",
    "linear_gaussian_setting",
    "linear_gaussian_batch",
    "ascent_table",
    "gaussian_dot_instance",
    "batch_cos_dv_instance",
    "ascent_sweep",
    "first_decrease",
    "Prop31Instance",
    "prop31_instance",
    "prop31_sweep",
]

Terms = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
"""``terms(W_A, W_B) -> (J, M)``: the joint and marginal terms of a DV objective (paper Eq. 2)."""


# --------------------------------------------------------------------------- objectives of two linear encoders
def linear_view_covariances(
    w_a: torch.Tensor, w_b: torch.Tensor, sigma_x: torch.Tensor, noise_var: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Second moments of ``z_A = W_A x_1``, ``z_B = W_B x_2`` for ``x_k = x + n_k``.

    ``x ~ N(0, Sigma_x)`` (``[p, p]``), ``n_k ~ N(0, noise_var I_p)`` independent; ``W_A, W_B`` ``[d, p]``.
    Returns ``(Sigma_A, Sigma_B, C)``, each ``[d, d]``: ``Sigma_A = W_A (Sigma_x + v I) W_A^T``,
    ``Sigma_B = W_B (Sigma_x + v I) W_B^T``, ``C = E[z_A z_B^T] = W_A Sigma_x W_B^T``. Differentiable.
    """
    v = check_real(noise_var, "noise_var", nonneg=True)
    sigma_view = sigma_x + v * torch.eye(sigma_x.shape[0], dtype=sigma_x.dtype, device=sigma_x.device)
    return w_a @ sigma_view @ w_a.T, w_b @ sigma_view @ w_b.T, w_a @ sigma_x @ w_b.T


def gaussian_dot_dv_terms(
    w_a: torch.Tensor, w_b: torch.Tensor, sigma_x: torch.Tensor, noise_var: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact population DV terms (paper Eq. 2) of two linear encoders, fixed dot critic ``T = z_A . z_B``.

    ``J = E_p[T] = tr(C)`` (affine, hence concave, in each encoder: assumption (1) of the Proposition)
    and ``M = log E_{p(z_A)p(z_B)}[e^T] = -1/2 log det(I - Sigma_A Sigma_B)`` (the Gaussian moment
    generating function of a bilinear form; finite only while the spectral radius of
    ``Sigma_A Sigma_B`` is ``< 1``; ``M = +inf`` outside). ``L = J - M`` is the DV bound ``<= I(z_A; z_B)``.
    Shapes as in :func:`linear_view_covariances`; returns two differentiable scalars (``M`` is the closed
    form of :func:`~.dot_critic.gaussian_dot_marginal_log_mgf`).
    """
    sa, sb, c = linear_view_covariances(w_a, w_b, sigma_x, noise_var)
    return torch.trace(c), _bilinear_log_mgf(sa, sb)


def batch_cos_dv_terms(
    w_a: torch.Tensor, w_b: torch.Tensor, x1: torch.Tensor, x2: torch.Tensor, tau: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-batch cos-DV terms (paper Eq. 15) of linear encoders ``z_A = x_1 W_A^T``, ``z_B = x_2 W_B^T``.

    ``J`` = mean of the diagonal of ``cos/tau``, ``M`` = log mean ``exp`` over the off-diagonal pairs.
    ``x1, x2`` ``[N, p]`` (one fixed batch: the objective is deterministic); ``W`` ``[d, p]``.
    """
    s = bounds.cosine_scores(x1 @ w_a.T, x2 @ w_b.T, tau)
    return bounds.joint_term(s), bounds.dv_marginal_term(s)


# --------------------------------------------------------------------------- the ascent
@dataclass
class AscentTrace:
    """Record of :func:`dv_ascent`: one entry per *half-step* (alternating) or per step (joint).

    ``objective[k]`` is ``L = J - M`` after update ``k`` (``objective[0]`` is the start);
    ``block[k]`` says which parameters moved (``"theta"``, ``"xi"`` or ``"both"``);
    ``grad_j``/``grad_m`` are the norms of ``grad J`` and ``grad M`` w.r.t. the moved block, taken
    *before* update ``k`` (the Proposition's ``epsilon`` bounds ``grad_m``).
    """

    mode: str
    lr: float
    objective: np.ndarray
    block: list[str]
    grad_j: np.ndarray
    grad_m: np.ndarray
    monitor: np.ndarray  # monitor(w_a, w_b) at the start and after each update (empty without a monitor)

    @property
    def deltas(self) -> np.ndarray:
        """``L`` after each update minus ``L`` before it."""
        return np.diff(self.objective)

    @property
    def n_decreases(self) -> int:
        """Updates that lowered the objective by more than ``1e-12`` (non-finite counts as a decrease)."""
        d = self.deltas
        return int(np.sum(~np.isfinite(d) | (d < -1e-12)))


def dv_ascent(
    terms: Terms,
    w_a: torch.Tensor,
    w_b: torch.Tensor,
    lr: float,
    steps: int,
    mode: str = "alternating",
    monitor: Callable[[torch.Tensor, torch.Tensor], float] | None = None,
) -> AscentTrace:
    """Gradient ascent on a DV objective ``L(theta, xi) = J - M`` of two encoders (paper Eq. 2).

    * ``mode="alternating"`` (SDMI, Eqs. 4-5 with one gradient step per E/M step): a step on ``theta``
      with ``xi`` fixed (stop-gradient), then a step on ``xi`` with the *updated* ``theta`` fixed.
    * ``mode="joint"`` (simultaneous step): both blocks step from the same point.

    ``terms(w_a, w_b) -> (J, M)`` evaluates the objective (e.g. :func:`gaussian_dot_dv_terms` with the data
    bound in a closure). ``steps`` iterations; an alternating iteration has two half-steps. Plain
    gradient ascent with learning rate ``lr``; inputs are not modified. Once ``L`` is non-finite the
    trace stops. ``monitor(w_a, w_b)`` (optional) is recorded at every point, e.g. the true MI.
    """
    lr = check_real(lr, "lr", positive=True)
    steps = check_int(steps, "steps", 1)
    if mode not in ("alternating", "joint"):
        raise ValueError(f"mode must be 'alternating' or 'joint', got {mode!r}")
    params = [w_a.detach().clone(), w_b.detach().clone()]
    obj: list[float] = []
    block: list[str] = []
    g_j: list[float] = []
    g_m: list[float] = []
    mon: list[float] = []

    def norm(gs: Sequence[torch.Tensor]) -> float:
        return float(torch.sqrt(sum((g * g).sum() for g in gs)))

    def record(value: float) -> None:
        obj.append(value)
        if monitor is not None:
            with torch.no_grad():
                mon.append(float(monitor(params[0], params[1])))

    schedule = [[0], [1]] if mode == "alternating" else [[0, 1]]
    for k in range(steps * len(schedule)):
        which = schedule[k % len(schedule)]
        # one forward pass gives the objective at the current point and the gradient for the next update
        ps = [p.clone().requires_grad_(i in which) for i, p in enumerate(params)]
        j, m = terms(ps[0], ps[1])
        record(float((j - m).detach()))
        if not math.isfinite(obj[-1]):
            break
        sel = [ps[i] for i in which]
        gj = torch.autograd.grad(j, sel, retain_graph=True)
        gm = torch.autograd.grad(m, sel)
        for i, a, b in zip(which, gj, gm):
            params[i] = params[i] + lr * (a - b)
        block.append({(0,): "theta", (1,): "xi"}.get(tuple(which), "both"))
        g_j.append(norm(gj))
        g_m.append(norm(gm))
    else:
        with torch.no_grad():
            j, m = terms(params[0], params[1])
        record(float(j - m))
    return AscentTrace(mode, lr, np.array(obj), block, np.array(g_j), np.array(g_m), np.array(mon))


# --------------------------------------------------------------------------- instances and tables
def linear_gaussian_setting(
    p: int = 4, d: int = 2, init_scale: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A seeded instance for :func:`gaussian_dot_dv_terms`: ``(Sigma_x [p, p], W_A [d, p], W_B [d, p])``.

    ``Sigma_x = A A^T / p + 0.1 I`` with Gaussian ``A``; encoders start at ``init_scale`` times a
    Gaussian matrix, small enough that the DV marginal term is finite at the start. float64.
    """
    p = check_int(p, "p", 1)
    d = check_int(d, "d", 1)
    init_scale = check_real(init_scale, "init_scale", positive=True)
    g = torch.Generator().manual_seed(check_int(seed, "seed", 0))
    a = torch.randn(p, p, generator=g, dtype=torch.float64)
    sigma_x = a @ a.T / p + 0.1 * torch.eye(p, dtype=torch.float64)
    w_a = init_scale * torch.randn(d, p, generator=g, dtype=torch.float64)
    w_b = init_scale * torch.randn(d, p, generator=g, dtype=torch.float64)
    return sigma_x, w_a, w_b


def linear_gaussian_batch(
    n: int, sigma_x: torch.Tensor, noise_var: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of two views ``x_k = x + n_k``, ``x ~ N(0, Sigma_x)``, ``n_k ~ N(0, noise_var I)``.

    Returns ``(x1, x2)``, each ``[n, p]`` float64 (``Sigma_x`` is ``[p, p]``, positive definite).
    """
    n = check_int(n, "n", 2)
    sigma_x = check_square(sigma_x, "sigma_x")
    v = check_real(noise_var, "noise_var", nonneg=True)
    p = sigma_x.shape[0]
    x = torch.randn(n, p, generator=generator, dtype=torch.float64) @ torch.linalg.cholesky(sigma_x).T
    x1 = x + math.sqrt(v) * torch.randn(n, p, generator=generator, dtype=torch.float64)
    x2 = x + math.sqrt(v) * torch.randn(n, p, generator=generator, dtype=torch.float64)
    return x1, x2


def ascent_table(traces: Sequence[AscentTrace]) -> pd.DataFrame:
    """One row per trace of :func:`dv_ascent`: ``mode, lr, updates, decreases, min_delta, start, final, max``.

    ``final`` is the last finite objective and ``diverged`` says whether the objective left the domain
    (marginal term ``+inf``). ``grad_m_over_grad_j`` is the median over updates of
    ``||grad M|| / ||grad J||`` for the moved block (the Proposition assumes ``||grad M|| <= epsilon`` small).
    """
    rows = []
    for t in traces:
        finite = t.objective[np.isfinite(t.objective)]
        d = t.deltas
        rows.append({
            "mode": t.mode, "lr": t.lr, "updates": len(d), "decreases": t.n_decreases,
            "min_delta": float(np.min(np.where(np.isfinite(d), d, -np.inf))) if len(d) else 0.0,
            "start": float(t.objective[0]), "final": float(finite[-1]), "max": float(finite.max()),
            "diverged": bool(not np.isfinite(t.objective[-1])),
            "grad_m_over_grad_j": float(np.median(t.grad_m / t.grad_j)) if len(d) else float("nan"),
        })
    return pd.DataFrame(rows)


def gaussian_dot_instance(
    seed: int, p: int = 4, d: int = 2, noise_var: float = 0.5, init_scale: float = 0.1
) -> tuple[Terms, torch.Tensor, torch.Tensor]:
    """``(terms, W_A, W_B)`` for :func:`dv_ascent`: exact population DV, dot critic (:func:`gaussian_dot_dv_terms`).

    ``Sigma_x`` and the starting encoders come from :func:`linear_gaussian_setting` with this ``seed``.
    """
    sigma_x, w_a, w_b = linear_gaussian_setting(p, d, init_scale, seed)

    def terms(wa: torch.Tensor, wb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return gaussian_dot_dv_terms(wa, wb, sigma_x, noise_var)

    return terms, w_a, w_b


def batch_cos_dv_instance(
    seed: int, n: int = 128, p: int = 4, d: int = 3, noise_var: float = 0.5, tau: float = 0.1
) -> tuple[Terms, torch.Tensor, torch.Tensor]:
    """``(terms, W_A, W_B)`` for :func:`dv_ascent`: full-batch cos-DV (Eq. 15) on one fixed batch of ``n`` pairs.

    ``Sigma_x`` from :func:`linear_gaussian_setting` (``seed``), one batch from
    :func:`linear_gaussian_batch`, encoders ``[d, p]`` with standard Gaussian entries.
    """
    sigma_x, _, _ = linear_gaussian_setting(p, 1, 0.1, seed)
    g = torch.Generator().manual_seed(seed)
    x1, x2 = linear_gaussian_batch(n, sigma_x, noise_var, g)
    w_a = torch.randn(d, p, generator=g, dtype=torch.float64)
    w_b = torch.randn(d, p, generator=g, dtype=torch.float64)

    def terms(wa: torch.Tensor, wb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return batch_cos_dv_terms(wa, wb, x1, x2, tau)

    return terms, w_a, w_b


def ascent_sweep(
    instance: Callable[[int], tuple[Terms, torch.Tensor, torch.Tensor]],
    seeds: Sequence[int],
    lrs: Sequence[float],
    steps: int,
    modes: Sequence[str] = ("alternating", "joint"),
) -> pd.DataFrame:
    """:func:`ascent_table` of every (seed, learning rate, mode); ``instance(seed) -> (terms, W_A, W_B)``.

    Returns the table with a leading ``seed`` column: one row per run of :func:`dv_ascent`.
    """
    tables = []
    for seed in seeds:
        terms, w_a, w_b = instance(seed)
        table = ascent_table([dv_ascent(terms, w_a, w_b, lr, steps, mode) for lr in lrs for mode in modes])
        table.insert(0, "seed", seed)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def first_decrease(table: pd.DataFrame, modes: Sequence[str] = ("alternating", "joint")) -> pd.DataFrame:
    """Per seed (rows) and mode (columns): the smallest learning rate of an :func:`ascent_sweep` table at which some
    update decreased the objective; ``inf`` where no learning rate did."""
    bad = table[table.decreases > 0].groupby(["seed", "mode"]).lr.min()
    seeds = list(dict.fromkeys(table.seed))
    return bad.unstack("mode").reindex(index=seeds, columns=list(modes)).astype(float).fillna(np.inf)


@dataclass(frozen=True)
class Prop31Instance:
    """Alternating and joint ascent on one exact population-DV instance (:func:`prop31_instance`).

    ``traces[(mode, lr)]``; ``table``: :func:`ascent_table` of them; ``ceiling``: ``I(x_1; x_2)``, the MI of the
    views; ``bounded``: along every path ``DV <= I(z_A; z_B) <= I(x_1; x_2)``; ``eps_ratio``: ``||grad M|| /
    ||grad J||`` at the last update of the smallest-lr alternating run; ``first_bad[mode]``: the smallest lr
    with a decreasing update (``inf``: none).
    """

    traces: dict[tuple[str, float], AscentTrace]
    table: pd.DataFrame
    ceiling: float
    bounded: bool
    eps_ratio: float
    first_bad: dict[str, float]


def prop31_instance(seed: int, lrs: Sequence[float], steps: int, noise_var: float = 0.5, p: int = 4,
                    d: int = 2) -> Prop31Instance:
    """Proposition 3.1 on the exact population DV of two linear encoders with the dot critic.

    The instance is :func:`gaussian_dot_instance` (``seed``, ``p``-dimensional input, ``d``-dimensional codes, view
    noise variance ``noise_var``); for each lr in ``lrs`` and each mode, :func:`dv_ascent` with ``steps``
    iterations and the true MI of the representations (:func:`~.gaussians.gaussian_mi_from_cov`) as monitor.
    """
    from .gaussians import gaussian_mi_from_cov

    sigma_x, _, _ = linear_gaussian_setting(p, d, 0.1, seed)
    terms, w_a, w_b = gaussian_dot_instance(seed, p=p, d=d, noise_var=noise_var)

    def true_mi(wa: torch.Tensor, wb: torch.Tensor) -> float:
        return gaussian_mi_from_cov(*linear_view_covariances(wa, wb, sigma_x, noise_var))

    view = sigma_x + noise_var * torch.eye(p, dtype=torch.float64)
    ceiling = gaussian_mi_from_cov(view, view, sigma_x)
    traces = {(mode, float(lr)): dv_ascent(terms, w_a, w_b, lr, steps, mode, monitor=true_mi)
              for lr in lrs for mode in ("alternating", "joint")}
    bounded = all(((t.objective[ok] <= t.monitor[ok] + 1e-10) & (t.monitor[ok] <= ceiling + 1e-10)).all()
                  for t in traces.values() for ok in [np.isfinite(t.objective)])
    lo = traces[("alternating", float(min(lrs)))]
    first_bad = {m: min([float(lr) for lr in lrs if traces[(m, float(lr))].n_decreases > 0], default=math.inf)
                 for m in ("alternating", "joint")}
    return Prop31Instance(traces, ascent_table(list(traces.values())), ceiling, bool(bounded),
                          float(lo.grad_m[-1] / lo.grad_j[-1]), first_bad)


def prop31_sweep(seeds: Sequence[int], dot_lrs: Sequence[float], dot_steps: int, cos_lrs: Sequence[float],
                 cos_steps: int, noise_var: float = 0.5, cos_batch: int = 96, cos_tau: float = 0.1) -> pd.DataFrame:
    """:func:`ascent_sweep` on the instance of every seed for two objectives, stacked with an ``objective`` column:
    ``"population DV, dot critic"`` (:func:`gaussian_dot_instance`) and ``"full-batch cos-DV (Eq. 15)"``
    (:func:`batch_cos_dv_instance` with ``cos_batch`` pairs and temperature ``cos_tau``)."""
    dot = ascent_sweep(lambda s: gaussian_dot_instance(s, noise_var=noise_var), seeds, dot_lrs, dot_steps)
    cos = ascent_sweep(lambda s: batch_cos_dv_instance(s, n=cos_batch, noise_var=noise_var, tau=cos_tau), seeds,
                       cos_lrs, cos_steps)
    return pd.concat([dot.assign(objective="population DV, dot critic"),
                      cos.assign(objective="full-batch cos-DV (Eq. 15)")], ignore_index=True)
