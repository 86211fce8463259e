"""Which part of the lab (``ex1.4``, ``ex2.5`` ...) each code cell of a notebook is the code of.

Two readings: a cell holding most of the lines of one of the lab's code blocks is that block's part (the last
such block when a cell holds several); otherwise what the cell calls (``load_data``, ``Sequential``,
``compile``, ``fit``, ``evaluate``, ``predict`` ...) and the step its model belongs to (the plan's parts of
each step) name its part. The answers reader (:mod:`~mnistlab.grade.layout`) takes a bare "Q1" under a cell
as a question of that cell's part.
"""

from __future__ import annotations

import ast
import functools
import re

from mnistlab.grade import lab
from mnistlab.grade.parse import Notebook, parse_code


def _key(line: str) -> str:
    """A code line without its comment and whitespace (a quick key: a '#' inside a string cuts it short)."""
    return re.sub(r"\s+", "", line.split("#", 1)[0])


@functools.cache
def _reference_blocks() -> tuple[tuple[str, frozenset[str]], ...]:
    """(section, the set of its code lines) of each of the lab's code blocks."""
    common = {"plt.show()", "importmatplotlib.pyplotasplt", "importnumpyasnp", "importtensorflowastf", ""}
    out = []
    for name, src in lab.reference_cells():
        section = lab.code_section(name)
        keys = frozenset(_key(ln) for ln in src.split("\n") if not ln.strip().startswith("#")) - common
        if section and len(keys) >= 3:
            out.append((section, keys))
    return tuple(out)


# What a code cell does -> the part of the lab it is the code of (exercise 1's parts by what is called; in
# exercise 2, by the step the cell's model belongs to). The last part a cell reaches is its part.
_EX1_CALLS = (("__version__", 1), ("load_data", 2), ("imshow", 3), ("Sequential", 4), ("add", 4), ("summary", 4),
              ("compile", 5), ("fit", 6), ("evaluate", 7), ("history", 8), ("predict", 9))
_EX2_CALLS = (("load_data", 1), ("imshow", 1), ("to_categorical", 2))


def _semantic_sections(nbk: Notebook) -> dict[int, str]:
    """The lab part each code cell is the code of, from what it calls and the step of its model."""
    by_step: dict[str, int] = {}  # step -> the last exercise-2 part that shows its code (the plan's)
    for sec in lab.sections():
        if sec.exercise == "ex2" and sec.step:
            by_step[sec.step] = max(by_step.get(sec.step, 0), sec.number)
    steps: dict[int, list[str]] = {}
    for name, st in nbk.steps.items():
        for cell in st.cells:
            steps.setdefault(cell, []).append(name)
    first = lab.exercises()[0][0]
    out, exercise = {}, first
    for cell, src in zip(nbk.code_cells, nbk.code, strict=False):
        names = nbk.names.get(cell)
        if names is None:
            tree = parse_code(src)
            if tree is None:
                continue
            names = frozenset(n.attr if isinstance(n, ast.Attribute) else n.id for n in ast.walk(tree)
                              if isinstance(n, (ast.Attribute, ast.Name)))
        mine = steps.get(cell, [])
        if any(s.startswith("ex2") for s in mine) or ("load_data" in names and "fashion_mnist" in names):
            exercise = "ex2"
        if exercise == first:
            parts = [n for key, n in _EX1_CALLS if key in names]
        else:
            model = names & {"Sequential", "compile", "fit", "evaluate", "add", "summary", "predict"}
            parts = [n for key, n in _EX2_CALLS if key in names] + [by_step[s] for s in mine if s in by_step
                                                                     and (model or by_step[s] != min(by_step.values()))]
        if parts:
            out[cell] = f"{exercise}.{max(parts)}"
    return out


def code_sections(nbk: Notebook) -> dict[int, str]:
    """The lab section each code cell is the code of: most of a lab block's lines in it (the last such block
    when a cell holds several), else what the cell calls (:func:`_semantic_sections`)."""
    order = [s.id for s in lab.sections()]
    out = _semantic_sections(nbk)
    for cell, src in zip(nbk.code_cells, nbk.code, strict=False):
        mine = {_key(ln) for ln in src.split("\n")}
        scores = [(len(mine & keys) / len(keys), sec) for sec, keys in _reference_blocks()]
        best = max((sc for sc, _ in scores), default=0.0)
        hits = [sec for sc, sec in scores if sc >= max(0.6, best - 0.1)]
        if hits:
            out[cell] = max(hits, key=lambda sec: order.index(sec) if sec in order else -1)
    return out
