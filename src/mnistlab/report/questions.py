"""Every question of the lab, quoted, with an answer in French and English.

An answer states what the lab's reasoning is and, where the run can measure it, the measurement and the
artifact it comes from. "What if" questions (50 epochs, another loss, another optimizer) are answered by
the extended studies (``mnistlab run --extended``) when the run holds them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mnistlab.i18n import class_names
from mnistlab.report import facts
from mnistlab.report.artifacts import Run
from mnistlab.report.fmt import general, integer, listing, num, pct, points, seconds, shape, tr


@dataclass
class Answer:
    """Paragraphs (inline `code` and **bold** allowed) and the artifacts the numbers come from."""

    paragraphs: list[str]
    sources: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Question:
    key: str  # "ex1.4.1": exercise, section, number
    section: str  # "ex1.4"
    label: str  # "1", "2", ... or "À faire" items: "a", "b"
    fr: str  # the lab's words
    en: str  # an English translation
    answer: Callable[[Run, str], Answer]
    todo: bool = False  # an "À faire" / "À observer" item rather than a numbered question


SECTIONS = {
    "ex1.1": ("1. Import des bibliothèques", "1. Importing the libraries"),
    "ex1.2": ("2. Chargement et préparation du dataset", "2. Loading and preparing the data set"),
    "ex1.3": ("3. Visualisation d'échantillons", "3. Looking at samples"),
    "ex1.4": ("4. Construction du modèle de réseau de neurones", "4. Building the neural network"),
    "ex1.5": ("5. Compilation du modèle", "5. Compiling the model"),
    "ex1.6": ("6. Entraînement du modèle", "6. Training the model"),
    "ex1.7": ("7. Évaluation du modèle", "7. Evaluating the model"),
    "ex1.8": ("8. Visualisation des performances", "8. Plotting the performance"),
    "ex1.9": ("9. Prédiction et visualisation", "9. Predictions"),
    "ex2.1": ("Étape 1 – Exploration du jeu de données", "Step 1 – Exploring the data set"),
    "ex2.2": ("Étape 2 – Prétraitement des données", "Step 2 – Preprocessing"),
    "ex2.3": ("Étape 3 – Création d'un modèle dense (ANN)", "Step 3 – A dense model (ANN)"),
    "ex2.4": ("Étape 4 — Introduction aux Fonctions d'Activation", "Step 4 — Activation functions"),
    "ex2.5": ("Étape 5 : Modèle CNN (Convolutional Neural Network)", "Step 5 – A convolutional network (CNN)"),
    "ex2.6": ("Étape 6 — Visualisation des performances", "Step 6 — Looking at the performance"),
    "ex2.7": ("Étape 7 : Data Augmentation", "Step 7 – Data augmentation"),
}

# The step of the run each section's measurements come from.
SECTION_STEP = {**{f"ex1.{i}": "ex1" for i in range(1, 10)},
                "ex2.1": "ex2.ann", "ex2.2": "ex2.ann", "ex2.3": "ex2.ann", "ex2.4": "ex2.activations",
                "ex2.5": "ex2.cnn", "ex2.6": "ex2.confusion", "ex2.7": "ex2.augment"}


# --- helpers ------------------------------------------------------------------------------------------------


def _m(run: Run, name: str) -> dict | None:
    s = run.done(name)
    return s.metrics if s else None


def _missing(run: Run, lang: str, *names: str) -> str:
    """A sentence saying which step's results are missing and why."""
    parts = []
    for name in names:
        status = run.step(name).status
        parts.append(f"`{name}` ({_status_word(status, lang)})")
    return tr(lang, "Non mesuré dans ce run : pas de résultats pour ", "Not measured in this run: no results for ") \
        + listing(parts, lang) + "."


def _status_word(status: str, lang: str) -> str:
    words = {"not run": ("pas lancée", "not run"), "interrupted": ("interrompue", "interrupted"),
             "failed": ("échec", "failed"), "running": ("en cours", "running"),
             "incomplete": ("inachevée", "incomplete"), "complete": ("terminée", "complete"),
             "diverged": ("divergé", "diverged"), "skipped": ("sautée", "skipped")}
    fr, en = words.get(status, (status, status))
    return tr(lang, fr, en)


def _ext_missing(lang: str, *names: str) -> str:
    studies = listing([f"`{n}`" for n in names], lang)
    if len(names) > 1:
        return tr(lang,
                  f"Pas mesuré dans ce run : les études complémentaires {studies} n'y figurent pas. "
                  "`mnistlab run --extended` les lance avec le TP, ou `mnistlab run ext --out DOSSIER_DU_RUN` "
                  "les ajoute à ce run.",
                  f"Not measured in this run: it holds no {studies} studies. `mnistlab run --extended` runs them "
                  "with the lab, or `mnistlab run ext --out RUN_FOLDER` adds them to this run.")
    return tr(lang,
              f"Pas mesuré dans ce run : l'étude complémentaire {studies} n'y figure pas. "
              "`mnistlab run --extended` la lance avec le TP, ou `mnistlab run ext --out DOSSIER_DU_RUN` "
              "l'ajoute à ce run.",
              f"Not measured in this run: it holds no {studies} study. `mnistlab run --extended` runs it with "
              "the lab, or `mnistlab run ext --out RUN_FOLDER` adds it to this run.")


def _src(path: str, *keys: str) -> str:
    return f"{path} ({', '.join(keys)})" if keys else path


def _acc(x: float | None, lang: str) -> str:
    return num(x, lang, 4)


def _dense_units(layers: list[dict]) -> str:
    return " → ".join(f"{l_['type']}({l_['output_shape'][-1]})" if l_.get("output_shape") else l_["type"]
                      for l_ in layers)


def _lower(s: str) -> str:
    return s[:1].lower() + s[1:]


def _overfit_sentence(c: facts.Curve, lang: str) -> str:
    if c.best_val_loss_epoch is None:
        return ""
    if c.overfits:
        falls = c.loss_at_best is not None and c.last_loss is not None and c.last_loss < c.loss_at_best
        train = (tr(lang, f", alors que la perte d'entraînement continue de baisser ({num(c.loss_at_best, lang)} → "
                          f"{num(c.last_loss, lang)})", f", while training loss keeps falling "
                          f"({num(c.loss_at_best, lang)} → {num(c.last_loss, lang)})") if falls else "")
        return tr(lang,
                  f"La perte de validation est minimale à l'époque {c.best_val_loss_epoch} "
                  f"({num(c.best_val_loss, lang)}) puis remonte jusqu'à {num(c.last_val_loss, lang)} à l'époque "
                  f"{c.epochs} (+{num(c.last_val_loss - c.best_val_loss, lang)}){train} : "
                  f"premier signe de surapprentissage, à partir de l'époque {c.best_val_loss_epoch}.",
                  f"Validation loss is lowest at epoch {c.best_val_loss_epoch} ({num(c.best_val_loss, lang)}) and "
                  f"rises to {num(c.last_val_loss, lang)} by epoch {c.epochs} "
                  f"(+{num(c.last_val_loss - c.best_val_loss, lang)}){train}: the first sign of overfitting, from "
                  f"epoch {c.best_val_loss_epoch} on.")
    return tr(lang,
              f"La perte de validation est encore à son minimum à la dernière époque ({c.epochs}, "
              f"{num(c.best_val_loss, lang)}) : pas de surapprentissage visible sur ces {c.epochs} époques.",
              f"Validation loss is still at its lowest at the last epoch ({c.epochs}, {num(c.best_val_loss, lang)}): "
              f"no visible overfitting over these {c.epochs} epochs.")


def _curve_sentence(c: facts.Curve, lang: str) -> str:
    rise = tr(lang, "augmente à chaque époque" if c.acc_rises else "augmente globalement",
              "rises every epoch" if c.acc_rises else "rises overall")
    if c.val_acc_rises:
        val = tr(lang, "suit la même tendance, sans baisse", "follows the same trend, never falling")
    else:
        val = tr(lang, f"suit la tendance mais baisse aux époques {listing([str(e) for e in c.val_acc_drops], lang)}",
                 f"follows the trend but falls at epochs {listing([str(e) for e in c.val_acc_drops], lang)}")
    return tr(lang,
              f"La précision d'entraînement {rise} ({_acc(c.first_acc, lang)} → {_acc(c.last_acc, lang)}) ; "
              f"la précision de validation {val} ({_acc(c.first_val_acc, lang)} → {_acc(c.last_val_acc, lang)}). "
              f"Écart entraînement − validation à la dernière époque : {points(c.last_gap, lang)}.",
              f"Training accuracy {rise} ({_acc(c.first_acc, lang)} → {_acc(c.last_acc, lang)}); validation "
              f"accuracy {val} ({_acc(c.first_val_acc, lang)} → {_acc(c.last_val_acc, lang)}). Train − validation "
              f"gap at the last epoch: {points(c.last_gap, lang)}.")


def _data_facts(run: Run, dataset: str) -> dict:
    """Shapes and dtypes of a data set, as the manifest recorded them."""
    return dict(run.data_facts(dataset))


def _data_src(f: dict, dataset: str) -> str:
    return f["_from"] if "_from" in f else _src("manifest.json", f"data.{dataset}")


# --- Exercise 1 ---------------------------------------------------------------------------------------------


def q_tf_keras(run: Run, lang: str) -> Answer:
    v = run.manifest.get("versions") or {}
    p = [tr(lang,
            "TensorFlow est le moteur : il manipule les tenseurs, calcule les gradients automatiquement et exécute "
            "les calculs sur CPU ou GPU. Keras est l'interface de haut niveau posée dessus : on y décrit des couches "
            "et des modèles, puis `compile`, `fit`, `evaluate` font le reste. Depuis Keras 3, Keras est un paquet "
            "séparé qui peut tourner sur plusieurs moteurs (TensorFlow, JAX, PyTorch) ; `tf.keras` y renvoie.",
            "TensorFlow is the engine: it handles tensors, computes gradients automatically and runs the "
            "computation on CPU or GPU. Keras is the high-level interface on top: you describe layers and models, "
            "and `compile`, `fit`, `evaluate` do the rest. Since Keras 3, Keras is a separate package that can run "
            "on several engines (TensorFlow, JAX, PyTorch); `tf.keras` points to it.")]
    src = []
    if v.get("keras"):
        p.append(tr(lang, f"Dans ce run : Keras {v['keras']} sur le moteur `{v.get('backend', '?')}`"
                          + (f" (TensorFlow {v['tensorflow']})." if v.get("tensorflow") else "."),
                    f"In this run: Keras {v['keras']} on the `{v.get('backend', '?')}` backend"
                    + (f" (TensorFlow {v['tensorflow']})." if v.get("tensorflow") else ".")))
        src.append(_src("manifest.json", "versions"))
    return Answer(p, src)


