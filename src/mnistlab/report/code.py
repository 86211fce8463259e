"""The Keras code of each step, written from the experiment's settings, so it cannot disagree with what ran.

Each snippet stands alone: it loads the data set with ``keras.datasets``, prepares it as the run did
(slices, scaling, channel axis, one-hot labels), then builds, compiles, fits and evaluates the model with the
run's values. It follows the lab's code and variable names. Steps that continue the trained CNN (confusion
matrix, augmentation) load it from the run folder (``ex2.cnn/model.keras``): run them from there.
"""

from __future__ import annotations

import json

from mnistlab.config import Experiment

_LOADER = {"mnist": "mnist", "fashion_mnist": "fashion_mnist"}

# Comments of the generated code, in the report's language.
_COMMENTS = {
    "fr": {
        "header": "# {title} ({name}) : le code qui a tourné, avec les réglages de ce run.",
        "keras": "# Keras 3 (moteur TensorFlow), comme l'utilise `mnistlab run`.",
        "seed": "# graine de ce run : poids, mélange, dropout",
        "seed_each": "# chaque activation part de la même graine",
        "train_limit": "# train_limit = {n} dans ce run",
        "test_limit": "# test_limit = {n} dans ce run",
        "scale": "# Pixels 0-255 -> 0-1",
        "channel": "# Axe des canaux pour Conv2D : (N, 28, 28) -> (N, 28, 28, 1)",
        "one_hot": "# Labels one-hot pour {loss}",
        "leaky": "# une Dense linéaire puis LeakyReLU, comme dans le TP",
        "load_cnn": "# Le CNN entraîné à l'étape {step} (lancer ce code depuis le dossier du run)",
        "optimizer_state": "# (état de l'optimiseur compris : l'entraînement reprend où il s'était arrêté)",
        "no_idg": "# Keras 3 n'a plus ImageDataGenerator : les mêmes plages en couches de prétraitement",
        "turn": "# une fraction de tour",
        "split": "# Validation : la dernière part du jeu d'entraînement, sans mélange (comme validation_split)",
        "fast": "# Ce run est passé par le chemin rapide de mnistlab (même modèle, mêmes réglages ; les lots\n"
                "# passent par un pipeline tf.data) ; `mnistlab run --faithful` fait exactement ces appels.",
        "bf16": "# calcul en bfloat16 mixte, comme ce run (--precision bf16)",
        "idg": "# ImageDataGenerator du TP, exporté par TensorFlow (Keras 3 ne l'a plus)",
        "cm_title": "Matrice de confusion - CNN",
        "beyond": "# Ce générateur écrit le code des modèles et réglages du TP ; {name} utilise aussi {what} :\n"
                  "# voir src/mnistlab/experiments/{name}.toml et src/mnistlab/train.py pour ce qui a tourné.",
    },
    "en": {
        "header": "# {title} ({name}): the code that ran, with this run's settings.",
        "keras": "# Keras 3 (TensorFlow backend), as `mnistlab run` uses it.",
        "seed": "# this run's seed: weights, shuffling, dropout",
        "seed_each": "# every activation starts from the same seed",
        "train_limit": "# train_limit = {n} in this run",
        "test_limit": "# test_limit = {n} in this run",
        "scale": "# Pixels 0-255 -> 0-1",
        "channel": "# Channel axis for Conv2D: (N, 28, 28) -> (N, 28, 28, 1)",
        "one_hot": "# One-hot labels for {loss}",
        "leaky": "# a linear Dense, then LeakyReLU, as in the lab",
        "load_cnn": "# The CNN trained in step {step} (run this from the run folder)",
        "optimizer_state": "# (optimizer state included: training continues where it stopped)",
        "no_idg": "# Keras 3 has no ImageDataGenerator: the same ranges as preprocessing layers",
        "turn": "# a fraction of a turn",
        "split": "# Validation: the last part of the training set, unshuffled (as validation_split does)",
        "fast": "# This run took mnistlab's fast path (same model, same settings; the batches go through a\n"
                "# tf.data pipeline); `mnistlab run --faithful` makes exactly these calls.",
        "bf16": "# mixed bfloat16 compute, as this run (--precision bf16)",
        "idg": "# The lab's ImageDataGenerator, exported by TensorFlow (Keras 3 dropped it)",
        "cm_title": "Confusion matrix - CNN",
        "beyond": "# This generator writes the code of the lab's models and settings; {name} also uses {what}:\n"
                  "# see src/mnistlab/experiments/{name}.toml and src/mnistlab/train.py for what ran.",
    },
}


