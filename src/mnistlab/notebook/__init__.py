"""``mnistlab notebook``: the whole lab as a Jupyter notebook, executed in one kernel, answered from its outputs.

:func:`make` builds the notebook from :mod:`mnistlab.lab` (:mod:`~mnistlab.notebook.build`), executes it with
nbclient in an ipykernel kernel running this Python (:mod:`~mnistlab.notebook.execute`,
:mod:`~mnistlab.notebook.kernel`), reads back what the execution produced
(:mod:`~mnistlab.notebook.capture`), answers the lab's questions through the report's measurement functions
(:mod:`~mnistlab.notebook.answers`, the only module that calls the report) and exports HTML
(:mod:`~mnistlab.notebook.html`).
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from mnistlab import config, lab, runfolder
from mnistlab.errors import MnistlabError
from mnistlab.fileio import write_text
from mnistlab.lab import plan
from mnistlab.notebook import kernel

NOTEBOOK = "TP2.ipynb"
# Notebook metadata recording, openly, which cells this tool wrote: {"version", "generated_answers": {cell id:
# sha256 of the text written, first 16 hex digits}, "generated_code": {the same for code cells}};
# `mnistlab grade` reads it.
GENERATED_KEY = "mnistlab"
HTML = "TP2.html"
RUN = "run"  # the run folder the execution captured, with its report (report.html), beside the notebook
_IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass
class Written:
    """What :func:`make` wrote, and how the execution ended (``complete``, ``interrupted``, ``failed``,
    ``not executed``)."""

    notebook: Path
    html: Path
    status: str
    answered: int = 0  # questions answered from the execution's values
    report: Path | None = None  # the report written from the execution's run folder (``run/report.html``)
    seconds: float = 0.0  # execution wall time
    error: str = ""


def steps(patterns: list[str] | None) -> list[str]:
    """The lab steps named by ``patterns`` (as ``mnistlab run`` selects them), with the steps they need.

    Raises:
        ConfigError: a pattern matches nothing, or names an experiment outside the lab's code.
    """
    chosen = config.select(patterns)
    names = plan.step_names()
    outside = [n for n in chosen if n not in names]
    if outside:
        raise MnistlabError(f"{outside[0]} is not part of the lab's code; the notebook holds "
                            f"{', '.join(names)}")
    return lab.steps_for(chosen)


def check_data_dir(data_dir: str | os.PathLike, names: list[str]) -> str:
    """The absolute data folder, checked to hold IDX files where the notebook's loader looks for them.

    Raises:
        MnistlabError: no such folder, or a data set's IDX files are not there.
    """
    root = Path(data_dir).expanduser().resolve()
    if not root.is_dir():
        raise MnistlabError("no such data folder", data_dir)
    for name in names:
        sub = root / name.replace("_", "-")
        folder = sub if sub.is_dir() else root
        missing = [f for f in _IDX if not (folder / f).is_file() and not (folder / f"{f}.gz").is_file()]
        if missing:
            raise MnistlabError(f"the notebook reads {name} from IDX files (gzip'd or not) in "
                                f"{name.replace('_', '-')}/ or the folder itself; missing {missing[0]}(.gz)", root)
    return str(root)


def make(patterns: list[str] | None = None, overrides: dict | None = None, data_dir: str | None = None,
         out: str | os.PathLike | None = None, execute: bool = True, author: str | None = None,
         group: str | None = None, lang: str = "fr", stream: TextIO | None = None,
         extended: bool = False) -> Written:
    """Write ``TP2.ipynb`` and ``TP2.html`` into a new folder, executed unless ``execute`` is False.

    Args:
        patterns: experiment names or prefixes (``ex1``, ``ex2.cnn``); default: the whole lab.
        overrides: typed settings (:func:`mnistlab.config.parse_overrides`), validated as for ``mnistlab run``.
        data_dir: a local folder of IDX files (``mnistlab`` checks it); None: ``keras.datasets`` loads.
        out: the folder to write (default ``notebooks/<UTC stamp>``); refused if it holds a notebook already.
        author, group: the title cell's fields (left to fill when None).
        stream: progress lines (default stderr).
        extended: also try the cheap "what if" studies of the lab (another loss, another optimizer) at the
            lab's settings, in the cells the plan names (:func:`mnistlab.lab.plan.extended_cells`); the answers
            then quote them instead of the course's expectation.

    Returns:
        What was written and how the execution ended; a failed cell is ``status="failed"`` with ``error``.

    Raises:
        MnistlabError: bad settings, data folder or output folder, or a missing library (one line each).
    """
    from mnistlab.notebook import build

    stream = stream or sys.stderr
    kernel.require(("nbformat",))
    chosen = steps(patterns)
    configs = {n: config.load(n, overrides or {}).to_dict() for n in plan.step_names()}
    datasets = sorted({config.load(n).dataset for n in chosen})  # each step's data set, from its experiment file
    folder_data = check_data_dir(data_dir, datasets) if data_dir is not None else None
    studies = {n: config.load(n, overrides or {}) for names in plan.extended_cells().values() for n in names
               if extended and plan.load().studies[n].base in chosen}
    cells = lab.cells(configs, lang, steps=chosen, data_dir=folder_data, studies=studies)
    exps = {**lab.experiments(configs, chosen), **studies}
    if execute:
        kernel.require(kernel.TOOLS + kernel.LAB_LIBRARIES)
    folder = Path(out) if out is not None else Path("notebooks") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if (folder / NOTEBOOK).exists() or (folder / RUN).exists():
        raise MnistlabError(f"already holds {NOTEBOOK} or {RUN}/; choose another --out", folder)
    if folder.exists() and not folder.is_dir():
        raise MnistlabError("not a folder", folder)
    date = datetime.now().astimezone().strftime("%d/%m/%Y")
    nb = build.notebook(cells, author, group, date)
    written = Written(folder / NOTEBOOK, folder / HTML, "not executed")
    if execute:
        command = ["notebook", *(patterns or []), *(["--extended"] if extended else []),
                   *(f"--set {k}={v}" for k, v in (overrides or {}).items()),
                   *(["--data", str(data_dir)] if data_dir is not None else [])]
        _execute(nb, exps, written, lang, stream, folder_data, author, group, command)
    else:
        _save(nb, written.notebook)
    _export(written)
    return written


def _save(nb, path: Path) -> None:
    import nbformat

    write_text(path, nbformat.writes(nb))


def _export(written: Written) -> None:
    import nbformat

    from mnistlab.notebook import html

    nb = nbformat.read(written.notebook, as_version=4)
    write_text(written.html, html.export(nb, written.notebook.stem))


def _execute(nb, exps: dict, written: Written, lang: str, stream: TextIO, data_dir: str | None = None,
             author: str | None = None, group: str | None = None, command: list[str] | None = None) -> None:
    import nbformat

    from mnistlab.notebook import answers, build, capture, execute

    folder = written.notebook.parent
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mnistlab-notebook-") as tmp:
        capture_dir = Path(tmp) / "capture"
        capture_dir.mkdir()
        started = datetime.now(UTC).isoformat(timespec="seconds")
        outcome = execute.run(nb, folder.resolve(), capture_dir, build.weights(nb, exps),
                              lambda n, o: _save(execute.cut(n, o), written.notebook), stream, data_dir)
        written.status, written.error, written.seconds = outcome.status, outcome.error, outcome.elapsed
        if outcome.status != "complete":
            if outcome.status == "failed" and outcome.cell is not None:
                block = nb.cells[outcome.cell].metadata.get("mnistlab", {}).get("block", "")
                n = sum(c.cell_type == "code" for c in nb.cells[:outcome.cell + 1])
                written.error = f"cell {n} ({block}) failed: {outcome.error}"
            return
        from mnistlab.backend import quiet

        quiet()  # write_run reads Keras' histories helpers: no TensorFlow start-up lines on the terminal
        seconds = {step: outcome.seconds[b] for b, step in plan.fit_cells().items() if b in outcome.seconds}
        run_dir = folder / RUN
        from mnistlab.backend import hardware

        capture.write_run(capture_dir, run_dir, exps, seconds, lang, {
            runfolder.M_COMMAND: command or ["notebook"], runfolder.M_HARDWARE: hardware(),
            runfolder.M_STARTED: started, runfolder.M_FINISHED: datetime.now(UTC).isoformat(timespec="seconds"),
            runfolder.M_SECONDS: round(outcome.elapsed, 1)})
        capture.save_figures(nb, run_dir)
        written.answered = build.fill_answers(nb, answers.answers(run_dir, lang), answers.analysis(run_dir, lang))
        import hashlib

        from mnistlab import __version__
        nb.metadata[GENERATED_KEY] = {"version": __version__, "generated_answers": {
            c.id: hashlib.sha256(c.source.encode()).hexdigest()[:16] for c in nb.cells
            if any(c.metadata.get("mnistlab", {}).get(k) for k in ("answer", "analysis", "later"))
            and build.TO_WRITE not in c.source}, "generated_code": {
            c.id: hashlib.sha256(c.source.encode()).hexdigest()[:16] for c in nb.cells if c.cell_type == "code"}}
    nbformat.validate(nb)
    _save(nb, written.notebook)
    written.report = answers.write_report(run_dir, lang, author, group).html
