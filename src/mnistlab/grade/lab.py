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


@dataclass(frozen=True)
class Section:
    """A section of the lab that has questions: id (``ex1.4``), exercise, number, its titles (fr, en)."""

    id: str
    exercise: str
    number: int
    titles: tuple[str, ...]
    step: str = ""  # the lab step whose code the section shows


@functools.cache
def sections() -> tuple[Section, ...]:
    """The lab's numbered sections (``ex1.1`` ... ``ex2.7``), with their French and English titles."""
    from mnistlab import lab
    from mnistlab.lab import plan

    titles: dict[str, list[str]] = {}
    for c in lab.cells(None):
        if c.kind == "markdown" and not c.question and c.source.lstrip().startswith("#"):
            titles.setdefault(c.section, []).append(c.source.strip().split("\n", 1)[0].lstrip("#").strip())
    out = []
    for sid, sec in plan.load().sections.items():
        ex, _, num = sid.partition(".")
        if num.isdigit():
            out.append(Section(sid, ex, int(num), (*titles.get(sid, [])[:1], sec.en), sec.step or ""))
    return tuple(out)


@functools.cache
def question_texts() -> dict[str, tuple[str, ...]]:
    """Each question's words in every language the lab is given in (French first)."""
    from mnistlab.report import questionnaire

    en = {q.key: q.quote("en") for q in questionnaire.load().questions}
    return {q.key: tuple(t for t in (q.text, en.get(q.key, "")) if t) for q in questions()}


@functools.cache
def tool_texts() -> tuple[str, ...]:
    """Every sentence ``mnistlab notebook`` can write into an answer: the words files and the questions'
    explanations, with their ``{fields}`` left in (the grader reads them as placeholders)."""
    from mnistlab import i18n
    from mnistlab.report import questionnaire

    out: list[str] = []

    def walk(value) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(i18n.words())
    for q in questionnaire.load().questions:
        out += [q.explanation("fr"), q.explanation("en")]
    return tuple(out)


@functools.cache
def prose_lines() -> frozenset[str]:
    """The lab's own Markdown lines (text a student copies from the lab is not an answer)."""
    from mnistlab import lab

    return frozenset(ln for c in lab.cells(None) if c.kind == "markdown" for ln in c.source.split("\n"))


@functools.cache
def code_blocks() -> tuple[str, ...]:
    """The source of the lab's code cells (their comments are the lab's, not a student's)."""
    from mnistlab import lab

    return tuple(c.source for c in lab.cells(None) if c.kind == "code")


@functools.cache
def code_section(block: str) -> str | None:
    """The numbered section (``ex1.4``) whose code the lab's code block ``block`` is, None for the set-up."""
    from mnistlab import lab

    ids = {s.id for s in sections()}
    for c in lab.cells(None):
        if c.kind == "code" and c.name == block:
            return c.section if c.section in ids else None
    return None


def step_title(step: str, lang: str = "fr") -> str:
    """The step's title in ``lang`` (``Exercice 1 — MNIST, ...``); the step's name when the lab has none."""
    from mnistlab.errors import MnistlabError
    from mnistlab.lab import plan

    try:
        title = plan.title_en(step) if lang == "en" else settings(step).get("title")
    except MnistlabError:
        title = None
    return str(title or step)
