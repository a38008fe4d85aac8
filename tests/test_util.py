"""The shared helpers: atomic writes, device resolution, provenance, the frozen-module context."""

import pytest
import torch
from torch import nn

from mi_ssl.util import atomic_write, evaluating, provenance, resolve_device


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "f.txt"
    atomic_write(path, lambda p: p.write_text("old"))
    with pytest.raises(RuntimeError):
        atomic_write(path, lambda p: (p.write_text("half"), (_ for _ in ()).throw(RuntimeError("boom"))))
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_resolve_device_names_the_parameter():
    assert resolve_device("cpu") == torch.device("cpu") == resolve_device(torch.device("cpu"))
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="probe_device='gpu' is not a device"):
        resolve_device("gpu", "probe_device")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")


def test_provenance_states_device_torch_and_commit():
    p = provenance("cpu", world_size=2)
    assert p["device"] == "cpu" and p["torch"] == torch.__version__ and p["world_size"] == 2
    assert isinstance(p["commit"], str) and p["commit"]
    assert p["cpu"].endswith(f"({torch.backends.cpu.get_cpu_capability()})") and len(p["cpu"]) > 3


def test_evaluating_freezes_and_restores_each_modules_mode():
    a, b = nn.BatchNorm1d(3), nn.BatchNorm1d(3).eval()
    with evaluating(a, b):
        assert not a.training and not b.training and not torch.is_grad_enabled()
        a(torch.randn(4, 3))
    assert a.training and not b.training                                # each back to its own mode
    assert torch.equal(a.running_mean, torch.zeros(3))                  # eval mode: statistics untouched
    with pytest.raises(KeyError), evaluating(a):
        raise KeyError("inside")
    assert a.training                                                   # restored after an error too
