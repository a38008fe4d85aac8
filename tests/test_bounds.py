"""Tests of :mod:`mi_ssl.bounds` against independent ground truth.

* closed-form MI of correlated Gaussians with the optimal critic ``T* = log p(y|x)/p(y)``
  (:mod:`mi_ssl.theory`, itself checked against scipy in ``test_theory_gaussians.py``);
* small score matrices computed by hand with :mod:`math`;
* a naive double loop for the cos-DV estimate of paper Eq. 15;
* invariants (DV >= NWJ, InfoNCE <= log N, JSD <= 0) and bad-input errors.

Seeded and deterministic; runs in a few seconds.
"""

from __future__ import annotations

import math

import pytest
import torch

from mi_ssl import bounds, theory
from mi_ssl.checks import finite_checks

SCORE_FNS = {
    "joint_term": bounds.joint_term,
    "dv_marginal_term": bounds.dv_marginal_term,
    "dv": bounds.dv,
    "nwj": bounds.nwj,
    "infonce": bounds.infonce,
    "jsd": bounds.jsd,
    "jsd_divergence": bounds.jsd_divergence,
    "taylor_dv": bounds.taylor_dv,
}
PAIR_FNS = {
    "cosine_scores": bounds.cosine_scores,
    "dot_scores": bounds.dot_scores,
    "cos_dv_estimate": bounds.cos_dv_estimate,
    "cos_infonce_estimate": bounds.cos_infonce_estimate,
    "estimate_all": bounds.estimate_all,
    "logdet_mi_estimate": bounds.logdet_mi_estimate,
}
TAU_FNS = {k: v for k, v in PAIR_FNS.items() if k not in ("dot_scores", "logdet_mi_estimate")}


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _optimal_estimates(mi: float, d: int, n: int, repeats: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Batch estimates of each bound with the optimal critic, over independent batches."""
    rho = theory.rho_for_mi(mi, d)
    g = _gen(seed)
    out: dict[str, list[float]] = {"dv": [], "nwj": [], "infonce": [], "jsd": []}
    for _ in range(repeats):
        x, y = theory.sample_correlated_gaussians(n, d, rho, g)
        s = theory.gaussian_optimal_critic(x, y, rho)
        out["dv"].append(float(bounds.dv(s)))
        out["nwj"].append(float(bounds.nwj(s + 1.0)))  # NWJ is tight at T* + 1
        out["infonce"].append(float(bounds.infonce(s)))
        out["jsd"].append(float(bounds.jsd(s)))
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in out.items()}


def _within_sampling_error(values: torch.Tensor, target: float, slack: float = 0.02) -> None:
    se = float(values.std()) / math.sqrt(len(values))
    assert abs(float(values.mean()) - target) < 4 * se + slack, (float(values.mean()), target, se)


# --------------------------------------------------------------------------- against the true MI
@pytest.mark.parametrize("mi", [0.5, 1.5])
def test_dv_and_nwj_with_optimal_critic_match_true_mi(mi: float) -> None:
    est = _optimal_estimates(mi, d=2, n=400, repeats=12)
    _within_sampling_error(est["dv"], mi)
    _within_sampling_error(est["nwj"], mi)


def test_infonce_matches_true_mi_when_mi_much_smaller_than_log_n() -> None:
    mi, n = 0.2, 400  # log N = 6.0 >> MI
    est = _optimal_estimates(mi, d=2, n=n, repeats=12, seed=1)
    assert (est["infonce"] <= math.log(n) + 1e-9).all()
    _within_sampling_error(est["infonce"], mi)


def test_infonce_saturates_at_log_n_when_mi_much_larger() -> None:
    mi, n = 12.0, 32  # MI >> log N = 3.47
    est = _optimal_estimates(mi, d=4, n=n, repeats=5, seed=2)
    assert (est["infonce"] <= math.log(n) + 1e-9).all()
    assert (est["infonce"] > math.log(n) - 0.05).all()
    assert float(est["dv"].mean()) > float(est["infonce"].mean())


def test_jsd_objective_nonpositive_and_minus_two_log_two_at_zero_critic() -> None:
    est = _optimal_estimates(1.0, d=2, n=64, repeats=4)
    assert (est["jsd"] <= 0).all()
    zero = torch.zeros(7, 7)
    assert float(bounds.jsd(zero)) == pytest.approx(-2 * math.log(2), abs=1e-6)
    assert float(bounds.jsd_divergence(zero)) == pytest.approx(0.0, abs=1e-6)
    # a critic that separates joint from marginal pairs perfectly reaches the ceiling 0 (JSD = log 2)
    sharp = 50.0 * (2 * torch.eye(5) - 1)
    assert float(bounds.jsd(sharp)) == pytest.approx(0.0, abs=1e-6)
    assert float(bounds.jsd_divergence(sharp)) == pytest.approx(math.log(2), abs=1e-6)


def test_zero_critic_gives_zero_for_dv_nwj_shifted_and_infonce() -> None:
    z = torch.zeros(6, 6, dtype=torch.float64)
    assert float(bounds.dv(z)) == pytest.approx(0.0, abs=1e-12)
    assert float(bounds.infonce(z)) == pytest.approx(0.0, abs=1e-12)
    assert float(bounds.nwj(z + 1.0)) == pytest.approx(0.0, abs=1e-12)


# --------------------------------------------------------------------------- hand-computed cases
def test_two_by_two_by_hand() -> None:
    a, b, c, d = 1.0, 0.5, -0.5, 2.0
    s = torch.tensor([[a, b], [c, d]], dtype=torch.float64)
    joint = (a + d) / 2
    assert float(bounds.joint_term(s)) == pytest.approx(joint)
    assert float(bounds.dv_marginal_term(s)) == pytest.approx(math.log(math.cosh(0.5)))
    assert float(bounds.dv(s)) == pytest.approx(joint - math.log((math.exp(b) + math.exp(c)) / 2))
    assert float(bounds.nwj(s)) == pytest.approx(joint - (math.exp(b - 1) + math.exp(c - 1)) / 2)
    nce = 0.5 * ((a - math.log(math.exp(a) + math.exp(b))) + (d - math.log(math.exp(c) + math.exp(d))))
    assert float(bounds.infonce(s)) == pytest.approx(nce + math.log(2))
    sp = lambda t: math.log1p(math.exp(t))  # noqa: E731
    assert float(bounds.jsd(s)) == pytest.approx(-(sp(-a) + sp(-d)) / 2 - (sp(b) + sp(c)) / 2)
    # off-diagonal {0.5, -0.5}: mean 0, (biased) variance 0.25
    assert float(bounds.taylor_dv(s)) == pytest.approx(joint - 0.5 * 0.25)
    assert float(bounds.taylor_dv(s, variance_weight=1.0)) == pytest.approx(joint - 0.25)


def test_three_by_three_by_hand() -> None:
    ln = math.log
    s = torch.tensor([[0.0, ln(2), ln(3)], [0.0, ln(4), 0.0], [ln(5), 0.0, 1.0]], dtype=torch.float64)
    joint = (0 + ln(4) + 1) / 3
    # off-diagonal exp values: 2, 3, 1, 1, 5, 1 -> mean 13/6
    assert float(bounds.dv(s)) == pytest.approx(joint - ln(13 / 6))
    assert float(bounds.nwj(s)) == pytest.approx(joint - 13 / (6 * math.e))
    rows = [0 - ln(1 + 2 + 3), ln(4) - ln(1 + 4 + 1), 1 - ln(5 + 1 + math.e)]
    assert float(bounds.infonce(s)) == pytest.approx(sum(rows) / 3 + ln(3))


def test_off_diagonal_order_and_count() -> None:
    s = torch.arange(16.0).view(4, 4)
    off = bounds.off_diagonal(s)
    expected = [float(s[i, j]) for i in range(4) for j in range(4) if i != j]
    assert off.tolist() == expected


def test_dv_marginal_term_stable_for_large_scores() -> None:
    s = torch.tensor([[0.0, 800.0], [800.0, 0.0]], dtype=torch.float64)
    assert float(bounds.dv_marginal_term(s)) == pytest.approx(800.0)
    assert math.isfinite(float(bounds.infonce(s)))


# --------------------------------------------------------------------------- invariants
@pytest.mark.parametrize("seed", range(5))
def test_dv_at_least_nwj_on_the_same_scores(seed: int) -> None:
    g = _gen(seed)
    for scale in (0.1, 1.0, 3.0):
        s = scale * torch.randn(9, 9, generator=g, dtype=torch.float64)
        for shift in (-1.0, 0.0, 1.0, 2.0):
            assert float(bounds.dv(s + shift)) >= float(bounds.nwj(s + shift)) - 1e-12
    # equality when the mean of exp over marginal pairs is e (the tangent point of log u <= u / e)
    s = torch.ones(4, 4, dtype=torch.float64)
    assert float(bounds.dv(s)) == pytest.approx(float(bounds.nwj(s)), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_infonce_never_exceeds_log_n(seed: int) -> None:
    g = _gen(seed)
    for n in (2, 5, 40):
        for scale in (0.0, 1.0, 30.0):
            s = scale * torch.randn(n, n, generator=g, dtype=torch.float64)
            s = s + 100.0 * torch.eye(n, dtype=torch.float64)  # a critic as favourable as can be
            assert float(bounds.infonce(s)) <= math.log(n) + 1e-12


def test_cosine_dv_ceiling_two_over_tau() -> None:
    g = _gen(3)
    za = torch.randn(16, 3, generator=g, dtype=torch.float64)
    for tau in (0.1, 0.5, 1.0):
        assert float(bounds.cos_dv_estimate(za, za, tau)) <= 2 / tau + 1e-9
        assert float(bounds.cos_dv_estimate(za, -za, tau)) >= -2 / tau - 1e-9


def test_cosine_and_dot_scores() -> None:
    g = _gen(4)
    za = torch.randn(5, 3, generator=g, dtype=torch.float64)
    zb = torch.randn(5, 3, generator=g, dtype=torch.float64)
    assert torch.allclose(bounds.dot_scores(za, zb), za @ zb.T)
    s = bounds.cosine_scores(za, zb, 0.5)
    for i in range(5):
        for j in range(5):
            cos = float(za[i] @ zb[j]) / (float(za[i].norm()) * float(zb[j].norm()))
            assert float(s[i, j]) == pytest.approx(cos / 0.5)
    # scale invariance of the cosine critic
    assert torch.allclose(bounds.cosine_scores(3 * za, 0.2 * zb, 0.5), s)


# --------------------------------------------------------------------------- cos-DV loss, paper Eq. 15
def _naive_cos_dv_loss(za: list[list[float]], zb: list[list[float]], tau: float) -> float:
    n = len(za)

    def cos(u: list[float], v: list[float]) -> float:
        dot = sum(a * b for a, b in zip(u, v))
        return dot / (math.sqrt(sum(a * a for a in u)) * math.sqrt(sum(b * b for b in v)))

    joint = sum(cos(za[i], zb[i]) / tau for i in range(n)) / n
    marg = sum(math.exp(cos(za[i], zb[j]) / tau) for i in range(n) for j in range(n) if i != j)
    return -(joint - math.log(marg / (n * (n - 1))))


@pytest.mark.parametrize("tau", [1.0, 0.5, 0.1])
def test_cos_dv_estimate_is_minus_eq15_by_a_double_loop(tau: float) -> None:
    g = _gen(5)
    za = torch.randn(7, 4, generator=g, dtype=torch.float64)
    zb = za + 0.5 * torch.randn(7, 4, generator=g, dtype=torch.float64)
    expected = _naive_cos_dv_loss(za.tolist(), zb.tolist(), tau)
    assert float(bounds.cos_dv_estimate(za, zb, tau)) == pytest.approx(-expected, rel=1e-12, abs=1e-12)
    via_scores = float(bounds.dv(bounds.cosine_scores(za, zb, tau)))
    assert float(bounds.cos_dv_estimate(za, zb, tau)) == pytest.approx(via_scores, rel=1e-12)


@pytest.mark.parametrize("tau", [0.5, 0.02])  # float32: shifted by 1/tau (2/tau <= 60), then by each row's max
def test_estimate_all_keys_and_values(tau: float) -> None:
    g = _gen(6)
    za = torch.randn(10, 4, generator=g)
    zb = za + 0.1 * torch.randn(10, 4, generator=g)
    est = bounds.estimate_all(za, zb, tau)
    assert set(est) == {"mi_cos_dv", "mi_infonce", "mi_jsd"}
    s = bounds.cosine_scores(za, zb, tau)
    assert est["mi_cos_dv"] == pytest.approx(float(bounds.dv(s)), abs=1e-5)
    assert est["mi_infonce"] == pytest.approx(float(bounds.infonce(s)), abs=1e-5)
    assert est["mi_jsd"] == pytest.approx(float(bounds.jsd(s)), abs=1e-5)


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", sorted(SCORE_FNS))
@pytest.mark.parametrize("scale", [1.0, 40.0])
def test_gradients_finite(name: str, scale: float) -> None:
    # float64: NWJ is not computed in the log domain, so exp(S) of scores ~ 100 overflows float32
    # (its value, about -e^99, is genuinely out of range there); every other bound is log-domain.
    g = _gen(7)
    dtype = torch.float64 if scale > 1 else torch.float32
    s = (scale * torch.randn(8, 8, generator=g, dtype=dtype)).requires_grad_()
    out = SCORE_FNS[name](s)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(s.grad).all()


def test_cos_dv_estimate_gradients_finite_and_stop_gradient_respected() -> None:
    g = _gen(8)
    za = torch.randn(8, 5, generator=g).requires_grad_()
    zb = torch.randn(8, 5, generator=g).requires_grad_()
    za_zero = torch.cat([za[:1] * 0, za[1:]])  # a zero row: the cosine critic stays finite
    loss = -bounds.cos_dv_estimate(za_zero, zb.detach(), 0.1)
    loss.backward()
    assert torch.isfinite(za.grad).all()
    assert zb.grad is None  # the detached side receives no gradient (the SDMI E-step)


def test_gradient_of_dv_joint_term_is_one_over_n_on_diagonal() -> None:
    s = torch.zeros(4, 4, dtype=torch.float64, requires_grad=True)
    bounds.dv(s).backward()
    # d/dS_ii = 1/N; d/dS_ij (i != j) = -softmax over the 12 off-diagonal entries = -1/12
    expected = torch.full((4, 4), -1 / 12, dtype=torch.float64)
    expected.fill_diagonal_(1 / 4)
    assert torch.allclose(s.grad, expected)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("name", sorted(SCORE_FNS))
def test_score_functions_reject_bad_input(name: str) -> None:
    fn = SCORE_FNS[name]
    with pytest.raises(TypeError, match="scores"):
        fn([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(TypeError, match="scores"):
        fn(torch.zeros(3, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="scores"):
        fn(torch.zeros(4))
    with pytest.raises(ValueError, match="scores"):
        fn(torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="scores.*square"):
        fn(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="scores.*N >= 2"):
        fn(torch.zeros(1, 1))
    nan = torch.zeros(3, 3)
    nan[1, 2] = float("nan")
    with pytest.raises(ValueError, match="scores.*non-finite"):
        fn(nan)
    inf = torch.zeros(3, 3)
    inf[0, 0] = float("inf")
    with pytest.raises(ValueError, match="scores.*non-finite"):
        fn(inf)


@pytest.mark.parametrize("name", sorted(PAIR_FNS))
def test_pair_functions_reject_bad_input(name: str) -> None:
    fn = PAIR_FNS[name]
    ok = torch.randn(4, 3, generator=_gen(9))
    with pytest.raises(TypeError, match="za"):
        fn(ok.tolist(), ok)
    with pytest.raises(TypeError, match="zb"):
        fn(ok, ok.numpy())
    with pytest.raises(ValueError, match="za and zb must have the same shape"):
        fn(ok, torch.randn(4, 2))
    with pytest.raises(ValueError, match="za and zb must have the same shape"):
        fn(ok, torch.randn(5, 3))
    with pytest.raises(ValueError, match="za"):
        fn(torch.randn(4), torch.randn(4))
    with pytest.raises(ValueError, match="za and zb need at least N=2"):
        fn(torch.randn(1, 3), torch.randn(1, 3))
    bad = ok.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="za.*non-finite"):
        fn(bad, ok)
    with pytest.raises(ValueError, match="zb.*non-finite"):
        fn(ok, bad)


@pytest.mark.parametrize("name", sorted(TAU_FNS))
def test_tau_must_be_positive_finite_number(name: str) -> None:
    fn = TAU_FNS[name]
    z = torch.randn(4, 3, generator=_gen(10))
    for tau in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="tau"):
            fn(z, z, tau)
    for tau in ("0.1", True, None, torch.tensor(0.1)):
        with pytest.raises(TypeError, match="tau"):
            fn(z, z, tau)


@pytest.mark.parametrize("w", [-0.5, float("nan"), float("inf")])
def test_taylor_dv_rejects_bad_variance_weight(w: object) -> None:
    with pytest.raises(ValueError, match="variance_weight"):
        bounds.taylor_dv(torch.zeros(3, 3), variance_weight=w)


@pytest.mark.parametrize("w", ["half", True, None])
def test_taylor_dv_rejects_non_number_variance_weight(w: object) -> None:
    with pytest.raises(TypeError, match="variance_weight"):
        bounds.taylor_dv(torch.zeros(3, 3), variance_weight=w)


def test_checks_context_switches_finiteness_check_and_restores_it() -> None:
    nan = torch.zeros(3, 3)
    nan[0, 1] = float("nan")
    with finite_checks(False):
        assert torch.isnan(bounds.dv(nan))
        with pytest.raises(ValueError, match="square"):  # shape checks stay on
            bounds.dv(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="non-finite"):
        bounds.dv(nan)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("tau", [1.0, 0.5, 0.1, 1 / 30, 0.002])
@pytest.mark.parametrize("size", [1, 2, 7, 1001])
def test_sum_log_of_grouped_products_is_the_sum_of_logs(dtype, tau, size) -> None:
    """estimate_all's softplus sum: sum log(1 + exp S) with S <= 1/tau, through products of up to 8 entries."""
    bound = math.exp(min(1 / tau, 0.9 * math.log(torch.finfo(dtype).max)))  # where the fixed shift applies
    g = _gen(12)
    y = 1 + (bound - 1) * torch.rand(size, generator=g, dtype=torch.float64)
    y[: size // 3] = bound          # the worst case for the product: every entry at the bound
    ref = float(y.log().sum())
    got = float(bounds._sum_log_at_least_one(y.to(dtype).clone(), 1 + bound))
    assert math.isfinite(got)
    assert got == pytest.approx(ref, rel=size * 4 * torch.finfo(dtype).eps, abs=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softplus_sum_is_softplus_to_one_epsilon_per_entry(dtype) -> None:
    g = _gen(11)
    s = torch.cat([40 * torch.randn(5000, generator=g, dtype=dtype),
                   torch.tensor([-math.inf, -1e4, -30.0, -17.0, 0.0, 17.0, 30.0, 1e4], dtype=dtype)])
    s64 = s.to(torch.float64)  # reference: log1p in float64 (F.softplus drops log1p(e^-x) above x = 20)
    ref = (s64.clamp(min=0) + torch.log1p(torch.exp(-s64.abs()))).sum()
    got = bounds._softplus_sum(s.clone()).to(torch.float64)
    # the sum of ~5,000 values of magnitude up to ~1e4: rounding of the sum itself dominates
    assert abs(float(got - ref)) <= s.numel() * torch.finfo(dtype).eps * float(s[s.isfinite()].abs().max())
    small = torch.linspace(-3, 3, 1001, dtype=dtype)  # the cosine critic's range at tau >= 1/3
    per_entry = bounds._softplus_sum(small.clone()) - torch.nn.functional.softplus(small).sum()
    assert abs(float(per_entry)) / small.numel() <= 4 * torch.finfo(dtype).eps
    before = small.clone()
    bounds._softplus_sum(small)
    assert torch.equal(small, before)  # the block is not modified in place
