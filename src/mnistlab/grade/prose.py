"""A hand-written notebook's prose, as :mod:`~mnistlab.grade.layout` reads it: one list of lines in notebook
order (Markdown lines, Markdown table rows as ``first cell: other cells``, the comments of code cells), the
normalisation every comparison uses, and what tells the lab's own text from the student's."""

from __future__ import annotations

import functools
import io
import re
import tokenize
import unicodedata
from dataclasses import dataclass

from mnistlab.grade import lab
from mnistlab.grade.parse import Notebook

_LABEL = re.compile(r"^(?:q|qu|question|quest|r[e\xe9]p(?:onse)?|answer|[ar](?=\d{1,2}\s*[:.)]))"
                    r"\s*\.?\s*(?:n\s*°|no\.?|#)?\s*"
                    r"(\d{1,2}(?:[.\-]\d{1,2}){0,2}|[a-c])(?!\w)(?!\.\d)\s*[.):\-–—]*\s*(.*)$", re.I)


_ANALYSIS_LINE = re.compile(r"^(?:\d+\s*[.)]\s*)?(?:une\s+)?(?:analyse\s+personnelle|personal\s+analysis|"
                            r"conclusions?|analyse|analysis|bilan)"
                            r"\s*(?:\([^)]*\))?\s*[:.—–-]", re.I)  # "Analyse personnelle : ..." on one line


_DECOR = " \t*_#>|`~-"


@dataclass
class Line:
    """One line of the notebook's prose: its cell, its text, whether it is a code comment."""

    cell: int
    text: str
    comment: bool = False
    heading: bool = False
    code: bool = False  # the mark of a code cell's start (no text)


@dataclass
class Found:
    """An answer found: its question, its text, the cell it starts in."""

    key: str
    text: str
    cell: int


def lines(nbk: Notebook) -> list[Line]:
    """The notebook's Markdown lines and code comments, in notebook order."""
    md = {i: src for i, src, _ in nbk.markdown}
    code = dict(zip(nbk.code_cells, nbk.code, strict=False))
    out: list[Line] = []
    for cell in sorted(set(md) | set(code)):
        if cell in md:
            for raw in md[cell].split("\n"):
                text = _table_row(raw)
                if text is None:
                    continue
                out.append(Line(cell, text, heading=_is_heading(text)))
        else:
            out.append(Line(cell, "", comment=True, code=True))
            out += [Line(cell, c, comment=True) for c in _comments(code[cell])]
    return out


def _table_row(raw: str) -> str | None:
    """A Markdown table row as ``first: rest``; None for its separator row."""
    s = raw.strip()
    if not (s.startswith("|") and s.count("|") >= 3):
        return raw
    cells = [c.strip() for c in s.strip("|").split("|")]
    if all(re.fullmatch(r":?-{2,}:?", c) or not c for c in cells):
        return None
    head, rest = cells[0], " ".join(c for c in cells[1:] if c)
    if re.fullmatch(r"\d{1,2}(?:\.\d{1,2}){0,2}", head):
        head = "Q" + head
    return f"{head} : {rest}" if rest else head


def _comments(src: str) -> list[str]:
    """The comments of a code cell, ``#`` removed, one per line."""
    out = []
    if "#" not in src:
        return out
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type == tokenize.COMMENT:
                out.append(tok.string.lstrip("#").strip())
    except (tokenize.TokenError, IndentationError, SyntaxError):
        out = [ln.split("#", 1)[1].strip() for ln in src.split("\n") if "#" in ln]
    return out


def _is_heading(text: str) -> bool:
    s = text.strip()
    if s.startswith("#"):
        return True
    bold = re.fullmatch(r"(\*\*|__)([^*_]{2,80})\1\s*:?", s)
    return bool(bold) and len(bold.group(2).split()) <= 8 and not _LABEL.match(bold.group(2).strip(" :."))


def _bare(text: str) -> str:
    """The line without Markdown decoration at its start (``**``, ``#``, ``>``, ``-``)."""
    return text.strip().lstrip(_DECOR).replace("**", "").replace("__", "").strip()


@functools.lru_cache(maxsize=1 << 16)
def norm(text: str) -> str:
    """Lower case, no accents, no Markdown or punctuation, single spaces."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


_norm = norm


@functools.cache
def _lab_prose() -> frozenset[str]:
    return frozenset(n for ln in lab.prose_lines() if (n := norm(ln)))


def _student_comment(ln: Line) -> bool:
    """A code comment of the student's own words (four or more, not one of the lab's code comments)."""
    return ln.comment and not ln.code and len(ln.text.split()) >= 4 and _norm(ln.text) not in _lab_comments()


@functools.cache
def _lab_comments() -> frozenset[str]:
    return frozenset(n for src in lab.code_blocks() for c in _comments(src) if (n := norm(c)))
