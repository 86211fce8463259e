"""The notebook's only door to the report: the lab's questions, and answers measured on a run folder.

Three functions over the report's measurement API (:func:`mnistlab.report.questions`,
:func:`mnistlab.report.answers`, :func:`mnistlab.report.analysis`). The one thing changed here: where the
report says a step has no results (``measures.not_measured``: "Non mesuré dans cette exécution : ..."), the
notebook keeps the course's reasoning alone, never a blank to fill.
"""

from __future__ import annotations

import os

from mnistlab import i18n

# The report's "not measured" sentence up to its first field, in each language.
_UNMEASURED = tuple(i18n.template("measures.not_measured", lang).split("{", 1)[0] for lang in i18n.LANGS)


def questions(lang: str = "fr") -> dict[str, list[dict[str, object]]]:
    """The lab's questions by section id: [{"key", "label", "quote", "todo"}], in the lab's order."""
    from mnistlab import report

    return report.questions(lang)


def answers(run_dir: str | os.PathLike, lang: str = "fr") -> dict[str, str]:
    """Each question's answer (Markdown), measured on the run folder ``run_dir``."""
    from mnistlab import report

    return {key: _field(text) for key, text in report.answers(run_dir, lang).items()}


def analysis(run_dir: str | os.PathLike, lang: str = "fr") -> str:
    """The personal analysis (5-10 sentences, Markdown) written from the run folder's numbers."""
    from mnistlab import report

    return report.analysis(run_dir, lang)


def _field(text: str) -> str:
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    kept = [p for p in paragraphs if not p.startswith(_UNMEASURED)]
    return "\n\n".join(dict.fromkeys(kept or paragraphs))


def write_report(run_dir: str | os.PathLike, lang: str = "fr", author: str | None = None,
                 group: str | None = None):
    """Write the report (``report.html``, ``report.md``) of the run folder the notebook's execution captured,
    so that the notebook and the report state the same numbers and verdicts; returns the report's paths."""
    from mnistlab import report

    return report.build(run_dir, lang, author=author or "", group=group or "")
