"""mnistlab.lab: the lab as data, its code filled only with validated values (milliseconds, no training)."""

import ast
import re

import pytest

from mnistlab import config, lab
from mnistlab.errors import ConfigError, MnistlabError
from mnistlab.lab import plan
from mnistlab.notebook import answers
from mnistlab.report import code

LAB_LINES = [  # lines of the lab's own code that the listing must keep as written
    'print("TensorFlow version:", tf.__version__)',
    "x_train = x_train / 255.0",
    "plt.imshow(x_train[i], cmap='gray')",
    "model.summary()",
    "test_loss, test_acc = model.evaluate(x_test, y_test)",
    "plt.plot(history.history['val_accuracy'], label='Précision validation')",
    "predictions = model.predict(x_test)",
    'plt.title(f"Vrai: {y_test[i]}\\nPrédit: {np.argmax(predictions[i])}")',
    "y_train_cat = to_categorical(y_train, 10)",
    "results[act] = h.history['val_accuracy'][-1]",
    "results['LeakyReLU'] = h.history['val_accuracy'][-1]",
    "plt.bar(results.keys(), results.values())",
    "X_train_cnn = X_train.reshape(-1, 28, 28, 1)",
    "Conv2D(32, (3,3), activation='relu'),",
    "y_pred = np.argmax(cnn.predict(X_test_cnn), axis=1)",
    'ConfusionMatrixDisplay.from_predictions(y_test, y_pred, cmap="Blues")',
    "from tensorflow.keras.preprocessing.image import ImageDataGenerator",
    "datagen.flow(X_train_cnn, y_train_cat, batch_size=128),",
    "keras.utils.set_random_seed(42)",
    "tf.config.experimental.enable_op_determinism()",
]


def test_the_whole_lab_is_one_program_in_the_labs_order():
    src = lab.program({})
    ast.parse(src)
    positions = [src.index(line) for line in LAB_LINES[:-2]]
    assert positions == sorted(positions)
    for line in LAB_LINES:
        assert line in src, line
    assert "epochs=5," in src and "batch_size=32," in src and "validation_data=(x_test, y_test)" in src
    assert "rotation_range=10.0," in src and "zoom_range=0.1," in src and "horizontal_flip=True" in src
    assert "DATA_DIR" not in src and "load_idx" not in src  # data load exactly as the lab does


def test_sections_and_questions_match_the_report():
    cells = lab.cells({})
    sections = list(dict.fromkeys(c.section for c in cells))
    ids = [f"ex1.{i}" for i in range(1, 10)] + [f"ex2.{i}" for i in range(1, 8)]
    assert [s for s in sections if s in ids] == ids
    assert sections[-1] == "travail"
    keys = [c.name for c in cells if c.question]
    assert keys == [q["key"] for qs in answers.questions("fr").values() for q in qs]
    for c in cells:
        if c.kind == "code":
            ast.parse(c.source)
            assert not re.search(r"^\s*(import|from)\s+mnistlab", c.source, re.M), c.name


def test_settings_reach_the_code_and_steps_bring_their_needs():
    src = lab.program({"ex1": {"epochs": 7, "batch_size": 64, "learning_rate": 3e-4, "train_limit": 600}},
                      steps=["ex1"])
    assert "epochs=7," in src and "batch_size=64," in src
    assert "optimizer=tf.keras.optimizers.Adam(learning_rate=0.0003)," in src
    assert "x_train, y_train = x_train[:600], y_train[:600]" in src
    assert "fashion_mnist" not in src
    assert lab.steps_for(["ex2.confusion"]) == ["ex2.ann", "ex2.cnn", "ex2.confusion"]
    assert "ImageDataGenerator" not in lab.program({}, steps=["ex2.confusion"])


@pytest.mark.parametrize("configs", [
    {"ex1": {"epochs": "1)\n__import__('os').system('echo pwned')"}},
    {"ex1": {"activation": "relu'), __import__('os').system('echo pwned'), ('"}},
    {"ex2.activations": {"activations": ["relu", "x'] + __import__('os').system('echo pwned') + ['"]}},
    {"ex1": {"loss": "mse\nimport os"}},
    {"ex1": {"hidden_units": ["128), Lambda(lambda x: x"]}},
    {"ex1": {"samples_grid": [2, "5); import os; ("]}},
    {"ex1": {"no_such_key": 1}},
    {"ex1": {"model": "cnn_bn"}},
    {"ex2.cnn": {"lr_schedule": "cosine"}},
    {"ex1": ["not", "a", "mapping"]},
])
def test_a_crafted_config_value_never_becomes_code(configs):
    with pytest.raises(ConfigError):
        lab.program(configs)


def test_strings_that_reach_the_code_are_literals():
    crafted = "/tmp/x'\n__import__('os').system('echo pwned')\n'"
    src = lab.program({"ex1": {"title": "T\nimport os", "seed": 7}}, data_dir=crafted)
    tree = ast.parse(src)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "system"]
    assert not calls and "T\nimport os" not in src and "/tmp/x" not in src  # no data folder ever enters the code
    assert "keras.utils.set_random_seed(7)" in src
    assert "mnist.load_data()" in src and "fashion_mnist.load_data()" in src


def test_only_french():
    with pytest.raises(MnistlabError):
        lab.cells({}, "en")


@pytest.mark.parametrize("name", config.names(extended=True, on_demand=True))
def test_report_code_of_every_experiment_compiles(name):
    exp = config.load(name)
    src = code.generate(exp, "fr")
    ast.parse(src)
    if src.startswith(f"# {name} "):  # settings the lab's code does not write: the comment says which
        assert name not in plan.step_names() and "experiments/" in src, name
    else:  # the code of the lab step it runs, with its settings
        assert code.base_step(exp) is not None, name
        assert f"{code.model_variable(exp)}" in src and "load_data()" in src, name


def test_report_listing_is_the_notebooks_code():
    configs = {n: config.load(n).to_dict() for n in plan.step_names()}
    assert code.listing(configs) == lab.program(configs)


@pytest.mark.parametrize("text, message", [
    ("@section a | A\n@code a.x\nprint(1)\n", "must be followed by its code"),
    ("@section a | A\n@code a.x\n```python\nprint(1)\n", "no closing"),
    ("@section a | A\n@code a.x | x X\n```python\nprint(1)\n```\n", "attributes are `name = value`"),
    ("@section a | A\n@code a.x\n```python\n1\n```\n@part a.x\n```python\n2\n```\n", "appears twice"),
    ("@section a | A\n@figure a.x\n", "unknown directive @figure"),
])
def test_a_malformed_lab_text_is_refused_with_one_line(text, message):
    with pytest.raises(MnistlabError, match=message):
        lab._parse_text(text)


def test_the_lab_text_holds_code_in_fences_with_attributes():
    parsed = lab._parse_text("@section a | A\nSome text.\n@code a.fit | x_test = X_test_cnn, x = X\n```python\n"
                             "@decorated = 1\n$validation\n```\nMore text.\n@part a.leaky\n```python\nleaky\n```\n")
    assert parsed.sections == [("a", "A", [("text", "", "Some text."), ("code", "a.fit", ""),
                                           ("text", "", "More text.")])]
    assert parsed.templates == {"a.fit": "@decorated = 1\n$validation", "a.leaky": "leaky"}
    assert parsed.attributes == {"a.fit": {"x_test": "X_test_cnn", "x": "X"}, "a.leaky": {}}