def q_flatten(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "`Flatten` transforme chaque image 2D en un vecteur 1D, car une couche `Dense` attend un vecteur. "
            "Elle ne fait que réarranger les pixels : elle n'a aucun paramètre à apprendre.",
            "`Flatten` turns each 2D image into a 1D vector, because a `Dense` layer expects a vector. It only "
            "rearranges the pixels: it has no parameter to learn.")]
    m = _m(run, "ex1")
    layer = next((l_ for l_ in (m or {}).get("layers", []) if l_.get("type") == "Flatten"), None)
    if layer is None:
        return Answer(p + [_missing(run, lang, "ex1")])
    p.append(tr(lang, f"Mesuré : la couche `{layer['name']}` sort un vecteur de "
                      f"{integer(layer['output_shape'][-1], lang)}"
                      f" valeurs et a {integer(layer['params'], lang)} paramètre.",
                f"Measured: layer `{layer['name']}` outputs a vector of {integer(layer['output_shape'][-1], lang)} "
                f"values and has {integer(layer['params'], lang)} parameters."))
    return Answer(p, [_src("ex1/metrics.json", "layers")])


def q_tf_version(run: Run, lang: str) -> Answer:
    v = run.manifest.get("versions") or {}
    if not v.get("tensorflow"):
        return Answer([tr(lang, "Le manifeste de ce run n'indique pas de version de TensorFlow "
                                f"(moteur : {v.get('backend', 'inconnu')}).",
                          "This run's manifest records no TensorFlow version "
                          f"(backend: {v.get('backend', 'unknown')}).")], [_src("manifest.json", "versions")])
    return Answer([tr(lang,
                      f"TensorFlow **{v['tensorflow']}** (avec Keras {v.get('keras', '?')}, Python "
                      f"{v.get('python', '?')}, NumPy {v.get('numpy', '?')}), tel que `tf.__version__` l'affiche "
                      "sur la machine qui a fait ce run.",
                      f"TensorFlow **{v['tensorflow']}** (with Keras {v.get('keras', '?')}, Python "
                      f"{v.get('python', '?')}, NumPy {v.get('numpy', '?')}), as `tf.__version__` prints it on the "
                      "machine that made this run.")], [_src("manifest.json", "versions")])


def q_sequential_dense(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "`Sequential` empile des couches en une chaîne linéaire : la sortie de l'une est l'entrée de la "
            "suivante. `Dense` est une couche entièrement connectée : chaque neurone reçoit toutes les entrées et "
            "calcule `activation(W·x + b)`, avec une matrice de poids W et un biais b appris.",
            "`Sequential` stacks layers into a linear chain: each one's output is the next one's input. `Dense` is "
            "a fully connected layer: every neuron sees every input and computes `activation(W·x + b)`, with a "
            "learned weight matrix W and bias b.")]
    m = _m(run, "ex1")
    if m and m.get("layers"):
        dense = [(l_, f) for l_, f in facts.layer_formula(m["layers"]) if l_.get("type") == "Dense" and f]
        if dense:
            items = [f"`{l_['name']}` : {integer(l_['params'], lang)} = {f}" if lang == "fr"
                     else f"`{l_['name']}`: {integer(l_['params'], lang)} = {f}" for l_, f in dense]
            p.append(tr(lang, "Mesuré (entrées × neurones + biais) : ", "Measured (inputs × units + biases): ")
                     + "; ".join(items) + ".")
            return Answer(p, [_src("ex1/metrics.json", "layers")])
    return Answer(p)


def q_normalize(run: Run, lang: str, dataset: str = "mnist", step: str = "ex1") -> Answer:
    p = [tr(lang,
            "Les pixels bruts vont de 0 à 255. Les ramener entre 0 et 1 met toutes les entrées à la même petite "
            "échelle : les sommes pondérées de départ restent modérées, les gradients sont bien dimensionnés et le "
            "taux d'apprentissage par défaut convient, donc l'entraînement converge plus vite et plus sûrement.",
            "Raw pixels go from 0 to 255. Bringing them into 0-1 puts every input on the same small scale: the "
            "initial weighted sums stay moderate, gradients are well sized and the default learning rate fits, so "
            "training converges faster and more reliably.")]
    f = _data_facts(run, dataset)
    if "x_train" in f:
        x = f["x_train"]
        p.append(tr(lang, f"Mesuré : les pixels de `x_train` sont des `{x['dtype']}` de {x['min']} à {x['max']}.",
                    f"Measured: the pixels of `x_train` are `{x['dtype']}` from {x['min']} to {x['max']}."))
        return Answer(p, [_data_src(f, dataset)])
    return Answer(p)


def q_image_size(run: Run, lang: str) -> Answer:
    f = _data_facts(run, "mnist")
    if "x_train" not in f:
        return Answer([tr(lang, "Une image fait 28 × 28 pixels en niveaux de gris, codés en entiers de 0 à 255.",
                          "An image is 28 × 28 grey-level pixels, stored as integers from 0 to 255."),
                       _missing(run, lang, "ex1")])
    x = f["x_train"]
    h, w = x["shape"][1:3]
    return Answer([tr(lang,
                      f"Mesuré : `x_train.shape` vaut `{shape(x['shape'], lang)}` : chaque image fait **{h} × {w}** "
                      f"pixels ({integer(h * w, lang)} valeurs), type `{x['dtype']}` (entiers de {x['min']} à "
                      f"{x['max']}). Après `x_train / 255.0` du TP, ce sont des flottants entre 0 et 1 (float64 avec "
                      "NumPy ; mnistlab utilise float32, le type de calcul de Keras).",
                      f"Measured: `x_train.shape` is `{shape(x['shape'], lang)}`: each image is **{h} × {w}** pixels "
                      f"({integer(h * w, lang)} values), type `{x['dtype']}` (integers from {x['min']} to {x['max']}). "
                      "After the lab's `x_train / 255.0` they are floats between 0 and 1 (float64 with NumPy; "
                      "mnistlab uses float32, Keras' compute type).")], [_data_src(f, "mnist")])


def q_n_train(run: Run, lang: str) -> Answer:
    f = _data_facts(run, "mnist")
    if "x_train" not in f:
        return Answer([_missing(run, lang, "ex1")])
    p = [tr(lang,
            f"Mesuré : **{integer(f['x_train']['shape'][0], lang)}** images d'entraînement "
            f"(`y_train.shape` = `{shape(f['y_train']['shape'], lang)}`) et {integer(f['x_test']['shape'][0], lang)} "
            "images de test.",
            f"Measured: **{integer(f['x_train']['shape'][0], lang)}** training images (`y_train.shape` = "
            f"`{shape(f['y_train']['shape'], lang)}`) and {integer(f['x_test']['shape'][0], lang)} test images.")]
    src = [_data_src(f, "mnist")]
    m = _m(run, "ex1")
    if m and m.get("n_train") != f["x_train"]["shape"][0]:
        p.append(tr(lang, f"Ce run n'en a utilisé que {integer(m['n_train'], lang)} (réglage `train_limit`).",
                    f"This run used only {integer(m['n_train'], lang)} of them (`train_limit` setting)."))
        src.append(_src("ex1/metrics.json", "n_train"))
    return Answer(p, src)


def q_n_images_shown(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Le nombre d'images vient de `range(10)` et de la grille `plt.subplot(2, 5, i + 1)` (2 lignes, "
            "5 colonnes) : pour en afficher 20, `range(20)` et `plt.subplot(4, 5, i + 1)` (et une figure plus "
            "haute avec `figsize`).",
            "The number of images comes from `range(10)` and the grid `plt.subplot(2, 5, i + 1)` (2 rows, 5 columns): "
            "to show 20, use `range(20)` and `plt.subplot(4, 5, i + 1)` (and a taller `figsize`).")]
    s = run.step("ex1")
    if s.config and s.config.get("samples_grid"):
        r, c = s.config["samples_grid"]
        p.append(tr(lang, f"Dans mnistlab, c'est le réglage `samples_grid` (ici `[{r}, {c}]`, soit {r * c} images) : "
                          "`mnistlab run ex1 --set samples_grid=[4,5]`.",
                    f"In mnistlab it is the `samples_grid` setting (here `[{r}, {c}]`, so {r * c} images): "
                    "`mnistlab run ex1 --set samples_grid=[4,5]`."))
        return Answer(p, [_src("ex1/config.json", "samples_grid")])
    return Answer(p)


def q_cmap(run: Run, lang: str) -> Answer:
    return Answer([tr(lang,
                      "`cmap='gray'` choisit la palette de couleurs : une image à un seul canal est affichée en "
                      "niveaux de gris (0 noir, valeur maximale blanc). Sans elle, matplotlib applique sa palette par "
                      "défaut (viridis) et les chiffres apparaissent en fausses couleurs violet-jaune.",
                      "`cmap='gray'` picks the colour map: a single-channel image is shown in grey levels (0 black, "
                      "the maximum white). Without it matplotlib uses its default map (viridis) and the digits show "
                      "in false purple-yellow colours.")])


def q_why_look(run: Run, lang: str) -> Answer:
    return Answer([tr(lang,
                      "Regarder les données avant d'entraîner vérifie qu'elles sont bien chargées (bonne forme, pas "
                      "d'image vide ou tournée), que chaque label correspond à son image, et donne une idée de la "
                      "difficulté. Une erreur de chargement ou de labels ne se voit pas dans la perte : le modèle "
                      "apprendrait alors n'importe quoi sans message d'erreur.",
                      "Looking at the data before training checks it loaded right (right shape, no blank or rotated "
                      "image), that each label matches its image, and gives an idea of the difficulty. A loading or "
                      "labelling bug does not show in the loss: the model would learn nonsense without any error.")])


def todo_identify(run: Run, lang: str, dataset: str = "mnist", step: str = "ex1") -> Answer:
    f = _data_facts(run, dataset)
    s = run.step(step)
    grid = (s.config or {}).get("samples_grid") or [2, 5]
    shown = grid[0] * grid[1]
    labels = f.get("first_train_labels")
    if not labels:
        return Answer([_missing(run, lang, step)])
    names = class_names(dataset, lang)
    labels = labels[:shown]
    items = [str(v) if names[v] == str(v) else f"{v} ({names[v]})" for v in labels]
    return Answer([tr(lang,
                      f"Les {len(items)} premières images d'entraînement portent les labels {listing(items, lang)} "
                      "(figure ci-dessus, de gauche à droite puis ligne par ligne).",
                      f"The first {len(items)} training images carry the labels {listing(items, lang)} (figure above, "
                      "left to right, row by row).")],
                  [_data_src(f, dataset) + " (first_train_labels)"])


def todo_check(run: Run, lang: str) -> Answer:
    f = run.data_facts("mnist")
    p = [tr(lang,
            "Sur la figure, chaque titre est `y_train[i]` et chaque image `x_train[i]`, lus au même indice : "
            "le lecteur peut comparer chiffre dessiné et label.",
            "In the figure each title is `y_train[i]` and each image `x_train[i]`, read at the same index: the reader "
            "can compare the drawn digit with its label.")]
    if f.get("verified") is True:
        p.append(tr(lang,
                    "Contrôle automatique : le contenu des fichiers d'images et de labels a été vérifié contre les "
                    "empreintes SHA-256 du jeu publié avant l'entraînement (`verified: true`) : ce sont les fichiers "
                    "d'origine, donc alignés.",
                    "Automatic check: the content of the image and label files was checked against the published "
                    "data set's SHA-256 digests before training (`verified: true`): they are the original files, "
                    "hence aligned."))
        return Answer(p, [_src("manifest.json", "data.mnist.verified")])
    if f.get("verified") is False:
        p.append(tr(lang, "Attention : ce run a utilisé des données qui diffèrent du jeu publié (`verified: false`).",
                    "Warning: this run used data that differs from the published data set (`verified: false`)."))
        return Answer(p, [_src("manifest.json", "data.mnist.verified")])
    return Answer(p)


