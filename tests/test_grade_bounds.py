"""The grader's bounds without ``--execute``: odd numbers, big or many cells, special files, long names in any
script, a misplaced ``--out``. Every case is generated here at a size that keeps the test fast; the same
generators at full size are in benchmarks/hostile_notebooks.py, which prints time and peak memory."""

from __future__ import annotations

import io
import json
import math
import os
import socket
import stat
import sys
import threading
import unicodedata
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import grade_cohort as gc  # noqa: E402
import hostile_notebooks as hn  # noqa: E402

from mnistlab.errors import MnistlabError  # noqa: E402
from mnistlab.grade import Options, grade, limits, parse, rubric, score, submissions  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
TH = rubric.load().thresholds


class _Ans:
    def __init__(self, text: str) -> None:
        self.text, self.words = text, len(text.split())


def _fact_item(fact: str, step: str = "ex1"):
    return next(i for i in rubric.load().items if i.kind == "fact" and i.fact == fact)


def _nbk(n_train=None, params=None, acc=None) -> parse.Notebook:
    nbk = parse.read({"cells": [], "metadata": {}})
    nbk.n_train = n_train
    st_ = nbk.steps.setdefault("ex1", parse.Step("ex1"))
    st_.summary_params, st_.printed_accuracy = params, acc
    return nbk


ODD = st.one_of(
    st.from_regex(r"\A[0-9]{1,500}\Z"),  # huge integers
    st.from_regex(r"\A[0-9]{1,5}[.,][0-9]{1,400}\Z"),  # long decimals, French commas
    st.from_regex(r"\A[0-9]{1,3}([,\u202f\u00a0 ][0-9]{3}){1,150}\Z"),  # thousands separators
    st.from_regex(r"\A[0-9]{1,3}e[+-]?[0-9]{1,6}\Z"),  # exponents
    st.sampled_from(["inf", "nan", "-inf", "1e999", "NaN %", "∞", "1,5e308", "0,9739", "97.39 %", "101 770"]),
    st.text(alphabet="0123456789.,% e-\u202f\u00a0", max_size=300),
)


@SETTINGS
@given(words=st.lists(ODD, min_size=1, max_size=6))
@example(words=["6" + "0" * 400])
@example(words=["1" + "0" * 5000])
def test_numbers_in_answers_are_finite_and_never_raise(words):
    text = "il y a " + " et ".join(words) + " images"
    nums = score._numbers(text)
    assert all(isinstance(x, float) and math.isfinite(x) for x in nums)


@SETTINGS
@given(expected=st.one_of(st.integers(min_value=-10**600, max_value=10**600),
                          st.floats(allow_nan=True, allow_infinity=True)),
       words=st.lists(ODD, min_size=0, max_size=4))
@example(expected=6 * 10**400, words=["6" + "0" * 400])
@example(expected=60000, words=["6" + "0" * 400, "60 000"])
def test_a_fact_is_marked_whatever_the_numbers(expected, words):
    text = "Il y a " + " ou ".join(words) + " exemples d'entraînement ici."
    for fact, nbk in (("n_train", _nbk(n_train=expected)), ("params", _nbk(params=expected)),
                      ("test_accuracy", _nbk(acc=expected))):
        mark = score._fact(_fact_item(fact), _Ans(text), nbk, TH)
        assert mark.say in ("fact.ok", "fact.wrong", "fact.noquote", "fact.unchecked")
        assert 0 <= mark.points <= mark.max


def test_a_printed_shape_of_400_zeros_leaves_the_fact_unchecked():
    nbk = parse.read(hn.huge_n_train(400))
    assert nbk.n_train is None  # a count of 401 digits is no shape: not read
    mark = score._fact(_fact_item("n_train"), _Ans("il y a " + "6" + "0" * 400 + " images"), nbk, TH)
    assert mark.say == "fact.unchecked" and mark.review


