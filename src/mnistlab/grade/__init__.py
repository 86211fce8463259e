"""``mnistlab grade``: a class's lab notebooks checked against multi-seed reference bands.

A pipeline of small steps over each submission, one broken notebook never stopping the batch:
:mod:`~mnistlab.grade.submissions` (read safely) -> :mod:`~mnistlab.grade.execute` (only with ``--execute``)
-> :mod:`~mnistlab.grade.parse` (the lab's steps, with ``ast``) -> :mod:`~mnistlab.grade.score` (the rubric,
the bands of :mod:`~mnistlab.grade.bands`, the checks of :mod:`~mnistlab.grade.checks`) ->
:mod:`~mnistlab.grade.similarity` (across the class) -> the writers (:mod:`~mnistlab.grade.tables`,
:mod:`~mnistlab.grade.feedback`, :mod:`~mnistlab.grade.classpage`). Everything it writes is under ``out``.
The lab itself is reached through :mod:`mnistlab.grade.lab` only.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mnistlab.errors import MnistlabError
from mnistlab.fileio import write_text
from mnistlab.grade.words import why

FEEDBACK = "feedback"
CLASS_PAGE = "class.html"
CACHE = "cache"


@dataclass
class Options:
    """``mnistlab grade``'s settings (see its ``--help``)."""

    reference: str | None = None  # a band file or a run folder; None: the shipped bands
    rubric: str | None = None  # a rubric TOML; None: the shipped tp2 rubric
    execute: bool = False  # re-execute each notebook, sandboxed
    workers: int = 1  # executions in parallel on this machine
    cluster: str | None = None  # a Dask scheduler's address: executions on its workers
    timeout_s: float = 1800.0  # per notebook, with --execute
    memory_mb: int = 4096  # per notebook, with --execute
    keras_home: str | None = None  # a Keras cache folder holding the data sets, for --execute
    data: str | None = None  # the folder serving the lab's load_data() inside the sandbox, for --execute
    quick: bool = False  # --execute at 1 epoch on slices: does the code run (provenance), not its results
    only: list[str] | None = None  # re-grade these students; the others' rows are kept
    lang: str = "fr"
    worksheet: str | None = None  # Moodle's offline grading worksheet to fill (written back under out)
    scale: float | None = None  # the assignment's maximum grade (None: the worksheet's, else the points)


def grade(source: str | Path, out: str | Path, opts: Options | None = None,
          stream: TextIO | None = None) -> list[dict]:
    """Grade every submission in ``source`` into ``out``; returns one entry per submission graded now.

    Raises:
        MnistlabError: the source, the rubric, the bands or the output folder are unusable (one line);
        a bad submission never raises, it gets a status.
    """
    from mnistlab.grade import bands as bandmod
    from mnistlab.grade import moodle, submissions, tables
    from mnistlab.grade import rubric as rubricmod

    opts = opts or Options()
    stream = stream or sys.stderr
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MnistlabError("not a folder", out)
    _check_out(Path(source), out)
    rub = rubricmod.load(opts.rubric)
    bands = bandmod.load(Path(opts.reference) if opts.reference else None)
    overrides = tables.read_overrides(out / tables.OVERRIDES, {i.id: i.points for i in rub.items})
    if opts.only:  # a damaged grades.csv stops here, before anything is graded or written
        tables.read_grades(out / tables.GRADES)
    sheet = None
    if opts.worksheet:
        sheet = moodle.read_worksheet(Path(opts.worksheet))
        moodle.check_scale(sheet, opts.scale)
    subs = submissions.collect(source, exclude=out)
    names = [(s.student, moodle.identity({"file": s.file})[0] or s.student, s.file) for s in subs]
    overrides = tables.check_override_students(overrides, names, out / tables.OVERRIDES)
    if opts.only:
        wanted = {w.casefold().strip() for w in opts.only}
        subs = [s for s in subs if s.student.casefold() in wanted]
        if not subs:
            raise MnistlabError(f"no submission of {', '.join(opts.only)} (names as in grades.csv)", source)
    isolation = ""
    if opts.execute:
        from mnistlab.grade import execute

        isolation = execute.isolation()  # refuses here, before anything is written, without bubblewrap
        _check_data(opts)
        print(f"mnistlab grade: --execute: {isolation}", file=stream)
    if opts.execute and opts.cluster:
        _execute_on_cluster(subs, out, opts, stream)
    entries = _grade_all(subs, out, rub, bands, overrides, opts, stream)
    pairs = _similarity(entries, rub)
    _write(out, entries, pairs, rub, bands, opts, isolation, sheet, stream)
    return entries


