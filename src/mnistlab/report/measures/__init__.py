"""The measurements that answer the lab's questions: small functions chosen by name from ``questions.toml``.

Each measurement is ``fn(run, lang, **args) -> Answer``: the measured paragraphs (the question's fixed
explanation comes from the data file) and the artifacts they come from (provenance, shown in the
appendix, never in the hand-in body). :func:`measure` registers a function under its name without the
``q_`` / ``todo_`` prefix; ``questions.toml`` names it in ``measure = "..."`` (an unknown name fails when
the file loads). A measurement that needs a step the run does not hold, or holds unreadable, raises
:class:`Unavailable` through :func:`need`; the answer then says so with the reason. Any other exception
is a bug and propagates.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from mnistlab.i18n import say
from mnistlab.lab import plan
from mnistlab.report import quantities
from mnistlab.report.artifacts import Run
from mnistlab.report.fmt import listing, num, points


@dataclass
class Answer:
    """Paragraphs (inline `code` and **bold** allowed) and the artifacts the numbers come from."""

    paragraphs: list[str]
    sources: list[str] = field(default_factory=list)


class Unavailable(Exception):  # noqa: N818 - reads as what it says: the measurement is unavailable
    """A measurement's artifacts are missing or unreadable; the message says which and why, in words."""


REGISTRY: dict[str, Callable[..., Answer]] = {}


def measure(fn: Callable[..., Answer]) -> Callable[..., Answer]:
    """Register ``fn`` under its name without the ``q_`` / ``todo_`` prefix."""
    name = fn.__name__.removeprefix("q_").removeprefix("todo_")
    if name in REGISTRY:
        raise ValueError(f"two measurements named {name!r}")
    REGISTRY[name] = fn
    return fn


def registry() -> dict[str, Callable[..., Answer]]:
    """Every measurement by name: those of this module, and of the modules that define the others once they
    are imported (:mod:`mnistlab.report.questionnaire` imports them all; imports point one way, from the
    measurement modules to this one)."""
    return REGISTRY


@measure
def none(run: Run, lang: str) -> Answer:
    """The fixed explanation says it all: nothing in a run measures it."""
    return Answer([])


# --- the words shared by the measurements -------------------------------------------------------------------

STATUS_WORDS = {"not run": "measures.status_not_run", "interrupted": "measures.status_interrupted",
                "failed": "measures.status_failed", "running": "measures.status_running",
                "incomplete": "measures.status_incomplete", "complete": "measures.status_complete",
                "diverged": "measures.status_diverged", "skipped": "measures.status_skipped",
                "unreadable": "measures.status_unreadable"}


def status_word(status: str, lang: str) -> str:
    """A step's status in words (an unknown status as it is)."""
    key = STATUS_WORDS.get(status)
    return say(key, lang) if key else status


def label(name: str, lang: str) -> str:
    """A step's name for a reader ("le CNN de l'étape 5"), never its id (the lab plan's label)."""
    return plan.label(name, lang) or name


def need(run: Run, *names: str) -> dict | tuple[dict, ...]:
    """The metrics of finished steps ``names``; :class:`Unavailable` (saying why, in words) if one is missing."""
    out = []
    missing = []
    for name in names:
        s = run.done(name)
        if s is None:
            missing.append(name)
        else:
            out.append(s.metrics)
    if missing:
        raise Unavailable(why_missing(run, missing))
    return out[0] if len(out) == 1 else tuple(out)


def need_history(run: Run, name: str) -> dict[str, list[float]]:
    """The history of step ``name`` (finished or not); :class:`Unavailable` if it has none."""
    h = run.step(name).history
    if not h or not h.get("loss"):
        raise Unavailable(why_missing(run, [name]))
    return h


def why_missing(run: Run, names: list[str]) -> str:
    """A marker the answer turns into words in its language (:func:`unavailable_text`): names and status."""
    return ";".join(f"{n}={run.step(n).status}" for n in names)


def unavailable_text(run: Run, reason: str, lang: str) -> str:
    """The sentence for :class:`Unavailable`: which steps, why (status, unreadable file)."""
    parts = []
    for item in reason.split(";"):
        name, _, status = item.partition("=")
        if not status:
            parts.append(item)
            continue
        problems = run.step(name).problems
        why = (say("measures.status_problem", lang, status=status_word(status, lang), problem=problems[0])
               if problems else status_word(status, lang))
        parts.append(f"{label(name, lang)} ({why})")
    return say("measures.not_measured", lang, steps=listing(parts, lang))


def study_missing(lang: str, *names: str) -> str:
    """A "what if" study the run does not hold: the answer rests on the course's reasoning (the appendix says
    how to measure it)."""
    return say("measures.study_missing", lang, studies=listing([label(n, lang) for n in names], lang))


