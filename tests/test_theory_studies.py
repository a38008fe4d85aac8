"""Tests of the chapter studies in :mod:`mi_ssl.theory`: :mod:`.logdet`, :mod:`.derivation`, :mod:`.replicate` and the
summaries added to :mod:`.sweeps` and :mod:`.ascent`.

Ground truths: the closed-form MI of a bivariate Gaussian, the closed form of ``I_G`` for identical views with a
hand-built batch covariance, the data-processing bound ``I <= log 2`` of a binary latent, exact invariances of
second moments, and the S3 identity of batch standardisation.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch.distributions import MultivariateNormal, Normal

from mi_ssl import bounds, theory

F64 = torch.float64


# --------------------------------------------------------------------------- Monte Carlo MI
@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_mc_mi_matches_the_gaussian_closed_form(rho: float) -> None:
    cov = torch.tensor([[1.0, rho], [rho, 1.0]], dtype=F64)
    joint = MultivariateNormal(torch.zeros(2, dtype=F64), cov)
    marg = Normal(torch.zeros(1, dtype=F64), torch.ones(1, dtype=F64))
    from torch.distributions import Independent

    marg = Independent(marg, 1)
    mc = theory.mc_mi(joint, marg, marg, 1, 50_000, seed=3)
    truth = -0.5 * math.log(1 - rho**2)
    assert abs(mc.mean - truth) < 4 * mc.se + 1e-12
    assert mc.samples.shape == (50_000, 2)


def test_mc_mi_is_seeded_and_leaves_the_global_rng_alone() -> None:
    joint, marg = theory.binary_latent(0.5)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = theory.mc_mi(joint, marg, marg, 1, 1000, seed=7)
    after = torch.rand(1)
    assert torch.equal(before, after)
    assert a.mean == theory.mc_mi(joint, marg, marg, 1, 1000, seed=7).mean
    with pytest.raises(ValueError, match="d_a"):
        theory.mc_mi(joint, marg, marg, 2, 100)


def test_binary_latent_shares_at_most_one_bit_and_its_gaussian_mi_overshoots() -> None:
    t = theory.binary_latent_study([0.1, 1.0], n=20_000, seed=0).set_index("sigma")
    assert (t.true_mi <= math.log(2) + 4 * t.mc_se + 1e-9).all()
    assert t.loc[0.1, "true_mi"] == pytest.approx(math.log(2), abs=0.01)  # well separated: one full bit
    # I_G on the samples agrees with its population value -1/2 log(1 - (1 + s^2)^-2)
    assert np.allclose(t.I_G, t.I_G_closed, atol=0.03)
    assert t.loc[0.1, "I_G"] > 2 * math.log(2)


def test_toy_views_share_about_log5_nats() -> None:
    r = theory.toy_views_mi(n=20_000, seed=0)
    # five well-separated clusters: log 5 plus a little within-cluster information, never less than log 5 by much
    assert math.log(5) - 4 * r["se"] < r["mi"] < math.log(5) + 0.15
    assert r["I_G"] > 1.5 * r["mi"]


# --------------------------------------------------------------------------- the Gaussian MI estimate
def test_ridge_cap_is_the_estimate_of_identical_isotropic_views() -> None:
    # a batch whose covariance (ddof = 1) is exactly lam * I: orthonormal columns scaled
    n, d, eps = 64, 3, 1e-3
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(0), dtype=F64))
    ones = torch.ones(n, 1, dtype=F64) / math.sqrt(n)
    basis = q[:, :d + 1]
    basis = basis - ones @ (ones.T @ basis)             # centred columns, still spanning d dimensions
    basis, _ = torch.linalg.qr(basis)
    lam = n / (n - 1) / d
    z = basis[:, :d] * math.sqrt(lam * (n - 1))
    cov = (z - z.mean(0)).T @ (z - z.mean(0)) / (n - 1)
    assert torch.allclose(cov, lam * torch.eye(d, dtype=F64), atol=1e-12)
    est = float(bounds.logdet_mi_estimate(z, z, eps=eps))
    assert theory.ridge_cap(d, n, eps) == pytest.approx(est, rel=1e-9)
    with pytest.raises(ValueError, match="eps"):
        theory.ridge_cap(d, n, 0.0)


def test_bias_sweep_matches_wilks_under_independence() -> None:
    b = theory.gaussian_mi_bias([0.0], [256, 1024], d=3, n_repeats=30, seed=1)
    assert list(b.columns) == ["rho", "n", "truth", "mean_error", "sd_error", "wilks"]
    ratio = b.mean_error / b.wilks
    assert ratio.between(0.7, 1.3).all(), ratio


def test_ridge_only_lowers_and_affine_maps_do_not_move_the_estimate() -> None:
    r = theory.ridge_study([0.0, 1e-3, 1e-1, 1.0], rho=0.8, d=2, n=2000, seed=0)
    assert (np.diff(r.estimate) < 0).all()
    affine = theory.affine_invariance(rho=0.8, d=2, n=20_000, seed=0)
    table = theory.nonlinear_invariance(rho=0.8, d=2, n=20_000, seed=0)
    assert affine["affine_gap"] < 1e-8
    assert affine["affine_gap_ridge"] > affine["affine_gap"]
    assert table.iloc[0]["map"] == "identity" and abs(table.iloc[0]["error"]) < 0.05
    assert (table.iloc[1:]["error"] < 0).all()  # Gaussian source: every nonlinear map lowers I_G


# --------------------------------------------------------------------------- derivation steps and seeds
def test_cumulant_check_identity_and_bound() -> None:
    c = theory.cumulant_check(d=4, rho=0.8, n=200, taus=[1.0, 0.2], seed=1)
    assert (c.identity_gap < 1e-10).all()
    assert (c.remainder.abs() <= c.remainder_bound).all()


def test_dot_critic_check_mean_term_is_exact() -> None:
    t = theory.dot_critic_check(d=4, rho=0.8, scales=[1.0, 4.0], batch_sizes=[50, 100], seed=2)
    assert np.allclose(t.offdiag_mean, t.minus_trace_c, atol=1e-12)
    assert math.isinf(float(t[t.scale == 1.0].exact_k1.iloc[0]))


def test_variance_cases_product_of_marginals_formula() -> None:
    v = theory.variance_cases(d=4, rho=0.8, n=20_000, seed=3).set_index("case")
    assert list(v.index) == list(theory.VARIANCE_CASES)
    a = v.loc[theory.VARIANCE_CASES[0]]
    assert a.within_offdiag == pytest.approx(0.0, abs=0.05)  # decorrelated views
    assert abs(a.marginal_var / a.marginal_var_formula - 1) < 0.05


def test_over_seeds_stacks_frames_and_mappings() -> None:
    frames = theory.over_seeds(lambda seed, k: pd.DataFrame({"x": [seed] * k}), [3, 1], k=2)
    assert list(frames.columns) == ["seed", "x"] and list(frames.seed) == [3, 3, 1, 1]
    rows = theory.over_seeds(lambda seed: {"y": seed * 2}, [0, 5])
    assert rows.to_dict("list") == {"seed": [0, 5], "y": [0, 10]}
    with pytest.raises(ValueError, match="distinct"):
        theory.over_seeds(lambda seed: {}, [1, 1])
    with pytest.raises(TypeError, match="DataFrame or a mapping"):
        theory.over_seeds(lambda seed: 3, [0])


def test_seed_interval_text() -> None:
    # mean 2, sd 1, n = 3: t(0.975, 2) = 4.3027 -> half-width 2.484
    assert theory.seed_interval([1.0, 2.0, 3.0], digits=2) == "2.00 (95 % CI -0.48 to 4.48, 3 seeds)"
    assert theory.seed_interval([5.0], digits=1, unit="°") == "5.0° (1 seed)"


def test_prop31_instance_and_sweep() -> None:
    inst = theory.prop31_instance(0, lrs=[0.05, 0.5], steps=20)
    assert inst.bounded and inst.ceiling > 0
    assert inst.traces[("alternating", 0.05)].n_decreases == 0 == inst.traces[("joint", 0.05)].n_decreases
    assert inst.first_bad["joint"] <= inst.first_bad["alternating"]
    assert len(inst.table) == 4
    sw = theory.prop31_sweep([0, 1], [0.05], 5, [0.03], 5)
    assert set(sw.objective) == {"population DV, dot critic", "full-batch cos-DV (Eq. 15)"} and len(sw) == 2 * 2 * 2
    fd = theory.first_decrease(sw[sw.objective.str.startswith("population")])
    assert list(fd.columns) == ["alternating", "joint"] and np.isinf(fd.to_numpy()).all()


def test_landscape_claims_on_two_seeds() -> None:
    land = theory.over_seeds(theory.surrogate_landscape, [0, 1], d=4, rho=0.8, rotations=[0.0, 1.0, 2.0],
                             withins=[0.0, 0.2, 0.4], scale=4.0, lambd=5e-3)
    c = theory.landscape_claims(land, d=4, scale=4.0)
    assert list(c.seed) == [0, 1]
    assert c.mi_constant.all() and c.dv_below_mi.all() and c.taylor_trace_only.all()
    assert (c.affine_resid < 1e-9).all() and (c.affine_slope > 0).all()


def test_collapsed_feature_needs_the_ridge() -> None:
    c = theory.collapsed_feature_check(n=200, d=3, seed=0)
    assert c["error"] and np.isfinite(c["ridged"]) and c["ridged"] > 0


def test_sweep_claims_hand_computed() -> None:
    rows = []
    for n in (4, 8):
        for mi in (0.5, 5.0):
            for r in (0, 1):
                dv = {(8, 0.5): 0.6, (4, 5.0): (6.0, 4.0)[r]}.get((n, mi), mi)
                est = {"dv": dv, "nwj": dv - 0.05, "infonce": min(mi, math.log(n)) - 0.01, "jsd": -1.0}
                rows += [("optimal", mi, n, r, b, v) for b, v in est.items()]
                rows += [("cosine", mi, n, r, b, v) for b, v in
                         {"dv": 0.3, "nwj": 0.2, "infonce": 0.25, "jsd": -1.2}.items()]
    sweep = pd.DataFrame(rows, columns=["critic", "true_mi", "n", "repeat", "bound", "estimate"])
    c = theory.sweep_claims(sweep, tau=0.5).iloc[0]
    assert c.batches == 2 * 2 * 2 * 2
    assert c.infonce_le_log_n and c.dv_ge_nwj and c.jsd_le_0 and c.cos_dv_le_2_over_tau
    assert c.dv_err == pytest.approx(0.1) and c.nwj_err == pytest.approx(0.05)
    assert math.isnan(c.nce_err)                       # no cell with MI <= log N - 3
    assert c.nce_sat_gap == pytest.approx(0.01)       # log N - mean InfoNCE where MI >= log N + 2
    assert c.dv_overshoot == 0.5 and c.dv_hi_median == pytest.approx(5.0)
    assert c.cos_gap == pytest.approx(5.0 - 0.3) and c.cos_dv_max == pytest.approx(0.3)


def test_optimal_critic_identities_on_a_large_batch() -> None:
    r = theory.optimal_critic_identities(mi=0.5, d=2, n=3000, seed=0)
    assert abs(r["joint_mean"] - 0.5) < 0.1 and abs(r["marginal_mean"] - 1.0) < 0.1


def test_ridge_cap_at_a_feature_scale() -> None:
    # var = the per-coordinate variance: the identical isotropic views of that scale; the scale law of the ridge
    n, d, eps = 64, 3, 1e-3
    unit = n / (n - 1) / d
    assert theory.ridge_cap(d, n, eps, var=unit) == pytest.approx(theory.ridge_cap(d, n, eps), rel=1e-12)
    for s in (0.1, 3.0, 30.0):
        assert theory.ridge_cap(d, n, eps, var=s * s * unit) == pytest.approx(
            theory.ridge_cap(d, n, eps / (s * s)), rel=1e-12)
    caps = [theory.ridge_cap(d, n, eps, var=v) for v in (0.01, 0.1, 1.0, 10.0, 100.0)]
    assert all(b > a for a, b in zip(caps, caps[1:]))  # grows with the scale
    g = torch.Generator().manual_seed(1)
    z = torch.randn(4000, d, generator=g, dtype=F64) * torch.tensor([0.5, 1.0, 1.5], dtype=F64)
    var = float(torch.cov(z.T).diagonal().mean())
    assert float(bounds.logdet_mi_estimate(z, z, eps=eps)) < theory.ridge_cap(d, n, eps, var=var)  # anisotropic: below
    with pytest.raises(ValueError, match="var"):
        theory.ridge_cap(d, n, eps, var=0.0)
