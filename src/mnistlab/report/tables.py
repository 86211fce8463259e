"""The report's tables of one step (settings, model, results, history, data) and the step's name in words."""

from __future__ import annotations

import dataclasses

from mnistlab import config
from mnistlab.errors import MnistlabError
from mnistlab.lab import plan
from mnistlab.report import quantities
from mnistlab.report.artifacts import Run, Step
from mnistlab.report.blocks import Table
from mnistlab.report.fmt import general, integer, num, seconds, shape, tr
from mnistlab.report.measures import data_facts, label, status_word


def step_title(step: Step, lang: str) -> str:
    """The step's title in ``lang``: the experiment file's (French) title, or its English translation."""
    if lang == "en" and (title_en := plan.title_en(step.name)):
        return title_en
    title = (step.config or {}).get("title")
    if isinstance(title, str) and title.strip():
        return " ".join(title.split())[:200]  # one line: a title from a run folder never ends a comment
    try:
        return config.load(step.name).title or step.name
    except MnistlabError:
        return step.name


_DEFAULTS = config.Experiment()
SETTING_KEYS = {
    "train": ["dataset", "model", "conv_filters", "kernel_size", "pool_size", "hidden_units", "dropout", "activation",
              "optimizer", "learning_rate", "loss", "epochs", "batch_size", "validation", "validation_split", "seed"],
    "activations": ["dataset", "model", "hidden_units", "dropout", "activations", "leaky_relu_slope", "optimizer",
                    "learning_rate", "loss", "epochs", "batch_size", "validation", "validation_split", "seed"],
    "augment": ["from_step", "dataset", "rotation_degrees", "zoom", "horizontal_flip", "optimizer", "loss", "epochs",
                "batch_size", "validation", "seed"],
    "confusion": ["from_step", "dataset"],
}


def settings_table(step: Step, lang: str) -> Table | None:
    cfg = step.config
    if not cfg:
        return None
    keys = list(SETTING_KEYS.get(cfg.get("step", "train"), SETTING_KEYS["train"]))
    if cfg.get("model") not in ("cnn", "cnn_bn"):
        keys = [k for k in keys if k not in ("conv_filters", "kernel_size", "pool_size")]
    if cfg.get("validation") != "split":
        keys = [k for k in keys if k != "validation_split"]
    if cfg.get("step", "train") == "train":  # settings the lab's own steps leave at their defaults
        if cfg.get("model") == "cnn_bn":
            keys += ["convs_per_block", "block_dropout"]
        keys += [k for k in ("precision", "lr_schedule") if k in cfg and cfg[k] != getattr(_DEFAULTS, k)]
        if cfg.get("lr_schedule") == "one_cycle":
            keys.append("warmup_fraction")
        keys += [k for k in ("label_smoothing",) if cfg.get(k)]
        if cfg.get("augment"):
            keys += ["augment", "rotation_degrees", "zoom", "translation", "horizontal_flip"]
            keys += [k for k in ("cutout",) if cfg.get(k)]
        if cfg.get("test_time_flip"):
            keys.append("test_time_flip")
    keys += [k for k in ("train_limit", "test_limit") if cfg.get(k)]
    rows = [[_setting_word(k, lang), _setting_value(k, cfg[k], lang)] for k in keys if k in cfg]
    return Table([tr(lang, "réglage", "setting"), tr(lang, "valeur", "value")], rows,
                 caption=tr(lang, "Réglages", "Settings"), origin=f"{step.name}/config.json")