def q_params(run: Run, lang: str) -> Answer:
    m = _m(run, "ex1")
    if not m or "params" not in m:
        return Answer([_missing(run, lang, "ex1")])
    rows = []
    for layer, formula in facts.layer_formula(m.get("layers", [])):
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
                  [_src("ex1/metrics.json", "params", "layers")])


def q_softmax_output(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "La couche de sortie utilise **softmax** : elle transforme les 10 scores en probabilités positives "
            "dont la somme vaut 1, une par classe. C'est ce qu'attend l'entropie croisée, et la classe prédite est "
            "celle de plus grande probabilité (`argmax`).",
            "The output layer uses **softmax**: it turns the 10 scores into positive probabilities that sum to 1, "
            "one per class. That is what cross-entropy expects, and the predicted class is the most probable one "
            "(`argmax`).")]
    s = run.step("ex1")
    probs = facts.probabilities(s)
    if probs is not None:
        sums = probs.sum(axis=1)
        p.append(tr(lang,
                    f"Mesuré sur les {integer(len(probs), lang)} prédictions de test : chaque ligne somme à "
                    f"{num(float(sums.mean()), lang)} (écart maximal {num(float(np.abs(sums - 1).max()), lang, 7)}) ; "
                    "la probabilité de la classe choisie vaut en moyenne "
                    f"{num(float(probs.max(axis=1).mean()), lang)}.",
                    f"Measured on the {integer(len(probs), lang)} test predictions: every row sums to "
                    f"{num(float(sums.mean()), lang)} (largest deviation "
                    f"{num(float(np.abs(sums - 1).max()), lang, 7)}); "
                    f"the chosen class has probability {num(float(probs.max(axis=1).mean()), lang)} on average."))
        return Answer(p, ["ex1/test_probabilities.npy"])
    return Answer(p)


def q_relu_softmax(run: Run, lang: str) -> Answer:
    return Answer([tr(lang,
                      "ReLU, `max(0, x)`, agit sur chaque neurone séparément : elle laisse passer les valeurs "
                      "positives et annule les négatives ; elle sert dans les couches cachées pour apporter la "
                      "non-linéarité, sans saturer pour x > 0. Softmax agit sur tout le vecteur de sortie : elle le "
                      "normalise en une distribution de probabilités sur les classes ; elle sert en sortie d'un "
                      "classifieur multiclasse.",
                      "ReLU, `max(0, x)`, acts on each neuron separately: it passes positive values and zeroes "
                      "negative ones; it is used in hidden layers to add non-linearity without saturating for x > 0. "
                      "Softmax acts on the whole output vector: it normalises it into a probability distribution over "
                      "the classes; it is used at the output of a multi-class classifier.")])


def q_optimizer(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Un optimiseur est l'algorithme qui met à jour les poids à partir des gradients de la perte, lot par "
            "lot. Adam adapte le pas de chaque poids à partir de moyennes mobiles des gradients et de leurs carrés.",
            "An optimizer is the algorithm that updates the weights from the gradients of the loss, batch by batch. "
            "Adam adapts each weight's step from running averages of the gradients and of their squares.")]
    s, m = run.step("ex1"), _m(run, "ex1")
    if s.config and m:
        c = s.config
        steps = facts.steps_per_epoch(m["n_train"], c["batch_size"])
        p.append(tr(lang,
                    f"Dans ce run : `{c['optimizer']}`, taux d'apprentissage {general(c['learning_rate'], lang)}, soit "
                    f"{integer(steps, lang)} mises à jour par époque ({integer(m['n_train'], lang)} images / lots de "
                    f"{c['batch_size']}).",
                    f"In this run: `{c['optimizer']}`, learning rate {general(c['learning_rate'], lang)}, that is "
                    f"{integer(steps, lang)} updates per epoch ({integer(m['n_train'], lang)} images / batches of "
                    f"{c['batch_size']})."))
        return Answer(p, [_src("ex1/config.json", "optimizer", "learning_rate", "batch_size"),
                          _src("ex1/metrics.json", "n_train")])
    return Answer(p)


def q_why_loss(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "La perte mesure, de façon dérivable, l'écart entre les prédictions et les vraies classes : c'est la "
            "quantité que l'optimiseur minimise, en suivant son gradient. La précision ne convient pas : elle change "
            "par sauts et son gradient est nul presque partout.",
            "The loss measures, in a differentiable way, how far predictions are from the true classes: it is what "
            "the optimizer minimises by following its gradient. Accuracy cannot play that role: it changes in jumps "
            "and its gradient is zero almost everywhere.")]
    c = facts.curve(run.step("ex1").history)
    if c:
        p.append(tr(lang, f"Dans ce run, la perte d'entraînement passe de {num(c.first_loss, lang)} (époque 1) à "
                          f"{num(c.last_loss, lang)} (époque {c.epochs}).",
                    f"In this run, training loss goes from {num(c.first_loss, lang)} (epoch 1) to "
                    f"{num(c.last_loss, lang)} (epoch {c.epochs})."))
        return Answer(p, ["ex1/history.csv"])
    return Answer(p)


def q_change_loss(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "La perte doit aller avec le format des labels et la sortie : `sparse_categorical_crossentropy` prend "
            "des labels entiers, `categorical_crossentropy` des vecteurs one-hot (lui donner des entiers est une "
            "erreur de forme). Changer pour une perte équivalente ne change rien ; changer pour une perte moins "
            "adaptée (l'erreur quadratique, faite pour la régression) apprend moins vite, et ses valeurs ne se "
            "comparent plus à celles de l'entropie croisée.",
            "The loss must match the label format and the output: `sparse_categorical_crossentropy` takes integer "
            "labels, `categorical_crossentropy` one-hot vectors (integers there are a shape error). Switching to an "
            "equivalent loss changes nothing; switching to a less suited one (squared error, made for regression) "
            "learns more slowly, and its values no longer compare with cross-entropy's.")]
    base = _m(run, "ex1")
    src = []
    got = False
    for name, what in (("ext.ex1_categorical_loss", ("categorical_crossentropy (one-hot)",) * 2),
                       ("ext.ex1_mse_loss", ("erreur quadratique moyenne", "mean squared error"))):
        m = _m(run, name)
        if not m:
            continue
        got = True
        cmp = ""
        if base:
            cmp = tr(lang, f" contre {_acc(base['test_accuracy'], lang)} pour ex1 "
                           f"({points(m['test_accuracy'] - base['test_accuracy'], lang)})",
                     f" against {_acc(base['test_accuracy'], lang)} for ex1 "
                     f"({points(m['test_accuracy'] - base['test_accuracy'], lang)})")
        p.append(tr(lang,
                    f"Mesuré avec {what[0]} (`{name}`) : précision de test {_acc(m['test_accuracy'], lang)}{cmp}, "
                    f"perte de test {num(m['test_loss'], lang)}.",
                    f"Measured with {what[1]} (`{name}`): test accuracy {_acc(m['test_accuracy'], lang)}{cmp}, test "
                    f"loss {num(m['test_loss'], lang)}."))
        src.append(_src(f"{name}/metrics.json", "test_accuracy", "test_loss"))
    if got and base:
        src.append(_src("ex1/metrics.json", "test_accuracy"))
    if not got:
        p.append(_ext_missing(lang, "ext.ex1_categorical_loss", "ext.ex1_mse_loss"))
    return Answer(p, src)


def q_bad_optimizer(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Un mauvais optimiseur ou un mauvais taux d'apprentissage ne donne pas d'erreur : il donne un modèle "
            "qui apprend trop lentement (pas trop petits, SGD sans élan), qui oscille, ou qui diverge (pas trop "
            "grands : perte qui explose, précision au niveau du hasard).",
            "A bad optimizer or learning rate raises no error: it gives a model that learns too slowly (steps too "
            "small, SGD without momentum), oscillates, or diverges (steps too large: exploding loss, chance-level "
            "accuracy).")]
    base = _m(run, "ex1")
    src, got = [], False
    for name in ("ext.ex1_sgd", "ext.ex1_lr_too_high"):
        m = _m(run, name)
        cfg = run.step(name).config or {}
        if not m:
            continue
        got = True
        if m.get("diverged"):
            p.append(tr(lang,
                        f"Mesuré avec `{cfg.get('optimizer')}` au taux {general(cfg.get('learning_rate'), lang)} "
                        f"(`{name}`) : l'entraînement a divergé, mnistlab l'a arrêté ({m.get('reason')}).",
                        f"Measured with `{cfg.get('optimizer')}` at rate {general(cfg.get('learning_rate'), lang)} "
                        f"(`{name}`): training diverged and mnistlab stopped it ({m.get('reason')})."))
            src.append(_src(f"{name}/metrics.json", "diverged", "reason"))
            continue
        cmp = tr(lang, f" contre {_acc(base['test_accuracy'], lang)} pour ex1 (Adam, taux "
                       f"{general((run.step('ex1').config or {}).get('learning_rate'), lang)})",
                 f" against {_acc(base['test_accuracy'], lang)} for ex1 (Adam, rate "
                 f"{general((run.step('ex1').config or {}).get('learning_rate'), lang)})") if base else ""
        p.append(tr(lang,
                    f"Mesuré avec `{cfg.get('optimizer')}` au taux {general(cfg.get('learning_rate'), lang)} "
                    f"(`{name}`) : "
                    f"précision de test {_acc(m['test_accuracy'], lang)}{cmp} ; perte finale d'entraînement "
                    f"{num(m.get('final_loss'), lang)}.",
                    f"Measured with `{cfg.get('optimizer')}` at rate {general(cfg.get('learning_rate'), lang)} "
                    f"(`{name}`): "
                    f"test accuracy {_acc(m['test_accuracy'], lang)}{cmp}; final training loss "
                    f"{num(m.get('final_loss'), lang)}."))
        src.append(_src(f"{name}/metrics.json", "test_accuracy", "final_loss"))
    if got and base:
        src.append(_src("ex1/metrics.json", "test_accuracy"))
    if not got:
        p.append(_ext_missing(lang, "ext.ex1_sgd", "ext.ex1_lr_too_high"))
    return Answer(p, src)