def tidy(reason: str) -> str:
    """A reason from a run folder without the machine's absolute paths (each path cut to its last part)."""
    return re.sub(r"(?<![\w.])/(?:[^\s/:]+/)+([^\s/:]+)", r"\1", str(reason))[:300]


def where(path: str, *keys: str) -> str:
    return f"{path} ({', '.join(keys)})" if keys else path


def acc(x: float | None, lang: str) -> str:
    return num(x, lang, 4)


def lower(s: str) -> str:
    return s[:1].lower() + s[1:]


# --- comparisons with their uncertainty ---------------------------------------------------------------------


def diff_text(d: quantities.Diff, lang: str) -> str:
    """The judge's words on a difference of two accuracies (:func:`mnistlab.judge.accuracies`), naming its
    test: ``+0,78 point, au-delà de deux erreurs-types appariées, ... (McNemar exact, ...)``."""
    return d.verdict.text(lang)


def compare(run: Run, lang: str, study: str, base: str, key: str = "test_accuracy") -> tuple[str, list[str]]:
    """The sentence "study X against base Y (difference with its uncertainty)" and its sources.

    The one helper for every "compare a study with its base experiment" answer. Raises :class:`Unavailable`
    if either step is missing.
    """
    s, b = need(run, study, base)
    steps = (run.step(study), run.step(base)) if key == "test_accuracy" else None  # paired on the test images
    d = quantities.accuracy_diff(s[key], b[key], min(s["n_test"], b["n_test"]), steps)
    text = say("measures.compare", lang, study_accuracy=acc(s[key], lang), study=label(study, lang),
               base_accuracy=acc(b[key], lang), base=label(base, lang), difference=diff_text(d, lang))
    sources = [where(f"{study}/metrics.json", key, "n_test"), where(f"{base}/metrics.json", key, "n_test")]
    if d.right is not None:  # McNemar on the per-image results
        sources += [f"{name}/test_probabilities.npy, {name}/arrays/test_labels.npy" for name in (study, base)]
    return text, sources


# --- sentences about a training curve -----------------------------------------------------------------------


def overfit_sentence(c: quantities.Curve, lang: str) -> str:
    """The judge's overfitting verdict on a curve, with its evidence, as one sentence."""
    o = c.judged
    if o is None:
        return ""
    train = ""
    if o.finding and c.loss_at_best is not None and c.last_loss is not None and c.last_loss < c.loss_at_best:
        train = say("measures.training_loss_falls", lang, loss_at_best=num(c.loss_at_best, lang),
                    last_loss=num(c.last_loss, lang))
    text = o.text(lang)
    return text[:1].upper() + text[1:] + train + "."


TREND_WORDS = {"rises": "measures.trend_rises", "falls": "measures.trend_falls", "flat": "measures.trend_flat"}


def _trend_words(v, lang: str) -> str:
    return say(TREND_WORDS[v.verdict], lang)


def curve_sentence(c: quantities.Curve, lang: str) -> str:
    """How training and validation accuracy move, each judged against its noise (never a dip in the noise)."""
    if c.epochs < 2:
        return say("measures.curve_one_epoch", lang, accuracy=acc(c.last_acc, lang),
                   val_accuracy=acc(c.last_val_acc, lang))
    if c.acc_trend is not None:
        rise = _trend_words(c.acc_trend, lang)
    else:
        rise = say("measures.rises_every_epoch" if c.acc_rises else "measures.goes", lang)
    if c.val_trend is None:
        val = say("measures.goes", lang)
    elif c.val_trend.verdict == "rises" and not c.val_acc_drops:
        val = say("measures.val_same_trend", lang)
    elif c.val_trend.verdict == "rises":
        val = say("measures.val_trend_with_fall", lang, epochs=listing([str(e) for e in c.val_acc_drops], lang))
    else:
        val = _trend_words(c.val_trend, lang)
    return say("measures.curve", lang, training_trend=rise, first_accuracy=acc(c.first_acc, lang),
               last_accuracy=acc(c.last_acc, lang), validation_trend=val,
               first_val_accuracy=acc(c.first_val_acc, lang), last_val_accuracy=acc(c.last_val_acc, lang),
               gap=points(c.last_gap, lang))


def data_facts(run: Run, dataset: str) -> dict:
    """Shapes and dtypes of a data set as the manifest recorded them; {} if absent or malformed."""
    f = run.data_facts(dataset)
    ok = all(isinstance(f.get(k), dict) and isinstance(f[k].get("shape"), list)
             and all(isinstance(x, int) for x in f[k]["shape"]) for k in ("x_train", "y_train", "x_test", "y_test"))
    return dict(f) if ok else {}


def maybe(run: Run, name: str) -> dict | None:
    """The metrics of step ``name`` if it finished, else None."""
    s = run.done(name)
    return s.metrics if s else None


def missing(run: Run, lang: str, *names: str) -> str:
    """The sentence saying steps ``names`` have no results, and why."""
    return unavailable_text(run, why_missing(run, list(names)), lang)
