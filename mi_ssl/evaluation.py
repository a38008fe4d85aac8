"""Evaluation of frozen encoders: linear probe, kNN, collapse diagnostics, toy-data angle gaps.

Everything here reads features that were computed once by :func:`extract_features` (eval mode, no
gradient); nothing trains the encoder.

* :func:`linear_probe` — one linear layer on frozen features, cross-entropy (paper Section 4.3,
  "Linear probing"; Table 1).
* :func:`knn_accuracy` — weighted k-nearest-neighbour vote on cosine similarity (Wu et al. 2018,
  InstDisc; the protocol solo-learn uses).
* :func:`effective_rank`, :func:`embedding_std`, :func:`collapse_report` — dimensional-collapse
  diagnostics (Roy & Vetterli 2007; Chen & He 2021, Fig. 2).
* :func:`cluster_centres`, :func:`nn_angle_gaps` — the toy experiment's nearest-neighbour angle
  gaps (paper Section 4.3, Figure 3, Table 2).

**The ideal NN angle gap for 5 points on the sphere.** The paper (Section B.1.1) calls
"about 90 degrees" the Thomson optimum. Precisely:

* The Thomson (minimum Coulomb energy) configuration of 5 points is the triangular bipyramid
  (poles + 3 equatorial points at 120 degrees). Every point's nearest neighbour is at exactly
  90 degrees, so its mean NN gap is 90, with SD 0.
* 90 degrees is also the best achievable *minimum* NN angle (the Tammes problem for 5 points).
* The best achievable *mean* NN angle — the statistic Table 2 reports — is slightly larger:
  :data:`MEAN_NN_ANGLE_OPTIMUM_5` = 90.7200 degrees, reached by a square pyramid whose apex is at
  angle arccos(-1/sqrt(63)) = 97.24 degrees from the four base points (each base point's nearest
  neighbour is its base neighbour at arccos(1/63) = 89.09 degrees). Derivation:
  with the apex at the pole and the base at polar angle ``t > 90``, the mean is
  ``(t + 4 arccos(cos^2 t)) / 5``; setting its derivative to zero gives ``cos^2 t = 1/63``. A
  numerical search (300 Nelder-Mead restarts over all 5-point configurations) found no better
  configuration. So per-centre NN gaps above 90 degrees are possible (Table 2 lists a max of
  102.5 for Barlow Twins), but no configuration we found has a mean above 90.72.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import check_tensor
from .util import evaluating, resolve_device

__all__ = [
    "MEAN_NN_ANGLE_OPTIMUM_5",
    "THOMSON_5_MEAN_NN_ANGLE",
    "extract_features",
    "linear_probe",
    "knn_accuracy",
    "effective_rank",
    "embedding_std",
    "collapse_report",
    "cluster_centres",
    "nn_angle_gaps",
]

#: Largest possible mean nearest-neighbour angle (degrees) of 5 points on S^2 (square pyramid,
#: see the module docstring): ``(arccos(-1/sqrt(63)) + 4 arccos(1/63)) / 5``.
MEAN_NN_ANGLE_OPTIMUM_5: float = math.degrees((math.acos(-1 / math.sqrt(63)) + 4 * math.acos(1 / 63)) / 5)
#: Mean (and min, and max) nearest-neighbour angle of the 5-point Thomson configuration (degrees).
THOMSON_5_MEAN_NN_ANGLE: float = 90.0


# --------------------------------------------------------------------------- input checks
def _as_2d(x: object, name: str) -> Tensor:
    return check_tensor(x, name, 2, floating=False)


def _as_labels(y: object, name: str, n: int) -> Tensor:
    y = check_tensor(y, name, floating=False)
    if y.dim() != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape [{n}] (one label per feature row), got {tuple(y.shape)}")
    if y.is_floating_point() or y.is_complex():
        raise ValueError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    if y.numel() and int(y.min()) < 0:
        raise ValueError(f"{name} must hold class indices >= 0, got min {int(y.min())}")
    return y.long()


# --------------------------------------------------------------------------- features
def _modules_behind(fn: Callable[..., Any]) -> list[nn.Module]:
    """Modules that ``fn`` runs: itself, the owner of a bound method, or modules a closure captured."""
    if isinstance(fn, nn.Module):
        return [fn]
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, nn.Module):
        return [owner]
    found: list[nn.Module] = []
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # empty cell
            continue
        if isinstance(value, nn.Module):
            found.append(value)
        elif callable(value) and isinstance(getattr(value, "__self__", None), nn.Module):
            found.append(value.__self__)
    return found


def extract_features(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    *,
    batch_size: int = 1024,
    device: torch.device | str | None = None,
    transform: Callable[[Tensor], Tensor] | None = None,
    model: nn.Module | None = None,
) -> Tensor:
    """Apply a frozen model to ``x`` in batches: ``x [N, ...]`` -> float32 CPU ``[N, F]``.

    ``fn`` is a module (e.g. a backbone), a bound method of one (e.g. ``encoder.features``) or any
    function. The module(s) it runs are put in eval mode for the pass (BatchNorm then uses its
    running statistics) and restored to their previous mode afterwards: ``model`` if given,
    otherwise the module ``fn`` is, the owner of the bound method, or the modules a closure ``fn``
    captured (pass ``model=`` for anything else). Runs under ``torch.no_grad``. Each batch is moved
    to ``device`` (default: the device of the module's parameters, else ``x.device``) and then, if
    given, passed through ``transform`` (raw batch, e.g. uint8 images, -> model input; e.g.
    ``SSLData.to_float``). Outputs with more than two axes are flattened to ``[N, F]``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable (a module or a function), got {type(fn).__name__}")
    if not isinstance(x, Tensor) or x.dim() < 1:
        raise TypeError("x must be a torch.Tensor with a leading batch axis")
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if x.shape[0] == 0:
        raise ValueError("x is empty: nothing to extract")
    modules = [model] if model is not None else _modules_behind(fn)
    if device is None:
        p = next((p for m in modules for p in m.parameters()), None)
        device = p.device if p is not None else None
    dev = resolve_device(device) if device is not None else x.device
    out: list[Tensor] = []
    with evaluating(*modules):
        for i in range(0, x.shape[0], batch_size):
            xb = x[i : i + batch_size].to(dev, non_blocking=True)
            if transform is not None:
                xb = transform(xb)
            out.append(fn(xb).flatten(1).float().cpu())
    return torch.cat(out)


# --------------------------------------------------------------------------- linear probe
def linear_probe(
    train_feats: Tensor,
    train_y: Tensor,
    test_feats: Tensor,
    test_y: Tensor,
    *,
    epochs: int = 100,
    lr: float = 1.0,
    weight_decay: float = 5e-4,
    batch_size: int = 1024,
    seed: int = 0,
    device: torch.device | str | None = None,
    standardize: bool = True,
    optimizer: Literal["lbfgs", "adam"] = "lbfgs",
    num_classes: int | None = None,
) -> dict[str, Any]:
    """Train one linear layer on frozen features with cross-entropy; report test accuracy.

    Protocol: features are computed once (no augmentation); with ``standardize`` each feature is
    centred and scaled by its mean/std *on the training set* (the same affine map is applied to the
    test set; it is a reparametrisation of the linear layer and only conditions the problem). The
    objective is mean cross-entropy + ``weight_decay / 2 * ||W||^2`` (bias not decayed).

    * ``optimizer="lbfgs"`` (default): full-batch L-BFGS with strong-Wolfe line search for ``epochs``
      iterations from a zero initialisation (``lr`` is L-BFGS's step scale, 1 is standard;
      ``batch_size`` and ``seed`` are unused). The problem is convex, so this needs no learning-rate
      tuning, is deterministic, and takes seconds even for 50k x 2048 features on a GPU.
    * ``optimizer="adam"``: mini-batch Adam (default ``lr`` for Adam: pass e.g. ``1e-2``) with a
      cosine schedule over ``epochs`` passes of shuffled batches (the order is drawn from a CPU
      generator seeded with ``seed``).

    Shapes: ``train_feats [N, F]``, ``train_y [N]`` int, ``test_feats [M, F]``, ``test_y [M]`` int.
    ``device`` defaults to the device of ``train_feats``. Returns
    ``{"top1": test accuracy %, "train_top1": train accuracy %, "epochs": epochs, "iterations": L-BFGS
    iterations run (it stops early once converged) or Adam steps, "optimizer": ..., "weight_decay": ...,
    "num_classes": ..., "final_loss": training objective at the end}``.
    """
    train_feats, train_y, test_feats, test_y = _probe_inputs(train_feats, train_y, test_feats, test_y)
    _check_probe_options(optimizer, epochs, lr, weight_decay, batch_size)
    k_seen = int(max(int(train_y.max()), int(test_y.max()))) + 1
    k = k_seen if num_classes is None else int(num_classes)
    if k < k_seen:
        raise ValueError(f"num_classes={num_classes} but labels go up to {k_seen - 1}")

    dev = resolve_device(device) if device is not None else train_feats.device
    xtr, xte = train_feats.to(dev, torch.float32), test_feats.to(dev, torch.float32)
    ytr, yte = train_y.to(dev), test_y.to(dev)
    if standardize:
        xtr, xte = _standardize(xtr, xte)
    layer = nn.Linear(xtr.shape[1], k).to(dev)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)

    def objective(xb: Tensor, yb: Tensor) -> Tensor:
        return F.cross_entropy(layer(xb), yb) + 0.5 * weight_decay * layer.weight.square().sum()

    if optimizer == "lbfgs":
        iterations = _fit_lbfgs(layer, objective, xtr, ytr, epochs, lr)
    else:
        iterations = _fit_adam(layer, objective, xtr, ytr, epochs, lr, batch_size, seed)
    with torch.no_grad():
        final_loss = float(objective(xtr, ytr))
        train_acc = float((layer(xtr).argmax(1) == ytr).float().mean()) * 100.0
        test_acc = float((layer(xte).argmax(1) == yte).float().mean()) * 100.0
    return {"top1": test_acc, "train_top1": train_acc, "epochs": epochs, "iterations": iterations,
            "optimizer": optimizer, "weight_decay": weight_decay, "num_classes": k, "final_loss": final_loss}