# Settings the generated code covers only at the lab's value (later additions to the Experiment keys).
_LAB_ONLY = {"lr_schedule": "constant", "augment": False, "translation": 0.0, "test_time_flip": False}


def _q(value: object) -> str:
    """A Python literal with double quotes (strings, lists of strings)."""
    return json.dumps(value, ensure_ascii=False)


def model_variable(exp: Experiment) -> str:
    """The name the snippet gives the model: the lab's ``model``, ``cnn`` or ``model_act``."""
    if exp.step == "activations":
        return "model_act"
    return "cnn" if exp.model == "cnn" else "model"


def _names(exp: Experiment) -> dict[str, str]:
    """Variable names: the lab's Exercise 1 uses x_train, Exercise 2 X_train, y_train_cat, X_train_cnn."""
    ex1 = exp.dataset == "mnist"
    x = "x" if ex1 else "X"
    names = {"x_train": f"{x}_train", "x_test": f"{x}_test", "y_train": "y_train", "y_test": "y_test"}
    names["fit_x"], names["test_x"] = names["x_train"], names["x_test"]
    if exp.model == "cnn":
        names["fit_x"], names["test_x"] = f"{x}_train_cnn", f"{x}_test_cnn"
    names["fit_y"], names["test_y"] = ("y_train_cat", "y_test_cat") if exp.one_hot else ("y_train", "y_test")
    return names


def _data(exp: Experiment, c: dict[str, str], train: bool = True) -> list[str]:
    n = _names(exp)
    lines = [f"({n['x_train']}, y_train), ({n['x_test']}, y_test) = keras.datasets.{_LOADER[exp.dataset]}.load_data()"]
    if exp.train_limit and train:
        lines.append(f"{n['x_train']}, y_train = {n['x_train']}[:{exp.train_limit}], y_train[:{exp.train_limit}]"
                     "  " + c["train_limit"].format(n=exp.train_limit))
    if exp.test_limit:
        lines.append(f"{n['x_test']}, y_test = {n['x_test']}[:{exp.test_limit}], y_test[:{exp.test_limit}]"
                     "  " + c["test_limit"].format(n=exp.test_limit))
    lines.append("")
    lines.append(c["scale"])
    if train:
        lines.append(f"{n['x_train']} = {n['x_train']}.astype(\"float32\") / 255.0")
    lines.append(f"{n['x_test']} = {n['x_test']}.astype(\"float32\") / 255.0")
    if exp.model == "cnn":
        lines.append(c["channel"])
        if train:
            lines.append(f"{n['fit_x']} = {n['x_train']}.reshape(-1, 28, 28, 1)")
        lines.append(f"{n['test_x']} = {n['x_test']}.reshape(-1, 28, 28, 1)")
    if exp.one_hot and train:
        lines.append(c["one_hot"].format(loss=exp.loss))
        lines.append("y_train_cat = keras.utils.to_categorical(y_train, 10)")
        lines.append("y_test_cat = keras.utils.to_categorical(y_test, 10)")
    return lines


