"""The command line: list, run on small slices of the real data, errors as one line, reproducibility."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mnistlab import cli

QUICK = ["--set", "epochs=1", "--set", "train_limit=600", "--set", "test_limit=200"]
EXPERIMENT_ARTIFACTS = ["config.json", "history.csv", "metrics.json", "model.keras", "summary.txt",
                        "test_probabilities.npy", "figures/accuracy.png", "figures/loss.png",
                        "figures/predictions.png"]


def run(*args):
    return cli.main(list(args))


def test_list_shows_every_experiment_with_its_settings(capsys):
    assert run("list") == 0
    out = capsys.readouterr().out
    from mnistlab.lab import plan

    for name in plan.step_names():
        assert f"\n{name} " in "\n" + out
    assert "5 epochs, batch 32, validation: test set" in out
    assert "10 epochs, batch 128, validation: last 0.2 of train" in out
    assert run("list", "--set", "epochs=50") == 0
    assert "50 epochs" in capsys.readouterr().out


@pytest.fixture
def whole_lab(lab_run):
    """The whole lab, one epoch on slices of the real data: the pipeline smoke run (conftest's ``lab_run``,
    which also holds the extended studies and a second seed)."""
    return lab_run


@pytest.mark.slow
def test_whole_lab_writes_every_artifact(whole_lab):
    manifest = json.loads((whole_lab / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    from mnistlab.lab import plan

    steps = list(plan.step_names())
    assert [n for n in manifest["plan"] if n in steps] == steps
    for key in ["python", "keras", "tensorflow", "numpy", "backend"]:
        assert manifest["versions"][key]
    assert manifest["hardware"]["logical_cores"] >= 1 and manifest["seed"] == 42
    assert manifest["data"]["mnist"]["verified"] and manifest["data"]["fashion_mnist"]["verified"]
    for name in steps:
        entry = manifest["experiments"][name]
        assert entry["status"] == "complete" and entry["seconds"] > 0 and entry["config"]["name"] == name
    for name in ["ex1", "ex2.ann", "ex2.cnn", "ex2.augment"]:
        for artifact in EXPERIMENT_ARTIFACTS:
            assert (whole_lab / name / artifact).is_file(), f"{name}/{artifact}"
    for name in ["ex1", "ex2.ann"]:
        assert (whole_lab / name / "figures" / "samples.png").is_file()
    for act in ["sigmoid", "tanh", "relu", "leaky_relu"]:
        for artifact in EXPERIMENT_ARTIFACTS[1:6]:  # no per-activation figures: the lab draws the comparison
            assert (whole_lab / "ex2.activations" / act / artifact).is_file()
    assert (whole_lab / "ex2.activations" / "figures" / "activations.png").is_file()
    assert (whole_lab / "ex2.activations" / "figures" / "val_accuracy.png").is_file()
    assert (whole_lab / "ex2.confusion" / "figures" / "confusion_matrix.png").is_file()
    assert (whole_lab / "ex2.confusion" / "confusion_matrix.csv").is_file()
    assert (whole_lab / "ex2.augment" / "figures" / "augmented_samples.png").is_file()
    # No temporary file survives a successful run.
    assert not [p for p in whole_lab.rglob("*") if ".tmp" in p.name]


@pytest.mark.slow
def test_whole_lab_metrics_are_consistent(whole_lab):
    ex1 = json.loads((whole_lab / "ex1" / "metrics.json").read_text())
    assert ex1["params"] == 101_770 and ex1["n_train"] == 600 and ex1["n_test"] == 200
    assert ex1["validation_is_test"] is True
    assert 0.5 < ex1["test_accuracy"] <= 1.0  # one epoch on 600 digits is far above chance
    ann = json.loads((whole_lab / "ex2.ann" / "metrics.json").read_text())
    assert ann["params"] == 109_386 and ann["n_train"] == 480 and ann["n_validation"] == 120
    with open(whole_lab / "ex2.ann" / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(rows[0])
    assert float(rows[0]["val_accuracy"]) == pytest.approx(ann["final_val_accuracy"])
    cnn = json.loads((whole_lab / "ex2.cnn" / "metrics.json").read_text())
    assert cnn["params"] == 225_034
    conf = json.loads((whole_lab / "ex2.confusion" / "metrics.json").read_text())
    matrix = np.array(conf["confusion_matrix"])
    assert matrix.sum() == 200 and conf["model"] == "ex2.cnn"
    assert conf["test_accuracy"] == pytest.approx(cnn["test_accuracy"])  # same model, same images
    assert np.trace(matrix) == round(conf["test_accuracy"] * 200)
    acts = json.loads((whole_lab / "ex2.activations" / "metrics.json").read_text())
    assert set(acts["val_accuracy"]) == {"sigmoid", "tanh", "relu", "leaky_relu"}
    assert acts["best"] == max(acts["val_accuracy"], key=acts["val_accuracy"].get)
    aug = json.loads((whole_lab / "ex2.augment" / "metrics.json").read_text())
    assert aug["continued_from"] == "ex2.cnn" and aug["validation_is_test"] is True


@pytest.mark.slow
def test_step_reuses_the_model_in_the_run_folder(whole_lab, shared_datasets, tmp_path):
    import shutil

    folder = shutil.copytree(whole_lab, tmp_path / "lab")  # a copy: other tests read the shared run
    cnn_metrics = folder / "ex2.cnn" / "metrics.json"
    before = cnn_metrics.stat().st_mtime_ns
    assert run("run", "ex2.confusion", "--out", str(folder), "--data", str(shared_datasets), *QUICK) == 0
    assert cnn_metrics.stat().st_mtime_ns == before
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["plan"] == ["ex2.confusion"] and manifest["status"] == "complete"
    assert manifest["experiments"]["ex2.cnn"]["status"] == "complete"  # earlier entries are kept


@pytest.mark.slow
def test_dependent_step_trains_what_it_needs(tmp_path, shared_datasets):
    out = tmp_path / "r"
    assert run("run", "ex2.augment", "--out", str(out), "--data", str(shared_datasets), *QUICK) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["plan"] == ["ex2.cnn", "ex2.augment"]
    assert (out / "ex2.cnn" / "model.keras").is_file() and (out / "ex2.augment" / "metrics.json").is_file()


@pytest.mark.slow
def test_same_command_twice_gives_identical_metrics(tmp_path, shared_datasets):
    metrics = []
    for i in range(2):
        out = tmp_path / f"r{i}"
        assert run("run", "ex2.cnn", "--out", str(out), "--data", str(shared_datasets), *QUICK) == 0
        m = json.loads((out / "ex2.cnn" / "metrics.json").read_text())
        metrics.append({k: m[k] for k in ("test_loss", "test_accuracy", "final_loss", "final_val_loss")})
    assert metrics[0] == metrics[1]


def _cli(*args, **kw):
    """The installed command in a fresh interpreter, as a user runs it."""
    env = {**os.environ, **kw.pop("env", {})}
    return subprocess.run([sys.executable, "-m", "mnistlab.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300, **kw)


@pytest.mark.parametrize("args,message", [
    (["run", "--set", "epoch=3"], "mnistlab: error: unknown key 'epoch' (did you mean 'epochs'?)"),
    (["run", "ex3"], "mnistlab: error: no experiment named 'ex3'"),
    (["run", "--set", "batch_size=big"], "mnistlab: error: batch_size must be an integer, got 'big'"),
])
def test_bad_arguments_are_one_line_errors(args, message):
    r = _cli(*args)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith(message)
    assert "Traceback" not in r.stderr


def test_missing_data_is_one_line_error(tmp_path):
    r = _cli("run", "ex1", "--out", str(tmp_path / "r"), "--data", str(tmp_path / "nowhere"))
    assert r.returncode == 1, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("mnistlab: error:")]
    assert len(lines) == 1 and "nowhere" in lines[0]
    assert "Traceback" not in r.stderr


def test_broken_data_is_one_line_error_and_run_marked_failed(tmp_path, shared_datasets):
    import gzip
    import shutil

    data = tmp_path / "mnist"
    shutil.copytree(shared_datasets / "mnist", data)
    raw = gzip.decompress((data / "train-labels-idx1-ubyte.gz").read_bytes())
    (data / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(raw[:-100]))  # header says 60,000 labels
    r = _cli("run", "ex1", "--out", str(tmp_path / "r"), "--data", str(data))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("mnistlab: error:")]
    assert len(err) == 1 and "train-labels-idx1-ubyte.gz" in err[0]
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["experiments"]["ex1"]["status"] == "failed"
