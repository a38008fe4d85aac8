"""Tests of :mod:`mi_ssl.theory.cumulants`, :mod:`mi_ssl.theory.batch` and :mod:`mi_ssl.theory.dot_critic`.

Ground truths: hand-computed two-point laws, the Gaussian's ``K(1) = mu + sigma^2 / 2``, extremal laws
for the remainder bound, ``scipy.integrate.quad``, Monte Carlo, and :func:`numpy.cov` / :func:`numpy.corrcoef`.
Seeded and deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from mi_ssl import theory

F64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- cumulants (K(s), expansion, remainder)
def test_log_mgf_and_expansion_by_hand() -> None:
    t = torch.tensor([0.0, 1.0], dtype=F64)
    assert float(theory.log_mgf(t)) == pytest.approx(math.log((1 + math.e) / 2))
    assert float(theory.log_mgf(t, s=2.0)) == pytest.approx(math.log((1 + math.e**2) / 2))
    assert float(theory.cumulant_expansion(t)) == pytest.approx(0.5 + 0.5 * 0.25)
    assert float(theory.cumulant_expansion(t, variance_weight=1.0)) == pytest.approx(0.5 + 0.25)
    assert float(theory.cumulant_remainder(t)) == pytest.approx(math.log((1 + math.e) / 2) - 0.625)


def test_remainder_vanishes_for_gaussian_critic() -> None:
    t = 0.3 + 0.8 * torch.randn(400_000, generator=_gen(6), dtype=F64)
    assert float(theory.log_mgf(t)) == pytest.approx(0.3 + 0.32, abs=0.01)  # K(1) = mu + sigma^2 / 2
    assert abs(float(theory.cumulant_remainder(t))) < 0.01


def test_remainder_bound_holds_for_bounded_critics_including_extremal_two_point_laws() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        a = rng.uniform(-3, 0)
        b = a + rng.uniform(0.1, 6)
        if rng.random() < 0.5:  # two-point law with a random weight (extremal for the third moment)
            k = rng.integers(1, 100)
            t = np.r_[np.full(k, a), np.full(100 - k, b)]
        else:
            t = rng.uniform(a, b, size=50) if rng.random() < 0.5 else a + (b - a) * rng.beta(0.3, 0.3, 50)
        r = float(theory.cumulant_remainder(torch.from_numpy(t)))
        assert abs(r) <= theory.remainder_bound(a, b) + 1e-12


def test_cumulant_study_remainder_within_bound() -> None:
    cs = theory.cumulant_study(torch.linspace(-1, 1, 101, dtype=F64), [1.0, 0.5])
    assert (cs.remainder.abs() <= cs.remainder_bound).all()
    assert cs.rel_err_one.gt(cs.rel_err_half).all()  # dropping the 1/2 (Eq. 11) doubles the variance term


# --------------------------------------------------------------------------- batch statistics
def test_derangement_and_marginal_pairs() -> None:
    g = _gen(12)
    for n in (2, 3, 10, 101):
        pi = theory.derangement(n, g)
        assert sorted(pi.tolist()) == list(range(n))
        assert (pi != torch.arange(n)).all()
    za = torch.arange(10, dtype=F64).view(5, 2)
    a, b = theory.marginal_pairs(za, za.clone(), g)
    assert torch.equal(a, za) and not (b == za).all(1).any()


def test_product_feature_covariance_against_numpy() -> None:
    g = _gen(13)
    za, zb = torch.randn(50, 4, generator=g, dtype=F64), torch.randn(50, 4, generator=g, dtype=F64)
    expected = np.cov((za * zb).numpy().T, bias=True)
    assert np.allclose(theory.product_feature_covariance(za, zb).numpy(), expected)


def test_standardise_and_cross_covariance_against_numpy_corrcoef() -> None:
    g = _gen(14)
    za = torch.randn(300, 4, generator=g, dtype=F64) * torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=F64) + 1.0
    zb = za @ torch.randn(4, 4, generator=g, dtype=F64) + torch.randn(300, 4, generator=g, dtype=F64)
    a, b = theory.standardise(za), theory.standardise(zb)
    assert torch.allclose(a.mean(0), torch.zeros(4, dtype=F64), atol=1e-12)
    assert torch.allclose(a.std(0, unbiased=False), torch.ones(4, dtype=F64))
    c = np.corrcoef(za.numpy().T, zb.numpy().T)[:4, 4:]
    assert np.allclose(theory.cross_covariance(a, b).numpy(), c)


def test_excess_kurtosis_of_known_laws() -> None:
    g = _gen(25)
    n = 400_000
    assert abs(theory.excess_kurtosis(torch.randn(n, 2, generator=g, dtype=F64))) < 0.05
    assert theory.excess_kurtosis(torch.rand(n, 2, generator=g, dtype=F64)) == pytest.approx(-1.2, abs=0.02)
    two_point = torch.tensor([[-1.0], [1.0]], dtype=F64).repeat(50, 1)
    assert theory.excess_kurtosis(two_point) == pytest.approx(-2.0)


# --------------------------------------------------------------------------- dot critic: closed forms
def test_gaussian_dot_marginal_log_mgf_against_quadrature_and_monte_carlo(random_joint_cov) -> None:
    # d = 1: E[e^{s a b / c}] = E_a[exp(s^2 a^2 sb^2 / (2 c^2))], a ~ N(0, sa^2): one-dimensional quadrature
    sa2, sb2, s, c = 0.7, 1.3, 1.0, 1.5
    f = lambda a: math.exp(stats.norm(0, math.sqrt(sa2)).logpdf(a) + s**2 * a**2 * sb2 / (2 * c**2))  # noqa: E731
    expected = math.log(integrate.quad(f, -np.inf, np.inf)[0])
    one = lambda v: torch.tensor([[v]], dtype=F64)  # noqa: E731
    assert theory.gaussian_dot_marginal_log_mgf(one(sa2), one(sb2), s, c) == pytest.approx(expected, abs=1e-9)
    # d = 3, random covariances, Monte Carlo over independent pairs
    joint = torch.from_numpy(random_joint_cov(3, 8))
    sa, sb = joint[:3, :3], joint[3:, 3:]
    g = _gen(9)
    n = 400_000
    za = torch.randn(n, 3, generator=g, dtype=F64) @ torch.linalg.cholesky(sa).T
    zb = torch.randn(n, 3, generator=g, dtype=F64) @ torch.linalg.cholesky(sb).T
    t = (za * zb).sum(1) / 3.0
    mc = float(torch.logsumexp(t, 0) - math.log(n))
    assert theory.gaussian_dot_marginal_log_mgf(sa, sb, 1.0, 3.0) == pytest.approx(mc, abs=0.01)
    # standardised, decorrelated features with the unscaled dot critic: divergent marginal term
    eye = torch.eye(4, dtype=F64)
    assert math.isinf(theory.gaussian_dot_marginal_log_mgf(eye, eye))
    assert theory.gaussian_dot_marginal_log_mgf(eye, eye, scale=2.0) == pytest.approx(-2 * math.log(0.75))


def test_dot_critic_moments_against_monte_carlo_isserlis(random_joint_cov) -> None:
    d, n = 3, 400_000
    joint = random_joint_cov(d, 10)
    t = torch.from_numpy(joint)
    g = _gen(11)
    z = torch.randn(n, 2 * d, generator=g, dtype=F64) @ torch.linalg.cholesky(t).T
    za, zb = z[:, :d], z[:, d:]
    mean, var = theory.dot_critic_moments(t[:d, :d], t[d:, d:], t[:d, d:], scale=2.0)
    tj = (za * zb).sum(1) / 2.0
    assert mean == pytest.approx(float(tj.mean()), abs=4 * float(tj.std()) / math.sqrt(n))
    assert var == pytest.approx(float(tj.var()), rel=0.02)
    mean_p, var_p = theory.dot_critic_moments(t[:d, :d], t[d:, d:], None, scale=2.0)
    tp = (za * zb[theory.derangement(n, g)]).sum(1) / 2.0
    assert mean_p == 0.0 and abs(float(tp.mean())) < 4 * float(tp.std()) / math.sqrt(n)
    assert var_p == pytest.approx(float(tp.var()), rel=0.02)


def test_gaussian_dot_dv_below_true_mi(random_joint_cov) -> None:
    for seed in range(5):
        joint = torch.from_numpy(random_joint_cov(3, seed))
        sa, sb, c = joint[:3, :3], joint[3:, 3:], joint[:3, 3:]
        for scale in (2.0, 4.0, 10.0):
            assert theory.gaussian_dot_dv(sa, sb, c, scale) <= theory.gaussian_mi_from_cov(sa, sb, c)


# --------------------------------------------------------------------------- dot critic on a batch
def test_dot_mgf_study_mean_identity_and_divergence() -> None:
    eye = torch.eye(3, dtype=F64)
    za, zb = theory.sample_views(300, theory.view_covariance(3, 0.5, generator=_gen(23)), "gaussian", _gen(24))
    df = theory.dot_mgf_study(za, zb, eye, eye, [1.0, 3.0], [50, 300])
    assert np.allclose(df.offdiag_mean, df.minus_trace_c, atol=1e-12)
    assert math.isinf(df[df.scale == 1.0].exact_k1.iloc[0])
    assert df[df.scale == 3.0].exact_k1.iloc[0] == pytest.approx(-1.5 * math.log(1 - 1 / 9))
    with pytest.raises(ValueError, match="batch_sizes"):
        theory.dot_mgf_study(za, zb, eye, eye, [1.0], [301])


def test_marginal_moments_on_sample_covariances_are_exact_over_all_cross_pairs() -> None:
    """Var[T] over all N^2 pairs of the empirical marginals = tr(S_A S_B) / scale^2 (Eqs. 25-26), exactly."""
    g = _gen(15)
    za = torch.randn(40, 3, generator=g, dtype=F64)
    zb = za + torch.randn(40, 3, generator=g, dtype=F64)
    a, b = theory.standardise(za), theory.standardise(zb)
    sa, sb = theory.cross_covariance(a, a), theory.cross_covariance(b, b)
    mean, var = theory.dot_critic_moments(sa, sb, None, scale=2.0)
    t_all = (a @ b.T).flatten() / 2.0
    assert mean == 0.0 and abs(float(t_all.mean())) < 1e-12
    assert var == pytest.approx(float(t_all.var(unbiased=False)))
    joint_mean, _ = theory.dot_critic_moments(sa, sb, theory.cross_covariance(a, b), scale=2.0)
    assert joint_mean == pytest.approx(float(torch.diagonal(a @ b.T).mean()) / 2.0)


def test_variance_decomposition_gaussian_ground_truth() -> None:
    cov = theory.view_covariance(4, 0.8, within=0.0, rotation=1.0, generator=_gen(19))
    za, zb = theory.sample_views(60_000, cov, "gaussian", _gen(20))
    vd = theory.variance_decomposition(za, zb, _gen(21))
    assert vd["joint_var"] == pytest.approx(vd["joint_var_isserlis"], rel=0.03)
    assert vd["marginal_var"] == pytest.approx(vd["marginal_var_formula"], rel=0.03)
    assert vd["joint_offdiag"] == pytest.approx(vd["cross_offdiag"], abs=0.1)
    assert abs(vd["marginal_offdiag"]) < 0.1 and abs(vd["within_offdiag"]) < 0.01


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call,exc,name",
    [
        (lambda: theory.log_mgf(torch.tensor([1.0])), ValueError, "t"),
        (lambda: theory.log_mgf(torch.tensor([1.0, float("nan")])), ValueError, "t"),
        (lambda: theory.log_mgf(torch.tensor([1, 2])), TypeError, "t"),
        (lambda: theory.cumulant_expansion(torch.zeros(3), variance_weight=-1.0), ValueError, "variance_weight"),
        (lambda: theory.remainder_bound(1.0, 0.0), ValueError, "a <= b"),
        (lambda: theory.cumulant_study(torch.zeros(3), [0.0]), ValueError, "taus"),
        (lambda: theory.gaussian_dot_marginal_log_mgf(torch.eye(2), torch.eye(3)), ValueError, "sigma_a"),
        (lambda: theory.gaussian_dot_marginal_log_mgf(torch.zeros(2, 3), torch.eye(3)), ValueError, "sigma_a"),
        (lambda: theory.dot_critic_moments(torch.eye(2), torch.eye(2), torch.eye(3)), ValueError, "cross"),
        (lambda: theory.gaussian_dot_dv(torch.eye(2), torch.eye(2), torch.eye(2), scale=0.0), ValueError, "scale"),
        (lambda: theory.derangement(1), ValueError, "n"),
        (lambda: theory.standardise(torch.zeros(1, 3)), ValueError, "z"),
        (lambda: theory.standardise(torch.zeros(3, 3), eps=-1.0), ValueError, "eps"),
        (lambda: theory.cross_covariance(torch.zeros(4, 2), torch.zeros(5, 2)), ValueError, "za and zb"),
        (lambda: theory.variance_decomposition(torch.zeros(4, 2), torch.zeros(5, 2)), ValueError, "za and zb"),
    ],
)
def test_bad_input_names_the_argument(call, exc: type[Exception], name: str) -> None:
    with pytest.raises(exc, match=name):
        call()
