"""The run folder's format (mnistlab.runfolder): names, safe paths, checked reads of doctored files. Milliseconds."""

import json

import numpy as np
import pytest

from mnistlab import runfolder
from mnistlab.errors import ConfigError
from mnistlab.runfolder import RunFolderError


def test_history_round_trips(tmp_path):
    rows = [{"epoch": 1, "loss": 0.5, "accuracy": 0.8, "seconds": 1.25}, {"epoch": 2, "loss": 0.4, "accuracy": 0.85,
                                                                          "seconds": 1.5}]
    runfolder.write_history(tmp_path / runfolder.HISTORY, rows)
    assert runfolder.read_history(tmp_path / runfolder.HISTORY) == {
        "epoch": [1.0, 2.0], "loss": [0.5, 0.4], "accuracy": [0.8, 0.85], "seconds": [1.25, 1.5]}
    assert runfolder.read_history(tmp_path / "absent.csv") is None


@pytest.mark.parametrize("text", ["epoch,loss\n1,nan\n", "epoch,loss\n1,inf\n", "epoch,loss\n1,abc\n",
                                  "epoch,loss\n1,0.5,7\n"])
def test_history_with_non_finite_or_ragged_values_is_refused(tmp_path, text):
    (tmp_path / "history.csv").write_text(text)
    with pytest.raises(RunFolderError, match="history.csv"):
        runfolder.read_history(tmp_path / "history.csv")


def test_inside_refuses_symlinks_and_escapes(tmp_path):
    (tmp_path / "outside").mkdir()
    run = tmp_path / "run"
    (run / "ex1").mkdir(parents=True)
    (run / "ex1" / "figures").symlink_to(tmp_path / "outside")
    assert runfolder.inside(run, "ex1", "metrics.json") == run / "ex1" / "metrics.json"
    for parts in (("ex1", "figures", "a.png"), ("..", "outside"), ("/etc/passwd",), ("ex1/../../outside",)):
        with pytest.raises(RunFolderError):
            runfolder.inside(run, *parts)


@pytest.mark.parametrize("text, match", [("[1, 2]", "not a JSON object"), ('{"seconds": NaN}', "NaN"),
                                         ('{"seconds": Infinity}', "Infinity"), ("{", "unreadable")])
def test_read_json_refuses_lists_and_non_numbers(tmp_path, text, match):
    (tmp_path / "metrics.json").write_text(text)
    with pytest.raises(RunFolderError, match=match):
        runfolder.read_json(tmp_path / "metrics.json")


def test_read_json_refuses_a_symlink(tmp_path):
    (tmp_path / "secret").write_text(json.dumps({"a": 1}))
    (tmp_path / "metrics.json").symlink_to(tmp_path / "secret")
    with pytest.raises(RunFolderError, match="symbolic link"):
        runfolder.read_json(tmp_path / "metrics.json")


def test_npy_header_claiming_too_many_values_is_refused_before_reading(tmp_path):
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**11, 10)}
    path = tmp_path / "test_probabilities.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(b"\0" * 64)
    with pytest.raises(RunFolderError, match="claims"):
        runfolder.read_npy(path)
    np.save(tmp_path / "short.npy", np.zeros((100, 10), np.float32))
    data = (tmp_path / "short.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(data[:-100])
    with pytest.raises(RunFolderError, match="shorter"):
        runfolder.read_npy(tmp_path / "short.npy")


def test_npy_with_objects_is_refused(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(RunFolderError, match="objects"):
        runfolder.read_npy(tmp_path / "o.npy")


def test_arrays_round_trip(tmp_path):
    runfolder.save_array(tmp_path, "samples_labels", np.arange(10, dtype=np.uint8))
    assert runfolder.read_array(tmp_path, "samples_labels", ndim=1).tolist() == list(range(10))
    with pytest.raises(RunFolderError, match="dimensions"):
        runfolder.read_array(tmp_path, "samples_labels", ndim=2)


def test_png_bytes_are_checked(tmp_path):
    (tmp_path / "key.png").write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    with pytest.raises(RunFolderError, match="not a PNG"):
        runfolder.read_png(tmp_path / "key.png")


@pytest.mark.parametrize("change, match", [({"dataset": "cifar10"}, "dataset"),
                                           ({"hidden_units": [128, 64], "dropout": [0.2]}, "dropout"),
                                           ({"epochs": "__import__('os')"}, "epochs")])
def test_config_values_are_validated_as_run_validates_them(change, match):
    with pytest.raises(ConfigError, match=match):
        runfolder.experiment({"name": "ex1", **change})
    assert runfolder.experiment({"name": "ex1", "epochs": 3, "unknown_key_of_another_version": 1}).epochs == 3


@pytest.mark.parametrize("header", [b"{'descr': '<f8", b"{'descr': '<f8', 'shape': (3", b"{" + b"(" * 2000])
def test_npy_with_a_truncated_header_is_refused(tmp_path, header):
    import struct

    path = tmp_path / "a.npy"
    header += b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header)
    with pytest.raises(RunFolderError, match="unreadable array"):
        runfolder.read_npy(path)


@pytest.mark.parametrize("columns, rows, match", [
    (runfolder.MAX_HISTORY_COLUMNS + 1, 2, "columns"),
    (3, runfolder.MAX_HISTORY_ROWS + 1, "epochs"),
    (3, 1_000_000, "bytes"),
])
def test_history_larger_than_a_run_writes_is_refused_before_its_values_are_read(tmp_path, columns, rows, match):
    import time

    path = tmp_path / "history.csv"
    names = ["epoch", "loss", *[f"junk{i}" for i in range(columns - 2)]]
    line = ",".join("1" for _ in names) + "\n"
    path.write_text(",".join(names) + "\n" + line * rows)
    t0 = time.monotonic()
    with pytest.raises(RunFolderError, match=match):
        runfolder.read_history(path)
    assert time.monotonic() - t0 < 1


def test_a_study_that_diverges_as_expected_writes_the_same_metrics_in_process_and_on_a_worker(tmp_path, monkeypatch):
    """The "learning rate far too high" study: its divergence is its result, recorded by one writer."""
    from mnistlab import config, steps
    from mnistlab.distributed import tasks
    from mnistlab.errors import DivergedError
    from mnistlab.runner import Runner

    def diverge(exp, ctx, run_dir=None):
        raise DivergedError("loss is nan at epoch 3", last_good_epoch=2)

    monkeypatch.setattr(steps, "run_step", diverge)
    name = "ext.ex1_lr_too_high"
    exp = config.load(name)
    assert exp.expect_divergence
    Runner(tmp_path / "run", stream=open(tmp_path / "log", "w")).run([name])  # noqa: SIM115 - closed with tmp
    here = json.loads((tmp_path / "run" / name / runfolder.METRICS).read_text())
    spec = tasks.StepSpec(rel=name, config=exp.to_dict())
    [row] = tasks._run_steps(tasks.Task(key=name, steps=(spec,)), tasks.Env(), tmp_path / "worker")
    there = json.loads((tmp_path / "worker" / name / runfolder.METRICS).read_text())
    assert row["status"] == "diverged"
    for metrics in (here, there):
        assert {k: metrics[k] for k in ("diverged", "reason", "last_good_epoch")} == {
            "diverged": True, "reason": "loss is nan at epoch 3", "last_good_epoch": 2}
        assert set(metrics) == {"diverged", "reason", "last_good_epoch", "seconds"}
