"""Keras callbacks of training: progress lines, per-epoch checkpoints, each epoch's per-example validation
results, epoch-keyed randomness, divergence.

Each is used by :func:`mnistlab.train.fit`; checkpoints (``checkpoint.keras``, ``checkpoint.json``) exist only
while an experiment is unfinished.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TextIO

import keras
import numpy as np

from mnistlab.backend import CompiledInference
from mnistlab.config import Experiment
from mnistlab.errors import DivergedError, MnistlabError
from mnistlab.fileio import load_model, save_model, sha256_file, write_json
from mnistlab.runfolder import (
    CHECKPOINT,
    CHECKPOINT_STATE,
    HISTORY,
    VAL_LABELS,
    VAL_LOSSES,
    VAL_PREDICTED,
    RunFolderError,
    read_npy,
    save_array,
    write_epoch_outputs,
    write_history,
)


class Progress(keras.callbacks.Callback):
    """One line per epoch with metrics, time elapsed and time left; a live batch counter on a terminal.

    ``async_safe``: Keras then runs the batch hooks on a worker thread instead of waiting for every step to
    finish before queuing the next (a callback with a batch hook otherwise forces that wait).
    """

    async_safe = True

    def __init__(self, label: str, epochs: int, stream: TextIO, initial_epoch: int = 0):
        super().__init__()
        self.label, self.epochs, self.stream, self.initial_epoch = label, epochs, stream, initial_epoch
        self.live = getattr(stream, "isatty", lambda: False)()
        self.t0 = self.epoch_t0 = self.last_draw = 0.0
        self.steps = None

    def on_train_begin(self, logs=None):
        self.t0 = time.perf_counter()
        self.steps = self.params.get("steps")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_t0 = time.perf_counter()
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if not self.live or now - self.last_draw < 0.25:
            return
        self.last_draw = now
        done = f"{batch + 1}/{self.steps}" if self.steps else f"{batch + 1}"
        acc = (logs or {}).get("accuracy")
        acc = f" acc {float(acc):.4f}" if acc is not None else ""
        self.stream.write(f"\r{self.label}  epoch {self.epoch + 1}/{self.epochs}  batch {done}{acc}"
                          f"  {_clock(now - self.t0)}\x1b[K")
        self.stream.flush()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        elapsed = now - self.t0
        left = elapsed / (epoch + 1 - self.initial_epoch) * (self.epochs - epoch - 1)
        shown = "  ".join(f"{k} {float(v):.4f}" for k, v in (logs or {}).items()
                          if k in ("loss", "accuracy", "val_loss", "val_accuracy"))
        self.stream.write(("\r" if self.live else "") + f"{self.label}  epoch {epoch + 1}/{self.epochs}  {shown}"
                          f"  ({now - self.epoch_t0:.1f}s; {_clock(elapsed)} elapsed, ~{_clock(left)} left)"
                          + ("\x1b[K" if self.live else "") + "\n")
        self.stream.flush()


def restore_checkpoint(workdir: Path, exp: Experiment) -> tuple[keras.Model, int, list[dict[str, float]]] | None:
    """The model, completed epochs and history saved by :class:`EpochCheckpoint`, if they are usable (the one
    reader of what it writes).

    A checkpoint of another configuration, or whose model file does not match its recorded digest (a
    kill between the two writes), is not used: the step then starts over.
    """
    try:
        state = json.loads((workdir / CHECKPOINT_STATE).read_text(encoding="utf-8"))
        if state["config"] != exp.to_dict() or sha256_file(workdir / CHECKPOINT) != state["model_sha256"]:
            return None
        return load_model(workdir / CHECKPOINT), int(state["epoch"]), list(state["rows"])
    except (OSError, ValueError, KeyError, TypeError, MnistlabError):
        return None


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: save model and optimizer (checkpoint.keras), then the epoch count and history
    (checkpoint.json), then ``history.csv``, each atomically, so a run killed at any moment can resume
    from its last completed epoch. Keras' ModelCheckpoint writes in place; BackupAndRestore restarts the
    interrupted epoch without the history.
    """

    def __init__(self, workdir: Path, exp: Experiment, rows: list[dict[str, float]]):
        super().__init__()
        self.workdir, self.exp, self.rows = workdir, exp, list(rows)

    def on_epoch_begin(self, epoch, logs=None):
        self.t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
               "seconds": round(time.perf_counter() - self.t, 3)}
        self.rows.append(row)
        save_model(self.model, self.workdir / CHECKPOINT)
        write_json(self.workdir / CHECKPOINT_STATE, {
            "epoch": epoch + 1, "rows": self.rows, "config": self.exp.to_dict(),
            "model_sha256": sha256_file(self.workdir / CHECKPOINT)})
        write_history(self.workdir / HISTORY, self.rows)


