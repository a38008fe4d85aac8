"""Tests of :mod:`mi_ssl.theory` against independent ground truth.

Ground truths: differential entropies from :mod:`scipy.stats`, log-densities from
``scipy.stats.multivariate_normal``, numerical integration (grid sums and ``scipy.integrate.quad``),
Monte Carlo, :func:`numpy.corrcoef`/:func:`numpy.cov`, and hand-computed small cases.
Seeded and deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from mi_ssl import bounds, theory

F64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _entropy_mi(cov_a: np.ndarray, cov_b: np.ndarray, cov_joint: np.ndarray) -> float:
    """I = H(A) + H(B) - H(A, B) with scipy's Gaussian entropies."""
    h = lambda c: stats.multivariate_normal(mean=np.zeros(len(c)), cov=c).entropy()  # noqa: E731
    return float(h(cov_a) + h(cov_b) - h(cov_joint))


def _random_joint_cov(d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(2 * d, 2 * d))
    return a @ a.T / (2 * d) + 0.2 * np.eye(2 * d)


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


def test_gaussian_mi_from_cov_matches_entropies_and_closed_form() -> None:
    for seed in range(3):
        d = 3
        joint = _random_joint_cov(d, seed)
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
    assert set(df.bound) == set(theory.BOUND_NAMES)
    nce = df[df.bound == "infonce"]
    assert (nce.estimate <= nce.log_n + 1e-12).all()
    assert (df[df.bound == "jsd"].estimate <= 0).all()
    wide = df.pivot_table(index=["critic", "true_mi", "n", "repeat"], columns="bound", values="estimate")
    assert (wide.dv >= wide.nwj - 1e-12).all()
    ch = theory.channel_sweep([0.5, 1.0], n=64, n_repeats=2)
    assert (ch.i_z1_z2 <= ch.dpi_bound).all()


# --------------------------------------------------------------------------- block-coordinate ascent
def test_gaussian_dot_dv_terms_against_monte_carlo() -> None:
    sigma_x, w_a, w_b = theory.linear_gaussian_setting(p=3, d=2, init_scale=0.25, seed=1)
    noise = 0.5
    j, m = theory.gaussian_dot_dv_terms(w_a, w_b, sigma_x, noise)
    g = _gen(4)
    n = 200_000
    chol = torch.linalg.cholesky(sigma_x)
    x = torch.randn(n, 3, generator=g, dtype=F64) @ chol.T
    za = (x + math.sqrt(noise) * torch.randn(n, 3, generator=g, dtype=F64)) @ w_a.T
    zb = (x + math.sqrt(noise) * torch.randn(n, 3, generator=g, dtype=F64)) @ w_b.T
    t_joint = (za * zb).sum(1)
    assert float(j) == pytest.approx(float(t_joint.mean()), abs=4 * float(t_joint.std()) / math.sqrt(n))
    zb_ind = zb[theory.derangement(n, g)]
    t_marg = (za * zb_ind).sum(1)
    assert float(m) == pytest.approx(float(torch.logsumexp(t_marg, 0) - math.log(n)), abs=0.01)
    # the DV value never exceeds the true MI of the representations, which never exceeds I(x1; x2)
    sa, sb, c = theory.linear_view_covariances(w_a, w_b, sigma_x, noise)
    sv = sigma_x + noise * torch.eye(3, dtype=F64)
    assert float(j - m) <= theory.gaussian_mi_from_cov(sa, sb, c) <= theory.gaussian_mi_from_cov(sv, sv, sigma_x)


def test_gaussian_dot_dv_terms_infinite_outside_domain() -> None:
    sigma_x, w_a, w_b = theory.linear_gaussian_setting(seed=0)
    _, m = theory.gaussian_dot_dv_terms(30 * w_a, 30 * w_b, sigma_x, 0.5)
    assert math.isinf(float(m))


def test_dv_ascent_small_steps_never_decrease_and_record_everything() -> None:
    sigma_x, w_a, w_b = theory.linear_gaussian_setting(seed=0)
    terms = lambda a, b: theory.gaussian_dot_dv_terms(a, b, sigma_x, 0.5)  # noqa: E731
    mon = lambda a, b: theory.gaussian_mi_from_cov(*theory.linear_view_covariances(a, b, sigma_x, 0.5))  # noqa: E731
    for mode, per_iter in (("alternating", 2), ("joint", 1)):
        tr = theory.dv_ascent(terms, w_a, w_b, lr=0.02, steps=30, mode=mode, monitor=mon)
        assert len(tr.objective) == 1 + per_iter * 30 == len(tr.monitor)
        assert tr.n_decreases == 0
        assert (tr.objective <= tr.monitor + 1e-12).all()  # DV <= true MI along the path
        assert set(tr.block) == ({"theta", "xi"} if mode == "alternating" else {"both"})
    table = theory.ascent_table([tr])
    assert table.loc[0, "decreases"] == 0 and table.loc[0, "final"] > table.loc[0, "start"]
    # the inputs are untouched
    assert torch.equal(w_a, theory.linear_gaussian_setting(seed=0)[1])


