"""The grader's only door to the lab: its steps, its questions, its reference code and reference answers.

Everything the grader knows about the lab comes through the functions here: the lab plan
(:mod:`mnistlab.lab.plan`), the lab's text and code (:mod:`mnistlab.lab`) and its questions
(:mod:`mnistlab.report.questionnaire`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

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
    from mnistlab.lab import plan

    return plan.step_names()


@functools.cache
def questions() -> tuple[Question, ...]:
    """Every question and "À faire" item of the lab, in the lab's order."""
    from mnistlab import lab
    from mnistlab.lab import plan

    sections = plan.load().sections
    out = []
    for c in lab.cells(None):
        if c.question:
            text = c.source.split(" : ", 1)[-1].strip()
            out.append(Question(c.name, c.section, text, sections[c.section].step or steps()[0], c.todo))
    return tuple(out)


@functools.cache
def reference_cells() -> tuple[tuple[str, str], ...]:
    """The lab's own code cells at its settings, as (block name, source)."""
    from mnistlab import lab

    return tuple((c.name, c.source) for c in lab.cells(None) if c.kind == "code")


@functools.cache
def reference_answers(lang: str = "fr") -> dict[str, str]:
    """The fixed explanation the report gives for each question that has one (the review queue's model)."""
    from mnistlab.report import questionnaire

    return {q.key: " ".join(q.explanation(lang).split()) for q in questionnaire.load().questions if q.explain_fr}


def settings(step: str) -> dict:
    """The lab's settings of ``step`` (its experiment's config, as ``mnistlab run`` would use)."""
    from mnistlab import config

    return config.load(step, {}).to_dict()


def generated_marker() -> str:
    """The notebook metadata key under which ``mnistlab notebook`` records the answers it wrote."""
    from mnistlab.notebook import GENERATED_KEY

    return GENERATED_KEY


def step_title(step: str, lang: str = "fr") -> str:
    """The step's title in ``lang`` (``Exercice 1 — MNIST, ...``); the step's name when the lab has none."""
    from mnistlab.errors import MnistlabError
    from mnistlab.lab import plan

    try:
        title = plan.title_en(step) if lang == "en" else settings(step).get("title")
    except MnistlabError:
        title = None
    return str(title or step)
