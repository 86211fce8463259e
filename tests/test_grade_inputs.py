"""The grader's readers: submissions (folders, zips, hostile files), the code parser, the rubric, the bands."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import grade_cohort as gc
import pytest

from mnistlab.errors import MnistlabError
from mnistlab.grade import bands, checks, parse, rubric, submissions

REPORT_RUN = Path(__file__).parent / "report_run"


def _zip(path: Path, members: dict[str, bytes], **kw) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data, **kw)
    return path


def _collect(source):
    """Every submission of ``source``, read (as the grading reads them, one at a time)."""
    return [submissions.load(s) for s in submissions.collect(source)]


def _nb(**cells) -> bytes:
    return json.dumps(gc.lab_notebook("x", seed=1)).encode()


def test_moodle_zip_names_students_and_ids(tmp_path):
    z = _zip(tmp_path / "all.zip", {"Dupont Marie_1234_assignsubmission_file_/TP2.ipynb": _nb(),
                                    "Martin Léa_99_assignsubmission_file_/notes.txt": b"x",
                                    "__MACOSX/._TP2.ipynb": b"junk"})
    subs = _collect(z)
    assert [(s.student, s.ident, s.status) for s in subs] == [("Dupont Marie", "1234", "OK")]


def test_zip_traversal_absolute_and_symlink_members_are_refused(tmp_path):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../../etc/evil.ipynb", _nb())
        zf.writestr("/abs/evil2.ipynb", _nb())
        info = zipfile.ZipInfo("link.ipynb")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
        zf.writestr("ok/Good Student.ipynb", _nb())
    got = {s.file: (s.status, s.reason) for s in _collect(z)}
    assert got["../../etc/evil.ipynb"][0] == "REFUSED" and "traversal" in got["../../etc/evil.ipynb"][1]
    assert got["/abs/evil2.ipynb"][0] == "REFUSED"
    assert got["link.ipynb"] == ("REFUSED", "a symbolic link in the zip")
    assert got["ok/Good Student.ipynb"][0] == "OK"
    assert not (tmp_path.parent / "etc").exists()


def test_zip_bomb_and_oversize_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_NOTEBOOK_BYTES", 3_000_000)
    z = _zip(tmp_path / "bomb.zip", {"bomb.ipynb": b"{" + b" " * 2_500_000 + b"}",
                                     "huge.ipynb": b" " * 3_500_000, "fine.ipynb": _nb()})
    got = {s.file: (s.status, s.reason) for s in _collect(z)}
    assert got["bomb.ipynb"][0] == "REFUSED" and "zip bomb" in got["bomb.ipynb"][1]
    assert got["huge.ipynb"][0] == "REFUSED" and "limit" in got["huge.ipynb"][1]
    assert got["fine.ipynb"][0] == "OK"


def test_hostile_notebooks_get_a_status_and_a_reason(tmp_path):
    good = gc.lab_notebook("x", seed=1)
    v3 = {"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}
    dup = json.loads(json.dumps(good))
    dup["cells"][2]["id"] = dup["cells"][1]["id"] = "same"
    files = {"a_json.ipynb": b"{not json", "b_v3.ipynb": json.dumps(v3).encode(),
             "c_dup.ipynb": json.dumps(dup).encode(), "d_nocells.ipynb": b'{"nbformat": 4, "cells": []}',
             "e_list.ipynb": b"[1, 2]", "f_binary.ipynb": b"\xff\xfe\x00garbage",
             "g_deep.ipynb": b"[" * 100000 + b"]" * 100000, "h_badcell.ipynb": b'{"nbformat": 4, "cells": [3]}'}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    got = {s.file: (s.status, s.reason) for s in _collect(tmp_path)}
    assert got["a_json.ipynb"][0] == "BROKEN" and "invalid JSON" in got["a_json.ipynb"][1]
    assert got["b_v3.ipynb"] == ("REFUSED", "nbformat 3, not 4; open it in Jupyter and save it again")
    assert got["c_dup.ipynb"][0] == "BROKEN" and "duplicated cell id" in got["c_dup.ipynb"][1]
    assert got["d_nocells.ipynb"] == ("BROKEN", "no cells")
    assert got["e_list.ipynb"][0] == "BROKEN"
    assert got["f_binary.ipynb"][0] == "BROKEN"
    assert got["g_deep.ipynb"][0] == "BROKEN"
    assert got["h_badcell.ipynb"][0] == "BROKEN"


def test_a_symlinked_notebook_in_a_folder_is_refused(tmp_path):
    (tmp_path / "real.ipynb").write_bytes(_nb())
    (tmp_path / "link.ipynb").symlink_to(tmp_path / "real.ipynb")
    got = {s.file: s.status for s in _collect(tmp_path)}
    assert got == {"link.ipynb": "REFUSED", "real.ipynb": "OK"}


def test_not_a_source_is_one_error(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(MnistlabError, match="neither a folder of notebooks nor a zip"):
        _collect(tmp_path / "f.txt")


def test_parser_reads_the_labs_own_code_at_its_settings():
    ref = checks.reference()
    assert ref.datasets == {"ex1": "mnist", "ex2": "fashion_mnist"}
    assert parse.count_params(ref.steps["ex1"].layers) == 101_770  # the lab's summary() says so
    assert parse.count_params(ref.steps["ex2.ann"].layers) == 109_386
    assert parse.count_params(ref.steps["ex2.cnn"].layers) == 225_034
    assert ref.steps["ex1"].settings == {"optimizer": "adam", "loss": "sparse_categorical_crossentropy",
                                         "epochs": 5, "batch_size": 32, "validation": "data (x_test,y_test)"}
    assert ref.steps["ex2.augment"].settings["batch_size"] == 128


ALIASED = '''
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras.layers import Dense as D, Flatten as F
from tensorflow.keras.datasets import mnist as m
(x_train, y_train), (x_test, y_test) = m.load_data()
net = keras.models.Sequential([keras.Input(shape=(28, 28)), F(), D(128, 'relu'), tf.keras.layers.Dense(units=10,
                               activation="softmax")])
net.compile(keras.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
%time h = net.fit(x_train, y_train, 32, 5, validation_data=(x_test, y_test))
h = net.fit(x_train, y_train, 32, 5, validation_data=(x_test, y_test))
'''


def test_parser_tolerates_aliases_positional_arguments_and_magics():
    nb = {"cells": [{"cell_type": "code", "source": ALIASED, "outputs": [], "metadata": {}}], "metadata": {}}
    st = parse.read(nb).steps["ex1"]
    assert [ly.describe() for ly in st.layers] == ["Input()", "Flatten()", "Dense(128, activation='relu')",
                                                   "Dense(10, activation='softmax')"]
    assert st.settings["optimizer"] == "adam(learning_rate=0.01)"
    assert st.settings["epochs"] == 5 and st.settings["batch_size"] == 32
    diffs = checks.settings(st, checks.reference().steps["ex1"])
    assert len(diffs) == 1
    assert diffs[0].startswith("optimizer = adam(learning_rate=0.01) (TP : adam) [cell 1: net.compile(")


def test_parser_never_fails_on_broken_code():
    nb = {"cells": [{"cell_type": "code", "source": "def (:\n  x = = 1", "outputs": [{"output_type": 3}]},
                    {"cell_type": "code", "source": ["model = Sequential(", "[Dense(*a)])"], "outputs": "x"}],
          "metadata": []}
    got = parse.read(nb)
    assert got.code == ["def (:\n  x = = 1", "model = Sequential([Dense(*a)])"] and got.exec_counts == [None, None]
    layers = got.steps["ex1"].layers
    assert [ly.kind for ly in layers] == ["Dense"] and parse.count_params(layers) is None


def test_rubric_errors_name_the_item(tmp_path):
    shipped = rubric.load()
    assert shipped.max_points == sum(i.points for i in shipped.items) and len(shipped.items) > 40
    for text, msg in (('[[item]]\nid = "x"\nkind = "magic"\npoints = 1', "unknown kind"),
                      ('[[item]]\nid = "ex9.code"\nkind = "code"\nstep = "ex9"\npoints = 1', "unknown step"),
                      ('[[item]]\nid = "ex1.99.1"\nkind = "answer"\npoints = 1', "not a question of the lab"),
                      ('[thresholds]\nband_low = "p3"\n[[item]]\nid = "analysis"\nkind = "analysis"\npoints = 1',
                       "band_low must be one of"),
                      ('[thresholds]\nbogus = 1', "unknown threshold"), ("[[item", "unreadable rubric")):
        p = tmp_path / "r.toml"
        p.write_text(text)
        with pytest.raises(MnistlabError, match=msg):
            rubric.load(p)


def test_bands_from_run_folders_and_from_a_seeds_layout(tmp_path):
    one = bands.build([REPORT_RUN])
    assert one["n_runs"] == 1 and one["bands"]["ex1"]["test_accuracy"]["n"] == 1
    run = tmp_path / "seeds_run"
    shutil.copytree(REPORT_RUN, run)
    m = json.loads((REPORT_RUN / "ex2.ann" / "metrics.json").read_text())
    for seed, acc in ((43, 0.80), (44, 0.90)):
        d = run / "ex2.ann" / "seeds" / str(seed)
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps({**m, "test_accuracy": acc}))
        cfg = json.loads((REPORT_RUN / "ex2.ann" / "config.json").read_text())
        (d / "config.json").write_text(json.dumps({**cfg, "seed": seed}))
    b = bands.load(run)  # --reference RUN_DIR
    band = b["bands"]["ex2.ann"]["test_accuracy"]
    vals = [m["test_accuracy"], 0.80, 0.90]
    assert band["n"] == 3 and band["min"] == min(vals) and band["max"] == max(vals)
    assert band["p50"] == pytest.approx(sorted(vals)[1])
    assert {43, 44} <= set(b["seeds"])


def test_shipped_bands_say_how_they_were_made():
    b = bands.load()
    kinds = b["runs_by_cpu_kind"]
    assert b["n_runs"] == sum(k["n_runs"] for k in kinds.values()) > 11
    assert all(k["n_runs"] == len(k["seeds"]) for k in kinds.values())
    assert {"avx512-bf16", "avx2"} <= set(b["hardware"]["cpu_kinds"]) and b["versions"]["tensorflow"]
    assert all(b["at_lab_settings"].values())
    acc = b["bands"]["ex1"]["test_accuracy"]
    assert acc["min"] <= acc["max"] and acc["lo"] < acc["mean"] < acc["hi"]
    for kind in acc["by_cpu_kind"].values():
        assert kind["min"] <= kind["p5"] <= kind["p50"] <= kind["p95"] <= kind["max"]


def test_bad_band_file_is_one_error(tmp_path):
    p = tmp_path / "b.json"
    p.write_text('{"format": 2}')
    with pytest.raises(MnistlabError, match="not a band file"):
        bands.load(p)
    with pytest.raises(MnistlabError, match="not a run folder"):
        bands.build([tmp_path])


def test_zip_input_end_to_end(tmp_path):
    from mnistlab.grade import Options, grade

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Dupont Marie_12_assignsubmission_file_/TP2.ipynb", _nb())
        zf.writestr("../escape.ipynb", _nb())
    (tmp_path / "all.zip").write_bytes(buf.getvalue())
    gc.bands_file(tmp_path / "bands.json")
    entries = grade(tmp_path / "all.zip", tmp_path / "out", Options(reference=str(tmp_path / "bands.json")))
    assert sorted(e["status"] for e in entries) == ["OK", "REFUSED"]
    moodle = (tmp_path / "out" / "moodle_grades.csv").read_text(encoding="utf-8")
    assert "Participant12,Dupont Marie," in moodle  # Moodle's French "Participant" (no space), then the id
    assert not (tmp_path / "escape.ipynb").exists()


def test_an_output_folder_inside_the_submissions_is_not_graded(tmp_path):
    from mnistlab.grade import Options, grade

    (tmp_path / "A.ipynb").write_bytes(_nb())
    (tmp_path / "out" / "cache").mkdir(parents=True)
    (tmp_path / "out" / "cache" / "0123abcd.ipynb").write_bytes(_nb())  # an executed copy from --execute
    gc.bands_file(tmp_path / "bands.json")
    entries = grade(tmp_path, tmp_path / "out", Options(reference=str(tmp_path / "bands.json")))
    assert [e["file"] for e in entries] == ["A.ipynb"]


def test_a_result_without_a_band_is_not_graded_and_a_band_edge_is(tmp_path):
    from mnistlab.grade import score

    gc.bands_file(tmp_path / "b.json")
    b = bands.load(tmp_path / "b.json")
    del b["bands"]["ex2.augment"]
    rub = rubric.load()
    edge = b["bands"]["ex1"]["test_accuracy"]["lo"] - rub.thresholds["band_margin"]
    for acc, say in ((round(edge + 0.0001, 4), "results.in"), (round(edge - 0.0001, 4), "results.below")):
        nbk = parse.read(gc.lab_notebook("x", seed=1, acc={"ex1": acc}))
        marks = {m.item: m for m in score.grade(nbk, rub, b).marks}
        assert marks["ex1.results"].say == say, acc
        assert marks["ex2.augment.results"].say == "results.noband" and marks["ex2.augment.results"].max == 0


def test_a_reason_is_written_in_the_class_language_and_a_stored_one_is_checked():
    """Statuses' reasons come from the words files (French feedback without English in it); a reason read back
    from the execution cache (untrusted) is used only when it is a known sentence with plain values."""
    from mnistlab.grade.words import Why, why

    w = why("memory", mb=768)
    assert w.text("fr") == "ses processus ont ensemble dépassé la limite de mémoire de 768 Mo"
    assert str(w) == "its processes together went over the 768 MB memory limit"
    assert Why.from_json(w.to_json()) == w
    for bad in (["nope", {}], ["memory", {}], ["memory", {"mb": [1]}], "memory", ["memory", {"mb": True}]):
        assert Why.from_json(bad) is None


def test_a_summary_printed_after_training_counts_the_model_not_its_optimizer():
    """Keras 3's summary() of a trained model adds Adam's moments to its total: the model's own count is read."""
    from mnistlab.grade import outputs

    after_fit = (" Total params: 305,312 (1.16 MB)\n Trainable params: 101,770 (397.54 KB)\n"
                 " Non-trainable params: 0 (0.00 B)\n Optimizer params: 203,542 (795.09 KB)\n")
    assert outputs.summary_params(after_fit) == 101_770
    assert outputs.summary_params(" Total params: 101,770 (397.54 KB)\n") == 101_770
