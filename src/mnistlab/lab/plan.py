"""The lab plan: the lab's steps, studies and sections as data (``plan.toml``), loaded and checked once.

Every list of the lab's steps in the code comes from here: the order, what a step's code needs, which
steps a seed study repeats, how prose names a step, its English title, its model's variable in the lab's
code, the notebook cell that trains it, and the report blocks of each section. The module imports nothing
of mnistlab but :mod:`mnistlab.errors`, so the config, the runner, the report and the notebook may all use it.

Tests (and a lab being extended) can swap the plan for another folder with :func:`use`: its ``plan.toml``,
and beside it any of the lab's other data files (``tp2.fr.md``, ``questions.toml``), which
:func:`resource` then reads instead of the package's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from mnistlab.errors import MnistlabError

DATA = "plan.toml"


class PlanError(MnistlabError):
    """``plan.toml`` is malformed: a missing field, an unknown step, needs out of order."""


@dataclass(frozen=True)
class Step:
    """One step of the lab (see ``plan.toml`` for the meaning of each field)."""

    name: str
    needs: tuple[str, ...]
    seed_study: bool
    label: dict[str, str]
    title_en: str
    variable: str
    fit_cell: str = ""
    cost: float = 1.0
    curves: tuple[str, str] | None = None  # (label, history expression)
    more_variables: tuple[str, ...] = ()  # other names the lab's code gives a model of this step
    final: tuple[str, str] = ("", "")  # "Travail demandé": (words, variable) of its final test accuracy
    capture: dict[str, str] = field(default_factory=dict)  # what the notebook reads back after its cells


@dataclass(frozen=True)
class Study:
    """An extended "what if" study and the lab step it varies."""

    name: str
    base: str
    label: dict[str, str]
    title_en: str
    cell: str = ""  # the notebook's code block that tries it with `mnistlab notebook --extended` ("" for none)
    answers: str = ""  # the question whose measured answer follows that block


@dataclass(frozen=True)
class Block:
    """A report block by name with its keyword arguments (``{compare = "ex2.ann"}`` -> compare, {"other": ...})."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    id: str
    en: str
    step: str  # the step whose results the section shows and whose measurements answer its questions; "" none
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Plan:
    steps: dict[str, Step]
    studies: dict[str, Study]
    sections: dict[str, Section]
    others: dict[str, dict[str, str]] = field(default_factory=dict)  # experiment beyond the lab -> label
    folder: Path | None = None  # where the plan came from, when not the package
    other_bases: dict[str, str] = field(default_factory=dict)  # experiment beyond the lab -> its lab step
    analysis: dict[str, str] = field(default_factory=dict)  # role in the written analysis -> step


def _labels(raw: Any, where: str, source: str) -> dict[str, str]:
    if not (isinstance(raw, dict) and isinstance(raw.get("fr"), str) and isinstance(raw.get("en"), str)):
        raise PlanError(f"{where}: label must be {{fr = \"...\", en = \"...\"}}", source)
    return {"fr": raw["fr"], "en": raw["en"]}


def _block(raw: Any, where: str, source: str) -> Block:
    if isinstance(raw, str):
        return Block(raw)
    if isinstance(raw, dict) and len(raw) == 1:
        (name, value), = raw.items()
        return Block(name, {"value": value})
    raise PlanError(f"{where}: a block is a name or a one-entry table ({{compare = \"ex2.ann\"}})", source)