def test_batch_cos_dv_terms_equal_bounds_cos_dv_estimate() -> None:
    g = _gen(5)
    x1, x2 = torch.randn(20, 4, generator=g, dtype=F64), torch.randn(20, 4, generator=g, dtype=F64)
    wa, wb = torch.randn(3, 4, generator=g, dtype=F64), torch.randn(3, 4, generator=g, dtype=F64)
    j, m = theory.batch_cos_dv_terms(wa, wb, x1, x2, 0.3)
    assert float(j - m) == pytest.approx(float(bounds.cos_dv_estimate(x1 @ wa.T, x2 @ wb.T, 0.3)))


def test_instances_and_ascent_sweep() -> None:
    terms, wa, wb = theory.batch_cos_dv_instance(3, n=20, tau=0.2)
    j, m = terms(wa, wb)
    assert wa.shape == wb.shape == (3, 4)
    assert math.isfinite(float(j - m))
    terms2, wa2, wb2 = theory.gaussian_dot_instance(3)
    j2, m2 = terms2(wa2, wb2)
    assert float(j2 - m2) <= theory.gaussian_mi_from_cov(
        *theory.linear_view_covariances(wa2, wb2, theory.linear_gaussian_setting(seed=3)[0], 0.5)
    )
    table = theory.ascent_sweep(theory.gaussian_dot_instance, [0, 1], [0.01, 0.02], 5)
    assert len(table) == 2 * 2 * 2 and list(table.columns[:3]) == ["seed", "mode", "lr"]
    assert (table.decreases == 0).all()


def test_linear_gaussian_batch_covariance() -> None:
    sigma_x = theory.linear_gaussian_setting(p=3, seed=4)[0]
    x1, x2 = theory.linear_gaussian_batch(200_000, sigma_x, 0.3, _gen(22))
    assert np.abs(np.cov(x1.numpy().T) - (sigma_x + 0.3 * torch.eye(3, dtype=F64)).numpy()).max() < 0.03
    cross = (x1.T @ x2 / len(x1)).numpy()
    assert np.abs(cross - sigma_x.numpy()).max() < 0.03


# --------------------------------------------------------------------------- cumulants
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


def test_gaussian_dot_marginal_log_mgf_against_quadrature_and_monte_carlo() -> None:
    # d = 1: E[e^{s a b / c}] = E_a[exp(s^2 a^2 sb^2 / (2 c^2))], a ~ N(0, sa^2): one-dimensional quadrature
    sa2, sb2, s, c = 0.7, 1.3, 1.0, 1.5
    f = lambda a: math.exp(stats.norm(0, math.sqrt(sa2)).logpdf(a) + s**2 * a**2 * sb2 / (2 * c**2))  # noqa: E731
    expected = math.log(integrate.quad(f, -np.inf, np.inf)[0])
    one = lambda v: torch.tensor([[v]], dtype=F64)  # noqa: E731
    assert theory.gaussian_dot_marginal_log_mgf(one(sa2), one(sb2), s, c) == pytest.approx(expected, abs=1e-9)
    # d = 3, random covariances, Monte Carlo over independent pairs
    joint = torch.from_numpy(_random_joint_cov(3, 8))
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


def test_dot_critic_moments_against_monte_carlo_isserlis() -> None:
    d, n = 3, 400_000
    joint = _random_joint_cov(d, 10)
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


def test_gaussian_dot_dv_below_true_mi() -> None:
    for seed in range(5):
        joint = torch.from_numpy(_random_joint_cov(3, seed))
        sa, sb, c = joint[:3, :3], joint[3:, 3:], joint[:3, 3:]
        for scale in (2.0, 4.0, 10.0):
            assert theory.gaussian_dot_dv(sa, sb, c, scale) <= theory.gaussian_mi_from_cov(sa, sb, c)


def test_dot_mgf_study_mean_identity_and_divergence() -> None:
    eye = torch.eye(3, dtype=F64)
    za, zb = theory.sample_views(300, theory.view_covariance(3, 0.5, generator=_gen(23)), "gaussian", _gen(24))
    df = theory.dot_mgf_study(za, zb, eye, eye, [1.0, 3.0], [50, 300])
    assert np.allclose(df.offdiag_mean, df.minus_trace_c, atol=1e-12)
    assert math.isinf(df[df.scale == 1.0].exact_k1.iloc[0])
    assert df[df.scale == 3.0].exact_k1.iloc[0] == pytest.approx(-1.5 * math.log(1 - 1 / 9))
    with pytest.raises(ValueError, match="batch_sizes"):
        theory.dot_mgf_study(za, zb, eye, eye, [1.0], [301])


