"""Measurements of exercise 1, sections 1-5: libraries, data, samples, model, compilation.

Registered by name (:func:`~mnistlab.report.measures.measure`) and chosen from ``questions.toml``.
"""

from __future__ import annotations

import numpy as np

from mnistlab import judge
from mnistlab.i18n import class_names
from mnistlab.report import quantities
from mnistlab.report.artifacts import Run
from mnistlab.report.fmt import general, integer, listing, num, shape, tr
from mnistlab.report.measures import (
    Answer,
    acc,
    compare,
    data_facts,
    label,
    lower,
    maybe,
    measure,
    missing,
    need,
    study_missing,
    where,
)


@measure
def q_tf_keras(run: Run, lang: str) -> Answer:
    v = run.manifest.get("versions") or {}
    p = []
    src = []
    if v.get("keras"):
        p.append(tr(lang, f"Ici : Keras {v['keras']} sur le moteur `{v.get('backend', '?')}`"
                          + (f" (TensorFlow {v['tensorflow']})." if v.get("tensorflow") else "."),
                    f"Here: Keras {v['keras']} on the `{v.get('backend', '?')}` backend"
                    + (f" (TensorFlow {v['tensorflow']})." if v.get("tensorflow") else ".")))
        src.append(where("manifest.json", "versions"))
    return Answer(p, src)


@measure
def q_flatten(run: Run, lang: str) -> Answer:
    p = []
    m = maybe(run, "ex1")
    layer = next((l_ for l_ in (m or {}).get("layers", []) if l_.get("type") == "Flatten"), None)
    if layer is None:
        return Answer(p + [missing(run, lang, "ex1")])
    p.append(tr(lang, f"Nous mesurons : la couche `{layer['name']}` sort un vecteur de "
                      f"{integer(layer['output_shape'][-1], lang)}"
                      f" valeurs et a {integer(layer['params'], lang)} paramètre.",
                f"Measured: layer `{layer['name']}` outputs a vector of {integer(layer['output_shape'][-1], lang)} "
                f"values and has {integer(layer['params'], lang)} parameters."))
    return Answer(p, [where("ex1/metrics.json", "layers")])


@measure
def q_tf_version(run: Run, lang: str) -> Answer:
    v = run.manifest.get("versions") or {}
    if not v.get("tensorflow"):
        return Answer([tr(lang, "Le manifeste de cette exécution n'indique pas de version de TensorFlow "
                                f"(moteur : {v.get('backend', 'inconnu')}).",
                          "This run's manifest records no TensorFlow version "
                          f"(backend: {v.get('backend', 'unknown')}).")], [where("manifest.json", "versions")])
    return Answer([tr(lang,
                      f"TensorFlow **{v['tensorflow']}** (avec Keras {v.get('keras', '?')}, Python "
                      f"{v.get('python', '?')}, NumPy {v.get('numpy', '?')}), tel que `tf.__version__` l'affiche "
                      "sur notre machine.",
                      f"TensorFlow **{v['tensorflow']}** (with Keras {v.get('keras', '?')}, Python "
                      f"{v.get('python', '?')}, NumPy {v.get('numpy', '?')}), as `tf.__version__` prints it on the "
                      "machine that made this run.")], [where("manifest.json", "versions")])


@measure
def q_sequential_dense(run: Run, lang: str) -> Answer:
    p = []
    m = maybe(run, "ex1")
    if m and m.get("layers"):
        dense = [(l_, f) for l_, f in quantities.layer_formula(m["layers"]) if l_.get("type") == "Dense" and f]
        if dense:
            items = [f"`{l_['name']}` : {integer(l_['params'], lang)} = {f}" if lang == "fr"
                     else f"`{l_['name']}`: {integer(l_['params'], lang)} = {f}" for l_, f in dense]
            p.append(tr(lang, "Nous comptons (entrées × neurones + biais) : ", "Measured (inputs × units + biases): ")
                     + "; ".join(items) + ".")
            return Answer(p, [where("ex1/metrics.json", "layers")])
    return Answer(p)


@measure
def q_normalize(run: Run, lang: str, dataset: str = "mnist") -> Answer:
    p = []
    f = data_facts(run, dataset)
    if "x_train" in f:
        x = f["x_train"]
        p.append(tr(lang, "Nous mesurons : "
                          f"les pixels de `x_train` sont des `{x['dtype']}` de {x['min']} à {x['max']}.",
                    f"Measured: the pixels of `x_train` are `{x['dtype']}` from {x['min']} to {x['max']}."))
        return Answer(p, [where("manifest.json", f"data.{dataset}")])
    return Answer(p)


