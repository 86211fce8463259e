"""Measurements of exercise 1, sections 6-9: training, evaluation, curves, predictions.

Registered by name (:func:`~mnistlab.report.measures.measure`) and chosen from ``questions.toml``; their words
are in ``words/measures_training.toml``.
"""

from __future__ import annotations

from mnistlab import judge
from mnistlab.i18n import say
from mnistlab.report import quantities
from mnistlab.report.artifacts import Run
from mnistlab.report.fmt import integer, num, pct, points, seconds
from mnistlab.report.measures import (
    Answer,
    acc,
    compare,
    curve_sentence,
    label,
    lower,
    maybe,
    measure,
    need,
    need_history,
    overfit_sentence,
    study_missing,
    where,
)


@measure
def todo_observe(run: Run, lang: str, step: str) -> Answer:
    need_history(run, step)
    c = quantities.step_curve(run.step(step))
    return Answer([curve_sentence(c, lang)], [f"{step}/history.csv"])


@measure
def q_epoch(run: Run, lang: str, step: str) -> Answer:
    p = []
    s, m = run.step(step), maybe(run, step)
    c = quantities.step_curve(s)
    exp = s.exp  # config.json checked as `mnistlab run` checks it; None (and a problem noted) if it is not
    if exp is not None and m:
        steps = quantities.steps_per_epoch(m["n_train"], exp.batch_size)
        extra = ""
        if c and c.seconds_per_epoch:
            extra = say("measures_training.seconds_per_epoch", lang, seconds=seconds(c.seconds_per_epoch, lang))
        p.append(say("measures_training.batches_per_epoch", lang, images=integer(m["n_train"], lang),
                     batch_size=exp.batch_size, batches=integer(steps, lang), timing=extra))
        return Answer(p, [where(f"{step}/metrics.json", "n_train"), where(f"{step}/config.json", "batch_size"),
                          f"{step}/history.csv (seconds)"])
    return Answer(p)


@measure
def q_why_validation(run: Run, lang: str, step: str) -> Answer:
    p = []
    m = maybe(run, step)
    if m and m.get("validation_is_test"):
        p.append(say("measures_training.validation_is_test", lang))
        return Answer(p, [where(f"{step}/metrics.json", "validation_is_test")])
    return Answer(p)


@measure
def q_fifty(run: Run, lang: str, study: str, base: str) -> Answer:
    s = run.done(study)
    c = quantities.step_curve(s) if s else None
    if not s or not c:
        return Answer([study_missing(lang, study)])
    m = s.metrics
    p = [say("measures_training.long_training", lang, study=label(study, lang), epochs=c.epochs,
             seconds=seconds(s.seconds, lang), first_accuracy=acc(c.first_acc, lang),
             last_accuracy=acc(c.last_acc, lang), last_val_accuracy=acc(c.last_val_acc, lang),
             best_val_accuracy=acc(m.get("best_val_accuracy"), lang), best_epoch=m.get("best_val_accuracy_epoch"),
             last_gap=points(c.last_gap, lang)),
         overfit_sentence(c, lang)]
    sources = [f"{study}/history.csv", where(f"{study}/metrics.json", "best_val_accuracy", "best_val_accuracy_epoch")]
    if run.done(base):
        text, more = compare(run, lang, study, base)
        p.append(say("measures_training.test_accuracy_comparison", lang, comparison=lower(text)))
        sources += more
    return Answer(p, sources)


@measure
def q_final_accuracy(run: Run, lang: str, step: str) -> Answer:
    m = need(run, step)
    return Answer([say("measures_training.final_accuracy", lang, accuracy=acc(m["test_accuracy"], lang),
                       percent=pct(m["test_accuracy"], lang), loss=num(m["test_loss"], lang),
                       errors=integer(m["test_errors"], lang), n_test=integer(m["n_test"], lang))],
                  [where(f"{step}/metrics.json", "test_accuracy", "test_loss", "test_errors", "n_test")])


@measure
def q_test_below_train(run: Run, lang: str, step: str) -> Answer:
    p = []
    m = maybe(run, step)
    if m and m.get("final_accuracy") is not None:
        gap = m["final_accuracy"] - m["test_accuracy"]
        p.append(say("measures_training.train_vs_test", lang, train_accuracy=acc(m["final_accuracy"], lang),
                     test_accuracy=acc(m["test_accuracy"], lang), gap=points(gap, lang)))
        return Answer(p, [where(f"{step}/metrics.json", "final_accuracy", "test_accuracy")])
    return Answer(p)


