"""Training: the only place that calls ``fit``. Each step writes its artifacts into its own folder.

Artifacts of a trained experiment (names never change):
``config.json``, ``history.csv``, ``metrics.json`` (written last: its presence means complete),
``model.keras``, ``summary.txt``, ``test_probabilities.npy``, ``val_losses.npy`` and ``val_predicted.npy``
(each epoch's per-example validation results), ``figures/*.png``.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import keras
import numpy as np

from mnistlab import config, models, plots
from mnistlab.backend import seed_everything
from mnistlab.callbacks import (
    EpochCheckpoint,
    EpochKeyedRandomness,
    Progress,
    StopOnDivergence,
    ValidationOutputs,
    clear_checkpoints,
    restore_checkpoint,
)
from mnistlab.config import Experiment
from mnistlab.data.pipeline import Prepared, augmented_grid, batches, epoch_counter, legacy_augmented_flow, prepare
from mnistlab.derived import activation_ranking
from mnistlab.fileio import atomic_path, load_model, save_model, write_text
from mnistlab.i18n import class_names, say
from mnistlab.runfolder import (
    FIGURES,
    HISTORY,
    METRICS,
    MODEL,
    PROBABILITIES,
    SUMMARY,
    read_history,
    read_metrics,
    save_array,
    write_metrics,
)

if TYPE_CHECKING:
    from mnistlab.data.sources import Dataset

# Evaluation and validation batch size on the fast path: larger batches give the same per-image results
# with fewer calls.
EVAL_BATCH = 1000


@dataclass
class Context:
    """What a step needs besides its experiment: where to write, how to talk, how to get data."""

    workdir: Path  # this step's folder, run_dir / exp.name
    get_data: Callable[[str], Dataset]  # data set name -> Dataset (cached by the runner)
    lang: str = "fr"  # language of figure labels
    stream: TextIO = field(default_factory=lambda: sys.stderr)  # where progress goes
    label: str = ""  # shown in progress lines, e.g. "[2/6] ex2.ann"
    resume: bool = False  # continue from the step's last completed epoch if a checkpoint is there


# --- callbacks --------------------------------------------------------------------------------------------


# --- shared pieces ----------------------------------------------------------------------------------------


def steps_per_execution(exp: Experiment) -> int:
    """The experiment's steps per compiled call: 1 on the lab's path, else its own or the measured default."""
    if exp.faithful:
        return 1
    return exp.default_steps_per_execution


_WARNED: set[str] = set()


def set_precision(exp: Experiment, stream: TextIO | None = None) -> dict[str, object]:
    """Float32 (the lab), mixed bfloat16 compute with float32 weights (``bf16``), or ``auto``: bf16 where
    the hardware computes it natively, float32 otherwise (:func:`mnistlab.devices.decide`).

    bf16 asked for on hardware that emulates it runs, with one warning line per process. Returns the decision.
    """
    from mnistlab.devices import precision

    decision = precision(exp.precision)
    if decision["warning"] and decision["warning"] not in _WARNED:
        _WARNED.add(decision["warning"])
        print(f"mnistlab: warning: {decision['warning']}", file=stream or sys.stderr)
    keras.config.set_dtype_policy(decision["policy"])
    return decision


def compile_model(model: keras.Model, exp: Experiment, steps_per_epoch: int = 1) -> keras.Model:
    """``model.compile`` with the experiment's optimizer, learning rate (schedule) and loss, metric accuracy.

    ``steps_per_epoch`` sizes a cosine schedule, which decays to zero over ``epochs * steps_per_epoch`` steps.
    """
    make = getattr(keras.optimizers, config.OPTIMIZERS[exp.optimizer])
    model.compile(optimizer=make(learning_rate=learning_rate(exp, steps_per_epoch)),
                  loss=loss(exp), metrics=["accuracy"], steps_per_execution=steps_per_execution(exp))
    return model


def learning_rate(exp: Experiment, steps_per_epoch: int = 1) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The experiment's learning rate: a number, or a schedule over ``exp.epochs * steps_per_epoch`` steps.

    ``one_cycle`` is Keras' cosine decay with its linear warm-up, from a tenth of the peak: Smith's one-cycle
    policy, which lets a large peak rate train in few epochs.
    """
    total = exp.epochs * steps_per_epoch
    if exp.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(exp.learning_rate, decay_steps=total)
    if exp.lr_schedule == "one_cycle":
        warmup = max(1, round(exp.warmup_fraction * total))
        return keras.optimizers.schedules.CosineDecay(exp.learning_rate / 10, decay_steps=max(1, total - warmup),
                                                      warmup_target=exp.learning_rate, warmup_steps=warmup)
    return exp.learning_rate


