"""The report's sections after the lab's own: the extended "what if" studies, each against the step it
varies, and the other experiments the run holds (the improved models).

Each ``*_items(run, lang)`` returns its blocks, or an empty list when the run has nothing for it.
"""

from __future__ import annotations

from mnistlab import config
from mnistlab.i18n import say
from mnistlab.lab import plan as lab_plan
from mnistlab.report import quantities
from mnistlab.report.artifacts import Run
from mnistlab.report.blocks import Items
from mnistlab.report.exercises import anchor, curves, step_code, step_missing
from mnistlab.report.fmt import general
from mnistlab.report.measures import label, overfit_sentence
from mnistlab.report.tables import model_table, results_table, settings_table, step_title

IGNORED_KEYS = ("name", "title", "order", "extended", "expect_divergence")


def extended_items(run: Run, lang: str) -> list:
    """The "what if" studies the run holds, each compared with the step it varies."""
    present = [n for n, s in run.steps.items() if n.startswith("ext.") and s.status != "not run"]
    return _experiments(run, lang, present, say("studies.extended_heading", lang), "extended", _study)


def others_items(run: Run, lang: str) -> list:
    """Experiments the run holds beyond the lab and its studies (e.g. the ``improved`` models)."""
    lab = set(config.names(extended=True))
    others = [n for n, s in run.steps.items() if n not in lab and not n.startswith("ext.") and s.status != "not run"]
    return _experiments(run, lang, others, say("studies.others_heading", lang), "others", _other)


def _experiments(run: Run, lang: str, names: list[str], heading: str, anchor_id: str, body) -> list:
    """A level-2 section with one level-3 part per experiment; [] when there is none."""
    if not names:
        return []
    items = Items(lang)
    items.h(2, heading, anchor_id)
    for name in names:
        s = run.step(name)
        items.h(3, step_title(s, lang), anchor(name))
        body(items, run, s)
        if step_missing(items, run, s) and not s.history:
            continue
        if s.complete and s.metrics.get("diverged"):
            items.p(say("studies.diverged", lang, epoch=s.metrics.get("last_good_epoch")), "warn")
        for t in (settings_table(s, lang), model_table(s, lang)) if body is _other else ():
            items.table(t)
        items.table(results_table(s, lang))
        c = quantities.step_curve(s)
        if c and c.epochs > 1:
            items.p(overfit_sentence(c, lang))
        curves(items, s)
        step_code(items, s)
    return items.blocks


def _study(items: Items, run: Run, s) -> None:
    """What a study changes from the step it varies."""
    lang, base = items.lang, lab_plan.base(s.name)
    if base and s.config and run.step(base).config:
        bc = run.step(base).config
        diff = [f"`{k}` `{bc.get(k)}` → `{v}`" for k, v in s.config.items() if k not in IGNORED_KEYS and bc.get(k) != v]
        items.p(say("studies.settings_changed", lang, base=label(base, lang), changes="; ".join(diff)) if diff
                else say("studies.same_settings", lang, base=label(base, lang)))


def _other(items: Items, run: Run, s) -> None:
    """Before the tables of an experiment outside the lab: what its loss curves measure, if not the usual."""
    smoothing = (s.config or {}).get("label_smoothing")
    if smoothing:
        items.p(say("studies.label_smoothing", items.lang, smoothing=general(smoothing, items.lang)))
