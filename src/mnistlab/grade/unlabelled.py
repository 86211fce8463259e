"""Answers written without naming their question: a list of questions then as many paragraphs, a section's
list of as many items as it has questions, the to-do items answered by a section's leftover prose. Read after
:mod:`~mnistlab.grade.layout` has placed every answer that names its question (``qs``: its index of the lab's
questions, with ``all``, ``by_key`` and ``order``)."""

from __future__ import annotations

import re

from mnistlab.grade.prose import _ANALYSIS_LINE, Found, Line, _bare, _lab_prose, _norm, _student_comment

_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,2}\s*[.)])\s+")
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]\s+")
_TITLE = re.compile(r"^(?:mes\s+|my\s+|les\s+|the\s+)?(?:r[e\xe9]ponses?|answers?)\s*:?$")  # over normalised text


def _in_order(found: list[Found], anchors: list, ls: list[Line], starts: list[int]) -> None:
    """A run of questions with no answer between them, then as many paragraphs as questions (blank lines or
    cells apart): the paragraphs answer the questions in order (a list of questions, then the answers
    unnumbered)."""
    i = 0
    while i < len(found):
        j = i
        while j + 1 < len(found) and not found[j].text and not anchors[j][2] and anchors[j + 1][0] == next(
                (s for s in starts if s > anchors[j][0]), None):
            j += 1
        if j > i and found[j].text and not anchors[j][2]:
            paras = _paragraphs(ls, anchors[j][0], starts)
            if len(paras) == j - i + 1:
                for k, (cell, text) in enumerate(paras):
                    found[i + k] = Found(found[i + k].key, _ITEM.sub("", text, count=1), cell)
        i = j + 1


def _paragraphs(ls: list[Line], pos: int, starts: list[int]) -> list[tuple[int, str]]:
    """The Markdown paragraphs after line ``pos`` up to the next anchor or heading: (cell, text)."""
    end = next((s for s in starts if s > pos), len(ls))
    out: list[tuple[int, list[str]]] = []
    last_cell = None
    for ln in ls[pos + 1:end]:
        if ln.comment or _TITLE.match(_norm(ln.text)):  # "Réponses" alone on its line titles the list below
            continue
        if not ln.text.strip():
            last_cell = None
            continue
        if last_cell != ln.cell or not out or _ITEM.match(ln.text):  # each bullet or number is its own answer
            out.append((ln.cell, []))
        out[-1][1].append(ln.text)
        last_cell = ln.cell
    return [(cell, "\n".join(lines)) for cell, lines in out]




def _unlabelled(qs, ls: list[Line], where: list, taken: set[int], named: set[str]) -> list[Found]:
    """A section none of whose questions is named, whose prose after its code is a list (bullets, numbers or
    paragraphs) of as many items as it has questions: the items answer them in order (its to-do items first,
    as in the lab, when the list has room for them; one item for all its to-do items when one short)."""
    out = []
    for sid in qs.order:
        keys = [q.key for q in qs.all if q.section == sid]
        if any(k in named for k in keys):
            continue
        items: list[tuple[int, list[str]]] = []
        fresh = True
        for p, ln in enumerate(ls):
            if where[p] != sid or p in taken or ln.heading or (ln.comment and not _student_comment(ln)):
                continue
            if not ln.text.strip():
                fresh = True
                continue
            if _norm(ln.text) in _lab_prose() or _ANALYSIS_LINE.match(_bare(ln.text)):
                fresh = True
                continue
            if (_ITEM.match(ln.text) or fresh or not items or items[-1][0] != ln.cell or ln.comment != ls[p - 1].comment
                    or ln.comment):  # a code cell's comments: one line, one answer
                items.append((ln.cell, []))
            items[-1][1].append(ln.text)
            fresh = False
        todo = [k for k in keys if qs.by_key[k].todo]
        plain = [k for k in keys if not qs.by_key[k].todo]
        if len(items) not in (len(keys), len(plain), len(plain) + bool(todo)):  # a remark or the analysis beside:
            cells = [[it for it in items if it[0] == c] for c in dict.fromkeys(c for c, _ in items)]
            fits = [c for c in cells if len(c) in (len(keys), len(plain))]  # the one cell that lists the answers
            items = fits[0] if len(fits) == 1 else items
        if len(items) == len(keys):
            pairs = list(zip(keys, items, strict=True))
        elif todo and len(items) == len(plain) + 1:
            pairs = [(k, items[0]) for k in todo] + list(zip(plain, items[1:], strict=True))
        elif len(items) == len(plain):
            pairs = list(zip(plain, items, strict=True))
        elif items and all(_NUMBER.match(t[0]) for _, t in items) and len(
                nums := [int(_NUMBER.match(t[0]).group(1)) for _, t in items]) == len(set(nums)) and max(
                nums) <= len(plain):  # "1) ..." "3) ...": fewer answers than questions, each says its number
            pairs = [(plain[n - 1], it) for n, it in zip(nums, items, strict=True)]
        else:
            continue
        out += [Found(k, _ITEM.sub("", "\n".join(text), count=1), cell) for k, (cell, text) in pairs]
    return out


def _todo(qs, ls: list[Line], where: list, taken: set[int], named: set[str]) -> list[Found]:
    """The lab's "À faire" items (identify the digits, does validation follow training?) are answered by a
    sentence in their section that answers no question: such prose (not the lab's own) answers them."""
    out = []
    for q in qs.all:
        if not q.todo or q.key in named:
            continue
        text = [ls[p] for p in range(len(ls)) if where[p] == q.section and p not in taken
                and (not ls[p].comment or _student_comment(ls[p])) and not ls[p].heading and _norm(ls[p].text)
                and _norm(ls[p].text) not in _lab_prose()]
        if len(" ".join(t.text for t in text).split()) >= 4:
            out.append(Found(q.key, "\n".join(t.text for t in text), text[0].cell))
    return out
