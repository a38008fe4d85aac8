"""Tests of :mod:`mi_ssl.theory.gaussians` and :mod:`mi_ssl.theory.sweeps` against independent ground truth.

Ground truths: differential entropies from :mod:`scipy.stats`, log-densities from
``scipy.stats.multivariate_normal``, numerical integration on a grid, Monte Carlo, :func:`numpy.cov` /
:func:`numpy.corrcoef`, and the ceilings every bound must respect. Seeded and deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from mi_ssl import bounds, theory

F64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _entropy_mi(cov_a: np.ndarray, cov_b: np.ndarray, cov_joint: np.ndarray) -> float:
    """I = H(A) + H(B) - H(A, B) with scipy's Gaussian entropies."""
    h = lambda c: stats.multivariate_normal(mean=np.zeros(len(c)), cov=c).entropy()  # noqa: E731
    return float(h(cov_a) + h(cov_b) - h(cov_joint))


# --------------------------------------------------------------------------- correlated Gaussians
@pytest.mark.parametrize("rho,d", [(0.0, 1), (0.3, 1), (-0.6, 3), (0.9, 5), (0.999, 2)])
def test_gaussian_mi_matches_entropy_difference(rho: float, d: int) -> None:
    eye = np.eye(d)
    joint = np.block([[eye, rho * eye], [rho * eye, eye]])
    assert theory.gaussian_mi(rho, d) == pytest.approx(_entropy_mi(eye, eye, joint), abs=1e-9)


@pytest.mark.parametrize("mi,d", [(0.0, 1), (0.5, 1), (3.0, 4), (10.0, 2)])
def test_rho_for_mi_inverts_gaussian_mi(mi: float, d: int) -> None:
    assert theory.gaussian_mi(theory.rho_for_mi(mi, d), d) == pytest.approx(mi, abs=1e-9)


def test_sampler_second_moments_and_determinism() -> None:
    rho, d, n = 0.7, 3, 200_000
    x, y = theory.sample_correlated_gaussians(n, d, rho, _gen(0))
    assert x.shape == y.shape == (n, d) and x.dtype == F64
    cov = np.cov(torch.cat([x, y], 1).numpy().T)
    eye = np.eye(d)
    target = np.block([[eye, rho * eye], [rho * eye, eye]])
    assert np.abs(cov - target).max() < 0.015
    x2, y2 = theory.sample_correlated_gaussians(n, d, rho, _gen(0))
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_optimal_critic_equals_scipy_log_density_ratio() -> None:
    rho, d = -0.55, 3
    x, y = theory.sample_correlated_gaussians(5, d, rho, _gen(1))
    s = theory.gaussian_optimal_critic(x, y, rho)
    assert s.shape == (5, 5)
    cond_var = (1 - rho**2) * np.eye(d)
    for i in range(5):
        for j in range(5):
            expected = stats.multivariate_normal(mean=rho * x[i].numpy(), cov=cond_var).logpdf(y[j].numpy())
            expected -= stats.multivariate_normal(mean=np.zeros(d), cov=np.eye(d)).logpdf(y[j].numpy())
            assert float(s[i, j]) == pytest.approx(expected, abs=1e-10)


def test_optimal_critic_monte_carlo_identities() -> None:
    """E_p[T*] = I (joint pairs) and E_{p(x)p(y)}[e^{T*}] = 1 (marginal pairs)."""
    rho, d, n = 0.6, 2, 1500
    x, y = theory.sample_correlated_gaussians(n, d, rho, _gen(2))
    s = theory.gaussian_optimal_critic(x, y, rho)
    diag = torch.diagonal(s)
    se = float(diag.std()) / math.sqrt(n)
    assert abs(float(diag.mean()) - theory.gaussian_mi(rho, d)) < 4 * se
    off = bounds.off_diagonal(s).exp()
    assert float(off.mean()) == pytest.approx(1.0, abs=0.03)


def test_gaussian_mi_from_cov_matches_entropies_and_closed_form(random_joint_cov) -> None:
    for seed in range(3):
        d = 3
        joint = random_joint_cov(d, seed)
        t = torch.from_numpy(joint)
        got = theory.gaussian_mi_from_cov(t[:d, :d], t[d:, d:], t[:d, d:])
        assert got == pytest.approx(_entropy_mi(joint[:d, :d], joint[d:, d:], joint), abs=1e-9)
    eye = torch.eye(4, dtype=F64)
    assert theory.gaussian_mi_from_cov(eye, eye, 0.8 * eye) == pytest.approx(theory.gaussian_mi(0.8, 4))
    with pytest.raises(ValueError, match="positive definite"):
        theory.gaussian_mi_from_cov(eye, eye, 1.5 * eye)


# --------------------------------------------------------------------------- Gaussian channel (A.4)
def _grid_mi(cov: np.ndarray, half_width: float = 9.0, m: int = 801) -> float:
    """MI of a bivariate zero-mean Gaussian by numerical integration of p log p/(p_1 p_2) on a grid."""
    sd = np.sqrt(np.diag(cov))
    u = np.linspace(-half_width * sd[0], half_width * sd[0], m)
    v = np.linspace(-half_width * sd[1], half_width * sd[1], m)
    uu, vv = np.meshgrid(u, v, indexing="ij")
    pts = np.stack([uu, vv], -1)
    log_p = stats.multivariate_normal(np.zeros(2), cov).logpdf(pts)
    log_q = stats.norm(0, sd[0]).logpdf(uu) + stats.norm(0, sd[1]).logpdf(vv)
    f = np.exp(log_p) * (log_p - log_q)
    return float(np.trapezoid(np.trapezoid(f, v, axis=1), u))


