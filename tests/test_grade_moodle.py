"""The grader's files for Moodle and for the instructor's spreadsheet, on files written by hand the way Moodle and
a spreadsheet write them: the offline grading worksheet (English and French sites) filled and written back, the
overrides an instructor saves (French Excel: ``;``, Windows-1252, decimal comma), formula-safe CSV for ``,``
and ``;`` readers, ``--only`` on a damaged grades.csv, the class page, and the bands' prediction interval."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
from pathlib import Path

import grade_cohort as gc
import pytest
from scipy import stats

from mnistlab import cli
from mnistlab.errors import MnistlabError
from mnistlab.grade import Options, bands, classpage, grade, moodle, rubric, tables

EN_HEADER = ('"Identifier","Full name","Email address","Status","Grade","Maximum Grade","Grade can be changed",'
             '"Last modified (submission)","Last modified (grade)","Feedback comments"')
FR_HEADER = ('Identifiant,"Nom complet","Adresse de courriel",Statut,Note,"Note maximale",'
             '"La note peut être modifiée","Dernière modification (travail remis)","Dernière modification (note)",'
             '"Feedback par commentaires"')
EN_DATE = re.compile(r"^[A-Z][a-z]+day, \d{1,2} [A-Z][a-z]+ \d{4}, \d{1,2}:\d{2} [AP]M$")
FR_DATE = re.compile(r"^[a-z]+ \d{1,2} [a-zéû]+ \d{4}, \d{2}:\d{2}$")


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    """A Moodle "download all" unpacked: folders per student (and one flat file), as Moodle names them."""
    root = tmp_path_factory.mktemp("klass")
    subs = root / "subs"

    def put(rel: str, nb) -> None:
        (subs / rel).parent.mkdir(parents=True, exist_ok=True)
        (subs / rel).write_text(json.dumps(nb), encoding="utf-8")

    put("Alice Martin_1001_assignsubmission_file_/TP2.ipynb", gc.lab_notebook("Alice Martin", seed=1))
    put("Bruno Petit_1002_assignsubmission_file_TP2_Bruno.ipynb", gc.lab_notebook("Bruno", seed=2, answers=False))
    put("chloe.durand@example.edu.ipynb", gc.lab_notebook("Chloe", seed=3))
    put("Élodie Bernard.ipynb", gc.lab_notebook("Elodie", seed=4))
    put("Zoe Absente.ipynb", gc.lab_notebook("Zoe", seed=5))  # not in the worksheet
    gc.bands_file(root / "bands.json")
    return root


def en_sheet(path: Path) -> Path:
    path.write_text("\n".join([
        EN_HEADER,
        '"Participant 1001","Alice Martin","alice.martin@example.edu","Submitted for grading","","20.00","Yes",'
        '"Monday, 30 November 2026, 10:12 AM","-",""',
        '"Participant 1002","Bruno Petit","bruno.petit@example.edu","Submitted for grading","","20.00","Yes",'
        '"Tuesday, 1 December 2026, 9:03 PM","-",""',
        '"Participant 1003","Chloé Durand","chloe.durand@example.edu","Submitted for grading","","20.00","Yes",'
        '"Tuesday, 1 December 2026, 11:40 PM","-",""',
        '"Participant 1004","Bernard Élodie","elodie.bernard@example.edu","Submitted for grading","","20.00","Yes",'
        '"Wednesday, 2 December 2026, 8:00 AM","-",""',
        '"Participant 1005","Yann Rendu","yann.rendu@example.edu","No submission","","20.00","Yes","-","-",""',
    ]) + "\n", encoding="utf-8")
    return path


def fr_sheet(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    rows = [["Participant1001", "Alice Martin", "alice.martin@example.edu", "Remis pour évaluation", "", "20,00",
             "Oui", "lundi 30 novembre 2026, 10:12", "-", ""],
            ["Participant1002", "Bruno Petit", "bruno.petit@example.edu", "Remis pour évaluation", "", "20,00",
             "Oui", "mardi 1 décembre 2026, 21:03", "-", ""],
            ["Participant1005", "Yann Rendu", "yann.rendu@example.edu", "Aucun travail remis", "", "20,00", "Oui",
             "-", "-", ""]]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    header = next(csv.reader([FR_HEADER]))
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def read(path: Path, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8")), delimiter=delimiter))


def test_english_worksheet_round_trip(klass, tmp_path, capsys):
    sheet = en_sheet(tmp_path / "Grades-TP2-42.csv")
    out = tmp_path / "out"
    assert cli.main(["grade", str(klass / "subs"), "--out", str(out), "--reference", str(klass / "bands.json"),
                     "--worksheet", str(sheet), "--lang", "en"]) == 0
    err = capsys.readouterr().err
    back = read(out / "Grades-TP2-42-graded.csv")
    original = read(sheet)
    assert back[0] == original[0] and len(back) == len(original)  # the same columns, the same rows, in order
    got = {r[1]: dict(zip(back[0], r, strict=True)) for r in back[1:]}
    graded = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open(encoding="utf-8"))}
    alice = graded["Alice Martin"]
    expected = float(alice["total"]) / float(alice["max"]) * 20
    assert got["Alice Martin"]["Grade"] == f"{expected:.2f}"  # matched by participant id, scaled to the 20.00
    for name in ("Alice Martin", "Bruno Petit", "Chloé Durand", "Bernard Élodie"):  # id, id in a flat file name,
        assert got[name]["Grade"], name                                              # email, name (order, accents)
        assert EN_DATE.match(got[name]["Last modified (grade)"]), got[name]["Last modified (grade)"]
    assert got["Yann Rendu"] == dict(zip(original[0], original[5], strict=True))  # no submission: untouched
    assert "Zoe Absente: not in the worksheet" in err and "4 students filled" in err
    bruno = got["Bruno Petit"]["Feedback comments"]  # no answers: each question in words, never an item id
    assert "What is the difference" not in bruno  # the lab's questions are quoted in the lab's words (French)
    assert "“Quelle est la différence entre TensorFlow et Keras ?”: No answer." in bruno
    assert bruno.count("<li>") >= 40 and not re.search(r"\bex1\.\d\.\d\b", bruno)


def test_french_worksheet_saved_by_excel_with_semicolons(klass, tmp_path):
    sheet = fr_sheet(tmp_path / "Notes-TP2.csv", delimiter=";", encoding="cp1252")
    out = tmp_path / "out"
    grade(klass / "subs", out, Options(reference=str(klass / "bands.json"), worksheet=str(sheet)))
    back = read(out / "Notes-TP2-graded.csv", delimiter=";")
    assert back[0] == next(csv.reader([FR_HEADER]))  # the French headers, as they were
    row = dict(zip(back[0], back[1], strict=True))
    total = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open(encoding="utf-8"))}["Alice Martin"]
    assert row["Note"] == f"{float(total['total']) / float(total['max']) * 20:.2f}".replace(".", ",")
    assert FR_DATE.match(row["Dernière modification (note)"]), row["Dernière modification (note)"]
    assert "Total : " in row["Feedback par commentaires"]
    bruno = dict(zip(back[0], back[2], strict=True))["Feedback par commentaires"]
    assert "« Quelle est la différence entre TensorFlow et Keras ? » : Pas de réponse." in bruno
    assert back[3][4] == ""  # Yann Rendu: no submission, no grade


def test_scale_and_bad_worksheets_are_one_line(klass, tmp_path, capsys):
    sheet = en_sheet(tmp_path / "w.csv")
    args = ["grade", str(klass / "subs"), "--out", str(tmp_path / "o"), "--reference", str(klass / "bands.json")]
    assert cli.main([*args, "--worksheet", str(sheet), "--scale", "10"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--scale 10 but the worksheet's 'Maximum Grade' is 20" in err[0]
    (tmp_path / "x.csv").write_text("Name,Score\nAlice,3\n", encoding="utf-8")
    assert cli.main([*args, "--worksheet", str(tmp_path / "x.csv")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a Moodle offline grading worksheet" in err[0] and "'Identifier'" in err[0]
    assert not (tmp_path / "o" / "grades.csv").exists()


def test_without_worksheet_the_import_file_and_gradebook_by_email(klass, tmp_path):
    out = tmp_path / "out"
    grade(klass / "subs", out, Options(reference=str(klass / "bands.json"), lang="en", scale=20))
    rows = list(csv.DictReader((out / moodle.MOODLE).open(encoding="utf-8")))
    ids = {r["Full name"]: r["Identifier"] for r in rows}
    assert ids["Alice Martin"] == "Participant 1001"
    assert ids["Bruno Petit_1002_assignsubmission_file_TP2_Bruno"] == "Participant 1002"  # a flat Moodle file name
    assert all(EN_DATE.match(r["Last modified (grade)"]) for r in rows)
    assert all(0 <= float(r["Grade"]) <= 20 for r in rows) and {r["Maximum grade"] for r in rows} == {"20.00"}
    book = list(csv.DictReader((out / moodle.GRADEBOOK).open(encoding="utf-8")))
    assert [r["Email address"] for r in book] == ["chloe.durand@example.edu"]  # the only email known


def test_only_keeps_everyone_else_and_refreshes_the_class_page(klass, tmp_path):
    sheet = en_sheet(tmp_path / "w.csv")
    out = tmp_path / "out"
    opts = dict(reference=str(klass / "bands.json"), worksheet=str(sheet), lang="en")
    grade(klass / "subs", out, Options(**opts))
    before = read(out / "w-graded.csv")
    page_before = (out / "class.html").read_text(encoding="utf-8")
    (out / "overrides.csv").write_text("student,item,points,comment\nBruno Petit,ex1.1.1,0.25,answered orally\n",
                                       encoding="utf-8")
    grade(klass / "subs", out, Options(**opts, only=["Bruno Petit_1002_assignsubmission_file_TP2_Bruno"]))
    after = read(out / "w-graded.csv")
    original = read(sheet)
    for i in (1, 3, 4, 5):  # everyone else: grade and comment kept, the worksheet's own date left for Moodle
        assert after[i][4] == before[i][4] and after[i][9] == before[i][9]
        assert after[i][8] == original[i][8]
    assert after[2][4] != before[2][4] and "answered orally" in after[2][9]
    assert EN_DATE.match(after[2][8])  # the re-graded student's grade is new: now
    page = (out / "class.html").read_text(encoding="utf-8")
    assert "re-graded with --only" in page and "re-graded with --only" not in page_before
    review = page.split("To review")[1]  # the kept students' answers are still in the review queue
    assert "Quelle est la différence entre TensorFlow et Keras ? (4)</summary>" in review
    for name in ("Alice Martin", "Zoe Absente", "chloe.durand@example.edu"):
        assert name in review


def test_overrides_are_checked(klass, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    base = Options(reference=str(klass / "bands.json"))
    for text, message in [
        ("student,item,points,comment\nAlice Martin,ex1.1.1,3,x\n", "line 2: 3 points for ex1.1.1, which is worth 0"),
        ("student,item,points,comment\nAlice Martin,ex9.code,0,x\n", "line 2: 'ex9.code' is not an item"),
        ("student,item,points,comment\nAlice Martin,ex1.1.1,-1,x\n", "line 2: -1 points"),
        ("student,item,points,comment\nNobody Here,ex1.1.1,0.25,x\n", "no submission of 'Nobody Here'"),
        ("student,item,points,comment\nAlice Martin,ex1.1.1,0,5,x\n", "line 2: 5 fields for 4 columns"),
        ("who,points\nAlice,1\n", "line 1: the header must name the columns"),
    ]:
        (out / "overrides.csv").write_text(text, encoding="utf-8")
        with pytest.raises(MnistlabError, match=re.escape(message)):
            grade(klass / "subs", out, base)
    assert not (out / "grades.csv").exists()


def test_override_saved_by_french_excel_replaces_the_reason(klass, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "overrides.csv").write_bytes("student;item;points;comment\r\nBruno Petit;ex1.1.1;0,25;réponse orale "
                                        "vérifiée\r\n".encode("cp1252"))
    grade(klass / "subs", out, Options(reference=str(klass / "bands.json")))
    row = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open(encoding="utf-8"))}
    assert row["Bruno Petit_1002_assignsubmission_file_TP2_Bruno"]["ex1.1.1"] == "0.25"
    md = next((out / "feedback").glob("Bruno*.md")).read_text(encoding="utf-8")
    line = next(x for x in md.splitlines() if x.startswith("| ex1.1.1 "))
    assert "réponse orale vérifiée" in line and "Pas de réponse" not in line  # no false reason beside the points


def test_two_students_with_one_name_are_refused_in_overrides(tmp_path):
    subs = tmp_path / "subs"
    for folder in ("Marie Dupont_2001_assignsubmission_file_", "Marie Dupont_2002_assignsubmission_file_"):
        (subs / folder).mkdir(parents=True)
        (subs / folder / "TP2.ipynb").write_text(json.dumps(gc.lab_notebook("Marie", seed=1)), encoding="utf-8")
    gc.bands_file(tmp_path / "bands.json")
    out = tmp_path / "out"
    out.mkdir()
    (out / "overrides.csv").write_text("student,item,points,comment\nMarie Dupont,ex1.1.1,0,x\n", encoding="utf-8")
    with pytest.raises(MnistlabError, match="2 submissions are named 'Marie Dupont'.*write the file instead"):
        grade(subs, out, Options(reference=str(tmp_path / "bands.json")))
    (out / "overrides.csv").write_text("student,item,points,comment\nMarie Dupont_2002_assignsubmission_file_/"
                                       "TP2.ipynb,ex1.1.1,0,not hers\n", encoding="utf-8")
    grade(subs, out, Options(reference=str(tmp_path / "bands.json")))
    rows = list(csv.DictReader((out / "grades.csv").open(encoding="utf-8")))
    assert sorted(r["ex1.1.1"] for r in rows) == ["0", "0.25"]


@pytest.mark.parametrize("text", ["TP2_x;=1+1;.ipynb", "=HYPERLINK(\"http://x\")", "a,-2+3", "+cmd|' /C calc'!A0",
                                  "@SUM(A1)", "x;\t=1", "ok;'=1", "'=quoted"])
def test_every_field_is_safe_for_comma_and_semicolon_readers(text):
    guarded = tables.cell(text)
    for sep in (",", ";"):
        assert not any(part[:1] in "=+-@\t\r" for part in re.split(r"[,;\t]", guarded) if part not in ("", "-")), (
            sep, guarded)
    assert tables.uncell(guarded) == text
    assert tables.cell("-") == "-" and tables.cell("-0.5") == "-0.5" and tables.cell("Jean-Pierre") == "Jean-Pierre"


def test_a_formula_in_a_file_name_stays_text_in_grades_csv(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "TP2_x;=1+1;.ipynb").write_text(json.dumps(gc.lab_notebook("x", seed=1)), encoding="utf-8")
    gc.bands_file(tmp_path / "bands.json")
    out = tmp_path / "out"
    grade(subs, out, Options(reference=str(tmp_path / "bands.json")))
    raw = (out / "grades.csv").read_text(encoding="utf-8")
    for line in raw.splitlines():
        assert not any(cell[:1] in "=+@" for cell in re.split(r"[,;]", line) if cell), line  # Excel splits on ;
    assert tables.read_grades(out / "grades.csv")[0]["file"] == "TP2_x;=1+1;.ipynb"


def test_a_truncated_grades_csv_with_only_is_one_line(klass, tmp_path, capsys):
    out = tmp_path / "out"
    grade(klass / "subs", out, Options(reference=str(klass / "bands.json")))
    text = (out / "grades.csv").read_text(encoding="utf-8")
    (out / "grades.csv").write_text(text[: len(text) // 2], encoding="utf-8")  # cut in the middle of a row
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    assert cli.main(["grade", str(klass / "subs"), "--out", str(out), "--reference", str(klass / "bands.json"),
                     "--only", "Alice Martin"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "grades.csv" in err[0] and "truncated or garbled" in err[0]
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # nothing rewritten


def test_class_page_shows_every_flag_the_totals_and_item_means(klass):
    rub = rubric.load()
    rows = [{"student": f"S{i}", "file": f"s{i}.ipynb", "status": "OK", "total": t, "max": 26.0,
             "items": {"ex1.1.1": 0.25 if i % 2 else 0.0, "ex1.code": 1.0},
             "flags": flags, "flags_evidence": [(f, "evidence " + f) for f in flags]}
            for i, (t, flags) in enumerate([(10.0, ["missing-steps:ex2.cnn"]), (12.5, ["no-answers"]),
                                             (22.0, ["outputs-inconsistent:ex1", "out-of-order"]),
                                             (25.0, ["wrong-dataset:ex2", "missing-outputs:ex1"]),
                                             (24.0, ["a-flag-not-yet-in-words"])])]
    rows.append({"student": "Broken", "file": "b.ipynb", "status": "BROKEN", "total": None, "max": 26.0,
                 "items": {}, "flags": []})
    for lang, words in (("fr", ("étapes du TP manquantes", "aucune réponse aux questions", "mauvais jeu de données",
                                "sorties incohérentes", "dans le désordre", "sorties manquantes",
                                "Distribution des totaux", "moyenne 18,70", "Points moyens")),
                        ("en", ("steps of the lab missing", "no answers to the questions", "wrong data set",
                                "Distribution of totals", "mean 18.70", "Mean points"))):
        page = classpage.page(rows, rub, [], bands.load(klass / "bands.json"), lang)
        for w in words:
            assert w in page, (lang, w)
        assert "a-flag-not-yet-in-words" in page and "data:image/png;base64," in page
        assert "Quelle est la différence entre TensorFlow et Keras ?" in page  # the question beside its mean
        assert "0,10 / 0,25" in page if lang == "fr" else "0.10 / 0.25" in page  # 2 of 5 graded got 0.25
        if lang == "fr":
            assert not re.search(r"reference runs|invalid JSON|\d figures", page)


def test_bands_are_a_prediction_interval_with_pooled_cpu_kinds():
    a, b = [0.970, 0.975, 0.973, 0.978, 0.972], [0.969, 0.974, 0.971, 0.976, 0.977, 0.973, 0.975]
    sa, sb = bands.summarise(a), bands.summarise(b)
    pooled = bands.pool([sa, sb])
    union = a + b
    mean = sum(union) / len(union)
    sd = math.sqrt(sum((x - mean) ** 2 for x in union) / (len(union) - 1))
    assert pooled["n"] == 12 and math.isclose(pooled["mean"], mean) and math.isclose(pooled["sd"], sd)
    lo, hi = bands.interval(mean, sd, 12)
    half = stats.t.ppf(0.995, 11) * sd * math.sqrt(1 + 1 / 12)
    assert math.isclose(lo, mean - half) and math.isclose(hi, mean + half)
    one = {"format": 1, "n_runs": 5, "seeds": [1, 2, 3, 4, 5], "hardware": {"cpu_kind": "avx512-bf16"},
           "versions": {}, "bands": {"ex1": {"test_accuracy": sa}}}
    two = {"format": 1, "n_runs": 7, "seeds": list(range(11, 18)), "hardware": {"cpu_kind": "avx2"},
           "versions": {}, "bands": {"ex1": {"test_accuracy": sb}}}
    merged = bands.merge(one, two)
    got = bands.band(merged, "ex1", "test_accuracy")
    assert merged["hardware"]["cpu_kinds"] == ["avx2", "avx512-bf16"] and merged["n_runs"] == 12
    assert math.isclose(got["lo"], lo) and math.isclose(got["hi"], hi) and got["n"] == 12
    assert set(got["by_cpu_kind"]) == {"avx2", "avx512-bf16"} and merged["method"]["rate"] == 0.01
    with pytest.raises(MnistlabError, match="avx2 are in two"):
        bands.merge(two, two)


def test_the_shipped_band_file_states_its_method_and_cpu_kinds():
    data = bands.load()
    assert data["format"] == 2 and data["method"]["name"] == "prediction-interval-t"
    assert data["method"]["rate"] <= 0.01 and data["hardware"]["cpu_kinds"]
    for step in data["bands"]:
        b = bands.band(data, step, "test_accuracy") or bands.band(data, step, "val_accuracy.relu")
        assert b is not None and b["lo"] < b["mean"] < b["hi"], step
        assert sum(g["n"] for g in b["by_cpu_kind"].values()) == b["n"]


def test_worksheet_dates_are_moodles():
    import datetime

    when = datetime.datetime(2026, 12, 7, 14, 5)
    assert moodle.moodle_date(when, "en") == "Monday, 7 December 2026, 2:05 PM"
    assert moodle.moodle_date(when, "fr") == "lundi 7 décembre 2026, 14:05"
    assert moodle.moodle_date(when.replace(hour=0), "en").endswith(", 12:05 AM")


def test_worksheet_output_is_under_out_and_the_download_is_kept(klass, tmp_path):
    sheet = en_sheet(tmp_path / "w.csv")
    text = sheet.read_text(encoding="utf-8")
    out = tmp_path / "out"
    grade(klass / "subs", out, Options(reference=str(klass / "bands.json"), worksheet=str(sheet)))
    assert sheet.read_text(encoding="utf-8") == text and (out / "w-graded.csv").is_file()
    shutil.rmtree(out)


def test_a_value_a_reference_run_gave_is_never_outside_its_band():
    """Seed 42 (every mnistlab notebook's) gave the ANN 0.8649 on AVX2, below the interval of the other runs:
    the band reaches down to it, and only there; elsewhere the band is the prediction interval."""
    values = [0.8737, 0.8785, 0.8712, 0.8766, 0.8762, 0.8766, 0.8723, 0.8745, 0.8692, 0.8759, 0.8649]
    s = bands.summarise(values)
    lo, hi = bands.interval(s["mean"], s["sd"], s["n"])
    assert s["lo"] == min(lo, 0.8649) and s["hi"] == hi
    rest = bands.summarise(values[:-1])
    assert (rest["lo"], rest["hi"]) == bands.interval(rest["mean"], rest["sd"], rest["n"])  # no run outside it
    merged = bands.merge({"format": 1, "n_runs": 11, "seeds": list(range(11)), "hardware": {"cpu_kind": "avx2"},
                          "versions": {}, "bands": {"ex2.ann": {"test_accuracy": s}}})
    assert bands.band(merged, "ex2.ann", "test_accuracy")["lo"] <= 0.8649


def test_a_notebooks_run_folder_is_the_lab_code_group(tmp_path):
    """mnistlab notebook's run folder (its manifest's command) holds runs of the lab's own cells."""
    run = tmp_path / "nb"
    shutil.copytree(Path(__file__).parent / "report_run", run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["command"] = ["notebook", "--data", "d"]
    manifest.setdefault("hardware", {})["cpu_kind"] = "avx2"
    (run / "manifest.json").write_text(json.dumps(manifest))
    built = bands.build([run])
    assert list(built["runs_by_cpu_kind"]) == ["avx2/lab-code"] and built["hardware"]["cpu_kinds"] == ["avx2"]
