"""How much of a notebook the static grading reads: caps per cell and per notebook, so that time and memory
stay bounded whatever a student hands in.

:func:`view` gives the notebook as :mod:`~mnistlab.grade.parse` reads it (a shallow copy: the submitted
notebook, the one ``--execute`` runs, is left whole) and the flags saying what was left out. A lab notebook
is far below every cap (its largest code cell is ~2,000 characters, its whole code ~15,000); what is past
them is not lab work: a cell of 24 MB ``x=[1,1,...]`` would take minutes and gigabytes in ``ast`` and in the
similarity's tokenizer, so it is not read, and the feedback says so.
"""

from __future__ import annotations

from mnistlab.grade import outputs
from mnistlab.grade.parse import source
from mnistlab.grade.words import say

MAX_CELL_CODE = 50_000  # characters of one code cell read (with ast, and by the similarity check)
MAX_CODE = 400_000  # characters of code read in one notebook
MAX_CELL_MARKDOWN = 100_000  # characters of one Markdown cell read (as answers); the rest is cut
MAX_MARKDOWN = 1_000_000  # characters of Markdown read in one notebook
MAX_OUTPUT_TEXT = 5_000_000  # characters of printed text read in one notebook (2,000,000 per cell at most)


def view(nb: dict, lang: str = "fr") -> tuple[dict, list[tuple[str, str]]]:
    """(``nb`` as the static grading reads it, ``[(flag, evidence)]`` for what it does not read).

    Flags: ``code-not-read`` (a code cell over :data:`MAX_CELL_CODE`, or past :data:`MAX_CODE` in all),
    ``markdown-cut`` (a Markdown cell cut to :data:`MAX_CELL_MARKDOWN`, or past :data:`MAX_MARKDOWN`),
    ``outputs-not-read`` (printed text past :data:`MAX_OUTPUT_TEXT`; images are still counted).
    """
    cells = nb.get("cells") if isinstance(nb.get("cells"), list) else []
    code_left, md_left, out_left = MAX_CODE, MAX_MARKDOWN, MAX_OUTPUT_TEXT
    skipped: dict[str, list[int]] = {"code": [], "markdown": [], "outputs": []}
    seen = []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict):
            seen.append(cell)
            continue
        kind = cell.get("cell_type")
        if kind == "code":
            src = source(cell)
            if len(src) > min(MAX_CELL_CODE, code_left):
                cell = {**cell, "source": ""}
                skipped["code"].append(number)
            else:
                code_left -= len(src)
            outs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
            size = sum(_text_size(o) for o in outs)
            if size > out_left:
                cell = {**cell, "outputs": [o for o in outs if not _text_size(o)]}
                skipped["outputs"].append(number)
                out_left = 0
            else:
                out_left -= size
        elif kind == "markdown":
            src = source(cell)
            keep = min(MAX_CELL_MARKDOWN, md_left)
            if len(src) > keep:
                cell = {**cell, "source": src[:keep]}
                skipped["markdown"].append(number)
            md_left -= min(len(src), keep)
        seen.append(cell)
    flags = []
    for what, numbers in skipped.items():
        if numbers:
            shown = ", ".join(map(str, numbers[:10])) + (" ..." if len(numbers) > 10 else "")
            flags.append((f"{what}-not-read" if what != "markdown" else "markdown-cut",
                          say(f"ev.limit_{what}", lang, cells=shown, cell_max=_caps()[what][0],
                              total_max=_caps()[what][1])))
    if not any(skipped.values()):
        return nb, []
    return {**nb, "cells": seen}, flags


def _caps() -> dict[str, tuple[int, int]]:
    return {"code": (MAX_CELL_CODE, MAX_CODE), "markdown": (MAX_CELL_MARKDOWN, MAX_MARKDOWN),
            "outputs": (outputs.MAX_TEXT, MAX_OUTPUT_TEXT)}


def _text_size(out) -> int:
    """Characters of printed text in one output (its stream text or text/plain); 0 for an image."""
    if not isinstance(out, dict):
        return 0
    if out.get("output_type") == "stream":
        return _size(out.get("text"))
    data = out.get("data")
    if isinstance(data, dict) and not any(k.startswith("image/") for k in data):
        return _size(data.get("text/plain"))
    return 0


def _size(value) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(len(v) for v in value if isinstance(v, str))
    return 0