def q_loss_vs_metrics(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "La perte sert à entraîner : l'optimiseur en suit le gradient. Les métriques (ici `accuracy`) servent "
            "à nous : elles sont calculées et affichées mais n'influencent pas les poids. Elles ne bougent pas "
            "forcément ensemble : la perte tient compte de la confiance des prédictions, la précision seulement de "
            "la classe choisie.",
            "The loss is for training: the optimizer follows its gradient. Metrics (here `accuracy`) are for us: "
            "they are computed and shown but do not affect the weights. They need not move together: the loss "
            "accounts for how confident predictions are, accuracy only for the chosen class.")]
    h = run.step("ex1").history
    if h and h.get("val_loss") and h.get("val_accuracy"):
        vl, va = h["val_loss"], h["val_accuracy"]
        both = [i + 2 for i in range(len(vl) - 1) if vl[i + 1] > vl[i] and va[i + 1] > va[i]]
        if both:
            e = both[0]
            p.append(tr(lang,
                        f"Mesuré : à l'époque {e}, la perte de validation monte ({num(vl[e - 2], lang)} → "
                        f"{num(vl[e - 1], lang)}) alors que la précision de validation monte aussi "
                        f"({_acc(va[e - 2], lang)} → {_acc(va[e - 1], lang)}).",
                        f"Measured: at epoch {e}, validation loss rises ({num(vl[e - 2], lang)} → "
                        f"{num(vl[e - 1], lang)}) "
                        f"while validation accuracy rises too ({_acc(va[e - 2], lang)} → {_acc(va[e - 1], lang)})."))
        else:
            p.append(tr(lang,
                        f"Mesuré : dans ce run, à la dernière époque, perte de validation {num(vl[-1], lang)} et "
                        f"précision de validation {_acc(va[-1], lang)} ; les deux ont évolué dans le même sens.",
                        f"Measured: in this run, at the last epoch, validation loss {num(vl[-1], lang)} and validation "
                        f"accuracy {_acc(va[-1], lang)}; both moved the same way."))
        return Answer(p, ["ex1/history.csv"])
    return Answer(p)


def todo_observe(run: Run, lang: str, step: str = "ex1") -> Answer:
    c = facts.curve(run.step(step).history)
    if not c:
        return Answer([_missing(run, lang, step)])
    return Answer([_curve_sentence(c, lang)], [f"{step}/history.csv"])


def q_epoch(run: Run, lang: str) -> Answer:
    p = [tr(lang, "Une époque est un passage complet sur tout le jeu d'entraînement : chaque image est vue une "
                  "fois, par lots, avec une mise à jour des poids par lot.",
            "An epoch is one full pass over the training set: every image is seen once, in batches, with one "
            "weight update per batch.")]
    s, m = run.step("ex1"), _m(run, "ex1")
    c = facts.curve(s.history)
    if s.config and m:
        steps = facts.steps_per_epoch(m["n_train"], s.config["batch_size"])
        extra = ""
        if c and c.seconds_per_epoch:
            extra = tr(lang, f", environ {seconds(c.seconds_per_epoch, lang)} par époque sur cette machine",
                       f", about {seconds(c.seconds_per_epoch, lang)} per epoch on this machine")
        p.append(tr(lang, f"Ici : {integer(m['n_train'], lang)} images / lots de {s.config['batch_size']} = "
                          f"{integer(steps, lang)} lots par époque{extra}.",
                    f"Here: {integer(m['n_train'], lang)} images / batches of {s.config['batch_size']} = "
                    f"{integer(steps, lang)} batches per epoch{extra}."))
        return Answer(p, [_src("ex1/metrics.json", "n_train"), _src("ex1/config.json", "batch_size"),
                          "ex1/history.csv (seconds)"])
    return Answer(p)


def q_why_validation(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Le jeu de validation estime, pendant l'entraînement, la performance sur des images que le modèle "
            "n'apprend pas : il révèle le surapprentissage et sert à choisir le nombre d'époques ou les "
            "hyperparamètres, sans toucher au jeu de test réservé à la mesure finale.",
            "The validation set estimates, during training, the performance on images the model does not learn "
            "from: it reveals overfitting and is used to pick the number of epochs or hyperparameters, without "
            "touching the test set kept for the final measurement.")]
    m = _m(run, "ex1")
    if m and m.get("validation_is_test"):
        p.append(tr(lang,
                    "Attention : le code du TP passe `validation_data=(x_test, y_test)`, donc ici la validation "
                    "**est** "
                    "le jeu de test (`validation_is_test` dans metrics.json). Toute décision prise en regardant ces "
                    "courbes réutilise le test : voir les notes de méthode.",
                    "Note: the lab's code passes `validation_data=(x_test, y_test)`, so here validation **is** the "
                    "test set (`validation_is_test` in metrics.json). Any decision taken from these curves reuses the "
                    "test set: see the method notes."))
        return Answer(p, [_src("ex1/metrics.json", "validation_is_test")])
    return Answer(p)


def _fifty(run: Run, lang: str, ext: str, base: str) -> Answer:
    p = [tr(lang,
            "Avec beaucoup plus d'époques, la précision d'entraînement continue de monter vers 1, mais au-delà d'un "
            "point la précision de validation plafonne et la perte de validation remonte : le modèle apprend par "
            "cœur les images d'entraînement (surapprentissage), pour un temps de calcul multiplié.",
            "With many more epochs, training accuracy keeps rising towards 1, but past some point validation accuracy "
            "levels off and validation loss rises: the model memorises the training images (overfitting), for many "
            "times the compute.")]
    s = run.done(ext)
    c = facts.curve(s.history) if s else None
    if not s or not c:
        p.append(_ext_missing(lang, ext))
        return Answer(p)
    m = s.metrics
    p.append(tr(lang,
                f"Mesuré (`{ext}`, {c.epochs} époques, {seconds(s.seconds, lang)}) : précision d'entraînement "
                f"{_acc(c.first_acc, lang)} → {_acc(c.last_acc, lang)}, précision de validation finale "
                f"{_acc(c.last_val_acc, lang)} (meilleure : {_acc(m.get('best_val_accuracy'), lang)} à l'époque "
                f"{m.get('best_val_accuracy_epoch')}), écart final {points(c.last_gap, lang)}.",
                f"Measured (`{ext}`, {c.epochs} epochs, {seconds(s.seconds, lang)}): training accuracy "
                f"{_acc(c.first_acc, lang)} → {_acc(c.last_acc, lang)}, final validation accuracy "
                f"{_acc(c.last_val_acc, lang)} (best: {_acc(m.get('best_val_accuracy'), lang)} at epoch "
                f"{m.get('best_val_accuracy_epoch')}), final gap {points(c.last_gap, lang)}."))
    p.append(_overfit_sentence(c, lang))
    bm = _m(run, base)
    src = [f"{ext}/history.csv", _src(f"{ext}/metrics.json", "best_val_accuracy", "best_val_accuracy_epoch")]
    if bm:
        p.append(tr(lang,
                    f"Précision de test : {_acc(m['test_accuracy'], lang)} après {c.epochs} époques contre "
                    f"{_acc(bm['test_accuracy'], lang)} pour `{base}` "
                    f"({points(m['test_accuracy'] - bm['test_accuracy'], lang)}).",
                    f"Test accuracy: {_acc(m['test_accuracy'], lang)} after {c.epochs} epochs against "
                    f"{_acc(bm['test_accuracy'], lang)} for `{base}` "
                    f"({points(m['test_accuracy'] - bm['test_accuracy'], lang)})."))
        src.append(_src(f"{base}/metrics.json", "test_accuracy"))
    return Answer(p, src)


def q_fifty_ex1(run: Run, lang: str) -> Answer:
    return _fifty(run, lang, "ext.ex1_50_epochs", "ex1")


def q_final_accuracy(run: Run, lang: str) -> Answer:
    m = _m(run, "ex1")
    if not m:
        return Answer([_missing(run, lang, "ex1")])
    return Answer([tr(lang,
                      f"Précision de test : **{_acc(m['test_accuracy'], lang)}** ({pct(m['test_accuracy'], lang)}), "
                      f"perte de test {num(m['test_loss'], lang)}, soit {integer(m['test_errors'], lang)} erreurs sur "
                      f"{integer(m['n_test'], lang)} images de test.",
                      f"Test accuracy: **{_acc(m['test_accuracy'], lang)}** ({pct(m['test_accuracy'], lang)}), test "
                      f"loss {num(m['test_loss'], lang)}, that is {integer(m['test_errors'], lang)} errors out of "
                      f"{integer(m['n_test'], lang)} test images.")],
                  [_src("ex1/metrics.json", "test_accuracy", "test_loss", "test_errors", "n_test")])


def q_test_below_train(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Le modèle a ajusté ses poids sur les images d'entraînement : il les connaît, alors que les images de "
            "test sont nouvelles. L'écart mesure ce qui ne se généralise pas. (La précision d'entraînement affichée "
            "par Keras est de plus une moyenne sur l'époque, pendant que les poids changent, et avec le dropout "
            "actif quand il y en a.)",
            "The model fitted its weights on the training images: it knows them, while test images are new. The gap "
            "measures what does not generalise. (The training accuracy Keras shows is also an average over the epoch, "
            "while the weights change, and with dropout active when there is some.)")]
    m = _m(run, "ex1")
    if m and m.get("final_accuracy") is not None:
        gap = m["final_accuracy"] - m["test_accuracy"]
        p.append(tr(lang,
                    f"Mesuré : entraînement {_acc(m['final_accuracy'], lang)} à la dernière époque, test "
                    f"{_acc(m['test_accuracy'], lang)}, écart {points(gap, lang)}.",
                    f"Measured: training {_acc(m['final_accuracy'], lang)} at the last epoch, test "
                    f"{_acc(m['test_accuracy'], lang)}, gap {points(gap, lang)}."))
        return Answer(p, [_src("ex1/metrics.json", "final_accuracy", "test_accuracy")])
    return Answer(p)


def _remedies(run: Run, lang: str, step: str, short: bool = False) -> Answer:
    p = [tr(lang,
            "Arrêter plus tôt (early stopping sur la perte de validation, en gardant les meilleurs poids), "
            "régulariser (dropout, pénalité L2), réduire la taille du réseau, ou donner plus de données, réelles "
            "ou augmentées (rotations, zooms, décalages).",
            "Stop earlier (early stopping on validation loss, keeping the best weights), regularise (dropout, L2 "
            "penalty), shrink the network, or give it more data, real or augmented (rotations, zooms, shifts).")]
    c = facts.curve(run.step(step).history)
    if c and c.best_val_loss_epoch and short:
        p.append(tr(lang, f"Dans ce run, un early stopping garderait les poids de l'époque {c.best_val_loss_epoch}.",
                    f"In this run, early stopping would keep the weights of epoch {c.best_val_loss_epoch}.")
                 if c.overfits else
                 tr(lang, "Dans ce run, la perte de validation baisse encore à la dernière époque : le remède serait "
                          "plutôt d'entraîner plus longtemps, en surveillant la validation.",
                    "In this run validation loss still falls at the last epoch: the remedy would rather be to train "
                    "longer while watching validation."))
        return Answer(p, [f"{step}/history.csv"])
    if c and c.best_val_loss_epoch:
        p.append(_overfit_sentence(c, lang) + (tr(lang,
                 f" Un early stopping garderait ici les poids de l'époque {c.best_val_loss_epoch}.",
                 f" Early stopping would keep the weights of epoch {c.best_val_loss_epoch} here.")
                 if c.overfits else ""))
        return Answer(p, [f"{step}/history.csv"])
    return Answer(p)


def q_overfit_remedy(run: Run, lang: str) -> Answer:
    return _remedies(run, lang, "ex1")


def q_two_curves(run: Run, lang: str) -> Answer:
    c = facts.curve(run.step("ex1").history)
    if not c:
        return Answer([_missing(run, lang, "ex1")])
    p = [_curve_sentence(c, lang)]
    if c.first_gap is not None and c.first_gap < 0:
        p.append(tr(lang,
                    "À la première époque, la validation est au-dessus de l'entraînement : la précision "
                    "d'entraînement est une moyenne sur toute l'époque, y compris ses débuts où le modèle était "
                    "mauvais, alors que la validation est mesurée à la fin.",
                    "At the first epoch validation is above training: training accuracy is averaged over the whole "
                    "epoch, including its start when the model was poor, while validation is measured at its end."))
    p.append(_overfit_sentence(c, lang))
    return Answer(p, ["ex1/history.csv"])


