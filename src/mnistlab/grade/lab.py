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


@dataclass(frozen=True)
class Shape:
    """What tells a lab step in a student's code, from the plan and the step's experiment file only."""

    name: str
    exercise: str  # the step name's first part (``ex2`` of ``ex2.cnn``), as the questions' keys number it
    dataset: str
    kind: str  # the experiment's ``step``: train, activations (a loop over activations), confusion, augment
    marks: tuple[str, ...]  # the Keras layers that mark its model's family (config.MODELS)
    variables: tuple[str, ...]  # the names the lab's code gives its models
    from_step: str  # the step whose model it continues ("" for none)


def shapes() -> tuple[Shape, ...]:
    """Every lab step's :class:`Shape`, in the lab's order (worked out once per plan in use)."""
    from mnistlab import config
    from mnistlab.lab import plan

    current = plan.load()
    if _SHAPES and _SHAPES[0] is current:
        return _SHAPES[1]
    out = []
    for name, step in current.steps.items():
        s = settings(name)
        out.append(Shape(name, name.split(".", 1)[0], str(s["dataset"]), str(s["step"]),
                         tuple(config.MODELS.get(s["model"], ())), (step.variable, *step.more_variables),
                         str(s.get("from_step") or "")))
    _SHAPES[:] = [current, tuple(out)]
    return _SHAPES[1]


_SHAPES: list = []  # [the plan, its shapes]


def exercises() -> tuple[tuple[str, str], ...]:
    """The lab's exercises in order, each with the data set its steps use: ``(("ex1", "mnist"), ...)``."""
    out: dict[str, str] = {}
    for sh in shapes():
        out.setdefault(sh.exercise, sh.dataset)
    return tuple(out.items())


def shape(step: str) -> Shape | None:
    """The :class:`Shape` of ``step``, None for a name that is not a lab step."""
    return next((sh for sh in shapes() if sh.name == step), None)


def exercise_of(step: str) -> str:
    """The exercise a lab step belongs to (the first exercise for a name that is not a lab step)."""
    sh = shape(step)
    return sh.exercise if sh else exercises()[0][0]


def first_step(exercise: str) -> str:
    """The exercise's first step: where a cell that loads its data belongs."""
    return next(sh.name for sh in shapes() if sh.exercise == exercise)


def model_step(exercise: str, layers: set[str] | frozenset[str], study: bool, variable: str = "") -> str:
    """The step a student's model is, from the exercise it is built in, its layers' kinds, whether it is built
    in a loop (``study``: the activation study trains one model per activation) and its variable's name.

    A model named as the lab names a study's models, or built in a loop, is the exercise's study; otherwise the
    exercise's step whose family marks the model carries, the most specific first (a CNN with batch
    normalisation is a cnn_bn step where the exercise has one, else the CNN), ties to the lab's order.
    """
    trained = [sh for sh in shapes() if sh.kind in _TRAINED and not sh.from_step]
    own = [sh for sh in trained if sh.exercise == exercise] or trained
    studies = [sh for sh in own if sh.kind == _STUDY]
    if studies and (study or any(variable in sh.variables for sh in studies)):
        return studies[0].name

    def best(candidates: list[Shape]) -> Shape | None:
        fits = [sh for sh in candidates if sh.kind != _STUDY and set(sh.marks) <= set(layers)]
        return max(fits, key=lambda sh: len(sh.marks)) if fits else None  # max keeps the first of a tie

    here, anywhere = best(own), best(trained)
    if here is None or (anywhere is not None and len(anywhere.marks) > len(here.marks)):
        here = anywhere  # marks no step of this exercise has (a CNN where only dense networks are asked)
    return (here or own[0]).name


def continued_step(kind: str, base: str | None) -> str | None:
    """The lab step of ``kind`` (augment, confusion) that continues ``base``'s model (any step of that kind in
    ``base``'s exercise when none continues it exactly); None when the lab has none."""
    of_kind = [sh for sh in shapes() if sh.kind == kind]
    exact = [sh for sh in of_kind if base and sh.from_step == base]
    same = [sh for sh in of_kind if base and sh.exercise == exercise_of(base)]
    found = exact or same or of_kind
    return found[0].name if found else None


def is_study(step: str) -> bool:
    """Whether ``step`` is a lab step that trains one model per setting in a loop (the activation study)."""
    sh = shape(step)
    return sh is not None and sh.kind == _STUDY


def _trained_kinds() -> tuple[str, ...]:
    from mnistlab import config

    return tuple(k for k, (trains, uses_model) in config.KINDS.items() if trains and not uses_model)


# Step kinds (config.KINDS) as the grader tells them apart: a model built and trained (in a loop for a study),
# a confusion matrix of a model, a model trained on augmented batches (``fit(datagen.flow(...))``).
_TRAINED = _trained_kinds()  # the kinds that build and train a model of their own: train, activations
_STUDY = "activations"
CONFUSION = "confusion"
AUGMENT = "augment"