def _check_out(source: Path, out: Path) -> None:
    """Refuse an ``--out`` that is the submissions folder or holds it (nothing would be graded, or the
    grader's own files would be read as submissions). An ``--out`` inside the submissions folder is skipped
    when the submissions are searched."""
    src, dst = source.resolve(), out.resolve()
    if not src.is_dir():  # a zip: nothing under --out is read as a submission
        return
    if src == dst:
        raise MnistlabError("--out is the submissions folder itself; give a folder of its own", out)
    if src.is_relative_to(dst):
        raise MnistlabError(f"--out holds the submissions ({source}); give a folder outside them", out)
    if dst.is_relative_to(src) and dst.is_dir():  # skipped when searching: it must not hold submissions
        theirs = next((p for p in dst.rglob("*.ipynb") if not p.is_relative_to(dst / CACHE)), None)
        if theirs is not None:
            raise MnistlabError(f"--out is inside the submissions and holds notebooks ({theirs.name}) that would "
                                "not be graded; give a folder of its own", out)


def _grade_all(subs, out, rub, bands, overrides, opts, stream) -> list[dict]:
    """Grade each submission in turn, reading it then forgetting its notebook: what is kept per student is
    the entry (marks, flags, answers, the similarity fingerprint), never the parsed notebook."""
    from mnistlab.grade import submissions

    start, done, lock = time.monotonic(), 0, threading.Lock()
    entries: list[dict] = [{} for _ in subs]

    def one(i: int) -> None:
        nonlocal done
        try:
            e = entries[i] = _grade_one(subs[i], out, rub, bands, overrides, opts)
        finally:
            submissions.release(subs[i])  # one notebook in memory at a time (per worker)
        with lock:
            done += 1
            elapsed = time.monotonic() - start
            left = elapsed / done * (len(subs) - done)
            score = f"{e['total']:g}/{e['max']:g}" if e.get("marks") else e["reason"][:60]
            print(f"[{done}/{len(subs)}] {e['student']}: {e['status']} {score}  ({_clock(elapsed)} elapsed, "
                  f"~{_clock(left)} left)", file=stream, flush=True)

    if opts.execute and opts.workers > 1:
        with ThreadPoolExecutor(max_workers=opts.workers) as pool:
            list(pool.map(one, range(len(subs))))
    else:
        for i in range(len(subs)):
            one(i)
    return entries


def _execute_on_cluster(subs, out: Path, opts: Options, stream: TextIO) -> None:
    """Execute every submission not in the cache on the Dask workers of ``opts.cluster``; cache the results.

    Each worker runs :func:`mnistlab.grade.execute.fresh` (the same sandboxed child process as here, on the
    worker's machine); the executed notebooks come back and are cached here, so grading then reads the cache.
    """
    from distributed import as_completed

    from mnistlab.distributed.cluster import connect
    from mnistlab.grade import execute, submissions

    settings = _settings(opts)
    todo: dict[str, object] = {}  # digest -> the submission, by its bytes' digest (hashed, not parsed)
    for s in subs:
        d = submissions.digest(s)
        if d and d not in todo and execute.cached(out / CACHE, d, settings) is None:
            todo[d] = s
    if not todo:
        return
    start, queue, done = time.monotonic(), list(todo.items()), 0
    with connect(address=opts.cluster, stream=stream) as pool:
        # a bounded window of notebooks in flight (two per worker at least): the grader never holds the class
        window = max(2, 2 * len(pool.client.scheduler_info().get("workers", {})))
        futures: dict = {}
        running = as_completed([], loop=pool.client.loop)

        def send() -> None:
            sub = queue.pop(0)[1]
            submissions.load(sub)
            if sub.nb is None:  # changed on disk since it was listed: graded (and refused) later, not here
                return
            fut = pool.client.submit(execute.fresh, sub.nb, settings, pure=False)
            submissions.release(sub)
            futures[fut] = sub.digest  # of the bytes sent (the file may have changed since it was hashed)
            running.add(fut)

        while queue and len(futures) < window:
            send()
        for fut in running:
            try:
                result = fut.result()
            except Exception as e:  # noqa: BLE001 - a lost worker fails one submission, not the batch
                lost = why("dask_failed", error=f"{type(e).__name__}: {e}"[:200])
                result = execute.Executed("BROKEN", None, str(lost), why=lost)
            execute.store(out / CACHE, futures.pop(fut), settings, result)
            fut.release()
            done += 1
            elapsed = time.monotonic() - start
            print(f"executed {done}/{len(todo)} on the cluster ({_clock(elapsed)} elapsed, "
                  f"~{_clock(elapsed / done * (len(todo) - done))} left)", file=stream, flush=True)
            while queue and len(futures) < window:
                send()


