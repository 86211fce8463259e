"""The report's sections for the lab itself, in its order: exercise 1 (sections 1-9), exercise 2 (steps 1-7).

:func:`lab_items` walks the lab plan's sections and appends, for each, the blocks the plan names (small
functions registered in :data:`BLOCKS`), then the section's questions; :func:`handin_items` is the
"Travail demandé" checklist with the complete code. :func:`mnistlab.report.layout.build` appends them.
"""

from __future__ import annotations

from collections.abc import Callable

from mnistlab import lab
from mnistlab.errors import MnistlabError
from mnistlab.i18n import class_names, say
from mnistlab.lab import plan as lab_plan
from mnistlab.report import code, figures, quantities, questionnaire
from mnistlab.report.artifacts import Run, Step
from mnistlab.report.blocks import QA, Bullets, Code, Items, Table, slug
from mnistlab.report.fmt import integer, num, points, seconds, signed, signed_int
from mnistlab.report.measures import diff_text, label, tidy
from mnistlab.report.tables import (
    data_table,
    history_table,
    model_table,
    results_table,
    settings_table,
    status,
    step_title,
    titled,
)
from mnistlab.runfolder import M_VERSIONS


def anchor(name: str) -> str:
    """The id of a step's section (a slug of its name)."""
    return slug("step-" + name)


def step_link(name: str) -> str:
    """The anchor of the section that shows step ``name`` (exercise 2's steps have their lab section)."""
    if name != "ex1":
        ids = [sid for sid, sec in questionnaire.sections().items() if sec.step == name]
        if ids:
            return slug("sec-" + ids[-1])
    return anchor(name)


def section_heading(items: Items, key: str) -> None:
    items.h(3, questionnaire.sections()[key].title(items.lang), "sec-" + key)


def questions_of(items: Items, run: Run, section: str) -> None:
    lang = items.lang
    for q in questionnaire.in_section(section):
        items.blocks.append(QA(q.key, q.label, q.quote(lang), "" if lang == "fr" else q.fr,
                               questionnaire.answer(q, run, lang), q.todo))


def step_code(items: Items, step: Step) -> None:
    """The Keras code of a study, from :func:`mnistlab.report.code.generate` (the one place it is called).

    The lab's own steps are in the one complete listing (:func:`complete_code`); their sections link to it.
    """
    if step.name in lab_plan.step_names():
        items.p(say("exercises.code_in_complete", items.lang), "small")
        return
    exp = titled(step, items.lang)
    if exp is not None:
        if exp.precision == "auto" and isinstance(step.metrics, dict) and step.metrics.get("precision"):
            exp.precision = step.metrics["precision"]  # what auto chose on the machine that ran it
        items.blocks.append(Code(code.generate(exp, items.lang),
                                 say("exercises.code_caption", items.lang, step=step_title(step, items.lang))))


def step_missing(items: Items, run: Run, step: Step) -> bool:
    """Say what is missing about a step; True when it has no results at all."""
    lang = items.lang
    if step.complete:
        if step.problems:
            items.p(say("exercises.unreadable_left_out", lang, files="; ".join(step.problems)), "warn")
        return False
    why = say("measures.status_problem", lang, status=status(step.status, lang), problem=tidy(step.reason)) \
        if step.reason else status(step.status, lang)
    n = len((step.history or {}).get("loss", []))
    partial = say("exercises.finished_epochs", lang, epochs=n) if n else ""
    detail = ("; ".join(step.problems) + ". ") if step.problems else ""
    items.p(say("exercises.missing_step", lang, step=label(step.name, lang), why=why) + detail + partial, "missing")
    return True


def curves(items: Items, step: Step) -> None:
    lang, name = items.lang, step_title(step, items.lang)
    items.fig(figures.curve(step, "accuracy", lang, title=name, mark_best=True))
    items.fig(figures.curve(step, "loss", lang, title=name, mark_best=True))


# --- the lab's sections: one loop over the lab plan, each block a small function chosen by name ----------------

BLOCKS: dict[str, Callable[..., None]] = {}


def block(fn: Callable[..., None]) -> Callable[..., None]:
    """Register ``fn(items, run, step, value=None)`` as the report block named after it (``block_`` removed).

    A block returns True when the section has nothing more to show but its code (``missing``), else None.
    """
    BLOCKS[fn.__name__.removeprefix("block_")] = fn
    return fn