def q_detect_overfit(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Sur les courbes : la perte d'entraînement continue de baisser alors que la perte de validation "
            "remonte, et l'écart entre précision d'entraînement et de validation se creuse. Le début du "
            "surapprentissage est l'époque où la perte de validation est minimale.",
            "On the curves: training loss keeps falling while validation loss rises, and the gap between training "
            "and validation accuracy widens. Overfitting starts at the epoch where validation loss is lowest.")]
    c = facts.curve(run.step("ex1").history)
    if c:
        p.append(tr(lang, "Dans ce run, ", "In this run, ") + _lower(_overfit_sentence(c, lang))
                 + tr(lang, f" Écart de précision : {points(c.first_gap, lang)} à l'époque 1, "
                            f"{points(c.last_gap, lang)} à l'époque {c.epochs}.",
                      f" Accuracy gap: {points(c.first_gap, lang)} at epoch 1, {points(c.last_gap, lang)} at epoch "
                      f"{c.epochs}."))
        return Answer(p, ["ex1/history.csv"])
    return Answer(p)


def q_remedy_strategy(run: Run, lang: str) -> Answer:
    return _remedies(run, lang, "ex1", short=True)


def q_diverge(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Si la courbe d'entraînement continue de s'améliorer pendant que celle de validation stagne ou se "
            "dégrade, le modèle surapprend : on arrête à l'époque où elles se séparent (early stopping) et on "
            "régularise. Si elles divergent dès le début, il faut soupçonner une différence entre les deux jeux "
            "(prétraitement différent, données mal réparties) plutôt que le modèle.",
            "If the training curve keeps improving while the validation one stalls or worsens, the model overfits: "
            "stop at the epoch where they part (early stopping) and regularise. If they part from the start, suspect "
            "a difference between the two sets (different preprocessing, badly split data) rather than the model.")]
    c = facts.curve(run.step("ex1").history)
    if c and c.first_gap is not None and c.best_val_loss_epoch:
        if c.overfits:
            p.append(tr(lang,
                        f"Dans ce run, elles divergent après l'époque {c.best_val_loss_epoch} : la perte de validation "
                        f"remonte ({num(c.best_val_loss, lang)} → {num(c.last_val_loss, lang)}) et l'écart de "
                        f"précision finit à {points(c.last_gap, lang)}.",
                        f"In this run they part after epoch {c.best_val_loss_epoch}: validation loss rises "
                        f"({num(c.best_val_loss, lang)} → {num(c.last_val_loss, lang)}) and the accuracy gap ends at "
                        f"{points(c.last_gap, lang)}."))
        else:
            p.append(tr(lang,
                        f"Dans ce run, elles ne divergent pas : la perte de validation baisse jusqu'à la dernière "
                        f"époque ; l'écart de précision passe de {points(c.first_gap, lang)} à "
                        f"{points(c.last_gap, lang)}.",
                        f"In this run they do not part: validation loss falls until the last epoch; the accuracy gap "
                        f"goes from {points(c.first_gap, lang)} to {points(c.last_gap, lang)}."))
        return Answer(p, ["ex1/history.csv"])
    return Answer(p)


def q_errors_where(run: Run, lang: str) -> Answer:
    m = _m(run, "ex1")
    if not m:
        return Answer([_missing(run, lang, "ex1")])
    p = [tr(lang, f"Oui : {integer(m['test_errors'], lang)} erreurs sur {integer(m['n_test'], lang)} images de test "
                  f"({pct(m['test_errors'] / m['n_test'], lang)}).",
            f"Yes: {integer(m['test_errors'], lang)} errors out of {integer(m['n_test'], lang)} test images "
            f"({pct(m['test_errors'] / m['n_test'], lang)}).")]
    src = [_src("ex1/metrics.json", "test_errors", "n_test")]
    e = facts.errors(run, run.step("ex1"), lang)
    if e:
        shown = (run.step("ex1").config or {}).get("predictions_shown", 5)
        if e.first_shown:
            p.append(tr(lang, f"Parmi les {shown} images de la figure, erreurs : "
                              + "; ".join(f"image {i} (vrai {t}, prédit {pr})" for i, t, pr in e.first_shown) + ".",
                        f"Among the {shown} images of the figure, errors: "
                        + "; ".join(f"image {i} (true {t}, predicted {pr})" for i, t, pr in e.first_shown) + "."))
        else:
            p.append(tr(lang, f"Les {shown} images de la figure sont toutes bien classées.",
                        f"The {shown} images of the figure are all classified right."))
        if e.pairs:
            p.append(tr(lang, "Confusions les plus fréquentes (vrai → prédit) : ",
                        "Most frequent confusions (true → predicted): ")
                     + ", ".join(f"{t} → {pr} ({integer(n, lang)})" for t, pr, n in e.pairs) + ".")
        src.append("ex1/test_probabilities.npy + y_test")
    return Answer(p, src)


def q_explain_error(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Une erreur vient souvent d'un chiffre ambigu ou mal écrit (un 4 fermé qui ressemble à un 9, un 7 "
            "barré, un trait décalé). Un réseau dense voit 784 pixels indépendants : il ne sait pas qu'un chiffre "
            "décalé de deux pixels reste le même chiffre. Le modèle est aussi moins sûr de lui sur ces images.",
            "An error often comes from an ambiguous or badly written digit (a closed 4 that looks like a 9, a "
            "crossed 7, a shifted stroke). A dense network sees 784 independent pixels: it does not know a digit "
            "shifted by two pixels is the same digit. The model is also less confident on such images.")]
    e = facts.errors(run, run.step("ex1"), lang)
    if e and e.mean_conf_wrong is not None:
        p.append(tr(lang, f"Mesuré : probabilité moyenne de la classe choisie {num(e.mean_conf_wrong, lang)} sur les "
                          f"erreurs contre {num(e.mean_conf_right, lang)} sur les bonnes réponses.",
                    f"Measured: mean probability of the chosen class {num(e.mean_conf_wrong, lang)} on errors against "
                    f"{num(e.mean_conf_right, lang)} on right answers."))
        return Answer(p, ["ex1/test_probabilities.npy + y_test"])
    return Answer(p)


def q_improve_cnn(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Un réseau convolutif (CNN) exploite la structure 2D de l'image : des filtres locaux partagés détectent "
            "traits et formes où qu'ils soient. On peut aussi augmenter les données, entraîner plus longtemps avec "
            "early stopping, ou ajuster les hyperparamètres.",
            "A convolutional network (CNN) uses the image's 2D structure: shared local filters detect strokes and "
            "shapes wherever they are. One can also augment the data, train longer with early stopping, or tune "
            "hyperparameters.")]
    a, c = _m(run, "ex2.ann"), _m(run, "ex2.cnn")
    if a and c:
        p.append(tr(lang,
                    f"Mesuré dans ce run, sur Fashion-MNIST : ANN {_acc(a['test_accuracy'], lang)}, CNN "
                    f"{_acc(c['test_accuracy'], lang)} ({points(c['test_accuracy'] - a['test_accuracy'], lang)}).",
                    f"Measured in this run, on Fashion-MNIST: ANN {_acc(a['test_accuracy'], lang)}, CNN "
                    f"{_acc(c['test_accuracy'], lang)} ({points(c['test_accuracy'] - a['test_accuracy'], lang)})."))
        return Answer(p, [_src("ex2.ann/metrics.json", "test_accuracy"), _src("ex2.cnn/metrics.json", "test_accuracy")])
    return Answer(p)


# --- Exercise 2 ---------------------------------------------------------------------------------------------


def q_fashion_nature(run: Run, lang: str) -> Answer:
    f = _data_facts(run, "fashion_mnist")
    p = [tr(lang,
            "Ce sont des photos de vêtements et d'accessoires en niveaux de gris, centrées, de petite taille, en "
            "10 classes ; plusieurs classes se ressemblent (T-shirt, chemise, pull, manteau), ce qui les rend plus "
            "difficiles que les chiffres de MNIST.",
            "They are grey-level photos of clothes and accessories, centred, small, in 10 classes; several classes "
            "look alike (T-shirt, shirt, pullover, coat), which makes them harder than MNIST digits.")]
    if "x_train" not in f:
        return Answer(p + [_missing(run, lang, "ex2.ann")])
    x, xt = f["x_train"], f["x_test"]
    p.append(tr(lang,
                f"Mesuré : train `{shape(x['shape'], lang)}`, test `{shape(xt['shape'], lang)}`, type `{x['dtype']}` "
                "de "
                f"{x['min']} à {x['max']} : des images de {x['shape'][1]} × {x['shape'][2]} pixels, comme MNIST.",
                f"Measured: train `{shape(x['shape'], lang)}`, test `{shape(xt['shape'], lang)}`, type `{x['dtype']}` "
                f"from {x['min']} to {x['max']}: images of {x['shape'][1]} × {x['shape'][2]} pixels, like MNIST."))
    src = [_data_src(f, "fashion_mnist")]
    counts = facts.class_counts(run, "ex2.ann")
    if counts and len(set(counts)) == 1:
        p.append(tr(lang, f"Les classes sont équilibrées : {integer(counts[0], lang)} images d'entraînement chacune.",
                    f"The classes are balanced: {integer(counts[0], lang)} training images each."))
        src.append("fashion_mnist y_train")
    a, e1 = _m(run, "ex2.ann"), _m(run, "ex1")
    if a and e1:
        p.append(tr(lang, f"Plus difficiles : le réseau dense atteint {_acc(a['test_accuracy'], lang)} ici contre "
                          f"{_acc(e1['test_accuracy'], lang)} sur MNIST.",
                    f"Harder: the dense network reaches {_acc(a['test_accuracy'], lang)} here against "
                    f"{_acc(e1['test_accuracy'], lang)} on MNIST."))
        src += [_src("ex2.ann/metrics.json", "test_accuracy"), _src("ex1/metrics.json", "test_accuracy")]
    return Answer(p, src)


def q_normalize_fashion(run: Run, lang: str) -> Answer:
    a = q_normalize(run, lang, "fashion_mnist", "ex2.ann")
    a.paragraphs.insert(1, tr(lang, "`astype('float32')` donne aussi le type de calcul de Keras, deux fois plus "
                                    "léger que le float64 de NumPy.",
                              "`astype('float32')` also gives Keras' compute type, half the size of NumPy's float64."))
    return a