def _grade_one(sub, out, rub, bands, overrides, opts) -> dict:
    from mnistlab.grade import limits, parse, score, similarity, submissions

    submissions.load(sub)
    entry = {"student": sub.student, "file": sub.file, "ident": sub.ident, "status": sub.status,
             "reason": _reason(sub, opts.lang), "max": rub.max_points, "total": None,
             "flags_evidence": [], "values": {}, "answers": {}, "marks": [], "stored": sub.stored}
    if sub.nb is None:
        return entry
    try:
        view, flags = limits.view(sub.nb, opts.lang)
        nbk = parse.read(view)
        ran = []
        if opts.execute:
            nbk, ran = _execute(sub, nbk, out, bands, opts, entry)
            if entry["status"] not in _STATIC_KEPT:
                return entry
        graded = score.grade(nbk, rub, bands, opts.lang)
        regraded = any(f == "graded-on-re-execution" for f, _ in ran)
        graded.flags = [f for f in graded.flags if not (regraded and f[0] == "not-executed")] + flags + ran
        fingerprint = similarity.fingerprint(sub.student, nbk, graded.answers, graded.analysis)
    except Exception as e:  # noqa: BLE001 - whatever one notebook makes the grader meet, the batch goes on
        failed = why("grader_failed", error=f"{type(e).__name__}: {str(e)[:120]}")
        entry.update(status="BROKEN", reason=failed.text(opts.lang))
        return entry
    for m in graded.marks:
        key = (sub.file, m.item)
        if key in overrides:  # the instructor's points and reason replace the automatic ones
            pts, comment = overrides[key]
            m.points, m.say, m.args, m.extra = pts, "override", {"points": pts, "comment": comment}, []
    # max: the points that could be earned (an item without a reference band is not graded)
    entry.update(marks=graded.marks, total=graded.total, max=sum(m.max for m in graded.marks),
                 flags_evidence=list(graded.flags), values=graded.values, answers=graded.answers,
                 fingerprint=fingerprint)
    return entry


# Execution statuses that keep the grade of the notebook as handed in (the static grade): the execution could
# not judge it, by a cap the grader chose (time) or by the grader's own fault (data, sandbox).
_STATIC_KEPT = ("OK", "TIMEOUT", "GRADER_ERROR")


def _reason(ended, lang: str) -> str:
    """A submission's or an execution's reason in ``lang`` (its ``why``), else as it was given."""
    return ended.why.text(lang) if ended.why else ended.reason


def _settings(opts: Options):
    from mnistlab.grade import execute

    return execute.Settings(timeout_s=opts.timeout_s, memory_mb=opts.memory_mb, data=opts.data,
                            keras_home=opts.keras_home, quick=opts.quick)


def _check_data(opts: Options) -> None:
    """``--data`` must serve at least one of the lab's data sets (a problem there is the grader's, said now)."""
    if not opts.data:
        return
    from mnistlab.data import sources
    from mnistlab.errors import DataError

    if not Path(opts.data).is_dir():
        raise MnistlabError("--data: not a folder", opts.data)
    try:
        found = [n for n in sources.DATASET_NAMES if sources.find_dataset_dir(n, opts.data) is not None]
    except DataError as e:
        raise MnistlabError(f"--data: {e}", opts.data) from None
    if not found:
        raise MnistlabError(f"--data: holds none of {', '.join(sources.DATASET_NAMES)}", opts.data)


def _execute(sub, nbk, out, bands, opts, entry):
    """Re-execute; compare the re-executed results with the submitted ones within the band's width.

    Returns the notebook to grade (the submitted one; the re-executed one when the student handed it in
    without outputs, except with ``--quick``) and the execution's flags. With ``--quick``, no numbers are
    compared: only that each step of the hand-in ran again.
    """
    from mnistlab.grade import bands as bandmod
    from mnistlab.grade import execute, limits, parse, score
    from mnistlab.grade.words import say

    r = execute.run(sub.nb, sub.digest, out / CACHE, _settings(opts))
    if r.status != "OK":
        entry.update(status=r.status, reason=_reason(r, opts.lang))
        return nbk, []
    again = parse.read(limits.view(r.nb, opts.lang)[0])
    flags = [("execution-errors", "; ".join(again.errors[:3]))] if again.errors else []
    if opts.quick:
        return nbk, flags + [(f"quick-missing:{name}", say("ev.quick_missing", opts.lang))
                             for name in nbk.steps if name not in again.steps]
    if all(c is None for c in nbk.exec_counts):
        again.markdown, again.metadata = nbk.markdown, nbk.metadata
        return again, flags + [("graded-on-re-execution", say("ev.re_executed", opts.lang))]
    for name, st in nbk.steps.items():
        mine, redo = score.value(st, "test_accuracy"), score.value(again.steps.get(name), "test_accuracy")
        b = bandmod.band(bands, name, "test_accuracy")
        if mine is None or redo is None or b is None:
            continue
        width = b["max"] - b["min"] + 0.01
        if abs(mine - redo) > width:
            flags.append((f"outputs-inconsistent:{name}", say("ev.redo", opts.lang, mine=mine, redo=redo,
                                                              width=width)))
    return nbk, flags


