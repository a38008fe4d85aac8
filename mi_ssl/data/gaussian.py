"""The paper's toy data set: a mixture of five isotropic Gaussians on the unit circle (Section 4.2).

Means ``mu_k = (cos 2 pi k/5, sin 2 pi k/5)`` (:func:`cluster_means`), ``x ~ N(mu_k, sigma^2 I)`` with
``sigma = 0.05``, 500 points per cluster (2,500 in all), and a separate validation set of the same size.
Two views are made by adding independent ``N(0, tau^2 I)`` noise with ``tau = 0.1``
(:class:`~mi_ssl.data.augment.NoiseAugment`).
"""

from __future__ import annotations

import math

import torch

from .base import SSLData

N_CLUSTERS = 5
SIGMA = 0.05
VIEW_NOISE = 0.1
PER_CLUSTER = 500


def cluster_means(k: int = N_CLUSTERS) -> torch.Tensor:
    """``[k, 2]`` true means of the mixture, evenly spaced on the unit circle: ``mu_k`` for ``k = 1..K`` as in
    the paper. (The centres of *embedded* clusters are :func:`mi_ssl.evaluation.cluster_centres`.)"""
    angles = 2 * math.pi * torch.arange(1, k + 1, dtype=torch.float64) / k
    return torch.stack([angles.cos(), angles.sin()], dim=1).float()


def sample_mixture(per_cluster: int, sigma: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x [K*per_cluster, 2], y [K*per_cluster])`` drawn from the mixture, cluster by cluster."""
    mu = cluster_means()
    y = torch.arange(N_CLUSTERS).repeat_interleave(per_cluster)
    x = mu[y] + sigma * torch.randn(len(y), 2, generator=generator)
    return x, y


def load_gaussian(seed: int = 0, per_cluster: int = PER_CLUSTER, sigma: float = SIGMA) -> SSLData:
    """Train and validation sets of the toy mixture (each ``5 * per_cluster`` points), seeded."""
    if per_cluster < 1:
        raise ValueError(f"per_cluster must be >= 1, got {per_cluster}")
    g = torch.Generator().manual_seed(seed)
    train_x, train_y = sample_mixture(per_cluster, sigma, g)
    test_x, test_y = sample_mixture(per_cluster, sigma, g)
    return SSLData("gaussian", "vector", train_x, train_y, test_x, test_y, N_CLUSTERS,
                   source=f"generated: 5-cluster mixture, sigma={sigma}, seed={seed}")