class ValidationOutputs(keras.callbacks.Callback):
    """After every epoch: the model's per-example validation losses and predicted classes, one row per epoch
    (``val_losses.npy`` float16, ``val_predicted.npy`` uint8, labels in ``arrays/val_labels.npy``), so that the
    judge compares epochs on the same images, paired.

    Placed before :class:`EpochCheckpoint`: an epoch's rows are written before the checkpoint says it is done.
    On resume the rows of the completed epochs are kept; rows that cannot line up with the epochs (files of an
    older run, or missing) stop the recording, and the judge falls back to unpaired errors.
    """

    def __init__(self, workdir: Path, x_val: np.ndarray, y_val: np.ndarray, batch_size: int, initial_epoch: int = 0):
        super().__init__()
        self.workdir, self.x_val, self.batch_size = workdir, x_val, batch_size
        y = self.y_val = np.asarray(y_val)
        self.labels = (y.argmax(axis=1) if y.ndim == 2 else y).astype(np.int64)
        self.losses: list[np.ndarray] = []
        self.predicted: list[np.ndarray] = []
        self.on = len(self.labels) > 1
        if initial_epoch and self.on:
            try:
                losses, predicted = (read_npy(workdir / name, ndim=2) for name in (VAL_LOSSES, VAL_PREDICTED))
            except RunFolderError:
                losses = predicted = None
            usable = losses is not None and predicted is not None and losses.shape == predicted.shape \
                and losses.shape[0] >= initial_epoch and losses.shape[1] == len(self.labels)
            if usable:
                self.losses, self.predicted = list(losses[:initial_epoch]), list(predicted[:initial_epoch])
            else:
                self.on = False
        if not self.on or not initial_epoch:
            for name in (VAL_LOSSES, VAL_PREDICTED):
                (workdir / name).unlink(missing_ok=True)

    def on_train_begin(self, logs=None):
        if self.on:
            save_array(self.workdir, VAL_LABELS, self.labels.astype(np.uint8))
            # the forward pass compiled once, called directly: Keras' predict() costs its set-up at every epoch
            self.forward = CompiledInference(self.model, jit=False)

    def on_epoch_end(self, epoch, logs=None):
        if not self.on:
            return
        probs = np.concatenate([self.forward(self.x_val[i:i + self.batch_size])
                                for i in range(0, len(self.x_val), self.batch_size)])
        self.losses.append(per_example_loss(self.model.loss, self.y_val, probs))
        self.predicted.append(np.asarray(probs).argmax(axis=1))
        write_epoch_outputs(self.workdir, np.stack(self.losses), np.stack(self.predicted))


def per_example_loss(loss, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """The compiled loss (a name, a function or a ``keras.losses.Loss``) of each example, unreduced."""
    fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    per = fn.call(y_true, y_pred) if isinstance(fn, keras.losses.Loss) else fn(y_true, y_pred)
    return np.asarray(keras.ops.convert_to_numpy(per), dtype=np.float64).reshape(len(y_true))


class EpochKeyedRandomness(keras.callbacks.Callback):
    """At the start of each epoch, key every random choice to ``(seed, epoch)``: the data order (through
    ``counter``, which also keys the augmentations) and the state of every Keras seed generator (dropout).

    Keras does not save seed-generator states in ``.keras`` files; keyed this way they need no saving, and a
    run resumed after epoch k continues exactly as the uninterrupted run would have.
    """

    def __init__(self, counter, seed: int, *holders):
        super().__init__()
        self.counter, self.seed = counter, seed
        self.states = [v for h in holders if h is not None for v in h.non_trainable_variables
                       if "seed_generator_state" in v.path]

    def on_epoch_begin(self, epoch, logs=None):
        self.counter.assign(epoch)
        for i, state in enumerate(self.states):
            # Seed generators draw (state[0], state[1]) and step state[1]; keep epochs 2**24 draws apart.
            state.assign(np.array([self.seed * 1009 + i, epoch * 2**24], dtype=np.int64))


# A ten-class model guessing uniformly has a cross-entropy of ln 10 = 2.3; an epoch's mean loss a hundred
# times that means the weights have blown up (seen here with learning_rate=1000: losses of 1e9 and more,
# finite because Keras computes the cross-entropy from the softmax's logits).
EXPLODED_LOSS = 100 * math.log(10)


class StopOnDivergence(keras.callbacks.Callback):
    """Stop with :class:`DivergedError` at the first NaN or infinite loss, or an epoch whose mean loss
    exceeds ``EXPLODED_LOSS`` (Keras' TerminateOnNaN only stops quietly, leaving a model that looks trained).

    The per-batch check runs on Keras' callback thread (``async_safe``); its error reaches the training loop
    a step or two later, at the latest at the end of the epoch.
    """

    async_safe = True

    def __init__(self, initial_epoch: int = 0):
        super().__init__()
        self.epoch = self.last_good = initial_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def _check(self, logs, where: str, bound: float = math.inf):
        loss = (logs or {}).get("loss")
        if loss is not None and not (math.isfinite(float(loss)) and float(loss) <= bound):
            what = "became" if not math.isfinite(float(loss)) else f"exploded (over {bound:.0f}) to"
            raise DivergedError(f"training diverged: the loss {what} {float(loss):.4g} in epoch {self.epoch + 1}"
                                f" ({where}); last good epoch: {self.last_good}", last_good_epoch=self.last_good)

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, f"batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, "end of epoch", bound=EXPLODED_LOSS)
        self.last_good = epoch + 1


def clear_checkpoints(folder: Path) -> None:
    """Remove checkpoints under ``folder`` (once its results are written, or before a fresh start)."""
    for name in (CHECKPOINT, CHECKPOINT_STATE):
        for path in folder.rglob(name):
            path.unlink(missing_ok=True)


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"
