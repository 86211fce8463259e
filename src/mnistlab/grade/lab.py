"""The grader's only door to the lab: its steps, its questions, its reference code and reference answers.

Everything the grader knows about the lab comes through the functions here, so that the lab's source
(today :mod:`mnistlab.lab` and the report's ``questions.toml``) can move without touching the grader.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

NAME = "tp2"


@dataclass(frozen=True)
class Question:
    """One of the lab's questions: key (``ex1.4.1``), section id, the lab's words, the step it belongs to."""

    key: str
    section: str
    text: str
    step: str
    todo: bool = False


def steps() -> tuple[str, ...]:
    """The lab's steps, in order (``ex1``, ``ex2.ann``, ...)."""
    from mnistlab import lab

    return tuple(lab.STEPS)


@functools.cache
def questions() -> tuple[Question, ...]:
    """Every question and "À faire" item of the lab, in the lab's order."""
    from mnistlab import lab

    out = []
    for c in lab.cells(None):
        if c.question:
            text = c.source.split(" : ", 1)[-1].strip()
            out.append(Question(c.name, c.section, text, lab.SECTION_STEP.get(c.section, "ex1"), c.todo))
    return tuple(out)


@functools.cache
def reference_cells() -> tuple[tuple[str, str], ...]:
    """The lab's own code cells at its settings, as (block name, source)."""
    from mnistlab import lab

    return tuple((c.name, c.source) for c in lab.cells(None) if c.kind == "code")


@functools.cache
def reference_answers(lang: str = "fr") -> dict[str, str]:
    """The fixed explanation the report gives for each question that has one (the review queue's model)."""
    raw = tomllib.loads((resources.files("mnistlab.report") / "questions.toml").read_text(encoding="utf-8"))
    key = "explain_en" if lang == "en" else "explain_fr"
    return {q["key"]: " ".join(str(q[key]).split()) for q in raw.get("question", []) if key in q}


def settings(step: str) -> dict:
    """The lab's settings of ``step`` (its experiment's config, as ``mnistlab run`` would use)."""
    from mnistlab import config

    return config.load(step, {}).to_dict()


def generated_marker() -> str:
    """The notebook metadata key under which ``mnistlab notebook`` records the answers it wrote."""
    from mnistlab.notebook import GENERATED_KEY

    return GENERATED_KEY
