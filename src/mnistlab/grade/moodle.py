"""Moodle's files, both ways: the assignment's offline grading worksheet (read, filled, written back with the
same columns) and, without one, a worksheet-shaped file and a gradebook import keyed by email.

Moodle's import (``assignfeedback_offline``) finds its columns by their headers in the importing user's
language: ``Identifier`` (``Participant 1234``), ``Grade`` and ``Last modified (grade)`` are required, the
feedback column is the comments plugin's name. The headers here are Moodle's own language strings (``assign``
``recordid``, ``lastmodifiedgrade``, ``gradecanbechanged``, ``maxgrade``, core ``grade``, ``fullname``,
``email``, ``assignfeedback_comments`` ``pluginname``), in English and French. Dates are written as Moodle
writes them (``userdate`` with ``strftimedaydatetime``): ``Monday, 7 December 2026, 2:20 AM`` and
``lundi 7 décembre 2026, 02:20``.
"""

from __future__ import annotations

import csv
import datetime
import functools
import html
import io
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath

from mnistlab.errors import MnistlabError
from mnistlab.fileio import write_text
from mnistlab.grade import lab, tables
from mnistlab.grade.words import num, say

MOODLE = "moodle_grades.csv"
GRADEBOOK = "moodle_gradebook.csv"
KEYS = ("ident", "name", "email", "status", "grade", "max", "changeable", "submitted", "modified", "feedback")
REQUIRED = ("ident", "grade", "modified")
_MOODLE_PART = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_(assignsubmission|onlinetext|file)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DATE = {"en": re.compile(r"^[A-Za-z]+, \d{1,2} [A-Za-z]+ \d{4}, \d{1,2}:\d{2} [AP]M$"),
         "fr": re.compile(r"^\w+ \d{1,2} \w+ \d{4}, \d{2}:\d{2}$")}


@functools.cache
def strings() -> dict[str, dict]:
    """Moodle's language strings (``moodle_strings.toml``): {lang: {key: [names] or text}}."""
    return tomllib.loads((resources.files("mnistlab.grade") / "moodle_strings.toml").read_text(encoding="utf-8"))


def header(key: str, lang: str) -> str:
    """The header Moodle writes for ``key`` in ``lang``."""
    return strings()[lang][key][0]


@dataclass
class Worksheet:
    """A worksheet as read: its header row, rows, the column of each known field, language, separator."""

    header: list[str]
    rows: list[list[str]]
    columns: dict[str, int]
    lang: str
    delimiter: str = ","
    unmatched: list[str] = field(default_factory=list)  # graded students not in the worksheet
    without_submission: int = 0  # worksheet rows no graded submission matched


def identity(row: dict) -> tuple[str, str, str]:
    """(full name, Moodle participant id, email) of a submission, from its name, its file and Moodle's folder or
    file names (``Full Name_12345_assignsubmission_file_...``); "" where unknown."""
    name, ident = row.get("student") or "", str(row.get("ident") or "")
    for part in PurePosixPath(str(row.get("file") or "")).parts:
        m = _MOODLE_PART.match(part)
        if m:
            name, ident = " ".join(m["name"].split()), ident or m["id"]
            break
    path = PurePosixPath(str(row.get("file") or ""))
    text = " ".join([*path.parts[:-1], path.stem, str(row.get("student") or "")])
    email = next(iter(_EMAIL.findall(text)), "")
    return name, ident, email


def grade_text(total: float | None, max_points: float | None, scale: float | None, decimal: str) -> str:
    """The grade Moodle reads: ``total`` scaled to ``scale`` (the assignment's maximum), 2 decimals."""
    if total is None or not max_points:
        return ""
    value = total / max_points * scale if scale else total
    return f"{value:.2f}".replace(".", decimal)


def comment(row: dict, lang: str, scale: float | None = None) -> str:
    """The feedback comment (HTML, as Moodle's comments editor stores it): the total, then per item that lost
    points the question's text (or the step's title) and what was missing, every item listed."""
    sep = say("colon", lang)

    def e(text: str) -> str:
        return html.escape(text, quote=False)

    if row.get("status") != "OK" or row.get("total") is None:
        try:
            return f"<p>{e(say('status.' + str(row.get('status')), lang, reason=row.get('reason') or ''))}</p>"
        except KeyError:  # a status without its sentence: its name and reason
            return f"<p>{e(str(row.get('status')))}{sep}{e(str(row.get('reason') or ''))}</p>"
    total, top = row["total"], row.get("max") or 0
    head = f"{say('total', lang)}{sep}{num(total, lang, 2)} / {num(top, lang, 2)}"
    if scale and top:
        head += f" ({num(total / top * scale, lang, 2)} / {num(float(scale), lang, 2)})"
    texts = {q.key: q.text for q in lab.questions()}
    lost = []
    for m in row.get("marks", []):
        if m.points >= m.max and m.say != "override":  # full points, unless the instructor set them
            continue
        what = say("quoted", lang, text=texts[m.item]) if m.item in texts else (
            lab.step_title(_step(m.item), lang) if _step(m.item) else say("analysis_item", lang))
        lost.append(f"<li>{e(what)}{sep}{e(_reason(m, lang))} ({num(m.points, lang, 2)} / "
                    f"{num(m.max, lang, 2)})</li>")
    body = f"<p>{e(head)}</p>"
    if lost:
        body += f"<p>{e(say('lost_points', lang))}</p><ul>{''.join(lost)}</ul>"
    if row.get("band_method"):
        body += f"<p>{e(row['band_method'])}</p>"
    return body