def loss(exp: Experiment) -> str | keras.losses.Loss:
    """The loss by name, or Keras' categorical cross-entropy with ``exp.label_smoothing``."""
    if exp.label_smoothing:
        return keras.losses.CategoricalCrossentropy(label_smoothing=exp.label_smoothing)
    return exp.loss


def steps_per_epoch(data: Prepared, exp: Experiment) -> int:
    return math.ceil(len(data.x_train) / exp.batch_size)


def fit(model: keras.Model, exp: Experiment, data: Prepared, ctx: Context, workdir: Path, label: str,
        augment: bool = False) -> tuple[keras.Model, dict[str, list[float]], float]:
    """Train ``model`` for ``exp.epochs``, checkpointing every epoch. Returns (model, history, seconds).

    With ``ctx.resume`` and a usable checkpoint in ``workdir``, training continues from the last completed
    epoch with the saved model and optimizer state instead of ``model``.

    The fast path feeds in-memory ``tf.data`` batches (each epoch augmented in one call when ``augment``) and
    validates in batches of ``EVAL_BATCH``; ``exp.faithful`` makes the lab's own calls: NumPy arrays with
    ``validation_split`` or ``validation_data``, and ``ImageDataGenerator`` for augmentation.
    """
    initial_epoch, rows = 0, []
    restored = restore_checkpoint(workdir, exp) if ctx.resume else None
    if restored:
        model, initial_epoch, rows = restored
        ctx.stream.write(f"{label}: resuming after epoch {initial_epoch}/{exp.epochs}\n")
    else:
        clear_checkpoints(workdir)
    checkpoint = EpochCheckpoint(workdir, exp, rows)
    outputs = ValidationOutputs(workdir, data.x_val, data.y_val, EVAL_BATCH, initial_epoch)
    callbacks = [StopOnDivergence(initial_epoch), outputs, checkpoint,
                 Progress(label, exp.epochs, ctx.stream, initial_epoch)]
    kwargs = dict(epochs=exp.epochs, initial_epoch=initial_epoch, callbacks=callbacks, verbose=0)
    t0 = time.perf_counter()
    if initial_epoch >= exp.epochs:  # killed after the last epoch's checkpoint: nothing left to train
        return model, _columns(checkpoint.rows), 0.0
    if exp.faithful and augment:
        flow = legacy_augmented_flow(data.x_train, data.y_train, exp)
        model.fit(flow, validation_data=(data.x_val, data.y_val), **kwargs)
    elif exp.faithful and not data.validation_is_test:
        model.fit(data.x_all, data.y_all, batch_size=exp.batch_size, validation_split=exp.validation_split,
                  **kwargs)
    elif exp.faithful:
        model.fit(data.x_train, data.y_train, batch_size=exp.batch_size,
                  validation_data=(data.x_val, data.y_val), **kwargs)
    else:
        counter = epoch_counter(initial_epoch)
        train = batches(data.x_train, data.y_train, exp.batch_size, seed=exp.seed, epoch=counter,
                        augment=exp if augment else None)
        val = batches(data.x_val, data.y_val, EVAL_BATCH)
        kwargs["callbacks"] = [EpochKeyedRandomness(counter, exp.seed, model), *callbacks]
        model.fit(train, validation_data=val, shuffle=False, **kwargs)  # the pipeline shuffles itself
    return model, _columns(checkpoint.rows), time.perf_counter() - t0


