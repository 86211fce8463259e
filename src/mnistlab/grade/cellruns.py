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


def per_fit(fits: list[str], outs: list) -> list[tuple[str, list]] | None:
    """A cell that trains several steps' models (the CNN, then the augmented one): its outputs cut where each
    fit log starts, each part to the step of its ``fit()`` (what comes before the first fit goes with it).
    None when the cell trains one step's model or its logs do not match its fit calls one to one."""
    if len(set(fits)) < 2:
        return None
    starts = [k for k, o in enumerate(outs) if _EPOCH_ONE.search(outputs.text([o]))]
    if len(starts) != len(fits):
        return None
    bounds = [0, *starts[1:], len(outs)]
    return [(fits[j], outs[bounds[j]:bounds[j + 1]]) for j in range(len(fits))]


def after_fit(txt: str) -> str:
    """What a cell printed after its fit log's last epoch line (an ``evaluate`` in the same cell)."""
    lines = txt.split("\n")
    last = max((k for k, ln in enumerate(lines) if "val_loss" in ln or "val_accuracy" in ln), default=len(lines))
    return "\n".join(lines[last + 1:])