@measure
def q_remedies(run: Run, lang: str, step: str, short: bool = False) -> Answer:
    c = quantities.step_curve(run.step(step))
    if not (c and c.best_val_loss_epoch):
        return Answer([])
    if c.overfits:
        stop = say("measures_training.early_stopping_epoch", lang, epoch=c.best_val_loss_epoch)
    elif short:
        stop = say("measures_training.no_overfit_train_longer", lang, epochs=c.epochs)
    else:  # the sentence before already says that no overfitting was measured
        stop = say("measures_training.train_longer", lang)
    return Answer([stop] if short else [overfit_sentence(c, lang) + " " + stop], [f"{step}/history.csv"])


@measure
def q_two_curves(run: Run, lang: str, step: str) -> Answer:
    need_history(run, step)
    c = quantities.step_curve(run.step(step))
    first = curve_sentence(c, lang)  # the same reading as question 6.a, said of the figure
    p = [say("measures_training.on_the_figure", lang) + first[:1].lower() + first[1:]]
    if c.first_gap is not None and c.first_gap < 0:
        p.append(say("measures_training.validation_above_training", lang))
    p.append(overfit_sentence(c, lang))
    return Answer(p, [f"{step}/history.csv"])


@measure
def q_detect_overfit(run: Run, lang: str, step: str) -> Answer:
    need_history(run, step)
    c = quantities.step_curve(run.step(step))
    o = c.judged
    if c.overfits:
        head = say("measures_training.overfits_here", lang, judged=o.text(lang))
    else:
        head = say("measures_training.no_overfit_here", lang, epochs=c.epochs)
    return Answer([head + say("measures_training.accuracy_gap", lang, first_gap=points(c.first_gap, lang),
                              last_gap=points(c.last_gap, lang), epochs=c.epochs)], [f"{step}/history.csv"])


@measure
def q_diverge(run: Run, lang: str, step: str) -> Answer:
    need_history(run, step)
    c = quantities.step_curve(run.step(step))
    if c.first_gap is None or not c.best_val_loss_epoch:
        return Answer([])
    o = c.judged
    if c.overfits:
        text = say("measures_training.curves_part", lang, judged=o.text(lang),
                   last_gap=points(c.last_gap, lang))
    else:
        text = say("measures_training.curves_do_not_part", lang, epochs=o.epochs,
                   evidence=o.evidence(lang),
                   first_gap=points(c.first_gap, lang), last_gap=points(c.last_gap, lang))
    return Answer([text], [f"{step}/history.csv"])


@measure
def q_errors_where(run: Run, lang: str, step: str) -> Answer:
    m = need(run, step)
    p = [say("measures_training.test_errors", lang, errors=integer(m["test_errors"], lang),
             n_test=integer(m["n_test"], lang), percent=pct(m["test_errors"] / max(1, m["n_test"]), lang))]
    sources = [where(f"{step}/metrics.json", "test_errors", "n_test")]
    e = quantities.errors(run, run.step(step), lang)
    if e:
        shown = min(run.step(step).exp.predictions_shown, e.n)
        if e.first_shown:
            errors = [say("measures_training.figure_error", lang, image=i, true=t, predicted=pr)
                      for i, t, pr in e.first_shown]
            p.append(say("measures_training.figure_errors", lang, shown=shown, errors="; ".join(errors)))
        else:
            p.append(say("measures_training.figure_all_right", lang, shown=shown))
        if e.pairs:
            pairs = ", ".join(f"{t} → {pr} ({integer(n, lang)})" for t, pr, n in e.pairs)
            p.append(say("measures_training.frequent_confusions_tied" if len(e.pairs) > 3
                         else "measures_training.frequent_confusions", lang, pairs=pairs))
        sources.append(f"{step}/test_probabilities.npy, {step}/arrays/test_labels.npy")
    return Answer(p, sources)


@measure
def q_explain_error(run: Run, lang: str, step: str) -> Answer:
    e = quantities.errors(run, run.step(step), lang)
    if not (e and e.mean_conf_wrong is not None):
        return Answer([])
    return Answer([say("measures_training.overconfident_errors", lang, wrong_confidence=num(e.mean_conf_wrong, lang),
                       right_confidence=num(e.mean_conf_right, lang), confident_wrong=e.confident_wrong)],
                  [f"{step}/test_probabilities.npy, {step}/arrays/test_labels.npy"])


@measure
def q_improve_cnn(run: Run, lang: str, step: str) -> Answer:
    m = need(run, step)
    se = judge.binomial_se(m["test_accuracy"], m["n_test"])
    return Answer([say("measures_training.left_to_gain", lang, errors=integer(m["test_errors"], lang),
                       n_test=integer(m["n_test"], lang), accuracy=acc(m["test_accuracy"], lang),
                       standard_error=points(se, lang, sign=False))],
                  [where(f"{step}/metrics.json", "test_errors", "n_test", "test_accuracy")])