def _columns(rows: list[dict[str, float]]) -> dict[str, list[float]]:
    """Per-epoch rows -> {metric: values}, the shape of Keras' ``History.history``."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    return {k: [row[k] for row in rows if k in row] for k in keys}


def summary_text(model: keras.Model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda s, **_: lines.append(s), line_length=90)
    return "\n".join(lines) + "\n"


def layer_table(model: keras.Model) -> list[dict[str, object]]:
    """Each layer's name, type, output shape and parameter count (the report's model summary)."""
    return [{"name": layer.name, "type": type(layer).__name__,
             "output_shape": list(layer.output.shape[1:]) if hasattr(layer, "output") else None,
             "params": int(layer.count_params())} for layer in model.layers]


def curve_summary(history: dict[str, list[float]]) -> dict[str, object]:
    """Facts the report reads off the curves: last values, train/val gap, best validation epoch."""
    out: dict[str, object] = {"epochs_run": len(history.get("loss", []))}
    for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if history.get(k):
            out[f"final_{k}"] = float(history[k][-1])
    if history.get("val_loss"):
        out["best_val_loss_epoch"] = int(np.argmin(history["val_loss"]) + 1)
        out["best_val_loss"] = float(np.min(history["val_loss"]))
    if history.get("val_accuracy"):
        out["best_val_accuracy_epoch"] = int(np.argmax(history["val_accuracy"]) + 1)
        out["best_val_accuracy"] = float(np.max(history["val_accuracy"]))
        out["final_gap_accuracy"] = float(history["accuracy"][-1] - history["val_accuracy"][-1])
    return out


def mirror_average(model: keras.Model, x: np.ndarray, probs: np.ndarray | None = None) -> np.ndarray:
    """Test-time mirroring: the mean of the model's probabilities for ``x`` and for ``x`` flipped left-right
    (width is axis 2 of (N, 28, 28[, 1])). ``probs``, if given, are the single-view ones already computed."""
    if probs is None:
        probs = model.predict(batches(x, np.zeros(len(x), np.int64), EVAL_BATCH), verbose=0)
    mirrored = model.predict(batches(np.ascontiguousarray(x[:, :, ::-1]), np.zeros(len(x), np.int64), EVAL_BATCH),
                             verbose=0)
    return (np.asarray(probs, np.float64) + np.asarray(mirrored, np.float64)) / 2.0


def probability_scores(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Accuracy and cross-entropy (Keras' clipping at 1e-7) of class probabilities against integer labels."""
    p = np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0)
    return float((probs.argmax(axis=1) == labels).mean()), float(-np.log(p).mean())


def evaluate_and_save(model: keras.Model, exp: Experiment, data: Prepared, workdir: Path,
                      history: dict[str, list[float]], fit_seconds: float, ctx: Context,
                      figures: bool = True) -> dict[str, object]:
    """Evaluate on the test set, save model, predictions, curves (if ``figures``) and metrics.

    Returns the metrics.
    """
    t0 = time.perf_counter()
    if exp.faithful:  # the lab's evaluate(), then predict()
        test_loss, test_acc = model.evaluate(data.x_test, data.y_test, verbose=0)
        probs = model.predict(data.x_test, verbose=0)
    else:  # the same calls in batches of EVAL_BATCH (Keras takes the loss from the softmax's logits)
        test_loss, test_acc = model.evaluate(batches(data.x_test, data.y_test, EVAL_BATCH), verbose=0)
        probs = model.predict(batches(data.x_test, data.labels_test, EVAL_BATCH), verbose=0)
    if exp.label_smoothing:  # the test loss is the plain cross-entropy, whatever the training loss was
        test_acc, test_loss = probability_scores(probs, data.labels_test)
    single_view = {}
    if exp.test_time_flip:
        single_view = {"test_accuracy_single_view": float(test_acc), "test_loss_single_view": float(test_loss)}
        probs = mirror_average(model, data.x_test, probs)
        test_acc, test_loss = probability_scores(probs, data.labels_test)
    eval_seconds = time.perf_counter() - t0
    predicted = probs.argmax(axis=1)
    save_model(model, workdir / MODEL)
    with atomic_path(workdir / PROBABILITIES) as tmp:
        np.save(tmp, probs.astype(np.float32))
    write_text(workdir / SUMMARY, summary_text(model))
    if figures:
        names = class_names(exp.dataset, ctx.lang)
        plots.save(plots.curves(history, "accuracy", exp.name, ctx.lang), workdir / FIGURES / "accuracy.png")
        plots.save(plots.curves(history, "loss", exp.name, ctx.lang), workdir / FIGURES / "loss.png")
        n = exp.predictions_shown
        plots.save(plots.predictions(data.raw_test[:n], data.labels_test[:n], predicted[:n], names, ctx.lang),
                   workdir / FIGURES / "predictions.png")
        # What the report needs to redraw the predictions in another language, without the data set.
        save_array(workdir, "predictions_images", data.raw_test[:n])
        save_array(workdir, "predictions_labels", np.asarray(data.labels_test[:n], dtype=np.uint8))
    save_array(workdir, "test_labels", np.asarray(data.labels_test, dtype=np.uint8))  # errors from probabilities
    return {
        "test_loss": float(test_loss),
        "test_accuracy": float(test_acc),
        "test_errors": int((predicted != data.labels_test).sum()),
        **({"test_time_flip": True, **single_view} if exp.test_time_flip else {}),
        "params": int(model.count_params()),
        "precision": "bf16" if any(la.compute_dtype == "bfloat16" for la in model.layers) else "float32",  # ran
        "layers": layer_table(model),
        "n_train": int(len(data.x_train)),
        "n_validation": int(len(data.x_val)),
        "n_test": int(len(data.x_test)),
        "validation_is_test": data.validation_is_test,
        "fit_seconds": round(fit_seconds, 3),
        "eval_seconds": round(eval_seconds, 3),
        **curve_summary(history),
    }


