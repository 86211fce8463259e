"""Measurements of exercise 1, sections 6-9: training, evaluation, curves, predictions.

Registered by name (:func:`~mnistlab.report.measures.measure`) and chosen from ``questions.toml``.
"""

from __future__ import annotations

from mnistlab.report import quantities
from mnistlab.report.artifacts import Run
from mnistlab.report.fmt import integer, num, pct, points, seconds, tr
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
def todo_observe(run: Run, lang: str, step: str = "ex1") -> Answer:
    need_history(run, step)
    c = quantities.step_curve(run.step(step))
    return Answer([curve_sentence(c, lang)], [f"{step}/history.csv"])


@measure
def q_epoch(run: Run, lang: str) -> Answer:
    p = []
    s, m = run.step("ex1"), maybe(run, "ex1")
    c = quantities.step_curve(s)
    exp = s.exp  # config.json checked as `mnistlab run` checks it; None (and a problem noted) if it is not
    if exp is not None and m:
        steps = quantities.steps_per_epoch(m["n_train"], exp.batch_size)
        extra = ""
        if c and c.seconds_per_epoch:
            extra = tr(lang, f", environ {seconds(c.seconds_per_epoch, lang)} par époque sur cette machine",
                       f", about {seconds(c.seconds_per_epoch, lang)} per epoch on this machine")
        p.append(tr(lang, f"Ici : {integer(m['n_train'], lang)} images / lots de {exp.batch_size} = "
                          f"{integer(steps, lang)} lots par époque{extra}.",
                    f"Here: {integer(m['n_train'], lang)} images / batches of {exp.batch_size} = "
                    f"{integer(steps, lang)} batches per epoch{extra}."))
        return Answer(p, [where("ex1/metrics.json", "n_train"), where("ex1/config.json", "batch_size"),
                          "ex1/history.csv (seconds)"])
    return Answer(p)


@measure
def q_why_validation(run: Run, lang: str) -> Answer:
    p = []
    m = maybe(run, "ex1")
    if m and m.get("validation_is_test"):
        p.append(tr(lang,
                    "Attention : le code du TP passe `validation_data=(x_test, y_test)`, donc ici la validation "
                    "**est** "
                    "le jeu de test. Toute décision prise en regardant ces "
                    "courbes réutilise le test.",
                    "Note: the lab's code passes `validation_data=(x_test, y_test)`, so here validation **is** the "
                    "test set. Any decision taken from these curves reuses the "
                    "test set: see the method notes."))
        return Answer(p, [where("ex1/metrics.json", "validation_is_test")])
    return Answer(p)


@measure
def q_fifty(run: Run, lang: str, study: str, base: str) -> Answer:
    s = run.done(study)
    c = quantities.step_curve(s) if s else None
    if not s or not c:
        return Answer([study_missing(lang, study)])
    m = s.metrics
    p = [tr(lang,
            f"Nous l'avons mesuré ({label(study, lang)}, {c.epochs} époques, {seconds(s.seconds, lang)}) : précision "
            f"d'entraînement {acc(c.first_acc, lang)} → {acc(c.last_acc, lang)}, précision de validation finale "
            f"{acc(c.last_val_acc, lang)} (meilleure : {acc(m.get('best_val_accuracy'), lang)} à l'époque "
            f"{m.get('best_val_accuracy_epoch')}), écart final {points(c.last_gap, lang)}.",
            f"Measured ({label(study, lang)}, {c.epochs} epochs, {seconds(s.seconds, lang)}): training accuracy "
            f"{acc(c.first_acc, lang)} → {acc(c.last_acc, lang)}, final validation accuracy "
            f"{acc(c.last_val_acc, lang)} (best: {acc(m.get('best_val_accuracy'), lang)} at epoch "
            f"{m.get('best_val_accuracy_epoch')}), final gap {points(c.last_gap, lang)}."),
         overfit_sentence(c, lang)]
    sources = [f"{study}/history.csv", where(f"{study}/metrics.json", "best_val_accuracy", "best_val_accuracy_epoch")]
    if run.done(base):
        text, more = compare(run, lang, study, base)
        p.append(tr(lang, "Précision de test, ", "Test accuracy, ") + lower(text) + ".")
        sources += more
    return Answer(p, sources)


@measure
def q_final_accuracy(run: Run, lang: str) -> Answer:
    m = need(run, "ex1")
    return Answer([tr(lang,
                      f"Précision de test : **{acc(m['test_accuracy'], lang)}** ({pct(m['test_accuracy'], lang)}), "
                      f"perte de test {num(m['test_loss'], lang)}, soit {integer(m['test_errors'], lang)} erreurs sur "
                      f"{integer(m['n_test'], lang)} images de test.",
                      f"Test accuracy: **{acc(m['test_accuracy'], lang)}** ({pct(m['test_accuracy'], lang)}), test "
                      f"loss {num(m['test_loss'], lang)}, that is {integer(m['test_errors'], lang)} errors out of "
                      f"{integer(m['n_test'], lang)} test images.")],
                  [where("ex1/metrics.json", "test_accuracy", "test_loss", "test_errors", "n_test")])


