"""The report's figures as PNG bytes, with labels in the report's language.

Curves, bar charts and the confusion matrix are redrawn from ``history.csv``, ``metrics.json`` and
``confusion_matrix.csv`` with :mod:`mnistlab.plots`. Figures of images (samples, predictions, mistakes,
augmented samples) are the run's own PNGs when the run drew them in the report's language; otherwise they
are redrawn from the small arrays the run saved (``arrays/*.npy``), and the run's PNG (checked to be a PNG) is
the fallback. Nothing here imports TensorFlow or reloads a data set.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np

from mnistlab import plots, runfolder
from mnistlab.i18n import class_names, say
from mnistlab.report.artifacts import Run, Step, counts_matrix, read_confusion_csv
from mnistlab.report.fmt import general


@dataclass
class Figure:
    """One figure of the report: a file name (for report.md), the PNG, and where it comes from."""

    key: str  # unique, used as the file name under report_figures/
    png: bytes
    alt: str  # what it shows, in the report's language
    origin: str  # the artifacts it was drawn from, or the run's PNG it copies
    note: str = ""  # e.g. labels left in the run's language


# Text sizes for a figure read at phone width (a 7-inch figure shown ~360 px wide).
READABLE = {"font.size": 15, "axes.titlesize": 16, "axes.labelsize": 15, "xtick.labelsize": 14,
            "ytick.labelsize": 14, "legend.fontsize": 13}


def _png(fig, lang: str = "en") -> bytes:
    """The figure as PNG bytes, its numbers written the ``lang`` way (decimal comma in French)."""
    if lang == "fr":
        _decimal_comma(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plots.plt.close(fig)
    return buf.getvalue()


def _decimal_comma(fig) -> None:
    from matplotlib.text import Text
    from matplotlib.ticker import FuncFormatter, ScalarFormatter

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if isinstance(axis.get_major_formatter(), ScalarFormatter):
                axis.set_major_formatter(FuncFormatter(lambda x, _pos: general(x, "fr")))
    for t in fig.findobj(Text):
        t.set_text(re.sub(r"(\d)\.(\d)", r"\1,\2", t.get_text()))


def _readable():
    return plots.plt.rc_context(READABLE)


def curve(step: Step, metric: str, lang: str, title: str | None = None, mark_best: bool = False) -> Figure | None:
    """Training and validation accuracy or loss per epoch from ``history.csv``."""
    if not step.history or not step.history.get(metric):
        return None
    mark = None
    if mark_best and step.history.get("val_loss"):
        mark = int(np.argmin(step.history["val_loss"]) + 1)
    with _readable():
        fig = plots.curves(step.history, metric, title or step.name, lang, mark_epoch=mark)
        png = _png(fig, lang)
    return Figure(f"{step.name.replace('/', '_')}_{metric}", png,
                  say("figures.acc_title" if metric == "accuracy" else "figures.loss_title", lang, title or step.name),
                  f"{step.name}/history.csv")


def overlay(key: str, series: dict[str, list[float]], title: str, ylabel: str, lang: str, origin: str) -> Figure:
    with _readable():
        png = _png(plots.overlay(series, title, ylabel, lang), lang)
    return Figure(key, png, title, origin)


def bars(key: str, values: dict[str, float], errors: dict[str, float] | None, title: str, ylabel: str,
         origin: str, lang: str = "en") -> Figure:
    """Bars from zero, values written the ``lang`` way."""
    with _readable():
        png = _png(plots.bars(values, title, ylabel, errors, lang), lang)
    return Figure(key, png, title, origin)


def confusion(run: Run, step: Step, lang: str) -> Figure | None:
    """The confusion matrix from ``confusion_matrix.csv`` (else ``metrics.json``), class names in ``lang``."""
    got = read_confusion_csv(step)
    origin = f"{step.name}/confusion_matrix.csv"
    if got is None and step.metrics and step.metrics.get("confusion_matrix"):
        matrix = counts_matrix(step.metrics["confusion_matrix"])
        got = None if matrix is None else (None, matrix)
        origin = f"{step.name}/metrics.json"
    if got is None:
        return None
    _, matrix = got
    exp = step.exp
    names = class_names(exp.dataset if exp else "fashion_mnist", lang)
    if len(names) != matrix.shape[0]:
        names = [str(i) for i in range(matrix.shape[0])]
    with _readable():
        png = _png(plots.confusion(matrix, names, "CNN", lang), lang)
    return Figure(f"{step.name}_confusion", png, say("figures.confusion_title", lang, "CNN"), origin)


# --- figures of images ------------------------------------------------------------------------------------


def _run_png(run: Run, step: Step, name: str, lang: str, alt: str) -> Figure | None:
    """The run's own PNG, only if its bytes are a PNG (a symlink or other bytes are refused)."""
    path = step.figure(name)
    if path is None:
        return None
    try:
        png = runfolder.read_png(path)
    except runfolder.RunFolderError as e:
        step._problem(str(e))
        return None
    if png is None:
        return None
    note = "" if run.lang == lang else f"labels:{run.lang}"
    return Figure(f"{step.name}_{name}", png, alt, f"{step.name}/figures/{name}.png", note)