def _hidden(exp: Experiment, act: str, indent: str) -> list[str]:
    """Hidden Dense layers (and Dropout) as list items; LeakyReLU is its own layer, as in the lab."""
    out = []
    for units, rate in zip(exp.hidden_units, exp.dropout, strict=True):
        if act == "leaky_relu":
            out += [f"{indent}Dense({units}),", f"{indent}LeakyReLU(negative_slope={exp.leaky_relu_slope!r}),"]
        else:
            out.append(f"{indent}Dense({units}, activation={_q(act)}),")
        if rate > 0:
            out.append(f"{indent}Dropout({rate!r}),")
    return out


def _model(exp: Experiment, var: str, act: str | None = None) -> list[str]:
    act = act or exp.activation
    ind = "    "
    lines = [f"{var} = Sequential(["]
    if exp.model == "cnn":
        k, p = exp.kernel_size, exp.pool_size
        lines.append(f"{ind}Input(shape=(28, 28, 1)),")
        for filters in exp.conv_filters:
            if act == "leaky_relu":
                lines += [f"{ind}Conv2D({filters}, ({k}, {k})),",
                          f"{ind}LeakyReLU(negative_slope={exp.leaky_relu_slope!r}),"]
            else:
                lines.append(f"{ind}Conv2D({filters}, ({k}, {k}), activation={_q(act)}),")
            lines.append(f"{ind}MaxPooling2D(({p}, {p})),")
        lines.append(f"{ind}Flatten(),")
    else:
        lines += [f"{ind}Input(shape=(28, 28)),", f"{ind}Flatten(),"]
    lines += _hidden(exp, act, ind)
    lines += [f"{ind}Dense(10, activation=\"softmax\"),", "])"]
    return lines


def _optimizer(exp: Experiment) -> str:
    cls = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}[exp.optimizer]
    return f"keras.optimizers.{cls}(learning_rate={exp.learning_rate!r})"


def _compile(exp: Experiment, var: str, indent: str = "") -> list[str]:
    return [f"{indent}{var}.compile(",
            f"{indent}    optimizer={_optimizer(exp)},",
            f"{indent}    loss={_q(exp.loss)},",
            f"{indent}    metrics=[\"accuracy\"],",
            f"{indent})"]


def _fit(exp: Experiment, target: str, var: str, indent: str = "", verbose: bool = True) -> list[str]:
    n = _names(exp)
    val = (f"validation_data=({n['test_x']}, {n['test_y']})" if exp.validation == "test"
           else f"validation_split={exp.validation_split!r}")
    return [f"{indent}{target} = {var}.fit(",
            f"{indent}    {n['fit_x']}, {n['fit_y']},",
            f"{indent}    epochs={exp.epochs},",
            f"{indent}    batch_size={exp.batch_size},",
            f"{indent}    {val},",
            *([] if verbose else [f"{indent}    verbose=0,"]),
            f"{indent})"]


def _evaluate(exp: Experiment, var: str) -> list[str]:
    n = _names(exp)
    return [f"test_loss, test_acc = {var}.evaluate({n['test_x']}, {n['test_y']})",
            'print(f"Test accuracy: {test_acc:.4f}")',
            'print(f"Test loss: {test_loss:.4f}")']


def _imports(exp: Experiment, extra_layers: tuple[str, ...] = ()) -> list[str]:
    layers = {"Dense", "Flatten", "Input"}
    if any(d > 0 for d in exp.dropout):
        layers.add("Dropout")
    if exp.model == "cnn":
        layers |= {"Conv2D", "MaxPooling2D"}
    if exp.activation == "leaky_relu" or "leaky_relu" in exp.activations:
        layers.add("LeakyReLU")
    layers |= set(extra_layers)
    return ["import keras",
            f"from keras.layers import {', '.join(sorted(layers))}",
            "from keras.models import Sequential"]


