"""The notebook's only door to the report: the lab's questions, and answers measured on a run folder.

Three functions, the report's measurement API (``questions``, ``answers``, ``analysis``). Until that API is
in :mod:`mnistlab.report`, they are written here on top of today's report code (``report.questions``,
``report.analysis``, ``report.artifacts.read_run``); switching to the report's own functions changes this
file only.
"""

from __future__ import annotations

import os
import re

# Today's answers speak of "ce run" and suggest commands; the notebook is a hand-in of one execution.
_UNMEASURED = ("Pas mesuré", "Non mesuré", "Réponse mesurée indisponible", "Not measured",
               "Measured answer unavailable")
NOT_MEASURED = "*Non mesuré dans ce notebook. Votre réponse :* …"
_WORDS = ((" dans ce run", " dans cette exécution"), ("Dans ce run", "Dans cette exécution"),
          (" de ce run", " de cette exécution"), ("Ce run", "Cette exécution"), (" ce run", " cette exécution"),
          (" du run", " de l'exécution"))


def questions(lang: str = "fr") -> dict[str, list[dict[str, object]]]:
    """The lab's questions by section id: [{"key", "label", "quote", "todo"}], in the lab's order."""
    from mnistlab.report.questions import QUESTIONS

    out: dict[str, list[dict[str, object]]] = {}
    for q in QUESTIONS:
        out.setdefault(q.section, []).append({"key": q.key, "label": q.label, "quote": q.fr if lang == "fr" else q.en,
                                              "todo": q.todo})
    return out


def answers(run_dir: str | os.PathLike, lang: str = "fr") -> dict[str, str]:
    """Each question's answer (Markdown), measured on the run folder ``run_dir``."""
    from mnistlab.report.artifacts import read_run
    from mnistlab.report.questions import QUESTIONS, answer

    run = read_run(run_dir)
    return {q.key: _clean(answer(q, run, lang).paragraphs) for q in QUESTIONS}


def analysis(run_dir: str | os.PathLike, lang: str = "fr") -> str:
    """The personal analysis (5-10 lines, Markdown) written from the run folder's numbers."""
    from mnistlab.report import analysis as report_analysis
    from mnistlab.report.artifacts import read_run

    return _clean([" ".join(report_analysis.analysis(read_run(run_dir), lang))])


def _clean(paragraphs: list[str]) -> str:
    out = []
    for p in paragraphs:
        if p.startswith(_UNMEASURED):
            out.append(NOT_MEASURED)
            continue
        # Sentences about the tool (its commands, its fast path) are not part of a hand-in.
        p = " ".join(s for s in re.split(r"(?<=[.!?])\s+", p) if "mnistlab" not in s)
        for old, new in _WORDS:
            p = p.replace(old, new)
        if p.strip():
            out.append(p)
    return "\n\n".join(dict.fromkeys(out))
