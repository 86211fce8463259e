"""Models: parameter counts pin the lab's architectures; every registered family builds and runs."""

import numpy as np
import pytest

from mnistlab import config, models


@pytest.mark.parametrize("name,params", [("ex1", 101_770), ("ex2.ann", 109_386), ("ex2.cnn", 225_034)])
def test_lab_parameter_counts(name, params):
    assert models.build(config.load(name)).count_params() == params


def test_ex1_layers_match_the_lab():
    m = models.build(config.load("ex1"))
    assert [type(layer).__name__ for layer in m.layers] == ["Flatten", "Dense", "Dense"]
    assert m.layers[1].units == 128 and m.layers[1].activation.__name__ == "relu"
    assert m.layers[2].units == 10 and m.layers[2].activation.__name__ == "softmax"


def test_ann_has_dropout_after_first_dense_only():
    m = models.build(config.load("ex2.ann"))
    assert [type(layer).__name__ for layer in m.layers] == ["Flatten", "Dense", "Dropout", "Dense", "Dense"]
    assert m.layers[2].rate == 0.2


def test_cnn_layers_match_the_lab():
    m = models.build(config.load("ex2.cnn"))
    assert [type(layer).__name__ for layer in m.layers] == [
        "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout", "Dense"]
    assert m.layers[6].rate == 0.3


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "leaky_relu"])
def test_activation_study_models(act):
    m = models.build(config.load("ex2.activations"), activation=act)
    assert m.count_params() == 109_386  # activations add no weights
    kinds = [type(layer).__name__ for layer in m.layers]
    assert "Dropout" not in kinds
    if act == "leaky_relu":
        assert kinds == ["Flatten", "Dense", "LeakyReLU", "Dense", "LeakyReLU", "Dense"]
        assert m.layers[2].negative_slope == pytest.approx(0.1)
    else:
        assert m.layers[1].activation.__name__ == act


@pytest.mark.parametrize("family", models.FAMILIES)
def test_every_family_builds_and_predicts_probabilities(family):
    e = config.load("ex2.cnn" if family == "cnn" else "ex1")
    m = models.build(e)
    x = np.random.default_rng(0).random((3, *models.input_shape(e)), dtype=np.float32)
    p = np.asarray(m(x))
    assert p.shape == (3, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_improved_experiments_run_only_when_named():
    from mnistlab import config

    assert not any(n.startswith("improved") for n in config.names())
    assert not any(n.startswith("improved") for n in config.select(None, extended=True))
    assert config.select(["improved"]) == ["improved.mnist", "improved.fashion_mnist"]
    for name in ("improved.mnist", "improved.fashion_mnist"):
        e = config.load(name)
        assert e.validation == "split" and e.augment and e.model == "cnn_bn"
        m = models.build(e)
        kinds = {type(layer).__name__ for layer in m.layers}
        assert {"Conv2D", "BatchNormalization", "MaxPooling2D", "Dense"} <= kinds
    assert not config.load("improved.mnist").horizontal_flip  # a mirrored 2 is not a 2


def test_cnn_bn_blocks_have_their_own_conv_counts():
    e = config.load("improved.mnist", config.parse_overrides(["conv_filters=[8, 16, 32]",
                                                               "convs_per_block=[1, 2, 3]"]))
    convs = [layer.filters for layer in models.build(e).layers if type(layer).__name__ == "Conv2D"]
    assert convs == [8, 16, 16, 32, 32, 32]