@measure
def q_test_below_train(run: Run, lang: str) -> Answer:
    p = []
    m = maybe(run, "ex1")
    if m and m.get("final_accuracy") is not None:
        gap = m["final_accuracy"] - m["test_accuracy"]
        p.append(tr(lang,
                    f"Nous mesurons : entraînement {acc(m['final_accuracy'], lang)} à la dernière époque, test "
                    f"{acc(m['test_accuracy'], lang)}, écart {points(gap, lang)}.",
                    f"Measured: training {acc(m['final_accuracy'], lang)} at the last epoch, test "
                    f"{acc(m['test_accuracy'], lang)}, gap {points(gap, lang)}."))
        return Answer(p, [where("ex1/metrics.json", "final_accuracy", "test_accuracy")])
    return Answer(p)


@measure
def q_remedies(run: Run, lang: str, step: str, short: bool = False) -> Answer:
    c = quantities.step_curve(run.step(step))
    if not (c and c.best_val_loss_epoch):
        return Answer([])
    if c.overfits:
        stop = tr(lang, f"Ici, un early stopping garderait les poids de l'époque {c.best_val_loss_epoch}.",
                  f"Here, early stopping would keep the weights of epoch {c.best_val_loss_epoch}.")
    elif short:
        stop = tr(lang, f"Ici, nous ne mesurons pas de surapprentissage sur ces {c.epochs} époques : le remède "
                        "serait plutôt d'entraîner plus longtemps, en surveillant la validation avec un early "
                        "stopping.",
                  f"Here we measure no overfitting over these {c.epochs} epochs: the remedy would rather be to "
                  "train longer while watching validation with early stopping.")
    else:  # the sentence before already says that no overfitting was measured
        stop = tr(lang, "Le remède serait donc plutôt d'entraîner plus longtemps, en surveillant la validation avec "
                        "un early stopping.",
                  "The remedy would rather be to train longer while watching validation with early stopping.")
    return Answer([stop] if short else [overfit_sentence(c, lang) + " " + stop], [f"{step}/history.csv"])


@measure
def q_two_curves(run: Run, lang: str) -> Answer:
    need_history(run, "ex1")
    c = quantities.step_curve(run.step("ex1"))
    p = [curve_sentence(c, lang)]
    if c.first_gap is not None and c.first_gap < 0:
        p.append(tr(lang,
                    "À la première époque, la validation est au-dessus de l'entraînement : la précision "
                    "d'entraînement est une moyenne sur toute l'époque, y compris ses débuts où le modèle était "
                    "mauvais, alors que la validation est mesurée à la fin.",
                    "At the first epoch validation is above training: training accuracy is averaged over the whole "
                    "epoch, including its start when the model was poor, while validation is measured at its end."))
    p.append(overfit_sentence(c, lang))
    return Answer(p, ["ex1/history.csv"])


@measure
def q_detect_overfit(run: Run, lang: str) -> Answer:
    need_history(run, "ex1")
    c = quantities.step_curve(run.step("ex1"))
    o = c.judged
    if c.overfits:
        head = tr(lang, f"Chez nous, c'est le cas : {o.fr}.", f"In our run it is: {o.en}.")
    else:
        head = tr(lang, f"Chez nous, rien de tel au-delà du bruit sur ces {c.epochs} époques (question 1).",
                  f"In our run, nothing of the kind beyond the noise over these {c.epochs} epochs (question 1).")
    return Answer([head + tr(lang, f" Écart de précision : {points(c.first_gap, lang)} à l'époque 1, "
                                   f"{points(c.last_gap, lang)} à l'époque {c.epochs}.",
                             f" Accuracy gap: {points(c.first_gap, lang)} at epoch 1, {points(c.last_gap, lang)} at "
                             f"epoch {c.epochs}.")], ["ex1/history.csv"])


@measure
def q_diverge(run: Run, lang: str) -> Answer:
    need_history(run, "ex1")
    c = quantities.step_curve(run.step("ex1"))
    if c.first_gap is None or not c.best_val_loss_epoch:
        return Answer([])
    o = c.judged
    if c.overfits:
        text = tr(lang, f"Ici, elles divergent : {o.fr} ; l'écart de précision finit à {points(c.last_gap, lang)}.",
                  f"Here they part: {o.en}; the accuracy gap ends at {points(c.last_gap, lang)}.")
    else:
        text = tr(lang, f"Ici, elles ne divergent pas de façon mesurable sur ces {o.epochs} époques : "
                        f"{o.evidence_fr} ; l'écart de précision passe de {points(c.first_gap, lang)} à "
                        f"{points(c.last_gap, lang)}.",
                  f"Here they do not part measurably over these {o.epochs} epochs: {o.evidence_en}; the accuracy "
                  f"gap goes from {points(c.first_gap, lang)} to {points(c.last_gap, lang)}.")
    return Answer([text], ["ex1/history.csv"])