def q_one_hot(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Le one-hot remplace le label entier k par un vecteur de 10 valeurs, 1 à la position k et 0 ailleurs. "
            "C'est le format qu'attend `categorical_crossentropy` face aux 10 probabilités du softmax, et il "
            "n'impose aucun ordre entre les classes (une bottine n'est pas « plus grande » qu'un T-shirt).",
            "One-hot replaces the integer label k with a vector of 10 values, 1 at position k and 0 elsewhere. It is "
            "the format `categorical_crossentropy` expects against the softmax's 10 probabilities, and it implies "
            "no order between classes (an ankle boot is not \"more\" than a T-shirt).")]
    f = _data_facts(run, "fashion_mnist")
    m = _m(run, "ex2.ann")
    if "y_train" in f and m and m.get("layers"):
        n_out = m["layers"][-1]["output_shape"][-1]
        p.append(tr(lang, f"Ici `y_train` `{shape(f['y_train']['shape'], lang)}` devient `y_train_cat` "
                          f"`{shape([f['y_train']['shape'][0], n_out], lang)}`, autant de colonnes que de sorties du "
                          "modèle.",
                    f"Here `y_train` `{shape(f['y_train']['shape'], lang)}` becomes `y_train_cat` "
                    f"`{shape([f['y_train']['shape'][0], n_out], lang)}`, one column per model output."))
        return Answer(p, [_data_src(f, "fashion_mnist"), _src("ex2.ann/metrics.json", "layers")])
    return Answer(p)


def q_why_relu(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "ReLU est simple à calculer et ne sature pas pour les valeurs positives : son gradient y vaut 1, donc "
            "il ne s'éteint pas en traversant les couches, et l'apprentissage est rapide. C'est le choix par défaut "
            "des couches cachées.",
            "ReLU is cheap to compute and does not saturate for positive values: its gradient there is 1, so it does "
            "not fade through the layers, and learning is fast. It is the default choice for hidden layers.")]
    m = _m(run, "ex2.activations")
    if m and m.get("val_accuracy", {}).get("relu") is not None:
        va = m["val_accuracy"]
        others = ", ".join(f"{a} {_acc(v, lang)}" for a, v in va.items() if a != "relu")
        p.append(tr(lang, f"Mesuré à l'étape 4 : ReLU {_acc(va['relu'], lang)} en validation ({others}).",
                    f"Measured at step 4: ReLU {_acc(va['relu'], lang)} in validation ({others})."))
        return Answer(p, [_src("ex2.activations/metrics.json", "val_accuracy")])
    return Answer(p)


def q_acc_vs_val(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "`accuracy` est la précision sur les lots d'entraînement, moyennée pendant l'époque (avec le dropout "
            "actif) ; `val_accuracy` est la précision sur le jeu de validation, mesurée en fin d'époque, sur des "
            "images dont le modèle n'apprend pas.",
            "`accuracy` is the accuracy on the training batches, averaged during the epoch (with dropout active); "
            "`val_accuracy` is the accuracy on the validation set, measured at the end of the epoch, on images the "
            "model does not learn from.")]
    m = _m(run, "ex2.ann")
    c = facts.curve(run.step("ex2.ann").history)
    if m and c:
        p.append(tr(lang,
                    "Ici la validation est la dernière part du jeu d'entraînement : "
                    f"{integer(m['n_validation'], lang)} "
                    f"images, contre {integer(m['n_train'], lang)} pour l'entraînement. À la dernière époque : "
                    f"`accuracy` {_acc(c.last_acc, lang)}, `val_accuracy` {_acc(c.last_val_acc, lang)} (écart "
                    f"{points(c.last_gap, lang)}).",
                    f"Here validation is the last part of the training set: {integer(m['n_validation'], lang)} "
                    f"images, against {integer(m['n_train'], lang)} for training. At the last epoch: `accuracy` "
                    f"{_acc(c.last_acc, lang)}, `val_accuracy` {_acc(c.last_val_acc, lang)} (gap "
                    f"{points(c.last_gap, lang)})."))
        return Answer(p, [_src("ex2.ann/metrics.json", "n_train", "n_validation"), "ex2.ann/history.csv"])
    return Answer(p)


def q_fifty_ann(run: Run, lang: str) -> Answer:
    return _fifty(run, lang, "ext.ann_50_epochs", "ex2.ann")


def q_best_activation(run: Run, lang: str) -> Answer:
    m = _m(run, "ex2.activations")
    if not m:
        return Answer([_missing(run, lang, "ex2.activations")])
    va = m["val_accuracy"]
    ranked = sorted(va, key=va.get, reverse=True)
    p = [tr(lang,
            f"Dans ce run, **{m['best']}** a la meilleure précision de validation à la dernière époque "
            f"({_acc(va[m['best']], lang)}), devant {ranked[1]} de {points(m['margin_over_second'], lang, sign=False)}"
            f". Classement : " + ", ".join(f"{a} {_acc(va[a], lang)}" for a in ranked) + ".",
            f"In this run **{m['best']}** has the best final validation accuracy ({_acc(va[m['best']], lang)}), ahead "
            f"of {ranked[1]} by {points(m['margin_over_second'], lang, sign=False)}. Ranking: "
            + ", ".join(f"{a} {_acc(va[a], lang)}" for a in ranked) + ".")] if len(ranked) > 1 else [
        tr(lang, f"Une seule activation mesurée : {m['best']} ({_acc(va[m['best']], lang)}).",
           f"One activation measured: {m['best']} ({_acc(va[m['best']], lang)}).")]
    src = [_src("ex2.activations/metrics.json", "val_accuracy", "best", "margin_over_second")]
    step = run.step("ex2.activations")
    spreads = {a: facts.seed_spread(step, lambda mm, a=a: mm["val_accuracy"][a]) for a in va}
    if all(spreads.values()):
        n = next(iter(spreads.values())).n
        by_mean = sorted(spreads, key=lambda a: spreads[a].mean, reverse=True)
        best, second = by_mean[0], by_mean[1] if len(by_mean) > 1 else None
        p.append(tr(lang, f"Sur {n} graines (moyenne ± écart-type) : ", f"Over {n} seeds (mean ± std): ")
                 + ", ".join(f"{a} {_acc(spreads[a].mean, lang)} ± {num(spreads[a].std, lang)}" for a in by_mean) + ".")
        if second:
            pv = facts.welch_p(spreads[best], spreads[second])
            sig = pv is not None and pv < 0.05
            p.append(tr(lang,
                        f"L'écart entre {best} et {second} ({points(spreads[best].mean - spreads[second].mean, lang)}) "
                        + ("dépasse le bruit des graines" if sig else "reste dans le bruit des graines")
                        + f" (test de Welch, p = {num(pv, lang, 3)}).",
                        f"The gap between {best} and {second} "
                        f"({points(spreads[best].mean - spreads[second].mean, lang)}) "
                        + ("is larger than the seed noise" if sig else "is within the seed noise")
                        + f" (Welch's test, p = {num(pv, lang, 3)})."))
        src.append("ex2.activations/seeds/*/metrics.json")
    else:
        p.append(tr(lang,
                    "Avec une seule exécution par activation, rien ne dit si cet écart dépasse le bruit dû à la graine "
                    "(initialisation, mélange) : une autre graine peut inverser le classement. `mnistlab run --seeds "
                    "3` "
                    "répète l'étude et indique quels écarts dépassent le bruit.",
                    "With a single run per activation, nothing tells whether this gap exceeds the noise of the seed "
                    "(initialisation, shuffling): another seed may swap the ranking. `mnistlab run --seeds 3` repeats "
                    "the study and says which gaps exceed the noise."))
    return Answer(p, src)


def q_sigmoid_tanh(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Elles saturent : pour des entrées grandes en valeur absolue, leur dérivée tend vers 0, et ce gradient "
            "minuscule se multiplie de couche en couche (disparition du gradient), ce qui ralentit ou bloque "
            "l'apprentissage des réseaux profonds. La sigmoïde n'est en plus pas centrée en 0 et les deux coûtent "
            "une exponentielle, là où ReLU est un simple seuil.",
            "They saturate: for inputs large in absolute value their derivative goes to 0, and that tiny gradient is "
            "multiplied layer after layer (vanishing gradient), which slows or stalls learning in deep networks. "
            "Sigmoid is also not zero-centred, and both cost an exponential where ReLU is a simple threshold.")]
    s = run.step("ex2.activations")
    if "sigmoid" in s.subs and "relu" in s.subs and s.subs["sigmoid"].history and s.subs["relu"].history:
        hs, hr = s.subs["sigmoid"].history, s.subs["relu"].history
        p.append(tr(lang,
                    f"Mesuré (réseau à 2 couches cachées, peu profond) : après la 1re époque, précision de validation "
                    f"{_acc(hs['val_accuracy'][0], lang)} avec sigmoid contre {_acc(hr['val_accuracy'][0], lang)} avec "
                    f"ReLU ; à la dernière, {_acc(hs['val_accuracy'][-1], lang)} contre "
                    f"{_acc(hr['val_accuracy'][-1], lang)}.",
                    f"Measured (a shallow network with 2 hidden layers): after epoch 1, validation accuracy "
                    f"{_acc(hs['val_accuracy'][0], lang)} with sigmoid against {_acc(hr['val_accuracy'][0], lang)} "
                    "with "
                    f"ReLU; at the last, {_acc(hs['val_accuracy'][-1], lang)} against "
                    f"{_acc(hr['val_accuracy'][-1], lang)}."))
        return Answer(p, ["ex2.activations/sigmoid/history.csv", "ex2.activations/relu/history.csv"])
    return Answer(p)


def q_leaky(run: Run, lang: str) -> Answer:
    cfg = run.step("ex2.activations").config or {}
    slope = cfg.get("leaky_relu_slope")
    p = [tr(lang,
            "LeakyReLU garde une petite pente pour les entrées négatives "
            + (f"(ici {num(slope, lang, 2)} × x) " if slope is not None else "")
            + "au lieu de les annuler : le gradient n'y est jamais nul, ce qui évite les neurones « morts » de ReLU "
              "(bloqués à 0 et qui n'apprennent plus).",
            "LeakyReLU keeps a small slope for negative inputs "
            + (f"(here {num(slope, lang, 2)} × x) " if slope is not None else "")
            + "instead of zeroing them: the gradient is never zero there, which avoids ReLU's \"dead\" neurons (stuck "
              "at 0 and no longer learning).")]
    src = [_src("ex2.activations/config.json", "leaky_relu_slope")] if slope is not None else []
    m = _m(run, "ex2.activations")
    if m and "leaky_relu" in m.get("val_accuracy", {}) and "relu" in m["val_accuracy"]:
        va = m["val_accuracy"]
        p.append(tr(lang, f"Mesuré : LeakyReLU {_acc(va['leaky_relu'], lang)} contre ReLU {_acc(va['relu'], lang)} "
                          f"({points(va['leaky_relu'] - va['relu'], lang)}).",
                    f"Measured: LeakyReLU {_acc(va['leaky_relu'], lang)} against ReLU {_acc(va['relu'], lang)} "
                    f"({points(va['leaky_relu'] - va['relu'], lang)})."))
        src.append(_src("ex2.activations/metrics.json", "val_accuracy"))
    return Answer(p, src)


