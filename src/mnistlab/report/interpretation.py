"""The hand-in's analysis (5-10 sentences of prose, "nous") and the method notes, from the run's numbers.

Every claim is checked against every step the run holds, with its uncertainty: a difference of two
accuracies on one test set is a finding only beyond two binomial standard errors; overfitting is read on
the validation loss of every step with a history; a ranking is checked on the test set too.
"""

from __future__ import annotations

from mnistlab import judge
from mnistlab.i18n import class_names, say
from mnistlab.lab import plan
from mnistlab.report import quantities
from mnistlab.report.artifacts import Run
from mnistlab.report.fmt import epochs, integer, listing, num, seconds
from mnistlab.report.measures import diff_text, label
from mnistlab.runfolder import M_OVERRIDES


def overfitting(run: Run) -> tuple[list[tuple[str, quantities.Curve]], list[str]]:
    """(steps whose validation loss rose after its minimum, with their curve; steps read without a rise)."""
    rose, flat = [], []
    for name, step in run.steps.items():
        c = quantities.step_curve(step) if (step.complete or step.history) else None
        if c is None or c.best_val_loss_epoch is None or c.epochs < 2:
            continue
        (rose.append((name, c)) if c.overfits else flat.append(name))
    return rose, flat


def _done(run: Run, role: str):
    """The finished step that plays ``role`` in the analysis (the lab plan's ``[analysis]``), None if none."""
    name = plan.role(role)
    return run.done(name) if name else None


def analysis(run: Run, lang: str) -> list[str]:
    """The analysis as sentences (5 to 10 printed lines), first person plural, only what the run shows: the
    results with the judge's verdicts, what surprised us, the hardest class, the difficulties met, and one
    proposal aimed at what resisted."""
    out: list[str] = []
    surprises: list[str] = []
    e1, ann, cnn, act, conf, aug = (_done(run, r) for r in ("first", "dense", "conv", "study", "confusion",
                                                             "augmented"))
    if e1:
        m = e1.metrics
        out.append(say("interpretation.ex1_result", lang, params=integer(m["params"], lang),
                       accuracy=num(m["test_accuracy"], lang), epochs=epochs(m.get("epochs_run"), lang),
                       errors=integer(m["test_errors"], lang), n_test=integer(m["n_test"], lang)))
        c = quantities.step_curve(e1)
        if c is not None and c.first_gap is not None and c.first_gap < 0:
            surprises.append("interpretation.surprise_validation")
    if ann and cnn:
        a, c = ann.metrics, cnn.metrics
        d = quantities.accuracy_diff(c["test_accuracy"], a["test_accuracy"], min(a["n_test"], c["n_test"]),
                                     (cnn, ann))
        harder = bool(e1) and judge.accuracies(a["test_accuracy"], e1.metrics["test_accuracy"], a["n_test"],
                                               e1.metrics["n_test"]).verdict == "lower"
        out.append(say("interpretation.fashion_harder" if harder else "interpretation.on_fashion", lang)
                   + say("interpretation.cnn_vs_ann", lang, cnn=num(c["test_accuracy"], lang),
                         ann=num(a["test_accuracy"], lang), diff=d.verdict.brief(lang)))
        if not (d.measurable and d.d > 0):
            surprises.insert(0, "interpretation.surprise_cnn")
    if aug and cnn:
        a, c = aug.metrics, cnn.metrics
        d = quantities.accuracy_diff(a["test_accuracy"], c["test_accuracy"], min(a["n_test"], c["n_test"]),
                                     (aug, cnn))
        v = judge.augmentation(a["test_accuracy"], c["test_accuracy"], min(a["n_test"], c["n_test"]),
                               a["test_loss"], c["test_loss"], quantities.loss_se(cnn, on_test=True), d.right,
                               _losses(quantities.paired(aug, cnn)))
        end = {"helps": "interpretation.augmentation_helps", "hurts": "interpretation.augmentation_hurts",
               "same": "interpretation.augmentation_same"}[v.verdict]
        loss = quantities.loss_difference(aug, cnn, a["test_loss"], c["test_loss"])
        out.append(say("interpretation.augmentation", lang, diff=d.verdict.brief(lang),  # the evidence: the answers
                       loss_before=num(c["test_loss"], lang), loss_after=num(a["test_loss"], lang),
                       loss_verdict=loss.brief(lang)) + say(end, lang))
        if v.verdict != "helps":
            surprises.insert(1 if surprises[:1] == ["interpretation.surprise_cnn"] else 0,
                             "interpretation.surprise_augmentation")
    rose, _ = overfitting(run)
    if rose:  # a finding; its absence is said in the answers, not repeated here
        out.append(say("interpretation.overfitting", lang)
                   + " ".join(say("interpretation.overfitting_step", lang, step=label(n, lang),
                                  verdict=c.judged.text(lang)) for n, c in rose))
    if act:
        va = act.metrics["val_accuracy"]
        right = quantities.sub_right(act, va) or {}
        r = judge.ranking({_act(k): v for k, v in va.items()}, act.metrics.get("n_validation") or 0,
                          {_act(k): v for k, v in right.items()})
        if len(r.order) > 1:
            ta = act.metrics.get("test_accuracy") or {}
            swapped = set(ta) == set(va) and [_act(k) for k, _ in quantities.ranking(ta)] != [k for k, _ in r.order]
            first = r.order[0][0]
            if r.finding:  # a tie is said in the answers (question 4.1); here only a clear leader
                out.append(say("interpretation.activations_lead", lang, first=first,
                               verdict=r.first_vs_second.text(lang))
                           + (say("interpretation.ranking_changes", lang) if swapped else "") + ".")
            if not (r.finding and first == "relu"):
                surprises.append("interpretation.surprise_activations")
    if surprises:
        out.append(say(surprises[0], lang))
    out += difficulties(run, lang, cnn, ann, conf)
    return out[:9] + improvements(run, lang, conf)