def generate(exp: Experiment, lang: str = "fr") -> str:
    """The Python code of one step with the run's values (see the module docstring).

    Args:
        exp: the experiment as it ran (``config.json``).
        lang: language of the comments, ``"fr"`` or ``"en"``.

    Returns:
        Source code that runs on its own: the ``keras.datasets`` loader fetches the data set.
    """
    c = _COMMENTS[lang]
    header = [c["header"].format(title=exp.title or exp.name, name=exp.name), c["keras"]]
    beyond = [f"{k} = {_q(getattr(exp, k))}" for k, lab in _LAB_ONLY.items() if getattr(exp, k, lab) != lab]
    if exp.model not in ("dense", "cnn"):
        beyond.insert(0, f"model = {_q(exp.model)}")
    if beyond:  # settings outside the lab's code: say so rather than print code that did not run
        return "\n".join([f"# {exp.title or exp.name} ({exp.name})",
                          c["beyond"].format(what=", ".join(beyond), name=exp.name)]) + "\n"
    body = {"activations": _activations, "confusion": _confusion, "augment": _augment}.get(exp.step, _train)(exp, c)
    if exp.step != "confusion" and not getattr(exp, "faithful", False):
        header.append(c["fast"])
    if getattr(exp, "precision", "float32") == "bf16" and exp.step != "confusion":
        at = next(i for i, line in enumerate(body) if line == "")  # after the imports
        body[at:at] = ["", 'keras.config.set_dtype_policy("mixed_bfloat16")  ' + c["bf16"]]
    return "\n".join(header + body) + "\n"


def _train(exp: Experiment, c: dict[str, str]) -> list[str]:
    var = model_variable(exp)
    hist = "history_cnn" if var == "cnn" else "history"
    return [*_imports(exp), "",
            f"keras.utils.set_random_seed({exp.seed})  " + c["seed"], "",
            *_data(exp, c), "",
            *_model(exp, var),
            f"{var}.summary()", "",
            *_compile(exp, var),
            *_fit(exp, hist, var), "",
            *_evaluate(exp, var)]


def _activations(exp: Experiment, c: dict[str, str]) -> list[str]:
    plain = [a for a in exp.activations if a != "leaky_relu"]
    lines = [*_imports(exp), "", *_data(exp, c), "",
             "results = {}",
             f"for act in {_q(list(exp.activations))}:",
             f"    keras.utils.set_random_seed({exp.seed})  " + c["seed_each"]]
    if "leaky_relu" in exp.activations and plain:
        lines.append("    if act == \"leaky_relu\":  " + c["leaky"])
        lines += ["        hidden = ["] + _hidden(exp, "leaky_relu", "            ") + ["        ]"]
        lines.append("    else:")
        lines += ["        hidden = ["] + _hidden(exp, "ACT", "            ") + ["        ]"]
    elif plain:
        lines += ["    hidden = ["] + _hidden(exp, "ACT", "        ") + ["    ]"]
    else:
        lines += ["    hidden = ["] + _hidden(exp, "leaky_relu", "        ") + ["    ]"]
    lines = [ln.replace('activation="ACT"', "activation=act") for ln in lines]
    lines += ["    model_act = Sequential([",
              "        Input(shape=(28, 28)),",
              "        Flatten(),",
              "        *hidden,",
              "        Dense(10, activation=\"softmax\"),",
              "    ])",
              *_compile(exp, "model_act", "    "),
              *_fit(exp, "h", "model_act", "    ", verbose=False),
              "    results[act] = h.history[\"val_accuracy\"][-1]",
              "    print(act, \"val_accuracy\", round(results[act], 4))"]
    return lines


def _load_cnn(exp: Experiment, c: dict[str, str]) -> list[str]:
    return [c["load_cnn"].format(step=exp.from_step),
            f"cnn = keras.models.load_model({_q(exp.from_step + '/model.keras')})"]