def lab_items(run: Run, lang: str) -> list:
    """The lab's sections in the plan's order: heading, the section's blocks, then its questions.

    A section shows the results of its step (``plan.toml``); after a block that returned True (``missing``
    found no results and no history at all) only the ``code`` block is kept.

    Raises:
        MnistlabError: the plan names a block that does not exist.
    """
    items = Items(lang)
    questions = questionnaire.sections()
    for sid, sec in lab_plan.load().sections.items():
        if not sec.step:
            continue  # the introduction, the set-up and the hand-in checklist are not the report's
        step = run.step(sec.step)
        if "." in sid:
            section_heading(items, sid)
        else:  # an exercise: its level-2 heading
            title = lab.section_titles().get(sid, sid) if lang == "fr" else sec.en
            items.h(2, title, anchor(sid) if sid == sec.step else sid)
        empty = False
        for b in sec.blocks:
            if b.name not in BLOCKS:
                raise MnistlabError(f"section {sid!r}: no report block named {b.name!r}", "plan.toml")
            if not empty or b.name == "code":
                empty = BLOCKS[b.name](items, run, step, **b.args) is True or empty
        if sid in questions:
            questions_of(items, run, sid)
    return items.blocks


@block
def block_missing(items: Items, run: Run, step: Step) -> bool:
    """What is missing about the step; True when it has neither results nor history (the blocks after it go)."""
    return step_missing(items, run, step) and not step.history


@block
def block_versions(items: Items, run: Run, step: Step) -> None:
    lang = items.lang
    v = run.manifest.get(M_VERSIONS) if isinstance(run.manifest.get(M_VERSIONS), dict) else {}
    items.table(Table([say("exercises.software", lang), "version"],
                      [[k, f"`{v[k]}`"] for k in ("python", "tensorflow", "keras", "backend", "numpy") if v.get(k)],
                      caption=say("exercises.versions_caption", lang), origin="manifest.json (versions)"))


@block
def block_data(items: Items, run: Run, step: Step, value: str = "mnist") -> None:
    items.table(data_table(run, value, items.lang))


@block
def block_samples(items: Items, run: Run, step: Step) -> None:
    lang = items.lang
    digits = (step.config or {}).get("dataset", "mnist") == "mnist"
    items.fig(figures.samples(run, step, lang),
              say("exercises.samples_labels" if digits else "exercises.samples_classes", lang),
              missing=say("exercises.samples_missing", lang))


@block
def block_model(items: Items, run: Run, step: Step) -> None:
    items.table(model_table(step, items.lang))


@block
def block_compile(items: Items, run: Run, step: Step) -> None:
    lang, exp = items.lang, step.exp
    if exp is not None:
        items.table(Table([say("columns.setting", lang), say("columns.value", lang)],
                          [["`optimizer`", f"`{exp.optimizer}`"], ["`learning_rate`", f"`{exp.learning_rate:g}`"],
                           ["`loss`", f"`{exp.loss}`"], ["`metrics`", "`['accuracy']`"]],
                          caption=say("exercises.compile_caption", lang), origin=f"{step.name}/config.json"))


@block
def block_settings(items: Items, run: Run, step: Step) -> None:
    items.table(settings_table(step, items.lang))


@block
def block_history(items: Items, run: Run, step: Step) -> None:
    items.table(history_table(step, items.lang))


@block
def block_results(items: Items, run: Run, step: Step) -> None:
    items.table(results_table(step, items.lang))


@block
def block_curves(items: Items, run: Run, step: Step) -> None:
    curves(items, step)


@block
def block_predictions(items: Items, run: Run, step: Step) -> None:
    items.fig(figures.predictions(run, step, items.lang),
              say("exercises.predictions_caption", items.lang))


@block
def block_code(items: Items, run: Run, step: Step) -> None:
    step_code(items, step)


@block
def block_activations(items: Items, run: Run, step: Step) -> None:
    activations(items, run, step)


@block
def block_confusion(items: Items, run: Run, step: Step) -> None:
    confusion(items, run, step)


@block
def block_augmented(items: Items, run: Run, step: Step) -> None:
    items.fig(figures.augmented(run, step, items.lang), say("figures.augmented_title", items.lang))


