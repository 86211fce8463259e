"""The report's figures as PNG bytes, with labels in the report's language.

Curves, bar charts and the confusion matrix are redrawn from ``history.csv``, ``metrics.json`` and
``confusion_matrix.csv`` with :mod:`mnistlab.plots`. Figures of images (samples, predictions, mistakes,
augmented samples) are the run's own PNGs when the run drew them in the report's language; otherwise they
are redrawn from the data set the manifest records, and the run's PNG is the fallback.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from mnistlab import plots
from mnistlab.i18n import class_names, text
from mnistlab.report.artifacts import Run, Step, read_confusion_csv


@dataclass
class Figure:
    """One figure of the report: a file name (for report.md), the PNG, and where it comes from."""

    key: str  # unique, used as the file name under report_figures/
    png: bytes
    alt: str  # what it shows, in the report's language
    origin: str  # the artifacts it was drawn from, or the run's PNG it copies
    note: str = ""  # e.g. labels left in the run's language


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plots.plt.close(fig)
    return buf.getvalue()


def curve(step: Step, metric: str, lang: str, title: str | None = None, mark_best: bool = False) -> Figure | None:
    """Training and validation accuracy or loss per epoch from ``history.csv``."""
    if not step.history or not step.history.get(metric):
        return None
    mark = None
    if mark_best and step.history.get("val_loss"):
        mark = int(np.argmin(step.history["val_loss"]) + 1)
    fig = plots.curves(step.history, metric, title or step.name, lang, mark_epoch=mark)
    return Figure(f"{step.name.replace('/', '_')}_{metric}", _png(fig),
                  text("acc_title" if metric == "accuracy" else "loss_title", lang).format(title or step.name),
                  f"{step.name}/history.csv")


def overlay(key: str, series: dict[str, list[float]], title: str, ylabel: str, lang: str, origin: str) -> Figure:
    return Figure(key, _png(plots.overlay(series, title, ylabel, lang)), title, origin)


def bars(key: str, values: dict[str, float], errors: dict[str, float] | None, title: str, ylabel: str,
         origin: str) -> Figure:
    return Figure(key, _png(plots.bars(values, title, ylabel, errors)), title, origin)


def confusion(run: Run, step: Step, lang: str) -> Figure | None:
    """The confusion matrix from ``confusion_matrix.csv`` (else ``metrics.json``), class names in ``lang``."""
    got = read_confusion_csv(step.folder / "confusion_matrix.csv")
    origin = f"{step.name}/confusion_matrix.csv"
    if got is None and step.metrics and step.metrics.get("confusion_matrix"):
        got = (None, np.array(step.metrics["confusion_matrix"], dtype=np.int64))
        origin = f"{step.name}/metrics.json"
    if got is None:
        return None
    _, matrix = got
    exp = step.exp
    names = class_names(exp.dataset if exp else "fashion_mnist", lang)
    if len(names) != matrix.shape[0]:
        names = [str(i) for i in range(matrix.shape[0])]
    fig = plots.confusion(matrix, names, "CNN", lang)
    return Figure(f"{step.name}_confusion", _png(fig), text("confusion_title", lang).format("CNN"), origin)


# --- figures of images ------------------------------------------------------------------------------------


def _run_png(run: Run, step: Step, name: str, lang: str, alt: str) -> Figure | None:
    path = step.figure(name)
    if path is None:
        return None
    note = "" if run.lang == lang else f"labels:{run.lang}"
    return Figure(f"{step.name}_{name}", path.read_bytes(), alt, f"{step.name}/figures/{name}.png", note)


def samples(run: Run, step: Step, lang: str) -> Figure | None:
    """The first training images with their labels (the lab's sample grid)."""
    exp = step.exp
    alt = text("label", lang).format("…")
    if run.lang != lang and exp is not None:
        ds = run.load_dataset(exp.dataset)
        if ds is not None:
            rows, cols = exp.samples_grid
            fig = plots.samples(ds.x_train[: rows * cols], ds.y_train[: rows * cols], class_names(exp.dataset, lang),
                                rows, cols, lang)
            return Figure(f"{step.name}_samples", _png(fig), alt, f"{exp.dataset}: {ds.source}")
    return _run_png(run, step, "samples", lang, alt)


def predictions(run: Run, step: Step, lang: str) -> Figure | None:
    """The first test images with true and predicted class (``test_probabilities.npy``)."""
    exp = step.exp
    alt = text("true_pred", lang).replace("\n", " ").format("…", "…")
    probs_path = step.folder / "test_probabilities.npy"
    if run.lang != lang and exp is not None and probs_path.is_file():
        ds = run.load_dataset(exp.dataset)
        if ds is not None:
            try:
                predicted = np.load(probs_path, allow_pickle=False).argmax(axis=1)
                n = min(exp.predictions_shown, len(predicted))
                fig = plots.predictions(ds.x_test[:n], ds.y_test[:n], predicted[:n], class_names(exp.dataset, lang),
                                        lang)
                return Figure(f"{step.name}_predictions", _png(fig), alt,
                              f"{step.name}/test_probabilities.npy, {exp.dataset}: {ds.source}")
            except (OSError, ValueError):
                pass
    return _run_png(run, step, "predictions", lang, alt)


def mistakes(run: Run, step: Step, lang: str) -> Figure | None:
    """The CNN's most confident mistakes (``metrics.json`` ``most_confident_mistakes``)."""
    exp = step.exp
    alt = text("mistakes_title", lang).format("CNN")
    worst = (step.metrics or {}).get("most_confident_mistakes") or []
    if run.lang != lang and exp is not None and worst:
        ds = run.load_dataset(exp.dataset)
        en = class_names(exp.dataset, "en")
        if ds is not None and all(m.get("true") in en and m.get("predicted") in en for m in worst):
            idx = np.array([int(m["index"]) for m in worst])
            if idx.max() < len(ds.x_test):
                fig = plots.mistakes(ds.x_test[idx], np.array([en.index(m["true"]) for m in worst]),
                                     np.array([en.index(m["predicted"]) for m in worst]),
                                     np.array([float(m["probability"]) for m in worst]),
                                     class_names(exp.dataset, lang), "CNN", lang)
                return Figure(f"{step.name}_mistakes", _png(fig), alt,
                              f"{step.name}/metrics.json (most_confident_mistakes), {exp.dataset}: {ds.source}")
    return _run_png(run, step, "mistakes", lang, alt)


def augmented(run: Run, step: Step, lang: str) -> Figure | None:
    """Training images beside augmented versions, redrawn only in another language (it needs Keras)."""
    exp = step.exp
    alt = text("augmented_title", lang)
    if run.lang != lang and exp is not None:
        ds = run.load_dataset(exp.dataset)
        if ds is not None:
            try:
                originals, variants = _augment(ds.x_train[:4], exp)
                fig = plots.augmented(originals, variants, lang)
                return Figure(f"{step.name}_augmented_samples", _png(fig), alt,
                              f"{step.name}/config.json (seed {exp.seed}), {exp.dataset}: {ds.source}")
            except Exception:  # noqa: BLE001 - the run's own PNG is a fine fallback
                pass
    return _run_png(run, step, "augmented_samples", lang, alt)


def _augment(raw: np.ndarray, exp) -> tuple[np.ndarray, np.ndarray]:
    """The augment step's grid again: same seed, same keys, same random draws."""
    from mnistlab.backend import quiet, seed_everything

    quiet()
    from mnistlab.data.pipeline import augmented_grid, model_input

    seed_everything(exp.seed)
    originals, variants = augmented_grid(model_input(raw, "cnn"), exp)
    return originals[..., 0], variants[..., 0]
