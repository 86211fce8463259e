"""The rubric: a TOML file of thresholds and items (``rubric_tp2.toml`` is shipped; copy and edit it).

Checked when it loads: an unknown kind, step, question, fact, need or threshold fails here with one line,
not halfway through a class.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mnistlab.errors import MnistlabError
from mnistlab.grade import lab

DEFAULT = "rubric_tp2.toml"
KINDS = ("code", "outputs", "results", "answer", "fact", "analysis")
FACTS = ("params", "n_train", "test_accuracy", "tf_version", "best_activation")
NEEDS = ("summary", "fit_log", "evaluate")
THRESHOLDS = {"band_low": "lo", "band_high": "hi", "band_margin": 0.0, "answer_min_words": 4,
              "analysis_min_words": 40, "fact_tolerance": 0.0006, "consistency_tolerance": 0.00051,
              "similar_code": 0.8, "similar_code_min_lines": 8, "similar_answers": 0.5,
              "similar_answers_min_words": 60, "similar_numbers": 4,
              "similar_numbers_fraction": 0.5, "generated_min_answers": 3}
_BAND_KEYS = ("lo", "hi", "min", "p5", "p25", "p50", "p75", "p95", "max")


@dataclass(frozen=True)
class Item:
    """One rubric item (one column of ``grades.csv``)."""

    id: str
    kind: str
    points: float
    step: str = ""
    metric: str = "test_accuracy"
    fact: str = ""
    needs: tuple[str, ...] = ()
    figures: int = 0
    points_if_settings_differ: float | None = None


@dataclass
class Rubric:
    """Thresholds and items, in column order."""

    items: list[Item]
    thresholds: dict = field(default_factory=lambda: dict(THRESHOLDS))
    source: str = DEFAULT

    @property
    def max_points(self) -> float:
        return sum(i.points for i in self.items)


def load(path: str | Path | None = None) -> Rubric:
    """The rubric at ``path`` (None: the shipped ``tp2`` rubric).

    Raises:
        MnistlabError: unreadable TOML, or an item or threshold the grader does not know (one line).
    """
    where = Path(path) if path is not None else Path(DEFAULT)
    try:
        text = (Path(path).read_text(encoding="utf-8") if path is not None else
                (resources.files("mnistlab.grade") / DEFAULT).read_text(encoding="utf-8"))
        raw = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise MnistlabError(f"unreadable rubric ({e})", where) from None
    thresholds = dict(THRESHOLDS)
    for key, value in (raw.get("thresholds") or {}).items():
        if key not in THRESHOLDS:
            raise MnistlabError(f"unknown threshold {key!r} (known: {', '.join(THRESHOLDS)})", where)
        if type(value) is not type(THRESHOLDS[key]) and not (isinstance(value, (int, float))
                                                           and isinstance(THRESHOLDS[key], float)):
            raise MnistlabError(f"threshold {key} must be a {type(THRESHOLDS[key]).__name__}", where)
        thresholds[key] = value
    for key in ("band_low", "band_high"):
        if thresholds[key] not in _BAND_KEYS:
            raise MnistlabError(f"{key} must be one of {', '.join(_BAND_KEYS)}", where)
    items, seen = [], set()
    steps, questions = set(lab.steps()), {q.key for q in lab.questions()}
    for n, entry in enumerate(raw.get("item") or [], 1):
        if not isinstance(entry, dict):
            raise MnistlabError(f"item {n} is not a table", where)
        try:
            item = Item(**{k: tuple(v) if k == "needs" else v for k, v in entry.items()})
        except TypeError as e:
            raise MnistlabError(f"item {n}: {e}", where) from None
        problem = _problem(item, steps, questions, seen)
        if problem:
            raise MnistlabError(f"item {item.id or n}: {problem}", where)
        seen.add(item.id)
        items.append(item)
    if not items:
        raise MnistlabError("no [[item]] in the rubric", where)
    return Rubric(items, thresholds, str(path) if path is not None else DEFAULT)


def _problem(item: Item, steps: set, questions: set, seen: set) -> str:
    if not isinstance(item.id, str) or not item.id or item.id in seen:
        return "missing or repeated id"
    if item.kind not in KINDS:
        return f"unknown kind {item.kind!r} (known: {', '.join(KINDS)})"
    if not isinstance(item.points, (int, float)) or item.points < 0:
        return "points must be a number >= 0"
    if item.kind in ("code", "outputs", "results", "fact") and item.step not in steps:
        return f"unknown step {item.step!r} (the lab's: {', '.join(sorted(steps))})"
    if item.kind in ("answer", "fact") and item.id not in questions:
        return "not a question of the lab (an answer item's id is the question's key, e.g. ex1.4.1)"
    if item.kind == "fact" and item.fact not in FACTS:
        return f"unknown fact {item.fact!r} (known: {', '.join(FACTS)})"
    if any(n not in NEEDS for n in item.needs):
        return f"unknown need (known: {', '.join(NEEDS)})"
    return ""
