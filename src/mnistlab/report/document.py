"""The report as a list of blocks (headings, paragraphs, tables, figures, code, questions), in the lab's order.

:mod:`mnistlab.report.render` turns the blocks into HTML or Markdown. Inline text may hold `code` spans,
**bold** and *italic*; every number comes from the run's artifacts through :mod:`mnistlab.report.fmt`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from mnistlab import config
from mnistlab.errors import MnistlabError
from mnistlab.i18n import class_names, text
from mnistlab.report import analysis, code, facts, figures, questions
from mnistlab.report.artifacts import Run, Step
from mnistlab.report.figures import Figure
from mnistlab.report.fmt import integer, listing, num, points, seconds, shape, signed, signed_int, tr

# --- blocks -------------------------------------------------------------------------------------------------


@dataclass
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    text: str
    kind: str = ""  # "" | "warn" | "missing" | "note" | "small"


@dataclass
class Bullets:
    items: list[str]
    kind: str = ""


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: tuple[int, ...] = ()  # right-aligned columns
    caption: str = ""


@dataclass
class Code:
    text: str
    title: str = ""
    anchor: str = ""


@dataclass
class Fig:
    figure: Figure
    caption: str


@dataclass
class QA:
    label: str
    quote: str
    original: str  # the lab's French words when the report is in English, else ""
    answer: questions.Answer
    todo: bool = False


@dataclass
class Document:
    lang: str
    title: str
    blocks: list = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    toc: list[tuple[str, str]] = field(default_factory=list)  # (anchor, text) of level-2 headings

    def h(self, level: int, text_: str, anchor: str = "") -> None:
        self.blocks.append(Heading(level, text_, anchor))
        if level == 2 and anchor:
            self.toc.append((anchor, text_))

    def p(self, text_: str, kind: str = "") -> None:
        if text_:
            self.blocks.append(Para(text_, kind))

    def fig(self, f: Figure | None, caption: str = "", missing: str = "") -> None:
        if f is None:
            if missing:
                self.p(missing, "missing")
            return
        self.figures.append(f)
        cap = caption or f.alt
        f.alt = cap
        source = tr(self.lang, "source : ", "source: ") + f"`{f.origin}`"
        if f.note.startswith("labels:"):
            source += tr(self.lang, " (libellés dans la langue du run : les données n'ont pas pu être rechargées)",
                         " (labels in the run's language: the data set could not be reloaded)")
        self.blocks.append(Fig(f, f"{cap} — {source}"))


# --- helpers ------------------------------------------------------------------------------------------------

TITLES_EN = {
    "ex1": "Exercise 1 — MNIST, dense network 784-128-10",
    "ex2.ann": "Exercise 2 — Fashion-MNIST, dense network (ANN) with dropout",
    "ex2.activations": "Exercise 2 — activation functions compared",
    "ex2.cnn": "Exercise 2 — Fashion-MNIST, convolutional network (CNN)",
    "ex2.confusion": "Exercise 2 — confusion matrix of the CNN",
    "ex2.augment": "Exercise 2 — data augmentation (rotation, zoom, flip)",
    "ext.ex1_50_epochs": "Extended study — Exercise 1 over 50 epochs",
    "ext.ex1_categorical_loss": "Extended study — Exercise 1 with categorical_crossentropy (one-hot labels)",
    "ext.ex1_mse_loss": "Extended study — Exercise 1 with mean squared error (MSE)",
    "ext.ex1_sgd": "Extended study — Exercise 1 with SGD (rate 0.01) instead of Adam",
    "ext.ex1_lr_too_high": "Extended study — Exercise 1 with Adam at learning rate 1.0",
    "ext.ann_50_epochs": "Extended study — the Fashion-MNIST ANN over 50 epochs",
    "ext.augment_no_flip": "Extended study — augmentation without the horizontal flip",
}


def step_title(step: Step, lang: str) -> str:
    """The step's title in ``lang``: the experiment file's (French) title, or its English translation."""
    if lang == "en" and step.name in TITLES_EN:
        return TITLES_EN[step.name]
    if (step.config or {}).get("title"):
        return step.config["title"]
    try:
        return config.load(step.name).title or step.name
    except MnistlabError:
        return step.name


def _status(status: str, lang: str) -> str:
    return questions._status_word(status, lang)


def _lit(v) -> str:
    return "`" + json.dumps(v, ensure_ascii=False) + "`"


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
        if cfg.get("augment"):
            keys += ["augment", "rotation_degrees", "zoom", "translation", "horizontal_flip"]
        if cfg.get("test_time_flip"):
            keys.append("test_time_flip")
    keys += [k for k in ("train_limit", "test_limit") if cfg.get(k)]
    rows = [[f"`{k}`", _lit(cfg[k])] for k in keys if k in cfg]
    return Table([tr(lang, "réglage", "setting"), tr(lang, "valeur", "value")], rows,
                 caption=tr(lang, f"Réglages (`{step.name}/config.json`)", f"Settings (`{step.name}/config.json`)"))


def model_table(step: Step, lang: str, metrics: dict | None = None) -> Table | None:
    m = metrics or step.metrics
    if not m or not m.get("layers"):
        return None
    rows = []
    for layer, formula in facts.layer_formula(m["layers"]):
        out_shape = shape(layer["output_shape"], lang) if layer.get("output_shape") is not None else "—"
        rows.append([f"`{layer['name']}`", layer["type"], out_shape, integer(layer["params"], lang), formula or ""])
    rows.append([tr(lang, "**total**", "**total**"), "", "", f"**{integer(m['params'], lang)}**", ""])
    return Table([tr(lang, "couche", "layer"), "type", tr(lang, "forme de sortie", "output shape"),
                  tr(lang, "paramètres", "parameters"), tr(lang, "calcul", "how")], rows, numeric=(3,),
                 caption=tr(lang, f"Modèle (`{step.name}/metrics.json`, `layers`)",
                            f"Model (`{step.name}/metrics.json`, `layers`)"))


def results_table(step: Step, lang: str) -> Table | None:
    m = step.metrics
    if not m or "test_accuracy" not in m or not isinstance(m["test_accuracy"], float):
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
                 caption=tr(lang, f"Résultats (`{step.name}/metrics.json`)", f"Results (`{step.name}/metrics.json`)"))


def history_table(step: Step, lang: str) -> Table | None:
    h = step.history
    if not h or not h.get("epoch"):
        return None
    cols = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in h]
    rows = [[str(int(h["epoch"][i]))] + [num(h[k][i], lang) for k in cols]
            + ([seconds(h["seconds"][i], lang)] if "seconds" in h else []) for i in range(len(h["epoch"]))]
    return Table([tr(lang, "époque", "epoch"), *cols] + (["s"] if "seconds" in h else []), rows,
                 numeric=tuple(range(len(cols) + 2)),
                 caption=tr(lang, f"Historique par époque (`{step.name}/history.csv`)",
                            f"Per-epoch history (`{step.name}/history.csv`)"))


def _table(doc: Document, t: Table | None) -> None:
    if t is not None:
        doc.blocks.append(t)


def _questions(doc: Document, run: Run, section: str) -> None:
    qs = [q for q in questions.QUESTIONS if q.section == section]
    if not qs:
        return
    for q in qs:
        doc.blocks.append(QA(q.label, q.fr if doc.lang == "fr" else q.en, "" if doc.lang == "fr" else q.fr,
                             questions.answer(q, run, doc.lang), q.todo))


def _code(doc: Document, step: Step, anchor: str = "") -> None:
    exp = step.exp
    if exp is None:
        return
    exp.title = step_title(step, doc.lang)
    doc.blocks.append(Code(code.generate(exp, doc.lang),
                           tr(doc.lang, f"Code de `{step.name}` (généré depuis `{step.name}/config.json`)",
                              f"Code of `{step.name}` (generated from `{step.name}/config.json`)"), anchor))


def _step_missing(doc: Document, run: Run, step: Step) -> bool:
    """Say what is missing about a step; True when it has no results at all."""
    lang = doc.lang
    if step.complete:
        if step.problems:
            doc.p(tr(lang, "Fichiers illisibles : ", "Unreadable files: ")
                  + ", ".join(f"`{p}`" for p in step.problems), "warn")
        return False
    why = _status(step.status, lang)
    reason = f" ({step.reason})" if step.reason else ""
    partial = ""
    n = len((step.history or {}).get("epoch", []))
    if n == 1:
        partial = tr(lang, " La seule époque terminée est montrée "
                           "ci-dessous.", " The one finished epoch is shown "
                                                                                "below.")
    elif n > 1:
        partial = tr(lang, f" Les {n} époques terminées sont montrées ci-dessous.",
                     f" The {n} finished epochs are shown below.")
    unreadable = any(p.endswith("metrics.json") for p in step.problems)
    doc.p(tr(lang, f"**Manquant** : l'étape `{step.name}` n'a pas de résultats (`metrics.json` "
                   f"{'illisible' if unreadable else 'absent'} ; statut : {why}{reason}).{partial}",
             f"**Missing**: step `{step.name}` has no results ({'unreadable' if unreadable else 'no'} "
             f"`metrics.json`; status: {why}{reason}).{partial}"), "missing")
    return True


def _curves(doc: Document, step: Step, mark_best: bool = True) -> None:
    lang = doc.lang
    doc.fig(figures.curve(step, "accuracy", lang, mark_best=mark_best))
    doc.fig(figures.curve(step, "loss", lang, mark_best=mark_best))


# --- the report ---------------------------------------------------------------------------------------------


def build(run: Run, lang: str) -> Document:
    """The whole report for ``run`` in ``lang``."""
    doc = Document(lang, tr(lang, "Rapport de TP — Apprentissage profond avec TensorFlow / Keras",
                            "Lab report — Deep learning with TensorFlow / Keras"))
    if _sweep(doc, run):  # a folder of `mnistlab sweep`: its comparison instead of the lab's sections
        _environment(doc, run)
        return doc
    _overview(doc, run)
    _exercise1(doc, run)
    _exercise2(doc, run)
    _extended(doc, run)
    _others(doc, run)
    _analysis(doc, run)
    _notes(doc, run)
    _environment(doc, run)
    return doc


def _sweep(doc: Document, run: Run) -> bool:
    """The section of :mod:`mnistlab.report.sweep` if ``run`` is a sweep; False otherwise."""
    from mnistlab.report import sweep

    sec = sweep.section(run.folder, doc.lang)
    if sec is None:
        return False
    doc.h(2, sec.title, "sweep")
    for text_ in sec.paragraphs:
        doc.p(text_)
    for header, rows, caption in sec.tables:
        _table(doc, Table(header, rows, caption=caption))
    return True


def _overview(doc: Document, run: Run) -> None:
    lang, m = doc.lang, run.manifest
    status = {"complete": ("terminé", "complete"), "interrupted": ("interrompu", "interrupted"),
              "failed": ("en échec", "failed"), "running": ("en cours ou arrêté brutalement", "running or killed")}
    st = tr(lang, *status.get(run.status, (run.status, run.status)))
    doc.p(tr(lang,
             f"Run `{run.folder.name}` : {st}, commencé le {m.get('started', '?')}, fini le {m.get('finished', '—')}, "
             f"durée {seconds(m.get('seconds'), lang)} ; graine {m.get('seed', '?')}"
             + (f", {m['seeds']} graines pour l'étude des activations et la comparaison ANN/CNN"
                if (m.get("seeds") or 1) > 1 else "") + ".",
             f"Run `{run.folder.name}`: {st}, started {m.get('started', '?')}, finished {m.get('finished', '—')}, took "
             f"{seconds(m.get('seconds'), lang)}; seed {m.get('seed', '?')}"
             + (f", {m['seeds']} seeds for the activation study and the ANN/CNN comparison"
                if (m.get("seeds") or 1) > 1 else "") + "."))
    doc.p(tr(lang, "Commande : ", "Command: ") + "`mnistlab " + " ".join(m.get("command") or []) + "`", "small")
    if run.status != "complete":
        doc.p(tr(lang, f"Ce run n'est pas terminé ({st}"
                       + (f" : {m['reason']}" if m.get("reason") else "")
                       + ") : ce rapport présente ce qui existe et dit ce qui manque.",
                 f"This run did not finish ({st}" + (f": {m['reason']}" if m.get("reason") else "")
                 + "): this report shows what exists and says what is missing."), "warn")
    if m.get("overrides"):
        doc.p(tr(lang, "Réglages modifiés par rapport au TP : ", "Settings changed from the lab's: ")
              + ", ".join(f"`{k}={v}`" for k, v in m["overrides"].items())
              + tr(lang, ". Les résultats ne sont pas ceux du TP tel qu'il est écrit.",
                   ". The results are not those of the lab as written."), "warn")
    lab = config.names()
    missing = [run.step(n) for n in lab if not run.step(n).complete]
    if missing:
        doc.blocks.append(Bullets([tr(lang, f"`{s.name}` : pas de résultats ({_status(s.status, lang)})",
                                      f"`{s.name}`: no results ({_status(s.status, lang)})")
                                   + (f" — {s.reason}" if s.reason else "") for s in missing], "missing"))
        doc.blocks.insert(len(doc.blocks) - 1, Para(tr(lang, "**Ce qui manque :**", "**What is missing:**"), "missing"))
    rows = []
    for name in lab + [n for n in run.steps if n not in lab]:
        s = run.step(name)
        mm = s.metrics or {}
        acc = mm.get("test_accuracy")
        if isinstance(acc, float):
            acc_s = num(acc, lang)
        elif s.complete and "val_accuracy" in mm and mm.get("best") in mm["val_accuracy"]:
            acc_s = tr(lang, f"meilleure : {mm['best']} (val. {num(mm['val_accuracy'][mm['best']], lang)})",
                       f"best: {mm['best']} (val. {num(mm['val_accuracy'][mm['best']], lang)})")
        else:
            acc_s = "—"
        rows.append([f"[`{name}`](#{_anchor(name)})", step_title(s, lang), acc_s,
                     num(mm.get("test_loss"), lang) if isinstance(mm.get("test_loss"), float) else "—",
                     seconds(s.seconds, lang) if s.seconds is not None else "—", _status(s.status, lang)])
    doc.blocks.append(Table([tr(lang, "étape", "step"), tr(lang, "quoi", "what"),
                             tr(lang, "précision test", "test accuracy"), tr(lang, "perte test", "test loss"),
                             tr(lang, "durée", "time"), tr(lang, "statut", "status")], rows, numeric=(2, 3, 4),
                            caption=tr(lang, "Résultats de chaque étape (`*/metrics.json`, `manifest.json`)",
                                       "Results of each step (`*/metrics.json`, `manifest.json`)")))


def _anchor(name: str) -> str:
    return "step-" + name.replace(".", "-").replace("_", "-")


def _section(doc: Document, key: str) -> None:
    fr, en = questions.SECTIONS[key]
    doc.h(3, tr(doc.lang, fr, en), "sec-" + key.replace(".", "-"))


def _exercise1(doc: Document, run: Run) -> None:
    lang = doc.lang
    s = run.step("ex1")
    doc.h(2, tr(lang, "Exercice 1 : reconnaissance de chiffres manuscrits (MNIST)",
                "Exercise 1: handwritten digit recognition (MNIST)"), _anchor("ex1"))
    doc.p(step_title(s, lang), "small")
    _step_missing(doc, run, s)
    # 1. versions
    _section(doc, "ex1.1")
    v, hw = run.manifest.get("versions") or {}, run.manifest.get("hardware") or {}
    rows = [[k, f"`{v[k]}`"] for k in ("python", "tensorflow", "keras", "backend", "numpy") if v.get(k)]
    if hw:
        rows.append([tr(lang, "machine", "machine"), f"{hw.get('cpu', '?')}, {hw.get('logical_cores', '?')} "
                     + tr(lang, "cœurs logiques", "logical cores")
                     + (f", {num(hw['memory_gib'], lang, 1)} Gio" if lang == "fr" and hw.get("memory_gib") else "")
                     + (f", {num(hw['memory_gib'], lang, 1)} GiB" if lang == "en" and hw.get("memory_gib") else "")])
    _table(doc, Table([tr(lang, "logiciel", "software"), "version"], rows,
                      caption=tr(lang, "Versions (`manifest.json`)", "Versions (`manifest.json`)")))
    _questions(doc, run, "ex1.1")
    # 2. data
    _section(doc, "ex1.2")
    _data_table(doc, run, "mnist")
    _questions(doc, run, "ex1.2")
    # 3. samples
    _section(doc, "ex1.3")
    doc.fig(figures.samples(run, s, lang), tr(lang, "Premières images d'entraînement et leur label",
                                              "First training images and their label"),
            missing=tr(lang, "Figure des échantillons absente.", "Samples figure missing."))
    _questions(doc, run, "ex1.3")
    # 4. model
    _section(doc, "ex1.4")
    _table(doc, model_table(s, lang))
    _questions(doc, run, "ex1.4")
    # 5. compile
    _section(doc, "ex1.5")
    if s.config:
        c = s.config
        _table(doc, Table([tr(lang, "réglage", "setting"), tr(lang, "valeur", "value")],
                          [["`optimizer`", _lit(c.get("optimizer"))], ["`learning_rate`", _lit(c.get("learning_rate"))],
                           ["`loss`", _lit(c.get("loss"))], ["`metrics`", _lit(["accuracy"])]],
                          caption=tr(lang, "Compilation (`ex1/config.json`)", "Compilation (`ex1/config.json`)")))
    _questions(doc, run, "ex1.5")
    # 6. training
    _section(doc, "ex1.6")
    _table(doc, settings_table(s, lang))
    _table(doc, history_table(s, lang))
    _questions(doc, run, "ex1.6")
    # 7. evaluation
    _section(doc, "ex1.7")
    _table(doc, results_table(s, lang))
    _questions(doc, run, "ex1.7")
    # 8. curves
    _section(doc, "ex1.8")
    _curves(doc, s)
    _questions(doc, run, "ex1.8")
    # 9. predictions
    _section(doc, "ex1.9")
    doc.fig(figures.predictions(run, s, lang), tr(lang, "Premières images de test : classe vraie et prédite",
                                                  "First test images: true and predicted class"))
    _questions(doc, run, "ex1.9")
    # code and hand-in
    doc.h(3, tr(lang, "Code complet de l'exercice 1", "Complete code of exercise 1"), "code-ex1")
    _code(doc, s)
    doc.h(3, tr(lang, "Travail demandé", "Hand-in checklist"), "handin-ex1")
    m = s.metrics
    doc.blocks.append(Bullets([
        tr(lang, "Le code complet du TP : [exercice 1](#code-ex1), et le code de chaque étape de l'exercice 2 "
                 "dans sa section.",
           "The complete code: [exercise 1](#code-ex1), and the code of each step of exercise 2 in its section."),
        tr(lang, "Les courbes de précision et de perte : [section 8](#sec-ex1-8), et pour chaque modèle de "
                 "l'exercice 2.", "The accuracy and loss curves: [section 8](#sec-ex1-8), and for each model of "
                 "exercise 2."),
        (tr(lang, f"La précision finale : **{num(m['test_accuracy'], lang)}** sur le test (perte "
                  f"{num(m['test_loss'], lang)}).",
            f"The final accuracy: **{num(m['test_accuracy'], lang)}** on the test set (loss "
            f"{num(m['test_loss'], lang)}).") if m else
         tr(lang, "La précision finale : manquante (`ex1` n'a pas fini).", "The final accuracy: missing (`ex1` did "
            "not finish).")),
        tr(lang, "L'analyse personnelle : [Analyse](#analysis).", "The personal analysis: [Analysis](#analysis)."),
    ]))


def _data_table(doc: Document, run: Run, dataset: str) -> None:
    lang = doc.lang
    f = questions._data_facts(run, dataset)
    rows = [[f"`{k}`", f"`{shape(f[k]['shape'], lang)}`", f"`{f[k]['dtype']}`", str(f[k]["min"]), str(f[k]["max"])]
            for k in ("x_train", "y_train", "x_test", "y_test") if k in f]
    if not rows:
        doc.p(tr(lang, f"Aucune information sur les données `{dataset}` dans ce run.",
                 f"No information on the `{dataset}` data in this run."), "missing")
        return
    src = f.get("_from") or "manifest.json"
    verified = f.get("verified")
    _table(doc, Table([tr(lang, "tableau", "array"), "shape", "dtype", "min", "max"], rows, numeric=(3, 4),
                      caption=tr(lang, f"Données `{dataset}` (source : `{src}`"
                                 + (", vérifiées par SHA-256)" if verified else ")"),
                                 f"`{dataset}` data (source: "
                                 f"`{src}`" + (", verified by "
                                                                         "SHA-256)" if verified else ")"))))


def _train_step(doc: Document, run: Run, s: Step, predictions: bool = True) -> None:
    lang = doc.lang
    _table(doc, settings_table(s, lang))
    _table(doc, model_table(s, lang))
    _table(doc, results_table(s, lang))
    _curves(doc, s)
    _table(doc, history_table(s, lang))
    if predictions:
        doc.fig(figures.predictions(run, s, lang), tr(lang, "Premières images de test : classe vraie et prédite",
                                                      "First test images: true and predicted class"))


def _exercise2(doc: Document, run: Run) -> None:
    lang = doc.lang
    doc.h(2, tr(lang, "Exercice 2 : classification d'images Fashion-MNIST",
                "Exercise 2: Fashion-MNIST image classification"), "ex2")
    ann, act, cnn = run.step("ex2.ann"), run.step("ex2.activations"), run.step("ex2.cnn")
    conf, aug = run.step("ex2.confusion"), run.step("ex2.augment")
    # Step 1
    _section(doc, "ex2.1")
    _data_table(doc, run, "fashion_mnist")
    doc.fig(figures.samples(run, ann, lang), tr(lang, "Premières images d'entraînement et leur classe",
                                                "First training images and their class"))
    _questions(doc, run, "ex2.1")
    # Step 2
    _section(doc, "ex2.2")
    _questions(doc, run, "ex2.2")
    # Step 3
    _section(doc, "ex2.3")
    doc.blocks[-1].anchor = _anchor("ex2.ann")
    doc.p(step_title(ann, lang), "small")
    if not _step_missing(doc, run, ann) or ann.history:
        _train_step(doc, run, ann)
    _code(doc, ann)
    _questions(doc, run, "ex2.3")
    # Step 4
    _section(doc, "ex2.4")
    doc.blocks[-1].anchor = _anchor("ex2.activations")
    doc.p(step_title(act, lang), "small")
    _step_missing(doc, run, act)
    _table(doc, settings_table(act, lang))
    _activations(doc, run, act)
    _code(doc, act)
    _questions(doc, run, "ex2.4")
    # Step 5
    _section(doc, "ex2.5")
    doc.blocks[-1].anchor = _anchor("ex2.cnn")
    doc.p(step_title(cnn, lang), "small")
    if not _step_missing(doc, run, cnn) or cnn.history:
        _train_step(doc, run, cnn)
    _ann_vs_cnn(doc, run)
    _code(doc, cnn)
    _questions(doc, run, "ex2.5")
    # Step 6
    _section(doc, "ex2.6")
    doc.blocks[-1].anchor = _anchor("ex2.confusion")
    doc.p(step_title(conf, lang), "small")
    _step_missing(doc, run, conf)
    _confusion(doc, run, conf)
    _code(doc, conf)
    _questions(doc, run, "ex2.6")
    # Step 7
    _section(doc, "ex2.7")
    doc.blocks[-1].anchor = _anchor("ex2.augment")
    doc.p(step_title(aug, lang), "small")
    _step_missing(doc, run, aug)
    doc.fig(figures.augmented(run, aug, lang), text("augmented_title", lang))
    if aug.complete or aug.history:
        _table(doc, settings_table(aug, lang))
        _table(doc, results_table(aug, lang))
        if aug.complete and cnn.complete:
            a, c = aug.metrics, cnn.metrics
            _table(doc, Table([tr(lang, "mesure", "measure"), tr(lang, "CNN (étape 5)", "CNN (step 5)"),
                               tr(lang, "CNN + augmentation", "CNN + augmentation"), tr(lang, "écart", "change")],
                              [[tr(lang, "précision test", "test accuracy"), num(c["test_accuracy"], lang),
                                num(a["test_accuracy"], lang), points(a["test_accuracy"] - c["test_accuracy"], lang)],
                               [tr(lang, "perte test", "test loss"), num(c["test_loss"], lang),
                                num(a["test_loss"], lang),
                                signed(a["test_loss"] - c["test_loss"], lang)],
                               [tr(lang, "erreurs test", "test errors"), integer(c["test_errors"], lang),
                                integer(a["test_errors"], lang),
                                signed_int(a["test_errors"] - c["test_errors"], lang)]],
                              numeric=(1, 2, 3), caption=tr(lang, "Ce que l'augmentation a changé",
                                                            "What augmentation changed")))
        _curves(doc, aug)
        _table(doc, history_table(aug, lang))
    _code(doc, aug)
    _questions(doc, run, "ex2.7")


def _activations(doc: Document, run: Run, act: Step) -> None:
    lang = doc.lang
    m = act.metrics
    if m:
        rows = [[a, num(m["val_accuracy"][a], lang), num(m.get("test_accuracy", {}).get(a), lang),
                 integer(m.get("params", {}).get(a), lang), seconds(m.get("fit_seconds", {}).get(a), lang)]
                for a in m["val_accuracy"]]
        _table(doc, Table(["activation", tr(lang, "précision validation (dernière époque)", "validation accuracy (last "
                                            "epoch)"), tr(lang, "précision test", "test accuracy"),
                           tr(lang, "paramètres", "parameters"), tr(lang, "entraînement", "training")], rows,
                          numeric=(1, 2, 3, 4), caption=tr(lang, "Une exécution par activation "
                                                                 "(`ex2.activations/metrics.json`)",
                                                           "One run per activation (`ex2.activations/metrics.json`)")))
        doc.fig(figures.bars("ex2.activations_bars", m["val_accuracy"], None, text("activations_title", lang),
                             text("val_accuracy", lang), "ex2.activations/metrics.json"))
    series = {a: s.history["val_accuracy"] for a, s in act.subs.items() if s.history and s.history.get("val_accuracy")}
    if series:
        title = text("val_acc_per_epoch", lang).format("ex2.activations")
        doc.fig(figures.overlay("ex2.activations_val_curves", series, title, text("accuracy", lang), lang,
                                "ex2.activations/*/history.csv"))
    if not m:
        return
    spreads = {a: facts.seed_spread(act, lambda mm, a=a: mm["val_accuracy"][a]) for a in m["val_accuracy"]}
    if not all(spreads.values()):
        if (run.manifest.get("seeds") or 1) > 1:
            doc.p(tr(lang, "Les graines supplémentaires de cette étude manquent ou n'ont pas fini.",
                     "The extra seeds of this study are missing or did not finish."), "missing")
        return
    n = next(iter(spreads.values())).n
    doc.h(4, tr(lang, f"Sur {n} graines", f"Over {n} seeds"))
    rows = [[a, f"{num(sp.mean, lang)} ± {num(sp.std, lang)}", ", ".join(num(v, lang) for v in sp.values.values())]
            for a, sp in spreads.items()]
    _table(doc, Table(["activation", tr(lang, "moyenne ± écart-type", "mean ± std"),
                       tr(lang, "valeurs (graines ", "values (seeds ") + ", ".join(str(k) for k in
                                                                                   next(iter(spreads.values())).values)
                       + ")"], rows, numeric=(1,),
                      caption=tr(lang, "Précision de validation finale (`ex2.activations/metrics.json` et "
                                       "`ex2.activations/seeds/*/metrics.json`)",
                                 "Final validation accuracy (`ex2.activations/metrics.json` and "
                                 "`ex2.activations/seeds/*/metrics.json`)")))
    doc.fig(figures.bars("ex2.activations_bars_seeds", {a: sp.mean for a, sp in spreads.items()},
                         {a: sp.std for a, sp in spreads.items()}, text("activations_seeds_title", lang).format(n),
                         text("val_accuracy", lang), "ex2.activations/metrics.json, "
                                                     "ex2.activations/seeds/*/metrics.json"))
    names = list(spreads)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pv = facts.welch_p(spreads[a], spreads[b])
            d = spreads[a].mean - spreads[b].mean
            sig = pv is not None and pv < 0.05
            pairs.append([f"{a} − {b}", points(d, lang), num(pv, lang, 3),
                          tr(lang, "**oui**" if sig else "non", "**yes**" if sig else "no")])
    _table(doc, Table([tr(lang, "paire", "pair"), tr(lang, "écart des moyennes", "difference of means"),
                       "p (Welch)", tr(lang, "au-delà du bruit ?", "beyond the noise?")], pairs, numeric=(1, 2),
                      caption=tr(lang, "Quels écarts dépassent le bruit des graines (test de Welch bilatéral, p < "
                                       "0,05)",
                                 "Which gaps exceed the seed noise (two-sided Welch's test, p < 0.05)")))


def _ann_vs_cnn(doc: Document, run: Run) -> None:
    lang = doc.lang
    ann, cnn = run.step("ex2.ann"), run.step("ex2.cnn")
    if not (ann.complete and cnn.complete):
        return
    a, c = ann.metrics, cnn.metrics
    rows = [[tr(lang, "précision test", "test accuracy"), num(a["test_accuracy"], lang), num(c["test_accuracy"], lang),
             points(c["test_accuracy"] - a["test_accuracy"], lang)],
            [tr(lang, "perte test", "test loss"), num(a["test_loss"], lang), num(c["test_loss"], lang),
             signed(c["test_loss"] - a["test_loss"], lang)],
            [tr(lang, "paramètres", "parameters"), integer(a["params"], lang), integer(c["params"], lang),
             signed_int(c["params"] - a["params"], lang)],
            [tr(lang, "entraînement", "training"), seconds(a.get("fit_seconds"), lang),
             seconds(c.get("fit_seconds"), lang),
             ""]]
    sa = facts.seed_spread(ann, lambda mm: mm["test_accuracy"])
    sc = facts.seed_spread(cnn, lambda mm: mm["test_accuracy"])
    if sa and sc:
        pv = facts.welch_p(sc, sa)
        rows.append([tr(lang, f"précision test, moyenne ± écart-type ({sa.n} / {sc.n} graines)",
                        f"test accuracy, mean ± std ({sa.n} / {sc.n} seeds)"),
                     f"{num(sa.mean, lang)} ± {num(sa.std, lang)}", f"{num(sc.mean, lang)} ± {num(sc.std, lang)}",
                     points(sc.mean - sa.mean, lang) + f" (p = {num(pv, lang, 3)})"])
    _table(doc, Table([tr(lang, "mesure", "measure"), "ANN", "CNN", tr(lang, "écart", "change")], rows,
                      numeric=(1, 2, 3), caption=tr(lang, "ANN contre CNN (`ex2.ann/metrics.json`, "
                                                          "`ex2.cnn/metrics.json`)",
                                                    "ANN against CNN (`ex2.ann/metrics.json`, "
                                                    "`ex2.cnn/metrics.json`)")))


def _confusion(doc: Document, run: Run, conf: Step) -> None:
    lang = doc.lang
    doc.fig(figures.confusion(run, conf, lang))
    m = conf.metrics
    if not m:
        return
    en, loc = class_names("fashion_mnist", "en"), class_names("fashion_mnist", lang)

    def name(n):
        return loc[en.index(n)] if n in en else n

    _table(doc, Table([tr(lang, "classe réelle", "true class"), tr(lang, "prédite", "predicted"),
                       tr(lang, "images", "images")],
                      [[name(x["true"]), name(x["predicted"]), integer(x["count"], lang)]
                       for x in m.get("most_confused", [])], numeric=(2,),
                      caption=tr(lang, "Confusions les plus fréquentes (`ex2.confusion/metrics.json`, "
                                       "`most_confused`)",
                                 "Most frequent confusions (`ex2.confusion/metrics.json`, `most_confused`)")))
    pc = m.get("per_class") or {}
    _table(doc, Table([tr(lang, "classe", "class"), tr(lang, "précision", "precision"), tr(lang, "rappel", "recall"),
                       "F1", tr(lang, "images", "support")],
                      [[name(k), num(v["precision"], lang, 3), num(v["recall"], lang, 3), num(v["f1-score"], lang, 3),
                        integer(v["support"], lang)] for k, v in pc.items()]
                      + [[tr(lang, "**moyenne (macro)**", "**macro average**"), "", "", num(m.get("macro_f1"), lang, 3),
                          ""]], numeric=(1, 2, 3, 4),
                      caption=tr(lang, "Rapport par classe (`ex2.confusion/metrics.json`, `per_class`)",
                                 "Per-class report (`ex2.confusion/metrics.json`, `per_class`)")))
    doc.h(4, tr(lang, "Galerie des erreurs les plus confiantes du CNN", "Gallery of the CNN's most confident mistakes"),
          "mistakes")
    doc.fig(figures.mistakes(run, conf, lang), text("mistakes_title", lang).format("CNN"))
    worst = m.get("most_confident_mistakes") or []
    if worst:
        _table(doc, Table([tr(lang, "image de test n°", "test image #"), tr(lang, "vraie classe", "true class"),
                           tr(lang, "prédite", "predicted"), tr(lang, "probabilité", "probability")],
                          [[str(x["index"]), name(x["true"]), name(x["predicted"]), num(x["probability"], lang)]
                           for x in worst], numeric=(0, 3),
                          caption=tr(lang, "Erreurs les plus confiantes (`most_confident_mistakes`)",
                                     "Most confident mistakes (`most_confident_mistakes`)")))
        doc.p(tr(lang, "Une erreur faite avec une probabilité proche de 1 montre une image ambiguë ou un label "
                       "discutable plutôt qu'un modèle hésitant.",
                 "A mistake made with a probability close to 1 points to an ambiguous image or a debatable label "
                 "rather than a hesitant model."), "small")


EXT_BASE = {"ext.ex1_50_epochs": "ex1", "ext.ex1_categorical_loss": "ex1", "ext.ex1_mse_loss": "ex1",
            "ext.ex1_sgd": "ex1", "ext.ex1_lr_too_high": "ex1", "ext.ann_50_epochs": "ex2.ann",
            "ext.augment_no_flip": "ex2.augment"}
EXT_QUESTION = {"ext.ex1_50_epochs": "ex1.6.3", "ext.ex1_categorical_loss": "ex1.5.3", "ext.ex1_mse_loss": "ex1.5.3",
                "ext.ex1_sgd": "ex1.5.4", "ext.ex1_lr_too_high": "ex1.5.4", "ext.ann_50_epochs": "ex2.3.3",
                "ext.augment_no_flip": "ex2.7.2"}


def _extended(doc: Document, run: Run) -> None:
    lang = doc.lang
    doc.h(2, tr(lang, "Études complémentaires (« et si… ? »)", "Extended studies (\"what if?\")"), "extended")
    names = [n for n in config.names(extended=True) if n not in config.names()]
    present = [n for n in run.steps if n in names or n.startswith("ext.")]
    present = [n for n in present if run.step(n).status != "not run"]
    if not present:
        doc.p(tr(lang, "Ce run n'en contient pas. `mnistlab run --extended` lance, en plus du TP, les expériences qui "
                       "répondent par la mesure aux questions « et si » : "
                 + listing([f"`{n}`" for n in names], lang) + ".",
                 "This run holds none. `mnistlab run --extended` runs, besides the lab, the experiments that answer "
                 "the "
                 "\"what if\" questions by measurement: " + listing([f"`{n}`" for n in names], lang) + "."))
        return
    for name in present:
        s = run.step(name)
        doc.h(3, step_title(s, lang), _anchor(name))
        base = EXT_BASE.get(name)
        if base and s.config and run.step(base).config:
            diff = [f"`{k}` {_lit(run.step(base).config.get(k))} → {_lit(v)}" for k, v in s.config.items()
                    if k not in ("name", "title", "order", "extended", "expect_divergence")
                    and run.step(base).config.get(k) != v]
            doc.p(tr(lang, f"Diffère de `{base}` par : ", f"Differs from `{base}` in: ") + "; ".join(diff) + "."
                  if diff else tr(lang, f"Mêmes réglages que `{base}`.", f"Same settings as `{base}`."))
        q = EXT_QUESTION.get(name)
        if q:
            sec = questions.SECTIONS[q.rsplit(".", 1)[0]]
            doc.p(tr(lang, f"Répond à la question {q.rsplit('.', 1)[1]} de « {sec[0]} ».",
                     f"Answers question {q.rsplit('.', 1)[1]} of \"{sec[1]}\"."), "small")
        if _step_missing(doc, run, s) and not s.history:
            continue
        if s.complete and s.metrics.get("diverged"):
            doc.p(tr(lang, f"**L'entraînement a divergé** et mnistlab l'a arrêté (dernière époque saine : "
                           f"{s.metrics.get('last_good_epoch')}) : « {s.metrics.get('reason')} ». C'est le résultat de "
                           "cette étude.",
                     f"**Training diverged** and mnistlab stopped it (last good epoch: "
                     f"{s.metrics.get('last_good_epoch')}): \"{s.metrics.get('reason')}\". That is this study's "
                     "result."), "warn")
        _table(doc, results_table(s, lang))
        bm = run.step(base).metrics if base else None
        if s.complete and bm and isinstance(bm.get("test_accuracy"), float) \
                and isinstance(s.metrics.get("test_accuracy"), float):
            doc.p(tr(lang, f"Précision de test {num(s.metrics['test_accuracy'], lang)} contre "
                           f"{num(bm['test_accuracy'], lang)} pour `{base}` "
                           f"({points(s.metrics['test_accuracy'] - bm['test_accuracy'], lang)}).",
                     f"Test accuracy {num(s.metrics['test_accuracy'], lang)} against {num(bm['test_accuracy'], lang)} "
                     f"for `{base}` ({points(s.metrics['test_accuracy'] - bm['test_accuracy'], lang)})."))
        c = facts.curve(s.history)
        if c and c.epochs > 1:
            doc.p(questions._overfit_sentence(c, lang))
        _curves(doc, s)
        _code(doc, s)


def _others(doc: Document, run: Run) -> None:
    """Experiments the run holds beyond the lab and its studies (e.g. the ``improved`` models)."""
    lang = doc.lang
    lab = set(config.names(extended=True))
    others = [n for n, s in run.steps.items() if n not in lab and not n.startswith("ext.") and s.status != "not run"]
    if not others:
        return
    doc.h(2, tr(lang, "Autres expériences de ce run", "Other experiments in this run"), "others")
    for name in others:
        s = run.step(name)
        doc.h(3, step_title(s, lang), _anchor(name))
        if _step_missing(doc, run, s) and not s.history:
            continue
        _table(doc, settings_table(s, lang))
        _table(doc, model_table(s, lang))
        _table(doc, results_table(s, lang))
        _curves(doc, s)
        _code(doc, s)


def _analysis(doc: Document, run: Run) -> None:
    lang = doc.lang
    doc.h(2, tr(lang, "Analyse", "Analysis"), "analysis")
    lines = analysis.analysis(run, lang)
    if not lines:
        doc.p(tr(lang, "Pas d'analyse : aucune étape n'a de résultats.", "No analysis: no step has results."),
              "missing")
        return
    doc.p(tr(lang, "Écrite à partir des mesures de ce run (chaque chiffre vient des fichiers cités plus haut) : "
                   "interprétation, difficultés observées, pistes d'amélioration.",
             "Written from this run's measurements (every number comes from the files cited above): interpretation, "
             "difficulties observed, improvements to try."), "small")
    doc.blocks.append(Bullets(lines, "analysis"))


def _notes(doc: Document, run: Run) -> None:
    lang = doc.lang
    notes = analysis.method_notes(run, lang)
    if not notes:
        return
    doc.h(2, tr(lang, "Notes de méthode", "Method notes"), "notes")
    doc.blocks.append(Bullets(notes))


def _environment(doc: Document, run: Run) -> None:
    lang = doc.lang
    doc.h(2, tr(lang, "Annexe : d'où viennent les chiffres", "Appendix: where the numbers come from"), "appendix")
    doc.p(tr(lang,
             "Tout ce rapport est lu dans le dossier du run, sans réentraîner : `manifest.json` (versions, machine, "
             "durées, statut), et pour chaque étape `config.json` (réglages, code), `history.csv` (courbes), "
             "`metrics.json` (résultats), `confusion_matrix.csv`, `test_probabilities.npy`. Il se régénère avec "
             f"`mnistlab report {run.folder.name}" + (" --lang en`." if lang == "en" else "`."),
             "This whole report is read from the run folder, without retraining: `manifest.json` (versions, machine, "
             "times, status), and for each step `config.json` (settings, code), `history.csv` (curves), "
             "`metrics.json` (results), `confusion_matrix.csv`, `test_probabilities.npy`. Rebuild it with "
             f"`mnistlab report {run.folder.name} --lang en`."))
    rows = []
    for name, d in (run.manifest.get("data") or {}).items():
        rows.append([f"`{name}`", f"`{d.get('source', '?')}`", str(d.get("layout", "?")),
                     tr(lang, "oui", "yes") if d.get("verified") else tr(lang, "**non**", "**no**")])
    if rows:
        _table(doc, Table([tr(lang, "données", "data"), "source", "format", tr(lang, "vérifiées", "verified")], rows))