# A setting in plain words (fr, en); a key not listed here is shown as it is.
_SETTING_WORDS = {
    "dataset": ("jeu de données", "data set"), "model": ("modèle", "model"),
    "conv_filters": ("filtres des convolutions", "convolution filters"),
    "kernel_size": ("taille du noyau", "kernel size"), "pool_size": ("taille du pooling", "pooling size"),
    "hidden_units": ("neurones des couches cachées", "hidden units"),
    "dropout": ("dropout après chaque couche cachée", "dropout after each hidden layer"),
    "activation": ("activation des couches cachées", "hidden activation"),
    "activations": ("activations comparées", "activations compared"),
    "leaky_relu_slope": ("pente négative de LeakyReLU", "LeakyReLU negative slope"),
    "optimizer": ("optimiseur", "optimizer"), "learning_rate": ("taux d'apprentissage", "learning rate"),
    "loss": ("fonction de perte", "loss"), "epochs": ("époques", "epochs"),
    "batch_size": ("taille de lot", "batch size"),
    "validation": ("validation", "validation"), "validation_split": ("part de validation", "validation fraction"),
    "seed": ("graine", "seed"), "from_step": ("part du modèle de", "starts from"),
    "rotation_degrees": ("rotation (degrés)", "rotation (degrees)"), "zoom": ("zoom", "zoom"),
    "horizontal_flip": ("miroir horizontal", "horizontal flip"), "translation": ("translation", "translation"),
    "augment": ("augmentation de données", "data augmentation"), "precision": ("précision de calcul", "precision"),
    "lr_schedule": ("évolution du taux", "learning-rate schedule"),
    "warmup_fraction": ("part de montée du taux", "warm-up fraction"),
    "label_smoothing": ("lissage des labels", "label smoothing"), "convs_per_block": ("convolutions par bloc",
                                                                                     "convolutions per block"),
    "block_dropout": ("dropout par bloc", "dropout per block"), "cutout": ("cutout", "cutout"),
    "test_time_flip": ("miroir au test", "test-time flip"),
    "train_limit": ("images d'entraînement utilisées", "training images used"),
    "test_limit": ("images de test utilisées", "test images used"),
}


def _setting_word(key: str, lang: str) -> str:
    fr, en = _SETTING_WORDS.get(key, (key, key))
    return tr(lang, fr, en)


def _setting_value(key: str, value, lang: str) -> str:
    """A setting's value as a reader says it: ``oui``, ``128, 64``, ``le jeu de test``, ``0,2``."""
    if key == "validation":
        return tr(lang, {"test": "le jeu de test", "split": "une part de l'entraînement"}.get(value, str(value)),
                  {"test": "the test set", "split": "part of the training set"}.get(value, str(value)))
    if key == "from_step":
        return label(value, lang) if isinstance(value, str) else str(value)
    if key == "dataset":
        return {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}.get(value, str(value))
    if isinstance(value, bool):
        return tr(lang, "oui" if value else "non", "yes" if value else "no")
    if isinstance(value, list):
        return ", ".join(_setting_value(key, v, lang) for v in value) if value else tr(lang, "aucun", "none")
    if isinstance(value, float):
        return general(value, lang)
    if value is None:
        return tr(lang, "aucun", "none")
    return str(value)


def model_table(step: Step, lang: str, metrics: dict | None = None) -> Table | None:
    m = metrics or step.metrics
    if not m or not m.get("layers"):
        return None
    rows = []
    for layer, formula in quantities.layer_formula(m["layers"]):
        out_shape = shape(layer["output_shape"], lang) if layer.get("output_shape") is not None else "—"
        rows.append([f"`{layer['name']}`", layer["type"], out_shape, integer(layer["params"], lang), formula or ""])
    rows.append([tr(lang, "**total**", "**total**"), "", "", f"**{integer(m['params'], lang)}**", ""])
    return Table([tr(lang, "couche", "layer"), "type", tr(lang, "forme de sortie", "output shape"),
                  tr(lang, "paramètres", "parameters"), tr(lang, "calcul", "how")], rows, numeric=(3,),
                 caption=tr(lang, "Modèle : couches et paramètres", "Model: layers and parameters"),
                 origin=f"{step.name}/metrics.json (layers)")


