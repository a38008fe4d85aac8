"""Tests for the EMI chapter (book/06) and the two-paradigms chapter (book/03).

* The Gaussian (EMI) estimate's properties that chapter 06 relies on, each against an independent
  ground truth: the ridge equals adding independent Gaussian noise to the views (checked against
  ``numpy.cov`` of noisy samples), the ridge only lowers the estimate, the exact scale law, the
  "ridge cap" for perfectly aligned features, and the upward small-sample bias ``d^2/(2N)`` under
  independence (Wilks).
* The figure functions the two chapters add to :mod:`mi_ssl.plots` run on tiny input and return a
  :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from mi_ssl import bounds, plots
from mi_ssl.checks import finite_checks

F64 = torch.float64


def _pair(n: int, d: int, rho: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=F64)
    y = rho * x + math.sqrt(1 - rho * rho) * torch.randn(n, d, generator=g, dtype=F64)
    return x, y


def _gaussian_mi_numpy(za: np.ndarray, zb: np.ndarray) -> float:
    """Independent implementation: slogdet of numpy.cov blocks."""
    d = za.shape[1]
    c = np.cov(np.concatenate([za, zb], 1), rowvar=False)
    ld = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
    return 0.5 * (ld(c[:d, :d]) + ld(c[d:, d:]) - ld(c))


# ----------------------------------------------------------------------------- the estimator (chapter 06)
def test_ridge_equals_adding_independent_noise() -> None:
    """logdet_mi_estimate(za, zb, eps) = Gaussian MI of (za + sqrt(eps) n1, zb + sqrt(eps) n2) in the population.

    The noisy samples' covariance converges to the ridged one, so with many noise draws the numpy
    estimate on noisy data approaches the ridged estimate on clean data.
    """
    za, zb = _pair(400, 3, 0.8, seed=1)
    eps = 0.3
    ridged = float(bounds.logdet_mi_estimate(za, zb, eps=eps))
    rng = np.random.default_rng(0)
    reps = 200  # stack many noisy copies of the same batch: noise averages out, the data do not
    a = np.tile(za.numpy(), (reps, 1)) + math.sqrt(eps) * rng.standard_normal((400 * reps, 3))
    b = np.tile(zb.numpy(), (reps, 1)) + math.sqrt(eps) * rng.standard_normal((400 * reps, 3))
    assert _gaussian_mi_numpy(a, b) == pytest.approx(ridged, abs=0.01)


def test_ridge_only_lowers_the_estimate_and_scale_law() -> None:
    za, zb = _pair(1000, 4, 0.9, seed=2)
    values = [float(bounds.logdet_mi_estimate(za, zb, eps=e)) for e in (0.0, 1e-4, 1e-2, 1.0, 100.0)]
    assert all(b < a for a, b in zip(values, values[1:]))
    assert values[0] == pytest.approx(_gaussian_mi_numpy(za.numpy(), zb.numpy()), abs=1e-10)
    for s in (1e-3, 0.5, 40.0):
        assert float(bounds.logdet_mi_estimate(s * za, s * zb, eps=s * s * 0.01)) == pytest.approx(values[2], abs=1e-9)


def test_ridge_cap_for_perfectly_aligned_features() -> None:
    """With za = zb and covariance eigenvalues lam_k: I = 1/2 sum_k log((lam_k+eps)^2 / (eps (2 lam_k + eps)))."""
    g = torch.Generator().manual_seed(3)
    z = torch.randn(2000, 3, generator=g, dtype=F64) @ torch.diag(torch.tensor([0.3, 1.0, 2.0], dtype=F64))
    eps = 1e-3
    lam = torch.linalg.eigvalsh(torch.cov(z.T))
    cap = 0.5 * float(torch.log((lam + eps) ** 2 / (eps * (2 * lam + eps))).sum())
    assert float(bounds.logdet_mi_estimate(z, z, eps=eps)) == pytest.approx(cap, rel=1e-9)
    # and any less aligned pair with the same first view stays below it
    noisy = z + 0.1 * torch.randn(z.shape, generator=g, dtype=F64)
    assert float(bounds.logdet_mi_estimate(z, noisy, eps=eps)) < cap


def test_upward_bias_under_independence_is_about_d2_over_2n() -> None:
    d, n, reps = 3, 400, 60
    g = torch.Generator().manual_seed(4)
    est = [float(bounds.logdet_mi_estimate(torch.randn(n, d, generator=g, dtype=F64),
                                        torch.randn(n, d, generator=g, dtype=F64), eps=0.0)) for _ in range(reps)]
    assert np.mean(est) == pytest.approx(d * d / (2 * n), rel=0.25)
    assert min(est) > 0  # the plug-in estimate of a zero MI is positive batch by batch


def test_collapsed_feature_needs_the_ridge() -> None:
    za, zb = _pair(200, 3, 0.5, seed=5)
    za[:, 1] = 2.0
    with pytest.raises(ValueError, match="positive definite"):
        bounds.logdet_mi_estimate(za, zb, eps=0.0)
    assert math.isfinite(float(bounds.logdet_mi_estimate(za, zb, eps=1e-3)))
    with finite_checks(False):           # inside fit: no host sync, a NaN loss for fit's NaN stop
        assert math.isnan(float(bounds.logdet_mi_estimate(za, zb, eps=0.0)))


def test_diverged_embeddings_are_named_as_such() -> None:
    za, zb = _pair(200, 3, 0.5, seed=5)
    za[7, 0] = float("inf")
    with pytest.raises(ValueError, match="za contains non-finite values"):  # the input check names the view
        bounds.logdet_mi_estimate(za, zb)
    with finite_checks(False):
        assert math.isnan(float(bounds.logdet_mi_estimate(za, zb)))
    huge = za.clone()
    huge[7, 0] = 1e300  # finite, but its square overflows the float64 covariance
    with pytest.raises(ValueError, match="non-finite entries.*lower the learning rate"):
        bounds.logdet_mi_estimate(huge, zb)


# ----------------------------------------------------------------------------- figures (chapters 03 and 06)
@pytest.fixture
def close_figures():
    yield
    plt.close("all")


def test_plot_paradigm_schematic(close_figures) -> None:
    fig = plots.plot_paradigm_schematic()
    assert isinstance(fig, Figure) and len(fig.axes) == 3


def test_plot_step_anatomy(close_figures) -> None:
    changes = pd.DataFrame({
        "step": ["E", "E", "M", "M"], "tensor": ["f.w", "g.w", "f.w", "g.w"],
        "kind": ["parameter"] * 4, "rel_change": [0.1, 0.0, 0.0, 0.2],
    })
    assert isinstance(plots.plot_step_anatomy(changes), Figure)
    saved = pd.DataFrame({"step": ["E", "E", "M"], "part": ["f", "objective", "g"], "megabytes": [1.0, 0.5, 1.0]})
    fig = plots.plot_step_anatomy(changes, saved)
    assert isinstance(fig, Figure) and len(fig.axes) >= 2


def test_plot_gaussian_mi_checks(close_figures) -> None:
    bias = pd.DataFrame({"rho": [0.0, 0.0, 0.5, 0.5], "n": [10, 100, 10, 100], "mean_error": [0.4, 0.05, 0.3, 0.02],
                         "sd_error": [0.1, 0.01, 0.2, 0.02], "wilks": [0.8, 0.08, 0.8, 0.08]})
    ridge = pd.DataFrame({"eps": [0.0, 1e-3, 1.0], "estimate": [1.0, 0.9, 0.2], "truth": [1.0] * 3})
    assert isinstance(plots.plot_gaussian_mi_checks(bias, ridge), Figure)


def test_plot_gaussian_vs_true_mi_and_objective(close_figures) -> None:
    df = pd.DataFrame({"case": ["a", "b"], "gaussian": [1.0, 2.0], "truth": [1.2, 0.7],
                       "truth_kind": ["exact", "upper bound"]})
    assert isinstance(plots.plot_gaussian_vs_true_mi(df), Figure)
    hist = pd.DataFrame({"epoch": [0, 1, 2], "loss": [float("nan"), -1.0, -2.0]})
    fig = plots.plot_objective_vs_ceiling({"emi": hist}, {"ceiling": 1.5, "cap": 3.0})
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) == 3