# --- steps ------------------------------------------------------------------------------------------------


def train_step(exp: Experiment, ctx: Context) -> dict[str, object]:
    """Build, compile, fit and evaluate one model (Exercise 1, the ANN, the CNN)."""
    seed_everything(exp.seed)
    ds = ctx.get_data(exp.dataset)
    data = prepare(ds, exp)
    rows, cols = exp.samples_grid
    plots.save(plots.samples(data.raw_train, data.labels_train, class_names(exp.dataset, ctx.lang), rows, cols,
                             ctx.lang), ctx.workdir / FIGURES / "samples.png")
    save_array(ctx.workdir, "samples_images", data.raw_train[: rows * cols])
    save_array(ctx.workdir, "samples_labels", np.asarray(data.labels_train[: rows * cols], dtype=np.uint8))
    save_array(ctx.workdir, "train_class_counts", np.bincount(np.asarray(data.labels_train, dtype=np.int64),
                                                              minlength=10))
    set_precision(exp, ctx.stream)
    model = compile_model(models.build(exp), exp, steps_per_epoch(data, exp))
    model, history, seconds = fit(model, exp, data, ctx, ctx.workdir, ctx.label, augment=exp.augment)
    return evaluate_and_save(model, exp, data, ctx.workdir, history, seconds, ctx)


def activations_step(exp: Experiment, ctx: Context) -> dict[str, object]:
    """The same network once per activation, each from the same seed; compare final val_accuracy."""
    ds = ctx.get_data(exp.dataset)
    data = prepare(ds, exp)
    results: dict[str, dict[str, object]] = {}
    histories: dict[str, dict[str, list[float]]] = {}
    for i, act in enumerate(exp.activations, 1):
        sub = ctx.workdir / act
        if ctx.resume and (sub / METRICS).is_file():  # finished before an interruption
            results[act] = read_metrics(sub)
            histories[act] = read_history(sub / HISTORY)
            continue
        seed_everything(exp.seed)
        set_precision(exp, ctx.stream)
        model = compile_model(models.build(exp, activation=act), exp, steps_per_epoch(data, exp))
        label = f"{ctx.label} {act} ({i}/{len(exp.activations)})"
        model, history, seconds = fit(model, exp, data, ctx, sub, label)
        # The lab draws only the bar chart; one overlay of the curves below stands for per-model figures.
        metrics = evaluate_and_save(model, exp, data, sub, history, seconds, ctx, figures=False)
        write_metrics(sub, metrics)
        clear_checkpoints(sub)
        results[act] = metrics
        histories[act] = history
    val = {a: float(m["final_val_accuracy"]) for a, m in results.items()}
    title = say("figures.activations_title", ctx.lang)
    plots.save(plots.bars(val, title, say("figures.val_accuracy", ctx.lang), lang=ctx.lang),
               ctx.workdir / FIGURES / "activations.png")
    plots.save(plots.overlay({a: h["val_accuracy"] for a, h in histories.items()}, title,
                             say("figures.val_acc", ctx.lang), ctx.lang), ctx.workdir / FIGURES / "val_accuracy.png")
    return {
        "val_accuracy": val,
        "test_accuracy": {a: float(m["test_accuracy"]) for a, m in results.items()},
        "fit_seconds": {a: float(m["fit_seconds"]) for a, m in results.items()},
        **activation_ranking(val),
        "params": {a: int(m["params"]) for a, m in results.items()},
        "n_train": int(len(data.x_train)),
        "n_validation": int(len(data.x_val)),
    }


def augment_step(exp: Experiment, ctx: Context, model_path: Path) -> dict[str, object]:
    """Continue training the model at ``model_path`` (optimizer state included) on augmented batches."""
    seed_everything(exp.seed)
    ds = ctx.get_data(exp.dataset)
    data = prepare(ds, exp)
    model = load_model(model_path)
    # A grid of what the network now sees: 4 training images, 5 random variants each.
    originals, variants = augmented_grid(data.x_train[:4], exp)
    plots.save(plots.augmented(originals[..., 0], variants[..., 0], ctx.lang),
               ctx.workdir / FIGURES / "augmented_samples.png")
    save_array(ctx.workdir, "augmented_originals", originals[..., 0])
    save_array(ctx.workdir, "augmented_variants", variants[..., 0])
    seed_everything(exp.seed)
    model, history, seconds = fit(model, exp, data, ctx, ctx.workdir, ctx.label, augment=True)
    metrics = evaluate_and_save(model, exp, data, ctx.workdir, history, seconds, ctx)
    metrics["continued_from"] = str(model_path.parent.name)
    return metrics
