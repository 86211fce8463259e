"""The report's building blocks (headings, paragraphs, tables, figures, code, questions) and the document.

A section of the report is a function that returns a list of blocks (see :mod:`mnistlab.report.layout`);
:class:`Items` is the small collector those functions fill. :mod:`mnistlab.report.render` turns blocks into
HTML or Markdown. Inline text may hold `code` spans, **bold**, *italic* and [links](#anchor); every number
comes from the run's artifacts through :mod:`mnistlab.report.fmt`. ``origin`` fields hold provenance (which
file of the run a table, figure or answer comes from): the hand-in body never prints them; the HTML shows
them as small notes and the appendix lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mnistlab.i18n import say
from mnistlab.report.figures import Figure
from mnistlab.report.measures import Answer


@dataclass
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    text: str
    kind: str = ""  # "" | "warn" | "missing" | "note" | "small" | "analysis"


@dataclass
class Bullets:
    items: list[str]
    kind: str = ""


EMPTY = "—"  # a table cell without a value


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: tuple[int, ...] = ()  # right-aligned columns
    caption: str = ""
    origin: str = ""  # provenance: the run's files it is read from


@dataclass
class Code:
    text: str
    title: str = ""
    anchor: str = ""


@dataclass
class Fig:
    figure: Figure
    caption: str


@dataclass
class QA:
    key: str  # "ex1.4.1"
    label: str
    quote: str
    original: str  # the lab's French words when the report is in English, else ""
    answer: Answer
    todo: bool = False


@dataclass
class TitleBlock:
    """Nom, Prénom, Groupe, Date: filled from --author / --group, else blank fields to fill by hand."""

    fields: list[tuple[str, str]]  # (label, value or "")


def slug(text: str) -> str:
    """An id for ``id="..."`` and ``#links``: lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


class Items:
    """What a section function fills: blocks in order, in one language."""

    def __init__(self, lang: str):
        self.lang = lang
        self.blocks: list = []

    def h(self, level: int, text: str, anchor: str = "") -> None:
        self.blocks.append(Heading(level, text, slug(anchor) if anchor else ""))

    def p(self, text: str, kind: str = "") -> None:
        if text:
            self.blocks.append(Para(text, kind))

    def table(self, t: Table | None) -> None:
        """Add ``t`` without its columns that hold nothing ("—" in every row); a lone "—" left in a row
        (a value that does not apply to it) is said in words."""
        if t is None or not t.rows:
            return
        keep = [j for j in range(len(t.header)) if any(j < len(r) and r[j] != EMPTY for r in t.rows)]
        if len(keep) < len(t.header):
            t.header = [t.header[j] for j in keep]
            t.rows = [[r[j] for j in keep if j < len(r)] for r in t.rows]
            t.numeric = tuple(keep.index(j) for j in t.numeric if j in keep)
        none = say("report.not_applicable", self.lang)
        t.rows = [[none if c == EMPTY else c for c in r] for r in t.rows]
        self.blocks.append(t)

    def fig(self, f: Figure | None, caption: str = "", missing: str = "") -> None:
        if f is None:
            self.p(missing, "missing")
            return
        f.alt = caption or f.alt
        if f.note.startswith("labels:"):
            f.alt += say("report.labels_in_run_language", self.lang)
        self.blocks.append(Fig(f, f.alt))


@dataclass
class Document:
    lang: str
    title: str
    blocks: list = field(default_factory=list)

    @property
    def figures(self) -> list[Figure]:
        return [b.figure for b in self.blocks if isinstance(b, Fig)]

    @property
    def toc(self) -> list[tuple[int, str, str]]:
        """(level, anchor, text) of every level-2 and level-3 heading with an anchor."""
        return [(b.level, b.anchor, b.text) for b in self.blocks
                if isinstance(b, Heading) and b.level in (2, 3) and b.anchor]
