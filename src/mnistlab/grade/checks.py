"""Provenance and consistency checks over one notebook: each returns ``[(flag, evidence)]``, nothing else.

Flags are codes (``out-of-order``, ``outputs-inconsistent:<step>``, ``wrong-dataset:<step>``,
``settings-differ:<step>``, ``cell-errors``); the evidence is a plain sentence with the numbers compared.
"""

from __future__ import annotations

import functools

from mnistlab.grade import bands as bandmod
from mnistlab.grade import lab, parse
from mnistlab.grade.parse import Notebook, Step
from mnistlab.grade.words import say

Flag = tuple[str, str]
N_TEST = 10_000  # the test set of both data sets


@functools.cache
def reference() -> Notebook:
    """The lab's own code, read by the same parser as the students' (the settings they are compared with)."""
    cells = [{"cell_type": "code", "source": src, "outputs": [], "metadata": {}, "execution_count": None}
             for _, src in lab.reference_cells()]
    return parse.read({"cells": cells, "metadata": {}})


def order(nbk: Notebook, lang: str = "fr") -> list[Flag]:
    """Execution counts 1, 2, 3 ... in the cells' order (a notebook run top to bottom in one kernel)."""
    counts = [c for c in nbk.exec_counts if c is not None]
    if not counts:
        return [("not-executed", say("ev.not_executed", lang))]
    if counts[0] != 1 or any(b <= a for a, b in zip(counts, counts[1:], strict=False)):
        shown = ", ".join(map(str, counts[:12])) + (" ..." if len(counts) > 12 else "")
        return [("out-of-order", say("ev.order", lang, counts=shown))]
    return []


def cell_errors(nbk: Notebook) -> list[Flag]:
    return [("cell-errors", "; ".join(nbk.errors[:3]))] if nbk.errors else []


def settings(step: Step, ref: Step | None, lang: str = "fr") -> list[str]:
    """The student's settings of ``step`` that differ from the lab's, each with the line of code."""
    if ref is None:
        return []
    diffs = []
    mine = [ly.key() for ly in step.layers if ly.kind != "Input"]
    theirs = [ly.key() for ly in ref.layers if ly.kind != "Input"]
    if step.layers and mine != theirs:
        diffs.append(say("ev.setting", lang, setting="architecture",
                         have=" ".join(ly.describe() for ly in step.layers if ly.kind != "Input"),
                         want=" ".join(ly.describe() for ly in ref.layers if ly.kind != "Input"),
                         line=step.lines.get("layers", "")))
    for key, want in ref.settings.items():
        have = step.settings.get(key)
        if have is not None and have != want:
            diffs.append(say("ev.setting", lang, setting=key, have=str(have), want=str(want),
                             line=step.lines.get(key, "")))
    return diffs


def consistency(nbk: Notebook, tol: float, lang: str = "fr") -> list[Flag]:
    """Outputs that disagree with each other or with the code."""
    flags = []
    for name, st in nbk.steps.items():
        ev = st.evaluate.get("accuracy")
        why = []
        if ev is not None and st.printed_accuracy is not None and abs(ev - st.printed_accuracy) > tol:
            why.append(say("ev.printed", lang, printed=st.printed_accuracy, evaluated=ev))
        built = parse.count_params(st.layers) if st.layers else None
        if built and st.summary_params is not None and built != st.summary_params:
            why.append(say("ev.params", lang, shown=st.summary_params, built=built))
        val = st.settings.get("validation")
        last = st.fit_log[-1].get("val_accuracy") if st.fit_log else None
        if (ev is not None and last is not None and isinstance(val, str) and val.startswith("data")
                and "test" in val.lower() and name != "ex2.augment" and abs(ev - last) > tol):
            why.append(say("ev.fit_log", lang, last=last, evaluated=ev))
        epochs = st.settings.get("epochs")
        if st.fit_log and isinstance(epochs, int) and len(st.fit_log) > epochs:
            why.append(say("ev.epochs", lang, logged=len(st.fit_log), epochs=epochs))
        if st.matrix_sum is not None and st.matrix_sum != N_TEST:
            why.append(say("ev.matrix", lang, total=st.matrix_sum, n=N_TEST))
        if why:
            flags.append((f"outputs-inconsistent:{name}", "; ".join(why)))
    return flags


def dataset(nbk: Notebook, bands: dict, margin: float, lang: str = "fr") -> list[Flag]:
    """Exercise 2 on MNIST (or exercise 1 on Fashion-MNIST): in the code, or an accuracy only MNIST gives."""
    flags = []
    if nbk.datasets.get("ex2") == "mnist":
        flags.append(("wrong-dataset:ex2", say("ev.loads_mnist", lang)))
    if nbk.datasets.get("ex1") == "fashion_mnist":
        flags.append(("wrong-dataset:ex1", say("ev.loads_fashion", lang)))
    mnist = bandmod.band(bands, "ex1", "test_accuracy")
    for name, st in nbk.steps.items():
        acc = st.evaluate.get("accuracy", st.printed_accuracy)
        own = bandmod.band(bands, name, "test_accuracy")
        if name == "ex1" or acc is None or mnist is None or own is None or any(f[0].endswith(":ex2") for f in flags):
            continue
        if acc > own["hi"] + margin and acc >= mnist["lo"] - margin:
            flags.append((f"wrong-dataset:{name}", say("ev.mnist_band", lang, acc=acc, high=own["hi"],
                                                       low=mnist["lo"])))
    return flags
