"""The student's answer to each of the lab's questions, and their personal analysis.

A notebook written by ``mnistlab notebook`` tags its cells (``metadata.mnistlab.answer``); a notebook written
by hand is read by finding each question's words in the Markdown cells: the answer is the text after it, up to
the next question or heading. Answers that ``mnistlab notebook`` wrote (its metadata names the cells, with a
digest of the text it wrote) are marked ``generated`` unless the student rewrote them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from mnistlab.grade import lab
from mnistlab.grade.parse import Notebook

# What an empty answer field holds (a notebook's "à rédiger" line, "…", TODO): an answer starting so is none.
PLACEHOLDERS = ("à rédiger", "a rediger", "à compléter", "todo", "votre réponse", "non mesuré", "your answer")


@dataclass
class Answer:
    """A student's answer: its text, the cell it starts in (notebook index), whether the tool wrote it."""

    text: str
    cell: int | None = None
    generated: bool = False

    @property
    def words(self) -> int:
        return len(re.findall(r"\w+", self.text))


def norm(text: str) -> str:
    """Lower case, no accents, no Markdown or punctuation, single spaces."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def read(nbk: Notebook) -> tuple[dict[str, Answer], Answer]:
    """({question key: answer}, the personal analysis)."""
    generated = _generated(nbk)
    tagged = {}
    analysis = Answer("")
    for index, src, meta in nbk.markdown:
        m = meta.get("mnistlab") if isinstance(meta.get("mnistlab"), dict) else {}
        if isinstance(m.get("answer"), str):
            tagged[m["answer"]] = Answer(_clean(src), index, index in generated)
        elif m.get("analysis"):
            analysis = Answer(_clean(re.sub(r"^#+.*\n", "", src)), index, index in generated)
    if tagged:
        return tagged, analysis
    return _by_text(nbk, generated), _analysis_by_heading(nbk)


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
    text = re.sub(r"^\s*\**\s*(réponse|reponse|answer)\s*\**\s*:?\s*\**", "", text.strip(), flags=re.I)
    text = text.strip()
    n = norm(text)
    return "" if not n or any(n.startswith(norm(p)) for p in PLACEHOLDERS) else text


def _by_text(nbk: Notebook, generated: set[int]) -> dict[str, Answer]:
    lines: list[tuple[int, str]] = [(i, ln) for i, src, _ in nbk.markdown for ln in src.split("\n")]
    normed = [norm(ln) if len(ln) < 2000 else "" for _, ln in lines]
    keys = {}
    for q in lab.questions():
        probe = norm(q.text)[:45]
        for pos, text in enumerate(normed):
            if probe and probe in text and pos not in keys.values():
                keys[q.key] = pos
                break
    starts = sorted(keys.values())
    out = {}
    for key, pos in keys.items():
        end = next((s for s in starts if s > pos), len(lines))
        body, cells = [], set()
        for cell, ln in lines[pos + 1:end]:
            if ln.lstrip().startswith("#"):
                break
            body.append(ln)
            if ln.strip():
                cells.add(cell)
        out[key] = Answer(_clean("\n".join(body)), lines[pos][0], bool(cells) and cells <= generated)
    return out


def _analysis_by_heading(nbk: Notebook) -> Answer:
    for index, src, _ in nbk.markdown:
        first, _, rest = src.strip().partition("\n")
        if first.lstrip().startswith("#") and re.search(r"analy", norm(first)):
            return Answer(_clean(rest), index)
    return Answer("")