def read_worksheet(path: Path) -> Worksheet:
    """The offline grading worksheet downloaded from the assignment (``,`` or ``;``, UTF-8 or Windows-1252).

    Raises:
        MnistlabError: unreadable, or without the columns Moodle's import needs (named, in both languages).
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise MnistlabError(f"unreadable worksheet ({e.strerror or e})", path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        table = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)]
    except csv.Error as e:
        raise MnistlabError(f"unreadable worksheet ({e})", path) from None
    if not table:
        raise MnistlabError("empty worksheet", path)
    top = table[0]
    found: dict[str, dict[str, int]] = {"en": {}, "fr": {}}
    for i, h in enumerate(top):
        for lang, names in strings().items():
            for key in KEYS:
                if h.strip().casefold() in (n.casefold() for n in names[key]):
                    found[lang].setdefault(key, i)
    lang = max(found, key=lambda k: (sum(r in found[k] for r in REQUIRED), len(found[k])))
    missing = [header(k, lang) for k in REQUIRED if k not in found[lang]]
    if missing:
        raise MnistlabError(f"not a Moodle offline grading worksheet: no column {', '.join(map(repr, missing))} "
                            f"(download it from the assignment: Grading action > Download grading worksheet)", path)
    rows = [r + [""] * (len(top) - len(r)) for r in table[1:]]
    return Worksheet(top, rows, found[lang], lang, delimiter)


def fill(sheet: Worksheet, rows: list[dict], scale: float | None, now: datetime.datetime | None = None,
         fresh: set[str] | None = None) -> Worksheet:
    """The worksheet with each matched student's grade, ``Last modified (grade)`` and feedback comments; rows
    matched by participant id, then email, then full name (one each way, never guessed); the graded students
    left unmatched are listed in ``sheet.unmatched``.

    ``Last modified (grade)`` becomes now (in the worksheet's own date format) for the submissions graded now
    (``fresh``, their files; None: all): the others keep the worksheet's date, so that Moodle still refuses to
    overwrite a grade changed there since. A comment is written only where there is one (an earlier
    grading's, kept for ``--only``), never emptied.

    Raises:
        MnistlabError: ``scale`` differs from the worksheet's ``Maximum grade``.
    """
    c = sheet.columns
    scale = check_scale(sheet, scale)
    decimal = _decimal(sheet)
    stamp = moodle_date(now or datetime.datetime.now().astimezone(), _date_lang(sheet))
    match = _match(sheet, rows)
    sheet.unmatched = [r["student"] for i, r in enumerate(rows) if i not in match.values()]
    sheet.without_submission = len(sheet.rows) - len(match)
    for ri, gi in match.items():
        r, line = rows[gi], sheet.rows[ri]
        line[c["grade"]] = grade_text(r.get("total"), r.get("max"), scale, decimal)
        if fresh is None or r.get("file") in fresh:
            line[c["modified"]] = stamp
        if "feedback" in c and r.get("comment"):
            line[c["feedback"]] = r["comment"]
    return sheet


def check_scale(sheet: Worksheet, scale: float | None) -> float | None:
    """The maximum grade to scale to: ``scale``, else the worksheet's ``Maximum grade``.

    Raises:
        MnistlabError: ``scale`` differs from the worksheet's maximum.
    """
    top = worksheet_max(sheet)
    if scale and top and abs(scale - top) > 1e-9:
        raise MnistlabError(f"--scale {scale:g} but the worksheet's {sheet.header[sheet.columns['max']]!r} is "
                            f"{top:g}: Moodle refuses grades over the assignment's maximum; leave --scale out")
    return scale or top


def filled_name(worksheet: Path) -> str:
    """The file name of the filled worksheet: the downloaded one's, marked (the download is never overwritten)."""
    return f"{worksheet.stem}-graded{worksheet.suffix or '.csv'}"


def write_worksheet(path: Path, sheet: Worksheet) -> None:
    """The worksheet with its own columns, separator and language; every field guarded against formulas."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sheet.delimiter, lineterminator="\n")
    w.writerow([tables.cell(h) for h in sheet.header])
    for line in sheet.rows:
        w.writerow([tables.cell(v) for v in line])
    write_text(path, buf.getvalue())


def write_import(path: Path, rows: list[dict], lang: str, scale: float | None,
                 now: datetime.datetime | None = None) -> None:
    """Without a worksheet: the worksheet's columns in ``lang`` (Moodle's strings), one row per submission,
    ``Identifier`` from Moodle's folder or file names where present."""
    keys = ("ident", "name", "email", "status", "grade", "max", "changeable", "modified", "feedback")
    stamp = moodle_date(now or datetime.datetime.now().astimezone(), lang)
    decimal = "," if lang == "fr" else "."
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([tables.cell(header(k, lang)) for k in keys])
    for r in rows:
        name, ident, email = identity(r)
        top = scale or r.get("max")
        w.writerow([tables.cell(v) for v in (
            f"{_participant(lang)}{ident}" if ident else "", r["student"], email, r["status"],
            grade_text(r.get("total"), r.get("max"), scale, decimal),
            grade_text(top, 1.0, None, decimal) if top else "", strings()[lang]["yes"],
            stamp if r.get("total") is not None else "-", r.get("comment") or "")])
    write_text(path, buf.getvalue())


def write_gradebook(path: Path, rows: list[dict], lang: str, scale: float | None, item_name: str) -> int:
    """Moodle's gradebook import (Grades > Import > CSV file), keyed by email: only the submissions whose email
    is known (in a file or folder name); the file is written only when there is one. Returns how many rows."""
    known = [(identity(r)[2], r) for r in rows]
    known = [(m, r) for m, r in known if m]
    if not known:
        if path.exists():
            path.unlink()
        return 0
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([tables.cell(header("email", lang)), tables.cell(item_name)])
    for m, r in known:
        w.writerow([tables.cell(m), grade_text(r.get("total"), r.get("max"), scale, ".")])
    write_text(path, buf.getvalue())
    return len(known)


def moodle_date(when: datetime.datetime, lang: str) -> str:
    """``when`` as Moodle's ``userdate`` writes it in ``lang`` (``strftimedaydatetime``, day and 12-hour
    hour without a leading zero)."""
    day = strings()[lang]["days"][when.weekday()]
    month = strings()[lang]["months"][when.month - 1]
    if lang == "fr":
        return f"{day} {when.day} {month} {when.year}, {when:%H:%M}"
    hour = when.hour % 12 or 12
    return f"{day}, {when.day} {month} {when.year}, {hour}:{when:%M} {'AM' if when.hour < 12 else 'PM'}"


def _participant(lang: str) -> str:
    return strings()[lang]["participant"]


def _reason(mark, lang: str) -> str:
    from mnistlab.grade.feedback import lines

    return lines(mark, lang)


def _step(item: str) -> str:
    steps = sorted(lab.steps(), key=len, reverse=True)
    return next((s for s in steps if item == s or item.startswith(s + ".") and not item[len(s) + 1:][:1].isdigit()),
                "")


def _norm(text: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    return " ".join(sorted(re.sub(r"[^a-z0-9]+", " ", ascii_).split()))


def _match(sheet: Worksheet, rows: list[dict]) -> dict[int, int]:
    """{worksheet row: graded row}, one to one; by participant id, then email, then full name (word order and
    accents aside), each only where it is unique on both sides."""
    c = sheet.columns
    ids = [identity(r) for r in rows]
    match: dict[int, int] = {}
    used: set[int] = set()

    def by(key_sheet, key_row) -> None:
        sheet_keys: dict[str, list[int]] = {}
        for i, line in enumerate(sheet.rows):
            if i not in match and key_sheet(line):
                sheet_keys.setdefault(key_sheet(line), []).append(i)
        row_keys: dict[str, list[int]] = {}
        for j in range(len(rows)):
            if j not in used and key_row(j):
                row_keys.setdefault(key_row(j), []).append(j)
        for k, lines in sheet_keys.items():
            if len(lines) == 1 and len(row_keys.get(k, [])) == 1:
                match[lines[0]] = row_keys[k][0]
                used.add(row_keys[k][0])

    by(lambda line: "".join(re.findall(r"\d+$", line[c["ident"]].strip())), lambda j: ids[j][1])
    if "email" in c:
        by(lambda line: line[c["email"]].strip().casefold(), lambda j: ids[j][2].casefold())
    if "name" in c:
        by(lambda line: _norm(line[c["name"]]), lambda j: _norm(ids[j][0]))
    return match


def _number(text: str) -> float | None:
    try:
        return float(text.strip().replace("\u202f", "").replace(" ", "").replace(",", "."))
    except ValueError:
        return None


def worksheet_max(sheet: Worksheet) -> float | None:
    if "max" not in sheet.columns:
        return None
    values = {_number(line[sheet.columns["max"]]) for line in sheet.rows} - {None}
    return values.pop() if len(values) == 1 else None


def _decimal(sheet: Worksheet) -> str:
    cells = [line[sheet.columns[k]] for k in ("max", "grade") if k in sheet.columns for line in sheet.rows]
    if any(re.fullmatch(r"\d+,\d+", x.strip()) for x in cells):
        return ","
    if any(re.fullmatch(r"\d+\.\d+", x.strip()) for x in cells):
        return "."
    return "," if sheet.lang == "fr" else "."


def _date_lang(sheet: Worksheet) -> str:
    cells = [line[sheet.columns[k]].strip() for k in ("modified", "submitted") if k in sheet.columns
             for line in sheet.rows]
    for lang, pattern in _DATE.items():
        if any(pattern.match(x) for x in cells):
            return lang
    return sheet.lang