@pytest.mark.parametrize("digits", [13, 4_301, 5_000])
def test_printed_integers_past_int_limit_are_not_read_and_never_raise(digits):
    from mnistlab.grade import outputs

    n = "6" + "0" * (digits - 1)
    assert outputs.n_train(f"x_train shape: ({n}, 28, 28)") is None
    assert outputs.summary_params(f"Total params: {n} (397.54 KB)") is None
    assert outputs.matrix_sum(f"[[{n} 1]\n [2 3]]") is None
    assert outputs.n_train("x_train shape: (60000, 28, 28)") == 60000
    assert outputs.summary_params("Total params: 101,770 (397.54 KB)") == 101770
    assert outputs.matrix_sum("[[980 0]\n [1 1134]]") == 2115


def test_a_notebook_printing_5000_digit_integers_is_graded(tmp_path):
    n = "6" + "0" * 4_999
    nb = hn.notebook([hn.code("print(x_train.shape)\nmodel.summary()\nprint(cm)",
                              [hn.stream(f"x_train shape: ({n}, 28, 28)\nTotal params: {n}\n[[{n} 1]\n [2 3]]\n")])])
    _write(tmp_path / "class", "Yan Huge.ipynb", nb)
    (e,) = grade(tmp_path / "class", tmp_path / "out", _bands(tmp_path), stream=io.StringIO())
    assert e["status"] == "OK", e


# --- the batch: one notebook in memory at a time, every submission a status --------------------------------


def _bands(tmp_path: Path) -> Options:
    gc.bands_file(tmp_path / "bands.json")
    return Options(reference=str(tmp_path / "bands.json"))


