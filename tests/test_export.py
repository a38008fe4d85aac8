"""`mi-ssl export`: a run's backbone as a plain state_dict + sidecar; it loads back (into torchvision for the
ResNets) and gives the same features as the trained encoder."""

import json

import pytest
import torch
import torchvision
from torch import nn

import mi_ssl
from mi_ssl.cli import main
from mi_ssl.data import load_dataset
from mi_ssl.data.base import SSLData
from mi_ssl.export import export_backbone, load_backbone, sidecar_path
from mi_ssl.training import fit, make_config


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A tiny SDMI run on digits (two encoders, f and g)."""
    out = tmp_path_factory.mktemp("runs") / "sdmi-digits"
    data = load_dataset("digits").subset(256, 64, seed=0)
    cfg = make_config("sdmi", "digits", epochs=1, batch_size=64, device="cpu", track_every=0)
    res = fit(cfg, data, out=out, progress=False)
    return out, res, data


def test_export_then_load_gives_the_trained_features(digits_run, tmp_path, capsys):
    run, res, data = digits_run
    x = data.to_float(data.test_x)
    for enc in ("f", "g"):
        file = tmp_path / f"{enc}.pt"
        assert main(["export", "--run", str(run), "--encoder", enc, "--out", str(file)]) == 0
        line = capsys.readouterr().out.strip()
        assert line == f"sdmi/digits encoder {enc}: digits_cnn backbone, 128 features -> {file} (+ {enc}.pt.json)"
        trained = res.learner.encoders()[enc].backbone.eval()
        with torch.no_grad():
            expected = trained(x)
            got = mi_ssl.load_backbone(file)(x)
        assert torch.equal(got, expected)
        weights = torch.load(file, weights_only=True)                 # plain tensors only
        assert set(weights) == set(trained.state_dict()) and all(isinstance(v, torch.Tensor) for v in weights.values())
    f, g = (torch.load(tmp_path / f"{e}.pt", weights_only=True) for e in ("f", "g"))
    assert not torch.equal(f["net.0.weight"], g["net.0.weight"])      # two independently trained encoders


def test_sidecar_names_what_is_needed(digits_run, tmp_path):
    run, res, _ = digits_run
    file = export_backbone(run, tmp_path / "sub" / "f.pt")
    side = json.loads(sidecar_path(file).read_text())
    summary = json.loads((run / "summary.json").read_text())
    assert side["backbone"] == "digits_cnn" and side["backbone_kwargs"] == {} and side["feature_dim"] == 128
    assert side["input"]["shape"] == [1, 8, 8]
    assert side["input"]["mean"] == [0.3053] and side["input"]["std"] == [0.3758]
    assert side["torchvision"] is None
    assert side["config"]["method"] == "sdmi" and side["config"]["epochs"] == 1 and side["epochs_trained"] == 1
    assert side["trained_commit"] == summary["provenance"]["commit"]
    assert side["exported_commit"]


def test_resnet18_export_loads_into_plain_torchvision(tmp_path):
    """A CIFAR-shaped ResNet-18 (one step on random images): the file loads, strictly and with weights_only,
    into torchvision's resnet18 modified only as the sidecar says, and gives the trained features."""
    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (24, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.zeros(24, dtype=torch.int64)
    data = SSLData("cifar10", "image", imgs[:16], labels[:16], imgs[16:], labels[16:], 10,
                   mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616))
    cfg = make_config("jmi", "cifar10", epochs=1, batch_size=16, device="cpu", track_every=0,
                      proj_hidden=64, proj_dim=32)
    res = fit(cfg, data, out=tmp_path / "run", progress=False)
    file = export_backbone(tmp_path / "run", tmp_path / "r18.pt")
    side = json.loads(sidecar_path(file).read_text())
    tv = side["torchvision"]
    assert tv["constructor"] == "torchvision.models.resnet18" and side["backbone_kwargs"] == {"small_images": True}

    net = torchvision.models.resnet18(weights=None)
    c = tv["conv1"]
    net.conv1 = nn.Conv2d(c["in_channels"], c["out_channels"], c["kernel_size"], c["stride"], c["padding"],
                          bias=c["bias"])
    assert tv["maxpool"] == "Identity" and tv["fc"] == "Identity"
    net.maxpool, net.fc = nn.Identity(), nn.Identity()
    net.load_state_dict(torch.load(file, weights_only=True), strict=True)
    net.eval()

    mean = torch.tensor(side["input"]["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(side["input"]["std"]).view(1, 3, 1, 1)
    x = (imgs[16:].float() / 255 - mean) / std                     # the sidecar's preprocessing, by hand
    with torch.no_grad():
        expected = res.learner.encoders()["f"].backbone.eval()(data.to_float(imgs[16:]))
        assert torch.allclose(net(x), expected, atol=1e-5, rtol=1e-5)
        assert torch.equal(load_backbone(file)(x), net(x))
    assert expected.shape == (8, side["feature_dim"]) == (8, 512)


def test_bad_run_encoder_and_out_are_one_line_errors(digits_run, tmp_path, capsys):
    run, _, _ = digits_run
    jmi = tmp_path / "jmi"
    fit(make_config("jmi", "gaussian", epochs=1, batch_size=500, device="cpu", track_every=0), out=jmi,
        progress=False)
    cases = [
        (["--run", str(tmp_path / "nope")], "--run " + str(tmp_path / "nope") + ": not a directory"),
        (["--run", str(tmp_path)], "no checkpoint at"),
        (["--run", str(jmi), "--encoder", "g"], "--encoder 'g' is not an encoder of this run (jmi has f); allowed: f"),
        (["--run", str(run), "--encoder", "h"], "allowed: f, g"),
    ]
    for args, message in cases:
        assert main(["export", *args, "--out", str(tmp_path / "x.pt")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("mi-ssl export: error: ") and message in err and err.count("\n") == 1, err
    assert main(["export", "--run", str(run), "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_load_backbone_names_a_bad_file(digits_run, tmp_path):
    run, _, _ = digits_run
    file = export_backbone(run, tmp_path / "f.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(file.read_bytes()[:100])                        # truncated
    sidecar_path(bad).write_text(sidecar_path(file).read_text())
    with pytest.raises(ValueError, match=r"bad.pt: not a state_dict written by `mi-ssl export`"):
        load_backbone(bad)
    with pytest.raises(FileNotFoundError, match=r"nothing.pt: not found"):
        load_backbone(tmp_path / "nothing.pt")
    sidecar_path(bad).write_text("{}")
    with pytest.raises(ValueError, match="not an export sidecar"):
        load_backbone(bad)
