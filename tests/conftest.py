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
