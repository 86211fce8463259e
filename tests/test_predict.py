"""mnistlab predict: the shipped models, accuracy on digits rendered from fonts, Fashion PNG round trip, CLI."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from mnistlab import config, predict, pretrained
from mnistlab.cli import main
from mnistlab.errors import MnistlabError

FONT_DIRS = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation"]


def fonts() -> list[Path]:
    """TrueType fonts with plain Latin digits: Debian's DejaVu and Liberation, else matplotlib's own DejaVu."""
    found = [p for d in FONT_DIRS for p in sorted(Path(d).glob("*.ttf")) if "Math" not in p.name]
    if len(found) < 6:
        import matplotlib

        mpl = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        found += sorted(p for p in mpl.glob("DejaVu*.ttf") if "Display" not in p.name)
    return found


def render_digit(digit: int, font: Path, size: int, rng: np.random.Generator, canvas=(320, 240)) -> Image.Image:
    """``digit`` in ``font`` at ``size`` px, dark ink on light paper, at a random place on the canvas."""
    paper, ink = int(rng.integers(190, 256)), int(rng.integers(0, 80))
    im = Image.new("L", canvas, paper)
    d = ImageDraw.Draw(im)
    f = ImageFont.truetype(str(font), size)
    left, top, right, bottom = d.textbbox((0, 0), str(digit), font=f)
    x = int(rng.integers(-left + 2, max(-left + 3, canvas[0] - right - 2)))
    y = int(rng.integers(-top + 2, max(-top + 3, canvas[1] - bottom - 2)))
    d.text((x, y), str(digit), fill=ink, font=f)
    return im


@pytest.fixture(scope="module")
def digits_model():
    return predict.load_model("mnist")


@pytest.fixture(scope="module")
def fashion_model():
    return predict.load_model("fashion")


@pytest.fixture()
def digit_files(tmp_path):
    rng = np.random.default_rng(7)
    font = fonts()[0]
    paths = []
    for d in (3, 8):
        p = tmp_path / f"digit{d}.png"
        render_digit(d, font, 120, rng).save(p)
        paths.append(str(p))
    return paths


# --- the shipped models -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset,least", [("mnist", 0.985), ("fashion_mnist", 0.89)])
def test_shipped_models_are_small_recorded_and_have_no_optimizer_state(dataset, least):
    path = pretrained.model_path(dataset)
    record = pretrained.info()[dataset]
    assert path.stat().st_size < 1.5e6  # 225,034 float32 weights and the config
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()  # the record is about this file
    assert record["test_accuracy"] >= least and record["n_test"] == 10000
    recipe = tomllib.loads(pretrained.recipe_path(dataset).read_text(encoding="utf-8"))
    assert {k: record["experiment"][k] for k in recipe} == recipe  # trained as its experiment file says
    with zipfile.ZipFile(path) as z, z.open("model.weights.h5") as f:
        assert b"optimizer" not in f.read()


def test_recipes_are_experiment_files_the_lab_never_runs():
    for dataset in pretrained.DATASETS:
        exp = config.load(pretrained.recipe_path(dataset))
        assert exp.dataset == dataset and not exp.horizontal_flip == (dataset == "mnist")
    lab = config.names(extended=True)
    assert not any(n in pretrained.DATASETS for n in lab) and config.select(None, extended=True) == lab


@pytest.mark.slow
def test_train_writes_a_model_and_its_record(shared_datasets, tmp_path):
    r = pretrained.train("mnist", data_dir=str(shared_datasets), out_dir=tmp_path,
                         overrides={"epochs": 1, "train_limit": 600, "test_limit": 200}, command="test")
    assert (tmp_path / "mnist.keras").is_file() and r["n_test"] == 200 and r["n_train"] == 540
    assert pretrained.info(tmp_path)["mnist"]["sha256"] == r["sha256"]
    m = predict.load_model(str(tmp_path / "mnist.keras"), dataset="mnist")
    assert m.probabilities(np.zeros((2, 28, 28), np.uint8)).shape == (2, 10)


# --- accuracy on digits people did not draw for MNIST -----------------------------------------------------


def test_default_model_reads_font_rendered_digits(digits_model):
    """Digits rendered from several fonts, sizes and positions, dark ink on light paper: >= 95% right."""
    rng = np.random.default_rng(2026)
    found = fonts()
    assert len(found) >= 4, "need a few TrueType fonts (apt-get install fonts-dejavu-core fonts-liberation)"
    images, labels = [], []
    for font in found:
        for size in (36, 90, 200):
            for d in range(10):
                images.append(predict.user_images.dataset_format(np.asarray(render_digit(d, font, size, rng)), "mnist"))
                labels.append(d)
    probs = digits_model.probabilities(np.stack(images))
    accuracy = float((probs.argmax(1) == np.array(labels)).mean())
    print(f"font-rendered digits: {accuracy:.4f} of {len(labels)} ({len(found)} fonts)")
    assert accuracy >= 0.95


def test_naive_resizing_is_what_the_recipe_fixes(digits_model):
    """The baseline: squashing the page to 28x28 and inverting reads far fewer digits."""
    rng = np.random.default_rng(5)
    font = fonts()[0]
    pages = [render_digit(d, font, 90, rng) for d in range(10) for _ in range(3)]
    naive = np.stack([255 - np.asarray(p.resize((28, 28), Image.BILINEAR)) for p in pages])
    recipe = np.stack([predict.user_images.dataset_format(np.asarray(p), "mnist") for p in pages])
    labels = np.repeat(np.arange(10), 3)
    naive_acc = (digits_model.probabilities(naive).argmax(1) == labels).mean()
    recipe_acc = (digits_model.probabilities(recipe).argmax(1) == labels).mean()
    assert recipe_acc >= naive_acc + 0.3


def test_fashion_png_exports_predict_like_the_test_set(shared_datasets, fashion_model, tmp_path):
    from mnistlab.data import sources

    ds = sources.load("fashion_mnist", shared_datasets)
    n = 300
    paths = []
    for i in range(n):
        p = tmp_path / f"{i}.png"
        Image.fromarray(ds.x_test[i]).save(p)
        paths.append(str(p))
    results = predict.predict_files(fashion_model, paths)
    from_files = np.stack([r.probabilities for r in results])
    in_memory = fashion_model.probabilities(ds.x_test[:n])
    np.testing.assert_array_equal(from_files.argmax(1), in_memory.argmax(1))
    np.testing.assert_allclose(from_files, in_memory, atol=1e-6)
    assert (in_memory.argmax(1) == ds.y_test[:n]).mean() > 0.85


# --- choosing a model -------------------------------------------------------------------------------------


def small_model(family="dense"):
    from mnistlab import models

    return models.build(config.Experiment(model=family, hidden_units=[8], dropout=[0.0], conv_filters=[4]))


def make_experiment_dir(folder: Path, dataset="mnist", family="dense") -> Path:
    folder.mkdir(parents=True)
    small_model(family).save(folder / "model.keras")
    (folder / "config.json").write_text(json.dumps({"dataset": dataset, "model": family}))
    (folder / "metrics.json").write_text(json.dumps({"test_accuracy": 0.5}))
    return folder


def test_model_from_a_run_folder(tmp_path, digit_files, capsys):
    make_experiment_dir(tmp_path / "run" / "ex1")
    assert main(["predict", *digit_files, "--model", str(tmp_path / "run")]) == 0  # the only model there
    assert main(["predict", *digit_files, "--model", str(tmp_path / "run" / "ex1")]) == 0
    make_experiment_dir(tmp_path / "run" / "ex2.cnn", "fashion_mnist", "cnn")
    m = predict.load_model(str(tmp_path / "run" / "ex2.cnn" / "model.keras"))
    assert m.dataset == "fashion_mnist" and m.family == "cnn" and "0.5000" in m.description
    capsys.readouterr()
    assert main(["predict", *digit_files, "--model", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "choose one experiment folder" in err and "ex1, ex2.cnn" in err


@pytest.mark.slow
def test_a_real_run_predicts_right_after(shared_datasets, tmp_path, digit_files, capsys):
    """The fast path of the whole chain: mnistlab run (tiny) -> mnistlab predict --model RUN/ex1."""
    run = tmp_path / "run"
    assert main(["run", "ex1", "--out", str(run), "--data", str(shared_datasets), "--set", "epochs=1",
                 "--set", "train_limit=2000", "--set", "test_limit=200"]) == 0
    capsys.readouterr()
    assert main(["predict", *digit_files, "--model", str(run / "ex1"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"]["dataset"] == "mnist" and doc["model"]["source"] == str(run / "ex1" / "model.keras")
    assert all(len(r["top"]) == 3 for r in doc["results"])


def test_bare_keras_file_needs_its_data_set(tmp_path, digit_files, capsys):
    path = tmp_path / "mine.keras"
    small_model().save(path)
    assert main(["predict", *digit_files, "--model", str(path)]) == 1
    assert "--dataset" in capsys.readouterr().err
    assert main(["predict", *digit_files, "--model", str(path), "--dataset", "mnist"]) == 0


@pytest.mark.parametrize("content,reason", [(b"not a zip", "not a readable .keras model"),
                                            (None, "Lambda layer")])
def test_broken_or_unsafe_models_are_refused_in_one_line(tmp_path, digit_files, capsys, content, reason):
    import keras

    path = tmp_path / "bad.keras"
    if content is None:  # a Lambda layer carries Python code: safe mode refuses it
        inp = keras.Input((28, 28))
        out = keras.layers.Dense(10)(keras.layers.Flatten()(keras.layers.Lambda(lambda t: t * 2)(inp)))
        keras.Model(inp, out).save(path)
    else:
        path.write_bytes(content)
    assert main(["predict", *digit_files, "--model", str(path), "--dataset", "mnist"]) == 1
    err = capsys.readouterr().err
    assert reason in err and err.count("\n") == 1 and "Traceback" not in err


def test_wrong_model_shape_and_missing_model(tmp_path, digit_files, capsys):
    import keras

    path = tmp_path / "wide.keras"
    keras.Sequential([keras.Input((32, 32)), keras.layers.Flatten(), keras.layers.Dense(10)]).save(path)
    assert main(["predict", *digit_files, "--model", str(path), "--dataset", "mnist"]) == 1
    assert "not a 28x28-image, 10-class model" in capsys.readouterr().err
    assert main(["predict", *digit_files, "--model", str(tmp_path / "nothing")]) == 1
    assert "no such model" in capsys.readouterr().err
    with pytest.raises(MnistlabError, match="unknown data set"):
        predict.resolve("mnist", dataset="cifar")


# --- the command ------------------------------------------------------------------------------------------


def test_cli_prints_one_line_per_file(digit_files, capsys):
    assert main(["predict", *digit_files]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith(f"{digit_files[0]}: 3 ") and out[1].startswith(f"{digit_files[1]}: 8 ")
    assert out[0].count("%") == 3


def test_cli_fashion_names_in_both_languages(shared_datasets, tmp_path, capsys):
    from mnistlab.data import sources

    ds = sources.load("fashion_mnist", shared_datasets)
    p = tmp_path / "boot.png"
    Image.fromarray(255 - ds.x_test[0]).save(p)  # an ankle boot, on white paper as a photo would be
    assert main(["predict", str(p), "--model", "fashion", "--top", "1"]) == 0
    assert capsys.readouterr().out.strip().startswith(f"{p}: Bottine ")
    assert main(["predict", str(p), "--model", "fashion", "--top", "1", "--lang", "en"]) == 0
    assert capsys.readouterr().out.strip().startswith(f"{p}: Ankle boot ")


def test_cli_bad_files_get_one_line_each_and_the_rest_is_predicted(digit_files, tmp_path, capsys):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("shopping list")
    cut = tmp_path / "cut.png"
    cut.write_bytes(Path(digit_files[0]).read_bytes()[:300])
    args = ["predict", str(empty), digit_files[0], str(text), str(cut), str(tmp_path / "gone.png"), digit_files[1]]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    err = captured.err.splitlines()
    assert err == [f"mnistlab: error: {empty}: empty file",
                   f"mnistlab: error: {text}: not an image (readable formats: PNG, JPEG, BMP, GIF, WebP, TIFF)",
                   err[2], f"mnistlab: error: {tmp_path / 'gone.png'}: no such file"]
    assert err[2].startswith(f"mnistlab: error: {cut}: truncated or damaged image")


def test_cli_json_top_and_save_input(digit_files, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("x")
    saved = tmp_path / "seen"
    twin = tmp_path / "other" / "digit3.png"  # same file name in another folder: saved under another name
    twin.parent.mkdir()
    twin.write_bytes(Path(digit_files[0]).read_bytes())
    assert main(["predict", *digit_files, str(twin), str(bad), "--json", "--top", "2", "--save-input",
                 str(saved)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"]["dataset"] == "mnist"
    first, second, third, fourth = doc["results"]
    assert [t["class"] for t in first["top"]][:1] == [3] and len(first["top"]) == 2
    assert first["top"][0]["label"] == "3" and 0.5 < first["top"][0]["probability"] <= 1
    assert fourth == {"file": str(bad), "error": "not an image (readable formats: PNG, JPEG, BMP, GIF, WebP, TIFF)"}
    assert sorted(os.listdir(saved)) == ["digit3-2.png", "digit3.png", "digit8.png"]
    assert third["input_saved"] == str(saved / "digit3-2.png")
    seen = Image.open(saved / "digit3.png")
    assert seen.size == (28, 28) and seen.mode == "L"
    np.testing.assert_array_equal(np.asarray(seen), predict.prepare(digit_files[0], "mnist"))


def test_cli_top_out_of_range(digit_files, capsys):
    assert main(["predict", digit_files[0], "--top", "11"]) == 1
    assert "--top must be between 1 and 10" in capsys.readouterr().err
