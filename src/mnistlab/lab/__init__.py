"""The lab as data: its French text, section titles, questions and every code block, in the lab's order.

``tp2.fr.md`` holds the lab's text and code, in the lab's order, with directives: ``@section ID | title``,
``@question KEY | text``, ``@todo KEY | text``, and ``@code NAME | attributes`` followed by the block's code in
a ``` fence (``@part NAME`` for a piece of code another block writes in, not a cell of its own). The code is a
template (``string.Template``) whose ``$placeholders`` :mod:`mnistlab.lab.fill` fills with an experiment's
validated settings: each placeholder has one writer (``fill.FILLERS``); a block takes the settings of the step
its name starts with (``ex2.cnn.fit``: ``ex2.cnn``), else of the first step of its exercise (``ex2.load``: the
first ``ex2`` step); a line holding only a placeholder that fills to nothing is dropped; comments marked
"ajout" are not in the lab. Attributes: ``x`` (the lab's name of the image arrays, for the data check),
``x_test`` (the test images ``$validation`` names; default ``X_test``), ``leaky_block`` (the activation study's
LeakyReLU part). The notebook's code cells and the report's code listing both come from :func:`cells`, so
they cannot disagree.

Section ids are the report's: ``ex1.1`` .. ``ex1.9``, ``ex2.1`` .. ``ex2.7``, plus ``intro``, ``setup``,
``ex1``, ``ex2`` (the exercises' introductions) and ``travail`` (the "Travail demandé" section, at the end).
"""

from __future__ import annotations

import functools
import os
import string
from dataclasses import dataclass
from typing import Any

from mnistlab import config
from mnistlab.errors import ConfigError, MnistlabError
from mnistlab.lab import fill, plan

LANGS = ("fr",)
TEXT = "tp2.fr.md"
@dataclass(frozen=True)
class Cell:
    """One cell of the lab.

    kind: ``"markdown"`` or ``"code"``; section: its section id; source: its text.
    name: the code block's name (``"ex1.fit"``), or the question's key (``"ex1.4.1"``) for a question.
    question: True for a question or an "À faire" item (an answer follows it in the notebook).
    """

    kind: str
    section: str
    source: str
    name: str = ""
    question: bool = False
    todo: bool = False


def steps_for(selected: list[str] | tuple[str, ...]) -> list[str]:
    """``selected`` with every step its code needs, in the lab's order."""
    want, steps = set(selected), plan.load().steps
    for name in reversed(steps):  # a step needs only earlier ones, so one pass backwards takes needs of needs
        if name in want:
            want.update(steps[name].needs)
    return [s for s in steps if s in want]


def experiments(configs: dict[str, dict[str, Any]] | None, steps: list[str] | None = None
                ) -> dict[str, config.Experiment]:
    """Validate each step's settings as ``mnistlab run`` does; missing steps get the lab's defaults.

    Args:
        configs: {experiment name: config dict as in a run folder's ``config.json``}.
        steps: the lab steps wanted (default: the whole lab); their needs are added.

    Raises:
        ConfigError: an unknown key, a wrong type or value, or a setting the lab's code cannot express.
    """
    configs = configs or {}
    if not isinstance(configs, dict):
        raise ConfigError("the notebook's settings must be a mapping of experiment name to settings")
    names = plan.step_names()
    unknown = [n for n in configs if n not in names]
    if unknown and steps is None:
        raise ConfigError(f"{unknown[0]!r} is not a step of the lab's code (the notebook holds "
                          f"{', '.join(names)})")
    out = {}
    for name in steps_for(steps if steps is not None else list(names)):
        raw = configs.get(name) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{name}: settings must be a mapping, got {type(raw).__name__}")
        exp = config.load(name, {k: v for k, v in raw.items() if k not in ("name", "title")})
        fill.check(exp)
        out[name] = exp
    for key in ("train_limit", "test_limit"):
        for dataset in {e.dataset for e in out.values()}:
            if len({getattr(e, key) for e in out.values() if e.dataset == dataset}) > 1:
                raise ConfigError(f"{key} differs between the steps on {dataset}, which share one data set in "
                                  "the lab's code")
    return out


