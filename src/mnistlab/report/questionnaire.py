"""The lab's sections and questions, loaded from ``questions.toml``, and their answers for a run.

The data file holds, for every question of the lab in its order, the lab's words (French) and a
translation, the fixed explanation, and which measurement answers it (``measure``: a name from
:mod:`mnistlab.report.measures`, ``args``: its keyword arguments), as big_vision's evaluators are chosen
from a config. :func:`load` checks the whole file: an unknown measurement, an argument it does not take,
a duplicate key or a section without a heading is a :class:`QuestionsError` when the file loads.
"""

from __future__ import annotations

import inspect
import tomllib
from dataclasses import dataclass, field
from typing import Any

from mnistlab import lab
from mnistlab.errors import MnistlabError
from mnistlab.lab import plan
from mnistlab.report import measures
from mnistlab.report.artifacts import Run
from mnistlab.report.measures import Answer, Unavailable, building, fashion, training  # noqa: F401 - they register their measurements

DATA = "questions.toml"


class QuestionsError(MnistlabError):
    """``questions.toml`` names an unknown measurement or is malformed."""


@dataclass(frozen=True)
class Section:
    id: str  # "ex1.4"
    fr: str  # the lab's heading (tp2.fr.md)
    en: str  # its translation (the lab plan)
    step: str  # the run's step its measurements come from (the lab plan)

    def title(self, lang: str) -> str:
        return {"fr": self.fr, "en": self.en}[lang]


@dataclass(frozen=True)
class Question:
    key: str  # "ex1.4.1": exercise, section, number (a letter for an "À faire" item)
    section: str  # "ex1.4"
    label: str  # "1", "2", ... or "a", "b"
    fr: str  # the lab's words
    en: str  # an English translation
    explain_fr: str  # the fixed explanation, true whatever the run
    explain_en: str
    measure: str  # name in measures.registry()
    args: dict[str, Any] = field(default_factory=dict)
    todo: bool = False  # an "À faire" / "À observer" item rather than a numbered question

    def quote(self, lang: str) -> str:
        return {"fr": self.fr, "en": self.en}[lang]

    def explanation(self, lang: str) -> str:
        return {"fr": self.explain_fr, "en": self.explain_en}[lang]


@dataclass(frozen=True)
class Lab:
    sections: dict[str, Section]
    questions: list[Question]


def parse(text: str, source: str = DATA) -> Lab:
    """The lab's questions from the text of a ``questions.toml``.

    Raises:
        QuestionsError: not TOML, a missing field, an unknown measurement or argument, a duplicate key.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise QuestionsError(f"not valid TOML: {e}", source) from None
    registry = measures.registry()
    titles, words = lab.section_titles(), lab.question_texts()
    every = {sid: Section(sid, titles.get(sid, sid), s.en, s.step) for sid, s in plan.load().sections.items()}
    try:
        qs = []
        for q in raw["question"]:
            key = q["key"]
            if "fr" in q:
                raise QuestionsError(f"question {key!r}: the lab's words are in tp2.fr.md, not here", source)
            if key not in words:
                raise QuestionsError(f"question {key!r} is not in the lab's text (tp2.fr.md)", source)
            qs.append(Question(key, key.rsplit(".", 1)[0], q["label"], words[key], q["en"], q.get("explain_fr", ""),
                               q.get("explain_en", ""), q["measure"], dict(q.get("args", {})), bool(q.get("todo"))))
    except (KeyError, TypeError, AttributeError) as e:
        raise QuestionsError(f"malformed entry (missing or wrong field {e})", source) from None
    seen = set()
    for q in qs:
        if q.key in seen:
            raise QuestionsError(f"question {q.key!r} appears twice", source)
        seen.add(q.key)
        if q.section not in every:
            raise QuestionsError(f"question {q.key!r}: no section {q.section!r} in the lab plan", source)
        if q.measure not in registry:
            raise QuestionsError(f"question {q.key!r}: unknown measurement {q.measure!r}", source)
        params = inspect.signature(registry[q.measure]).parameters
        if unknown := [a for a in q.args if a not in params or a in ("run", "lang")]:
            raise QuestionsError(f"question {q.key!r}: measurement {q.measure!r} takes no argument {unknown[0]!r}",
                                 source)
        step = params.get("step")
        if step is not None and step.default is inspect.Parameter.empty and "step" not in q.args and not (
                every[q.section].step):
            raise QuestionsError(f"question {q.key!r}: measurement {q.measure!r} needs a step, and section "
                                 f"{q.section!r} shows none (give args.step)", source)
        if bool(q.explain_fr) != bool(q.explain_en):
            raise QuestionsError(f"question {q.key!r}: an explanation in one language only", source)
    asked = {q.section for q in qs}
    return Lab({sid: sec for sid, sec in every.items() if sid in asked}, qs)


_LOADED: dict[str, tuple[plan.Plan, Lab]] = {}


def load() -> Lab:
    """The lab's questions: the package's ``questions.toml``, or the one beside the lab plan in use (each
    parsed once per plan)."""
    text, current = plan.resource(DATA, "mnistlab.report"), plan.load()
    cached = _LOADED.get(text)
    if cached is None or cached[0] is not current:
        cached = _LOADED[text] = (current, parse(text))
    return cached[1]


def sections() -> dict[str, Section]:
    return load().sections


def in_section(section: str) -> list[Question]:
    """The questions of ``section``, in the lab's order."""
    return [q for q in load().questions if q.section == section]


def arguments(q: Question) -> dict[str, Any]:
    """``q``'s measurement's keyword arguments: its ``args``, and ``step``, the step its section shows, when the
    measurement takes one and ``args`` does not set it (so no measurement spells a step's name)."""
    args = dict(q.args)
    if "step" in inspect.signature(measures.registry()[q.measure]).parameters and "step" not in args:
        args["step"] = sections()[q.section].step
    return args


def answer(q: Question, run: Run, lang: str) -> Answer:
    """``q``'s answer for ``run``: the fixed explanation, then what the run measured.

    A measurement whose steps are missing or unreadable says so, with the reason (:class:`Unavailable`);
    any other exception is a bug and propagates.
    """
    fn = measures.registry()[q.measure]
    explanation = [q.explanation(lang)] if q.explain_fr else []
    try:
        got = fn(run, lang, **arguments(q))
    except Unavailable as e:
        return Answer(explanation + [measures.unavailable_text(run, str(e), lang)])
    return Answer(explanation + [p for p in got.paragraphs if p], got.sources)