def _confusion(exp: Experiment, c: dict[str, str]) -> list[str]:
    n = _names(exp)
    return ["import keras", "import matplotlib.pyplot as plt", "import numpy as np",
            "from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix", "",
            *_data(exp, c, train=False), "",
            *_load_cnn(exp, c), "",
            f"y_pred = np.argmax(cnn.predict({n['test_x']}), axis=1)",
            "print(confusion_matrix(y_test, y_pred))",
            "ConfusionMatrixDisplay.from_predictions(y_test, y_pred, cmap=\"Blues\")",
            f"plt.title({_q(c['cm_title'])})",
            "plt.show()"]


def _augment(exp: Experiment, c: dict[str, str]) -> list[str]:
    n = _names(exp)
    aug = []
    if exp.rotation_degrees:
        aug.append(f"    RandomRotation({exp.rotation_degrees!r} / 360, fill_mode=\"nearest\", seed={exp.seed}),"
                   "  " + c["turn"])
    if exp.zoom:
        z = exp.zoom
        aug.append(f"    RandomZoom((-{z!r}, {z!r}), (-{z!r}, {z!r}), fill_mode=\"nearest\", seed={exp.seed + 1}),")
    if exp.horizontal_flip:
        aug.append(f"    RandomFlip(\"horizontal\", seed={exp.seed + 2}),")
    val = f"({n['test_x']}, {n['test_y']})"
    split = []
    if exp.validation == "split":  # the last part of the training set, unshuffled, as validation_split does
        x, y = n["fit_x"], n["fit_y"]
        split = [c["split"],
                 f"split_at = int(len({x}) * (1 - {exp.validation_split!r}))",
                 f"X_val, y_val = {x}[split_at:], {y}[split_at:]",
                 f"{x}, {y} = {x}[:split_at], {y}[:split_at]"]
        val = "(X_val, y_val)"
    if getattr(exp, "faithful", False):
        return _augment_lab(exp, c, split, val)
    used = tuple(name for name, on in (("RandomRotation", exp.rotation_degrees), ("RandomZoom", exp.zoom),
                                       ("RandomFlip", exp.horizontal_flip)) if on)
    return ["import keras", "import tensorflow as tf",
            f"from keras.layers import {', '.join(sorted(used))}" if used else "",
            "from keras.models import Sequential", "",
            f"keras.utils.set_random_seed({exp.seed})  " + c["seed"], "",
            *_data(exp, c), *split, "",
            *_load_cnn(exp, c), c["optimizer_state"], "",
            c["no_idg"],
            "augment = Sequential([", *aug, "])",
            f"batches = (tf.data.Dataset.from_tensor_slices(({n['fit_x']}, {n['fit_y']}))",
            f"           .shuffle(len({n['fit_x']}), seed={exp.seed}).batch({exp.batch_size})",
            "           .map(lambda x, y: (augment(x, training=True), y)).prefetch(2))",
            f"history_aug = cnn.fit(batches, epochs={exp.epochs}, validation_data={val})", "",
            *_evaluate(exp, "cnn")]


def _augment_lab(exp: Experiment, c: dict[str, str], split: list[str], val: str) -> list[str]:
    """The lab's own augmentation code (``--faithful`` runs it)."""
    n = _names(exp)
    return ["import keras", "import tensorflow as tf", "",
            f"keras.utils.set_random_seed({exp.seed})  " + c["seed"], "",
            *_data(exp, c), *split, "",
            *_load_cnn(exp, c), c["optimizer_state"], "",
            c["idg"],
            "datagen = tf.keras.preprocessing.image.ImageDataGenerator(",
            f"    rotation_range={exp.rotation_degrees!r},",
            f"    zoom_range={exp.zoom!r},",
            f"    horizontal_flip={exp.horizontal_flip!r},",
            ")",
            f"datagen.fit({n['fit_x']})",
            "history_aug = cnn.fit(",
            f"    datagen.flow({n['fit_x']}, {n['fit_y']}, batch_size={exp.batch_size}, seed={exp.seed}),",
            f"    epochs={exp.epochs},",
            f"    validation_data={val},",
            ")", "",
            *_evaluate(exp, "cnn")]