def cells(configs: dict[str, dict[str, Any]] | None, lang: str = "fr", steps: list[str] | None = None,
          data_dir: str | os.PathLike | None = None,
          studies: dict[str, config.Experiment] | None = None) -> list[Cell]:
    """The lab as cells, in the lab's order, with the given settings.

    Args:
        configs: {experiment name: config dict as in ``config.json``}; missing steps use the lab's defaults.
        lang: ``"fr"``, the lab's language (the only one for now).
        steps: the lab steps to include (default: all); the steps their code needs are added.
        data_dir: ignored: the code loads data as the lab does (``mnist.load_data()``); an offline folder is
            served by the kernel's start-up (:mod:`mnistlab.notebook.loader`), never written into the code.
        studies: the validated "what if" studies to try (``mnistlab notebook --extended``): the code blocks
            that try them (:func:`mnistlab.lab.plan.extended_cells`) are left out when none of theirs is given.

    Returns:
        Markdown and code cells, each tagged with its section id.

    Raises:
        ConfigError: see :func:`experiments`. MnistlabError: an unknown language.
    """
    if lang not in LANGS:
        raise MnistlabError(f"the lab's notebook exists in {', '.join(LANGS)} only, not {lang!r}")
    exps = experiments(configs, steps)
    shown = plan.load().sections
    if [sid for sid, _, _ in _sections()] != list(shown):
        raise MnistlabError("tp2.fr.md and plan.toml must list the same sections in the same order")
    out: list[Cell] = []
    tries = plan.extended_cells()
    for section, title, items in _sections():
        if shown[section].step and shown[section].step not in exps:
            continue
        level = "##" if "." not in section else "###"
        text = [f"{level} {title}"]
        for kind, name, body in items:
            if kind == "text":
                text.append(body)
                continue
            if text:
                out.append(Cell("markdown", section, "\n\n".join(text)))
                text = []
            if kind == "code" and name in tries:
                chosen = [n for n in tries[name] if n in (studies or {})]
                if chosen:
                    out.append(Cell("code", section, _whatif(name, chosen, studies or {}), name))
            elif kind == "code":
                out.append(Cell("code", section, _code(name, exps, data_dir), name))
            else:
                label = f"**Question {name.rsplit('.', 1)[1]}** : " if kind == "question" else "**À faire** : "
                out.append(Cell("markdown", section, label + body, name, question=True, todo=kind == "todo"))
        if text:
            out.append(Cell("markdown", section, "\n\n".join(text)))
    return out


def program(configs: dict[str, dict[str, Any]] | None, lang: str = "fr", steps: list[str] | None = None,
            data_dir: str | os.PathLike | None = None) -> str:
    """The whole lab as one runnable listing: the code cells of :func:`cells`, joined in order."""
    return "\n\n".join(c.source for c in cells(configs, lang, steps, data_dir) if c.kind == "code") + "\n"


def question_texts() -> dict[str, str]:
    """{question key: the lab's French words}, for every question and "À faire" item, in the lab's order."""
    return {name: body for _, _, items in _sections() for kind, name, body in items if kind in ("question", "todo")}


def section_titles() -> dict[str, str]:
    """{section id: the lab's French title}, in the lab's order."""
    return {sid: title for sid, title, _ in _sections()}


# --- the data files ----------------------------------------------------------------------------------------


Sections = list[tuple[str, str, list[tuple[str, str, str]]]]


@dataclass(frozen=True)
class Lab:
    """``tp2.fr.md`` parsed: its sections and its code blocks."""

    sections: Sections  # [(section id, title, [(kind, name, text)])]; kinds: text, code, question, todo
    templates: dict[str, str]  # code block -> its template
    attributes: dict[str, dict[str, str]]  # code block -> its attributes (mnistlab.lab.fill.Block)


def _sections() -> Sections:
    """``tp2.fr.md`` as [(section id, title, [(kind, name, text)])]; kinds: text, code, question, todo."""
    return _parse_text(plan.resource(TEXT)).sections


def _templates() -> dict[str, str]:
    return _parse_text(plan.resource(TEXT)).templates


def _attributes() -> dict[str, dict[str, str]]:
    return _parse_text(plan.resource(TEXT)).attributes


@functools.cache
def _parse_text(text: str) -> Lab:
    """Parse the lab's text (the module's docstring gives the format).

    Raises:
        MnistlabError: an unknown directive, a code block without its fenced code or with a malformed
        attribute, a block named twice.
    """
    sections: Sections = []
    templates: dict[str, str] = {}
    attributes: dict[str, dict[str, str]] = {}
    para: list[str] = []
    lines = text.splitlines()

    def flush() -> None:
        body = "\n".join(para).strip()
        if body:
            sections[-1][2].append(("text", "", body))
        para.clear()

    def fenced(i: int, name: str) -> int:
        """Read the fenced code that follows line ``i`` into ``templates[name]``; the index after it."""
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            raise MnistlabError(f"{TEXT}: @code {name} must be followed by its code in a ``` fence")
        end = next((j for j in range(i + 2, len(lines)) if lines[j] == "```"), None)
        if end is None:
            raise MnistlabError(f"{TEXT}: the code of {name} has no closing ``` fence")
        if name in templates:
            raise MnistlabError(f"{TEXT}: code block {name} appears twice")
        templates[name] = "\n".join(lines[i + 2:end]).strip("\n")
        return end + 1

    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("@"):
            para.append(line)
            i += 1
            continue
        directive, _, rest = line[1:].partition(" ")
        name, _, body = (s.strip() for s in rest.partition("|"))
        if directive != "section":
            flush()
        if directive == "section":
            if sections:
                flush()
            sections.append((name, body, []))
        elif directive in ("question", "todo"):
            sections[-1][2].append((directive, name, body))
        elif directive in ("code", "part"):
            attributes[name] = _attributes_of(name, body)
            if directive == "code":
                sections[-1][2].append((directive, name, ""))
            i = fenced(i, name)
            continue
        else:
            raise MnistlabError(f"{TEXT}: unknown directive @{directive}")
        i += 1
    flush()
    return Lab(sections, templates, attributes)


