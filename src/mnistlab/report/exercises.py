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
from mnistlab.report.fmt import integer, num, points, seconds, signed, signed_int, tr
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
        items.p(tr(items.lang, "Le code de cette étape est dans le [code complet du TP](#code-complete).",
                   "This step's code is in [the lab's complete code](#code-complete)."), "small")
        return
    exp = titled(step, items.lang)
    if exp is not None:
        if exp.precision == "auto" and isinstance(step.metrics, dict) and step.metrics.get("precision"):
            exp.precision = step.metrics["precision"]  # what auto chose on the machine that ran it
        items.blocks.append(Code(code.generate(exp, items.lang),
                                 tr(items.lang, "Code : ", "Code: ") + step_title(step, items.lang)))


def step_missing(items: Items, run: Run, step: Step) -> bool:
    """Say what is missing about a step; True when it has no results at all."""
    lang = items.lang
    if step.complete:
        if step.problems:
            items.p(tr(lang, "Fichiers illisibles, laissés de côté : ", "Unreadable files, left out: ")
                    + "; ".join(step.problems), "warn")
        return False
    why = status(step.status, lang) + (f" : {tidy(step.reason)}" if step.reason else "")
    n = len((step.history or {}).get("loss", []))
    partial = tr(lang, f" Les époques terminées ({n}) sont montrées ci-dessous.",
                 f" The finished epochs ({n}) are shown below.") if n else ""
    detail = ("; ".join(step.problems) + ". ") if step.problems else ""
    items.p(tr(lang, f"**Manquant** : {label(step.name, lang)} n'a pas de résultats (statut : {why}). ",
               f"**Missing**: {label(step.name, lang)} has no results (status: {why}). ") + detail + partial, "missing")
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
    v = run.manifest.get("versions") if isinstance(run.manifest.get("versions"), dict) else {}
    items.table(Table([tr(lang, "logiciel", "software"), "version"],
                      [[k, f"`{v[k]}`"] for k in ("python", "tensorflow", "keras", "backend", "numpy") if v.get(k)],
                      caption=tr(lang, "Versions", "Versions"), origin="manifest.json (versions)"))


@block
def block_data(items: Items, run: Run, step: Step, value: str = "mnist") -> None:
    items.table(data_table(run, value, items.lang))


@block
def block_samples(items: Items, run: Run, step: Step) -> None:
    lang = items.lang
    digits = (step.config or {}).get("dataset", "mnist") == "mnist"
    items.fig(figures.samples(run, step, lang),
              tr(lang, "Premières images d'entraînement et leur " + ("label" if digits else "classe"),
                 "First training images and their " + ("label" if digits else "class")),
              missing=tr(lang, "Figure des échantillons absente.", "Samples figure missing."))


@block
def block_model(items: Items, run: Run, step: Step) -> None:
    items.table(model_table(step, items.lang))


@block
def block_compile(items: Items, run: Run, step: Step) -> None:
    lang, exp = items.lang, step.exp
    if exp is not None:
        items.table(Table([tr(lang, "réglage", "setting"), tr(lang, "valeur", "value")],
                          [["`optimizer`", f"`{exp.optimizer}`"], ["`learning_rate`", f"`{exp.learning_rate:g}`"],
                           ["`loss`", f"`{exp.loss}`"], ["`metrics`", "`['accuracy']`"]],
                          caption=tr(lang, "Compilation", "Compilation"), origin=f"{step.name}/config.json"))


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
              tr(items.lang, "Premières images de test : classe vraie et prédite",
                 "First test images: true and predicted class"))


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
    rows = [[tr(lang, "précision test", "test accuracy"), num(o["test_accuracy"], lang), num(n["test_accuracy"], lang),
             diff_text(d, lang)],
            [tr(lang, "perte test", "test loss"), num(o["test_loss"], lang), num(n["test_loss"], lang),
             signed(n["test_loss"] - o["test_loss"], lang)]]
    if "test_errors" in o and "test_errors" in n:
        rows.append([tr(lang, "erreurs test", "test errors"), integer(o["test_errors"], lang),
                     integer(n["test_errors"], lang), signed_int(n["test_errors"] - o["test_errors"], lang)])
    if o.get("params") != n.get("params") and "params" in o and "params" in n:
        rows.append([tr(lang, "paramètres", "parameters"), integer(o["params"], lang), integer(n["params"], lang),
                     signed_int(n["params"] - o["params"], lang)])
    rows.append([tr(lang, "entraînement", "training"), seconds(o.get("fit_seconds"), lang),
                 seconds(n.get("fit_seconds"), lang), ""])
    so = quantities.seed_spread(old, lambda mm: mm["test_accuracy"])
    sn = quantities.seed_spread(new, lambda mm: mm["test_accuracy"])
    if so and sn:
        pv = quantities.welch_p(sn, so)
        rows.append([tr(lang, f"précision test, moyenne ± écart-type ({so.n} / {sn.n} graines)",
                        f"test accuracy, mean ± SD ({so.n} / {sn.n} seeds)"),
                     f"{num(so.mean, lang)} ± {num(so.std, lang)}", f"{num(sn.mean, lang)} ± {num(sn.std, lang)}",
                     points(sn.mean - so.mean, lang) + f" (p = {num(pv, lang, 3)})"])
    a, b = label(value, lang), label(step.name, lang)
    items.table(Table([tr(lang, "mesure", "measure"), a[:1].upper() + a[1:], b[:1].upper() + b[1:],
                       tr(lang, "écart", "change")], rows, numeric=(1, 2),
                      caption=tr(lang, f"{b[:1].upper() + b[1:]} contre {a}", f"{b[:1].upper() + b[1:]} against {a}"),
                      origin=f"{value}/metrics.json, {step.name}/metrics.json"))


