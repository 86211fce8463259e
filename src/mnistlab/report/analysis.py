"""The hand-in's personal analysis (5-10 lines) and the method notes, written from the run's numbers."""

from __future__ import annotations

from mnistlab.i18n import class_names
from mnistlab.report import facts
from mnistlab.report.artifacts import Run
from mnistlab.report.fmt import integer, listing, num, points, seconds, tr


def _acc(x, lang):
    return num(x, lang, 4)


def analysis(run: Run, lang: str) -> list[str]:
    """Interpretation, difficulties observed and improvement proposals, one sentence per line.

    Only sentences whose numbers the run holds are written; at most 10 lines.
    """
    lines: list[str] = []
    e1, ann, cnn = run.done("ex1"), run.done("ex2.ann"), run.done("ex2.cnn")
    act, conf, aug = run.done("ex2.activations"), run.done("ex2.confusion"), run.done("ex2.augment")
    if e1:
        m = e1.metrics
        lines.append(tr(lang,
                        f"Sur MNIST, le réseau dense de {integer(m['params'], lang)} paramètres atteint "
                        f"{_acc(m['test_accuracy'], lang)} de précision sur le test en {m.get('epochs_run')} époques "
                        f"({integer(m['test_errors'], lang)} erreurs sur {integer(m['n_test'], lang)}) : une tâche "
                        "presque résolue par un modèle simple.",
                        f"On MNIST the dense network with {integer(m['params'], lang)} parameters reaches "
                        f"{_acc(m['test_accuracy'], lang)} test accuracy in {m.get('epochs_run')} epochs "
                        f"({integer(m['test_errors'], lang)} errors out of {integer(m['n_test'], lang)}): a task a "
                        "simple model nearly solves."))
    if ann and cnn:
        a, c = ann.metrics, cnn.metrics
        lines.append(tr(lang,
                        f"Fashion-MNIST est plus difficile : l'ANN obtient {_acc(a['test_accuracy'], lang)}, le CNN "
                        f"{_acc(c['test_accuracy'], lang)} ({points(c['test_accuracy'] - a['test_accuracy'], lang)}), "
                        "car ses filtres exploitent la structure locale des images.",
                        f"Fashion-MNIST is harder: the ANN gets {_acc(a['test_accuracy'], lang)}, the CNN "
                        f"{_acc(c['test_accuracy'], lang)} ({points(c['test_accuracy'] - a['test_accuracy'], lang)}), "
                        "as its filters use the images' local structure."))
    elif ann:
        lines.append(tr(lang, f"Sur Fashion-MNIST, l'ANN obtient {_acc(ann.metrics['test_accuracy'], lang)}.",
                        f"On Fashion-MNIST the ANN gets {_acc(ann.metrics['test_accuracy'], lang)}."))
    if aug and cnn:
        d = aug.metrics["test_accuracy"] - cnn.metrics["test_accuracy"]
        lines.append(tr(lang,
                        f"L'augmentation de données mène le CNN à {_acc(aug.metrics['test_accuracy'], lang)} "
                        f"({points(d, lang)}), gain mêlé à celui des {aug.metrics.get('epochs_run')} époques "
                        "supplémentaires.",
                        f"Data augmentation takes the CNN to {_acc(aug.metrics['test_accuracy'], lang)} "
                        f"({points(d, lang)}), a gain mixed with that of the {aug.metrics.get('epochs_run')} extra "
                        "epochs."))
    # Difficulties observed.
    over = []
    for name in ("ex1", "ex2.ann", "ex2.cnn", "ext.ex1_50_epochs", "ext.ann_50_epochs"):
        s = run.done(name)
        c = facts.curve(s.history) if s else None
        if c and c.overfits:
            over.append((name, c))
    if over:
        lines.append(tr(lang, "Signes de surapprentissage : ", "Overfitting signs: ")
                     + "; ".join(tr(lang, f"`{n}` a sa perte de validation minimale à l'époque {c.best_val_loss_epoch}"
                                          f" sur {c.epochs}",
                                    f"`{n}` has its lowest validation loss at epoch {c.best_val_loss_epoch} of "
                                    f"{c.epochs}") for n, c in over) + ".")
    elif e1 or ann or cnn:
        lines.append(tr(lang, "Aucun modèle du TP ne montre de surapprentissage net sur ses époques : la perte de "
                              "validation baisse encore à la fin.",
                        "No model of the lab shows clear overfitting over its epochs: validation loss still falls at "
                        "the end."))
    if conf:
        m = conf.metrics
        en, loc = class_names("fashion_mnist", "en"), class_names("fashion_mnist", lang)

        def name(n):
            return loc[en.index(n)] if n in en else n

        top = (m.get("most_confused") or [None])[0]
        worst = m.get("worst_recall_class")
        if top and worst in m.get("per_class", {}):
            lines.append(tr(lang,
                            f"La principale difficulté est la classe {name(worst)} (rappel "
                            f"{num(m['per_class'][worst]['recall'], lang, 3)}) ; la confusion la plus fréquente est "
                            f"{name(top['true'])} → {name(top['predicted'])} ({integer(top['count'], lang)} images).",
                            f"The main difficulty is the {name(worst)} class (recall "
                            f"{num(m['per_class'][worst]['recall'], lang, 3)}); the most frequent confusion is "
                            f"{name(top['true'])} → {name(top['predicted'])} ({integer(top['count'], lang)} images)."))
    if act:
        m = act.metrics
        spread = max(m["val_accuracy"].values()) - min(m["val_accuracy"].values())
        lines.append(tr(lang,
                        f"Les quatre activations finissent à {points(spread, lang, sign=False)} d'écart au plus "
                        f"(meilleure : {m['best']}) : "
                        + ("les graines supplémentaires disent lesquels de ces écarts dépassent le bruit."
                           if run.step("ex2.activations").seeds else
                           "avec une exécution chacune, ces écarts ne sont pas concluants."),
                        f"The activations end at most {points(spread, lang, sign=False)} apart (best: {m['best']}): "
                        + ("the extra seeds tell which of these gaps exceed the "
                           "noise." if run.step("ex2.activations").seeds
                           else "with one run each, these gaps are not conclusive.")))
    if cnn and ann and cnn.metrics.get("fit_seconds") and ann.metrics.get("fit_seconds"):
        cores = (run.manifest.get("hardware") or {}).get("logical_cores")
        lines.append(tr(lang,
                        f"Le coût est réel : le CNN a demandé {seconds(cnn.metrics['fit_seconds'], lang)} "
                        f"d'entraînement contre {seconds(ann.metrics['fit_seconds'], lang)} pour l'ANN"
                        + (f" sur {cores} cœurs." if cores else "."),
                        f"The cost is real: the CNN took {seconds(cnn.metrics['fit_seconds'], lang)} of training "
                        f"against {seconds(ann.metrics['fit_seconds'], lang)} for the ANN"
                        + (f" on {cores} cores." if cores else ".")))
    # Proposals tied to what was measured.
    props = []
    if over:
        n, c = over[0]
        props.append(tr(lang, f"un early stopping (époque {c.best_val_loss_epoch} pour `{n}`)",
                        f"early stopping (epoch {c.best_val_loss_epoch} for `{n}`)"))
    if conf:
        props.append(tr(lang, "un CNN plus profond avec normalisation par lots pour séparer les hauts",
                        "a deeper CNN with batch normalisation to tell the tops apart"))
    if run.done("ex1") and run.step("ex1").exp and run.step("ex1").exp.validation == "test":
        props.append(tr(lang, "une vraie validation séparée du "
                              "test", "a real validation set kept apart from the test "
                                                                      "set"))
    if act and not run.step("ex2.activations").seeds:
        props.append(tr(lang, "plusieurs graines par réglage (`--seeds 3`)", "several seeds per setting (`--seeds 3`)"))
    if props:
        lines.append(tr(lang, "Pistes d'amélioration : ", "Improvements to try: ") + listing(props, lang) + ".")
    return lines[:10]