def _write(folder: Path, name: str, nb: dict | bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(nb if isinstance(nb, bytes) else json.dumps(nb).encode())


def test_a_printed_shape_of_400_zeros_does_not_stop_the_batch(tmp_path):
    _write(tmp_path / "class", "Zoe Zero.ipynb", hn.huge_n_train(400))
    _write(tmp_path / "class", "Yan Huge.ipynb", hn.huge_n_train(5_000))  # past int()'s 4,300 digits
    _write(tmp_path / "class", "Alice Martin.ipynb", gc.lab_notebook("Alice Martin", seed=1))
    entries = grade(tmp_path / "class", tmp_path / "out", _bands(tmp_path), stream=io.StringIO())
    got = {e["student"]: e["status"] for e in entries}
    assert got == {"Alice Martin": "OK", "Zoe Zero": "OK", "Yan Huge": "OK"}
    assert "Zoe Zero" in (tmp_path / "out" / "grades.csv").read_text(encoding="utf-8-sig")


def test_an_error_of_the_grader_on_one_notebook_fails_that_notebook_only(tmp_path, monkeypatch):
    for name in ("Ana", "Bob"):
        _write(tmp_path / "class", f"{name}.ipynb", gc.lab_notebook(name, seed=1))
    real = score.grade

    def flaky(nbk, *a, **k):
        if "Ana" in nbk.markdown[0][1]:
            raise ZeroDivisionError("as an unforeseen notebook might make it")
        return real(nbk, *a, **k)

    monkeypatch.setattr(score, "grade", flaky)
    entries = grade(tmp_path / "class", tmp_path / "out", _bands(tmp_path), stream=io.StringIO())
    got = {e["student"]: (e["status"], e["reason"]) for e in entries}
    assert got["Bob"][0] == "OK" and got["Ana"][0] == "BROKEN" and "ZeroDivisionError" in got["Ana"][1]
    assert (tmp_path / "out" / "grades.csv").is_file()


def test_the_batch_keeps_one_notebook_in_memory_at_a_time(tmp_path, monkeypatch):
    for i in range(4):
        _write(tmp_path / "class", f"Student {i}.ipynb", gc.lab_notebook(f"Student {i}", seed=i))
    live, most = set(), [0]
    load, release = submissions.load, submissions.release

    def counting_load(sub):
        load(sub)
        if sub.nb is not None:
            live.add(id(sub))
            most[0] = max(most[0], len(live))
        return sub

    def counting_release(sub):
        live.discard(id(sub))
        release(sub)

    monkeypatch.setattr(submissions, "load", counting_load)
    monkeypatch.setattr(submissions, "release", counting_release)
    entries = grade(tmp_path / "class", tmp_path / "out", _bands(tmp_path), stream=io.StringIO())
    assert [e["status"] for e in entries] == ["OK"] * 4 and all(e.get("fingerprint") for e in entries)
    assert most[0] == 1 and not live


# --- caps per cell and per notebook ---------------------------------------------------------------------------


def _flags(entry: dict) -> dict[str, str]:
    return dict(entry["flags_evidence"])


def test_a_huge_code_cell_is_not_read_and_the_feedback_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_CELL_CODE", 2_000)
    nb = gc.lab_notebook("Big Literal", seed=2)
    nb["cells"].insert(3, hn.code("x=[" + ",".join(["1"] * 5_000) + "]"))
    _write(tmp_path / "class", "Big Literal.ipynb", nb)
    (e,) = grade(tmp_path / "class", tmp_path / "out", _bands(tmp_path), stream=io.StringIO())
    assert e["status"] == "OK" and e["total"] > 0
    assert _flags(e)["code-not-read"].endswith("2\u202f000 caractères par cellule, 400\u202f000 par notebook) : "
                                               "cellules 4")
    feedback = next((tmp_path / "out" / "feedback").glob("*.md")).read_text(encoding="utf-8")
    assert "code-not-read" in feedback


def test_code_past_the_notebook_budget_is_not_read(monkeypatch):
    monkeypatch.setattr(limits, "MAX_CODE", 10)
    nb = hn.notebook([hn.code("a = 1"), hn.code("b = 2"), hn.code("c = 3")])
    view, flags = limits.view(nb)
    assert [parse.source(c) for c in view["cells"]] == ["a = 1", "b = 2", ""]
    assert flags[0][0] == "code-not-read" and nb["cells"][2]["source"] == "c = 3"  # the submission is whole


def test_huge_markdown_is_cut_and_huge_printed_text_not_read(monkeypatch):
    monkeypatch.setattr(limits, "MAX_CELL_MARKDOWN", 100)
    monkeypatch.setattr(limits, "MAX_OUTPUT_TEXT", 1_000)
    image = {"output_type": "display_data", "data": {"image/png": "iVBOR"}, "metadata": {}}
    nb = hn.notebook([hn.markdown("### Analyse\n\n" + "mot " * 1_000),
                      hn.code("print(x)", [hn.stream("a" * 600)]),
                      hn.code("print(y)", [hn.stream("b" * 600), image])])
    view, flags = limits.view(nb, "en")
    assert len(parse.source(view["cells"][0])) == 100
    assert view["cells"][1]["outputs"] == nb["cells"][1]["outputs"] and view["cells"][2]["outputs"] == [image]
    assert dict(flags).keys() == {"markdown-cut", "outputs-not-read"}
    assert "cells 3" in dict(flags)["outputs-not-read"]
    nbk = parse.read(view)
    assert nbk.markdown[0][1].startswith("### Analyse")


def test_the_24_mb_literal_at_a_tenth_is_graded_without_ast(tmp_path):
    _write(tmp_path / "class", "Literal.ipynb", hn.big_literal(2.4))
    (e,) = grade(tmp_path / "class", tmp_path / "out", _bands(tmp_path), stream=io.StringIO())
    assert e["status"] == "OK" and "code-not-read" in _flags(e)


def _structure(doc) -> int:
    """``[`` ``{`` and ``,`` that ``json.dumps(doc)`` writes outside strings."""
    if isinstance(doc, list):
        return 1 + max(0, len(doc) - 1) + sum(_structure(x) for x in doc)
    if isinstance(doc, dict):
        return 1 + max(0, len(doc) - 1) + sum(_structure(x) for x in doc.values())
    return 0


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet='ab,[{}]"\\\n\u00e9 '),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(alphabet='k,["\\'), kids,
                                                                              max_size=4), max_leaves=20)


@SETTINGS
@given(doc=JSON, ascii_=st.booleans())
def test_json_values_outside_strings_are_counted_exactly(doc, ascii_):
    data = json.dumps(doc, ensure_ascii=ascii_).encode()
    bare = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    assert submissions._outside_strings(bare) == _structure(doc)


