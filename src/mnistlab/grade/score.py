"""One notebook graded against the rubric: a :class:`Mark` per item (points, and the sentence key and numbers
that explain them), the flags of :mod:`~mnistlab.grade.checks`, and the values the class page plots."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from mnistlab.grade import answers as answersmod
from mnistlab.grade import bands as bandmod
from mnistlab.grade import checks, parse, printed
from mnistlab.grade.parse import Notebook
from mnistlab.grade.rubric import Item, Rubric
from mnistlab.grade.words import say

_MAX_DIGITS = 30  # characters of a number quoted in an answer (float's range is 309 digits; a lab number has < 10)
_MIRROR = {"min": "max", "max": "min", "p5": "p95", "p95": "p5", "p25": "p75", "p75": "p25", "p50": "p50",
           "lo": "hi", "hi": "lo"}


@dataclass
class Mark:
    """An item's points and why: ``say`` (a words.toml key) with ``args``; ``review``: for the instructor."""

    item: str
    points: float
    max: float
    say: str
    args: dict = field(default_factory=dict)
    review: bool = False
    extra: list[tuple[str, dict]] = field(default_factory=list)  # further sentences


@dataclass
class Graded:
    """A graded notebook: marks, flags with evidence, answers (for similarity and review), plotted values."""

    marks: list[Mark]
    flags: list[tuple[str, str]]
    answers: dict[str, answersmod.Answer]
    analysis: answersmod.Answer
    values: dict[str, float]  # "ex1.test_accuracy" -> the student's value
    generated: bool = False

    @property
    def total(self) -> float:
        return sum(m.points for m in self.marks)


def grade(nbk: Notebook, rubric: Rubric, bands: dict, lang: str = "fr") -> Graded:
    """Grade one parsed notebook (no execution, no other student involved)."""
    th = rubric.thresholds
    answers, analysis = answersmod.read(nbk)
    ref = checks.reference()
    flags = checks.order(nbk, lang) + checks.cell_errors(nbk) + checks.consistency(nbk, th["consistency_tolerance"],
                                                                                  lang)
    flags += checks.dataset(nbk, bands, th["band_margin"], lang)
    differ = {}
    for name, st in nbk.steps.items():
        if st.errors:  # an error is an error (cell-errors names it), not a setting
            continue
        diffs = checks.settings(st, ref.steps.get(name), lang)
        if diffs:
            differ[name] = diffs
            flags.append((f"settings-differ:{name}", "; ".join(diffs)))
    by_text = sum(a.tool for a in answers.values())  # one short sentence like the tool's may be anyone's
    generated = (by_text >= th["generated_min_answers"] or analysis.generated
                 or any(a.generated and not a.tool for a in answers.values()))
    if generated:
        flags.append(("generated-answers", say("ev.generated", lang, n=sum(a.generated for a in answers.values()))))
    marks, values = [], {}
    for item in rubric.items:
        marks.append(_mark(item, nbk, answers, analysis, bands, th, differ, values))
    flags += checks.missing(nbk, rubric, marks, lang)
    return Graded(marks, flags, answers, analysis, values, generated)


def _mark(item: Item, nbk: Notebook, answers, analysis, bands, th, differ, values) -> Mark:
    st = nbk.steps.get(item.step)
    if item.kind == "code":
        ref = checks.reference().steps.get(item.step)
        needs_code = ref is not None and bool(ref.layers or ref.settings)
        if st is None or (needs_code and not (st.layers or st.settings)):
            return Mark(item.id, 0.0, item.points, "code.missing")
        kept = item.points if item.points_if_settings_differ is None else item.points_if_settings_differ
        if st.errors:
            return Mark(item.id, kept, item.points, "code.error", {"error": st.errors[0]})
        if item.step in differ:
            return Mark(item.id, kept, item.points, "code.differs", {"diffs": "; ".join(differ[item.step])})
        return Mark(item.id, item.points, item.points, "code.ok")
    if item.kind == "outputs":
        have = {"summary": st is not None and st.summary_params is not None,
                "fit_log": st is not None and bool(st.fit_log),
                "evaluate": st is not None and (bool(st.evaluate) or st.printed_accuracy is not None
                                                or "test" in st.printed)}
        missing = [n for n in item.needs if not have[n]]
        figures = st.figures if st else 0
        if figures < item.figures:
            missing.append(f"figures {figures}/{item.figures}")
        if missing:
            return Mark(item.id, 0.0, item.points, "outputs.missing", {"missing": ", ".join(missing)})
        return Mark(item.id, item.points, item.points, "outputs.ok",
                    {"found": ", ".join([*item.needs, f"figures {figures}"])})  # the same words in fr and en
    if item.kind == "results":
        return _results(item, st, bands, th, differ, values)
    if item.kind in ("answer", "fact"):
        ans = answers.get(item.id)
        if item.kind == "fact" and ans is not None and ans.words:
            mark = _fact(item, ans, nbk, th)  # a right number needs no sentence around it ("0.9773")
            if mark.say == "fact.ok" or ans.words >= th["answer_min_words"]:
                return mark
        if ans is None or ans.words < th["answer_min_words"]:
            return Mark(item.id, 0.0, item.points, "answer.missing")
        if ans.generated:
            return Mark(item.id, item.points, item.points, "answer.generated", review=True)
        return Mark(item.id, item.points, item.points, "answer.ok", {"words": ans.words}, review=True)
    words = analysis.words
    if words >= th["analysis_min_words"]:
        return Mark(item.id, item.points, item.points, "analysis.ok", {"words": words}, review=True)
    return Mark(item.id, 0.0, item.points, "analysis.short", {"words": words, "min": th["analysis_min_words"]})