@measure
def q_image_size(run: Run, lang: str) -> Answer:
    f = data_facts(run, "mnist")
    if "x_train" not in f:
        return Answer([tr(lang, "Une image fait 28 × 28 pixels en niveaux de gris, codés en entiers de 0 à 255.",
                          "An image is 28 × 28 grey-level pixels, stored as integers from 0 to 255."),
                       missing(run, lang, "ex1")])
    x = f["x_train"]
    h, w = x["shape"][1:3]
    return Answer([tr(lang,
                      "Nous mesurons : "
                      f"`x_train.shape` vaut `{shape(x['shape'], lang)}` : chaque image fait **{h} × {w}** "
                      f"pixels ({integer(h * w, lang)} valeurs), type `{x['dtype']}` (entiers de {x['min']} à "
                      f"{x['max']}). Après `x_train / 255.0` du TP, ce sont des flottants entre 0 et 1 (float64 avec "
                      "NumPy ; `astype('float32')` donne le type de calcul de Keras).",
                      f"Measured: `x_train.shape` is `{shape(x['shape'], lang)}`: each image is **{h} × {w}** pixels "
                      f"({integer(h * w, lang)} values), type `{x['dtype']}` (integers from {x['min']} to {x['max']}). "
                      "After the lab's `x_train / 255.0` they are floats between 0 and 1 (float64 with NumPy; "
                      "`astype('float32')` gives Keras' compute type).")], [where("manifest.json", "data.mnist")])


@measure
def q_n_train(run: Run, lang: str) -> Answer:
    f = data_facts(run, "mnist")
    if "x_train" not in f:
        return Answer([missing(run, lang, "ex1")])
    p = [tr(lang,
            f"Nous mesurons : **{integer(f['x_train']['shape'][0], lang)}** images d'entraînement "
            f"(`y_train.shape` = `{shape(f['y_train']['shape'], lang)}`) et {integer(f['x_test']['shape'][0], lang)} "
            "images de test.",
            f"Measured: **{integer(f['x_train']['shape'][0], lang)}** training images (`y_train.shape` = "
            f"`{shape(f['y_train']['shape'], lang)}`) and {integer(f['x_test']['shape'][0], lang)} test images.")]
    src = [where("manifest.json", "data.mnist")]
    m = maybe(run, "ex1")
    if m and m.get("n_train") != f["x_train"]["shape"][0]:
        p.append(tr(lang, f"Nous n'en avons utilisé que {integer(m['n_train'], lang)} (réglage `train_limit`).",
                    f"This run used only {integer(m['n_train'], lang)} of them (`train_limit` setting)."))
        src.append(where("ex1/metrics.json", "n_train"))
    return Answer(p, src)


@measure
def q_n_images_shown(run: Run, lang: str) -> Answer:
    exp = run.step("ex1").exp
    if exp is None:
        return Answer([])
    r, c = exp.samples_grid
    return Answer([tr(lang, f"Ici la grille est de {r} × {c}, soit {r * c} images.",
                      f"Here the grid is {r} × {c}, so {r * c} images.")], [where("ex1/config.json", "samples_grid")])


@measure
def todo_identify(run: Run, lang: str, dataset: str = "mnist", step: str = "ex1") -> Answer:
    f = data_facts(run, dataset)
    s = run.step(step)
    grid = (s.config or {}).get("samples_grid") or [2, 5]
    shown = grid[0] * grid[1]
    labels = f.get("first_train_labels")
    if not labels:
        return Answer([missing(run, lang, step)])
    names = class_names(dataset, lang)
    labels = labels[:shown]
    items = [str(v) if names[v] == str(v) else f"{v} ({names[v]})" for v in labels]
    return Answer([tr(lang,
                      f"Les {len(items)} premières images d'entraînement portent les labels {listing(items, lang)} "
                      "(figure ci-dessus, de gauche à droite puis ligne par ligne).",
                      f"The first {len(items)} training images carry the labels {listing(items, lang)} (figure above, "
                      "left to right, row by row).")],
                  [where("manifest.json", f"data.{dataset}") + " (first_train_labels)"])