def results_table(step: Step, lang: str) -> Table | None:
    m = step.metrics
    if not m or not isinstance(m.get("test_accuracy"), float):
        return None
    if m.get("test_time_flip"):  # headline: image and mirror averaged; the single view beside it
        rows = [[tr(lang, "précision sur le test (moyenne de l'image et de son miroir)",
                    "test accuracy (image and its mirror averaged)"), f"**{num(m['test_accuracy'], lang)}**"],
                [tr(lang, "précision sur le test, image seule", "test accuracy, image alone"),
                 num(m.get("test_accuracy_single_view"), lang)],
                [tr(lang, "perte sur le test (moyenne image + miroir / image seule)",
                    "test loss (image and mirror averaged / image alone)"),
                 f"{num(m.get('test_loss'), lang)} / {num(m.get('test_loss_single_view'), lang)}"]]
    else:
        rows = [[tr(lang, "précision sur le test", "test accuracy"), f"**{num(m['test_accuracy'], lang)}**"],
                [tr(lang, "perte sur le test", "test loss"), num(m.get("test_loss"), lang)]]
    if "test_errors" in m:
        rows.append([tr(lang, "erreurs sur le test", "test errors"),
                     f"{integer(m['test_errors'], lang)} / {integer(m['n_test'], lang)}"])
    if "final_accuracy" in m:
        rows.append([tr(lang, "précision d'entraînement (dernière époque)", "training accuracy (last epoch)"),
                     num(m["final_accuracy"], lang)])
    if "final_val_accuracy" in m:
        rows.append([tr(lang, "précision de validation (dernière époque)", "validation accuracy (last epoch)"),
                     num(m["final_val_accuracy"], lang)])
    if "n_train" in m:
        rows.append([tr(lang, "images : entraînement / validation / test", "images: training / validation / test"),
                     f"{integer(m['n_train'], lang)} / {integer(m.get('n_validation'), lang)}"
                     + tr(lang, " (= test)", " (= test)") * bool(m.get("validation_is_test"))
                     + f" / {integer(m.get('n_test'), lang)}"])
    rows.append([tr(lang, "durée (entraînement / étape entière)", "time (training / whole step)"),
                 f"{seconds(m.get('fit_seconds'), lang)} / {seconds(step.seconds or m.get('seconds'), lang)}"])
    return Table([tr(lang, "mesure", "measure"), tr(lang, "valeur", "value")], rows, numeric=(1,),
                 caption=tr(lang, "Résultats", "Results"), origin=f"{step.name}/metrics.json")


def history_table(step: Step, lang: str) -> Table | None:
    h = step.history
    if not h or not h.get("epoch"):
        return None
    cols = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in h]
    rows = [[str(int(h["epoch"][i]))] + [num(h[k][i], lang) for k in cols]
            + ([seconds(h["seconds"][i], lang)] if "seconds" in h else []) for i in range(len(h["epoch"]))]
    return Table([tr(lang, "époque", "epoch"), *cols] + (["s"] if "seconds" in h else []), rows,
                 numeric=tuple(range(len(cols) + 2)),
                 caption=tr(lang, "Historique par époque", "Per-epoch history"), origin=f"{step.name}/history.csv")


def data_table(run: Run, dataset: str, lang: str) -> Table | None:
    """Shapes, dtypes and ranges of a data set as the manifest recorded them."""
    f = data_facts(run, dataset)
    rows = [[f"`{k}`", f"`{shape(f[k]['shape'], lang)}`", f"`{f[k].get('dtype')}`", str(f[k].get("min")),
             str(f[k].get("max"))] for k in ("x_train", "y_train", "x_test", "y_test") if k in f]
    if not rows:
        return None
    verified = f.get("verified") is True
    return Table([tr(lang, "tableau", "array"), "shape", "dtype", "min", "max"], rows, numeric=(3, 4),
                 caption=tr(lang, "Données" + (", vérifiées par SHA-256" if verified else ""),
                            "Data" + (", verified by SHA-256" if verified else "")),
                 origin=f"manifest.json (data.{dataset})")


def status(s: str, lang: str) -> str:
    return status_word(s, lang)


def titled(step: Step, lang: str) -> config.Experiment | None:
    """The step's experiment with its title in ``lang`` (for the generated code's header)."""
    exp = step.exp
    return None if exp is None else dataclasses.replace(exp, title=step_title(step, lang))
