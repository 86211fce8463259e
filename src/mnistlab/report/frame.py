"""The report's frame around the lab: the overview before it; the analysis, method notes and appendix after.

Each ``*_items(run, lang)`` returns its blocks, or an empty list when the run has nothing for it.
"""

from __future__ import annotations

import math

from mnistlab import __version__, config, runfolder
from mnistlab.i18n import say
from mnistlab.report.artifacts import Run
from mnistlab.report.blocks import QA, Bullets, Fig, Items, Para, Table
from mnistlab.report.exercises import step_link
from mnistlab.report.fmt import num, seconds
from mnistlab.report.interpretation import analysis, method_notes
from mnistlab.report.measures import status_word, tidy
from mnistlab.report.tables import step_title
from mnistlab.runfolder import M_DATA, M_REASON


def analysis_items(run: Run, lang: str) -> list:
    items = Items(lang)
    items.h(2, say("frame.analysis_heading", lang), "analysis")
    lines = analysis(run, lang)
    items.p(" ".join(lines) if lines else say("frame.no_analysis", lang), "analysis" if lines else "missing")
    return items.blocks


def notes_items(run: Run, lang: str) -> list:
    notes = method_notes(run, lang)
    if not notes:
        return []
    items = Items(lang)
    items.h(2, say("frame.notes_heading", lang), "notes")
    items.blocks.append(Bullets(notes))
    return items.blocks


def appendix_items(run: Run, lang: str, body: list) -> list:
    """Provenance: the run, its command and machine, and which file each table, figure and answer comes from."""
    items = Items(lang)
    m = run.manifest
    items.h(2, say("frame.appendix_heading", lang), "appendix")
    hw = m.get(runfolder.M_HARDWARE) if isinstance(m.get(runfolder.M_HARDWARE), dict) else {}
    items.p(say("frame.written_by", lang, version=__version__, run=run.folder.name,
                status=status_word(run.status, lang), started=m.get(runfolder.M_STARTED, "?"),
                finished=m.get(runfolder.M_FINISHED, "—"),
                took=seconds(m.get(runfolder.M_SECONDS) if finite(m.get(runfolder.M_SECONDS)) else None, lang)))
    command = m.get(runfolder.M_COMMAND) if isinstance(m.get(runfolder.M_COMMAND), list) else []
    items.p(say("frame.command_machine", lang, command=tidy(" ".join(map(str, command))), cpu=hw.get("cpu", "?"),
                cores=hw.get("logical_cores", "?")))
    if other_execution(run):
        items.p(say("frame.fast_path", lang))
    items.p(say("frame.rebuild", lang, run=run.folder.name), "small")
    data = m.get("data") if isinstance(m.get("data"), dict) else {}
    if any(isinstance(d, dict) and d.get("source") == "notebook" for d in data.values()):
        items.p(say("frame.notebook_kernel", lang), "small")  # what the notebook's kernel start-up changed
    rows = []
    for b in body:
        if isinstance(b, QA) and b.answer.sources:
            rows.append(f"**{b.key}** " + ", ".join(f"`{s}`" for s in b.answer.sources))
        elif isinstance(b, Table) and b.origin:
            rows.append(f"**{b.caption}** `{b.origin}`")
        elif isinstance(b, Fig):
            rows.append(f"**{b.figure.alt}** `{b.figure.origin}`")
    if rows:  # one compact paragraph: the body stays free of file names, the appendix stays short
        items.p(say("frame.provenance", lang, sources=" · ".join(rows)), "small")
    problems = run.problems
    if problems:
        items.p(say("frame.unreadable", lang, files="; ".join(problems)), "warn")
    return items.blocks


def other_execution(run: Run) -> bool:
    """True when the run's numbers come from ``mnistlab run`` (its fast path), not from the notebook's code."""
    data = run.manifest.get(M_DATA) if isinstance(run.manifest.get(M_DATA), dict) else {}
    return bool(data) and not any(isinstance(d, dict) and d.get("source") == "notebook" for d in data.values())


def finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def overview_items(run: Run, lang: str) -> list:
    """What the run holds: a warning when it is partial or changed, and one row per step of the lab."""
    items = Items(lang)
    if run.status != "complete":
        reason = run.manifest.get(M_REASON)
        why = say("measures.status_problem", lang, status=status_word(run.status, lang), problem=tidy(reason)) \
            if isinstance(reason, str) and reason else status_word(run.status, lang)
        items.p(say("frame.not_finished", lang, why=why), "warn")
    lab = config.names()
    missing = [run.step(n) for n in lab if not run.step(n).complete]
    if missing:
        items.blocks.append(Para(say("frame.what_is_missing", lang), "missing"))
        items.blocks.append(Bullets([f"{step_title(s, lang)} ({status_word(s.status, lang)})"
                                     + (f" — {tidy(s.reason)}" if s.reason else "") for s in missing], "missing"))
    rows = []
    for name in lab:
        s = run.step(name)
        acc = (s.metrics or {}).get("test_accuracy")
        shown = num(acc, lang) if isinstance(acc, float) else "—"
        rows.append([f"[{step_title(s, lang)}](#{step_link(name)})", shown,
                     seconds(s.seconds, lang), status_word(s.status, lang)])
    items.table(Table([say("frame.step", lang), say("columns.test_accuracy", lang), say("frame.time", lang),
                       say("frame.status", lang)], rows, numeric=(1, 2), caption=say("frame.results_caption", lang),
                      origin="*/metrics.json, manifest.json"))
    return items.blocks