@block
def block_compare(items: Items, run: Run, step: Step, value: str = "") -> None:
    """Step ``value`` against this step, side by side: test accuracy (with its uncertainty), loss, errors,
    parameters, training time, and the seeds' mean ± SD where both were repeated."""
    got = pair(run, step.name, value)
    if got is None:
        return
    lang, (n, o, d) = items.lang, got
    old, new = run.step(value), step
    rows = [[say("columns.test_accuracy", lang), num(o["test_accuracy"], lang), num(n["test_accuracy"], lang),
             diff_text(d, lang)],
            [say("columns.test_loss", lang), num(o["test_loss"], lang), num(n["test_loss"], lang),
             signed(n["test_loss"] - o["test_loss"], lang)]]
    if "test_errors" in o and "test_errors" in n:
        rows.append([say("exercises.test_errors", lang), integer(o["test_errors"], lang),
                     integer(n["test_errors"], lang), signed_int(n["test_errors"] - o["test_errors"], lang)])
    if o.get("params") != n.get("params") and "params" in o and "params" in n:
        rows.append([say("columns.parameters", lang), integer(o["params"], lang), integer(n["params"], lang),
                     signed_int(n["params"] - o["params"], lang)])
    rows.append([say("columns.training", lang), seconds(o.get("fit_seconds"), lang),
                 seconds(n.get("fit_seconds"), lang), ""])
    so = quantities.seed_spread(old, lambda mm: mm["test_accuracy"])
    sn = quantities.seed_spread(new, lambda mm: mm["test_accuracy"])
    if so and sn:
        rows.append([say("exercises.seeds_accuracy", lang, old_seeds=so.n, new_seeds=sn.n),
                     f"{num(so.mean, lang)} ± {num(so.std, lang)}", f"{num(sn.mean, lang)} ± {num(sn.std, lang)}",
                     quantities.welch(sn, so).diff.text(lang)])
    a, b = label(value, lang), label(step.name, lang)
    items.table(Table([say("columns.measure", lang), a[:1].upper() + a[1:], b[:1].upper() + b[1:],
                       say("exercises.change", lang)], rows, numeric=(1, 2),
                      caption=say("exercises.compare_caption", lang, new=b[:1].upper() + b[1:], old=a),
                      origin=f"{value}/metrics.json, {step.name}/metrics.json"))


def pair(run: Run, new: str, old: str) -> tuple[dict, dict, quantities.Diff] | None:
    """The metrics of two finished steps and the difference of their test accuracies; None if one is missing."""
    a, b = run.done(new), run.done(old)
    if not (a and b):
        return None
    m, n = a.metrics, b.metrics
    return m, n, quantities.accuracy_diff(m["test_accuracy"], n["test_accuracy"], min(m["n_test"], n["n_test"]),
                                          (a, b))


def activations(items: Items, run: Run, act: Step) -> None:
    lang = items.lang
    m = act.metrics
    if m:
        va, ta = m["val_accuracy"], m.get("test_accuracy") or {}
        rows = [[a, num(va[a], lang), num(ta.get(a), lang), integer((m.get("params") or {}).get(a), lang),
                 seconds((m.get("fit_seconds") or {}).get(a), lang)] for a in va]
        items.table(Table(["activation", say("exercises.val_accuracy_last", lang), say("columns.test_accuracy", lang),
                           say("columns.parameters", lang), say("columns.training", lang)], rows, numeric=(1, 2, 3, 4),
                          caption=say("exercises.one_run_per_activation", lang),
                          origin=f"{act.name}/metrics.json"))
        items.fig(figures.bars(f"{act.name}_bars", va, None, say("figures.activations_title", lang),
                               say("figures.val_accuracy", lang), f"{act.name}/metrics.json", lang))
    series = {a: s.history["val_accuracy"] for a, s in act.subs.items() if s.history and s.history.get("val_accuracy")}
    if series:
        items.fig(figures.overlay(f"{act.name}_val_curves", series,
                                  say("figures.val_acc_per_epoch", lang, step_title(act, lang)),
                                  say("figures.accuracy", lang), lang, f"{act.name}/*/history.csv"))
    if m:
        seeds_tables(items, run, act)


def seeds_tables(items: Items, run: Run, act: Step) -> None:
    lang = items.lang
    spreads = {a: quantities.seed_spread(act, lambda mm, a=a: mm["val_accuracy"][a])
               for a in act.metrics["val_accuracy"]}
    if not all(spreads.values()):
        if act.seeds:
            items.p(say("exercises.seeds_missing", lang), "missing")
        return
    first = next(iter(spreads.values()))
    items.h(4, say("exercises.seeds_heading", lang, seeds=first.n))
    rows = [[a, f"{num(sp.mean, lang)} ± {num(sp.std, lang)}", ", ".join(num(v, lang) for v in sp.values.values())]
            for a, sp in spreads.items()]
    items.table(Table(["activation", say("exercises.mean_sd", lang),
                       say("exercises.seed_values", lang, seeds=", ".join(map(str, first.values)))],
                      rows, numeric=(1,), caption=say("exercises.final_val_accuracy", lang),
                      origin=f"{act.name}/metrics.json, {act.name}/seeds/*/metrics.json"))
    items.fig(figures.bars(f"{act.name}_bars_seeds", {a: sp.mean for a, sp in spreads.items()},
                           {a: sp.std for a, sp in spreads.items()},
                           say("figures.activations_seeds_title", lang, first.n), say("figures.val_accuracy", lang),
                           f"{act.name}/seeds/*/metrics.json", lang))
    names, pairs = list(spreads), []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            w = quantities.welch(spreads[a], spreads[b])  # the judge: beyond 2 SE and Welch's p under ALPHA
            pv, sig = w.p, w.finding
            pairs.append([f"{a} − {b}", points(spreads[a].mean - spreads[b].mean, lang), num(pv, lang, 3),
                          say("exercises.yes" if sig else "exercises.no", lang)])
    items.table(Table([say("exercises.pair", lang), say("exercises.difference_of_means", lang), "p (Welch)",
                       say("columns.beyond_noise", lang)], pairs, numeric=(1, 2),
                      caption=say("exercises.welch_caption", lang)))


