"""The hand-in report: a run folder in, ``report.html`` and ``report.md`` out. Reads artifacts, never trains.

``build(run_dir, lang)`` reads the run (:mod:`~mnistlab.report.artifacts`, through :mod:`mnistlab.runfolder`),
lays it out (:mod:`~mnistlab.report.layout`: a title block, then the section functions of ``SECTIONS`` in
the lab's order, each question answered from ``questions.toml`` by a named measurement of
:mod:`~mnistlab.report.measures`) and writes it (:mod:`~mnistlab.report.render`). French goes to
``report.html`` / ``report.md`` (figures in ``report_figures/``), English to ``report.en.*`` beside them.

For other tools (the notebook): :func:`questions`, :func:`answers` and :func:`analysis`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from mnistlab import runfolder
from mnistlab.fileio import write_bytes, write_text
from mnistlab.i18n import LANGS
from mnistlab.runfolder import M_KIND

HTML = "report.html"
MARKDOWN = "report.md"


def output_names(lang: str) -> tuple[str, str, str]:
    """(html, markdown, figures folder) for ``lang``: French keeps the plain names, English adds ``.en``."""
    if lang == "fr":
        return HTML, MARKDOWN, runfolder.REPORT_FIGURES
    return f"report.{lang}.html", f"report.{lang}.md", f"{runfolder.REPORT_FIGURES}.{lang}"


@dataclass
class Written:
    """What :func:`build` wrote."""

    html: Path
    markdown: Path
    figures: int  # figures embedded in the HTML (and written for the Markdown)
    missing: list[str]  # steps of the lab without results
    unnamed: list[str] = dataclasses.field(default_factory=list)  # title fields left blank: "author", "group"


def build(run_dir: str | os.PathLike, lang: str = "fr", author: str = "", group: str = "") -> Written:
    """Write ``report.html`` and ``report.md`` (``report.en.*`` in English) for the run in ``run_dir``.

    Args:
        run_dir: a folder written by ``mnistlab run`` (holds ``manifest.json``), complete or not.
        lang: ``"fr"`` (the lab's language) or ``"en"``; text and figure labels follow it.
        author: "Nom Prénom" for the title block; empty: the manifest's, else a blank field to fill.
        group: the student's group, likewise.

    Returns:
        The paths written, the number of figures and the lab steps without results.

    Raises:
        MnistlabError: ``run_dir`` is not a readable run folder, an output path is a symlink, or the report
            cannot be written there.
    """
    from mnistlab import config
    from mnistlab.errors import MnistlabError
    from mnistlab.report.artifacts import read_run

    if lang not in LANGS:
        raise MnistlabError(f"unknown report language {lang!r}; choose from {', '.join(LANGS)}")
    run = read_run(run_dir)  # a folder that is not a run fails here, before matplotlib is imported
    html_name, md_name, fig_dir = output_names(lang)
    try:  # every output inside the run folder, none of them a symlink
        html_path, md_path, folder = (runfolder.inside(run.folder, n) for n in (html_name, md_name, fig_dir))
    except runfolder.RunFolderError as e:
        raise MnistlabError(f"refusing to write the report: {e.message}", e.path) from None
    if folder.exists() and not folder.is_dir():
        raise MnistlabError("is not a folder; refusing to write the report's figures there", folder)
    from mnistlab.report import layout, render

    doc = layout.build(run, lang, author=author, group=group)
    keep = set()
    for fig in doc.figures:
        name = render.figure_file(fig.key)
        keep.add(name)
        write_bytes(runfolder.inside(folder, name), fig.png)
    for old in folder.glob("*.png"):  # figures of an earlier report that this one no longer has
        if old.name not in keep and not old.is_symlink() and old.is_file():
            old.unlink(missing_ok=True)
    write_text(md_path, render.to_markdown(doc, fig_dir))
    write_text(html_path, render.to_html(doc))
    missing = [] if run.manifest.get(M_KIND) == "sweep" else [n for n in config.names() if not run.step(n).complete]
    m = run.manifest
    unnamed = [k for k, given in (("author", author or m.get(runfolder.M_AUTHOR)), ("group", group or m.get(
        runfolder.M_GROUP))) if not (isinstance(given, str) and given.strip())]
    return Written(html_path, md_path, len(doc.figures), missing, unnamed)


# --- what the notebook (and any other tool) reads from the report package -----------------------------------


def questions(lang: str = "fr") -> dict[str, list[dict[str, object]]]:
    """The lab's questions by section id ("ex1.1" .. "ex1.9", "ex2.1" .. "ex2.7"), in the lab's order.

    Args:
        lang: ``"fr"`` (the lab's words) or ``"en"`` (a translation).

    Returns:
        section id -> [{"key": "ex1.4.1", "label": "1", "quote": the question, "todo": bool}, ...]; ``todo``
        marks an "À faire" item rather than a numbered question.
    """
    from mnistlab.report import questionnaire as q

    _check_lang(lang)
    out: dict[str, list[dict[str, object]]] = {sid: [] for sid in q.sections()}
    for item in q.load().questions:
        out[item.section].append({"key": item.key, "label": item.label, "quote": item.quote(lang),
                                  "todo": item.todo})
    return out


def answers(run_dir: str | os.PathLike, lang: str = "fr") -> dict[str, str]:
    """Every question's answer for the run in ``run_dir``, as Markdown, hand-in style.

    The run folder may hold only some steps: an answer whose measurement needs a missing step gives the
    fixed explanation and says what is missing. No provenance, run id or command line is in the text.
    Never imports TensorFlow.

    Returns:
        question key ("ex1.4.1") -> Markdown (paragraphs separated by a blank line).

    Raises:
        MnistlabError: ``run_dir`` is not a readable run folder, or ``lang`` is unknown.
    """
    from mnistlab.report import questionnaire as q
    from mnistlab.report.artifacts import read_run
    from mnistlab.report.render import inline_md

    _check_lang(lang)
    run = read_run(run_dir)
    return {item.key: "\n\n".join(inline_md(p) for p in q.answer(item, run, lang).paragraphs)
            for item in q.load().questions}


def analysis(run_dir: str | os.PathLike, lang: str = "fr") -> str:
    """The hand-in's analysis (5-10 sentences, first person plural) for the run in ``run_dir``, as Markdown.

    Raises:
        MnistlabError: ``run_dir`` is not a readable run folder, or ``lang`` is unknown.
    """
    from mnistlab.report import interpretation as a
    from mnistlab.report.artifacts import read_run
    from mnistlab.report.render import inline_md

    _check_lang(lang)
    return inline_md(" ".join(a.analysis(read_run(run_dir), lang)))


def _check_lang(lang: str) -> None:
    from mnistlab.errors import MnistlabError

    if lang not in LANGS:
        raise MnistlabError(f"unknown report language {lang!r}; choose from {', '.join(LANGS)}")
