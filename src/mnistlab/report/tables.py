"""The report's tables of one step (settings, model, results, history, data) and the step's name in words."""

from __future__ import annotations

import dataclasses

from mnistlab import config
from mnistlab.data import sources
from mnistlab.errors import MnistlabError
from mnistlab.i18n import say, words
from mnistlab.lab import plan
from mnistlab.report import quantities
from mnistlab.report.artifacts import Run, Step
from mnistlab.report.blocks import Table
from mnistlab.report.fmt import general, integer, num, seconds, shape
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
    return Table([say("columns.setting", lang), say("columns.value", lang)], rows,
                 caption=say("tables.settings", lang), origin=f"{step.name}/config.json")


def _setting_word(key: str, lang: str) -> str:
    """A setting in plain words (the entry "setting.<key>" of words/tables.toml); a key not there as it is."""
    return say("tables.setting." + key, lang) if "setting." + key in words()["tables"] else key


def _setting_value(key: str, value, lang: str) -> str:
    """A setting's value as a reader says it: ``oui``, ``128, 64``, ``le jeu de test``, ``0,2``."""
    if key == "validation":
        if value in ("test", "split"):
            return say("tables.validation_test" if value == "test" else "tables.validation_split", lang)
        return str(value)
    if key == "from_step":
        return label(value, lang) if isinstance(value, str) else str(value)
    if key == "dataset":
        return sources.title(value)
    if isinstance(value, bool):
        return say("tables.yes" if value else "tables.no", lang)
    if isinstance(value, list):
        return ", ".join(_setting_value(key, v, lang) for v in value) if value else say("columns.none", lang)
    if isinstance(value, float):
        return general(value, lang)
    if value is None:
        return say("columns.none", lang)
    return str(value)


def model_table(step: Step, lang: str, metrics: dict | None = None) -> Table | None:
    m = metrics or step.metrics
    if not m or not m.get("layers"):
        return None
    rows = []
    for layer, formula in quantities.layer_formula(m["layers"]):
        out_shape = shape(layer["output_shape"], lang) if layer.get("output_shape") is not None else "—"
        rows.append([f"`{layer['name']}`", layer["type"], out_shape, integer(layer["params"], lang), formula or ""])
    rows.append([say("tables.total", lang), "", "", f"**{integer(m['params'], lang)}**", ""])
    return Table([say("tables.layer", lang), "type", say("tables.output_shape", lang),
                  say("columns.parameters", lang), say("tables.how", lang)], rows, numeric=(3,),
                 caption=say("tables.model", lang),
                 origin=f"{step.name}/metrics.json (layers)")


def results_table(step: Step, lang: str) -> Table | None:
    m = step.metrics
    if not m or not isinstance(m.get("test_accuracy"), float):
        return None
    if m.get("test_time_flip"):  # headline: image and mirror averaged; the single view beside it
        rows = [[say("tables.test_accuracy_flip", lang), f"**{num(m['test_accuracy'], lang)}**"],
                [say("tables.test_accuracy_single", lang), num(m.get("test_accuracy_single_view"), lang)],
                [say("tables.test_loss_flip", lang),
                 f"{num(m.get('test_loss'), lang)} / {num(m.get('test_loss_single_view'), lang)}"]]
    else:
        rows = [[say("tables.test_accuracy", lang), f"**{num(m['test_accuracy'], lang)}**"],
                [say("tables.test_loss", lang), num(m.get("test_loss"), lang)]]
    if "test_errors" in m:
        rows.append([say("tables.test_errors", lang),
                     f"{integer(m['test_errors'], lang)} / {integer(m['n_test'], lang)}"])
    if "final_accuracy" in m:
        rows.append([say("tables.train_accuracy_last", lang),
                     num(m["final_accuracy"], lang)])
    if "final_val_accuracy" in m:
        rows.append([say("tables.val_accuracy_last", lang),
                     num(m["final_val_accuracy"], lang)])
    if "n_train" in m:
        rows.append([say("tables.images", lang),
                     f"{integer(m['n_train'], lang)} / {integer(m.get('n_validation'), lang)}"
                     + say("tables.validation_is_test", lang) * bool(m.get("validation_is_test"))
                     + f" / {integer(m.get('n_test'), lang)}"])
    rows.append([say("tables.time", lang),
                 f"{seconds(m.get('fit_seconds'), lang)} / {seconds(step.seconds or m.get('seconds'), lang)}"])
    return Table([say("columns.measure", lang), say("columns.value", lang)], rows, numeric=(1,),
                 caption=say("tables.results", lang), origin=f"{step.name}/metrics.json")


def history_table(step: Step, lang: str) -> Table | None:
    h = step.history
    if not h or not h.get("epoch"):
        return None
    cols = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in h]
    rows = [[str(int(h["epoch"][i]))] + [num(h[k][i], lang) for k in cols]
            + ([seconds(h["seconds"][i], lang)] if "seconds" in h else []) for i in range(len(h["epoch"]))]
    return Table([say("columns.epoch", lang), *cols] + (["s"] if "seconds" in h else []), rows,
                 numeric=tuple(range(len(cols) + 2)),
                 caption=say("tables.history", lang), origin=f"{step.name}/history.csv")


def data_table(run: Run, dataset: str, lang: str) -> Table | None:
    """Shapes, dtypes and ranges of a data set as the manifest recorded them."""
    f = data_facts(run, dataset)
    rows = [[f"`{k}`", f"`{shape(f[k]['shape'], lang)}`", f"`{f[k].get('dtype')}`", str(f[k].get("min")),
             str(f[k].get("max"))] for k in ("x_train", "y_train", "x_test", "y_test") if k in f]
    if not rows:
        return None
    verified = f.get("verified") is True
    return Table([say("tables.array", lang), "shape", "dtype", "min", "max"], rows, numeric=(3, 4),
                 caption=say("tables.data_verified" if verified else "tables.data", lang),
                 origin=f"manifest.json (data.{dataset})")


def status(s: str, lang: str) -> str:
    return status_word(s, lang)


def titled(step: Step, lang: str) -> config.Experiment | None:
    """The step's experiment with its title in ``lang`` (for the generated code's header)."""
    exp = step.exp
    return None if exp is None else dataclasses.replace(exp, title=step_title(step, lang))
