"""Experiment files and overrides: the lab's settings, typed overrides, errors for unknown keys."""

import re

import pytest

from mnistlab import config
from mnistlab.errors import ConfigError

LAB = {
    # name: (dataset, model, epochs, batch_size, validation, loss)
    "ex1": ("mnist", "dense", 5, 32, "test", "sparse_categorical_crossentropy"),
    "ex2.ann": ("fashion_mnist", "dense", 10, 128, "split", "categorical_crossentropy"),
    "ex2.activations": ("fashion_mnist", "dense", 5, 128, "split", "categorical_crossentropy"),
    "ex2.cnn": ("fashion_mnist", "cnn", 10, 128, "split", "categorical_crossentropy"),
    "ex2.augment": ("fashion_mnist", "cnn", 10, 128, "test", "categorical_crossentropy"),
}


def test_every_step_of_the_lab_in_order():
    from mnistlab.lab import plan

    assert config.names() == list(plan.step_names())  # the plan's order, and the lab's six steps first
    assert config.names()[:6] == ["ex1", "ex2.ann", "ex2.activations", "ex2.cnn", "ex2.confusion", "ex2.augment"]


@pytest.mark.parametrize("name", sorted(LAB))
def test_experiment_files_hold_the_labs_settings(name):
    e = config.load(name)
    assert (e.dataset, e.model, e.epochs, e.batch_size, e.validation, e.loss) == LAB[name]
    assert e.optimizer == "adam" and e.learning_rate == 0.001 and e.seed == 42
    if e.validation == "split":
        assert e.validation_split == 0.2


def test_lab_specific_settings():
    assert config.load("ex1").hidden_units == [128]
    ann = config.load("ex2.ann")
    assert ann.hidden_units == [128, 64] and ann.dropout == [0.2, 0.0] and ann.samples_grid == [3, 3]
    act = config.load("ex2.activations")
    assert act.activations == ["sigmoid", "tanh", "relu", "leaky_relu"] and act.dropout == [0.0, 0.0]
    assert act.leaky_relu_slope == 0.1
    cnn = config.load("ex2.cnn")
    assert cnn.conv_filters == [32, 64] and cnn.kernel_size == 3 and cnn.dropout == [0.3]
    aug = config.load("ex2.augment")
    assert (aug.rotation_degrees, aug.zoom, aug.horizontal_flip, aug.from_step) == (10.0, 0.1, True, "ex2.cnn")
    assert config.load("ex2.confusion").from_step == "ex2.cnn"


def test_every_experiment_file_header_says_how_to_run_it():
    for path in config.experiments_dir().glob("*.toml"):
        head = path.read_text(encoding="utf-8")
        assert f"# Run:      mnistlab run {path.stem}" in head and "# Expect:" in head


@pytest.mark.parametrize("text,key,value", [
    ("epochs=50", "epochs", 50),
    ("learning_rate=1e-3", "learning_rate", 0.001),
    ("learning_rate=1", "learning_rate", 1.0),
    ("horizontal_flip=false", "horizontal_flip", False),
    ("hidden_units=[256, 128]", "hidden_units", [256, 128]),
    ("activation=tanh", "activation", "tanh"),
    ("activation='tanh'", "activation", "tanh"),
    ("ex2.cnn.epochs=3", "ex2.cnn.epochs", 3),
    ("convs_per_block=2", "convs_per_block", [2]),  # one count for every block
    ("convs_per_block=[1, 2, 2]", "convs_per_block", [1, 2, 2]),
])
def test_overrides_are_typed(text, key, value):
    assert config.parse_overrides([text]) == {key: value}


def test_override_applies():
    e = config.load("ex2.ann", config.parse_overrides(["epochs=50", "batch_size=64"]))
    assert (e.epochs, e.batch_size) == (50, 64)


