"""The student's answer to each of the lab's questions, and their personal analysis.

A notebook written by ``mnistlab notebook`` tags its cells (``metadata.mnistlab.answer``); a notebook written
by hand is read by :mod:`~mnistlab.grade.layout` (questions named by their words, by labels or by numbered
lists; answers in Markdown, tables or code comments). An answer is marked ``generated`` when its text is, for
the most part, sentences ``mnistlab notebook`` writes (read from the text: the words files and the answer
templates), or when the notebook's metadata records it as written by the tool and unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

from mnistlab.grade import lab, layout
from mnistlab.grade.layout import norm  # noqa: F401 - the grader's one normalisation, used from here
from mnistlab.grade.parse import Notebook

# What an empty answer field holds (a notebook's "à rédiger" line, "…", TODO): an answer starting so is none.
PLACEHOLDERS = ("à rédiger", "a rediger", "à compléter", "todo", "votre réponse", "non mesuré", "your answer")


@dataclass
class Answer:
    """A student's answer: its text, the cell it starts in (notebook index), whether the tool wrote it."""

    text: str
    cell: int | None = None
    generated: bool = False
    tool: bool = False  # its text is the tool's sentences (read from the text alone, never from metadata)

    @property
    def words(self) -> int:
        return len(re.findall(r"\w+(?:[-.,]\w+)*", self.text))  # "t-shirt", "0.9747", "28x28": one word each


def read(nbk: Notebook) -> tuple[dict[str, Answer], Answer]:
    """({question key: answer}, the personal analysis), whatever the notebook's layout (:mod:`layout`)."""
    digests = _generated(nbk)
    tagged = {}
    analysis = Answer("")
    for index, src, meta in nbk.markdown:
        m = meta.get("mnistlab") if isinstance(meta.get("mnistlab"), dict) else {}
        if isinstance(m.get("answer"), str):
            text = _clean(src)
            tagged[m["answer"]] = _answer(text, index, digests)
        elif m.get("analysis"):
            analysis = _answer(_clean(re.sub(r"^#+.*\n", "", src)), index, digests)
    if tagged:
        return tagged, analysis
    found, text, cell = layout.read(nbk)
    out: dict[str, Answer] = {}
    for f in found:
        ans = _answer(_clean(f.text), f.cell, digests)
        if f.key not in out or ans.words > out[f.key].words:
            out[f.key] = ans
    return out, _answer(_clean(text), cell, digests)


def _answer(text: str, cell: int | None, digests: set[int]) -> Answer:
    tool = tool_written(text)
    return Answer(text, cell, tool or (cell is not None and cell in digests), tool)


@functools.cache
def _tool_shingles() -> frozenset[tuple[str, ...]]:
    """4-word shingles of every sentence ``mnistlab notebook`` can write (numbers and fields as ``#``)."""
    out = set()
    for text in lab.tool_texts():
        words = _tokens(re.sub(r"\{[^{}]*\}", " 0 ", text))
        out |= {tuple(words[i:i + 4]) for i in range(max(0, len(words) - 3))}
    return frozenset(out)


def _tokens(text: str) -> list[str]:
    return ["#" if re.fullmatch(r"\d+", w) else w for w in norm(text).split()]


def tool_written(text: str, share: float = 0.7) -> bool:
    """Whether ``text`` is, for the most part, sentences ``mnistlab notebook`` writes (read from the text,
    whatever the notebook's metadata says): at least ``share`` of its 4-word shingles are the tool's."""
    words = _tokens(text)
    if len(words) < 15:  # a short answer ("one epoch is one full pass over the data") is anyone's
        return False
    sh = [tuple(words[i:i + 4]) for i in range(len(words) - 3)]
    known = _tool_shingles()
    return sum(s in known for s in sh) >= share * len(sh)


def _generated(nbk: Notebook) -> set[int]:
    """Indices of the cells ``mnistlab notebook`` wrote and the student left as written."""
    meta = nbk.metadata.get(lab.generated_marker())
    written = meta.get("generated_answers") if isinstance(meta, dict) else None
    if not isinstance(written, dict):
        return set()
    out = set()
    for index, src, _ in nbk.markdown:
        cid = nbk.cell_ids[index] if index < len(nbk.cell_ids) else None
        if cid in written and hashlib.sha256(src.encode()).hexdigest()[:16] == written[cid]:
            out.add(index)
    return out


def _clean(text: str) -> str:
    """The answer without its "Réponse :" label (bold or not, singular or plural); "" for a placeholder."""
    text = re.sub(r"^[\s*_>]*(?:r[ée]ponses?|answers?|rép\.|[ar]\d{0,2}(?=\s*[:.)]))"
                  r"\s*(?:\d+\s*)?[*_]*\s*[:：.\-–]?\s*[*_]*\s*", "", text.strip(), flags=re.I)
    text = text.strip()
    n = norm(text)
    return "" if not n or any(n.startswith(norm(p)) for p in PLACEHOLDERS) else text