def method_notes(run: Run, lang: str) -> list[str]:
    """Where the lab's protocol is weak, with the numbers of this run and the fix."""
    notes = []
    reuse = [n for n, s in run.steps.items() if s.complete and s.metrics.get("validation_is_test")]
    if reuse:
        notes.append(tr(lang,
                        f"**Réutilisation du jeu de test.** {listing([f'`{n}`' for n in reuse], lang)} valident sur le "
                        "jeu de test (`validation_data=(x_test, y_test)` dans le TP) : les courbes de « validation » "
                        "sont des courbes de test. Choisir le nombre d'époques ou un réglage en les regardant ajuste "
                        "le modèle au test, et la précision de test finale devient optimiste. Correction : valider sur "
                        "une part du jeu d'entraînement (`validation_split`) et n'évaluer le test qu'une fois, à la "
                        "fin.",
                        f"**Test-set reuse.** {listing([f'`{n}`' for n in reuse], lang)} validate on the test set "
                        "(`validation_data=(x_test, y_test)` in the lab): their \"validation\" curves are test curves. "
                        "Choosing the number of epochs or a setting from them tunes the model to the test set, and the "
                        "final test accuracy becomes optimistic. Fix: validate on part of the training set "
                        "(`validation_split`) and evaluate on the test set once, at the end."))
    split = [(n, s) for n, s in run.steps.items() if s.complete and s.exp and s.exp.validation == "split"
             and "n_validation" in s.metrics]
    if split:
        n, s = split[0]
        notes.append(tr(lang,
                        "**`validation_split` ne mélange pas.** Keras prend les "
                        f"{num(s.exp.validation_split * 100, lang, 0)}"
                        f"{chr(0x202f)}% **derniers** exemples du jeu d'entraînement, avant tout mélange (ici "
                        f"{integer(s.metrics['n_validation'], lang)} images de validation pour "
                        f"{integer(s.metrics['n_train'], lang)} d'entraînement, `{n}`). Si le jeu était trié par "
                        "classe, la validation ne contiendrait que les dernières classes ; Fashion-MNIST est mélangé, "
                        "mais la coupe reste fixe d'une exécution à l'autre.",
                        f"**`validation_split` does not shuffle.** Keras takes the **last** "
                        f"{num(s.exp.validation_split * 100, lang, 0)}% of the training set, before any shuffling "
                        f"(here {integer(s.metrics['n_validation'], lang)} validation images for "
                        f"{integer(s.metrics['n_train'], lang)} training ones, `{n}`). Were the set sorted by class, "
                        "validation would hold only the last classes; Fashion-MNIST is shuffled, but the cut stays "
                        "the same from run to run."))
    act = run.done("ex2.activations")
    if act:
        m = act.metrics
        seeds = run.step("ex2.activations").seeds
        if seeds:
            notes.append(tr(lang,
                            f"**Une exécution par activation ne suffit pas.** Ce run répète l'étude avec "
                            f"{len(seeds) + 1} graines : la section de l'étape 4 donne moyenne ± écart-type et dit "
                            "quels écarts dépassent le bruit (test de Welch, p < 0,05).",
                            f"**One run per activation is not enough.** This run repeats the study with "
                            f"{len(seeds) + 1} seeds: the step 4 section gives mean ± std and says which gaps exceed "
                            "the noise (Welch's test, p < 0.05)."))
        else:
            notes.append(tr(lang,
                            f"**Une exécution par activation ne suffit pas.** Le gagnant ({m['best']}) devance le "
                            f"second de {points(m.get('margin_over_second'), lang, sign=False)} ; avec une seule "
                            "graine "
                            "par activation, le hasard de l'initialisation et du mélange peut produire un écart de cet "
                            "ordre. `mnistlab run --seeds 3` répète l'étude d'activation et la comparaison ANN/CNN "
                            "avec 3 graines, puis affiche moyenne ± écart-type et dit quels écarts dépassent le bruit.",
                            f"**One run per activation is not enough.** The winner ({m['best']}) leads the second by "
                            f"{points(m.get('margin_over_second'), lang, sign=False)}; with one seed per activation, "
                            "the randomness of initialisation and shuffling can produce a gap of that size. "
                            "`mnistlab run --seeds 3` repeats the activation study and the ANN/CNN comparison with "
                            "3 seeds, then shows mean ± std and says which gaps exceed the noise."))
    aug = run.done("ex2.augment")
    if aug:
        notes.append(tr(lang,
                        f"**L'augmentation n'est pas isolée.** `ex2.augment` reprend le CNN déjà entraîné pour "
                        f"{aug.metrics.get('epochs_run')} époques de plus : son gain mélange l'effet de l'augmentation "
                        "et celui d'un entraînement plus long. Un témoin honnête continuerait le même CNN autant "
                        "d'époques sans augmentation. Le TP utilise `ImageDataGenerator`, absent de Keras 3 : "
                        "mnistlab tire les mêmes plages et, comme lui, compose rotation, zoom et miroir en une "
                        "seule transformation affine par image (interpolation bilinéaire, bord rempli par le "
                        "pixel le plus proche). Le code montré plus haut l'écrit avec les couches "
                        "`RandomRotation`, `RandomZoom` et `RandomFlip`, plus lisibles, qui tirent les mêmes lois.",
                        f"**Augmentation is not isolated.** `ex2.augment` continues the trained CNN for "
                        f"{aug.metrics.get('epochs_run')} more epochs: its gain mixes the effect of augmentation with "
                        "that of longer training. A fair control would continue the same CNN as many epochs without "
                        "augmentation. The lab uses `ImageDataGenerator`, gone from Keras 3: mnistlab draws the "
                        "same ranges and, like it, composes rotation, zoom and mirror into one affine "
                        "transformation per image (bilinear interpolation, edges filled with the nearest pixel). "
                        "The code shown above writes it with the more readable `RandomRotation`, `RandomZoom` "
                        "and `RandomFlip` layers, which draw from the same distributions."))
    overrides = run.manifest.get("overrides") or {}
    if overrides:
        notes.append(tr(lang,
                        "**Réglages modifiés.** Ce run ne suit pas le TP à la lettre : "
                        + ", ".join(f"`{k}={v}`" for k, v in overrides.items()) + " ; ses chiffres ne se comparent pas "
                        "aux valeurs attendues du TP.",
                        "**Changed settings.** This run does not follow the lab to the letter: "
                        + ", ".join(f"`{k}={v}`" for k, v in overrides.items()) + "; its numbers do not compare with "
                        "the lab's expected values."))
    return notes
