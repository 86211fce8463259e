"""The hand-in's analysis (5-10 sentences of prose, "nous") and the method notes, from the run's numbers.

Every claim is checked against every step the run holds, with its uncertainty: a difference of two
accuracies on one test set is a finding only beyond two binomial standard errors; overfitting is read on
the validation loss of every step with a history; a ranking is checked on the test set too.
"""

from __future__ import annotations

from mnistlab import judge
from mnistlab.i18n import class_names
from mnistlab.report import quantities
from mnistlab.report.artifacts import Run
from mnistlab.report.fmt import epochs, integer, listing, num, points, seconds, tr
from mnistlab.report.measures import diff_text, label


def overfitting(run: Run) -> tuple[list[tuple[str, quantities.Curve]], list[str]]:
    """(steps whose validation loss rose after its minimum, with their curve; steps read without a rise)."""
    rose, flat = [], []
    for name, step in run.steps.items():
        c = quantities.step_curve(step) if (step.complete or step.history) else None
        if c is None or c.best_val_loss_epoch is None or c.epochs < 2:
            continue
        (rose.append((name, c)) if c.overfits else flat.append(name))
    return rose, flat


def analysis(run: Run, lang: str) -> list[str]:
    """The analysis as sentences (at most 10), first person plural, only what the run shows."""
    out: list[str] = []
    e1, ann, cnn = run.done("ex1"), run.done("ex2.ann"), run.done("ex2.cnn")
    act, conf, aug = run.done("ex2.activations"), run.done("ex2.confusion"), run.done("ex2.augment")
    if e1:
        m = e1.metrics
        se = quantities.binomial_se(m["test_accuracy"], m["n_test"])
        out.append(tr(lang,
                      f"Sur MNIST, notre réseau dense de {integer(m['params'], lang)} paramètres atteint une précision "
                      f"de test de {num(m['test_accuracy'], lang)} (± {points(se, lang, sign=False)}, une erreur-type) "
                      f"en {epochs(m.get('epochs_run'), lang)}, soit {integer(m['test_errors'], lang)} erreurs sur "
                      f"{integer(m['n_test'], lang)} images.",
                      f"On MNIST our dense network with {integer(m['params'], lang)} parameters reaches a test "
                      f"accuracy of {num(m['test_accuracy'], lang)} (± {points(se, lang, sign=False)}, one standard "
                      f"error) in {epochs(m.get('epochs_run'), lang)}, {integer(m['test_errors'], lang)} errors out of "
                      f"{integer(m['n_test'], lang)} images."))
    if ann and cnn:
        a, c = ann.metrics, cnn.metrics
        d = quantities.accuracy_diff(c["test_accuracy"], a["test_accuracy"], min(a["n_test"], c["n_test"]))
        harder = bool(e1) and judge.accuracies(a["test_accuracy"], e1.metrics["test_accuracy"], a["n_test"],
                                               e1.metrics["n_test"]).verdict == "lower"
        out.append(tr(lang,
                      ("Fashion-MNIST est plus difficile que MNIST pour un réseau dense ; " if harder else
                       "Sur Fashion-MNIST, ")
                      + f"le CNN obtient {num(c['test_accuracy'], lang)} contre "
                      f"{num(a['test_accuracy'], lang)} pour l'ANN ({diff_text(d, lang)}).",
                      ("Fashion-MNIST is harder than MNIST for a dense network; " if harder else "On Fashion-MNIST, ")
                      + f"the CNN gets {num(c['test_accuracy'], lang)} against "
                      f"{num(a['test_accuracy'], lang)} for the ANN ({diff_text(d, lang)})."))
    rose, flat = overfitting(run)
    if rose:
        out.append(tr(lang, "Nous mesurons du surapprentissage au-delà de deux erreurs-types. ",
                      "We measure overfitting beyond two standard errors. ")
                   + " ".join(tr(lang, f"Pour {label(n, lang)}, {c.judged.fr}.",
                                 f"For {label(n, lang)}, {c.judged.en}.") for n, c in rose))
    elif flat:
        rose_a_little = [n for n in flat if (c := quantities.step_curve(run.step(n))) and c.val_loss_rises_after_best]
        out.append(tr(lang, f"Aucune des {len(flat)} étapes entraînées ne montre de surapprentissage mesurable"
                      + (" : là où la perte de validation remonte un peu après son minimum, la remontée reste dans "
                         "deux erreurs-types." if rose_a_little else
                         " : la perte de validation de chacune est encore à son plus bas à la dernière époque."),
                      f"None of the {len(flat)} trained steps shows measurable overfitting"
                      + (": where validation loss rises a little after its minimum, the rise stays within two "
                         "standard errors." if rose_a_little else
                         ": each one's validation loss is still at its lowest at the last epoch.")))
    if aug and cnn:
        a, c = aug.metrics, cnn.metrics
        d = quantities.accuracy_diff(a["test_accuracy"], c["test_accuracy"], min(a["n_test"], c["n_test"]))
        v = judge.augmentation(a["test_accuracy"], c["test_accuracy"], min(a["n_test"], c["n_test"]),
                               a["test_loss"], c["test_loss"], quantities.loss_se(cnn, on_test=True))
        loss = judge.losses(a["test_loss"], c["test_loss"], quantities.loss_se(cnn, on_test=True))
        loss_fr = f"la perte de test passe de {num(c['test_loss'], lang)} à {num(a['test_loss'], lang)} ({loss.fr})"
        loss_en = f"the test loss goes from {num(c['test_loss'], lang)} to {num(a['test_loss'], lang)} ({loss.en})"
        end_fr, end_en = {
            "helps": (" : elle aide, mais ce gain reste mêlé à celui des époques supplémentaires.",
                      ": it helps, but this gain stays mixed with that of the extra epochs."),
            "hurts": (" : ici elle nuit, au moins sur ces quelques époques.",
                      ": here it hurts, at least over these few epochs."),
            "same": (" : nous ne pouvons pas conclure qu'elle aide ici.", ": we cannot conclude that it helps here."),
        }[v.verdict]
        out.append(tr(lang, f"L'augmentation de données donne {diff_text(d, lang)} de précision de test, et "
                            f"{loss_fr}{end_fr}",
                      f"Data augmentation gives {diff_text(d, lang)} in test accuracy, and {loss_en}{end_en}"))
    if act:
        va = act.metrics["val_accuracy"]
        r = judge.ranking({_act(k): v for k, v in va.items()}, act.metrics.get("n_validation") or 0)
        if len(r.order) > 1:
            ta = act.metrics.get("test_accuracy") or {}
            swapped = set(ta) == set(va) and [_act(k) for k, _ in quantities.ranking(ta)] != [k for k, _ in r.order]
            first, last = r.order[0][0], r.order[-1][0]
            if r.finding:
                head_fr = f"Entre les activations, {first} est en tête au-delà du bruit ({r.first_vs_second.fr})"
                head_en = f"Between the activations, {first} leads beyond the noise ({r.first_vs_second.en})"
            else:
                head_fr = (f"Entre les activations, {r.tied('fr')} sont à égalité en tête dans le bruit ; de la "
                           f"première ({first}) à la dernière ({last}) : {r.first_vs_last.fr}")
                head_en = (f"Between the activations, {r.tied('en')} are tied at the top within the noise; from the "
                           f"first ({first}) to the last ({last}): {r.first_vs_last.en}")
            out.append(tr(lang, head_fr + (", et le classement change sur le test" if swapped else "") + ".",
                          head_en + (", and the ranking changes on the test set" if swapped else "") + "."))
    out += difficulties(run, lang, cnn, ann, conf)
    return out[:8] + improvements(run, lang)