def confusion(items: Items, run: Run, conf: Step) -> None:
    lang = items.lang
    items.fig(figures.confusion(run, conf, lang))
    m = conf.metrics
    if not m:
        return
    en, loc = class_names("fashion_mnist", "en"), class_names("fashion_mnist", lang)

    def name(n):
        return loc[en.index(n)] if n in en else n

    items.table(Table([say("exercises.actual_class", lang), say("columns.predicted", lang),
                       say("exercises.images", lang)],
                      [[name(x["true"]), name(x["predicted"]), integer(x["count"], lang)] for x in m["most_confused"]],
                      numeric=(2,), caption=say("exercises.confusions_caption", lang),
                      origin=f"{conf.name}/metrics.json (most_confused)"))
    items.table(Table([say("exercises.class", lang), say("exercises.precision", lang), say("exercises.recall", lang),
                       "F1", say("exercises.support", lang)],
                      [[name(k), num(v["precision"], lang, 3), num(v["recall"], lang, 3), num(v["f1-score"], lang, 3),
                        integer(v["support"], lang)] for k, v in m["per_class"].items()]
                      + [[say("exercises.macro_average", lang), "", "", num(m.get("macro_f1"), lang, 3), ""]],
                      numeric=(1, 2, 3, 4), caption=say("exercises.per_class_caption", lang),
                      origin=f"{conf.name}/metrics.json (per_class)"))
    items.h(4, say("exercises.mistakes_heading", lang), "mistakes")
    items.fig(figures.mistakes(run, conf, lang), say("figures.mistakes_title", lang, "CNN"))
    worst = m.get("most_confident_mistakes") or []
    if worst:
        items.table(Table([say("exercises.test_image", lang), say("exercises.true_class", lang),
                           say("columns.predicted", lang), say("exercises.probability", lang)],
                          [[str(x["index"]), name(x["true"]), name(x["predicted"]), num(x["probability"], lang)]
                           for x in worst], numeric=(0, 3),
                          caption=say("exercises.mistakes_caption", lang),
                          origin=f"{conf.name}/metrics.json (most_confident_mistakes)"))
        items.p(say("exercises.overconfident", lang), "small")


def handin_items(run: Run, lang: str) -> list:
    """The lab's "Travail demandé" checklist, each item linking where the report answers it."""
    items = Items(lang)
    items.h(2, say("exercises.handin_heading", lang), "handin")
    m = (run.done(lab_plan.step_names()[0]) or Step("", run.folder)).metrics  # the final accuracy: the first step's
    items.blocks.append(Bullets([
        say("exercises.handin_code", lang),
        say("exercises.handin_curves", lang),
        say("exercises.handin_accuracy", lang, accuracy=num(m["test_accuracy"], lang), loss=num(m["test_loss"], lang))
        if m else say("exercises.handin_accuracy_missing", lang),
        say("exercises.handin_analysis", lang),
    ]))
    complete_code(items, run)
    return items.blocks


def complete_code(items: Items, run: Run) -> None:
    """The lab's complete code, one program in the lab's order, with the settings of the steps the run holds."""
    steps = [run.step(n) for n in lab_plan.step_names()]
    configs = {}
    for s in steps:
        exp = s.exp
        if exp is None:
            continue
        cfg = dict(s.config)
        if cfg.get("precision") == "auto" and isinstance(s.metrics, dict) and s.metrics.get("precision"):
            cfg["precision"] = s.metrics["precision"]  # what auto chose on the machine that ran it
        configs[s.name] = cfg
    if not configs:
        return
    fast = any(s.exp is not None and not s.exp.faithful for s in steps)
    heading = "exercises.complete_code_heading_fast" if fast else "exercises.complete_code_heading"
    items.h(3, say(heading, items.lang), "code-complete")
    items.blocks.append(Code(code.complete(configs, items.lang), ""))  # the heading above names it
