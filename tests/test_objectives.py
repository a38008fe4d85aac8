"""Objectives against independent, hand-written computations (loops / numpy), and closed forms."""

import math

import numpy as np
import pytest
import torch

from mi_ssl import bounds
from mi_ssl import objectives as O


def _pair(n=6, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)


def _cos(a, b):
    return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


def test_cos_dv_matches_eq15_loop():
    za, zb = _pair()
    tau = 0.5
    a, b = za.numpy(), zb.numpy()
    n = len(a)
    joint = sum(_cos(a[i], b[i]) / tau for i in range(n)) / n
    marg = math.log(sum(math.exp(_cos(a[i], b[j]) / tau) for i in range(n) for j in range(n) if i != j) / (n * (n - 1)))
    assert float(O.cos_dv(za, zb, tau=tau)) == pytest.approx(-(joint - marg), rel=1e-6)
    # symmetric in its arguments
    assert float(O.cos_dv(zb, za, tau=tau)) == pytest.approx(float(O.cos_dv(za, zb, tau=tau)), rel=1e-6)


def test_joint_only_and_negative_cosine():
    za, zb = _pair()
    a, b = za.numpy(), zb.numpy()
    mean_cos = np.mean([_cos(a[i], b[i]) for i in range(len(a))])
    assert float(O.negative_cosine(za, zb)) == pytest.approx(-mean_cos, rel=1e-6)
    assert float(O.joint_only(za, zb, tau=0.25)) == pytest.approx(-mean_cos / 0.25, rel=1e-6)


def test_nt_xent_matches_loop():
    za, zb = _pair(n=5)
    tau = 0.2
    z = np.concatenate([za.numpy(), zb.numpy()])
    n = len(za)
    total = 0.0
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        logits = {j: _cos(z[i], z[j]) / tau for j in range(2 * n) if j != i}
        total += -(logits[pos] - math.log(sum(math.exp(v) for v in logits.values())))
    assert float(O.nt_xent(za, zb, tau=tau)) == pytest.approx(total / (2 * n), rel=1e-6)


def test_moco_infonce_matches_loop_and_log_n_identity():
    q, k = _pair(n=7)
    tau = 0.3
    a, b = q.numpy(), k.numpy()
    n = len(a)
    total = 0.0
    for i in range(n):
        row = [_cos(a[i], b[j]) / tau for j in range(n)]
        total += -(row[i] - math.log(sum(math.exp(v) for v in row)))
    assert float(O.moco_infonce(q, k, tau=tau)) == pytest.approx(total / n, rel=1e-6)
    assert float(O.moco_infonce(q, k, tau=tau)) >= 0.0


def test_barlow_twins_matches_numpy():
    za, zb = _pair(n=16, d=5)
    a, b = za.numpy(), zb.numpy()
    an = (a - a.mean(0)) / a.std(0)
    bn = (b - b.mean(0)) / b.std(0)
    c = an.T @ bn / len(a)
    lam = 0.01
    expected = ((1 - np.diag(c)) ** 2).sum() + lam * ((c ** 2).sum() - (np.diag(c) ** 2).sum())
    assert float(O.barlow_twins(za, zb, lambd=lam, eps=0.0)) == pytest.approx(expected, rel=1e-6)
    # perfectly correlated, decorrelated features reach 0
    g = torch.Generator().manual_seed(1)
    r = torch.randn(64, 4, generator=g, dtype=torch.float64)
    x = torch.linalg.qr(r - r.mean(0))[0] * 8  # zero-mean, mutually orthogonal columns
    assert float(O.barlow_twins(x, x, eps=0.0)) == pytest.approx(0.0, abs=1e-8)