def improvements(run: Run, lang: str) -> list[str]:
    """Two proposals for improvement, with the run's measurement where it holds one (the improved models)."""
    measured = []
    for name, base in (("improved.mnist", "ex1"), ("improved.fashion_mnist", "ex2.cnn")):
        s, b = run.done(name), run.done(base)
        if s and b:
            d = quantities.accuracy_diff(s.metrics["test_accuracy"], b.metrics["test_accuracy"],
                                    min(s.metrics["n_test"], b.metrics["n_test"]))
            measured.append(tr(lang, f"{label(name, lang)} atteint {num(s.metrics['test_accuracy'], lang)} contre "
                                     f"{num(b.metrics['test_accuracy'], lang)} ({diff_text(d, lang)})",
                               f"{label(name, lang)} reaches {num(s.metrics['test_accuracy'], lang)} against "
                               f"{num(b.metrics['test_accuracy'], lang)} ({diff_text(d, lang)})"))
    out = [tr(lang, "Pour améliorer, nous proposons un CNN plus profond avec normalisation de lot et un taux "
                    "d'apprentissage décroissant, un early stopping réglé sur une vraie part de validation (et non sur "
                    "le test), et plusieurs graines par réglage pour que les comparaisons sortent du bruit.",
                    "To improve, we propose a deeper CNN with batch normalisation and a decaying learning rate, early "
                    "stopping tuned on a real validation split (not on the test set), and several seeds per setting "
                    "so that comparisons rise above the noise.")]
    if measured:
        out.append(tr(lang, "Nous l'avons essayé : ", "We tried it: ") + "; ".join(measured) + ".")
    return out


