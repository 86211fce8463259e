"""Evaluation of a trained model from its run folder: confusion matrix, per-class report, mistakes."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

from mnistlab import plots
from mnistlab.config import Experiment
from mnistlab.data.pipeline import model_input
from mnistlab.derived import confusion_summary, most_confused  # noqa: F401 - most_confused: its public name here
from mnistlab.fileio import load_model, write_text
from mnistlab.i18n import class_names
from mnistlab.runfolder import CONFUSION, FIGURES, save_array
from mnistlab.train import Context


def confusion_and_report(y: np.ndarray, pred: np.ndarray, names_en: list[str], csv_path: Path
                         ) -> tuple[np.ndarray, dict]:
    """The 10x10 confusion matrix (written to ``csv_path``) and scikit-learn's per-class report as a dict."""
    matrix = confusion_matrix(y, pred, labels=list(range(10)))
    report = classification_report(y, pred, labels=list(range(10)), target_names=names_en, output_dict=True,
                                   zero_division=0)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["true\\predicted", *names_en])
    for name, row in zip(names_en, matrix, strict=True):
        w.writerow([name, *row.tolist()])
    write_text(csv_path, buf.getvalue())
    return matrix, report


def confusion_step(exp: Experiment, ctx: Context, model_path: Path) -> dict[str, object]:
    """Predict the test set with the model at ``model_path``; write the matrix, report and mistakes."""
    ds = ctx.get_data(exp.dataset)
    x_raw, y = ds.x_test, ds.y_test
    if exp.test_limit:
        x_raw, y = x_raw[: exp.test_limit], y[: exp.test_limit]
    model = load_model(model_path)
    probs = model.predict(model_input(x_raw, exp.model), batch_size=1000, verbose=0)
    pred = probs.argmax(axis=1)
    names_en = class_names(exp.dataset, "en")
    names = class_names(exp.dataset, ctx.lang)
    matrix, report = confusion_and_report(y, pred, names_en, ctx.workdir / CONFUSION)
    plots.save(plots.confusion(matrix, names, "CNN", ctx.lang), ctx.workdir / FIGURES / "confusion_matrix.png")
    wrong = np.flatnonzero(pred != y)
    worst = wrong[np.argsort(-probs[wrong, pred[wrong]])][:12]
    plots.save(plots.mistakes(x_raw[worst], y[worst], pred[worst], probs[worst, pred[worst]], names, "CNN",
                              ctx.lang), ctx.workdir / FIGURES / "mistakes.png")
    save_array(ctx.workdir, "mistakes_images", x_raw[worst])  # the report redraws them in its language
    return {"model": str(model_path.parent.name),
            **confusion_summary(matrix, report, names_en, float((pred == y).mean()), len(y)),
            "most_confident_mistakes": [{"index": int(i), "true": names_en[y[i]], "predicted": names_en[pred[i]],
                                         "probability": float(probs[i, pred[i]])} for i in worst]}