def _probe_inputs(train_feats: object, train_y: object, test_feats: object, test_y: object
                  ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Features ``[N, F]``/``[M, F]`` with matching widths and finite values, labels ``[N]``/``[M]`` as int64."""
    train_feats = _as_2d(train_feats, "train_feats")
    test_feats = _as_2d(test_feats, "test_feats")
    train_y = _as_labels(train_y, "train_y", train_feats.shape[0])
    test_y = _as_labels(test_y, "test_y", test_feats.shape[0])
    if test_feats.shape[1] != train_feats.shape[1]:
        raise ValueError(
            f"test_feats has {test_feats.shape[1]} features but train_feats has {train_feats.shape[1]}"
        )
    if not (torch.isfinite(train_feats).all() and torch.isfinite(test_feats).all()):
        raise ValueError("train_feats/test_feats contain NaN or inf (did the encoder diverge?)")
    return train_feats, train_y, test_feats, test_y


def _check_probe_options(optimizer: str, epochs: int, lr: float, weight_decay: float, batch_size: int) -> None:
    if optimizer not in ("lbfgs", "adam"):
        raise ValueError(f"optimizer must be 'lbfgs' or 'adam', got {optimizer!r}")
    if not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


def _standardize(xtr: Tensor, xte: Tensor) -> tuple[Tensor, Tensor]:
    """Centre and scale every feature by its mean and std on the training split (the same map for both)."""
    mu = xtr.mean(0, keepdim=True)
    sd = xtr.std(0, keepdim=True, unbiased=False).clamp_min(1e-6)
    return (xtr - mu) / sd, (xte - mu) / sd


def _fit_lbfgs(layer: nn.Linear, objective: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor,
               iterations: int, lr: float) -> int:
    """Full-batch L-BFGS with strong-Wolfe line search; the iterations it ran (it stops once converged)."""
    opt = torch.optim.LBFGS(layer.parameters(), lr=lr, max_iter=iterations, history_size=20, tolerance_grad=1e-9,
                            tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad(set_to_none=True)
        loss = objective(x, y)
        loss.backward()
        return loss

    opt.step(closure)
    return int(opt.state[layer.weight].get("n_iter", 0))


def _fit_adam(layer: nn.Linear, objective: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor,
              epochs: int, lr: float, batch_size: int, seed: int) -> int:
    """Mini-batch Adam with a cosine schedule over ``epochs`` shuffled passes (order from a CPU generator
    seeded with ``seed``); the steps it took."""
    n = x.shape[0]
    gen = torch.Generator().manual_seed(seed)
    adam = torch.optim.Adam(layer.parameters(), lr=lr)
    steps_per_epoch = math.ceil(n / batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(adam, T_max=epochs * steps_per_epoch)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen).to(x.device)
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            adam.zero_grad(set_to_none=True)
            objective(x[idx], y[idx]).backward()
            adam.step()
            sched.step()
    return epochs * steps_per_epoch


# --------------------------------------------------------------------------- kNN
def knn_accuracy(
    train_feats: Tensor,
    train_y: Tensor,
    test_feats: Tensor,
    test_y: Tensor,
    *,
    k: int = 20,
    temperature: float = 0.07,
    num_classes: int | None = None,
    chunk_size: int = 1024,
) -> float:
    """Weighted kNN top-1 accuracy (%) on cosine similarity (Wu et al. 2018; solo-learn's protocol).

    Features are L2-normalised; for each test point the ``k`` most cosine-similar training points
    vote for their class with weight ``exp(sim / temperature)``; the class with the largest summed
    weight wins. Shapes: ``train_feats [N, F]``, ``train_y [N]``, ``test_feats [M, F]``,
    ``test_y [M]``. Runs on ``train_feats``' device, ``chunk_size`` test rows at a time.
    """
    train_feats = _as_2d(train_feats, "train_feats")
    test_feats = _as_2d(test_feats, "test_feats")
    train_y = _as_labels(train_y, "train_y", train_feats.shape[0])
    test_y = _as_labels(test_y, "test_y", test_feats.shape[0])
    if test_feats.shape[1] != train_feats.shape[1]:
        raise ValueError(
            f"test_feats has {test_feats.shape[1]} features but train_feats has {train_feats.shape[1]}"
        )
    if not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    dev = train_feats.device
    kk = min(k, train_feats.shape[0])
    n_cls = int(max(int(train_y.max()), int(test_y.max()))) + 1 if num_classes is None else int(num_classes)
    tr = F.normalize(train_feats.float(), dim=1)
    ytr = train_y.to(dev)
    correct = 0
    for i in range(0, test_feats.shape[0], chunk_size):
        te = F.normalize(test_feats[i : i + chunk_size].to(dev, torch.float32), dim=1)
        sim, idx = (te @ tr.T).topk(kk, dim=1)  # [B, k]
        weights = (sim / temperature).exp()
        votes = torch.zeros(te.shape[0], n_cls, device=dev, dtype=weights.dtype)
        votes.scatter_add_(1, ytr[idx], weights)
        correct += int((votes.argmax(1) == test_y[i : i + chunk_size].to(dev)).sum())
    return 100.0 * correct / test_feats.shape[0]


# --------------------------------------------------------------------------- collapse diagnostics
def _singular_values(z: Tensor) -> Tensor:
    """Singular values (float64, CPU) of ``z [N, D]`` via the eigenvalues of the smaller Gram matrix."""
    z = z.detach().to("cpu", torch.float64)
    g = z.T @ z if z.shape[0] >= z.shape[1] else z @ z.T
    return torch.linalg.eigvalsh(g).clamp_min(0).sqrt().flip(0)


def effective_rank(z: Tensor) -> float:
    """Effective rank of the centred embeddings ``z [N, D]`` (Roy & Vetterli 2007).

    ``erank = exp(H(p))`` with ``p_i = s_i / sum_j s_j`` the normalised singular values of
    ``z - mean(z)`` and ``H`` the Shannon entropy (nats). It lies in ``[1, min(N - 1, D)]``: ``D`` for
    isotropic embeddings (equal singular values), 1 for embeddings spread along one direction.
    Fully collapsed embeddings (every row equal, so the centred matrix is 0) return 0.0.
    """
    z = _as_2d(z, "z").detach().to(torch.float64)
    s = _singular_values(z - z.mean(0, keepdim=True))
    total = float(s.sum())
    if not math.isfinite(total):
        raise ValueError("z contains NaN or inf")
    if total <= 1e-12 * max(1.0, float(z.abs().max())):
        return 0.0
    p = s / total
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def embedding_std(z: Tensor) -> tuple[float, float]:
    """SimSiam's collapse diagnostic (Chen & He 2021, Section 4.1): ``(std, 1 / sqrt(D))``.

    ``std`` is the per-dimension standard deviation (over the ``N`` rows, population form) of the
    L2-normalised embeddings ``z / ||z||``, averaged over the ``D`` dimensions. For embeddings
    spread isotropically (e.g. Gaussian) it is close to ``1 / sqrt(D)``, the second element;
    for collapsed embeddings (every row pointing the same way) it is 0.
    """
    z = _as_2d(z, "z")
    zn = F.normalize(z.detach().to(torch.float64), dim=1)
    return float(zn.std(0, unbiased=False).mean()), 1.0 / math.sqrt(z.shape[1])


def collapse_report(z: Tensor) -> dict[str, float]:
    """Collapse diagnostics of embeddings ``z [N, D]`` in one dict.

    Keys: ``n``, ``dim``; ``effective_rank`` (see :func:`effective_rank`) and
    ``effective_rank_ratio`` (divided by ``min(N - 1, D)``, its maximum); ``embedding_std`` and
    ``embedding_std_isotropic`` (``1/sqrt(D)``) from :func:`embedding_std`, and their ratio
    ``embedding_std_ratio`` (about 1 when healthy, 0 when collapsed); ``mean_norm`` (mean L2 norm
    of the raw rows).
    """
    z = _as_2d(z, "z")
    n, d = z.shape
    er = effective_rank(z)
    std, iso = embedding_std(z)
    return {
        "n": float(n),
        "dim": float(d),
        "effective_rank": er,
        "effective_rank_ratio": er / max(1, min(n - 1, d)),
        "embedding_std": std,
        "embedding_std_isotropic": iso,
        "embedding_std_ratio": std / iso,
        "mean_norm": float(z.detach().double().norm(dim=1).mean()),
    }


# --------------------------------------------------------------------------- toy data (Table 2)
def cluster_centres(z: Tensor, y: Tensor, num_classes: int) -> Tensor:
    """Mean embedding of each cluster, re-normalised to the unit sphere: ``[K, D]``.

    ``z [N, D]`` embeddings (usually on the sphere already), ``y [N]`` cluster labels in
    ``[0, num_classes)``. Every cluster must have at least one point and a non-zero mean.
    """
    z = _as_2d(z, "z")
    y = _as_labels(y, "y", z.shape[0]).to(z.device)
    if not isinstance(num_classes, int) or num_classes <= 0:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if int(y.max()) >= num_classes:
        raise ValueError(f"y holds label {int(y.max())}, outside [0, num_classes={num_classes})")
    zf = z.detach().to(torch.float64)
    sums = torch.zeros(num_classes, z.shape[1], dtype=torch.float64, device=z.device).index_add_(0, y, zf)
    counts = torch.bincount(y, minlength=num_classes)
    if (counts == 0).any():
        empty = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"clusters {empty} have no points in y")
    means = sums / counts.unsqueeze(1)
    if (means.norm(dim=1) < 1e-12).any():
        raise ValueError("a cluster mean is the zero vector; its direction is undefined")
    return F.normalize(means, dim=1).to(z.dtype if z.is_floating_point() else torch.float32)


def nn_angle_gaps(centres: Tensor) -> dict[str, Any]:
    """Nearest-neighbour angle gaps of ``K`` directions, in degrees (paper Table 2).

    For each row of ``centres [K, D]`` (normalised here), the angle to its nearest *other* row; then
    over the ``K`` rows: ``mean``, ``min``, ``max`` and ``sd`` — the **sample** standard deviation
    (``ddof = 1``; the paper does not say which). Rotation invariant. Also returned: ``per_centre``
    (list of the ``K`` angles). For 5 centres on S^2 the best mean is
    :data:`MEAN_NN_ANGLE_OPTIMUM_5` (90.72); the Thomson configuration gives 90 (module docstring).
    """
    c = _as_2d(centres, "centres")
    if c.shape[0] < 2:
        raise ValueError(f"centres needs at least 2 rows to have nearest neighbours, got {c.shape[0]}")
    c = F.normalize(c.detach().to("cpu", torch.float64), dim=1)
    ang = torch.rad2deg(torch.arccos((c @ c.T).clamp(-1.0, 1.0)))
    ang.fill_diagonal_(float("inf"))
    nn_ang = ang.min(dim=1).values
    return {
        "mean": float(nn_ang.mean()),
        "min": float(nn_ang.min()),
        "max": float(nn_ang.max()),
        "sd": float(nn_ang.std(unbiased=True)) if nn_ang.numel() > 1 else 0.0,
        "per_centre": nn_ang.tolist(),
    }