def q_ann_vs_cnn(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Un ANN (dense) aplatit l'image et relie chaque pixel à chaque neurone : il ignore quels pixels sont "
            "voisins. Un CNN applique de petits filtres (3 × 3) qui glissent sur l'image avec les mêmes poids "
            "partout : il garde la structure 2D, détecte des motifs locaux puis les combine.",
            "An ANN (dense) flattens the image and connects every pixel to every neuron: it ignores which pixels are "
            "neighbours. A CNN slides small filters (3 × 3) over the image with the same weights everywhere: it keeps "
            "the 2D structure, detects local patterns and then combines them.")]
    a, c = _m(run, "ex2.ann"), _m(run, "ex2.cnn")
    if a and c:
        convs = [(l_, f) for l_, f in facts.layer_formula(c["layers"]) if l_["type"] == "Conv2D"]
        dense = [l_ for l_ in c["layers"] if l_["type"] == "Dense"]
        p.append(tr(lang,
                    f"Mesuré : ANN {integer(a['params'], lang)} paramètres, CNN {integer(c['params'], lang)}. Les "
                    "convolutions en ont peu (" + ", ".join(f"{integer(l_['params'], lang)}" for l_, _ in convs)
                    + ") ; l'essentiel est dans la première couche dense après `Flatten` "
                      f"({integer(dense[0]['params'], lang)})."
                    if convs and dense else f"Mesuré : ANN {integer(a['params'], lang)} paramètres, CNN "
                                            f"{integer(c['params'], lang)}.",
                    f"Measured: ANN {integer(a['params'], lang)} parameters, CNN {integer(c['params'], lang)}. The "
                    "convolutions hold few (" + ", ".join(f"{integer(l_['params'], lang)}" for l_, _ in convs)
                    + f"); most are in the first dense layer after `Flatten` ({integer(dense[0]['params'], lang)})."
                    if convs and dense else f"Measured: ANN {integer(a['params'], lang)} parameters, CNN "
                                            f"{integer(c['params'], lang)}."))
        return Answer(p, [_src("ex2.ann/metrics.json", "params"), _src("ex2.cnn/metrics.json", "params", "layers")])
    return Answer(p)


def q_why_cnn_better(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Les filtres partagés rendent le CNN sensible aux motifs locaux (bords, textures, cols, semelles) "
            "quelle que soit leur position, avec peu de poids par motif ; les couches successives composent des "
            "formes de plus en plus grandes. Le modèle a donc le bon a priori pour des images.",
            "Shared filters make the CNN sensitive to local patterns (edges, textures, collars, soles) wherever they "
            "are, with few weights per pattern; successive layers compose larger and larger shapes. The model thus "
            "has the right prior for images.")]
    a, c = _m(run, "ex2.ann"), _m(run, "ex2.cnn")
    if not (a and c):
        return Answer(p + [_missing(run, lang, *[n for n in ("ex2.ann", "ex2.cnn") if not _m(run, n)])])
    p.append(tr(lang,
                f"Mesuré : précision de test CNN {_acc(c['test_accuracy'], lang)} contre ANN "
                f"{_acc(a['test_accuracy'], lang)} ({points(c['test_accuracy'] - a['test_accuracy'], lang)}), pour "
                f"un entraînement de {seconds(c.get('fit_seconds'), lang)} contre "
                f"{seconds(a.get('fit_seconds'), lang)}.",
                f"Measured: CNN test accuracy {_acc(c['test_accuracy'], lang)} against ANN "
                f"{_acc(a['test_accuracy'], lang)} "
                f"({points(c['test_accuracy'] - a['test_accuracy'], lang)}), for {seconds(c.get('fit_seconds'), lang)} "
                f"of training against {seconds(a.get('fit_seconds'), lang)}."))
    src = [_src("ex2.ann/metrics.json", "test_accuracy", "fit_seconds"),
           _src("ex2.cnn/metrics.json", "test_accuracy", "fit_seconds")]
    sa = facts.seed_spread(run.step("ex2.ann"), lambda mm: mm["test_accuracy"])
    sc = facts.seed_spread(run.step("ex2.cnn"), lambda mm: mm["test_accuracy"])
    if sa and sc:
        pv = facts.welch_p(sc, sa)
        sig = pv is not None and pv < 0.05
        p.append(tr(lang,
                    f"Sur plusieurs graines : CNN {_acc(sc.mean, lang)} ± {num(sc.std, lang)} ({sc.n} graines), ANN "
                    f"{_acc(sa.mean, lang)} ± {num(sa.std, lang)} ({sa.n}) ; l'écart "
                    + ("dépasse" if sig else "ne dépasse pas") + f" le bruit (test de Welch, p = {num(pv, lang, 3)}).",
                    f"Over several seeds: CNN {_acc(sc.mean, lang)} ± {num(sc.std, lang)} ({sc.n} seeds), ANN "
                    f"{_acc(sa.mean, lang)} ± {num(sa.std, lang)} ({sa.n}); the gap "
                    + ("exceeds" if sig else "does not exceed") + " the noise (Welch's test, p = "
                                                                  f"{num(pv, lang, 3)})."))
        src += ["ex2.ann/seeds/*/metrics.json", "ex2.cnn/seeds/*/metrics.json"]
    return Answer(p, src)


def q_pooling(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Le pooling (ici MaxPooling 2 × 2) garde la valeur maximale de chaque fenêtre : il divise la taille des "
            "cartes de caractéristiques, donc le calcul et les paramètres des couches suivantes, et rend le modèle "
            "un peu tolérant aux petits décalages. Il n'a aucun paramètre.",
            "Pooling (here 2 × 2 MaxPooling) keeps the largest value of each window: it shrinks the feature maps, "
            "hence the computation and the parameters of the following layers, and makes the model a little "
            "tolerant of small shifts. It has no parameters.")]
    c = _m(run, "ex2.cnn")
    if c and c.get("layers"):
        steps = []
        prev = None
        for l_ in c["layers"]:
            if l_["type"] == "MaxPooling2D" and prev:
                steps.append(f"{shape(prev, lang)} → {shape(l_['output_shape'], lang)}")
            prev = l_.get("output_shape")
        if steps:
            p.append(tr(lang, "Mesuré sur le CNN de ce run : "
                              "", "Measured on this run's CNN: "
                                                                "") + "; ".join(steps) + ".")
            return Answer(p, [_src("ex2.cnn/metrics.json", "layers")])
    return Answer(p)


def q_most_confused(run: Run, lang: str) -> Answer:
    m = _m(run, "ex2.confusion")
    if not m:
        return Answer([_missing(run, lang, "ex2.confusion")])
    en, loc = class_names("fashion_mnist", "en"), class_names("fashion_mnist", lang)

    def name(n):
        return loc[en.index(n)] if n in en else n

    pairs = m.get("most_confused", [])
    p = [tr(lang, "Les confusions les plus fréquentes du CNN sur le test (vrai → prédit) : ",
            "The CNN's most frequent confusions on the test set (true → predicted): ")
         + ", ".join(f"{name(x['true'])} → {name(x['predicted'])} ({integer(x['count'], lang)})" for x in pairs) + "."]
    worst = m.get("worst_recall_class")
    if worst and worst in m.get("per_class", {}):
        pc = m["per_class"][worst]
        p.append(tr(lang, f"La classe la moins bien reconnue est **{name(worst)}** (rappel "
                          f"{num(pc['recall'], lang, 3)}, "
                          f"précision {num(pc['precision'], lang, 3)}) : ces vêtements du haut partagent la même "
                          "silhouette à 28 × 28 pixels.",
                    f"The least well recognised class is **{name(worst)}** (recall {num(pc['recall'], lang, 3)}, "
                    f"precision {num(pc['precision'], lang, 3)}): these tops share the same silhouette at 28 × 28 "
                    "pixels."))
    return Answer(p, [_src("ex2.confusion/metrics.json", "most_confused", "worst_recall_class", "per_class"),
                      "ex2.confusion/confusion_matrix.csv"])


def q_reduce_errors(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Donner au modèle plus de capacité là où il se trompe : un CNN plus profond ou plus large, de la "
            "normalisation par lots, plus d'époques avec early stopping ; plus de données ou de l'augmentation ; "
            "un ensemble de modèles. Les erreurs entre hauts (T-shirt, chemise, pull, manteau) demandent des "
            "détails fins (col, boutons, manches) : plus de filtres sur les premières couches aident.",
            "Give the model more capacity where it fails: a deeper or wider CNN, batch normalisation, more epochs "
            "with early stopping; more data or augmentation; an ensemble of models. Mistakes between tops (T-shirt, "
            "shirt, pullover, coat) need fine details (collar, buttons, sleeves): more filters in early layers help.")]
    c, aug = _m(run, "ex2.cnn"), _m(run, "ex2.augment")
    if c and aug:
        p.append(tr(lang, f"Mesuré : l'augmentation (étape 7) fait passer la précision de test de "
                          f"{_acc(c['test_accuracy'], lang)} à {_acc(aug['test_accuracy'], lang)} "
                          f"({points(aug['test_accuracy'] - c['test_accuracy'], lang)}).",
                    f"Measured: augmentation (step 7) takes test accuracy from {_acc(c['test_accuracy'], lang)} to "
                    f"{_acc(aug['test_accuracy'], lang)} ({points(aug['test_accuracy'] - c['test_accuracy'], lang)})."))
        return Answer(p, [_src("ex2.cnn/metrics.json", "test_accuracy"),
                          _src("ex2.augment/metrics.json", "test_accuracy")])
    return Answer(p)


def q_augment_interest(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "L'augmentation crée à chaque époque des variantes des images d'entraînement (rotation, zoom, miroir) "
            "qui gardent leur classe : le modèle voit plus de cas, apprend des caractéristiques plus robustes et "
            "surapprend moins.",
            "Augmentation creates, every epoch, variants of the training images (rotation, zoom, flip) that keep "
            "their class: the model sees more cases, learns sturdier features and overfits less.")]
    c, aug = _m(run, "ex2.cnn"), _m(run, "ex2.augment")
    if not (c and aug):
        return Answer(p + [_missing(run, lang, *[n for n in ("ex2.cnn", "ex2.augment") if not _m(run, n)])])
    gap_before = c.get("final_gap_accuracy")
    gap_after = aug.get("final_gap_accuracy")
    p.append(tr(lang,
                f"Mesuré : précision de test {_acc(c['test_accuracy'], lang)} avant (CNN de l'étape 5), "
                f"{_acc(aug['test_accuracy'], lang)} après {aug.get('epochs_run')} époques de plus sur images "
                f"augmentées ({points(aug['test_accuracy'] - c['test_accuracy'], lang)}) ; perte de test "
                f"{num(c['test_loss'], lang)} → {num(aug['test_loss'], lang)}. Écart entraînement − validation en fin "
                f"d'entraînement : {points(gap_before, lang)} avant, {points(gap_after, lang)} après.",
                f"Measured: test accuracy {_acc(c['test_accuracy'], lang)} before (the step 5 CNN), "
                f"{_acc(aug['test_accuracy'], lang)} after {aug.get('epochs_run')} more epochs on augmented images "
                f"({points(aug['test_accuracy'] - c['test_accuracy'], lang)}); test loss {num(c['test_loss'], lang)} → "
                f"{num(aug['test_loss'], lang)}. Train − validation gap at the end of training: "
                f"{points(gap_before, lang)} before, {points(gap_after, lang)} after."))
    p.append(tr(lang,
                "Prudence : le modèle augmenté a aussi eu plus d'époques, et le TP le valide sur le test ; une part du "
                "gain peut venir de l'entraînement prolongé (voir les notes de méthode).",
                "Caution: the augmented model also had more epochs, and the lab validates it on the test set; part of "
                "the gain may come from the longer training (see the method notes)."))
    return Answer(p, [_src("ex2.cnn/metrics.json", "test_accuracy", "test_loss", "final_gap_accuracy"),
                      _src("ex2.augment/metrics.json", "test_accuracy", "test_loss", "final_gap_accuracy",
                           "epochs_run")])