def _attributes_of(name: str, body: str) -> dict[str, str]:
    """``x = X, x_test = X_test_cnn`` -> {"x": "X", "x_test": "X_test_cnn"}."""
    out = {}
    for item in filter(None, (part.strip() for part in body.split(","))):
        key, eq, value = (s.strip() for s in item.partition("="))
        if not (eq and key.isidentifier() and value):
            raise MnistlabError(f"{TEXT}: @code {name}: attributes are `name = value`, separated by commas")
        out[key] = value
    return out


def _render(name: str, values: dict[str, str]) -> str:
    out = []
    for line in _templates()[name].splitlines():
        filled = string.Template(line).substitute(values)
        if line.strip().startswith("$") and not filled.strip():
            continue  # an optional line that fills to nothing
        out.append(filled)
    return "\n".join(out)


def _code(name: str, exps: dict[str, config.Experiment], data_dir: str | os.PathLike | None) -> str:
    """Fill code block ``name`` with the settings of the step it belongs to: each placeholder it uses by its
    writer (:data:`mnistlab.lab.fill.FILLERS`)."""
    used = {p for line in _templates()[name].splitlines() for p in string.Template(line).get_identifiers()}
    if unknown := sorted(used - set(fill.FILLERS)):
        raise MnistlabError(f"{TEXT}: code block {name!r} uses ${unknown[0]}, which nothing writes")
    block = fill.Block(_owner(name, exps), exps, _attributes()[name])
    v: dict[str, str] = {}
    for writer in dict.fromkeys(fill.FILLERS[p] for p in sorted(used)):
        v.update(writer(block))
    return _render(name, v)


def _owner(name: str, exps: dict[str, config.Experiment]) -> config.Experiment:
    """The experiment whose settings fill block ``name``: the step its name starts with (the longest), else the
    first step of its exercise (its name's first part) in the notebook, else the notebook's first step."""
    owner = max((s for s in exps if name == s or name.startswith(s + ".")), key=len, default=None)
    if owner is None:
        exercise = name.split(".", 1)[0]
        owner = next((s for s in exps if s.split(".", 1)[0] == exercise), next(iter(exps)))
    return exps[owner]


def whatif_key(name: str) -> str:
    """How the notebook's "what if" cell names a study: its French label without the step it varies."""
    return plan.load().studies[name].label["fr"].removeprefix("l'exercice 1 ")


def _whatif(block: str, names: list[str], studies: dict[str, config.Experiment]) -> str:
    """A "what if" block: one line per study (loss, optimizer, one-hot, epochs), the base step's layers."""
    for n in names:
        fill.check_study(studies[n])
    first = studies[names[0]]
    lines = [f"    {whatif_key(n)!r}: ({studies[n].loss!r}, lambda: {fill.optimizer(studies[n])}, "
             f"{studies[n].one_hot!r}, {studies[n].epochs!r})," for n in names]
    return _render(block, {**fill.common(first, "x_test"), "studies": "\n".join(lines),
                           "layers": fill.hidden(first, "        ")})


@fill.writes("activations", "act_layers", "leaky")
def _activations(block: fill.Block) -> dict[str, str]:
    exp = block.exp
    plain = [a for a in exp.activations if a != "leaky_relu"]
    v = {**fill.common(exp), "activations": repr(plain),
         "act_layers": fill.hidden(exp, "        ", act_expr="act"), "leaky": ""}
    if "leaky_relu" in exp.activations:
        leaky = _render(block.attrs["leaky_block"], {**v, "leaky_layers": fill.hidden(exp, "    ", "leaky_relu")})
        v["leaky"] = f"\n{leaky}\n"
    return v


@fill.writes("curves")
def _curve_dict(block: fill.Block) -> dict[str, str]:
    return {"curves": "{" + ", ".join(f"{label!r}: {expr}" for step, (label, expr) in _curves(block.exps)) + "}"}


@fill.writes("finals")
def _finals(block: fill.Block) -> dict[str, str]:
    """One line per exercise: the test accuracy of its last step with curves, under the plan's words."""
    last = {}
    for step in plan.load().steps.values():
        if step.curves and step.name in block.exps:
            last[step.name.split(".", 1)[0]] = step
    lines = [f'print(f"{s.final[0]}, précision sur le test : {{{s.final[1]}:.4f}}")' for s in last.values()]
    return {"finals": "\n".join(lines)}


def _curves(exps: dict[str, config.Experiment]) -> list[tuple[str, tuple[str, str]]]:
    """(step, (label, history expression)) of the steps with curves in "Travail demandé", in the lab's order."""
    return [(n, s.curves) for n, s in plan.load().steps.items() if s.curves and n in exps]
