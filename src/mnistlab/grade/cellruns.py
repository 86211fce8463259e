"""How one code cell's run splits between the lab's steps: the outputs of a cell that trains two steps' models,
what a cell printed after its fit log, and a failed cell that a later cell of its step corrects. Used by
:mod:`~mnistlab.grade.parse` (``st``: its ``Step``; ``keys``: a cell's code lines, comments and spaces removed)."""

from __future__ import annotations

import re

from mnistlab.grade import outputs


def supersede(st, failed: list, keys: set[str], errors: list[str], ran: bool) -> bool:
    """A failed cell of a step, then a cell of that step that runs without error and repeats most of its code
    (the typo corrected below): the error no longer counts against the step (cell-errors still shows it)."""
    if errors:
        failed.append((errors, keys))
        return False
    done = False
    for errs, old in list(failed) if ran else []:
        if old and len(old & keys) >= 0.5 * len(old):
            st.errors = [e for e in st.errors if e not in errs]
            failed.remove((errs, old))
            done = True
    return done


_EPOCH_ONE = re.compile(r"(?m)^\s*Epoch 1/\d+")


def per_fit(fits: list[tuple[str, int, bool]], outs: list) -> list[tuple[str, list, bool]] | None:
    """A cell that runs several steps (the CNN, then the augmented one; the ANN, then the activation study): its
    outputs cut where each fit log starts, each part to the step of its logging ``fit()`` (what comes before the
    first log goes with it). A step of the cell that logs nothing (``verbose=0``, the confusion matrix) gets the
    part of the logging fit above it in the code, without its fit log (``False`` as third field). None when the
    cell runs one step or its logs do not match its logging fit calls one to one."""
    if len({f[0] for f in fits}) < 2:
        return None
    order = sorted(fits, key=lambda f: f[1])
    logging = [f for f in order if f[2]]
    starts = [k for k, o in enumerate(outs) if _EPOCH_ONE.search(outputs.text([o]))]
    if not logging or len(starts) != len(logging):
        return None
    bounds = [0, *starts[1:], len(outs)]
    parts = [(f[0], outs[bounds[j]:bounds[j + 1]], True) for j, f in enumerate(logging)]
    for step, line, logs in order:
        if not logs and step not in {f[0] for f in logging}:
            above = [j for j, f in enumerate(logging) if f[1] < line]
            parts.append((step, parts[above[-1] if above else 0][1], False))
    return parts


_LOG_LINE = re.compile(r"(?m)^.*(?:Epoch \d+/\d+|\d+/\d+\s.*(?:step|━)).*$\n?")


def without_logs(txt: str) -> str:
    """A cell's printed text without its fit logs and progress bars (what a step that logged nothing printed)."""
    return _LOG_LINE.sub("", txt)


def after_fit(txt: str) -> str:
    """What a cell printed after its fit log's last epoch line (an ``evaluate`` in the same cell)."""
    lines = txt.split("\n")
    last = max((k for k, ln in enumerate(lines) if "val_loss" in ln or "val_accuracy" in ln), default=len(lines))
    return "\n".join(lines[last + 1:])
