"""Numbers derived from arrays that both the producers (training, evaluation) and the readers (the report,
the notebook) need: one source for each, NumPy only, importing nothing of mnistlab."""

from __future__ import annotations

import numpy as np


def confused_pairs(matrix: np.ndarray, top: int) -> list[tuple[int, int, int]]:
    """The ``top`` largest off-diagonal cells of a confusion matrix as (count, true, predicted), largest first
    (ties by true then predicted class), and every cell tied with the last of them: a tie is never dropped."""
    off = np.array(matrix, copy=True)
    np.fill_diagonal(off, 0)
    cells = sorted(((int(off[t, p]), t, p) for t in range(off.shape[0]) for p in range(off.shape[1]) if off[t, p]),
                   key=lambda c: (-c[0], c[1], c[2]))
    if len(cells) > top:
        cells = [c for c in cells if c[0] >= cells[top - 1][0]]
    return cells


def most_confused(matrix: np.ndarray, names: list[str], top: int = 5) -> list[dict[str, object]]:
    """:func:`confused_pairs` as the run folder's ``most_confused`` entries (class names and indices)."""
    return [{"true": names[t], "predicted": names[p], "true_index": int(t), "predicted_index": int(p), "count": c}
            for c, t, p in confused_pairs(matrix, top)]


def activation_ranking(val_accuracy: dict[str, float]) -> dict[str, object]:
    """The activation study's summary: the best activation on validation and its margin over the second."""
    ranked = sorted(val_accuracy, key=val_accuracy.get, reverse=True)
    return {"best": ranked[0] if ranked else None,
            "margin_over_second": float(val_accuracy[ranked[0]] - val_accuracy[ranked[1]]) if len(ranked) > 1
            else None}


def confusion_summary(matrix: np.ndarray, report: dict, names_en: list[str], accuracy: float, n_test: int,
                      top: int = 5) -> dict[str, object]:
    """The confusion step's metrics from its matrix and scikit-learn's per-class report (``output_dict``):
    per-class precision, recall, F1 and support, the macro F1, the most confused pairs, the class of lowest
    recall."""
    per_class = {n: {k: float(report[n][k]) for k in ("precision", "recall", "f1-score")}
                 | {"support": int(report[n]["support"])} for n in names_en}
    return {"test_accuracy": float(accuracy), "n_test": int(n_test), "per_class": per_class,
            "macro_f1": float(report["macro avg"]["f1-score"]), "most_confused": most_confused(matrix, names_en, top),
            "worst_recall_class": min(per_class, key=lambda k: per_class[k]["recall"]),
            "confusion_matrix": np.asarray(matrix).tolist()}
