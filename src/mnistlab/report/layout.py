"""The report as a list of blocks: a title block, the contents, then sections appended in order.

:func:`build` is the whole layout: it appends the blocks of each function of :data:`SECTIONS` (each
``fn(run, lang) -> list``, in its own module), skipping the empty ones, as ydata-profiling assembles its
report from ``get_*_items`` functions. Adding a section is adding one function to :data:`SECTIONS`.
"""

from __future__ import annotations

from mnistlab import runfolder
from mnistlab.i18n import say
from mnistlab.report import sweep
from mnistlab.report.artifacts import Run
from mnistlab.report.blocks import Document, Items, Table, TitleBlock
from mnistlab.report.exercises import handin_items, lab_items
from mnistlab.report.frame import analysis_items, appendix_items, notes_items, overview_items
from mnistlab.report.studies import extended_items, others_items

# The report's sections in order; each returns its blocks, [] when the run has nothing for it.
SECTIONS = [overview_items, lab_items, extended_items, others_items, analysis_items,
            notes_items, handin_items]


def title_block(run: Run, lang: str, author: str = "", group: str = "") -> TitleBlock:
    """Nom, Prénom, Groupe, Date: the options, else what ``mnistlab run --author/--group`` recorded, else blank."""
    m = run.manifest
    author = author or (m.get(runfolder.M_AUTHOR) if isinstance(m.get(runfolder.M_AUTHOR), str) else "")
    group = group or (m.get(runfolder.M_GROUP) if isinstance(m.get(runfolder.M_GROUP), str) else "")
    finished = m.get("finished") if isinstance(m.get("finished"), str) else ""
    date = finished[:10] if len(finished) >= 10 and finished[:4].isdigit() else ""
    return TitleBlock([(say("report.name", lang), author), (say("report.group", lang), group),
                       (say("report.date", lang), date)])


def build(run: Run, lang: str, author: str = "", group: str = "") -> Document:
    """The whole report for ``run`` in ``lang``: title block, every section that has something, the appendix."""
    doc = Document(lang, say("report.title", lang))
    doc.blocks.append(title_block(run, lang, author, group))
    swept = sweep_items(run, lang)  # a folder of `mnistlab sweep`: its comparison instead of the lab's sections
    for section in [lambda run, lang: swept] if swept else SECTIONS:
        doc.blocks += section(run, lang)
    doc.blocks += appendix_items(run, lang, doc.blocks)
    return doc


def sweep_items(run: Run, lang: str) -> list:
    """The comparison of a sweep (:mod:`mnistlab.report.sweep`); [] when ``run`` is not a sweep."""
    sec = sweep.section(run.folder, lang)
    if sec is None:
        return []
    items = Items(lang)
    items.h(2, sec.title, "sweep")
    for text in sec.paragraphs:
        items.p(text)
    for header, rows, caption in sec.tables:
        items.table(Table(header, rows, caption=caption))
    return items.blocks
