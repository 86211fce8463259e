"""The hand-in report: a run folder in, ``report.html`` and ``report.md`` out. Reads artifacts, never trains.

``build(run_dir, lang)`` reads the run (:mod:`~mnistlab.report.artifacts`), lays out the report in the lab's
order (:mod:`~mnistlab.report.document`: settings, model, figures, results, code, every question with its
answer, analysis, method notes) and writes it (:mod:`~mnistlab.report.render`): ``report.html``, one
self-contained page, and ``report.md`` with its figures in ``report_figures/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mnistlab.fileio import write_bytes, write_text
from mnistlab.i18n import LANGS

HTML = "report.html"
MARKDOWN = "report.md"


@dataclass
class Written:
    """What :func:`build` wrote."""

    html: Path
    markdown: Path
    figures: int  # figures embedded in the HTML (and written for the Markdown)
    missing: list[str]  # steps of the lab without results


def build(run_dir: str | os.PathLike, lang: str = "fr") -> Written:
    """Write ``report.html`` and ``report.md`` for the run in ``run_dir``, in ``lang``.

    Args:
        run_dir: a folder written by ``mnistlab run`` (holds ``manifest.json``), complete or not.
        lang: ``"fr"`` (the lab's language) or ``"en"``; text and figure labels follow it.

    Returns:
        The paths written, the number of figures and the lab steps without results.

    Raises:
        MnistlabError: ``run_dir`` is not a readable run folder, or the report cannot be written there.
    """
    from mnistlab import config
    from mnistlab.errors import MnistlabError
    from mnistlab.report.artifacts import read_run

    if lang not in LANGS:
        raise MnistlabError(f"unknown report language {lang!r}; choose from {', '.join(LANGS)}")
    run = read_run(run_dir)  # a folder that is not a run fails here, before matplotlib is imported
    from mnistlab.report import document, render

    doc = document.build(run, lang)
    folder = run.folder / render.FIGURES_DIR
    keep = set()
    for fig in doc.figures:
        name = render.figure_file(fig.key)
        keep.add(name)
        write_bytes(folder / name, fig.png)
    if folder.is_dir():  # figures of an earlier report that this one no longer has
        for old in folder.glob("*.png"):
            if old.name not in keep:
                old.unlink(missing_ok=True)
    write_text(run.folder / MARKDOWN, render.to_markdown(doc))
    write_text(run.folder / HTML, render.to_html(doc))
    missing = [n for n in config.names() if not run.step(n).complete]
    return Written(run.folder / HTML, run.folder / MARKDOWN, len(doc.figures), missing)
