"""The registry: names, taxonomy derived from configuration agrees with the paper's Table 7."""

import pytest

from mi_ssl import methods as M

DESIGN_NAMES = {"sdmi", "jmi", "simsiam", "byol", "mocov3", "simclr", "barlow_twins", "vicreg", "emi",
                "sdmi_nodv", "sdmi_nodv_pred", "simsiam_nopred", "simsiam_sdmi"}


def test_every_design_name_is_registered():
    assert set(M.METHODS) == DESIGN_NAMES
    assert set(M.ABLATIONS) == {"sdmi_nodv", "sdmi_nodv_pred", "simsiam_nopred", "simsiam_sdmi"}


@pytest.mark.parametrize("name", [n for n, m in M.METHODS.items() if m.table7])
def test_taxonomy_agrees_with_table7(name):
    m = M.METHODS[name]
    assert (m.em_or_joint, m.objective_type, m.paradigm) == M.PAPER_TABLE7[m.table7]


def test_prototypes_and_ablations_are_placed_as_the_paper_says():
    assert M.METHODS["sdmi"].paradigm == "SDMI" and M.METHODS["sdmi"].objective_type == "Explicit MI"
    assert M.METHODS["jmi"].paradigm == "JMI" and M.METHODS["jmi"].objective_type == "Explicit MI"
    assert M.METHODS["emi"].paradigm == "JMI" and M.METHODS["emi"].objective_type == "Explicit MI"
    assert M.METHODS["sdmi_nodv"].objective == "joint_only"
    assert M.METHODS["sdmi_nodv_pred"].predictor == "both"
    assert M.METHODS["simsiam_nopred"].predictor == "none"
    assert M.METHODS["simsiam_sdmi"].objective == "cos_dv" and M.METHODS["simsiam_sdmi"].update == "copy"


def test_invalid_configurations_are_refused():
    with pytest.raises(ValueError, match="no predictor"):
        M.Method(name="x", title="x", objective="cos_dv", update="joint", predictor="online")
    with pytest.raises(ValueError, match="two encoders"):
        M.Method(name="x", title="x", objective="cos_dv", update="ema", predictor="both")


def test_unknown_names_list_what_is_allowed():
    with pytest.raises(ValueError, match="allowed: sdmi, jmi"):
        M.get_method("dino")
    with pytest.raises(ValueError, match="allowed: .*cifar10"):
        M.hyperparameters("jmi", "mnist")


def test_paper_hyperparameters_are_tables_5_and_6():
    hp = M.hyperparameters("sdmi", "cifar100", "paper")
    assert (hp["lr"], hp["weight_decay"], hp["tau"], hp["proj_dim"], hp["proj_layers"]) == (0.03, 5e-4, 0.1, 256, 2)
    assert hp["batch_size"] == 512 and hp["proj_hidden"] == 2048 and hp["epochs"] == 1000
    assert M.hyperparameters("simclr", "cifar10", "paper")["proj_dim"] == 128
    assert M.hyperparameters("byol", "cifar10", "paper")["momentum"] == 0.996
    assert M.hyperparameters("sdmi", "imagenet100", "paper")["batch_size"] == 64
    assert M.hyperparameters("jmi", "imagenet100", "paper")["batch_size"] == 256
    tiny = M.hyperparameters("vicreg", "tinyimagenet", "paper")
    assert (tiny["epochs"], tiny["warmup_epochs"], tiny["backbone"]) == (1000, 5, "resnet18")
    with pytest.raises(ValueError, match="profile 'paper' has no settings"):
        M.hyperparameters("jmi", "gaussian", "paper")