@measure
def q_errors_where(run: Run, lang: str) -> Answer:
    m = need(run, "ex1")
    p = [tr(lang, f"Oui : {integer(m['test_errors'], lang)} erreurs sur {integer(m['n_test'], lang)} images de test "
                  f"({pct(m['test_errors'] / max(1, m['n_test']), lang)}).",
            f"Yes: {integer(m['test_errors'], lang)} errors out of {integer(m['n_test'], lang)} test images "
            f"({pct(m['test_errors'] / max(1, m['n_test']), lang)}).")]
    sources = [where("ex1/metrics.json", "test_errors", "n_test")]
    e = quantities.errors(run, run.step("ex1"), lang)
    if e:
        shown = min(run.step("ex1").exp.predictions_shown, e.n)
        if e.first_shown:
            p.append(tr(lang, f"Parmi les {shown} images de la figure, erreurs : "
                              + "; ".join(f"image {i} (vrai {t}, prédit {pr})" for i, t, pr in e.first_shown) + ".",
                        f"Among the {shown} images of the figure, errors: "
                        + "; ".join(f"image {i} (true {t}, predicted {pr})" for i, t, pr in e.first_shown) + "."))
        else:
            p.append(tr(lang, f"Les {shown} images de la figure sont toutes bien classées.",
                        f"The {shown} images of the figure are all classified right."))
        if e.pairs:
            tied = len(e.pairs) > 3
            p.append(tr(lang, "Confusions les plus fréquentes (vrai → prédit) : ",
                        "Most frequent confusions (true → predicted): ")
                     + ", ".join(f"{t} → {pr} ({integer(n, lang)})" for t, pr, n in e.pairs)
                     + (tr(lang, " (les dernières à égalité)", " (the last ones tied)") if tied else "") + ".")
        sources.append("ex1/test_probabilities.npy, ex1/arrays/test_labels.npy")
    return Answer(p, sources)


@measure
def q_explain_error(run: Run, lang: str) -> Answer:
    e = quantities.errors(run, run.step("ex1"), lang)
    if not (e and e.mean_conf_wrong is not None):
        return Answer([])
    return Answer([tr(lang,
                      "Nous mesurons : "
                      f"probabilité moyenne de la classe choisie {num(e.mean_conf_wrong, lang)} sur les "
                      f"erreurs contre {num(e.mean_conf_right, lang)} sur les bonnes réponses ; {e.confident_wrong} "
                      "erreurs sont faites avec une probabilité de plus de 0,9 : le modèle est alors sûr de lui à "
                      "tort (surconfiance), pas seulement hésitant.",
                      f"Measured: mean probability of the chosen class {num(e.mean_conf_wrong, lang)} on errors "
                      f"against {num(e.mean_conf_right, lang)} on right answers; {e.confident_wrong} errors are made "
                      "with a probability above 0.9: the model is then wrongly sure of itself (overconfident), not "
                      "just hesitant.")], ["ex1/test_probabilities.npy, ex1/arrays/test_labels.npy"])


@measure
def q_improve_cnn(run: Run, lang: str) -> Answer:
    m = need(run, "ex1")
    se = quantities.binomial_se(m["test_accuracy"], m["n_test"])
    return Answer([tr(lang,
                      f"Ce qu'il reste à gagner sur MNIST : le réseau dense fait {integer(m['test_errors'], lang)} "
                      f"erreurs sur {integer(m['n_test'], lang)} (précision {acc(m['test_accuracy'], lang)} "
                      f"± {points(se, lang, sign=False)}, une erreur-type). Nous n'entraînons pas de CNN "
                      "sur MNIST (le TP le fait sur Fashion-MNIST, étape 5) : son gain n'est pas mesuré ici sur les "
                      "chiffres.",
                      f"What is left to gain on MNIST: the dense network makes {integer(m['test_errors'], lang)} "
                      f"errors out of {integer(m['n_test'], lang)} (accuracy {acc(m['test_accuracy'], lang)} "
                      f"± {points(se, lang, sign=False)}, one standard error). This run trains no CNN on MNIST (the "
                      "lab does it on Fashion-MNIST, step 5): its gain on digits is not measured here.")],
                  [where("ex1/metrics.json", "test_errors", "n_test", "test_accuracy")])
