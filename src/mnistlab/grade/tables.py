"""The grading's CSV files, both ways: ``grades.csv``, the Moodle import, ``overrides.csv``.

Text cells that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@`` first) get a leading
apostrophe: a student's name is not a formula.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from mnistlab.errors import MnistlabError
from mnistlab.fileio import write_text

GRADES = "grades.csv"
MOODLE = "moodle_grades.csv"
OVERRIDES = "overrides.csv"
FIXED = ("student", "file", "status", "total", "max")
OVERRIDE_COLUMNS = ("student", "item", "points", "comment")


def cell(text) -> str:
    """A text cell safe for spreadsheets."""
    text = "" if text is None else str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


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
        MnistlabError: a grades.csv that is not one (its header differs).
    """
    if not path.is_file():
        return []
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise MnistlabError(f"unreadable ({e})", path) from None
    if rows and not all(k in rows[0] for k in (*FIXED, "flags")):
        raise MnistlabError("not a grades.csv written by mnistlab grade (its columns differ)", path)
    out = []
    for r in rows:
        items = {k: _num(v) for k, v in r.items() if k not in (*FIXED, "flags") and k is not None}
        out.append({"student": _uncell(r["student"]), "file": _uncell(r["file"]), "status": r["status"],
                    "total": _num(r["total"]), "max": _num(r["max"]), "items": items,
                    "flags": [f for f in _uncell(r["flags"]).split(";") if f]})
    return out


def write_moodle(path: Path, rows: list[dict]) -> None:
    """Moodle's offline grading worksheet columns (Identifier, Full name, Grade, Maximum Grade, Feedback)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Identifier", "Full name", "Grade", "Maximum Grade", "Feedback comments"])
    for r in rows:
        ident = f"Participant {r['ident']}" if r.get("ident") else ""
        w.writerow([ident, cell(r["student"]), points(r.get("total")), points(r.get("max")),
                    cell(r.get("summary", ""))])
    write_text(path, buf.getvalue())


def read_overrides(path: Path) -> dict[tuple[str, str], tuple[float, str]]:
    """{(student, item): (points, comment)} from the instructor's ``overrides.csv``; {} when absent.

    Raises:
        MnistlabError: a row whose points are not a number (the file and the row named).
    """
    if not path.is_file():
        return {}
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise MnistlabError(f"unreadable ({e})", path) from None
    out = {}
    for n, r in enumerate(rows, 2):
        if not r.get("student") or not r.get("item"):
            continue
        p = _num(r.get("points") or "")
        if p is None:
            raise MnistlabError(f"line {n}: points {r.get('points')!r} is not a number", path)
        out[(_uncell(r["student"]), r["item"])] = (p, r.get("comment") or "")
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


def _uncell(text: str) -> str:
    return text[1:] if text[:2] in ("'=", "'+", "'-", "'@") else text