# --------------------------------------------------------------------------- matrices, pairs, Barlow Twins
def test_off_diagonal_helpers_by_hand() -> None:
    m = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=F64)
    assert theory.off_diagonal(m).tolist() == [2.0, 3.0]
    assert theory.off_diagonal_sum(m * m) == 13.0


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


def test_barlow_twins_quantities_against_numpy_corrcoef() -> None:
    g = _gen(14)
    za = torch.randn(300, 4, generator=g, dtype=F64) * torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=F64) + 1.0
    zb = za @ torch.randn(4, 4, generator=g, dtype=F64) + torch.randn(300, 4, generator=g, dtype=F64)
    c = np.corrcoef(za.numpy().T, zb.numpy().T)[:4, 4:]
    off = (c**2).sum() - (np.diag(c) ** 2).sum()
    bt = theory.barlow_twins_terms(za, zb, lambd=0.1)
    assert bt["on_diag"] == pytest.approx(((1 - np.diag(c)) ** 2).sum())
    assert bt["off_diag"] == pytest.approx(off)
    assert bt["loss"] == pytest.approx(((1 - np.diag(c)) ** 2).sum() + 0.1 * off)
    assert theory.paper_taylor_surrogate(za, zb) == pytest.approx(-np.trace(c) + off)
    s = theory.standardise(za)
    assert torch.allclose(s.mean(0), torch.zeros(4, dtype=F64), atol=1e-12)
    assert torch.allclose(s.std(0, unbiased=False), torch.ones(4, dtype=F64))


def test_taylor_dv_dot_surrogate_variance_is_over_all_cross_pairs() -> None:
    g = _gen(15)
    za = torch.randn(40, 3, generator=g, dtype=F64)
    zb = za + torch.randn(40, 3, generator=g, dtype=F64)
    sur = theory.taylor_dv_dot_surrogate(za, zb, variance_weight=0.5, scale=2.0)
    a, b = theory.standardise(za), theory.standardise(zb)
    t_all = (a @ b.T).flatten() / 2.0  # all N^2 pairs of the empirical marginals
    assert sur["marginal_var"] == pytest.approx(float(t_all.var(unbiased=False)))
    assert sur["joint"] == pytest.approx(float(torch.diagonal(a @ b.T).mean()) / 2.0)
    assert sur["loss"] == pytest.approx(-sur["joint"] + 0.5 * sur["marginal_var"])
    ra, rb = np.corrcoef(za.numpy().T), np.corrcoef(zb.numpy().T)
    assert sur["within_offdiag"] == pytest.approx(float((ra * rb).sum() - np.trace(ra * rb)))


# --------------------------------------------------------------------------- representation families
def test_view_covariance_structure() -> None:
    cov = theory.view_covariance(5, 0.8, within=0.3, rotation=0.0, generator=_gen(16))
    assert cov.shape == (10, 10)
    assert float(torch.linalg.eigvalsh(cov).min()) > -1e-10
    assert torch.allclose(torch.diagonal(cov), torch.ones(10, dtype=F64))
    c = cov[:5, 5:]
    assert torch.allclose(c, c.T) and torch.allclose(c, 0.8 * cov[:5, :5])  # aligned: C = rho R
    rot = theory.view_covariance(5, 0.8, within=0.0, rotation=1.0, generator=_gen(16))
    assert torch.allclose(rot[:5, :5], torch.eye(5, dtype=F64))
    assert not torch.allclose(rot[:5, 5:], rot[:5, 5:].T)
    q = rot[:5, 5:] / 0.8
    assert torch.allclose(q @ q.T, torch.eye(5, dtype=F64))  # C = rho Q, Q orthogonal


@pytest.mark.parametrize("family", theory.FAMILIES)
def test_sample_views_share_second_moments(family: str) -> None:
    cov = theory.view_covariance(3, 0.7, within=0.2, rotation=0.8, generator=_gen(17))
    za, zb = theory.sample_views(100_000, cov, family, _gen(18))
    emp = np.cov(torch.cat([za, zb], 1).numpy().T)
    assert np.abs(emp - cov.numpy()).max() < 0.03
    kurt = theory.excess_kurtosis(torch.cat([za, zb], 1))
    expected_sign = {"gaussian": 0, "laplace": 1, "uniform": -1, "mixture": -1, "student_t": 1}[family]
    if expected_sign == 0:
        assert abs(kurt) < 0.05
    else:
        assert kurt * expected_sign > 0.2


