"""All-or-nothing writes: a failure never leaves a partial file under the final name."""

import json
import os

import pytest

from mnistlab.errors import MnistlabError
from mnistlab.fileio import atomic_path, write_json, write_text


def test_write_and_replace(tmp_path):
    p = tmp_path / "sub" / "a.json"
    write_json(p, {"x": 1})
    write_json(p, {"x": 2})
    assert json.loads(p.read_text()) == {"x": 2}
    assert os.listdir(p.parent) == ["a.json"]


def test_failure_keeps_previous_file_and_leaves_no_temp(tmp_path):
    p = tmp_path / "a.txt"
    write_text(p, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert p.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_temp_file_keeps_the_suffix(tmp_path):
    with atomic_path(tmp_path / "model.keras") as tmp:
        assert tmp.suffix == ".keras" and tmp.parent == tmp_path
        tmp.write_bytes(b"x")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_folder_is_one_line_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(MnistlabError, match="ro/a.txt: cannot write here"):
            write_text(ro / "a.txt", "x")
    finally:
        ro.chmod(0o700)


def test_path_under_a_file_is_one_line_error(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(MnistlabError, match="cannot write here"):
        write_text(tmp_path / "f" / "a.txt", "x")