@measure
def todo_check(run: Run, lang: str) -> Answer:
    f = run.data_facts("mnist")
    p = [tr(lang,
            "Sur la figure, chaque titre est `y_train[i]` et chaque image `x_train[i]`, lus au même indice : nous "
            "avons comparé chaque chiffre dessiné à son label.",
            "In the figure each title is `y_train[i]` and each image `x_train[i]`, read at the same index: we "
            "compared each drawn digit with its label.")]
    if f.get("verified") is True:
        p.append(tr(lang,
                    "Nous avons aussi comparé l'empreinte SHA-256 de chacun des quatre tableaux chargés à celle du jeu "
                    "publié : elles sont identiques, ce sont donc les images et les labels d'origine, alignés.",
                    "We also compared the SHA-256 digest of each of the four loaded arrays with the published data "
                    "set's: they are identical, so these are the original images and labels, aligned."))
        return Answer(p, [where("manifest.json", "data.mnist.verified")])
    if f.get("verified") is False:
        diff = [d for d in f.get("differing") or [] if isinstance(d, str)]
        which = (tr(lang, f" (pour {listing([f'`{d}`' for d in diff], lang)})",
                    f" (for {listing([f'`{d}`' for d in diff], lang)})") if diff else "")
        p.append(tr(lang, f"Attention : l'empreinte SHA-256 des données chargées diffère de celle du jeu publié{which} "
                          ": ce ne sont pas les données d'origine, et un label peut ne pas correspondre à son image.",
                    f"Warning: the SHA-256 digest of the loaded data differs from the published data set's{which}: "
                    "these are not the original data, and a label may not match its image."))
        return Answer(p, [where("manifest.json", "data.mnist.verified")])
    return Answer(p)


@measure
def q_params(run: Run, lang: str) -> Answer:
    m = maybe(run, "ex1")
    if not m or "params" not in m:
        return Answer([missing(run, lang, "ex1")])
    rows = []
    for layer, formula in quantities.layer_formula(m.get("layers", [])):
        rows.append(f"`{layer['name']}` ({layer['type']}) : {integer(layer['params'], lang)}"
                    + (f" = {formula}" if formula else "") if lang == "fr" else
                    f"`{layer['name']}` ({layer['type']}): {integer(layer['params'], lang)}"
                    + (f" = {formula}" if formula else ""))
    return Answer([tr(lang, f"**{integer(m['params'], lang)}** paramètres entraînables, soit : ",
                      f"**{integer(m['params'], lang)}** trainable parameters: ") + "; ".join(rows) + ".",
                   tr(lang, "`model.summary()` affiche aussi les paramètres de l'optimiseur (Adam garde deux moyennes "
                            "par poids) une fois le modèle entraîné ; ils ne font pas partie du modèle.",
                      "`model.summary()` also shows the optimizer's parameters (Adam keeps two averages per weight) "
                      "once the model has trained; they are not part of the model.")],
                  [where("ex1/metrics.json", "params", "layers")])


@measure
def q_softmax_output(run: Run, lang: str) -> Answer:
    p = []
    s = run.step("ex1")
    probs = quantities.probabilities(s)
    if probs is not None:
        sums = probs.sum(axis=1)
        p.append(tr(lang,
                    f"Nous le vérifions sur les {integer(len(probs), lang)} prédictions de test : chaque ligne somme à "
                    f"{num(float(sums.mean()), lang)} (écart maximal {num(float(np.abs(sums - 1).max()), lang, 7)}) ; "
                    "la probabilité de la classe choisie vaut en moyenne "
                    f"{num(float(probs.max(axis=1).mean()), lang)}.",
                    f"Measured on the {integer(len(probs), lang)} test predictions: every row sums to "
                    f"{num(float(sums.mean()), lang)} (largest deviation "
                    f"{num(float(np.abs(sums - 1).max()), lang, 7)}); "
                    f"the chosen class has probability {num(float(probs.max(axis=1).mean()), lang)} on average."))
        return Answer(p, ["ex1/test_probabilities.npy"])
    return Answer(p)


@measure
def q_optimizer(run: Run, lang: str) -> Answer:
    exp, m = run.step("ex1").exp, maybe(run, "ex1")
    if exp is None or m is None:
        return Answer([])
    steps = quantities.steps_per_epoch(m["n_train"], exp.batch_size)
    return Answer([tr(lang, f"Ici : `{exp.optimizer}`, taux d'apprentissage {general(exp.learning_rate, lang)}, soit "
                            f"{integer(steps, lang)} mises à jour par époque ({integer(m['n_train'], lang)} images / "
                            f"lots de {exp.batch_size}).",
                      f"Here: `{exp.optimizer}`, learning rate {general(exp.learning_rate, lang)}, that is "
                      f"{integer(steps, lang)} updates per epoch ({integer(m['n_train'], lang)} images / batches of "
                      f"{exp.batch_size}).")],
                  [where("ex1/config.json", "optimizer", "learning_rate", "batch_size"),
                   where("ex1/metrics.json", "n_train")])


@measure
def q_why_loss(run: Run, lang: str) -> Answer:
    c = quantities.step_curve(run.step("ex1"))
    return Answer([tr(lang, f"Ici, la perte d'entraînement passe de {num(c.first_loss, lang)} (époque 1) à "
                            f"{num(c.last_loss, lang)} (époque {c.epochs}).",
                      f"Here, training loss goes from {num(c.first_loss, lang)} (epoch 1) to "
                      f"{num(c.last_loss, lang)} (epoch {c.epochs}).")] if c else [], ["ex1/history.csv"] if c else [])