def improvements(run: Run, lang: str, conf=None) -> list[str]:
    """One proposal aimed at what resisted most, with the run's measurement where it holds one (the improved
    models)."""
    measured = []
    for name in plan.load().others:
        base = plan.other_base(name)
        s, b = run.done(name), run.done(base) if base else None
        if s and b:
            d = quantities.accuracy_diff(s.metrics["test_accuracy"], b.metrics["test_accuracy"],
                                         min(s.metrics["n_test"], b.metrics["n_test"]), (s, b))
            measured.append(say("interpretation.improved", lang, step=label(name, lang),
                                accuracy=num(s.metrics["test_accuracy"], lang),
                                base=num(b.metrics["test_accuracy"], lang), diff=diff_text(d, lang)))
    h = quantities.hardest(conf.metrics) if conf else None
    target = (say("interpretation.improve_target_class", lang, name=_cls(h.leaders[0], lang))
              if h and h.leaders and len(h.leaders) == 1 else say("interpretation.improve_target_any", lang))
    out = [say("interpretation.improve", lang, target=target)]
    if measured:
        out.append(say("interpretation.tried", lang) + "; ".join(measured) + ".")
    return out


def difficulties(run: Run, lang: str, cnn, ann, conf) -> list[str]:
    """The difficulties met while doing the lab that the run can show."""
    out = []
    c_epoch, a_epoch = _per_epoch(cnn), _per_epoch(ann)
    if c_epoch and a_epoch:
        out.append(say("interpretation.time", lang, cnn=seconds(c_epoch, lang), ann=seconds(a_epoch, lang)))
    if conf:
        m = conf.metrics
        en, loc = class_names("fashion_mnist", "en"), class_names("fashion_mnist", lang)
        h = quantities.hardest(m)
        top = m["most_confused"][0] if m["most_confused"] else None
        pair = say("interpretation.top_confusion", lang, true=_cls(top["true"], lang),
                   predicted=_cls(top["predicted"], lang), count=integer(top["count"], lang)) if top else ""
        if h and h.leaders:
            names = listing([say("interpretation.class_recall", lang, name=loc[en.index(k)] if k in en else k,
                                 recall=num(m["per_class"][k]["recall"], lang, 3)) for k in h.leaders[:3]], lang)
            out.append(say("interpretation.hardest_classes" if len(h.leaders) > 1 else "interpretation.hardest_class",
                           lang, names=names, confusion=pair))
    return out  # the test set reused as validation is a method note of the report, not a difficulty met


def _per_epoch(step) -> float | None:
    """Seconds per epoch: the history's own timings, else the fit's wall time over its epochs (the notebook)."""
    if not step:
        return None
    c = quantities.curve(step.history) if step.history else None
    if c and c.seconds_per_epoch:
        return c.seconds_per_epoch
    fit, n = step.metrics.get("fit_seconds"), step.metrics.get("epochs_run")
    ok = isinstance(fit, (int, float)) and isinstance(n, int) and n > 0 and fit > 0
    return float(fit) / n if ok else None


def _losses(both: tuple[quantities.PerImage, quantities.PerImage] | None):
    """The two per-image test losses of a pair of steps (for the judge), or None."""
    return (both[0].losses, both[1].losses) if both else None


def _act(name: str) -> str:
    """An activation as the lab writes it (``LeakyReLU``), not its settings key."""
    return "LeakyReLU" if name == "leaky_relu" else name


def _cls(name: str, lang: str) -> str:
    en, loc = class_names("fashion_mnist", "en"), class_names("fashion_mnist", lang)
    return loc[en.index(name)] if name in en else name


def _capital(text: str) -> str:
    """``text`` starting with a capital letter (a sentence that opens with a step's name)."""
    return text[:1].upper() + text[1:]


def method_notes(run: Run, lang: str) -> list[str]:
    """Where the lab's protocol is weak, with the numbers of this run and the fix."""
    notes = []
    reuse = [n for n, s in run.steps.items() if s.complete and s.metrics.get("validation_is_test")]
    if reuse:
        notes.append(say("interpretation.note_test_reuse", lang,
                         steps=_capital(listing([label(n, lang) for n in reuse], lang))))
    split = [s for s in run.steps.values() if s.complete and s.exp and s.exp.validation == "split"
             and "n_validation" in s.metrics]
    if split:
        s = split[0]
        notes.append(say("interpretation.note_split", lang, percent=num(s.exp.validation_split * 100, lang, 0),
                         n_validation=integer(s.metrics["n_validation"], lang),
                         n_train=integer(s.metrics["n_train"], lang)))
    if _done(run, "study"):
        notes.append(say("interpretation.note_seeds", lang))
    aug = _done(run, "augmented")
    if aug:
        notes.append(say("interpretation.note_augmentation", lang, epochs=epochs(aug.metrics.get("epochs_run"), lang)))
    overrides = run.manifest.get(M_OVERRIDES)
    if isinstance(overrides, dict) and overrides:
        notes.append(say("interpretation.note_overrides", lang,
                         settings=", ".join(f"`{k}={v}`" for k, v in overrides.items())))
    return notes
