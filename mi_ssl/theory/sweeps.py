"""Bound sweeps: every MI estimator of :mod:`mi_ssl.bounds` against a closed-form truth (book chapter 01).

* :func:`bound_sweep` — correlated Gaussians (:mod:`.gaussians`) over true MI, batch size ``N`` and critic
  (the optimal critic ``T*`` or the cosine critic of paper Eq. 14): how each bound's bias and ceiling
  (InfoNCE ``<= log N``) move with ``N``.
* :func:`channel_sweep` — the Gaussian channel of paper Eq. 29 over noise levels: the closed forms of
  ``I(x; z_k)``, ``I(z_1; z_2)`` and their batch estimates.

Both return ``pandas`` tables in nats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from .. import bounds
from ..checks import check_int, check_real
from .gaussians import (
    gaussian_channel_mi,
    gaussian_optimal_critic,
    rho_for_mi,
    sample_correlated_gaussians,
    sample_gaussian_channel,
)

__all__ = ["bound_estimates", "bound_sweep", "channel_sweep", "optimal_critic_identities", "sweep_claims"]

CRITICS = ("optimal", "cosine")


def bound_estimates(scores: torch.Tensor, nwj_shift: float = 1.0) -> dict[str, float]:
    """The four estimators ``dv, nwj, infonce, jsd`` of :mod:`mi_ssl.bounds` on one ``[N, N]`` score matrix.

    In nats. NWJ is evaluated on ``scores + nwj_shift`` (``T + 1`` is NWJ's counterpart of the DV critic
    ``T``: NWJ is tight at ``T* + 1``). ``jsd`` is the f-GAN objective of :func:`mi_ssl.bounds.jsd`
    (ceiling 0).
    """
    shift = check_real(nwj_shift, "nwj_shift")
    return {
        "dv": float(bounds.dv(scores)),
        "nwj": float(bounds.nwj(scores + shift)),
        "infonce": float(bounds.infonce(scores)),
        "jsd": float(bounds.jsd(scores)),
    }


def bound_sweep(
    mi_values: Sequence[float],
    batch_sizes: Sequence[int],
    d: int = 4,
    n_repeats: int = 10,
    critics: Sequence[str] = CRITICS,
    tau: float = 0.5,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """Every estimator against the true MI of correlated Gaussians, over MI values, batch sizes and critics.

    For each true MI (nats) we set ``rho = rho_for_mi(mi, d)``, draw ``n_repeats`` fresh batches of each
    size ``N`` and evaluate :func:`bound_estimates` with

    * ``"optimal"``: the optimal critic :func:`~.gaussians.gaussian_optimal_critic` (``T*``),
    * ``"cosine"``: the cosine critic ``cos(x, y) / tau`` of paper Eq. 14 (identity encoder).

    Returns a long ``DataFrame`` with one row per (critic, mi, N, repeat, bound): columns ``critic``,
    ``true_mi``, ``rho``, ``n``, ``log_n``, ``repeat``, ``bound``, ``estimate``.
    """
    d = check_int(d, "d", 1)
    n_repeats = check_int(n_repeats, "n_repeats", 1)
    tau = check_real(tau, "tau", positive=True)
    for n in batch_sizes:
        check_int(n, "batch_sizes[...]", 2)
    for c in critics:
        if c not in CRITICS:
            raise ValueError(f"critics entries must be one of {CRITICS}, got {c!r}")
    rows = []
    g = torch.Generator().manual_seed(check_int(seed, "seed", 0))
    for mi in mi_values:
        rho = rho_for_mi(mi, d)
        for n in batch_sizes:
            for r in range(n_repeats):
                x, y = sample_correlated_gaussians(n, d, rho, g, device=device)
                for critic in critics:
                    if critic == "optimal":
                        s = gaussian_optimal_critic(x, y, rho)
                    else:
                        s = bounds.cosine_scores(x, y, tau)
                    for name, value in bound_estimates(s).items():
                        rows.append((critic, float(mi), rho, int(n), math.log(n), r, name, value))
    columns = ["critic", "true_mi", "rho", "n", "log_n", "repeat", "bound", "estimate"]
    return pd.DataFrame(rows, columns=columns)


def channel_sweep(
    noise_stds: Sequence[float],
    signal_std: float = 1.0,
    noise_ratio: float = 1.5,
    n: int = 256,
    n_repeats: int = 20,
    seed: int = 0,
) -> pd.DataFrame:
    """Closed-form MIs of the Gaussian channel (Eq. 29) and batch estimates of ``I(z_1; z_2)``.

    View 1 has noise std ``sigma``, view 2 ``noise_ratio * sigma``. The estimates use the optimal critic of
    the (standardised) view pair, :func:`~.gaussians.gaussian_optimal_critic` with
    ``rho = corr(z_1, z_2)``: a log density ratio is invariant to rescaling each variable. Returns one row
    per noise level with columns
    ``noise_std, i_x_z1, i_x_z2, i_z1_z2, dpi_bound, dv_mean, dv_std, infonce_mean, nwj_mean`` (nats).
    """
    s = check_real(signal_std, "signal_std", positive=True)
    ratio = check_real(noise_ratio, "noise_ratio", positive=True)
    n = check_int(n, "n", 2)
    n_repeats = check_int(n_repeats, "n_repeats", 1)
    g = torch.Generator().manual_seed(check_int(seed, "seed", 0))
    rows = []
    for sigma in noise_stds:
        sigma = check_real(sigma, "noise_stds[...]", positive=True)
        mi = gaussian_channel_mi(s, sigma, ratio * sigma)
        est = []
        for _ in range(n_repeats):
            _, z1, z2 = sample_gaussian_channel(n, s, sigma, ratio * sigma, g)
            z1 = z1 / math.sqrt(s * s + sigma * sigma)
            z2 = z2 / math.sqrt(s * s + (ratio * sigma) ** 2)
            est.append(bound_estimates(gaussian_optimal_critic(z1, z2, mi.view_correlation)))
        e = pd.DataFrame(est)
        rows.append({
            "noise_std": sigma, "i_x_z1": mi.input_view_1, "i_x_z2": mi.input_view_2, "i_z1_z2": mi.view_view,
            "dpi_bound": mi.dpi_bound, "dv_mean": e.dv.mean(), "dv_std": e.dv.std(),
            "infonce_mean": e.infonce.mean(), "nwj_mean": e.nwj.mean(),
        })
    return pd.DataFrame(rows)


def optimal_critic_identities(mi: float = 1.0, d: int = 4, n: int = 2000, seed: int = 0,
                              device: str | torch.device = "cpu") -> dict[str, float]:
    """The two identities that make DV tight at the optimal critic, measured on one batch of ``n`` pairs.

    Returns ``{"joint_mean": mean of T* over the joint pairs (-> I = mi), "marginal_mean": mean of exp(T*) over
    the marginal pairs (-> 1)}`` for correlated Gaussians with true MI ``mi`` (nats).
    """
    rho = rho_for_mi(mi, d)
    x, y = sample_correlated_gaussians(check_int(n, "n", 2), d, rho, torch.Generator().manual_seed(seed),
                                       device=device)
    s = gaussian_optimal_critic(x, y, rho)
    return {"joint_mean": float(torch.diagonal(s).mean()), "marginal_mean": float(bounds.off_diagonal(s).exp().mean())}


def sweep_claims(sweep: pd.DataFrame, tau: float, accurate_below: float = 4.0) -> pd.DataFrame:
    """What chapter 01 reads off a :func:`bound_sweep`, one row per ``seed`` (one row if there is no ``seed`` column).

    ``batches``: the number of (critic, MI, ``N``, repeat) batches. Batch by batch: ``infonce_le_log_n``
    (InfoNCE never above ``log N``),
    ``dv_ge_nwj`` (DV never below NWJ on the same critic), ``jsd_le_0``, ``cos_dv_max`` (largest cosine-critic DV;
    its ceiling is ``2/tau``, ``cos_dv_le_2_over_tau``). Means over the seed's batches, optimal critic:
    ``dv_err``/``nwj_err`` (largest ``|mean - MI|`` at the largest ``N`` over MI ``<= accurate_below``),
    ``nce_err`` (largest ``|mean - MI|`` where MI ``<= log N - 3``; ``nan`` if no such cell), ``nce_sat_gap``
    (largest ``log N - mean`` where MI ``>= log N + 2``), ``dv_overshoot`` (share of batches whose DV exceeds the
    truth at the largest MI and smallest ``N``), ``dv_hi_median``; cosine critic: ``cos_gap`` (largest MI minus the
    mean cosine DV at the largest ``N``).
    """
    tau = check_real(tau, "tau", positive=True)
    frame = sweep if "seed" in sweep.columns else sweep.assign(seed=0)
    rows = []
    for seed, part in frame.groupby("seed", sort=False):
        wide = part.pivot_table(index=["critic", "true_mi", "n", "repeat"], columns="bound",
                                values="estimate").reset_index()
        means = part.groupby(["critic", "bound", "n", "true_mi"]).estimate.mean()
        opt = wide[wide.critic == "optimal"]
        n_big, n_small, mi_max = int(wide.n.max()), int(wide.n.min()), float(wide.true_mi.max())
        low = [v for v in sorted(wide.true_mi.unique()) if v <= accurate_below]
        cells = list(zip(opt.n, opt.true_mi))
        nce_small = [(n, v) for n, v in set(cells) if v <= math.log(n) - 3]
        nce_large = [(n, v) for n, v in set(cells) if v >= math.log(n) + 2]
        hi = opt[(opt.true_mi == mi_max) & (opt.n == n_small)]
        cos_dv = wide[wide.critic == "cosine"].dv
        rows.append({
            "seed": seed,
            "batches": int(len(wide)),
            "infonce_le_log_n": bool((wide.infonce <= np.log(wide.n) + 1e-12).all()),
            "dv_ge_nwj": bool((wide.dv >= wide.nwj - 1e-12).all()),
            "jsd_le_0": bool((wide.jsd <= 0).all()),
            "cos_dv_max": float(cos_dv.max()) if len(cos_dv) else float("nan"),
            "cos_dv_le_2_over_tau": bool((cos_dv <= 2 / tau).all()),
            "dv_err": max(abs(means["optimal", "dv", n_big, v] - v) for v in low),
            "nwj_err": max(abs(means["optimal", "nwj", n_big, v] - v) for v in low),
            "nce_err": max((abs(means["optimal", "infonce", n, v] - v) for n, v in nce_small), default=float("nan")),
            "nce_sat_gap": max((math.log(n) - means["optimal", "infonce", n, v] for n, v in nce_large),
                               default=float("nan")),
            "dv_overshoot": float((hi.dv > hi.true_mi).mean()),
            "dv_hi_median": float(hi.dv.median()),
            "cos_gap": mi_max - float(means["cosine", "dv", n_big, mi_max]) if "cosine" in set(wide.critic)
            else float("nan"),
        })
    return pd.DataFrame(rows)