@measure
def q_change_loss(run: Run, lang: str) -> Answer:
    p, sources = [], []
    for name in ("ext.ex1_categorical_loss", "ext.ex1_mse_loss"):
        if not run.done(name):
            continue
        if run.done("ex1"):
            text, more = compare(run, lang, name, "ex1")
            p.append(tr(lang, "Nous obtenons en précision de test : ", "Measured, test accuracy: ") + lower(text) + ".")
            sources += more
        else:
            m = need(run, name)
            p.append(f"{label(name, lang)} : {acc(m['test_accuracy'], lang)}.")
    if not p:
        return Answer([study_missing(lang, "ext.ex1_categorical_loss", "ext.ex1_mse_loss")])
    if run.done("ext.ex1_mse_loss"):
        p.append(tr(lang, "La perte de l'erreur quadratique ne se compare pas à celle de l'entropie croisée (autre "
                          "échelle) : seule la précision se compare.",
                    "The squared error's loss does not compare with cross-entropy's (another scale): only the "
                    "accuracy compares."))
    return Answer(p, sources)


@measure
def q_bad_optimizer(run: Run, lang: str) -> Answer:
    p, sources = [], []
    for name in ("ext.ex1_sgd", "ext.ex1_lr_too_high"):
        s = run.done(name)
        if s is None:
            continue
        exp = s.exp
        how = tr(lang, f"`{exp.optimizer}` au taux {general(exp.learning_rate, lang)}",
                 f"`{exp.optimizer}` at rate {general(exp.learning_rate, lang)}") if exp else label(name, lang)
        if s.metrics.get("diverged"):
            p.append(tr(lang, f"Avec {how}, l'entraînement a divergé et a été arrêté "
                              f"({s.metrics.get('reason', '')}).",
                        f"Measured with {how}: training diverged and was stopped ({s.metrics.get('reason', '')})."))
            sources.append(where(f"{name}/metrics.json", "diverged", "reason"))
        elif run.done("ex1"):
            text, more = compare(run, lang, name, "ex1")
            p.append(tr(lang, f"Avec {how}, nous obtenons en précision de test : ",
                              f"Measured with {how}, test accuracy: ")
                     + lower(text) + tr(lang, " ; perte finale d'entraînement ", "; final training loss ")
                     + num(s.metrics.get("final_loss"), lang) + ".")
            sources += more
    if not p:
        return Answer([study_missing(lang, "ext.ex1_sgd", "ext.ex1_lr_too_high")])
    return Answer(p, sources)


@measure
def q_loss_vs_metrics(run: Run, lang: str) -> Answer:
    p = []
    h = run.step("ex1").history
    if h and h.get("val_loss") and h.get("val_accuracy"):
        vl, va = h["val_loss"], h["val_accuracy"]
        step = run.step("ex1")
        n_val, se = quantities.validation_size(step), quantities.loss_se(step)
        # an epoch where the loss rises AND the accuracy rises, each beyond two standard errors (the judge)
        both = [i + 2 for i in range(min(len(vl), len(va)) - 1)
                if judge.losses(vl[i + 1], vl[i], se).finding and vl[i + 1] > vl[i]
                and judge.accuracies(va[i + 1], va[i], n_val).verdict == "higher"]
        if both:
            e = both[0]
            p.append(tr(lang,
                        f"Nous mesurons : à l'époque {e}, la perte de validation monte ({num(vl[e - 2], lang)} → "
                        f"{num(vl[e - 1], lang)}) alors que la précision de validation monte aussi "
                        f"({acc(va[e - 2], lang)} → {acc(va[e - 1], lang)}).",
                        f"Measured: at epoch {e}, validation loss rises ({num(vl[e - 2], lang)} → "
                        f"{num(vl[e - 1], lang)}) "
                        f"while validation accuracy rises too ({acc(va[e - 2], lang)} → {acc(va[e - 1], lang)})."))
        else:
            p.append(tr(lang,
                        f"Nous mesurons : à la dernière époque, perte de validation {num(vl[-1], lang)} et "
                        f"précision de validation {acc(va[-1], lang)} ; d'une époque à l'autre, nous ne voyons pas "
                        "la perte et la précision monter ensemble au-delà du bruit.",
                        f"Measured: at the last epoch, validation loss {num(vl[-1], lang)} and validation "
                        f"accuracy {acc(va[-1], lang)}; from one epoch to the next we do not see loss and accuracy "
                        "rise together beyond the noise."))
        return Answer(p, ["ex1/history.csv"])
    return Answer(p)