def test_vicreg_matches_numpy():
    za, zb = _pair(n=20, d=3)
    a, b = za.numpy(), zb.numpy()
    inv = ((a - b) ** 2).mean()

    def hinge(z):
        return np.maximum(0, 1 - np.sqrt(z.var(0, ddof=1) + 1e-4)).mean()

    def cov(z):
        c = np.cov(z, rowvar=False)
        return ((c ** 2).sum() - (np.diag(c) ** 2).sum()) / z.shape[1]

    expected = 25 * inv + 25 * (hinge(a) + hinge(b)) / 2 + (cov(a) + cov(b))
    assert float(O.vicreg(za, zb)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("scale", [1e-3, 0.1, 1.0, 10.0])
def test_vicreg_variance_term_on_a_collapsed_batch_is_its_closed_form(scale):
    """A batch collapsed onto one direction: z_i = scale * s_i * u with s_i = +-1 (half each), u a unit vector.
    Per dimension d the unbiased variance is scale^2 u_d^2 N/(N-1); with only the variance weight on, the loss is
    mean_d relu(1 - sqrt(that + eps)) (both views equal): non-zero at every scale below ~1 per dimension, and
    its value depends on the scale (the term is about the embedding's own scale: l2-normalised rows would pin it)."""
    n, eps = 8, 1e-4
    u = torch.tensor([0.5, 0.5, 0.5, 0.5], dtype=torch.float64)
    signs = torch.tensor([1.0, -1.0] * (n // 2), dtype=torch.float64)
    z = scale * signs[:, None] * u[None, :]
    var = scale**2 * 0.25 * n / (n - 1)
    expected = max(0.0, 1 - math.sqrt(var + eps))
    got = O.vicreg(z, z.clone(), sim_weight=0.0, var_weight=1.0, cov_weight=0.0, eps=eps)
    assert float(got) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    if scale < 1.0:
        assert float(got) > 0.4


def test_logdet_mi_estimate_one_dimension_is_sample_correlation_formula():
    za, zb = _pair(n=50, d=1)
    r = np.corrcoef(za.numpy()[:, 0], zb.numpy()[:, 0])[0, 1]
    assert float(bounds.logdet_mi_estimate(za, zb, eps=0.0)) == pytest.approx(-0.5 * math.log(1 - r ** 2), rel=1e-6)


def test_emi_estimates_closed_form_gaussian_mi_and_is_invariant():
    g = torch.Generator().manual_seed(3)
    n, d, rho = 20000, 3, 0.8
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = rho * x + math.sqrt(1 - rho ** 2) * torch.randn(n, d, generator=g, dtype=torch.float64)
    true = -d / 2 * math.log(1 - rho ** 2)
    est = float(bounds.logdet_mi_estimate(x, y, eps=0.0))
    assert est == pytest.approx(true, abs=0.03)
    assert float(O.emi(x, y, eps=0.0)) == pytest.approx(-est)
    # invariant under invertible linear maps of each view (exact with eps = 0)
    a = torch.randn(d, d, generator=g, dtype=torch.float64) + 3 * torch.eye(d, dtype=torch.float64)
    b = torch.randn(d, d, generator=g, dtype=torch.float64) + 3 * torch.eye(d, dtype=torch.float64)
    assert float(bounds.logdet_mi_estimate(x @ a + 5, y @ b - 2, eps=0.0)) == pytest.approx(est, rel=1e-8)


@pytest.mark.parametrize("name", sorted(O.OBJECTIVES))
def test_every_objective_has_finite_gradients(name):
    za, zb = _pair(n=32, d=8, seed=5)
    za = za.float().requires_grad_()
    zb = zb.float().requires_grad_()
    loss = O.OBJECTIVES[name](za, zb)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(za.grad).all() and za.grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(O.OBJECTIVES))
def test_objectives_reject_mismatched_shapes(name):
    with pytest.raises(ValueError, match="same shape"):
        O.OBJECTIVES[name](torch.randn(8, 4), torch.randn(8, 5))


def test_unknown_objective_lists_allowed():
    with pytest.raises(ValueError, match="allowed: .*cos_dv"):
        O.get_objective("nope")


@pytest.mark.parametrize("name", [n for n, f in O.OBJECTIVES.items() if getattr(f, "symmetric", False)])
def test_objectives_marked_symmetric_are_symmetric(name):
    za, zb = _pair(n=24, d=6, seed=7)
    assert float(O.OBJECTIVES[name](za, zb)) == pytest.approx(float(O.OBJECTIVES[name](zb, za)), rel=1e-10)


def test_moco_infonce_is_not_marked_symmetric():
    za, zb = _pair(n=24, d=6, seed=7)
    assert not getattr(O.moco_infonce, "symmetric", False)
    assert float(O.moco_infonce(za, zb)) != pytest.approx(float(O.moco_infonce(zb, za)), rel=1e-6)


# ----------------------------------------------------------------------------- bad input names the parameter
TAU_OBJECTIVES = ["cos_dv", "joint_only", "nt_xent", "moco_infonce"]
WEIGHTS = [("barlow_twins", "lambd"), ("barlow_twins", "eps"), ("vicreg", "sim_weight"), ("vicreg", "var_weight"),
           ("vicreg", "cov_weight"), ("vicreg", "eps"), ("emi", "eps")]


@pytest.mark.parametrize("name", TAU_OBJECTIVES)
@pytest.mark.parametrize("tau", [0.0, -0.1, float("nan"), float("inf")])
def test_objectives_reject_bad_tau(name, tau):
    za, zb = _pair()
    with pytest.raises(ValueError, match=f"tau must be .*tau={tau}"):
        O.OBJECTIVES[name](za, zb, tau=tau)


@pytest.mark.parametrize("name", TAU_OBJECTIVES)
def test_objectives_reject_non_number_tau(name):
    za, zb = _pair()
    with pytest.raises(TypeError, match="tau must be a real number"):
        O.OBJECTIVES[name](za, zb, tau="0.1")


@pytest.mark.parametrize("name, weight", WEIGHTS)
@pytest.mark.parametrize("value", [-1e-3, float("nan"), float("inf")])
def test_objectives_reject_negative_or_non_finite_weights(name, weight, value):
    za, zb = _pair(n=8)
    with pytest.raises(ValueError, match=f"{weight} must be"):
        O.OBJECTIVES[name](za, zb, **{weight: value})


@pytest.mark.parametrize("name", sorted(O.OBJECTIVES))
def test_objectives_reject_integer_tensors_naming_them(name):
    za, zb = _pair()
    first, second = {"negative_cosine": ("p", "z"), "moco_infonce": ("q", "k")}.get(name, ("za", "zb"))
    with pytest.raises(TypeError, match=f"{first} must be a floating-point tensor"):
        O.OBJECTIVES[name](za.long(), zb)
    with pytest.raises(TypeError, match=f"{second} must be a floating-point tensor"):
        O.OBJECTIVES[name](za, zb.int())


@pytest.mark.parametrize("name", sorted(O.OBJECTIVES))
def test_objectives_reject_non_finite_inputs(name):
    za, zb = _pair()
    za[1, 2] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        O.OBJECTIVES[name](za, zb)


def test_half_precision_losses_are_float32():
    za, zb = _pair(n=16, d=4)
    for name, fn in O.OBJECTIVES.items():
        loss = fn(za.half(), zb.half())
        assert loss.dtype == torch.float32, name
