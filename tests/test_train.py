"""Training paths: the fast path and the lab's own path compute the same things."""

import json

import keras
import numpy as np
import pytest

from mnistlab import cli, config, models
from mnistlab.data import sources
from mnistlab.data.pipeline import batches
from mnistlab.train import EVAL_BATCH, compile_model, learning_rate, loss, set_precision, steps_per_execution

QUICK = ["--set", "epochs=1", "--set", "train_limit=600", "--set", "test_limit=200"]


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy",
                                  "mean_squared_error"])
def test_evaluation_in_large_batches_gives_the_labs_numbers(loss):
    """The fast path evaluates in batches of 1000 from tf.data; the lab calls evaluate(x, y) (batch 32)."""
    exp = config.load("ex1", {"loss": loss})
    keras.utils.set_random_seed(0)
    model = compile_model(models.build(exp), exp)
    rng = np.random.default_rng(0)
    x = rng.random((3000, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, 3000)
    y = labels if loss.startswith("sparse") else np.eye(10, dtype=np.float32)[labels]
    lab_loss, lab_acc = model.evaluate(x, y, verbose=0)
    fast_loss, fast_acc = model.evaluate(batches(x, y, EVAL_BATCH), verbose=0)
    assert fast_loss == pytest.approx(lab_loss, rel=1e-5) and fast_acc == pytest.approx(lab_acc)


def test_steps_per_execution():
    assert steps_per_execution(config.load("ex1")) == 64
    assert steps_per_execution(config.load("ex2.cnn")) == 1
    assert steps_per_execution(config.load("ex1", {"faithful": True})) == 1
    assert steps_per_execution(config.load("ex1", {"steps_per_execution": 5})) == 5


def test_one_cycle_rises_to_its_peak_then_decays_to_zero():
    exp = config.load("improved.mnist", {"lr_schedule": "one_cycle", "learning_rate": 0.01, "epochs": 5,
                                         "warmup_fraction": 0.2})
    schedule = learning_rate(exp, steps_per_epoch=100)  # 500 steps, 100 of warm-up
    lr = [float(schedule(step)) for step in (0, 50, 100, 300, 500)]
    assert lr[0] == pytest.approx(0.001) and lr[1] == pytest.approx(0.0055)
    assert lr[2] == pytest.approx(0.01) and lr[3] == pytest.approx(0.005) and lr[4] == pytest.approx(0.0, abs=1e-9)
    cosine = learning_rate(config.load("improved.mnist", {"lr_schedule": "cosine", "learning_rate": 0.01}), 100)
    assert float(cosine(0)) == pytest.approx(0.01)
    assert learning_rate(config.load("ex1")) == 0.001


def test_label_smoothing_trains_on_soft_targets():
    exp = config.load("improved.fashion_mnist", {"label_smoothing": 0.1})
    y = np.eye(10, dtype=np.float32)[[3]]
    p = np.full((1, 10), 0.1, dtype=np.float32)
    assert float(loss(exp)(y, p)) == pytest.approx(-np.log(0.1))  # uniform prediction: any targets, -log 0.1
    sure = np.eye(10, dtype=np.float32)[[3]] * 0.999 + 0.0001
    assert float(loss(exp)(y, sure)) > float(keras.losses.CategoricalCrossentropy()(y, sure)) + 0.5
    assert loss(config.load("ex1")) == "sparse_categorical_crossentropy"


def test_bf16_keeps_the_softmax_in_float32():
    exp = config.load("ex2.cnn", {"precision": "bf16"})
    try:
        set_precision(exp)
        m = models.build(exp)
        assert m.layers[0].compute_dtype == "bfloat16" and m.layers[-1].compute_dtype == "float32"
        assert m.count_params() == 225_034
    finally:
        set_precision(config.load("ex2.cnn"))
    assert models.build(config.load("ex2.cnn")).layers[0].compute_dtype == "float32"


@pytest.mark.slow
def test_faithful_path_runs_the_labs_calls(tmp_path, shared_datasets):
    """--faithful: fit(validation_split=...) and ImageDataGenerator, on slices."""
    out = tmp_path / "faithful"
    assert cli.main(["run", "ex2.augment", "--faithful", "--out", str(out), "--data", str(shared_datasets),
                     *QUICK]) == 0
    cnn = json.loads((out / "ex2.cnn" / "metrics.json").read_text())
    assert cnn["n_train"] == 480 and cnn["n_validation"] == 120 and cnn["epochs_run"] == 1
    assert json.loads((out / "ex2.augment" / "config.json").read_text())["faithful"] is True
    assert json.loads((out / "ex2.augment" / "metrics.json").read_text())["epochs_run"] == 1


@pytest.mark.slow
def test_fast_and_faithful_give_the_same_validation_set(tmp_path, shared_datasets):
    """Both paths validate on the same images: the last 20% of the (sliced) training set."""
    sizes = []
    for flag in ([], ["--faithful"]):
        out = tmp_path / ("f" if flag else "x")
        assert cli.main(["run", "ex2.ann", *flag, "--out", str(out), "--data", str(shared_datasets), *QUICK]) == 0
        m = json.loads((out / "ex2.ann" / "metrics.json").read_text())
        sizes.append((m["n_train"], m["n_validation"], m["n_test"], m["params"]))
    assert sizes[0] == sizes[1] == (480, 120, 200, 109_386)


@pytest.mark.slow
def test_bf16_run(tmp_path, shared_datasets):
    out = tmp_path / "bf16"
    assert cli.main(["run", "ex2.cnn", "--precision", "bf16", "--out", str(out), "--data", str(shared_datasets),
                     *QUICK]) == 0
    m = json.loads((out / "ex2.cnn" / "metrics.json").read_text())
    assert m["params"] == 225_034 and 0.0 <= m["test_accuracy"] <= 1.0


def test_mirror_average_is_the_mean_of_both_views_and_scores_like_keras():
    from mnistlab.train import mirror_average, probability_scores

    exp = config.load("ex2.cnn")
    keras.utils.set_random_seed(0)
    model = compile_model(models.build(exp), exp)
    rng = np.random.default_rng(0)
    x = rng.random((50, 28, 28, 1), dtype=np.float32)
    labels = rng.integers(0, 10, 50)
    avg = mirror_average(model, x)
    expected = (model.predict(x, verbose=0) + model.predict(x[:, :, ::-1], verbose=0)) / 2
    np.testing.assert_allclose(avg, expected, rtol=1e-5, atol=1e-7)
    # an image symmetric left-right gets its single-view probabilities back
    sym = np.concatenate([x[:, :, :14], x[:, :, :14][:, :, ::-1]], axis=2)
    np.testing.assert_allclose(mirror_average(model, sym), model.predict(sym, verbose=0), rtol=1e-5, atol=1e-7)
    # accuracy and cross-entropy of given probabilities, as Keras computes them
    single = model.predict(x, verbose=0)
    keras_loss, keras_acc = model.evaluate(x, np.eye(10)[labels], verbose=0)
    acc, loss = probability_scores(single.astype(np.float64), labels)
    assert acc == pytest.approx(keras_acc) and loss == pytest.approx(keras_loss, rel=1e-4)


def test_test_time_flip_is_not_the_labs_code_path():
    with pytest.raises(config.ConfigError, match="test_time_flip is not part of the lab's code"):
        config.load("ex2.cnn", {"test_time_flip": True, "faithful": True})


@pytest.mark.slow
def test_test_time_flip_run_keeps_the_single_view_numbers(tmp_path, shared_datasets):
    out = tmp_path / "tta"
    assert cli.main(["run", "ex2.cnn", "--set", "test_time_flip=true", "--out", str(out), "--data",
                     str(shared_datasets), *QUICK]) == 0
    m = json.loads((out / "ex2.cnn" / "metrics.json").read_text())
    probs = np.load(out / "ex2.cnn" / "test_probabilities.npy")
    labels = sources.load("fashion_mnist", shared_datasets).y_test[:200]
    assert m["test_time_flip"] is True and 0.0 <= m["test_accuracy_single_view"] <= 1.0
    assert probs.shape == (200, 10) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # the saved probabilities are the averaged ones the headline accuracy and errors come from
    assert m["test_accuracy"] == pytest.approx((probs.argmax(axis=1) == labels).mean())
    assert m["test_errors"] == int((probs.argmax(axis=1) != labels).sum())


def test_every_kind_of_step_has_one_entry_in_the_step_registry():
    from mnistlab import config, steps

    kinds = steps.registry()
    assert set(kinds) == set(config.KINDS) and all(callable(f) for f in kinds.values())
    uses = [k for k in config.KINDS if config.Experiment(step=k).uses_model]
    assert uses == ["confusion", "augment"]
    assert [k for k in config.KINDS if not config.Experiment(step=k).trains] == ["confusion"]


def test_most_confused_keeps_every_pair_tied_with_the_fifth():
    import numpy as np

    from mnistlab.evaluate import most_confused

    m = np.zeros((10, 10), dtype=np.int64)
    cells = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7)]
    for count, (t, p) in zip([5, 4, 3, 2, 1, 1, 1], cells, strict=True):
        m[t, p] = count
    got = most_confused(m, [str(i) for i in range(10)])
    assert [c["count"] for c in got] == [5, 4, 3, 2, 1, 1, 1]
    m[5, 6] = m[6, 7] = 0
    assert len(most_confused(m, [str(i) for i in range(10)])) == 5


