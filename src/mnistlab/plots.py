"""Figures of the lab as pure functions: arrays in, a matplotlib Figure out.

Nothing here reads or writes files or trains; :func:`save` writes a figure atomically as PNG.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # no screen needed; figures are files
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mnistlab.fileio import atomic_path  # noqa: E402
from mnistlab.i18n import number, say  # noqa: E402


def save(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> None:
    """Write ``fig`` to ``path`` as PNG, all or nothing, and free it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)


def samples(images: np.ndarray, labels: np.ndarray, class_names: list[str], rows: int, cols: int,
            lang: str = "fr") -> Figure:
    """The first ``rows * cols`` images in grey with their label (the lab's sample grids)."""
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.8 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(images):
            continue
        ax.imshow(images[i], cmap="gray")
        y = int(labels[i])
        name = class_names[y]
        ax.set_title(say("figures.label", lang, y if name == str(y) else f"{y} ({name})"), fontsize=9)
    fig.tight_layout()
    return fig


def curves(history: dict[str, list[float]], metric: str, title: str, lang: str = "fr",
           mark_epoch: int | None = None) -> Figure:
    """Training and validation ``metric`` ("accuracy" or "loss") per epoch, epochs counted from 1.

    ``mark_epoch`` draws a dashed vertical line at the epoch of lowest validation loss.
    """
    train, val = history.get(metric, []), history.get(f"val_{metric}", [])
    fig, ax = plt.subplots(figsize=(7, 4))
    epochs = np.arange(1, len(train) + 1)
    acc = metric == "accuracy"
    ax.plot(epochs, train, marker="o", label=say("figures.train_acc" if acc else "figures.train_loss", lang))
    if len(val):
        ax.plot(np.arange(1, len(val) + 1), val, marker="o",
                label=say("figures.val_acc" if acc else "figures.val_loss", lang))
    ax.set_title(say("figures.acc_title" if acc else "figures.loss_title", lang, title))
    ax.set_xlabel(say("figures.epochs", lang))
    ax.set_ylabel(say("figures.accuracy" if acc else "figures.loss", lang))
    ax.set_xticks(epochs if len(epochs) <= 20 else ax.get_xticks())
    if mark_epoch:
        ax.axvline(mark_epoch, color="grey", linestyle="--", label=say("figures.best_val_loss_at", lang, mark_epoch))
    ax.legend()
    ax.grid(True)
    fig.tight_layout()
    return fig


def overlay(series: dict[str, list[float]], title: str, ylabel: str, lang: str = "fr") -> Figure:
    """One line per entry of ``series`` (e.g. validation accuracy per activation) against the epoch."""
    fig, ax = plt.subplots(figsize=(7, 4))
    longest = 0
    for name, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", label=name)
        longest = max(longest, len(values))
    if 0 < longest <= 20:
        ax.set_xticks(np.arange(1, longest + 1))
    ax.set_title(title)
    ax.set_xlabel(say("figures.epochs", lang))
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.grid(True)
    fig.tight_layout()
    return fig


def predictions(images: np.ndarray, true: np.ndarray, predicted: np.ndarray, class_names: list[str],
                lang: str = "fr") -> Figure:
    """Test images with their true and predicted class; wrong ones titled in red."""
    n = len(images)
    fig, axes = plt.subplots(1, n, figsize=(2 * n, 2.6), squeeze=False)
    for ax, img, t, p in zip(axes.flat, images, true, predicted, strict=True):
        ax.imshow(img, cmap="gray")
        ax.set_title(say("figures.true_pred", lang, class_names[int(t)], class_names[int(p)]),
                     fontsize=9, color="black" if t == p else "red")
        ax.axis("off")
    fig.tight_layout()
    return fig


def bars(values: dict[str, float], title: str, ylabel: str, errors: dict[str, float] | None = None,
         lang: str = "fr") -> Figure:
    """A bar per entry with its value printed on top (the activation comparison); the axis starts at 0."""
    names = list(values)
    heights = [values[k] for k in names]
    fig, ax = plt.subplots(figsize=(7, 4))
    yerr = [errors[k] for k in names] if errors else None
    rects = ax.bar(names, heights, yerr=yerr, capsize=6 if yerr else 0, color="#4C72B0")

    def fmt(x: float) -> str:
        return number(x, lang, 4)

    labels = [f"{fmt(h)} ± {fmt(e)}" for h, e in zip(heights, yerr, strict=True)] if yerr else [fmt(h) for h in heights]
    ax.bar_label(rects, labels=labels, padding=3, fontsize=12)
    top = max(h + (e or 0) for h, e in zip(heights, yerr or [0] * len(heights), strict=True))
    ax.set_ylim(0, min(1.0, top) * 1.12 if top > 0 else 1)  # from zero: the bars' lengths compare
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.4)
    fig.tight_layout()
    return fig


def confusion(matrix: np.ndarray, class_names: list[str], title: str, lang: str = "fr") -> Figure:
    """A confusion matrix with counts in each cell (rows: true class, columns: predicted)."""
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plt.subplots(figsize=(9, 8))
    ConfusionMatrixDisplay(matrix, display_labels=class_names).plot(
        ax=ax, cmap="Blues", xticks_rotation=45, colorbar=True, values_format="d")
    ax.set_title(say("figures.confusion_title", lang, title))
    ax.set_xlabel(say("figures.pred_label", lang))
    ax.set_ylabel(say("figures.true_label", lang))
    fig.tight_layout()
    return fig


def augmented(originals: np.ndarray, variants: np.ndarray, lang: str = "fr") -> Figure:
    """Each original image (first column) beside augmented versions of it."""
    rows, per_row = variants.shape[0], variants.shape[1]
    fig, axes = plt.subplots(rows, per_row + 1, figsize=(1.5 * (per_row + 1), 1.5 * rows), squeeze=False)
    for r in range(rows):
        axes[r, 0].imshow(originals[r], cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_title(say("figures.original", lang), fontsize=8)
        for c in range(per_row):
            axes[r, c + 1].imshow(variants[r, c], cmap="gray", vmin=0, vmax=1)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(say("figures.augmented_title", lang))
    fig.tight_layout()
    return fig


def mistakes(images: np.ndarray, true: np.ndarray, predicted: np.ndarray, confidence: np.ndarray,
             class_names: list[str], title: str, lang: str = "fr", cols: int = 6) -> Figure:
    """The given misclassified images with true class, predicted class and its probability."""
    n = len(images)
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.6 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray")
            ax.set_title(say("figures.mistake", lang, class_names[int(true[i])], class_names[int(predicted[i])],
                                                      float(confidence[i])), fontsize=8, color="red")
    fig.suptitle(say("figures.mistakes_title", lang, title))
    fig.tight_layout()
    return fig
