"""Provenance and consistency checks over one notebook: each returns ``[(flag, evidence)]``, nothing else.

Flags are codes (``out-of-order``, ``outputs-inconsistent:<step>``, ``wrong-dataset:<step>``,
``settings-differ:<step>``, ``cell-errors``); the evidence is a plain sentence with the numbers compared.
"""

from __future__ import annotations

import functools

from mnistlab.grade import bands as bandmod
from mnistlab.grade import lab, parse
from mnistlab.grade.parse import Notebook, Step

Flag = tuple[str, str]
N_TEST = 10_000  # the test set of both data sets


@functools.cache
def reference() -> Notebook:
    """The lab's own code, read by the same parser as the students' (the settings they are compared with)."""
    cells = [{"cell_type": "code", "source": src, "outputs": [], "metadata": {}, "execution_count": None}
             for _, src in lab.reference_cells()]
    return parse.read({"cells": cells, "metadata": {}})


def order(nbk: Notebook) -> list[Flag]:
    """Execution counts 1, 2, 3 ... in the cells' order (a notebook run top to bottom in one kernel)."""
    counts = [c for c in nbk.exec_counts if c is not None]
    if not counts:
        return [("not-executed", "no code cell has an execution count")]
    if counts[0] != 1 or any(b <= a for a, b in zip(counts, counts[1:], strict=False)):
        shown = ", ".join(map(str, counts[:12])) + (" ..." if len(counts) > 12 else "")
        return [("out-of-order", f"execution counts {shown}")]
    return []


def cell_errors(nbk: Notebook) -> list[Flag]:
    return [("cell-errors", "; ".join(nbk.errors[:3]))] if nbk.errors else []


def settings(step: Step, ref: Step | None) -> list[str]:
    """The student's settings of ``step`` that differ from the lab's, each with the line of code."""
    if ref is None:
        return []
    diffs = []
    mine = [ly.key() for ly in step.layers if ly.kind != "Input"]
    theirs = [ly.key() for ly in ref.layers if ly.kind != "Input"]
    if step.layers and mine != theirs:
        diffs.append(f"architecture {' '.join(ly.describe() for ly in step.layers if ly.kind != 'Input')} "
                     f"(lab: {' '.join(ly.describe() for ly in ref.layers if ly.kind != 'Input')}) "
                     f"[{step.lines.get('layers', '')}]")
    for key, want in ref.settings.items():
        have = step.settings.get(key)
        if have is not None and have != want:
            diffs.append(f"{key} = {have} (lab: {want}) [{step.lines.get(key, '')}]")
    return diffs


def consistency(nbk: Notebook, tol: float) -> list[Flag]:
    """Outputs that disagree with each other or with the code."""
    flags = []
    for name, st in nbk.steps.items():
        ev = st.evaluate.get("accuracy")
        why = []
        if ev is not None and st.printed_accuracy is not None and abs(ev - st.printed_accuracy) > tol:
            why.append(f"printed accuracy {st.printed_accuracy:.4f} but evaluate() shows {ev:.4f}")
        built = parse.count_params(st.layers) if st.layers else None
        if built and st.summary_params is not None and built != st.summary_params:
            why.append(f"summary() shows {st.summary_params:,} parameters, the code's architecture has {built:,}")
        val = st.settings.get("validation")
        last = st.fit_log[-1].get("val_accuracy") if st.fit_log else None
        if (ev is not None and last is not None and isinstance(val, str) and val.startswith("data")
                and "test" in val.lower() and name != "ex2.augment" and abs(ev - last) > tol):
            why.append(f"the fit log's last val_accuracy {last:.4f} (validated on the test set) but evaluate() "
                       f"shows {ev:.4f}")
        epochs = st.settings.get("epochs")
        if st.fit_log and isinstance(epochs, int) and len(st.fit_log) > epochs:
            why.append(f"{len(st.fit_log)} epochs in the fit log for epochs={epochs} in the code")
        if st.matrix_sum is not None and st.matrix_sum != N_TEST:
            why.append(f"the confusion matrix sums to {st.matrix_sum:,}, not {N_TEST:,}")
        if why:
            flags.append((f"outputs-inconsistent:{name}", "; ".join(why)))
    return flags


def dataset(nbk: Notebook, bands: dict, margin: float) -> list[Flag]:
    """Exercise 2 on MNIST (or exercise 1 on Fashion-MNIST): in the code, or an accuracy only MNIST gives."""
    flags = []
    if nbk.datasets.get("ex2") == "mnist":
        flags.append(("wrong-dataset:ex2", "exercise 2 loads MNIST, not Fashion-MNIST"))
    if nbk.datasets.get("ex1") == "fashion_mnist":
        flags.append(("wrong-dataset:ex1", "exercise 1 loads Fashion-MNIST, not MNIST"))
    mnist = bandmod.band(bands, "ex1", "test_accuracy")
    for name, st in nbk.steps.items():
        acc = st.evaluate.get("accuracy", st.printed_accuracy)
        own = bandmod.band(bands, name, "test_accuracy")
        if name == "ex1" or acc is None or mnist is None or own is None or any(f[0].endswith(":ex2") for f in flags):
            continue
        if acc > own["max"] + margin and acc >= mnist["p5"] - margin:
            flags.append((f"wrong-dataset:{name}", f"test accuracy {acc:.4f} is above every Fashion-MNIST "
                          f"reference run (max {own['max']:.4f}) and in MNIST's band (P5 {mnist['p5']:.4f})"))
    return flags