def _similarity(entries: list[dict], rub) -> list:
    from mnistlab.grade import similarity

    prints = [e["fingerprint"] for e in entries if e.get("fingerprint")]
    pairs = similarity.pairs(prints, rub.thresholds)
    by_name = {e["student"]: e for e in entries}
    for p in pairs:
        for me, other in ((p.a, p.b), (p.b, p.a)):
            flag = f"similar:{other}"
            if all(f != flag for f, _ in by_name[me]["flags_evidence"]):
                by_name[me]["flags_evidence"].append((flag, f"{p.measure} {p.value:.2f}"))
    return pairs


def _write(out: Path, entries: list[dict], pairs: list, rub, bands, opts, isolation: str, sheet=None,
           stream: TextIO | None = None) -> None:
    from mnistlab.grade import classpage, feedback, moodle, tables
    from mnistlab.grade.words import say

    items = [i.id for i in rub.items]
    method = feedback.band_method(bands, rub.thresholds, opts.lang)
    for e in entries:
        e["flags"] = [f for f, _ in e["flags_evidence"]]
        e["items"] = {m.item: m.points for m in e["marks"]}
        e["band_method"] = method if any(m.say.startswith("results.") for m in e["marks"]) else ""
        e["comment"] = moodle.comment(e, opts.lang, _scale(opts, sheet))
        name = e["stored"]  # short and unique among the class, whatever the name's script or length
        write_text(out / FEEDBACK / f"{name}.md", feedback.markdown(e, opts.lang))
        write_text(out / FEEDBACK / f"{name}.html", feedback.page(e, opts.lang))
    rows, kept_pairs = list(entries), pairs
    if opts.only:  # everyone else's rows, comments and class-page data stay as they were
        now = {e["file"] for e in entries}
        stored = classpage.load(out)
        kept = [r for r in tables.read_grades(out / tables.GRADES) if r["file"] not in now]
        for r in kept:
            was = stored["students"].get(r["file"], {})
            r.update({k: was[k] for k in ("values", "answers", "flags_evidence", "comment", "band_method", "ident",
                                          "reason") if was.get(k)})
        rows = sorted(kept + rows, key=lambda r: r["student"].casefold())
        regraded = {e["student"] for e in entries}
        kept_pairs = [p for p in stored["pairs"] if p["a"] not in regraded and p["b"] not in regraded]
        kept_pairs += classpage.pair_rows(pairs)
    else:
        kept_pairs = classpage.pair_rows(pairs)
    tables.write_grades(out / tables.GRADES, items, rows)
    scale = _scale(opts, sheet)
    moodle.write_import(out / moodle.MOODLE, rows, opts.lang, scale)
    moodle.write_gradebook(out / moodle.GRADEBOOK, rows, opts.lang, scale, say("gradebook_item", opts.lang))
    if sheet is not None:
        moodle.fill(sheet, rows, opts.scale, fresh={e["file"] for e in entries} if opts.only else None)
        filled = out / moodle.filled_name(Path(opts.worksheet))
        moodle.write_worksheet(filled, sheet)
        print(f"mnistlab grade: worksheet {filled}: {len(rows) - len(sheet.unmatched)} students filled, "
              f"{sheet.without_submission} rows without a submission left as they were", file=stream or sys.stderr)
        for name in sheet.unmatched:
            print(f"mnistlab grade: {name}: not in the worksheet (no participant id, email or unique full name "
                  "matches it); enter this grade in Moodle by hand", file=stream or sys.stderr)
    tables.ensure_overrides(out / tables.OVERRIDES)
    classpage.save(out, rows, kept_pairs)
    write_text(out / CLASS_PAGE, classpage.page(rows, rub, kept_pairs, bands, opts.lang, isolation,
                                                regraded=len(entries) if opts.only else None))


def _scale(opts, sheet) -> float | None:
    if opts.scale:
        return opts.scale
    if sheet is not None:
        from mnistlab.grade import moodle

        return moodle.worksheet_max(sheet)
    return None


def _clock(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d}"
