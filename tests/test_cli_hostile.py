"""Hostile command lines and run manifests: one line, exit 1, never a traceback, nothing written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.errors import DataError

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("sets,message", [
    (["seed=-1"], "seed must be between 0 and"),
    (["seed=18446744073709551616"], "seed must be an integer of at most"),
    (["batch_size=100000000000000000000"], "batch_size must be an integer of at most"),
    (["batch_size=1e20"], "batch_size must be an integer"),
    (["kernel_size=100"], "leave nothing of a 28x28 image"),
    (["validation=split", "train_limit=1"], "leaves no training image"),
    (["hidden_units=" + "[" * 3000 + "]" * 3000], "nested too deeply"),
    (["hidden_units=[100000000]"], "widths of at most"),
    (["learning_rate=" + "1" * 5000], "not a usable value"),
    (["title=" + "x" * 120_000], "over 10,000 characters"),
    (["epochs=" + "x" * 5000], "(5,002 characters)"),
])
def test_bad_set_values_are_one_short_line_and_write_nothing(tmp_path, capsys, sets, message):
    out = tmp_path / "run"
    argv = ["run", "ex2.cnn", "--out", str(out)]
    for item in sets:
        argv += ["--set", item]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err and len(err) < 400, err[:400]
    assert not out.exists()


@pytest.mark.parametrize("argv", [["run", "ex2.ann", "--set", "seed=2147483646", "--seeds", "3"],
                                  ["sweep", "ex2.ann", "--grid", "epochs=[1,2]", "--set", "seed=2147483647",
                                   "--seeds", "2"]])
def test_seed_study_past_the_largest_seed_is_refused(tmp_path, capsys, argv):
    out = tmp_path / "run"
    assert main([*argv, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "goes past the largest seed, 2147483647" in err, err
    assert not out.exists()


def _manifest(**changes):
    doc = {"mnistlab": "0.1.0", "plan": ["ex1"], "settings": {"data_dir": None, "trust_data": False, "seeds": 1},
           "overrides": {}, "experiments": {}, "data": {}, "lang": "fr", "status": "interrupted"}
    doc.update(changes)
    return doc


@pytest.mark.parametrize("changes,message", [
    ({"settings": ["data_dir"]}, "'settings' must be a object"),
    ({"overrides": "epochs=1"}, "'overrides' must be a object"),
    ({"experiments": [1, 2]}, "'experiments' must be a object"),
    ({"plan": ["..", "ex1"]}, "'plan' holds '..', which is not a known experiment"),
    ({"plan": ["../../elsewhere/ex1"]}, "not a known experiment"),
    ({"plan": "ex1"}, "'plan' must be a list"),
    ({"overrides": {"epochs": "many"}}, "override epochs must be an integer"),
    ({"overrides": {"nowhere.epochs": 1}}, "names no known experiment"),
    ({"settings": {"seeds": "3"}}, "'settings.seeds' must be a whole number"),
    ({"settings": {"data_dir": 5}}, "'settings.data_dir' must be a string or null"),
    ({"experiments": {"ex1": {"status": "complete", "artifacts": {"../../x": "ab"}}}}, "is not a file of its"),
    ({"experiments": {"ex1": {"status": "running", "resumed": "twice"}}}, "'resumed' must be a count"),
    ({"lang": "de"}, "'lang' must be fr or en"),
])
def test_resume_checks_every_manifest_field(tmp_path, capsys, changes, message):
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps(_manifest(**changes)))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["run", "--resume", str(run)]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err and "manifest.json" in err, err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_manifest_that_is_not_an_object(tmp_path, capsys):
    (tmp_path / "manifest.json").write_text("[1, 2, 3]")
    assert main(["run", "--resume", str(tmp_path)]) == 1
    assert "expected a JSON object, got list" in capsys.readouterr().err


def test_readme_test_command_is_what_ci_runs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Tests"):]
    command = re.search(r"```\n(.+?)\n```", section, re.S).group(1).strip()
    assert command.startswith('pip install -e ".[test]"') and "python -m pytest -q" in command
    ci = [ln.strip() for ln in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert command in ci
    extra = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^test = \[.*"pytest', extra, re.M)


def test_offline_download_error_names_the_ways_out(tmp_path):
    from mnistlab.data import download

    with pytest.raises(DataError) as e:
        download._download("http://127.0.0.1:9/mnist.npz", tmp_path / "x", "MNIST")
    assert "--data" in str(e.value) and "$MNISTLAB_DATA" in str(e.value) and "Data section" in str(e.value)