def test_variance_decomposition_gaussian_ground_truth() -> None:
    cov = theory.view_covariance(4, 0.8, within=0.0, rotation=1.0, generator=_gen(19))
    za, zb = theory.sample_views(60_000, cov, "gaussian", _gen(20))
    vd = theory.variance_decomposition(za, zb, _gen(21))
    assert vd["joint_var"] == pytest.approx(vd["joint_var_isserlis"], rel=0.03)
    assert vd["marginal_var"] == pytest.approx(vd["marginal_var_formula"], rel=0.03)
    assert vd["joint_offdiag"] == pytest.approx(vd["cross_offdiag"], abs=0.1)
    assert abs(vd["marginal_offdiag"]) < 0.1 and abs(vd["within_offdiag"]) < 0.01


def test_studies_smoke() -> None:
    fs = theory.family_study(n=2000, n_mgf=50)
    assert list(fs.family) == [*theory.FAMILIES, "relu"]
    sl = theory.surrogate_landscape()
    assert (sl.dv_dot <= sl.true_mi).all()
    cs = theory.cumulant_study(torch.linspace(-1, 1, 101, dtype=F64), [1.0, 0.5])
    assert (cs.remainder.abs() <= cs.remainder_bound).all()


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
        (
            lambda: theory.gaussian_optimal_critic(torch.zeros(3, 2), torch.zeros(3, 3), 0.5),
            ValueError,
            "za and zb",
        ),
        (
            lambda: theory.gaussian_optimal_critic(torch.zeros(3, 2), torch.zeros(3, 2), 1.0),
            ValueError,
            "rho",
        ),
        (lambda: theory.gaussian_optimal_critic(torch.zeros(3), torch.zeros(3), 0.5), ValueError, "za"),
        (lambda: theory.gaussian_channel_mi(0.0, 1.0, 1.0), ValueError, "signal_std"),
        (lambda: theory.gaussian_channel_mi(1.0, -1.0, 1.0), ValueError, "noise_std_1"),
        (lambda: theory.gaussian_channel_mi(1.0, 1.0, float("inf")), ValueError, "noise_std_2"),
        (lambda: theory.bound_sweep([1.0], [1]), ValueError, "batch_sizes"),
        (lambda: theory.bound_sweep([1.0], [4], critics=("mlp",)), ValueError, "critics"),
        (lambda: theory.bound_sweep([1.0], [4], tau=0.0), ValueError, "tau"),
        (
            lambda: theory.dv_ascent(lambda a, b: (a.sum(), b.sum()), torch.zeros(1), torch.zeros(1), 0.0, 1),
            ValueError,
            "lr",
        ),
        (
            lambda: theory.dv_ascent(lambda a, b: (a.sum(), b.sum()), torch.zeros(1), torch.zeros(1), 0.1, 1, "sgd"),
            ValueError,
            "mode",
        ),
        (lambda: theory.log_mgf(torch.tensor([1.0])), ValueError, "t"),
        (lambda: theory.log_mgf(torch.tensor([1.0, float("nan")])), ValueError, "t"),
        (
            lambda: theory.cumulant_expansion(torch.zeros(3), variance_weight=-1.0),
            ValueError,
            "variance_weight",
        ),
        (lambda: theory.remainder_bound(1.0, 0.0), ValueError, "a <= b"),
        (lambda: theory.gaussian_dot_marginal_log_mgf(torch.eye(2), torch.eye(3)), ValueError, "sigma_a"),
        (
            lambda: theory.gaussian_dot_marginal_log_mgf(torch.zeros(2, 3), torch.eye(3)),
            ValueError,
            "sigma_a",
        ),
        (lambda: theory.dot_critic_moments(torch.eye(2), torch.eye(2), torch.eye(3)), ValueError, "cross"),
        (
            lambda: theory.gaussian_dot_dv(torch.eye(2), torch.eye(2), torch.eye(2), scale=0.0),
            ValueError,
            "scale",
        ),
        (lambda: theory.derangement(1), ValueError, "n"),
        (lambda: theory.standardise(torch.zeros(1, 3)), ValueError, "z"),
        (
            lambda: theory.barlow_twins_terms(torch.zeros(4, 2), torch.zeros(4, 2), lambd=-1.0),
            ValueError,
            "lambd",
        ),
        (lambda: theory.view_covariance(4, 0.5, within=-0.5), ValueError, "within"),
        (lambda: theory.view_covariance(1, 0.5), ValueError, "d"),
        (lambda: theory.sample_views(10, torch.eye(4), "cauchy"), ValueError, "family"),
        (lambda: theory.sample_views(10, torch.eye(3)), ValueError, "joint_cov"),
        (lambda: theory.sample_views(10, -torch.eye(4)), ValueError, "joint_cov"),
        (
            lambda: theory.taylor_dv_dot_surrogate(torch.zeros(4, 2), torch.zeros(5, 2)),
            ValueError,
            "za and zb",
        ),
    ],
)
def test_bad_input_names_the_argument(call, exc: type[Exception], name: str) -> None:
    with pytest.raises(exc, match=name):
        call()
