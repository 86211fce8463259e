"""The notebook's cells: a title cell, the lab's cells (:mod:`mnistlab.lab`), an answer field after each
question, and, once executed, the answers and the analysis measured on the execution's own values."""

from __future__ import annotations

import html
import re

from mnistlab import lab
from mnistlab.i18n import say
from mnistlab.lab import plan
from mnistlab.notebook import kernel, quoted

LANG = "fr"  # the notebook's language: the lab's
FIELD = "…"
TO_WRITE = say("notebook.to_write", LANG)


def _escape(text: str) -> str:
    """A user's string (name, group) as plain text in Markdown: no HTML, no Markdown markup, no mathematics
    (Jupyter renders ``$...$`` with MathJax; ``\\$`` is a dollar sign)."""
    text = html.escape(" ".join(str(text).split()), quote=True)
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~>$])", r"\\\1", text)


def notebook(cells: list[lab.Cell], author: str | None, group: str | None, date: str):
    """An nbformat v4 notebook of ``cells``, with the title cell first and an answer cell after each question."""
    from nbformat import v4

    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = dict(kernel.KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    title = f"# {say('notebook.title', LANG)}\n\n" + say("notebook.title_block", LANG, date=_escape(date),
                                                           author=_escape(author) if author else FIELD,
                                                           group=_escape(group) if group else FIELD)
    nb.cells.append(v4.new_markdown_cell(title, metadata={"mnistlab": {"section": "title"}}))
    for c in cells:
        meta = {"mnistlab": {"section": c.section, **({"block": c.name} if c.kind == "code" else {})}}
        if c.kind == "code":
            nb.cells.append(v4.new_code_cell(c.source, metadata=meta))
            later = _later(c.name)
            if later:  # the measured answers to questions the lab asks before this cell
                nb.cells.append(v4.new_markdown_cell(TO_WRITE, metadata={"mnistlab": {"section": c.section,
                                                                                      "later": later}}))
            continue
        if c.question:
            meta["mnistlab"]["question"] = c.name
        nb.cells.append(v4.new_markdown_cell(c.source, metadata=meta))
        if c.question:
            nb.cells.append(v4.new_markdown_cell(TO_WRITE, metadata={"mnistlab": {"section": c.section,
                                                                                  "answer": c.name}}))
    nb.cells.append(v4.new_markdown_cell(say("notebook.analysis", LANG, analysis=TO_WRITE),
                                         metadata={"mnistlab": {"section": "travail", "analysis": True}}))
    return nb


def fill_answers(nb, answers: dict[str, str], analysis: str) -> int:
    """Write the measured answers into the answer cells; returns how many were filled.

    An answer keeps only the paragraphs whose measured values an output above it shows
    (:func:`mnistlab.notebook.quoted.keep_shown`): a question asked before the cell that computes a result
    is answered from the course, and the result is quoted where it is printed.
    """
    filled = 0
    shown = quoted.Shown()
    for cell in nb.cells:
        meta = cell.metadata.get("mnistlab", {})
        if cell.cell_type == "code":
            shown.add(quoted.output_text(cell))
        elif meta.get("answer") in answers and (text := quoted.keep_shown(answers[meta["answer"]], shown)).strip():
            cell.source = say("notebook.answer", LANG, answer=text)
            filled += 1
        elif meta.get("later"):
            parts = [say("notebook.answer_later", LANG, number=k.rsplit(".", 1)[1], section=k.split(".")[1],
                         answer=later) for k in meta["later"] if k in answers
                     and (later := quoted.keep_shown(_measured(answers[k]), shown)).strip()]
            if parts:
                cell.source = "\n\n".join(parts)
        elif meta.get("analysis") and analysis.strip():
            cell.source = say("notebook.analysis", LANG, analysis=analysis)
    return filled


def _later(block: str) -> list[str]:
    """The questions whose measured answer follows code block ``block`` (its "what if" studies'), in order."""
    names = plan.extended_cells().get(block, [])
    studies = plan.load().studies
    return list(dict.fromkeys(studies[n].answers for n in names if studies[n].answers))


def _measured(answer: str) -> str:
    """An answer without its first paragraph (the course's explanation, already written at the question)."""
    return answer.split("\n\n", 1)[1] if "\n\n" in answer else ""


def weights(nb, exps: dict) -> list[float]:
    """Expected relative cost of each code cell: images seen in training times the step's cost per image."""
    fit = plan.fit_cells()
    out = []
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        step = fit.get(c.metadata["mnistlab"]["block"])
        if step is None or step not in exps:
            out.append(1.0)
            continue
        e = exps[step]
        out.append((e.train_limit or 60000) * e.epochs / 10000 * plan.load().steps[step].cost)
    return out