@pytest.mark.parametrize("s,n1,n2", [(1.0, 0.7, 1.2), (2.0, 0.5, 0.5), (0.5, 1.0, 0.3)])
def test_channel_mi_by_numerical_integration(s: float, n1: float, n2: float) -> None:
    mi = theory.gaussian_channel_mi(s, n1, n2)
    assert mi.input_view_1 == pytest.approx(_grid_mi(np.array([[s**2, s**2], [s**2, s**2 + n1**2]])), abs=1e-5)
    assert mi.input_view_2 == pytest.approx(_grid_mi(np.array([[s**2, s**2], [s**2, s**2 + n2**2]])), abs=1e-5)
    cov12 = np.array([[s**2 + n1**2, s**2], [s**2, s**2 + n2**2]])
    assert mi.view_view == pytest.approx(_grid_mi(cov12), abs=1e-5)
    assert mi.dpi_bound == min(mi.input_view_1, mi.input_view_2)


def test_channel_data_processing_inequality_and_sampler() -> None:
    rng = np.random.default_rng(0)
    for s, n1, n2 in rng.uniform(0.05, 5.0, size=(200, 3)):
        mi = theory.gaussian_channel_mi(s, n1, n2, d=3)
        assert mi.view_view < mi.dpi_bound
    x, z1, z2 = theory.sample_gaussian_channel(200_000, 1.5, 0.8, 1.1, _gen(3))
    r = np.corrcoef(z1[:, 0].numpy(), z2[:, 0].numpy())[0, 1]
    assert r == pytest.approx(theory.gaussian_channel_mi(1.5, 0.8, 1.1).view_correlation, abs=0.005)
    assert float(x.std()) == pytest.approx(1.5, rel=0.01)


# --------------------------------------------------------------------------- sweeps (smoke + invariants)
def test_bound_sweep_and_channel_sweep_shapes_and_invariants() -> None:
    df = theory.bound_sweep([0.5, 6.0], [8, 16], d=2, n_repeats=2, seed=0)
    assert len(df) == 2 * 2 * 2 * 2 * 4
    assert set(df.bound) == {"dv", "nwj", "infonce", "jsd"}
    nce = df[df.bound == "infonce"]
    assert (nce.estimate <= nce.log_n + 1e-12).all()
    assert (df[df.bound == "jsd"].estimate <= 0).all()
    wide = df.pivot_table(index=["critic", "true_mi", "n", "repeat"], columns="bound", values="estimate")
    assert (wide.dv >= wide.nwj - 1e-12).all()
    ch = theory.channel_sweep([0.5, 1.0], n=64, n_repeats=2)
    assert (ch.i_z1_z2 <= ch.dpi_bound).all()


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call,exc,name",
    [
        (lambda: theory.gaussian_mi(1.0, 2), ValueError, "rho"),
        (lambda: theory.gaussian_mi(-1.2, 2), ValueError, "rho"),
        (lambda: theory.gaussian_mi(float("nan"), 2), ValueError, "rho"),
        (lambda: theory.gaussian_mi(0.5, 0), ValueError, "d"),
        (lambda: theory.gaussian_mi(0.5, 1.5), TypeError, "d"),
        (lambda: theory.rho_for_mi(-0.1, 2), ValueError, "mi"),
        (lambda: theory.sample_correlated_gaussians(0, 2, 0.5), ValueError, "n"),
        (lambda: theory.sample_correlated_gaussians(5, 0, 0.5), ValueError, "d"),
        (lambda: theory.sample_correlated_gaussians(5, 2, 1.0), ValueError, "rho"),
        (lambda: theory.gaussian_optimal_critic(torch.zeros(3, 2), torch.zeros(3, 3), 0.5), ValueError, "x and y"),
        (lambda: theory.gaussian_optimal_critic(torch.zeros(3, 2), torch.zeros(3, 2), 1.0), ValueError, "rho"),
        (lambda: theory.gaussian_optimal_critic(torch.zeros(3), torch.zeros(3), 0.5), ValueError, "x must"),
        (lambda: theory.gaussian_mi_from_cov(torch.eye(2), torch.eye(2), torch.eye(3)), ValueError, "cross"),
        (lambda: theory.gaussian_channel_mi(0.0, 1.0, 1.0), ValueError, "signal_std"),
        (lambda: theory.gaussian_channel_mi(1.0, -1.0, 1.0), ValueError, "noise_std_1"),
        (lambda: theory.gaussian_channel_mi(1.0, 1.0, float("inf")), ValueError, "noise_std_2"),
        (lambda: theory.bound_sweep([1.0], [1]), ValueError, "batch_sizes"),
        (lambda: theory.bound_sweep([1.0], [4], critics=("mlp",)), ValueError, "critics"),
        (lambda: theory.bound_sweep([1.0], [4], tau=0.0), ValueError, "tau"),
        (lambda: theory.channel_sweep([0.0]), ValueError, "noise_stds"),
    ],
)
def test_bad_input_names_the_argument(call, exc: type[Exception], name: str) -> None:
    with pytest.raises(exc, match=name):
        call()
