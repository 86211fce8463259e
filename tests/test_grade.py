"""mnistlab grade on a hand-made class (tests/grade_cohort.py): every variant gets its computed verdict."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import grade_cohort as gc
import pytest

from mnistlab import cli
from mnistlab.grade import Options, grade


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cohort")
    subs = root / "subs"
    subs.mkdir()

    def put(name: str, nb) -> None:
        (subs / f"{name}.ipynb").write_text(nb if isinstance(nb, str) else json.dumps(nb), encoding="utf-8")

    alice = gc.lab_notebook("Alice Martin", seed=1)
    put("Alice Martin", alice)
    put("Bruno Petit", gc.lab_notebook("Bruno Petit", seed=2, epochs=10, units=256))  # settings changed
    put("Chloe Durand", gc.lab_notebook("Chloe Durand", seed=3, printed=0.9912))  # output edited by hand
    put("David Copie", alice)  # a copy under another name
    put("Emma Mnist", gc.lab_notebook("Emma", seed=5, ds2="mnist", acc={"ex2.ann": 0.978, "ex2.cnn": 0.990}))
    put("Farid Json", '{"cells": [')  # invalid JSON
    put("Gina Erreur", gc.lab_notebook("Gina", seed=7, error_in="ex1.fit"))  # a cell error
    put("Hugo Vide", gc.lab_notebook("Hugo", seed=8, answers=False))  # no answers
    put("Ines Outil", gc.lab_notebook("Ines", seed=9, generated=True))  # answers written by mnistlab notebook
    put("Jules Outil", gc.lab_notebook("Jules", seed=10, generated=True))
    late = gc.lab_notebook("Karim", seed=11)
    counts = iter([1, 2, 3, 7, 5])
    for c in late["cells"]:
        if c["cell_type"] == "code":
            c["execution_count"] = next(counts, None)
    put("Karim Ordre", late)  # run out of order
    evil = gc.lab_notebook("x", seed=12, answer_text={"ex1.1.1": "<script>alert(1)</script> **gras** [lien](http://x)"})
    put("<img src=x onerror=alert(1)>", evil)
    gc.bands_file(root / "bands.json")
    out = root / "out"
    gc.rubric_file(root / "rubric.toml")  # the rubric of the lab these notebooks were written for
    grade(subs, out, Options(reference=str(root / "bands.json"), rubric=str(root / "rubric.toml")))
    return root


def rows(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv", encoding="utf-8") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def flags(row: dict) -> set[str]:
    return set(filter(None, row["flags"].split(";")))


def test_grades_csv_has_a_column_per_rubric_item(cohort):
    from mnistlab.grade import rubric

    with open(cohort / "out" / "grades.csv", encoding="utf-8") as f:
        header = next(csv.reader(f))
    items = [i.id for i in rubric.load(cohort / "rubric.toml").items]
    assert header == ["student", "file", "status", "total", "max", *items, "flags"]
    assert "ex1.4.1" in header and "ex1.results" in header


def test_the_lab_followed_gets_everything_checkable(cohort):
    r = rows(cohort / "out")["Alice Martin"]
    assert r["status"] == "OK"
    for item in ("ex1.code", "ex1.outputs", "ex1.results", "ex2.cnn.results", "ex1.4.1", "ex1.2.3", "ex1.7.1",
                 "ex1.1.3", "ex2.confusion.code", "ex2.augment.results", "ex2.activations.results"):
        assert float(r[item]) > 0, item
    assert flags(r) == {"similar:David Copie"}


def test_settings_changed_are_flagged_and_cost_the_code_half(cohort):
    r = rows(cohort / "out")["Bruno Petit"]
    assert "settings-differ:ex1" in flags(r)
    assert float(r["ex1.code"]) == 0.5
    md = (cohort / "out" / "feedback" / "Bruno_Petit.md").read_text(encoding="utf-8")
    assert "epochs = 10 (TP : 5) \\[cell 6: epochs=10," in md and "Dense(256" in md
    assert "comparé à la bande du TP" in md


def test_an_output_edited_by_hand_is_inconsistent(cohort):
    r = rows(cohort / "out")["Chloe Durand"]
    assert "outputs-inconsistent:ex1" in flags(r)
    md = (cohort / "out" / "feedback" / "Chloe_Durand.md").read_text(encoding="utf-8")
    # like with like: the printed test accuracy against the fit log's last val_accuracy on the same test data
    assert "précision sur le test affichée 0,9912 mais la dernière val\\_accuracy du journal" in md
    assert "mêmes données de test, est 0,9751" in md


def test_a_copy_is_similar_with_evidence_and_independent_work_is_not(cohort):
    got = rows(cohort / "out")
    assert "similar:Alice Martin" in flags(got["David Copie"])
    assert not any(f.startswith("similar:") for f in flags(got["Bruno Petit"]) | flags(got["Hugo Vide"]))
    page = (cohort / "out" / "class.html").read_text(encoding="utf-8")
    assert "numbers" in page and "ex1 epoch 1 val_loss" in page


def test_mnist_for_exercise_two_is_the_wrong_dataset(cohort):
    r = rows(cohort / "out")["Emma Mnist"]
    assert "wrong-dataset:ex2" in flags(r)
    assert float(r["ex2.cnn.results"]) == 0


def test_invalid_json_is_broken_and_the_batch_goes_on(cohort):
    got = rows(cohort / "out")
    assert got["Farid Json"]["status"] == "BROKEN" and got["Farid Json"]["total"] == ""
    assert len(got) == 12
    md = (cohort / "out" / "feedback" / "Farid_Json.md").read_text(encoding="utf-8")
    assert "Notebook illisible : JSON invalide (ligne 1, colonne 12)." in md and "invalid JSON" not in md  # no English


def test_cell_errors_and_missing_outputs(cohort):
    r = rows(cohort / "out")["Gina Erreur"]
    assert "cell-errors" in flags(r) and float(r["ex1.outputs"]) == 0


def test_missing_answers_score_zero(cohort):
    r = rows(cohort / "out")["Hugo Vide"]
    assert float(r["ex1.1.1"]) == 0 and float(r["analysis"]) == 0 and float(r["ex1.code"]) == 1


def test_tool_written_answers_are_said_and_not_copying(cohort):
    got = rows(cohort / "out")
    for name in ("Ines Outil", "Jules Outil"):
        assert "generated-answers" in flags(got[name])
        assert not any(f.startswith("similar:") for f in flags(got[name]))


def test_out_of_order_execution(cohort):
    assert "out-of-order" in flags(rows(cohort / "out")["Karim Ordre"])


def test_names_and_answers_are_escaped(cohort):
    out = cohort / "out"
    page = (out / "class.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "<img src=x" not in page and "&lt;script&gt;" in page
    for f in (out / "feedback").glob("*.html"):
        assert "<img src=x" not in f.read_text(encoding="utf-8")
    md = next(p for p in (out / "feedback").glob("*.md") if "img" in p.name)
    assert "<img" not in md.read_text(encoding="utf-8")
    assert all("/" not in p.name for p in (out / "feedback").iterdir())


def test_feedback_states_the_band_in_french_and_english(cohort, tmp_path):
    from mnistlab.grade import bands
    from mnistlab.grade.words import num

    b = bands.band(bands.load(cohort / "bands.json"), "ex1", "test_accuracy")
    md = (cohort / "out" / "feedback" / "Alice_Martin.md").read_text(encoding="utf-8")
    assert (f"0,9751 dans la bande de référence \\[{num(b['lo'], 'fr')} ; {num(b['hi'], 'fr')}\\]" in md
            and "(10 exécutions de référence)" in md)
    assert "intervalle de prédiction à 99 % d'une nouvelle exécution" in md and "dans au plus 1 % des cas" in md
    assert "élargi au besoin jusqu'aux valeurs extrêmes" in md
    out = tmp_path / "en"
    grade(cohort / "subs", out, Options(reference=str(cohort / "bands.json"), lang="en", only=["Alice Martin"],
                                     rubric=str(cohort / "rubric.toml")))
    en = (out / "feedback" / "Alice_Martin.md").read_text(encoding="utf-8")
    assert f"0.9751 in the reference band \\[{num(b['lo'], 'en')}; {num(b['hi'], 'en')}\\]" in en
    assert "the 99 % prediction interval of a new run" in en
    assert "no code cell" not in en and "précision" not in en


def test_overrides_are_kept_and_only_regrades_one(cohort, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(cohort / "out", out)
    before = rows(out)
    (out / "overrides.csv").write_text("student,item,points,comment\nHugo Vide,ex1.1.1,0.25,réponse orale\n",
                                       encoding="utf-8")
    grade(cohort / "subs", out, Options(reference=str(cohort / "bands.json"), only=["Hugo Vide"],
                                     rubric=str(cohort / "rubric.toml")))
    after = rows(out)
    assert after["Hugo Vide"]["ex1.1.1"] == "0.25"
    assert float(after["Hugo Vide"]["total"]) == float(before["Hugo Vide"]["total"]) + 0.25
    assert after["Alice Martin"] == before["Alice Martin"] and len(after) == len(before)
    assert "réponse orale" in (out / "overrides.csv").read_text(encoding="utf-8")


def test_moodle_import_and_nothing_outside_out(cohort):
    out = cohort / "out"
    with open(out / "moodle_grades.csv", encoding="utf-8") as f:
        moodle = list(csv.DictReader(f))
    # the worksheet's columns in Moodle's French strings (the grading's language)
    assert {"Identifiant", "Nom complet", "Note", "Note maximale", "Dernière modification (note)",
            "Feedback par commentaires"} <= set(moodle[0])
    assert sorted(p.name for p in cohort.iterdir()) == ["bands.json", "out", "rubric.toml", "subs"]


def test_class_page_has_pass_rates_plot_and_review_queue(cohort):
    page = (cohort / "out" / "class.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "ex1.results" in page
    assert "Réponse de référence" in page  # the review queue puts the report's explanation beside the answers


def test_cli_grade_bad_source_is_one_line(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such folder or zip file" in err[0]
    assert not (tmp_path / "o").exists()


def test_cli_grade_shipped_bands_and_rubric(cohort, tmp_path, capsys):
    assert cli.main(["grade", str(cohort / "subs"), "--out", str(tmp_path / "o"), "--only", "Alice Martin"]) == 0
    assert "graded 1/1" in capsys.readouterr().err


def test_the_pipelines_stages_run_alone_and_a_failing_one_ends_only_that_submission(tmp_path):
    """Each stage takes the work and adds its part; a stage that raises makes the submission BROKEN with the
    reason in the class's language, and the whole pipeline gives what `grade` gives."""
    from mnistlab.grade import bands, pipeline, rubric, submissions

    src = Path(__file__).parent / "grade_corpus" / "c01_interleaved_fr" / "submission.ipynb"
    (tmp_path / "in").mkdir()
    shutil.copy(src, tmp_path / "in" / "Alice Martin.ipynb")
    sub = submissions.load(submissions.collect(tmp_path / "in")[0])
    ctx = pipeline.Context(tmp_path / "out", rubric.load(None), bands.load(None), {}, Options())
    w = pipeline.start(sub, ctx)
    pipeline.view(w)
    pipeline.read(w)
    assert w.nbk is not None and "ex2.cnn" in w.nbk.steps and w.graded is None
    pipeline.score(w)
    assert w.graded.total > 0 and w.entry["total"] is None  # nothing recorded until the record stage

    def boom(work):
        raise KeyError("nothing")

    broken = pipeline.run(sub, ctx, stages=(pipeline.view, pipeline.read, boom, pipeline.record))
    assert broken["status"] == "BROKEN" and "KeyError" in broken["reason"] and broken["marks"] == []
    whole = pipeline.run(sub, ctx)
    graded = grade(tmp_path / "in", tmp_path / "out", stream=io.StringIO())
    assert whole["total"] == graded[0]["total"] and whole["flags_evidence"] == graded[0]["flags_evidence"]
