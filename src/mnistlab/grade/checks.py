"""Provenance and consistency checks over one notebook: each returns ``[(flag, evidence)]``, nothing else.

Flags are codes (``out-of-order``, ``outputs-inconsistent:<step>``, ``wrong-dataset:<step>``,
``settings-differ:<step>``, ``cell-errors``, ``missing-steps``, ``missing-outputs``, ``no-answers``);
the evidence is a plain sentence with the numbers compared.
"""

from __future__ import annotations

import functools

from mnistlab.data.sources import title
from mnistlab.grade import bands as bandmod
from mnistlab.grade import lab, parse, printed
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
    """Execution counts rising in the cells' order (a notebook run top to bottom in one kernel; a first count
    above 1 and gaps are cells run then deleted, not an order)."""
    counts = [c for c in nbk.exec_counts if c is not None]
    if not counts:
        return [("not-executed", say("ev.not_executed", lang))]
    if any(b <= a for a, b in zip(counts, counts[1:], strict=False)):
        shown = ", ".join(map(str, counts[:12])) + (" ..." if len(counts) > 12 else "")
        return [("out-of-order", say("ev.order", lang, counts=shown))]
    return []


def cell_errors(nbk: Notebook) -> list[Flag]:
    """The cells that failed, each with its error (``cell 14: NameError: name 'MaxPooling2d' is not defined``)."""
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
        if key == "validation" and isinstance(have, str) and isinstance(want, str) and have.startswith("data") \
                and want.startswith("data"):
            continue  # validation_data=(the test set) under the student's own names: the same setting
        if have is not None and have != want:
            diffs.append(say("ev.setting", lang, setting=key, have=str(have), want=str(want),
                             line=step.lines.get(key, "")))
    return diffs


# Keras 3's evaluate() progress bar averages its running means once more, so its last line can differ from the
# value evaluate() returns by several thousandths (keras-team/keras#20788, #21301): compared loosely only.
PROGRESS_BAR_SLACK = 0.02


def consistency(nbk: Notebook, tol: float, lang: str = "fr") -> list[Flag]:
    """Outputs that disagree with each other or with the code, compared like with like: a printed test
    accuracy with the fit log's last val_accuracy when that fit validated on the test set, a printed
    validation accuracy with the last val_accuracy of the same validation split."""
    flags = []
    for name, st in nbk.steps.items():
        why = []
        test = st.printed.get("test")
        ev = st.evaluate.get("accuracy")
        if ev is not None and test is not None and abs(ev - test) > PROGRESS_BAR_SLACK:
            why.append(say("ev.printed", lang, printed=test, evaluated=ev))
        built = parse.count_params(st.layers) if st.layers else None
        if built and st.summary_params is not None and built != st.summary_params:
            why.append(say("ev.params", lang, shown=st.summary_params, built=built))
        val = st.settings.get("validation")
        last = st.fit_log[-1].get("val_accuracy") if st.fit_log else None
        on_test = isinstance(val, str) and val.startswith("data") and "test" in val.lower()
        if last is not None and on_test:
            for kind in ("test", "val_test"):
                v = st.printed.get(kind)
                if v is not None and abs(v - last) > max(tol, st.rounding.get(kind, 0.0) + 5e-5):
                    why.append(say("ev.fit_log", lang, last=last, evaluated=v))
                    break
        split = st.printed.get("val_split")
        if last is not None and isinstance(val, str) and val.startswith("split") and split is not None \
                and abs(split - last) > max(tol, st.rounding.get("val_split", 0.0) + 5e-5):
            why.append(say("ev.val_split", lang, printed=split, last=last))
        epochs = st.settings.get("epochs")
        if st.fit_log and isinstance(epochs, int) and len(st.fit_log) > epochs:
            why.append(say("ev.epochs", lang, logged=len(st.fit_log), epochs=epochs))
        if st.matrix_sum is not None and st.matrix_sum != N_TEST:
            why.append(say("ev.matrix", lang, total=st.matrix_sum, n=N_TEST))
        if why:
            flags.append((f"outputs-inconsistent:{name}", "; ".join(why)))
    return flags


def missing(nbk: Notebook, rubric, marks: list, lang: str = "fr") -> list[Flag]:
    """What an instructor looks for first: steps without code, code without outputs, no answers at all."""
    by_id = {m.item: m for m in marks}
    flags = []
    absent = [i.step for i in rubric.items if i.kind == "code" and by_id[i.id].say == "code.missing"]
    if absent:
        flags.append(("missing-steps", say("ev.missing_steps", lang, steps=", ".join(absent))))
    outs = [f"{i.step} ({by_id[i.id].args.get('missing', '')})" for i in rubric.items
            if i.kind == "outputs" and i.step not in absent and by_id[i.id].say == "outputs.missing"]
    if outs:
        flags.append(("missing-outputs", say("ev.missing_outputs", lang, missing="; ".join(outs))))
    asked = [i for i in rubric.items if i.kind in ("answer", "fact")]
    answered = sum(by_id[i.id].say != "answer.missing" for i in asked)
    analysis = [m for m in marks if m.say.startswith("analysis.")]
    words = analysis[0].args.get("words", 0) if analysis else 0
    if asked and answered == 0 and not (analysis and analysis[0].points):
        flags.append(("no-answers", say("ev.no_answers", lang, n=len(asked))))
    elif asked and answered <= len(asked) / 10:
        flags.append(("no-answers", say("ev.no_answers_some", lang, answered=answered, n=len(asked),
                                        analysis=words)))
    return flags


def dataset(nbk: Notebook, bands: dict, margin: float, lang: str = "fr") -> list[Flag]:
    """An exercise on another exercise's data set (exercise 2 on MNIST): in the code, or a test accuracy above
    its step's band and inside the band of the other data set's first step."""
    flags = []
    wanted = dict(lab.exercises())
    for ex, ds in wanted.items():
        found = nbk.datasets.get(ex)
        if found and found != ds:
            flags.append((f"wrong-dataset:{ex}", say("ev.loads_dataset", lang, exercise=ex.removeprefix("ex"),
                                                     found=title(found), wanted=title(ds))))
    for name, st in nbk.steps.items():
        acc = printed.value(st, "test_accuracy")
        own = bandmod.band(bands, name, "test_accuracy")
        ex = lab.exercise_of(name)
        if acc is None or own is None or lab.shape(name) is None or any(f[0] == f"wrong-dataset:{ex}" for f in flags):
            continue
        for other_ex, other_ds in wanted.items():
            other = bandmod.band(bands, lab.first_step(other_ex), "test_accuracy")
            if other_ds == wanted[ex] or other is None or other["lo"] <= own["hi"]:
                continue  # only a data set whose band lies above the step's own tells a wrong one
            if acc > own["hi"] + margin and acc >= other["lo"] - margin:
                flags.append((f"wrong-dataset:{name}", say("ev.other_band", lang, acc=acc, high=own["hi"],
                                                           low=other["lo"], wanted=title(wanted[ex]),
                                                           found=title(other_ds))))
                break
    return flags