def test_what_is_kept_per_student_for_the_similarity_is_bounded():
    from mnistlab.grade import answers, similarity

    cells = [hn.code("\n".join(f"v{i} = {i}" for i in range(k, k + 2_000))) for k in range(0, 8_000, 2_000)]
    nbk = parse.read(hn.notebook([*cells, hn.code("w = 1")]))
    words = answers.Answer(" ".join(f"w{i}" for i in range(50_000)))
    fp = similarity.fingerprint("x", nbk, {"ex1.1.1": words}, answers.Answer(""))
    assert fp.words == similarity.MAX_WORDS and len(fp.shingles) == similarity.MAX_WORDS - 4
    assert len(fp.lines) == 6_000 and "w=1" not in fp.lines  # the cell that crosses the cap is kept whole


def test_too_many_json_values_are_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_JSON_VALUES", 1_000)
    _write(tmp_path, "strings.ipynb", hn.many_strings(0.01))
    (s,) = [submissions.load(s) for s in submissions.collect(tmp_path)]
    assert s.status == "REFUSED" and "JSON values" in s.reason
    _write(tmp_path, "strings.ipynb", hn.big_literal(0.01))  # 5,000 commas, all in one string: read
    (s,) = [submissions.load(s) for s in submissions.collect(tmp_path)]
    assert s.status == "OK"


# --- linear checks ----------------------------------------------------------------------------------------------


def test_duplicate_cell_ids_are_found_among_many_cells():
    data = json.dumps(hn.many_cells(9_000)).encode()
    sub = submissions.parse(submissions.Submission("x", "x.ipynb"), data)
    assert sub.status == "BROKEN" and "duplicated cell id 'c2326'" in sub.reason
    nb = hn.many_cells(9_000)
    nb["cells"][-1]["id"] = "last"
    nb["cells"][0]["id"] = nb["cells"][1]["id"] = ["not", "text"]  # not an id: not compared
    nb["cells"][2]["source"] = "model = Sequential([Dense(10)])"  # every later cell's outputs go to its step
    sub = submissions.parse(submissions.Submission("x", "x.ipynb"), json.dumps(nb).encode())
    assert sub.status == "OK"
    nbk = parse.read(sub.nb)
    assert len(nbk.code) == 9_000 and len(nbk.steps["ex1"].cells) == 9_000 - 2


def test_a_notebook_of_more_cells_than_the_cap_is_refused_at_once():
    sub = submissions.parse(submissions.Submission("x", "x.ipynb"), json.dumps(hn.many_cells(10_001)).encode())
    assert sub.status == "REFUSED" and sub.reason.startswith("10,001 cells, over the 10,000")


# --- zips: a budget per member and in all -----------------------------------------------------------------------