value = printed.value  # the student's value of a metric (kept here for the callers of score)


def _results(item: Item, st, bands, th, differ, values) -> Mark:
    v = value(st, item.metric)
    if v is None:
        return Mark(item.id, 0.0, item.points, "results.none", {"metric": item.metric})
    values[f"{item.step}.{item.metric}"] = v
    b = bandmod.band(bands, item.step, item.metric)
    if b is None:
        return Mark(item.id, 0.0, 0.0, "results.noband", {"metric": item.metric})
    lo_key, hi_key = th["band_low"], th["band_high"]
    if "loss" in item.metric:
        lo_key, hi_key = _MIRROR[hi_key], _MIRROR[lo_key]
    printed = next((k for k, x in (st.printed.items() if st is not None else ()) if x == v), None)
    slack = th["band_margin"] + (st.rounding.get(printed, 0.0) if printed else 0.0)  # "0.97" printed: +- 0.005
    lo, hi = b[lo_key] - slack, b[hi_key] + slack
    args = {"value": v, "low_name": lo_key.upper(), "low": b[lo_key], "high_name": hi_key.upper(),
            "high": b[hi_key], "n": int(b["n"])}
    say = "results.in" if lo <= v <= hi else "results.below" if v < lo else "results.above"
    extra = [("results.settings", {})] if item.step in differ else []
    return Mark(item.id, item.points if say == "results.in" else 0.0, item.points, say, args, extra=extra)


def _numbers(text: str) -> list[float]:
    """Numbers quoted in an answer: ``101 770``, ``101,770``, ``0,9739``, ``97.39 %`` (as 0.9739).

    Only finite numbers: a run of digits too long for a float (``1`` and 400 zeros) is not a number quoted.
    """
    out = []
    text = re.sub(r"(?<=\d)[\u202f\u00a0 ](?=\d{3}\b)", "", text)
    for m in re.finditer(r"(\d+(?:[.,]\d+)*)\s*(%?)", text):
        raw, pct = m.group(1), m.group(2)
        if re.fullmatch(r"\d{1,3}(,\d{3})+", raw):
            raw = raw.replace(",", "")
        raw = raw.replace(",", ".")
        if raw.count(".") > 1 or len(raw) > _MAX_DIGITS:
            continue
        try:
            x = float(raw)
        except ValueError:
            continue
        if math.isfinite(x):
            out.append(x / 100 if pct or (1 < x <= 100 and "." in raw) else x)
    return out


def _near(x: float, expected: float, tol: float) -> bool:
    """``|x - expected| <= tol``, False where either is not a finite float (an int past float's range)."""
    try:
        return math.isfinite(x) and math.isfinite(expected) and abs(x - expected) <= tol
    except OverflowError:
        return False


def _fact(item: Item, ans, nbk: Notebook, th) -> Mark:
    st = nbk.steps.get(item.step)
    expected = None
    if item.fact == "params" and st is not None:
        expected = st.summary_params or (parse.count_params(st.layers) if st.layers else None)
    elif item.fact == "test_accuracy":
        expected = value(st, "test_accuracy")
    elif item.fact == "n_train":
        expected = nbk.n_train
    elif item.fact == "tf_version":
        expected = nbk.tf_version
    elif item.fact == "best_activation" and st is not None and st.activations:
        expected = max(st.activations, key=st.activations.get)
    if isinstance(expected, (int, float)) and not isinstance(expected, bool) and not _near(expected, expected, 0):
        expected = None  # a printed number past float's range (``x_train shape: (6`` and 400 zeros): not a fact
    if expected is None:
        return Mark(item.id, item.points, item.points, "fact.unchecked", review=True)
    if isinstance(expected, str):
        quoted = expected if answersmod.norm(expected).replace(" ", "") in answersmod.norm(ans.text).replace(
            " ", "") else None
        if quoted is None and item.fact == "tf_version":
            quoted = next(iter(re.findall(r"\d+\.\d+(?:\.\d+)?", ans.text)), None)
    else:
        nums = _numbers(ans.text)
        tol = th["fact_tolerance"] if isinstance(expected, float) else 0.5
        quoted = next((x for x in nums if _near(x, expected, tol)), nums[0] if nums else None)
        if isinstance(expected, int) and isinstance(quoted, float) and quoted.is_integer():
            quoted = int(quoted)
    args = {"quoted": quoted if quoted is not None else "", "expected": expected}
    if quoted is None:
        return Mark(item.id, 0.0, item.points, "fact.noquote", args, review=True)
    if item.fact == "tf_version" and isinstance(quoted, str) and expected.startswith(quoted + "."):
        quoted = expected  # "2.16" for 2.16.1: the version, told to the minor number
    ok = quoted == expected if isinstance(expected, str) or isinstance(expected, int) else _near(
        quoted, expected, th["fact_tolerance"])
    return Mark(item.id, item.points if ok else 0.0, item.points, "fact.ok" if ok else "fact.wrong", args,
                review=not ok)
