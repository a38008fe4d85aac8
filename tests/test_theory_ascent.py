"""Tests of :mod:`mi_ssl.theory.ascent`: the exact DV objectives against Monte Carlo and :mod:`mi_ssl.bounds`,
and the ascent's bookkeeping and monotonicity for small steps (the Proposition's regime). Seeded.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mi_ssl import bounds, theory

F64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


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


# --------------------------------------------------------------------------- bad input
def _flat_terms(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return a.sum(), b.sum()


ONE = torch.zeros(1)


@pytest.mark.parametrize(
    "call,exc,name",
    [
        (lambda: theory.dv_ascent(_flat_terms, ONE, ONE, 0.0, 1), ValueError, "lr"),
        (lambda: theory.dv_ascent(_flat_terms, ONE, ONE, 0.1, 1, "sgd"), ValueError, "mode"),
        (lambda: theory.dv_ascent(_flat_terms, ONE, ONE, 0.1, 0), ValueError, "steps"),
        (lambda: theory.linear_gaussian_batch(10, torch.zeros(2, 3), 0.5), ValueError, "sigma_x"),
        (lambda: theory.linear_view_covariances(ONE, ONE, torch.eye(1), -1.0), ValueError, "noise_var"),
        (lambda: theory.linear_gaussian_setting(p=0), ValueError, "p"),
    ],
)
def test_bad_input_names_the_argument(call, exc: type[Exception], name: str) -> None:
    with pytest.raises(exc, match=name):
        call()
