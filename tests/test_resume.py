"""Nothing lost: interrupted runs resume exactly, two processes never share a folder, divergence is caught."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import keras
import numpy as np
import pytest

from mnistlab import cli
from mnistlab.errors import MnistlabError
from mnistlab.fileio import load_model

QUICK = ["--set", "epochs=3", "--set", "train_limit=2000", "--set", "test_limit=400"]


def _start(args, log):
    return subprocess.Popen([sys.executable, "-m", "mnistlab.cli", *args], stdout=log, stderr=subprocess.STDOUT,
                            text=True)


def _wait_for(path, text, proc, timeout=240):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if text in path.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"{text!r} never appeared in {path}")


def _final(run_dir):
    out = {}
    for name in ("ex2.cnn", "ex2.augment"):
        m = json.loads((run_dir / name / "metrics.json").read_text())
        out[name] = (m["test_accuracy"], m["test_loss"], m["final_loss"], m["final_val_accuracy"])
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory, shared_datasets):
    out = tmp_path_factory.mktemp("ref") / "run"
    assert cli.main(["run", "ex2.augment", "--out", str(out), "--data", str(shared_datasets), *QUICK]) == 0
    return _final(out)


@pytest.mark.slow
@pytest.mark.parametrize("sig,marker", [
    (signal.SIGKILL, "ex2.cnn  epoch 2/3"),      # kill -9 in the middle of the CNN's training
    (signal.SIGKILL, "ex2.augment  epoch 1/3"),  # kill -9 while augmentation continues it
    (signal.SIGINT, "ex2.augment  epoch 2/3"),   # Ctrl-C
])
def test_killed_run_resumes_to_the_same_numbers(tmp_path, shared_datasets, reference, sig, marker):
    run_dir, log_path = tmp_path / "run", tmp_path / "log"
    with open(log_path, "w") as log:
        proc = _start(["run", "ex2.augment", "--out", str(run_dir), "--data", str(shared_datasets), *QUICK], log)
        _wait_for(log_path, marker, proc)
        proc.send_signal(sig)
        rc = proc.wait(timeout=120)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    if sig == signal.SIGINT and rc != 0:  # it may have finished first; otherwise it stopped cleanly
        assert rc == 130 and manifest["status"] == "interrupted"
        assert "mnistlab run --resume" in log_path.read_text()
    # Whatever the moment, no final name holds a partial file: every model present loads.
    for model_file in run_dir.rglob("*.keras"):
        if not model_file.name.startswith("."):
            assert zipfile.ZipFile(model_file).testzip() is None
    assert cli.main(["run", "--resume", str(run_dir)]) == 0
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert _final(run_dir) == reference  # not merely close: the same numbers
    assert not [p for p in run_dir.rglob("*") if ".tmp" in p.name or p.name.startswith("checkpoint.")]


@pytest.mark.slow
def test_resume_keeps_verified_experiments_and_redoes_changed_ones(tmp_path, shared_datasets, reference, capsys):
    run_dir = tmp_path / "run"
    assert cli.main(["run", "ex2.augment", "--out", str(run_dir), "--data", str(shared_datasets), *QUICK]) == 0
    model_bytes = (run_dir / "ex2.cnn" / "model.keras").read_bytes()
    capsys.readouterr()
    assert cli.main(["run", "--resume", str(run_dir)]) == 0
    assert "already complete, artifacts verified" in capsys.readouterr().err
    assert (run_dir / "ex2.cnn" / "model.keras").read_bytes() == model_bytes
    (run_dir / "ex2.augment" / "history.csv").write_text("tampered\n")
    assert cli.main(["run", "--resume", str(run_dir)]) == 0
    assert "missing or changed (history.csv" in capsys.readouterr().err
    assert _final(run_dir) == reference


def test_resume_refuses_new_settings_and_non_runs(tmp_path):
    assert cli.main(["run", "--resume", str(tmp_path), "--set", "epochs=2"]) == 1
    assert cli.main(["run", "--resume", str(tmp_path)]) == 1  # no manifest.json


def test_second_process_on_the_same_folder_is_refused(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with open(run_dir / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242\n")
        held.flush()
        assert cli.main(["run", "ex1", "--out", str(run_dir), "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "another mnistlab process (pid 4242) is writing this run folder" in err
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]  # nothing written into its folder


@pytest.mark.slow
def test_diverging_experiment_fails_cleanly_and_the_rest_runs(tmp_path, shared_datasets, capsys):
    run_dir = tmp_path / "run"
    rc = cli.main(["run", "ex1", "ex2.ann", "--out", str(run_dir), "--data", str(shared_datasets),
                   "--set", "ex1.learning_rate=1000", *QUICK])
    assert rc == 1
    err = capsys.readouterr().err
    assert "mnistlab: error:" in err and "ex1: training diverged" in err
    manifest = json.loads((run_dir / "manifest.json").read_text())
    ex1 = manifest["experiments"]["ex1"]
    assert manifest["status"] == "failed"
    assert ex1["status"] == "failed" and ex1["diverged"] is True and ex1["last_good_epoch"] == 0
    assert manifest["experiments"]["ex2.ann"]["status"] == "complete"
    # No artifact that looks like a trained model.
    assert not (run_dir / "ex1" / "metrics.json").exists() and not (run_dir / "ex1" / "model.keras").exists()


def test_models_load_only_from_keras_files_without_lambda(tmp_path):
    h5 = tmp_path / "m.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(MnistlabError, match=r"m\.h5: only Keras 3 '\.keras' model files"):
        load_model(h5)
    lam = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    lam.save(tmp_path / "lam.keras")
    with pytest.raises(MnistlabError, match="Lambda layer"):
        load_model(tmp_path / "lam.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(MnistlabError, match="junk.keras: not a readable .keras model"):
        load_model(tmp_path / "junk.keras")
    with pytest.raises(MnistlabError, match="no such model file"):
        load_model(tmp_path / "absent.keras")
    ok = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    ok.save(tmp_path / "ok.keras")
    np.testing.assert_allclose(load_model(tmp_path / "ok.keras").get_weights()[0], ok.get_weights()[0])


def test_artifact_write_failure_is_one_line_and_keeps_what_exists(tmp_path, monkeypatch):
    """A full disk (ENOSPC) while writing: one line naming the path; the previous file is intact."""
    import errno

    from mnistlab import fileio

    target = tmp_path / "metrics.json"
    fileio.write_json(target, {"ok": 1})
    real_replace = os.replace

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileio.os, "replace", full_disk)
    with pytest.raises(MnistlabError, match=r"metrics\.json: cannot write \(No space left on device\)"):
        fileio.write_json(target, {"ok": 2})
    monkeypatch.setattr(fileio.os, "replace", real_replace)
    assert json.loads(target.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


@pytest.mark.slow
def test_fault_injection_short(tmp_path, shared_datasets, capsys):
    """The fault-injection benchmark, one trial on a tiny run (the full one: --trials 20 by hand)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "fault_injection.py"
    spec = importlib.util.spec_from_file_location("fault_injection", path)
    fault_injection = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fault_injection)
    rc = fault_injection.main(["--data", str(shared_datasets), "--trials", "1", "--size", "tiny",
                               "--work", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "trials: 1" in out and "artifacts_verified: 1" in out and "metrics_equal: 1" in out
