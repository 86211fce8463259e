"""The grader's pipeline: each submission through small stages of one signature, then the class's stages.

A submission's stage is ``stage(work) -> None``: it reads what the stages before it put on :class:`Work` and adds
its own part (the shape of nbgrader's preprocessors, ``preprocess(nb, resources)``); a stage that ends the
submission's grading (no notebook, a failed re-execution) sets ``work.stop``. :data:`STAGES` is their order, and
each can be called alone in a test. A stage that raises ends that submission only, as ``BROKEN`` with the
reason in the class's language: whatever one notebook makes the grader meet, the batch goes on.

The class's stages (:data:`CLASS_STAGES`, ``stage(entries, context) -> None``) work across the submissions: the
similarity flags, then what the writers read of each entry (its flags, points per item, the band method, the
Moodle comment). The writers (:mod:`~mnistlab.grade.tables`, :mod:`~mnistlab.grade.feedback`,
:mod:`~mnistlab.grade.classpage`, :mod:`~mnistlab.grade.moodle`) then only write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnistlab.grade.words import why

# Execution statuses that keep the grade of the notebook as handed in (the static grade): the execution could
# not judge it, by a cap the grader chose (time) or by the grader's own fault (data, sandbox).
STATIC_KEPT = ("OK", "TIMEOUT", "GRADER_ERROR")


@dataclass(frozen=True)
class Context:
    """What every submission is graded against: the class's, read-only."""

    out: Path
    rubric: Any
    bands: dict
    overrides: dict  # (file, item) -> (points, the instructor's reason)
    opts: Any  # mnistlab.grade.Options
    scale: float | None = None  # the assignment's maximum grade, for the Moodle comment
    execute: Callable[..., tuple] | None = None  # (work) -> (notebook to grade, flags): the re-execution


@dataclass
class Work:
    """One submission on its way through :data:`STAGES`."""

    sub: Any  # a mnistlab.grade.submissions.Submission, loaded
    ctx: Context
    entry: dict  # what is kept of the student once graded (the writers' input)
    view: dict | None = None  # the notebook as graded (bounded outputs)
    nbk: Any = None  # the notebook read as the lab's steps
    flags: list[tuple[str, str]] = field(default_factory=list)  # (flag, evidence), in the order found
    graded: Any = None  # the rubric's marks (mnistlab.grade.score)
    stop: bool = False


def reason(ended, lang: str) -> str:
    """A submission's or an execution's reason in ``lang`` (its ``why``), else as it was given."""
    return ended.why.text(lang) if ended.why else ended.reason


def start(sub, ctx: Context) -> Work:
    """A loaded submission's work, its entry holding what is known before any grading."""
    entry = {"student": sub.student, "file": sub.file, "ident": sub.ident, "status": sub.status,
             "reason": reason(sub, ctx.opts.lang), "max": ctx.rubric.max_points, "total": None,
             "flags_evidence": [], "values": {}, "answers": {}, "marks": [], "stored": sub.stored}
    return Work(sub, ctx, entry)


# --- a submission's stages --------------------------------------------------------------------------------------


def view(w: Work) -> None:
    """The notebook within the grader's limits (long outputs cut, with a flag); none: nothing to grade."""
    from mnistlab.grade import limits

    if w.sub.nb is None:
        w.stop = True
        return
    w.view, flags = limits.view(w.sub.nb, w.ctx.opts.lang)
    w.flags += flags


def read(w: Work) -> None:
    """The lab's steps in the notebook's code and outputs."""
    from mnistlab.grade import parse

    w.nbk = parse.read(w.view)


def execute(w: Work) -> None:
    """With ``--execute``: the sandboxed re-execution's flags, and the notebook to grade; a failed execution
    ends the grading unless its status keeps the static grade."""
    if not w.ctx.opts.execute or w.ctx.execute is None:
        return
    w.nbk, ran = w.ctx.execute(w)
    w.flags += ran
    if w.entry["status"] not in STATIC_KEPT:
        w.stop = True