def _images(step: Step, name: str, count: int | None = None) -> np.ndarray | None:
    """``arrays/<name>.npy``: grey images (n, 28, 28) the run saved for the report, else None."""
    a = step.array(name, ndim=3)
    if a is None or a.shape[1:] != (28, 28) or (count is not None and len(a) < count):
        return None
    return a


def _labels(step: Step, name: str, n: int) -> np.ndarray | None:
    a = step.array(name, ndim=1)
    if a is None or len(a) < n or not np.issubdtype(a.dtype, np.integer) or (len(a) and (a.min() < 0 or a.max() > 9)):
        return None
    return a[:n].astype(np.int64)


def samples(run: Run, step: Step, lang: str) -> Figure | None:
    """The first training images with their labels (the lab's sample grid), in ``lang``."""
    exp = step.exp
    alt = say("figures.label", lang, "…")
    if exp is not None:
        rows, cols = exp.samples_grid
        images, labels = _images(step, "samples_images", rows * cols), _labels(step, "samples_labels", rows * cols)
        if images is not None and labels is not None:
            fig = plots.samples(images[: rows * cols], labels, class_names(exp.dataset, lang), rows, cols, lang)
            return Figure(f"{step.name}_samples", _png(fig, lang), alt, f"{step.name}/arrays/samples_*.npy")
    return _run_png(run, step, "samples", lang, alt)


def predictions(run: Run, step: Step, lang: str) -> Figure | None:
    """The first test images with true and predicted class (``test_probabilities.npy``), in ``lang``."""
    from mnistlab.report import quantities

    exp = step.exp
    alt = say("figures.true_pred", lang, "…", "…").replace("\n", " ")
    probs = quantities.probabilities(step)
    if exp is not None and probs is not None:
        n = min(exp.predictions_shown, len(probs))
        images, labels = _images(step, "predictions_images", n), _labels(step, "predictions_labels", n)
        if images is not None and labels is not None:
            fig = plots.predictions(images[:n], labels, probs[:n].argmax(axis=1), class_names(exp.dataset, lang),
                                    lang)
            return Figure(f"{step.name}_predictions", _png(fig, lang), alt,
                          f"{step.name}/test_probabilities.npy, {step.name}/arrays/predictions_*.npy")
    return _run_png(run, step, "predictions", lang, alt)


def mistakes(run: Run, step: Step, lang: str) -> Figure | None:
    """The CNN's most confident mistakes (``metrics.json`` ``most_confident_mistakes``), in ``lang``."""
    exp = step.exp
    alt = say("figures.mistakes_title", lang, "CNN")
    worst = (step.metrics or {}).get("most_confident_mistakes")
    if exp is not None and isinstance(worst, list) and worst and all(isinstance(m, dict) for m in worst):
        en = class_names(exp.dataset, "en")
        images = _images(step, "mistakes_images", len(worst))
        prob = [m.get("probability") for m in worst]
        if images is not None and all(m.get("true") in en and m.get("predicted") in en for m in worst) \
                and all(isinstance(p, (int, float)) and 0 <= p <= 1 for p in prob):
            fig = plots.mistakes(images[: len(worst)], np.array([en.index(m["true"]) for m in worst]),
                                 np.array([en.index(m["predicted"]) for m in worst]), np.array(prob, dtype=float),
                                 class_names(exp.dataset, lang), "CNN", lang)
            return Figure(f"{step.name}_mistakes", _png(fig, lang), alt,
                          f"{step.name}/metrics.json (most_confident_mistakes), {step.name}/arrays/mistakes_images.npy")
    return _run_png(run, step, "mistakes", lang, alt)


def augmented(run: Run, step: Step, lang: str) -> Figure | None:
    """Training images beside augmented versions of them, as the run drew them (``arrays/augmented_*``)."""
    alt = say("figures.augmented_title", lang)
    originals, variants = step.array("augmented_originals", ndim=3), step.array("augmented_variants", ndim=4)
    if originals is not None and variants is not None and variants.shape[0] == originals.shape[0] \
            and originals.shape[1:] == (28, 28) and variants.shape[2:] == (28, 28):
        fig = plots.augmented(originals, variants, lang)
        return Figure(f"{step.name}_augmented_samples", _png(fig, lang), alt, f"{step.name}/arrays/augmented_*.npy")
    return _run_png(run, step, "augmented_samples", lang, alt)
