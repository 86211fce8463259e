"""The grading's CSV files, both ways: ``grades.csv`` and the instructor's ``overrides.csv``.

Every text field written is guarded against spreadsheet formulas, for readers that split on ``,`` and on
``;`` (French Excel) alike: wherever a field, or a piece of it after a ``,``, ``;`` or tab, starts with ``=``,
``+``, ``-``, ``@``, a tab, a carriage return or an apostrophe, an apostrophe is put in front (reversed on
reading by :func:`uncell`). A lone ``-`` and plain numbers are left as they are.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from mnistlab.errors import MnistlabError
from mnistlab.fileio import write_text

GRADES = "grades.csv"
OVERRIDES = "overrides.csv"
FIXED = ("student", "file", "status", "total", "max")
OVERRIDE_COLUMNS = ("student", "item", "points", "comment")
_DANGER = "=+-@\t\r'"
_GUARD = re.compile(rf"(^|[,;\t])(?=[{re.escape(_DANGER)}])")
_UNGUARD = re.compile(rf"(^|[,;\t])'(?=[{re.escape(_DANGER)}])")
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


def cell(text) -> str:
    """A text field safe for spreadsheets that split on ``,`` or ``;`` (see the module's docstring)."""
    text = "" if text is None else str(text)
    if text == "-" or _NUMBER.fullmatch(text):
        return text
    return _GUARD.sub(r"\1'", text)


def uncell(text: str | None) -> str:
    """The text :func:`cell` guarded."""
    text = "" if text is None else str(text)
    if text == "-" or _NUMBER.fullmatch(text):
        return text
    return _UNGUARD.sub(r"\1", text)


def points(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def write_grades(path: Path, items: list[str], rows: list[dict]) -> None:
    """One row per submission: FIXED columns, one per rubric item, then ``flags``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*FIXED, *items, "flags"])
    for r in rows:
        w.writerow([cell(r["student"]), cell(r["file"]), r["status"], points(r.get("total")), points(r.get("max")),
                    *[points(r.get("items", {}).get(i)) for i in items], cell(";".join(r.get("flags", [])))])
    write_text(path, buf.getvalue())


def read_grades(path: Path) -> list[dict]:
    """The rows of a previous ``grades.csv`` (for ``--only``); [] when there is none.

    Raises:
        MnistlabError: a grades.csv that is not one (its header differs), or a truncated or garbled row (the
        line named): the rows of the students not re-graded would be lost.
    """
    if not path.is_file():
        return []
    try:
        table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise MnistlabError(f"unreadable ({e}); grade the whole class again without --only", path) from None
    if not table:
        return []
    header = table[0]
    if not all(k in header for k in (*FIXED, "flags")) or len(set(header)) != len(header):
        raise MnistlabError("not a grades.csv written by mnistlab grade (its columns differ)", path)
    out = []
    for n, values in enumerate(table[1:], 2):
        if not values:
            continue
        r = dict(zip(header, values, strict=False))
        items = {k: _num(v) for k, v in r.items() if k not in (*FIXED, "flags")}
        bad = [k for k, v in r.items() if k in ("total", "max") or k not in (*FIXED, "flags")
               if v.strip() and _num(v) is None]
        if len(values) != len(header) or bad or not r["student"]:
            why = (f"{len(values)} fields for {len(header)} columns" if len(values) != len(header)
                   else f"not a number in {', '.join(bad)}" if bad else "no student")
            raise MnistlabError(f"line {n} is truncated or garbled ({why}); grade the whole class again "
                                "without --only", path)
        out.append({"student": uncell(r["student"]), "file": uncell(r["file"]), "status": r["status"],
                    "total": _num(r["total"]), "max": _num(r["max"]), "items": items,
                    "flags": [f for f in uncell(r["flags"]).split(";") if f]})
    return out


def read_overrides(path: Path, items: dict[str, float] | None = None) -> dict[tuple[str, str], tuple[float, str]]:
    """{(student, item): (points, comment)} from the instructor's ``overrides.csv``; {} when absent.

    Read as saved by a spreadsheet: ``,`` or ``;`` between fields (French Excel), UTF-8 or Windows-1252, a
    decimal comma. ``items``: the rubric's {item: points}; an item not in it, or points outside 0..its points,
    is refused. The students are checked against the class by :func:`check_override_students`.

    Raises:
        MnistlabError: the file and the line, and what is wrong in it.
    """
    if not path.is_file():
        return {}
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise MnistlabError(f"unreadable ({e.strerror or e})", path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # what French Excel saves "CSV (separateur: point-virgule)" in
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        table = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as e:
        raise MnistlabError(f"unreadable ({e})", path) from None
    if not table:
        return {}
    header = [h.strip().casefold() for h in table[0]]
    missing = [c for c in OVERRIDE_COLUMNS[:3] if c not in header]
    if missing:
        raise MnistlabError(f"line 1: the header must name the columns {', '.join(OVERRIDE_COLUMNS)} "
                            f"({', '.join(missing)} missing)", path)
    out: dict[tuple[str, str], tuple[float, str]] = {}
    for n, values in enumerate(table[1:], 2):
        if not any(v.strip() for v in values):
            continue
        while len(values) > len(header) and not values[-1].strip():  # a spreadsheet's trailing empty fields
            values = values[:-1]
        if len(values) > len(header):
            raise MnistlabError(f"line {n}: {len(values)} fields for {len(header)} columns (a decimal comma in a "
                                f"file separated by commas? write 0.5, or put the number in quotes)", path)
        r = dict(zip(header, (v.strip() for v in values), strict=False))
        student, item = uncell(r.get("student")), r.get("item") or ""
        if not student or not item:
            raise MnistlabError(f"line {n}: a student and an item are needed", path)
        p = _num(r.get("points") or "")
        if p is None:
            raise MnistlabError(f"line {n}: points {r.get('points')!r} is not a number", path)
        if items is not None:
            if item not in items:
                raise MnistlabError(f"line {n}: {item!r} is not an item of the rubric (the columns of grades.csv "
                                    "after max)", path)
            if not 0 <= p <= items[item]:
                raise MnistlabError(f"line {n}: {p:g} points for {item}, which is worth 0 to {items[item]:g}", path)
        if (student, item) in out:
            raise MnistlabError(f"line {n}: a second line for {student} and {item}", path)
        out[(student, item)] = (p, uncell(r.get("comment")))
    return out


def check_override_students(overrides: dict, students: list[tuple[str, str, str]], path: Path) -> dict:
    """``overrides`` keyed by the submission's file. ``students``: (name as in grades.csv, name from the file
    or Moodle's folder, file) of every submission; an override names one of them by either name or by its file.

    Raises:
        MnistlabError: a student no submission has, or a name two submissions share (their files listed).
    """
    by_name: dict[str, set[str]] = {}
    files = {f for _, _, f in students}
    for shown, base, file in students:
        for name in (shown, base):
            by_name.setdefault(" ".join(name.casefold().split()), set()).add(file)
    out = {}
    for (student, item), value in overrides.items():
        if student in files:
            out[(student, item)] = value
            continue
        found = sorted(by_name.get(" ".join(student.casefold().split()), set()))
        if not found:
            raise MnistlabError(f"no submission of {student!r} (names as in grades.csv, or a file)", path)
        if len(found) > 1:
            raise MnistlabError(f"{len(found)} submissions are named {student!r} ({', '.join(found)}): "
                                "write the file instead of the name in the student column", path)
        out[(found[0], item)] = value
    return out


def ensure_overrides(path: Path) -> None:
    """Write an empty ``overrides.csv`` (its header) unless the instructor's is there: it is never rewritten."""
    if not path.exists():
        write_text(path, ",".join(OVERRIDE_COLUMNS) + "\n")


def _num(v: str) -> float | None:
    try:
        return float(str(v).replace(",", ".")) if str(v).strip() else None
    except ValueError:
        return None