def score(w: Work) -> None:
    """The rubric's marks against the bands; its flags go first (a re-executed notebook is not
    ``not-executed``)."""
    from mnistlab.grade import score as scoremod

    w.graded = scoremod.grade(w.nbk, w.ctx.rubric, w.ctx.bands, w.ctx.opts.lang)
    regraded = any(f == "graded-on-re-execution" for f, _ in w.flags)
    w.flags[:0] = [f for f in w.graded.flags if not (regraded and f[0] == "not-executed")]


def overrides(w: Work) -> None:
    """The instructor's points and reason replace the automatic ones (grade_overrides.csv)."""
    for m in w.graded.marks:
        key = (w.sub.file, m.item)
        if key in w.ctx.overrides:
            pts, comment = w.ctx.overrides[key]
            m.points, m.say, m.args, m.extra = pts, "override", {"points": pts, "comment": comment}, []


def fingerprint(w: Work) -> None:
    """What the similarity check compares across the class (code, fit logs, answers, analysis)."""
    from mnistlab.grade import similarity

    w.entry["fingerprint"] = similarity.fingerprint(w.sub.student, w.nbk, w.graded.answers, w.graded.analysis)


def record(w: Work) -> None:
    """The entry: marks, total, the points that could be earned (an item without a band is not graded),
    the flags with their evidence, the values and answers read."""
    g = w.graded
    w.entry.update(marks=g.marks, total=g.total, max=sum(m.max for m in g.marks), flags_evidence=list(w.flags),
                   values=g.values, answers=g.answers)


STAGES: tuple[Callable[[Work], None], ...] = (view, read, execute, score, overrides, fingerprint, record)


def run(sub, ctx: Context, stages: tuple[Callable[[Work], None], ...] = STAGES) -> dict:
    """One loaded submission through ``stages``; its entry."""
    w = start(sub, ctx)
    for stage in stages:
        try:
            stage(w)
        except Exception as e:  # noqa: BLE001 - whatever one notebook makes the grader meet, the batch goes on
            failed = why("grader_failed", error=f"{type(e).__name__}: {str(e)[:120]}")
            w.entry.update(status="BROKEN", reason=failed.text(ctx.opts.lang))
            break
        if w.stop:
            break
    return w.entry


# --- the class's stages -----------------------------------------------------------------------------------------


def similar(entries: list[dict], ctx: Context) -> list:
    """Pairs of submissions too alike (mnistlab.grade.similarity), each flagged on both sides; the pairs."""
    from mnistlab.grade import similarity

    prints = [e["fingerprint"] for e in entries if e.get("fingerprint")]
    pairs = similarity.pairs(prints, ctx.rubric.thresholds)
    by_name = {e["student"]: e for e in entries}
    for p in pairs:
        for me, other in ((p.a, p.b), (p.b, p.a)):
            flag = f"similar:{other}"
            if all(f != flag for f, _ in by_name[me]["flags_evidence"]):
                by_name[me]["flags_evidence"].append((flag, f"{p.measure} {p.value:.2f}"))
    return pairs


def summarise(entries: list[dict], ctx: Context) -> None:
    """What the writers read of each entry: its flags, points per item, the band method when a results item
    was graded, the Moodle comment."""
    from mnistlab.grade import feedback, moodle

    method = feedback.band_method(ctx.bands, ctx.rubric.thresholds, ctx.opts.lang)
    for e in entries:
        e["flags"] = [f for f, _ in e["flags_evidence"]]
        e["items"] = {m.item: m.points for m in e["marks"]}
        e["band_method"] = method if any(m.say.startswith("results.") for m in e["marks"]) else ""
        e["comment"] = moodle.comment(e, ctx.opts.lang, ctx.scale)


CLASS_STAGES = (similar, summarise)
