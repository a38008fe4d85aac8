"""The Gaussian (second-moment) MI of EMI against the true MI (book chapter 06).

EMI (Chang et al., arXiv 2409.04747) maximises ``I_G = 1/2 log(det C_A det C_B / det C_[A;B])``, the MI of
the Gaussian with the batch's second moments (:func:`mi_ssl.bounds.logdet_mi_estimate`). This module holds
the checks of what ``I_G`` measures:

* :func:`gaussian_mi_bias` — on correlated Gaussians (where ``I_G`` is consistent): mean error against the
  batch size, next to the Wilks bias ``d^2 / (2N)`` of the null case.
* :func:`ridge_study` — the ridge ``eps`` only lowers the estimate; :func:`ridge_cap` — the value of
  ``I_G`` for identical isotropic views of a given feature scale (unit-norm rows by default).
* :func:`affine_invariance`, :func:`nonlinear_invariance` — exact under invertible affine maps, not under
  invertible nonlinear ones; :func:`collapsed_feature_check` — why the ridge is there.
* :func:`mc_mi` — the true MI of a distribution with exact densities, by Monte Carlo; with it
  :func:`binary_latent_study` (``I_G`` above *and* below the truth) and :func:`toy_views_mi` (the paper's
  five-cluster toy views: ``I(x_1; x_2)``, a data-processing ceiling on the MI of any encoders).

All values in nats, ``float64``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch.distributions import Categorical, Distribution, Independent, MixtureSameFamily, MultivariateNormal, Normal

from .. import bounds
from ..checks import check_int, check_real
from ._checks import check_rho
from .gaussians import gaussian_mi, sample_correlated_gaussians

__all__ = [
    "MonteCarloMI",
    "gaussian_mi_estimate",
    "gaussian_mi_bias",
    "ridge_study",
    "ridge_cap",
    "affine_invariance",
    "nonlinear_invariance",
    "collapsed_feature_check",
    "NONLINEAR_MAPS",
    "mc_mi",
    "binary_latent",
    "binary_latent_study",
    "toy_view_mixture",
    "toy_views_mi",
]

F64 = torch.float64


def gaussian_mi_estimate(za: torch.Tensor, zb: torch.Tensor, eps: float = 0.0) -> float:
    """:func:`mi_ssl.bounds.logdet_mi_estimate` of two ``[N, d]`` batches as a float (nats); ``eps``: ridge."""
    return float(bounds.logdet_mi_estimate(za, zb, eps=eps))


def gaussian_mi_bias(rhos: Sequence[float], batch_sizes: Sequence[int], d: int = 4, n_repeats: int = 20,
                     seed: int = 0) -> pd.DataFrame:
    """Error of the plug-in ``I_G`` (``eps = 0``) on correlated Gaussians, per ``(rho, N)``.

    ``n_repeats`` batches per cell (per ``rho`` one generator seeded ``seed``, drawn in order of ``N``).
    Returns one row per cell: ``rho, n, truth`` (``-(d/2) log(1 - rho^2)``), ``mean_error``, ``sd_error``
    (over the batches) and ``wilks = d^2 / (2N)`` — under independence ``2N I_G`` is asymptotically
    chi-squared with ``d^2`` degrees of freedom, so the estimator is biased upwards by about that much.
    """
    d = check_int(d, "d", 1)
    n_repeats = check_int(n_repeats, "n_repeats", 1)
    rows = []
    for rho in rhos:
        truth = gaussian_mi(check_rho(rho), d)
        g = torch.Generator().manual_seed(seed)
        for n in batch_sizes:
            n = check_int(n, "batch size", d + 2)
            err = torch.tensor([gaussian_mi_estimate(*sample_correlated_gaussians(n, d, rho, g)) - truth
                                for _ in range(n_repeats)], dtype=F64)
            rows.append({"rho": float(rho), "n": n, "truth": truth, "mean_error": float(err.mean()),
                         "sd_error": float(err.std()) if n_repeats > 1 else 0.0, "wilks": d * d / (2 * n)})
    return pd.DataFrame(rows)


def ridge_study(eps: Sequence[float], rho: float = 0.9, d: int = 4, n: int = 4096, seed: int = 0) -> pd.DataFrame:
    """``I_G`` of one batch of ``n`` correlated-Gaussian pairs for each ridge: columns ``eps, estimate, truth``.

    A ridge ``eps I`` on the covariances is independent ``N(0, eps I)`` noise on each view, so the estimate
    can only fall as ``eps`` grows.
    """
    x, y = sample_correlated_gaussians(check_int(n, "n", d + 2), d, check_rho(rho), torch.Generator().manual_seed(seed))
    truth = gaussian_mi(rho, d)
    return pd.DataFrame([{"eps": float(e), "estimate": gaussian_mi_estimate(x, y, check_real(e, "eps", nonneg=True)),
                          "truth": truth} for e in eps])


def ridge_cap(d: int, n: int, eps: float, *, var: float | None = None) -> float:
    """``I_G`` of identical views ``Z_A = Z_B`` whose batch covariance is isotropic, ``var * I``.

    With eigenvalues ``lambda`` of the covariance, the ridged estimate of identical views is
    ``1/2 sum_k log((lambda_k + eps)^2 / (eps (2 lambda_k + eps)))`` (infinite at ``eps = 0``). Each term is
    increasing in ``lambda_k`` and concave for ``lambda_k > eps / sqrt 2``, so among covariances of one trace whose
    eigenvalues all exceed ``eps / sqrt 2`` the isotropic one gives the largest value. ``var``: the
    per-coordinate variance (the trace over ``d``); ``None``
    means unit-norm rows (``d`` coordinates, ``n`` rows), whose covariance has trace at most ``n / (n - 1)``, so
    ``var = n / ((n - 1) d)``. Since ``I_G(sA, sB; eps) = I_G(A, B; eps / s^2)``, the cap grows like
    ``d/2 log(var / (2 eps))`` with the feature scale. Nats; ``d >= 1``, ``n >= 2``, ``eps > 0``, ``var > 0``.
    """
    d, n = check_int(d, "d", 1), check_int(n, "n", 2)
    eps = check_real(eps, "eps", positive=True)
    lam = n / (n - 1) / d if var is None else check_real(var, "var", positive=True)
    return 0.5 * d * math.log((lam + eps) ** 2 / (eps * (2 * lam + eps)))


def affine_invariance(rho: float = 0.9, d: int = 4, n: int = 200_000, seed: int = 0,
                      ridge: float = 1e-3) -> dict[str, float]:
    """``I_G`` under invertible affine maps ``x M^T + b``, ``y N^T + c`` (random ``M, N, b, c``) of ``n`` pairs.

    Returns ``base`` (``I_G`` of the raw pairs, ``eps = 0``), ``truth``, ``affine_gap`` (``|change|`` at ``eps = 0``:
    zero up to rounding, second moments transform exactly) and ``affine_gap_ridge`` (the same with the ridge:
    ``eps I`` does not transform with the data, so the invariance is broken slightly).
    """
    d = check_int(d, "d", 1)
    x, y = sample_correlated_gaussians(check_int(n, "n", d + 2), d, check_rho(rho),
                                       torch.Generator().manual_seed(seed))
    g = torch.Generator().manual_seed(seed + 1)
    mx, my = torch.randn(d, d, generator=g, dtype=F64), torch.randn(d, d, generator=g, dtype=F64)
    bx, by = 3.0 * torch.randn(d, generator=g, dtype=F64), -2.0 * torch.randn(d, generator=g, dtype=F64)
    xa, ya = x @ mx.T + bx, y @ my.T + by
    base = gaussian_mi_estimate(x, y)
    return {"base": base, "truth": gaussian_mi(rho, d), "affine_gap": abs(gaussian_mi_estimate(xa, ya) - base),
            "affine_gap_ridge": abs(gaussian_mi_estimate(xa, ya, ridge) - gaussian_mi_estimate(x, y, ridge))}


#: Coordinate-wise invertible maps of :func:`nonlinear_invariance` (each leaves the true MI unchanged).
NONLINEAR_MAPS: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "y -> y^3": lambda t: t**3,
    "y -> y + y^3": lambda t: t + t**3,
    "y -> tanh(y)": torch.tanh,
    "y -> tanh(2y)": lambda t: torch.tanh(2 * t),
    "y -> sinh(y)": torch.sinh,
    "y -> exp(y)": torch.exp,
}


def nonlinear_invariance(rho: float = 0.9, d: int = 4, n: int = 200_000, seed: int = 0) -> pd.DataFrame:
    """``I_G`` (``eps = 0``) after each map of :data:`NONLINEAR_MAPS`, applied to both views coordinate-wise.

    One row per map, ``identity`` first: ``map, I_G, truth`` (the true MI, unchanged by any invertible map) and
    ``error = I_G - truth``; ``n`` correlated-Gaussian pairs drawn from ``seed``.
    """
    d = check_int(d, "d", 1)
    x, y = sample_correlated_gaussians(check_int(n, "n", d + 2), d, check_rho(rho),
                                       torch.Generator().manual_seed(seed))
    truth = gaussian_mi(rho, d)
    maps = {"identity": lambda t: t, **NONLINEAR_MAPS}
    table = pd.DataFrame([{"map": k, "I_G": gaussian_mi_estimate(f(x), f(y)), "truth": truth} for k, f in maps.items()])
    return table.assign(error=table["I_G"] - truth)


def collapsed_feature_check(n: int = 512, d: int = 3, rho: float = 0.9, eps: float = 1e-3, seed: int = 0
                            ) -> dict[str, object]:
    """Why EMI needs its ridge: one coordinate of ``z_A`` collapsed to a constant makes ``C_A`` singular.

    Returns ``error`` (the message of the ``ValueError`` raised at ``eps = 0``, ``""`` if none was raised) and
    ``ridged`` (``I_G`` with the ridge ``eps``, finite), for ``n`` correlated-Gaussian pairs with the last
    coordinate of the first view set to 0 (exactly zero variance, so the failure does not depend on rounding).
    """
    za, zb = sample_correlated_gaussians(check_int(n, "n", d + 2), check_int(d, "d", 1), check_rho(rho),
                                         torch.Generator().manual_seed(seed))
    za = za.clone()
    za[:, -1] = 0.0
    try:
        gaussian_mi_estimate(za, zb, 0.0)
        error = ""
    except ValueError as err:
        error = str(err)
    return {"error": error, "ridged": gaussian_mi_estimate(za, zb, check_real(eps, "eps", positive=True))}


@dataclass(frozen=True)
class MonteCarloMI:
    """A Monte Carlo MI estimate: ``mean`` and standard error ``se`` (nats) from ``samples`` ``[n, d_a + d_b]``."""

    mean: float
    se: float
    samples: torch.Tensor


def mc_mi(joint: Distribution, marg_a: Distribution, marg_b: Distribution, d_a: int, n: int,
          seed: int = 0) -> MonteCarloMI:
    """True MI ``E[log p(a, b) - log p(a) - log p(b)]`` by Monte Carlo with exact densities, in nats.

    ``joint`` draws ``[n, d_a + d_b]`` (the first ``d_a`` columns are ``a``); ``marg_a``, ``marg_b`` are its
    exact marginals. The draw is seeded with ``seed`` without touching the global torch RNG. The standard
    error is ``sd / sqrt(n)`` of the log-ratio samples.
    """
    n = check_int(n, "n", 2)
    d_a = check_int(d_a, "d_a", 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        z = joint.sample((n,))
    if z.ndim != 2 or z.shape[1] <= d_a:
        raise ValueError(f"joint must draw [n, d_a + d_b] samples with d_b >= 1; got shape {tuple(z.shape)} "
                         f"for d_a={d_a}")
    v = joint.log_prob(z) - marg_a.log_prob(z[:, :d_a]) - marg_b.log_prob(z[:, d_a:])
    return MonteCarloMI(float(v.mean()), float(v.std() / math.sqrt(n)), z)


def binary_latent(sigma: float) -> tuple[Distribution, Distribution]:
    """``(joint, marginal)`` of ``x = b + sigma n_1``, ``y = b + sigma n_2`` with ``b = +-1`` equiprobable.

    The views share at most one bit (``I(x; y) <= log 2``); their correlation is ``1 / (1 + sigma^2)``, so the
    Gaussian MI ``-1/2 log(1 - (1 + sigma^2)^-2)`` grows without bound as ``sigma -> 0``.
    """
    sigma = check_real(sigma, "sigma", positive=True)
    two = Categorical(torch.tensor([0.5, 0.5], dtype=F64))
    mu = torch.tensor([[-1.0, -1.0], [1.0, 1.0]], dtype=F64)
    joint = MixtureSameFamily(two, Independent(Normal(mu, sigma * torch.ones_like(mu)), 1))
    marg = MixtureSameFamily(two, Independent(Normal(mu[:, :1], sigma * torch.ones(2, 1, dtype=F64)), 1))
    return joint, marg


def binary_latent_study(sigmas: Sequence[float], n: int = 200_000, seed: int = 0) -> pd.DataFrame:
    """True MI (Monte Carlo) and ``I_G`` of :func:`binary_latent` for each ``sigma``.

    Columns ``sigma, true_mi, mc_se, I_G`` (on the Monte Carlo samples), ``I_G_closed`` (its population value)
    and ``log2``; sample ``k`` is seeded ``seed + k``.
    """
    rows = []
    for k, sigma in enumerate(sigmas):
        joint, marg = binary_latent(sigma)
        mc = mc_mi(joint, marg, marg, 1, n, seed + k)
        rows.append({"sigma": float(sigma), "true_mi": mc.mean, "mc_se": mc.se,
                     "I_G": gaussian_mi_estimate(mc.samples[:, :1], mc.samples[:, 1:]),
                     "I_G_closed": -0.5 * math.log(1 - (1 + sigma**2) ** -2), "log2": math.log(2)})
    return pd.DataFrame(rows)


def toy_view_mixture() -> tuple[Distribution, Distribution]:
    """``(joint of (x_1, x_2) [4-d], marginal of one view [2-d])`` of the paper's toy views (Section 4.2).

    Five equiprobable clusters ``N(mu_k, sigma^2 I)`` on the unit circle (:mod:`mi_ssl.data.gaussian`), each
    view adding independent ``N(0, t^2 I)`` noise: given the cluster, ``(x_1, x_2)`` is Gaussian with
    variances ``sigma^2 + t^2`` and cross-covariance ``sigma^2`` per coordinate.
    """
    from ..data.gaussian import N_CLUSTERS, SIGMA, VIEW_NOISE, cluster_means

    s2, t2 = SIGMA**2, VIEW_NOISE**2
    mu = cluster_means().to(F64)
    five = Categorical(torch.full((N_CLUSTERS,), 1.0 / N_CLUSTERS, dtype=F64))
    pair = torch.kron(torch.tensor([[s2 + t2, s2], [s2, s2 + t2]], dtype=F64), torch.eye(2, dtype=F64))
    joint = MixtureSameFamily(five, MultivariateNormal(torch.cat([mu, mu], 1), pair.expand(N_CLUSTERS, 4, 4)))
    one = (s2 + t2) * torch.eye(2, dtype=F64)
    view = MixtureSameFamily(five, MultivariateNormal(mu, one.expand(N_CLUSTERS, 2, 2)))
    return joint, view


def toy_views_mi(n: int = 200_000, seed: int = 0) -> dict[str, float]:
    """``{"mi", "se", "I_G"}``: the true ``I(x_1; x_2)`` of the toy views (Monte Carlo) and their Gaussian MI.

    By the data-processing inequality ``mi`` is a ceiling on ``I(f(x_1); g(x_2))`` for any deterministic
    encoders ``f, g``.
    """
    joint, view = toy_view_mixture()
    mc = mc_mi(joint, view, view, 2, n, seed)
    return {"mi": mc.mean, "se": mc.se, "I_G": gaussian_mi_estimate(mc.samples[:, :2], mc.samples[:, 2:])}