def pair(run: Run, new: str, old: str) -> tuple[dict, dict, quantities.Diff] | None:
    """The metrics of two finished steps and the difference of their test accuracies; None if one is missing."""
    a, b = run.done(new), run.done(old)
    if not (a and b):
        return None
    m, n = a.metrics, b.metrics
    return m, n, quantities.accuracy_diff(m["test_accuracy"], n["test_accuracy"], min(m["n_test"], n["n_test"]))


def activations(items: Items, run: Run, act: Step) -> None:
    lang = items.lang
    m = act.metrics
    if m:
        va, ta = m["val_accuracy"], m.get("test_accuracy") or {}
        rows = [[a, num(va[a], lang), num(ta.get(a), lang), integer((m.get("params") or {}).get(a), lang),
                 seconds((m.get("fit_seconds") or {}).get(a), lang)] for a in va]
        items.table(Table(["activation", tr(lang, "précision validation (dernière époque)",
                                            "validation accuracy (last epoch)"),
                           tr(lang, "précision test", "test accuracy"), tr(lang, "paramètres", "parameters"),
                           tr(lang, "entraînement", "training")], rows, numeric=(1, 2, 3, 4),
                          caption=tr(lang, "Une exécution par activation", "One run per activation"),
                          origin="ex2.activations/metrics.json"))
        items.fig(figures.bars("ex2.activations_bars", va, None, say("figures.activations_title", lang),
                               say("figures.val_accuracy", lang), "ex2.activations/metrics.json", lang))
    series = {a: s.history["val_accuracy"] for a, s in act.subs.items() if s.history and s.history.get("val_accuracy")}
    if series:
        items.fig(figures.overlay("ex2.activations_val_curves", series,
                                  say("figures.val_acc_per_epoch", lang, step_title(act, lang)),
                                  say("figures.accuracy", lang), lang, "ex2.activations/*/history.csv"))
    if m:
        seeds_tables(items, run, act)


def seeds_tables(items: Items, run: Run, act: Step) -> None:
    lang = items.lang
    spreads = {a: quantities.seed_spread(act, lambda mm, a=a: mm["val_accuracy"][a])
               for a in act.metrics["val_accuracy"]}
    if not all(spreads.values()):
        if act.seeds:
            items.p(tr(lang, "Les graines supplémentaires de cette étude manquent ou n'ont pas fini.",
                       "The extra seeds of this study are missing or did not finish."), "missing")
        return
    first = next(iter(spreads.values()))
    items.h(4, tr(lang, f"Sur {first.n} graines", f"Over {first.n} seeds"))
    rows = [[a, f"{num(sp.mean, lang)} ± {num(sp.std, lang)}", ", ".join(num(v, lang) for v in sp.values.values())]
            for a, sp in spreads.items()]
    items.table(Table(["activation", tr(lang, "moyenne ± écart-type", "mean ± SD"),
                       tr(lang, "valeurs (graines ", "values (seeds ") + ", ".join(map(str, first.values)) + ")"],
                      rows, numeric=(1,), caption=tr(lang, "Précision de validation finale",
                                                     "Final validation accuracy"),
                      origin="ex2.activations/metrics.json, ex2.activations/seeds/*/metrics.json"))
    items.fig(figures.bars("ex2.activations_bars_seeds", {a: sp.mean for a, sp in spreads.items()},
                           {a: sp.std for a, sp in spreads.items()}, say("figures.activations_seeds_title", lang, first.n), say("figures.val_accuracy", lang), "ex2.activations/seeds/*/metrics.json", lang))
    names, pairs = list(spreads), []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pv = quantities.welch_p(spreads[a], spreads[b])
            sig = pv is not None and pv < 0.05
            pairs.append([f"{a} − {b}", points(spreads[a].mean - spreads[b].mean, lang), num(pv, lang, 3),
                          tr(lang, "**oui**" if sig else "non", "**yes**" if sig else "no")])
    items.table(Table([tr(lang, "paire", "pair"), tr(lang, "écart des moyennes", "difference of means"), "p (Welch)",
                       tr(lang, "au-delà du bruit ?", "beyond the noise?")], pairs, numeric=(1, 2),
                      caption=tr(lang, "Quels écarts dépassent le bruit des graines (test de Welch bilatéral, "
                                       "p < 0,05)",
                                 "Which gaps exceed the seed noise (two-sided Welch's test, p < 0.05)")))