@pytest.mark.parametrize("flag", [[], ["--faithful"]])
def test_each_epoch_keeps_its_per_example_validation_losses(tmp_path, shared_datasets, flag):
    """val_losses.npy / val_predicted.npy: one row per epoch, whose mean and accuracy are the history's."""
    from mnistlab import runfolder

    out = tmp_path / "run"
    assert cli.main(["run", "ex2.ann", *flag, "--out", str(out), "--data", str(shared_datasets), *QUICK,
                     "--set", "epochs=2"]) == 0
    folder = out / "ex2.ann"
    assert np.load(folder / runfolder.VAL_LOSSES).dtype == np.float16
    got = runfolder.read_epoch_outputs(folder)
    history = runfolder.read_history(folder / runfolder.HISTORY)
    assert got.losses.shape == got.right.shape == (2, 120)
    assert got.losses.mean(axis=1) == pytest.approx(history["val_loss"], abs=2e-3)
    assert got.right.mean(axis=1) == pytest.approx(history["val_accuracy"], abs=1e-6)


def test_validation_outputs_keep_the_completed_epochs_on_resume(tmp_path):
    from mnistlab import runfolder
    from mnistlab.callbacks import ValidationOutputs

    x, y = np.zeros((5, 3), np.float32), np.array([0, 1, 2, 1, 0])
    runfolder.write_epoch_outputs(tmp_path, np.ones((3, 5)), np.zeros((3, 5)))
    cb = ValidationOutputs(tmp_path, x, y, 8, initial_epoch=2)  # killed after epoch 3's rows, before its checkpoint
    assert cb.on and len(cb.losses) == 2
    assert not ValidationOutputs(tmp_path, x[:4], y[:4], 8, initial_epoch=2).on  # rows of other images: stop
    assert not (tmp_path / runfolder.VAL_LOSSES).exists()  # and nothing misleading left behind
    ValidationOutputs(tmp_path, x, y, 8, initial_epoch=0)  # a fresh start forgets an earlier run's rows
    assert not (tmp_path / runfolder.VAL_PREDICTED).exists()
