"""Execute a notebook in one kernel, in order, with progress, captures, Ctrl-C and failures handled.

Each code cell runs through nbclient; after the cells :func:`~mnistlab.notebook.capture.after` names, a
capture snippet runs in the same kernel without entering the notebook. The notebook is written (atomically)
after every cell, so an interruption or a failure keeps what was done, with a note at the cut.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from mnistlab.i18n import say
from mnistlab.notebook import capture, kernel
from mnistlab.notebook.build import LANG

CUT_NOTE = {"interrupted": "notebook.cut_interrupted", "failed": "notebook.cut_failed",  # the note at a cut
            "running": "notebook.cut_running"}



@dataclass
class Outcome:
    """How an execution ended: ``complete``, ``interrupted`` or ``failed`` (with the cell and the error)."""

    status: str = "complete"
    cell: int | None = None  # index of the failed or interrupted cell in the notebook
    error: str = ""
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each code cell, by block name
    elapsed: float = 0.0


def _clock(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d}"


def run(nb, workdir: Path, capture_dir: Path, weights: list[float], save: Callable[[object, Outcome | None], None],
        stream: TextIO, data_dir: str | None = None) -> Outcome:
    """Execute ``nb``'s code cells in order in one kernel started in ``workdir``.

    Args:
        nb: the notebook (an nbformat node); its cells carry ``metadata.mnistlab.block``.
        capture_dir: where the capture snippets write.
        weights: expected relative cost of each code cell (for the time left).
        save: called with the notebook and the outcome so far after every cell (and at the cut).
        stream: progress lines go here (stderr).
        data_dir: a local data folder the kernel's ``load_data()`` calls serve (:mod:`~mnistlab.notebook.loader`).

    Returns:
        The outcome. Never raises for a failing cell or Ctrl-C; raises MnistlabError when no kernel starts.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    from mnistlab.errors import MnistlabError

    out = Outcome()
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    total_w = sum(weights) or 1.0
    t0 = time.perf_counter()
    with kernel.manager(data_dir) as km:
        client = NotebookClient(nb, km=km, timeout=None, record_timing=True, coalesce_streams=True,
                                allow_errors=False, resources={"metadata": {"path": str(workdir)}})
        try:
            with client.setup_kernel(stderr=subprocess.DEVNULL):  # the kernel's own log lines, not the lab's
                _hidden(client, nb, capture.PRELUDE.format(dir=str(capture_dir)))
                snippets = capture.after()
                done_w = 0.0
                for n, i in enumerate(code):
                    cell = nb.cells[i]
                    block = cell.metadata.get("mnistlab", {}).get("block", "")
                    elapsed = time.perf_counter() - t0
                    left = f", about {_clock(elapsed / done_w * (total_w - done_w))} left" if done_w else ""
                    stream.write(f"notebook: cell {n + 1}/{len(code)} {block} ({_clock(elapsed)} elapsed{left})\n")
                    stream.flush()
                    out.cell = i
                    tc = time.perf_counter()
                    try:
                        client.execute_cell(cell, i)
                    except CellExecutionError as e:
                        out.status = "failed"
                        out.error = _one_line(e)
                        break
                    out.seconds[block] = time.perf_counter() - tc
                    if block in snippets:
                        _hidden(client, nb, snippets[block])
                    done_w += weights[n]
                    out.cell = None
                    save(nb, Outcome("running", code[n + 1] if n + 1 < len(code) else None))
        except KeyboardInterrupt:
            out.status = "interrupted"
        except DeadKernelError as e:
            out.status, out.error = "failed", f"the kernel died ({e})"
        except RuntimeError as e:  # nbclient: no kernel could start
            if out.cell is None and not out.seconds:
                raise MnistlabError(f"no Python kernel could start ({e}); `pip install ipykernel`") from None
            out.status, out.error = "failed", str(e)
    out.elapsed = time.perf_counter() - t0
    save(nb, out)
    return out


def _hidden(client, nb, source: str) -> None:
    """Run ``source`` in the notebook's kernel without leaving a cell or an execution count behind."""
    from nbformat import v4

    nb.cells.append(v4.new_code_cell(source))  # nbclient stores the executed cell back at its index
    try:
        client.execute_cell(nb.cells[-1], len(nb.cells) - 1, store_history=False)
    finally:
        nb.cells.pop()


def _one_line(e: Exception) -> str:
    ename, evalue = getattr(e, "ename", type(e).__name__), str(getattr(e, "evalue", e)).strip()
    line = f"{ename}: {evalue.splitlines()[0] if evalue else ''}".strip()
    if ename == "ModuleNotFoundError":
        line += " (install it: `pip install -e .` installs the lab's libraries)"
    return line[:300]


def cut(nb, out: Outcome):
    """A copy of ``nb`` with a note after the last cell executed, when the execution did not complete."""
    import copy

    from nbformat import v4

    if out.status == "complete":
        return nb
    nb = copy.deepcopy(nb)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    if out.cell is None:  # between cells: before the first code cell not executed
        at = next((i for i in code if nb.cells[i].get("execution_count") is None), len(nb.cells))
    else:  # a running cell: before it; a failed or interrupted one keeps its outputs, the note comes after
        at = out.cell + (out.status != "running")
    note = say(CUT_NOTE.get(out.status, CUT_NOTE["running"]), LANG, error=out.error)
    nb.cells.insert(at, v4.new_markdown_cell(note, metadata={"mnistlab": {"cut": out.status}}))
    return nb