def confusion(items: Items, run: Run, conf: Step) -> None:
    lang = items.lang
    items.fig(figures.confusion(run, conf, lang))
    m = conf.metrics
    if not m:
        return
    en, loc = class_names("fashion_mnist", "en"), class_names("fashion_mnist", lang)

    def name(n):
        return loc[en.index(n)] if n in en else n

    items.table(Table([tr(lang, "classe réelle", "true class"), tr(lang, "prédite", "predicted"),
                       tr(lang, "images", "images")],
                      [[name(x["true"]), name(x["predicted"]), integer(x["count"], lang)] for x in m["most_confused"]],
                      numeric=(2,), caption=tr(lang, "Confusions les plus fréquentes", "Most frequent confusions"),
                      origin="ex2.confusion/metrics.json (most_confused)"))
    items.table(Table([tr(lang, "classe", "class"), tr(lang, "précision", "precision"), tr(lang, "rappel", "recall"),
                       "F1", tr(lang, "images", "support")],
                      [[name(k), num(v["precision"], lang, 3), num(v["recall"], lang, 3), num(v["f1-score"], lang, 3),
                        integer(v["support"], lang)] for k, v in m["per_class"].items()]
                      + [[tr(lang, "**moyenne (macro)**", "**macro average**"), "", "", num(m.get("macro_f1"), lang, 3),
                          ""]], numeric=(1, 2, 3, 4), caption=tr(lang, "Rapport par classe", "Per-class report"),
                      origin="ex2.confusion/metrics.json (per_class)"))
    items.h(4, tr(lang, "Les erreurs les plus confiantes du CNN", "The CNN's most confident mistakes"), "mistakes")
    items.fig(figures.mistakes(run, conf, lang), say("figures.mistakes_title", lang, "CNN"))
    worst = m.get("most_confident_mistakes") or []
    if worst:
        items.table(Table([tr(lang, "image de test n°", "test image #"), tr(lang, "vraie classe", "true class"),
                           tr(lang, "prédite", "predicted"), tr(lang, "probabilité", "probability")],
                          [[str(x["index"]), name(x["true"]), name(x["predicted"]), num(x["probability"], lang)]
                           for x in worst], numeric=(0, 3),
                          caption=tr(lang, "Erreurs les plus confiantes", "Most confident mistakes"),
                          origin="ex2.confusion/metrics.json (most_confident_mistakes)"))
        items.p(tr(lang, "Une erreur faite avec une probabilité proche de 1 vient d'une image ambiguë, d'un label "
                         "discutable, ou d'un modèle trop sûr de lui (surconfiant) : la probabilité du softmax n'est "
                         "pas une mesure fiable de la certitude.",
                   "A mistake made with a probability close to 1 comes from an ambiguous image, a debatable label, "
                   "or an overconfident model: the softmax probability is not a reliable measure of certainty."),
                "small")


def handin_items(run: Run, lang: str) -> list:
    """The lab's "Travail demandé" checklist, each item linking where the report answers it."""
    items = Items(lang)
    items.h(2, tr(lang, "Travail demandé", "Hand-in checklist"), "handin")
    m = (run.done("ex1") or Step("", run.folder)).metrics
    items.blocks.append(Bullets([
        tr(lang, "Le code complet du TP : [ci-dessous](#code-complete), un seul programme dans l'ordre du TP.",
           "The complete code: [below](#code-complete), one program in the lab's order."),
        tr(lang, "Les courbes de précision et de perte : [section 8](#sec-ex1-8), et pour chaque modèle de "
                 "l'exercice 2.", "The accuracy and loss curves: [section 8](#sec-ex1-8), and for each model of "
                                  "exercise 2."),
        tr(lang, f"La précision finale : **{num(m['test_accuracy'], lang)}** sur le test (perte "
                 f"{num(m['test_loss'], lang)}), [section 7](#sec-ex1-7).",
           f"The final accuracy: **{num(m['test_accuracy'], lang)}** on the test set (loss "
           f"{num(m['test_loss'], lang)}), [section 7](#sec-ex1-7).") if m else
        tr(lang, "La précision finale : manquante (l'exercice 1 n'a pas fini).",
           "The final accuracy: missing (exercise 1 did not finish)."),
        tr(lang, "L'analyse personnelle : [Analyse](#analysis).", "The personal analysis: [Analysis](#analysis)."),
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
    items.h(3, tr(items.lang, "Code complet du TP", "The lab's complete code"), "code-complete")
    items.blocks.append(Code(code.complete(configs, fast, items.lang), ""))  # the heading above names it