def q_which_transform(run: Run, lang: str) -> Answer:
    p = [tr(lang,
            "Celles qui produisent des images plausibles du test : le miroir horizontal (un vêtement vu en miroir "
            "reste le même vêtement), de petites rotations et zooms, de petits décalages. Le miroir vertical ou les "
            "grandes rotations créent des images qui n'existent pas dans le jeu (chaussures à l'envers), car les "
            "images de Fashion-MNIST sont centrées et alignées.",
            "Those that produce plausible test images: the horizontal flip (a mirrored garment is the same garment), "
            "small rotations and zooms, small shifts. Vertical flips or large rotations create images the data set "
            "never holds (upside-down shoes), since Fashion-MNIST images are centred and aligned.")]
    a, nf = _m(run, "ex2.augment"), _m(run, "ext.augment_no_flip")
    if a and nf:
        p.append(tr(lang,
                    f"Mesuré : avec miroir {_acc(a['test_accuracy'], lang)}, sans miroir (`ext.augment_no_flip`) "
                    f"{_acc(nf['test_accuracy'], lang)} ({points(a['test_accuracy'] - nf['test_accuracy'], lang)} "
                    "pour le "
                    "miroir) ; une seule exécution chacun : un écart de quelques dixièmes de point reste dans le "
                    "bruit.",
                    f"Measured: with flip {_acc(a['test_accuracy'], lang)}, without flip (`ext.augment_no_flip`) "
                    f"{_acc(nf['test_accuracy'], lang)} ({points(a['test_accuracy'] - nf['test_accuracy'], lang)} for "
                    "the "
                    "flip); one run each: a gap of a few tenths of a point is within the noise."))
        return Answer(p, [_src("ex2.augment/metrics.json", "test_accuracy"),
                          _src("ext.augment_no_flip/metrics.json", "test_accuracy")])
    p.append(_ext_missing(lang, "ext.augment_no_flip"))
    return Answer(p)


# --- the list, in the lab's order ---------------------------------------------------------------------------


def _q(key: str, label: str, fr: str, en: str, answer, todo: bool = False) -> Question:
    return Question(key, key.rsplit(".", 1)[0], label, fr, en, answer, todo)


QUESTIONS: list[Question] = [
    _q("ex1.1.1", "1", "Quelle est la différence entre TensorFlow et Keras ?",
       "What is the difference between TensorFlow and Keras?", q_tf_keras),
    _q("ex1.1.2", "2", "À quoi sert la couche `Flatten` dans un réseau de neurones ?",
       "What is the `Flatten` layer for in a neural network?", q_flatten),
    _q("ex1.1.3", "3", "Quelle version de TensorFlow est installée sur votre machine ?",
       "Which TensorFlow version is installed on your machine?", q_tf_version),
    _q("ex1.1.4", "4", "À quoi servent `Sequential` et `Dense` ?", "What are `Sequential` and `Dense` for?",
       q_sequential_dense),
    _q("ex1.2.1", "1", "Pourquoi normalise-t-on les valeurs des pixels ?", "Why normalise the pixel values?",
       q_normalize),
    _q("ex1.2.2", "2", "Quelle est la taille d'une image et son type de données ?",
       "What is the size of an image and its data type?", q_image_size),
    _q("ex1.2.3", "3", "Combien d'exemples contient le jeu d'entraînement ?",
       "How many examples does the training set hold?", q_n_train),
    _q("ex1.3.a", "a", "Identifier les chiffres affichés", "Identify the digits shown", todo_identify, todo=True),
    _q("ex1.3.b", "b", "Vérifier que les labels correspondent bien aux images",
       "Check that the labels match the images", todo_check, todo=True),
    _q("ex1.3.1", "1", "Quelle commande permet de modifier le nombre d'images affichées ?",
       "Which command changes the number of images shown?", q_n_images_shown),
    _q("ex1.3.2", "2", "Que représente l'argument `cmap='gray'` ?", "What does the `cmap='gray'` argument mean?",
       q_cmap),
    _q("ex1.3.3", "3", "Quelle utilité a cette étape dans un projet d'IA ?", "What is this step for in an AI project?",
       q_why_look),
    _q("ex1.4.1", "1", "Combien de paramètres le modèle contient-il ?", "How many parameters does the model have?",
       q_params),
    _q("ex1.4.2", "2", "Quelle est la fonction d'activation utilisée dans la couche de sortie ? Pourquoi ?",
       "Which activation function does the output layer use? Why?", q_softmax_output),
    _q("ex1.4.3", "3", "Quelle est la différence entre ReLU et Softmax ?", "What is the difference between ReLU and "
       "Softmax?", q_relu_softmax),
    _q("ex1.5.1", "1", "Qu'est-ce qu'un optimiseur ?", "What is an optimizer?", q_optimizer),
    _q("ex1.5.2", "2", "Pourquoi utilise-t-on une fonction de perte ?", "Why use a loss function?", q_why_loss),
    _q("ex1.5.3", "3", "Que se passe-t-il si on change la fonction de perte ?",
       "What happens if the loss function is changed?", q_change_loss),
    _q("ex1.5.4", "4", "Quelle serait la conséquence d'un mauvais choix d'optimiseur ?",
       "What would a bad choice of optimizer lead to?", q_bad_optimizer),
    _q("ex1.5.5", "5", "Quelle est la différence entre loss et metrics ?",
       "What is the difference between loss and metrics?", q_loss_vs_metrics),
    _q("ex1.6.a", "a", "La précision d'entraînement augmente-t-elle ? La précision de validation suit-elle la même "
       "tendance ?", "Does training accuracy rise? Does validation accuracy follow the same trend?", todo_observe,
       todo=True),
    _q("ex1.6.1", "1", "Que représente une \"époque\" ?", "What is an \"epoch\"?", q_epoch),
    _q("ex1.6.2", "2", "Pourquoi utilise-t-on un jeu de validation ?", "Why use a validation set?", q_why_validation),
    _q("ex1.6.3", "3", "Que se passerait-il si on augmentait le nombre d'époques à 50 ?",
       "What would happen with 50 epochs?", q_fifty_ex1),
    _q("ex1.7.1", "1", "Quelle est la précision finale de votre modèle ?", "What is your model's final accuracy?",
       q_final_accuracy),
    _q("ex1.7.2", "2", "Pourquoi la précision du test est souvent inférieure à celle d'entraînement ?",
       "Why is test accuracy often below training accuracy?", q_test_below_train),
    _q("ex1.7.3", "3", "Que faire si le modèle surapprend (*overfitting*) ?", "What to do if the model overfits?",
       q_overfit_remedy),
    _q("ex1.8.1", "1", "Que remarquez-vous sur les deux courbes ?", "What do you notice on the two curves?",
       q_two_curves),
    _q("ex1.8.2", "2", "Comment détecter visuellement un surapprentissage ?", "How can overfitting be seen on a plot?",
       q_detect_overfit),
    _q("ex1.8.3", "3", "Quelle stratégie pourrait-on utiliser pour y remédier ?", "Which strategy could remedy it?",
       q_remedy_strategy),
    _q("ex1.8.4", "4", "Que faire si les deux courbes divergent ?", "What to do if the two curves diverge?", q_diverge),
    _q("ex1.9.1", "1", "Le modèle fait-il des erreurs ? Sur quelles images ?",
       "Does the model make mistakes? On which images?", q_errors_where),
    _q("ex1.9.2", "2", "Comment expliquer une prédiction erronée ?", "How can a wrong prediction be explained?",
       q_explain_error),
    _q("ex1.9.3", "3", "Quelle technique permettrait d'améliorer la précision (ex : CNN) ?",
       "Which technique would improve accuracy (e.g. CNN)?", q_improve_cnn),
    _q("ex2.1.1", "1", "Que remarquez-vous sur la nature des données et la taille des images ?",
       "What do you notice about the nature of the data and the size of the images?", q_fashion_nature),
    _q("ex2.2.1", "1", "Pourquoi faut-il normaliser les images ?", "Why normalise the images?", q_normalize_fashion),
    _q("ex2.2.2", "2", "Quelle est l'importance du one-hot encoding dans un problème de classification multiclasse ?",
       "Why does one-hot encoding matter in a multi-class classification problem?", q_one_hot),
    _q("ex2.3.1", "1", "Pourquoi utilise-t-on la fonction d'activation **ReLU** ici ?",
       "Why use the **ReLU** activation here?", q_why_relu),
    _q("ex2.3.2", "2", "Quelle est la différence entre `accuracy` et `val_accuracy` ?",
       "What is the difference between `accuracy` and `val_accuracy`?", q_acc_vs_val),
    _q("ex2.3.3", "3", "Que se passe-t-il si l'on augmente le nombre d'époques à 50 ?",
       "What happens with 50 epochs?", q_fifty_ann),
    _q("ex2.4.1", "1", "Quelle fonction d'activation donne les meilleurs résultats ?",
       "Which activation function gives the best results?", q_best_activation),
    _q("ex2.4.2", "2", "Pourquoi les fonctions **sigmoïde** et **tanh** sont moins utilisées dans les couches cachées "
                       "?",
       "Why are **sigmoid** and **tanh** less used in hidden layers?", q_sigmoid_tanh),
    _q("ex2.4.3", "3", "À quoi sert **LeakyReLU** ?", "What is **LeakyReLU** for?", q_leaky),
    _q("ex2.5.1", "1", "Quelle est la différence entre un ANN et un CNN ?",
       "What is the difference between an ANN and a CNN?", q_ann_vs_cnn),
    _q("ex2.5.2", "2", "Pourquoi le CNN donne-t-il généralement de meilleurs résultats ?",
       "Why does the CNN usually do better?", q_why_cnn_better),
    _q("ex2.5.3", "3", "Quel est le rôle des couches de **Pooling** "
                       "?", "What do the **Pooling** layers "
                                                                        "do?", q_pooling),
    _q("ex2.6.1", "1", "Quelles classes sont le plus souvent confondues ?", "Which classes are confused most often?",
       q_most_confused),
    _q("ex2.6.2", "2", "Comment peut-on réduire ces erreurs de classification ?",
       "How can these classification errors be reduced?", q_reduce_errors),
    _q("ex2.7.1", "1", "Quel est l'intérêt de la **Data Augmentation** ?", "What is **data augmentation** good for?",
       q_augment_interest),
    _q("ex2.7.2", "2", "Quels types de transformations semblent les plus efficaces pour ce dataset ?",
       "Which kinds of transformations seem most effective for this data set?", q_which_transform),
]


def answer(q: Question, run: Run, lang: str) -> Answer:
    """``q``'s answer for ``run``; a measurement that cannot be read is said to be missing, never a crash."""
    try:
        return q.answer(run, lang)
    except (KeyError, TypeError, IndexError, ValueError, ZeroDivisionError, AttributeError):
        step = SECTION_STEP.get(q.section, "")
        return Answer([tr(lang, "Réponse mesurée indisponible : les résultats de ce run sont incomplets ",
                          "Measured answer unavailable: this run's results are incomplete ")
                       + (f"(`{step}`)." if step else ".")])
