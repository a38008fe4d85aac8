"""Shared test set-up."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small tensors: one torch thread is fastest and avoids oversubscribing a shared 2-core machine.

    The book's notebooks run in their own kernels and are not affected.
    """
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def random_joint_cov():
    """Factory ``(d, seed) -> [2d, 2d]`` numpy covariance ``A A^T / 2d + 0.2 I`` (well conditioned, seeded)."""
    import numpy as np

    def make(d: int, seed: int):
        a = np.random.default_rng(seed).normal(size=(2 * d, 2 * d))
        return a @ a.T / (2 * d) + 0.2 * np.eye(2 * d)

    return make