def parse(text: str, source: str = DATA) -> Plan:
    """The plan from the text of a ``plan.toml``.

    Raises:
        PlanError: not TOML, a missing or mistyped field, a duplicate name, a step that needs a later or an
        unknown step, a section showing an unknown step.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PlanError(f"not valid TOML: {e}", source) from None
    steps: dict[str, Step] = {}
    studies: dict[str, Study] = {}
    sections: dict[str, Section] = {}
    try:
        for s in raw["step"]:
            name = s["name"]
            if name in steps:
                raise PlanError(f"step {name!r} appears twice", source)
            needs = tuple(s.get("needs", ()))
            if late := [n for n in needs if n not in steps]:
                raise PlanError(f"step {name!r} needs {late[0]!r}, which is not an earlier step", source)
            curves = s.get("curves")
            steps[name] = Step(name, needs, bool(s["seed_study"]), _labels(s["label"], name, source),
                               str(s["title_en"]), str(s["variable"]), str(s.get("fit_cell", "")),
                               float(s.get("cost", 1.0)),
                               (str(curves["label"]), str(curves["history"])) if curves else None,
                               tuple(str(v) for v in s.get("more_variables", ())),
                               (str(curves.get("final_label", curves["label"])),
                                str(curves.get("final_value", "test_acc"))) if curves else ("", ""),
                               {str(k): str(v) for k, v in s.get("capture", {}).items()})
            if steps[name].capture and "after" not in steps[name].capture:
                raise PlanError(f"step {name!r}: capture needs `after`, the code block it follows", source)
        for s in raw.get("study", []):
            name, base = s["name"], s["base"]
            if base not in steps:
                raise PlanError(f"study {name!r}: {base!r} is not a step of the lab", source)
            studies[name] = Study(name, base, _labels(s["label"], name, source), str(s["title_en"]),
                                  str(s.get("cell", "")), str(s.get("answers", "")))
        others = {s["name"]: _labels(s["label"], s["name"], source) for s in raw.get("other", [])}
        other_bases = {str(s["name"]): str(s["base"]) for s in raw.get("other", []) if "base" in s}
        analysis = {str(role): str(name) for role, name in raw.get("analysis", {}).items()}
        if wrong := [n for n in [*other_bases.values(), *analysis.values()] if n not in steps]:
            raise PlanError(f"{wrong[0]!r} (an analysis role or an experiment's base) is not a step of the lab",
                            source)
        for sid, s in raw["section"].items():
            if s["step"] and s["step"] not in steps:
                raise PlanError(f"section {sid!r} shows {s['step']!r}, which is not a step of the lab", source)
            sections[sid] = Section(sid, str(s["en"]), str(s["step"]),
                                    tuple(_block(b, f"section {sid!r}", source) for b in s["blocks"]))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise PlanError(f"malformed entry (missing or wrong field {e})", source) from None
    return Plan(steps, studies, sections, others, None, other_bases, analysis)


_CURRENT: list[Plan] = []


def load() -> Plan:
    """The plan in use: the package's ``plan.toml`` (read once), or the one :func:`use` put in place."""
    if not _CURRENT:
        _CURRENT.append(parse(_package_text("mnistlab.lab", DATA)))
    return _CURRENT[-1]


@contextlib.contextmanager
def use(folder: str | Path) -> Iterator[Plan]:
    """Inside the ``with`` block, use the lab in ``folder`` (its ``plan.toml``, and the data files beside it
    that :func:`resource` finds there) instead of the package's."""
    load()
    path = Path(folder) / DATA
    got = parse(path.read_text(encoding="utf-8"), str(path))
    _CURRENT.append(dataclasses.replace(got, folder=Path(folder)))
    try:
        yield _CURRENT[-1]
    finally:
        _CURRENT.pop()


def resource(name: str, package: str = "mnistlab.lab") -> str:
    """The text of the lab's data file ``name``: from the folder of the plan in use when it holds one, else
    from ``package``."""
    folder = load().folder
    if folder is not None and (folder / name).is_file():
        return (folder / name).read_text(encoding="utf-8")
    return _package_text(package, name)


@functools.cache
def _package_text(package: str, name: str) -> str:
    """A data file of the installed package, read once (the report asks for its questions many times)."""
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


# --- what the code derives from the plan ----------------------------------------------------------------------


def step_names() -> tuple[str, ...]:
    """The lab's steps, in order."""
    return tuple(load().steps)


def needs() -> dict[str, tuple[str, ...]]:
    """{step: the steps its code needs before it} for the steps that need any."""
    return {n: s.needs for n, s in load().steps.items() if s.needs}


def seed_study() -> tuple[str, ...]:
    """The steps `mnistlab run --seeds N` repeats with seeds seed+1 .. seed+N-1."""
    return tuple(n for n, s in load().steps.items() if s.seed_study)


def fit_cells() -> dict[str, str]:
    """{notebook code block: the step whose training time it measures}."""
    return {s.fit_cell: n for n, s in load().steps.items() if s.fit_cell}


def label(name: str, lang: str) -> str | None:
    """How prose names a step, a study or another experiment the plan names ("le CNN de l'étape 5"); None
    for the rest."""
    p = load()
    entry = p.steps.get(name) or p.studies.get(name)
    labels = entry.label if entry is not None else p.others.get(name)
    return None if labels is None else labels.get(lang, labels["en"])


def title_en(name: str) -> str | None:
    """The English title of a step or a study; None for other experiments."""
    p = load()
    entry = p.steps.get(name) or p.studies.get(name)
    return None if entry is None else entry.title_en


def base(name: str) -> str | None:
    """The lab step a study varies (``ext.ex1_sgd`` -> ``ex1``), a step itself, or None."""
    p = load()
    if name in p.steps:
        return name
    study = p.studies.get(name)
    return None if study is None else study.base


def other_base(name: str) -> str | None:
    """The lab step an experiment beyond the lab is measured against (``improved.mnist`` -> ``ex1``), or None."""
    return load().other_bases.get(name)


def role(name: str) -> str | None:
    """The step that plays ``name`` in the written analysis (``conv`` -> ``ex2.cnn``), None when none does."""
    return load().analysis.get(name)


def extended_cells() -> dict[str, list[str]]:
    """{notebook code block: the "what if" studies it tries}, for ``mnistlab notebook --extended``."""
    out: dict[str, list[str]] = {}
    for s in load().studies.values():
        if s.cell:
            out.setdefault(s.cell, []).append(s.name)
    return out
