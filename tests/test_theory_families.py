"""Tests of :mod:`mi_ssl.theory.families`: the samplers' second moments and laws, and the studies' population
columns against Monte Carlo on views with the same covariance. Seeded and deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mi_ssl import objectives, theory

F64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- samplers
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


def test_sample_relu_views_are_standardised_and_correlated() -> None:
    za, zb = theory.sample_relu_views(50_000, 4, 0.9, generator=_gen(26))
    assert za.shape == zb.shape == (50_000, 4)
    z = torch.cat([za, zb], 1).numpy()
    assert np.allclose(z.mean(0), 0.0, atol=1e-12) and np.allclose(z.std(0), 1.0)
    r = np.corrcoef(z.T)[:4, 4:]
    assert (np.diag(r) > 0.5).all()  # the two views of one input stay correlated through the shared layer


# --------------------------------------------------------------------------- studies
def test_surrogate_landscape_against_samples_of_its_views() -> None:
    """Population columns vs Monte Carlo on Gaussian views with the same covariance (independent code paths:
    :func:`mi_ssl.objectives.barlow_twins`, numpy correlations, log-mean-exp over marginal pairs)."""
    d, rho, scale, lambd, n = 4, 0.8, 4.0, 0.05, 200_000
    land = theory.surrogate_landscape(d, rho, rotations=(0.7,), withins=(0.3,), scale=scale, lambd=lambd, seed=3)
    for row, kw in zip(land.itertuples(), ({"rotation": 0.7}, {"within": 0.3})):
        cov = theory.view_covariance(d, rho, generator=_gen(3), **kw)
        za, zb = theory.sample_views(n, cov, "gaussian", _gen(27))
        c = np.corrcoef(za.numpy().T, zb.numpy().T)[:d, d:]
        off = float((c**2).sum() - (np.diag(c) ** 2).sum())
        assert row.paper_eq13 == pytest.approx(-np.trace(c) + off, abs=0.03)
        assert row.bt_loss == pytest.approx(float(objectives.barlow_twins(za, zb, lambd=lambd, eps=0.0)), abs=0.01)
        t_joint = (za * zb).sum(1) / scale
        t_marg = (za * zb.roll(1, 0)).sum(1) / scale  # row i with row i - 1: a marginal pair
        assert row.taylor_dv == pytest.approx(
            float(t_joint.mean() - t_marg.mean() - 0.5 * t_marg.var()), abs=0.02
        )
        k1 = float(torch.logsumexp(t_marg, 0) - math.log(n))
        assert row.dv_dot == pytest.approx(float(t_joint.mean()) - k1, abs=0.02)
        assert row.dv_dot <= row.true_mi


def test_family_study_rows_and_gaussian_row() -> None:
    fs = theory.family_study(n=20_000, n_mgf=200)
    assert list(fs.family) == [*theory.FAMILIES, "relu"]
    gauss = fs.set_index("family").loc["gaussian"]
    assert abs(gauss.excess_kurtosis) < 0.1 and gauss.isserlis_rel_err < 0.05
    assert (fs.marginal_rel_err < 0.05).all()  # the product-of-marginals formula needs no Gaussian law


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call,exc,name",
    [
        (lambda: theory.view_covariance(4, 0.5, within=-0.5), ValueError, "within"),
        (lambda: theory.view_covariance(1, 0.5), ValueError, "d"),
        (lambda: theory.view_covariance(3, 1.0), ValueError, "rho"),
        (lambda: theory.sample_views(10, torch.eye(4), "cauchy"), ValueError, "family"),
        (lambda: theory.sample_views(10, torch.eye(3)), ValueError, "joint_cov"),
        (lambda: theory.sample_views(10, -torch.eye(4)), ValueError, "joint_cov"),
        (lambda: theory.sample_relu_views(1, 2, 0.5), ValueError, "n"),
        (lambda: theory.surrogate_landscape(lambd=-1.0), ValueError, "lambd"),
        (lambda: theory.family_study(families=("cauchy",)), ValueError, "families"),
    ],
)
def test_bad_input_names_the_argument(call, exc: type[Exception], name: str) -> None:
    with pytest.raises(exc, match=name):
        call()