def test_a_zips_budget_refuses_each_member_past_it(tmp_path, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_TOTAL_BYTES", 30_000)
    one = json.dumps(hn.notebook([hn.code("x = 1", [hn.stream(f"{i:04d} " * 2_000)])
                                  for i in range(1)])).encode()
    with zipfile.ZipFile(tmp_path / "all.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(5):
            zf.writestr(f"S{i}_{i}_assignsubmission_file_/TP2.ipynb", one)
    got = [submissions.load(s) for s in submissions.collect(tmp_path / "all.zip")]
    assert len(one) * 2 < 30_000 < len(one) * 3
    assert [s.status for s in got] == ["OK", "OK", "REFUSED", "REFUSED", "REFUSED"]
    assert all("spent on the ones before it" in s.reason for s in got[2:])


def test_a_member_lying_about_its_size_is_read_only_up_to_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_NOTEBOOK_BYTES", 5_000)
    with zipfile.ZipFile(tmp_path / "all.zip", "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("big.ipynb", b" " * 20_000)
    monkeypatch.setattr(submissions, "_unsafe", lambda info: "")  # as if its header said a few bytes
    seen, parse_ = [], submissions.parse
    monkeypatch.setattr(submissions, "parse", lambda sub, data: seen.append(len(data)) or parse_(sub, data))
    (s,) = [submissions.load(s) for s in submissions.collect(tmp_path / "all.zip")]
    assert seen == [5_001] and s.status == "REFUSED" and "a notebook may weigh" in s.reason


# --- files that are not files -----------------------------------------------------------------------------------


def _graded_within(seconds: float, fn):
    """``fn()`` in a thread, which must end within ``seconds`` (a FIFO once blocked the grading forever)."""
    result: list = []
    t = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "the grading blocked"
    return result[0]


def test_fifos_sockets_devices_folders_and_links_get_a_status_never_a_hang(tmp_path, monkeypatch):
    cls = tmp_path / "class"
    _write(cls, "Good Student.ipynb", gc.lab_notebook("Good Student", seed=3))
    os.mkfifo(cls / "fifo.ipynb")
    monkeypatch.chdir(cls)  # a socket's path is limited to ~100 bytes: bind it by a short relative name
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("sock.ipynb")
    (cls / "folder.ipynb").mkdir()
    (cls / "out.ipynb").symlink_to("/etc/passwd")
    (cls / "dev.ipynb").symlink_to("/dev/zero")
    try:
        os.mknod(cls / "null.ipynb", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        device = True
    except OSError:
        device = False  # no right to make a device here
    try:
        entries = _graded_within(60, lambda: grade(cls, tmp_path / "out", _bands(tmp_path), stream=io.StringIO()))
    finally:
        sock.close()
    got = {e["file"]: (e["status"], e["reason"]) for e in entries}
    assert got.pop("Good Student.ipynb")[0] == "OK"
    want = {"fifo.ipynb": "FIFO", "sock.ipynb": "socket", "folder.ipynb": "dossier", "out.ipynb": "lien symbolique",
            "dev.ipynb": "lien symbolique", **({"null.ipynb": "périphérique"} if device else {})}  # French, as asked
    assert {f: s for f, (s, _) in got.items()} == dict.fromkeys(want, "REFUSED")
    assert all(want[f] in reason for f, (_, reason) in got.items())


def test_a_file_swapped_for_a_fifo_after_listing_is_refused_not_waited_for(tmp_path):
    _write(tmp_path, "x.ipynb", gc.lab_notebook("x"))
    (sub,) = submissions.collect(tmp_path)
    (tmp_path / "x.ipynb").unlink()
    os.mkfifo(tmp_path / "x.ipynb")
    _graded_within(10, lambda: submissions.load(sub))
    assert sub.status == "REFUSED" and "FIFO" in sub.reason
    (tmp_path / "x.ipynb").unlink()
    (tmp_path / "x.ipynb").symlink_to("/etc/passwd")
    sub.status, sub.reason = "OK", ""
    submissions.load(sub)
    assert sub.status == "BROKEN" and sub.nb is None  # O_NOFOLLOW: the link is not followed


# --- names in any script and of any length ----------------------------------------------------------------------

NAMES = ["Иванов Иван", "王小明", "李华", "דוד כהן", "محمد علي", "Zoë 😀 Émoji", "X" * 300,
         "Ж" * 300, "Dupont Marie", "DUPONT MARIE", unicodedata.normalize("NFC", "Émilie Brontë"),
         unicodedata.normalize("NFD", "Émilie Brontë"), "CON", "Jean-Luc Picard", "Jean Luc Picard"]


def test_stored_names_are_short_unique_and_case_insensitively_distinct():
    cyrillic = [f"Александр Константинопольский-{chr(0x0410 + i // 32)}{chr(0x0430 + i % 32)}" for i in range(260)]
    for names in (NAMES, cyrillic):
        stems = submissions.stored_names(names)
        assert len({s.casefold() for s in stems}) == len(names)
        assert all(0 < len(f"{s}.html".encode()) <= 100 for s in stems)
        assert all("/" not in s and not s.startswith((".", "-")) for s in stems)
    stems = dict(zip(NAMES, submissions.stored_names(NAMES), strict=True))
    assert stems["Dupont Marie"] == "Dupont_Marie" and stems["DUPONT MARIE"].startswith("DUPONT_MARIE-")
    assert stems["Иванов Иван"] == "Иванов_Иван" and stems["王小明"] == "王小明"
    assert stems["CON"].startswith("CON-") and stems["X" * 300].startswith("X" * 60)


def test_a_class_of_names_in_every_script_is_graded(tmp_path):
    # a Moodle zip: a member's path has no length limit, unlike a file's name (255 bytes)
    with zipfile.ZipFile(tmp_path / "all.zip", "w") as zf:
        for i, name in enumerate(NAMES):
            zf.writestr(f"{name}_{i + 1}_assignsubmission_file_/TP2.ipynb", json.dumps(hn.notebook([hn.code("x=1")])))
    entries = grade(tmp_path / "all.zip", tmp_path / "out", _bands(tmp_path), stream=io.StringIO())
    assert len(entries) == len(NAMES) and all(e["status"] == "OK" for e in entries)
    pages = list((tmp_path / "out" / "feedback").glob("*.html"))
    assert len({p.name.casefold() for p in pages}) == len(NAMES)
    csv_text = (tmp_path / "out" / "grades.csv").read_text(encoding="utf-8-sig")
    for name in NAMES:
        assert name[:120] in csv_text  # the real name (cut at 120 characters when read)
    page = {p.stem: p.read_text(encoding="utf-8") for p in pages}
    assert "Иванов Иван" in page["Иванов_Иван"] and "王小明" in page["王小明"]


def test_a_regrade_of_one_student_writes_to_the_same_feedback_file(tmp_path):
    cls = tmp_path / "class"
    for name in ("Dupont Marie", "DUPONT MARIE"):  # one file name each, even where case is ignored
        _write(cls, f"{name}.ipynb", gc.lab_notebook(name, seed=1))
    opts = _bands(tmp_path)
    grade(cls, tmp_path / "out", opts, stream=io.StringIO())
    before = sorted(p.name for p in (tmp_path / "out" / "feedback").iterdir())
    opts.only = ["DUPONT MARIE"]  # --only ignores case: both are graded again, each into its own file
    entries = grade(cls, tmp_path / "out", opts, stream=io.StringIO())
    assert sorted(p.name for p in (tmp_path / "out" / "feedback").iterdir()) == before
    assert sorted(len(e["stored"]) for e in entries) == [12, 12 + 11]  # the second one has a digest added
    opts.only = ["Zoe"]
    with pytest.raises(MnistlabError, match="no submission of Zoe"):
        grade(cls, tmp_path / "out", opts, stream=io.StringIO())


# --- a misplaced --out, an empty source ---------------------------------------------------------------------------


def test_an_out_that_is_or_holds_the_submissions_is_refused(tmp_path):
    cls = tmp_path / "class"
    _write(cls, "A.ipynb", gc.lab_notebook("A"))
    opts = _bands(tmp_path)
    with pytest.raises(MnistlabError, match="--out is the submissions folder"):
        grade(cls, cls, opts, stream=io.StringIO())
    with pytest.raises(MnistlabError, match="--out holds the submissions"):
        grade(cls, tmp_path, opts, stream=io.StringIO())
    assert not (cls / "grades.csv").exists() and not (tmp_path / "grades.csv").exists()
    _write(cls / "group B", "B.ipynb", gc.lab_notebook("B"))  # an --out inside would hide B's notebook
    with pytest.raises(MnistlabError, match=r"inside the submissions and holds notebooks \(B.ipynb\)"):
        grade(cls, cls / "group B", opts, stream=io.StringIO())
    (cls / "graded" / "cache").mkdir(parents=True)  # an --out inside, with only its own executed copies: fine
    (cls / "graded" / "cache" / "0123.ipynb").write_bytes(json.dumps(gc.lab_notebook("A")).encode())
    entries = grade(cls, cls / "graded", opts, stream=io.StringIO())
    assert sorted(e["file"] for e in entries) == ["A.ipynb", "group B/B.ipynb"]
    with zipfile.ZipFile(tmp_path / "all.zip", "w") as zf:  # a zip may lie in --out: nothing there is read
        zf.writestr("Z.ipynb", json.dumps(gc.lab_notebook("Z")))
    assert [e["status"] for e in grade(tmp_path / "all.zip", tmp_path, opts, stream=io.StringIO())] == ["OK"]


def test_the_command_says_one_line_and_fails_for_a_misplaced_out_or_an_empty_source(tmp_path, capsys):
    from mnistlab.cli import main

    cls = tmp_path / "class"
    _write(cls, "A.ipynb", gc.lab_notebook("A"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    for args, says in (([str(cls), "--out", str(cls)], "--out is the submissions folder"),
                       ([str(cls), "--out", str(tmp_path)], "--out holds the submissions"),
                       ([str(tmp_path / "empty"), "--out", str(tmp_path / "o")], "no notebook (.ipynb) in it")):
        assert main(["grade", *args]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0]