def difficulties(run: Run, lang: str, cnn, ann, conf) -> list[str]:
    """The difficulties met while doing the lab that the run can show."""
    out = []
    c_epoch, a_epoch = _per_epoch(cnn), _per_epoch(ann)
    if c_epoch and a_epoch:
        out.append(tr(lang, f"Première difficulté, le temps : une époque du CNN nous a pris {seconds(c_epoch, lang)} "
                            f"contre {seconds(a_epoch, lang)} pour l'ANN sur le même processeur.",
                      f"The first difficulty was time: one CNN epoch took us {seconds(c_epoch, lang)} against "
                      f"{seconds(a_epoch, lang)} for the ANN on the same processor."))
    if conf:
        m = conf.metrics
        en, loc = class_names("fashion_mnist", "en"), class_names("fashion_mnist", lang)
        h = quantities.hardest(m)
        top = m["most_confused"][0] if m["most_confused"] else None
        pair = (tr(lang, f" ; la confusion la plus fréquente est {_cls(top['true'], lang)} → "
                         f"{_cls(top['predicted'], lang)} ({integer(top['count'], lang)} images)",
                   f"; the most frequent confusion is {_cls(top['true'], lang)} → {_cls(top['predicted'], lang)} "
                   f"({integer(top['count'], lang)} images)") if top else "")
        if h and h.leaders:
            names = listing([f"{loc[en.index(k)] if k in en else k} ({tr(lang, 'rappel', 'recall')} "
                             f"{num(m['per_class'][k]['recall'], lang, 3)})" for k in h.leaders], lang)
            many = len(h.leaders) > 1
            out.append(tr(lang, f"{'Les classes' if many else 'La classe'} {names} nous "
                                f"{'ont résisté, à égalité dans le bruit' if many else 'a résisté'}{pair}.",
                          f"The {names} {'classes resisted us, tied within the noise' if many else 'class resisted us'}"
                          f"{pair}."))
    reuse = [n for n in ("ex1", "ex2.augment") if run.done(n) and run.done(n).metrics.get("validation_is_test")]
    if reuse:
        many = len(reuse) > 1
        out.append(tr(lang, f"Autre difficulté : {listing([label(n, lang) for n in reuse], lang)} "
                            f"{'valident' if many else 'valide'} sur le jeu de test, comme le TP le demande : ces "
                            "courbes de validation sont des courbes de test, et la précision finale de "
                            f"{'ces étapes' if many else 'cette étape'} est un peu optimiste.",
                      f"Another difficulty: {listing([label(n, lang) for n in reuse], lang)} "
                      f"{'validate' if many else 'validates'} on the test set, as the lab asks: those validation "
                      f"curves are test curves, and the final accuracy of {'these steps' if many else 'this step'} is "
                      "slightly optimistic."))
    return out


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
        notes.append(tr(lang,
                        f"**Réutilisation du jeu de test.** {_capital(listing([label(n, lang) for n in reuse], lang))} "
                        "valident sur le jeu de test (`validation_data=(x_test, y_test)` dans le TP) : leurs courbes "
                        "de « validation » sont des courbes de test. Choisir le nombre d'époques ou un réglage en les "
                        "regardant ajuste le modèle au test, et la précision de test finale devient optimiste. "
                        "Correction : valider sur une part du jeu d'entraînement et n'évaluer le test qu'une fois.",
                        f"**Test-set reuse.** {_capital(listing([label(n, lang) for n in reuse], lang))} validate on "
                        "the test set (`validation_data=(x_test, y_test)` in the lab): their \"validation\" "
                        "curves are test curves. Choosing the number of epochs or a setting from them tunes the "
                        "model to the test set, and the final test accuracy becomes optimistic. Fix: validate on part "
                        "of the training set and evaluate on the test set once."))
    split = [s for s in run.steps.values() if s.complete and s.exp and s.exp.validation == "split"
             and "n_validation" in s.metrics]
    if split:
        s = split[0]
        notes.append(tr(lang,
                        f"**`validation_split` ne mélange pas.** Keras prend les "
                        f"{num(s.exp.validation_split * 100, lang, 0)}\u202f% **derniers** exemples du jeu "
                        f"d'entraînement, avant tout mélange (ici {integer(s.metrics['n_validation'], lang)} images de "
                        f"validation pour {integer(s.metrics['n_train'], lang)} d'entraînement). Fashion-MNIST est "
                        "mélangé, mais la coupe reste la même d'une exécution à l'autre.",
                        f"**`validation_split` does not shuffle.** Keras takes the **last** "
                        f"{num(s.exp.validation_split * 100, lang, 0)}% of the training set, before any shuffling "
                        f"(here {integer(s.metrics['n_validation'], lang)} validation images for "
                        f"{integer(s.metrics['n_train'], lang)} training ones). Fashion-MNIST is shuffled, but the cut "
                        "stays the same from run to run."))
    if run.done("ex2.activations"):
        notes.append(tr(lang,
                        "**Une exécution par réglage ne suffit pas.** Un écart entre deux précisions mesurées sur "
                        "le même jeu n'est un résultat qu'au-delà de deux erreurs-types (sqrt(p(1 − p)/n) chacune) ; "
                        "avec plusieurs graines, nous donnons moyenne ± écart-type et le test de Welch.",
                        "**One run per setting is not enough.** A gap between two accuracies measured on the same set "
                        "is a finding only beyond two standard errors (sqrt(p(1 − p)/n) each); with several seeds we "
                        "give mean ± SD and Welch's test."))
    aug = run.done("ex2.augment")
    if aug:
        notes.append(tr(lang,
                        f"**L'augmentation n'est pas isolée.** Le CNN augmenté reprend le CNN déjà entraîné pour "
                        f"{epochs(aug.metrics.get('epochs_run'), lang)} de plus : son effet se mêle à celui d'un "
                        "entraînement plus long. Un témoin honnête continuerait le même CNN autant d'époques sans "
                        "augmentation. La ligne du TP `from tensorflow.keras.preprocessing.image import "
                        "ImageDataGenerator` fonctionne toujours avec TensorFlow 2.21 et Keras 3.15 (classe héritée ; "
                        "seul `keras.preprocessing.image` l'a perdue).",
                        f"**Augmentation is not isolated.** The augmented CNN continues the trained CNN for "
                        f"{epochs(aug.metrics.get('epochs_run'), lang)} more: its effect mixes with that of longer "
                        "training. A fair control would continue the same CNN as many epochs without augmentation. "
                        "The lab's line `from tensorflow.keras.preprocessing.image import ImageDataGenerator` still "
                        "works with TensorFlow 2.21 and Keras 3.15 (a legacy class; only `keras.preprocessing.image` "
                        "lost it)."))
    overrides = run.manifest.get("overrides")
    if isinstance(overrides, dict) and overrides:
        notes.append(tr(lang, "**Réglages modifiés.** Nos réglages s'écartent du TP : "
                        + ", ".join(f"`{k}={v}`" for k, v in overrides.items())
                        + " ; nos chiffres ne se comparent donc pas exactement aux valeurs attendues du TP.",
                        "**Changed settings.** This run does not follow the lab to the letter: "
                        + ", ".join(f"`{k}={v}`" for k, v in overrides.items())
                        + "; its numbers do not compare with the lab's expected values."))
    return notes
