"""``mnistlab grade``: a class's lab notebooks checked against multi-seed reference bands.

:mod:`~mnistlab.grade.submissions` reads each submission safely; :mod:`~mnistlab.grade.pipeline` takes it
through small stages of one signature (the grader's limits, :mod:`~mnistlab.grade.parse` for the lab's
steps, :mod:`~mnistlab.grade.execute` with ``--execute``, :mod:`~mnistlab.grade.score` for the rubric against
:mod:`~mnistlab.grade.bands` and :mod:`~mnistlab.grade.checks`, the instructor's overrides, the similarity
fingerprint), one broken notebook never stopping the batch; then the class's stages (similarity, each entry's
summary); then the writers (:mod:`~mnistlab.grade.tables`, :mod:`~mnistlab.grade.feedback`,
:mod:`~mnistlab.grade.classpage`, :mod:`~mnistlab.grade.moodle`). Everything it writes is under ``out``.
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
from mnistlab.grade import pipeline
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
    ctx = pipeline.Context(out, rub, bands, overrides, opts, _scale(opts, sheet),
                           execute=lambda w: _execute(w.sub, w.nbk, out, bands, opts, w.entry))
    entries = _grade_all(subs, ctx, stream)
    pairs = pipeline.similar(entries, ctx)
    pipeline.summarise(entries, ctx)
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


def _grade_all(subs, ctx: pipeline.Context, stream) -> list[dict]:
    """Grade each submission in turn through :data:`pipeline.STAGES`, reading it then forgetting its notebook:
    what is kept per student is the entry (marks, flags, answers, the similarity fingerprint), never the parsed
    notebook."""
    from mnistlab.grade import submissions

    opts = ctx.opts
    start, done, lock = time.monotonic(), 0, threading.Lock()
    entries: list[dict] = [{} for _ in subs]

    def one(i: int) -> None:
        nonlocal done
        try:
            submissions.load(subs[i])
            e = entries[i] = pipeline.run(subs[i], ctx)
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
        entry.update(status=r.status, reason=pipeline.reason(r, opts.lang))
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


def _write(out: Path, entries: list[dict], pairs: list, rub, bands, opts, isolation: str, sheet=None,
           stream: TextIO | None = None) -> None:
    from mnistlab.grade import classpage, feedback, moodle, tables
    from mnistlab.grade.words import say

    items = [i.id for i in rub.items]
    for e in entries:  # summarised by the pipeline's class stages: here only written
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