def test_scoped_override_applies_to_one_experiment():
    ov = config.parse_overrides(["ex2.cnn.epochs=3"])
    assert config.load("ex2.cnn", ov).epochs == 3
    assert config.load("ex2.ann", ov).epochs == 10


@pytest.mark.parametrize("text,message", [
    ("epoch=3", "unknown key 'epoch' (did you mean 'epochs'?)"),
    ("epochs=many", "epochs must be an integer"),
    ("epochs=2.5", "epochs must be an integer"),
    ("learning_rate=fast", "learning_rate must be a number"),
    ("horizontal_flip=1", "horizontal_flip must be true or false"),
    ("activation=swish", "activation must be one of"),
    ("hidden_units=128", "hidden_units must be a list"),
    ("hidden_units=[1.5]", "a list of integers"),
    ("epochs", "expected key=value"),
    ("name=x", "unknown key 'name'"),
    ("ex9.epochs=3", "no experiment named 'ex9'"),
])
def test_bad_overrides_are_errors(text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config.parse_overrides([text])


@pytest.mark.parametrize("overrides,message", [
    (["epochs=0"], "epochs must be at least 1"),
    (["validation_split=1.5"], "validation_split must be between 0 and 1"),
    (["learning_rate=-1"], "learning_rate must be positive"),
    (["hidden_units=[128, 64, 32]"], "dropout needs one rate per hidden layer"),
    (["train_limit=-5"], "train_limit must be 0 or a positive count"),
    (["steps_per_execution=-1"], "steps_per_execution must be 0 or a positive count"),
    (["precision=fp16"], "precision must be one of auto, float32, bf16"),
])
def test_values_are_validated(overrides, message):
    with pytest.raises(ConfigError, match=message):
        config.load("ex2.ann", config.parse_overrides(overrides))


@pytest.mark.parametrize("overrides,message", [
    (["convs_per_block=0"], "convs_per_block must be one count (at least 1) or one per conv_filters entry (3)"),
    (["convs_per_block=[1, 2]"], "one per conv_filters entry (3), got [1, 2]"),
    (["convs_per_block=[1, 0, 2]"], "got [1, 0, 2]"),
    (["block_dropout=1.0"], "block_dropout must be in [0, 1)"),
    (["warmup_fraction=0"], "warmup_fraction must be between 0 and 1, got 0.0"),
    (["label_smoothing=1"], "label_smoothing must be in [0, 1)"),
    (["label_smoothing=0.1", "loss=sparse_categorical_crossentropy"],
     "label_smoothing needs loss = \"categorical_crossentropy\""),
    (["lr_schedule=linear"], "lr_schedule must be one of constant, cosine, one_cycle"),
])
def test_block_settings_are_validated(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config.load("improved.fashion_mnist", config.parse_overrides(overrides))


def test_convs_per_block_one_count_or_one_per_block():
    assert config.load("improved.mnist").block_convs == [1, 1, 1]
    e = config.load("improved.mnist", config.parse_overrides(["convs_per_block=[1, 2, 3]"]))
    assert e.block_convs == [1, 2, 3]
    # manifests written before the list form hold a bare count
    assert config.Experiment(convs_per_block=2, conv_filters=[8, 16]).block_convs == [2, 2]


def test_bad_experiment_file(tmp_path):
    bad = tmp_path / "x.toml"
    bad.write_text('epochs = "five"\n')
    with pytest.raises(ConfigError, match=r"x\.toml: epochs must be an integer"):
        config.load(bad)
    bad.write_text("epochs = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(bad)
    bad.write_text("colour = 3\n")
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        config.load(bad)


def test_select():
    assert config.select(None) == config.names()
    assert config.select(["ex2"]) == [n for n in config.names() if n.startswith("ex2.")]
    assert config.select(["ex2.cnn", "ex1"]) == ["ex1", "ex2.cnn"]
    with pytest.raises(ConfigError, match="did you mean 'ex2.cnn'"):
        config.select(["ex2.cn"])
