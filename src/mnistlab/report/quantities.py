"""Measurements the report states, computed from a run's artifacts only (never typed in, never trained).

Each function returns None when the artifacts it needs are missing, so a partial run gives a partial report.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from mnistlab import judge, runfolder
from mnistlab.derived import confused_pairs
from mnistlab.i18n import class_names
from mnistlab.report.artifacts import Run, Step


@dataclass
class Curve:
    """What a history says about training (``history.csv``)."""

    epochs: int
    first_acc: float | None
    last_acc: float | None
    first_val_acc: float | None
    last_val_acc: float | None
    acc_rises: bool  # training accuracy never fell from one epoch to the next
    val_acc_rises: bool
    val_acc_drops: list[int]  # epochs where validation accuracy fell
    best_val_loss_epoch: int | None
    best_val_loss: float | None
    last_val_loss: float | None
    first_loss: float | None
    last_loss: float | None
    first_gap: float | None  # train - validation accuracy, first epoch
    last_gap: float | None
    seconds_per_epoch: float | None
    val_loss_rises_after_best: bool  # validation loss at the last epoch is above its minimum (maybe noise)
    loss_at_best: float | None = None  # training loss at the epoch of lowest validation loss
    n_val: int = 0  # validation images behind each val_accuracy (0: unknown)
    se_epoch: float | None = None  # SE of one epoch's mean validation loss (None: unknown)
    judged: judge.Overfit | None = None  # the judge's overfitting verdict with its evidence
    val_trend: judge.Verdict | None = None  # validation accuracy, first -> last epoch
    acc_trend: judge.Verdict | None = None  # training accuracy, first -> last epoch

    @property
    def overfits(self) -> bool:
        """The judge finds measurable overfitting (:func:`mnistlab.judge.overfitting`), beyond 2 SE."""
        return bool(self.judged and self.judged.finding)

    @property
    def rise(self) -> float:
        """How much validation loss rose after its minimum, as a fraction of the minimum (0 if it did not)."""
        if not self.overfits or not self.best_val_loss:
            return 0.0
        return (self.last_val_loss - self.best_val_loss) / self.best_val_loss


def curve(history: dict[str, list[float]] | None, n_val: int = 0, se_epoch: float | None = None,
          n_train: int = 0, outputs: runfolder.EpochOutputs | None = None) -> Curve | None:
    """Read the facts of a training run off its history; None without one.

    ``n_val`` (validation images) and ``se_epoch`` (SE of one epoch's mean validation loss) let the judge
    tell a change from noise; without them an accuracy move or a loss rise is never a finding. ``outputs``
    (each epoch's per-example validation results) make the judge compare epochs paired.
    """
    if not history or not history.get("loss"):
        return None
    acc, val_acc = history.get("accuracy", []), history.get("val_accuracy", [])
    loss, val_loss = history.get("loss", []), history.get("val_loss", [])

    def first(v):
        return float(v[0]) if v else None

    def last(v):
        return float(v[-1]) if v else None

    best = int(np.argmin(val_loss)) + 1 if val_loss else None
    n = n_val if n_val and n_val > 0 else 0
    per_example = outputs.losses if outputs is not None and outputs.epochs == len(val_loss) else None
    right = outputs.right if outputs is not None and outputs.epochs == len(val_acc) else None
    judged = judge.overfitting(val_loss, val_acc if len(val_acc) == len(val_loss) else None, n, se_epoch,
                               per_example, right) if val_loss else None
    drops = judge.dips(val_acc, n, right) if n and val_acc else []
    return Curve(
        epochs=len(loss),
        first_acc=first(acc), last_acc=last(acc), first_val_acc=first(val_acc), last_val_acc=last(val_acc),
        acc_rises=all(b >= a for a, b in zip(acc, acc[1:], strict=False)),
        val_acc_rises=not drops,
        val_acc_drops=drops,  # measurable dips only (beyond 2 SE from the epoch before)
        best_val_loss_epoch=best,
        best_val_loss=float(min(val_loss)) if val_loss else None,
        last_val_loss=last(val_loss),
        first_loss=first(loss), last_loss=last(loss),
        first_gap=(acc[0] - val_acc[0]) if acc and val_acc else None,
        last_gap=(acc[-1] - val_acc[-1]) if acc and val_acc else None,
        seconds_per_epoch=float(np.mean(history["seconds"])) if history.get("seconds") else None,
        val_loss_rises_after_best=bool(val_loss and val_loss[-1] > min(val_loss)),
        loss_at_best=float(loss[best - 1]) if best and best <= len(loss) else None,
        n_val=n, se_epoch=se_epoch, judged=judged,
        val_trend=judge.trend(val_acc, n=n, right=right) if n and len(val_acc) > 1 else None,
        acc_trend=judge.trend(acc, n=n_train) if len(acc) > 1 and n_train and n_train > 0 else None,
    )


def validation_size(step: Step) -> int:
    """Images behind each validation accuracy of a step: the test set when it validates on it."""
    m = step.metrics or {}
    try:
        n = m.get("n_test") if m.get("validation_is_test") else m.get("n_validation")
        return int(n) if n and int(n) > 0 else 0
    except (TypeError, ValueError):
        return 0


def loss_se(step: Step, on_test: bool = False) -> float | None:
    """SE of one epoch's mean validation loss: SD of the final model's per-example cross-entropies on the
    test set (``test_probabilities.npy`` with ``arrays/test_labels.npy``) / sqrt(validation images).

    The SD comes from the test set, which is the validation set when the step validates on it and a sample of
    the same distribution otherwise; it is the last epoch's, used for every epoch. ``on_test``: the SE of the
    test loss itself (sqrt of the test images). None when unknown.
    """
    if on_test:
        labels = step.array("test_labels", ndim=1)
        n_val = len(labels) if labels is not None else 0
    else:
        n_val = validation_size(step)
    probs = probabilities(step) if n_val else None
    y = step.array("test_labels", ndim=1) if probs is not None else None
    if y is None or len(y) != len(probs) or len(y) < 2 or y.max() > 9 or y.min() < 0:
        return None
    per = -np.log(np.clip(probs[np.arange(len(y)), y.astype(np.int64)], 1e-7, 1.0))
    return float(np.std(per, ddof=1) / math.sqrt(n_val))


def step_curve(step: Step) -> Curve | None:
    """A step's :class:`Curve`, judged with its validation size and its loss SE."""
    history = step.history
    if not history:
        return None
    n_train = (step.metrics or {}).get("n_train")
    return curve(history, validation_size(step), loss_se(step), n_train if isinstance(n_train, int) else 0,
                 epoch_outputs(step))


def epoch_outputs(step: Step) -> runfolder.EpochOutputs | None:
    """Each epoch's per-example validation results of a step (``val_losses.npy``...); None if absent,
    malformed, or not what the step's history says (each row's mean loss within 5 % of the epoch's
    ``val_loss``, its share of right images within 0.1 point of ``val_accuracy``): then said among the run's
    problems, and the judge stays unpaired."""
    try:
        out = runfolder.read_epoch_outputs(step.folder)
    except runfolder.RunFolderError as e:
        step._problem(str(e))
        return None
    history = step.history or {}
    vl, va = history.get("val_loss", []), history.get("val_accuracy", [])
    if out is None or out.epochs not in (len(vl), len(va)):
        return out  # another number of epochs: the judge does not use them (a run cut short, an old file)
    bad = (len(vl) == out.epochs and not np.allclose(out.losses.mean(axis=1), vl, rtol=0.05, atol=1e-3)) or (
        out.right is not None and len(va) == out.epochs and not np.allclose(out.right.mean(axis=1), va, atol=1e-3))
    if bad:
        step._problem(f"{step.folder / runfolder.VAL_LOSSES}: does not match the validation curves of "
                      f"{runfolder.HISTORY}; not used")
        return None
    return out


def last_epoch_right(step: Step) -> np.ndarray | None:
    """Per validation image, whether the step's model got it right at its last epoch; None if unknown."""
    out = epoch_outputs(step)
    history = step.history or {}
    va = history.get("val_accuracy", [])
    if out is None or out.right is None or out.epochs != len(va) or abs(out.right[-1].mean() - va[-1]) > 1e-3:
        return None  # rows that do not give the history's accuracy are not this run's
    return out.right[-1]


def sub_right(step: Step, names) -> dict[str, np.ndarray] | None:
    """Per sub-run of ``step`` (one per activation), its last epoch's per-image validation results, when every
    one of ``names`` has them on the same images; else None (the judge then stays unpaired)."""
    out = {}
    for name in names:
        sub = step.subs.get(name)
        right = last_epoch_right(sub) if sub is not None else None
        if right is None or (out and len(right) != len(next(iter(out.values())))):
            return None
        out[name] = right
    return out


@dataclass
class PerImage:
    """A model's results on each test image: right or wrong, and its loss (cross-entropy, Keras' clipping)."""

    right: np.ndarray  # bool (n,)
    losses: np.ndarray  # float64 (n,)
    labels: np.ndarray  # int64 (n,)


def per_image(step: Step) -> PerImage | None:
    """From ``test_probabilities.npy`` and ``arrays/test_labels.npy``; None when either is missing or they
    disagree."""
    probs = probabilities(step)
    y = step.array("test_labels", ndim=1) if probs is not None else None
    if y is None or len(y) != len(probs) or len(y) < 2 or y.max() > 9 or y.min() < 0:
        return None
    y = np.asarray(y, dtype=np.int64)
    p = np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0)
    return PerImage(probs.argmax(axis=1) == y, -np.log(p.astype(np.float64)), y)


def paired(a: Step | None, b: Step | None) -> tuple[PerImage, PerImage] | None:
    """Two steps' per-image results on the same test images in the same order; None when they cannot pair."""
    pa = per_image(a) if a is not None else None
    pb = per_image(b) if b is not None and pa is not None else None
    if pb is None or not np.array_equal(pa.labels, pb.labels):
        return None
    return pa, pb


def loss_difference(a: Step, b: Step, loss_a: float, loss_b: float) -> judge.Verdict:
    """The judge on ``loss_a - loss_b``, two test losses: the per-image differences when both steps have
    them (paired), else sqrt(2) x ``b``'s test-loss SE."""
    both = paired(a, b)
    if both:
        return judge.paired_losses(both[0].losses, both[1].losses, loss_a, loss_b)
    return judge.losses(loss_a, loss_b, loss_se(b, on_test=True))


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Gradient steps in one epoch: ceil(n / batch)."""
    return math.ceil(n_train / batch_size)


def layer_formula(layers: list[dict]) -> list[tuple[dict, str | None]]:
    """Each layer with how its parameter count follows from the shapes, where that is simple.

    Dense: inputs x units + units; Conv2D: (k*k*channels_in + 1) x filters when the kernel side can be
    recovered from the parameter count. The formula is only given when it gives the recorded count.
    """
    out: list[tuple[dict, str | None]] = []
    prev: list[int] | None = None
    for layer in layers:
        shape = layer.get("output_shape") or []
        formula = None
        params = int(layer.get("params", 0))
        if layer.get("type") == "Dense" and prev and len(prev) == 1 and shape:
            n_in, units = int(prev[0]), int(shape[-1])
            if n_in * units + units == params:
                formula = f"{n_in} × {units} + {units}"
        elif layer.get("type") == "Conv2D" and shape:
            filters = int(shape[-1])
            c_in = int(prev[-1]) if prev and len(prev) == 3 else 1
            per = params // filters - 1 if filters else 0
            k = int(round(math.sqrt(per / c_in))) if per > 0 else 0
            if k and (k * k * c_in + 1) * filters == params:
                formula = f"({k} × {k} × {c_in} + 1) × {filters}"
        out.append((layer, formula))
        prev = shape or prev
    return out


def probabilities(step: Step) -> np.ndarray | None:
    """``test_probabilities.npy`` of a step, (n, 10) finite values in [0, 1]; None if missing or malformed."""
    try:
        probs = runfolder.read_npy(runfolder.inside(step.folder, runfolder.PROBABILITIES), ndim=2)
    except runfolder.RunFolderError as e:
        step._problem(str(e))
        return None
    if probs is None:
        return None
    if probs.shape[1] != 10 or not np.issubdtype(probs.dtype, np.floating) or not np.isfinite(probs).all() \
            or probs.min() < 0 or probs.max() > 1:
        step._problem(f"{step.folder / runfolder.PROBABILITIES}: not class probabilities (n x 10 in [0, 1])")
        return None
    return probs


@dataclass
class Errors:
    """A model's test errors, from its saved probabilities and the test labels the run saved."""

    n: int
    wrong: int
    pairs: list[tuple[str, str, int]]  # (true, predicted, count), largest first
    first_shown: list[tuple[int, str, str]]  # (index, true, predicted) of the shown images
    mean_conf_right: float
    mean_conf_wrong: float | None
    confident_wrong: int = 0  # errors made with a probability above 0.9


def errors(run: Run, step: Step, lang: str, top: int = 3) -> Errors | None:
    """Which test images a step's model gets wrong; needs ``test_probabilities.npy`` and ``arrays/test_labels``."""
    exp = step.exp
    probs = probabilities(step)
    y = step.array("test_labels", ndim=1)
    if exp is None or probs is None or y is None or len(y) != len(probs) or (len(y) and y.max() > 9):
        return None
    y = np.asarray(y, dtype=np.int64)
    pred = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    names = class_names(exp.dataset, lang)
    matrix = np.zeros((10, 10), dtype=np.int64)
    np.add.at(matrix, (y, pred), 1)
    np.fill_diagonal(matrix, 0)
    pairs = top_pairs(matrix, names, top)
    shown = min(exp.predictions_shown, len(y))
    first = [(i, names[y[i]], names[pred[i]]) for i in range(shown) if y[i] != pred[i]]
    right = pred == y
    return Errors(n=len(y), wrong=int((~right).sum()), pairs=pairs, first_shown=first,
                  mean_conf_right=float(conf[right].mean()) if right.any() else float("nan"),
                  mean_conf_wrong=float(conf[~right].mean()) if (~right).any() else None,
                  confident_wrong=int(((~right) & (conf > 0.9)).sum()))


def top_pairs(matrix: np.ndarray, names: list[str], top: int = 3) -> list[tuple[str, str, int]]:
    """The ``top`` largest off-diagonal cells (true, predicted, count), and every cell tied with the last one."""
    return [(names[t], names[p], n) for n, t, p in confused_pairs(matrix, top)]


def hardest(confusion_metrics: dict) -> judge.Ranking | None:
    """The hardest class(es) of a confusion step's ``per_class`` recalls, ties inside the noise kept together."""
    pc = confusion_metrics.get("per_class") if isinstance(confusion_metrics, dict) else None
    if not isinstance(pc, dict) or not pc:
        return None
    try:
        return judge.hardest_class({k: float(v["recall"]) for k, v in pc.items()},
                                   {k: int(v["support"]) for k, v in pc.items()})
    except (KeyError, TypeError, ValueError):
        return None


def class_counts(run: Run, step_name: str) -> list[int] | None:
    """Training images per class, as the run saved them (``arrays/train_class_counts.npy``)."""
    counts = run.step(step_name).array("train_class_counts", ndim=1)
    if counts is None or len(counts) != 10 or not np.issubdtype(counts.dtype, np.integer) or counts.min() < 0:
        return None
    return [int(c) for c in counts]


def ranking(values: dict[str, float]) -> list[tuple[str, float]]:
    """``values`` from the largest down (ties keep their order); :func:`mnistlab.judge.ranking` judges it."""
    return sorted(values.items(), key=lambda kv: -kv[1])


# --- uncertainty on one test set ----------------------------------------------------------------------------


@dataclass
class Diff:
    """A difference of two accuracies measured on the same ``n`` images, with its standard error (paired by
    McNemar's test when ``right`` holds both models' per-image results)."""

    a: float
    b: float
    n: int
    right: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def d(self) -> float:
        return self.a - self.b

    @functools.cached_property
    def verdict(self) -> judge.Verdict:
        """The judge's verdict (:func:`mnistlab.judge.accuracies`), computed once (``se`` and ``measurable``
        read it too: McNemar's exact test on the per-image results is not redone for each)."""
        ra, rb = self.right or (None, None)
        return judge.accuracies(self.a, self.b, self.n, right_a=ra, right_b=rb)

    @property
    def se(self) -> float:
        """The paired SE (McNemar) when both per-image results are known, else sqrt(SE_a^2 + SE_b^2)."""
        return self.verdict.se

    @property
    def measurable(self) -> bool:
        """Outside two standard errors: a finding; inside: "no measurable difference"."""
        return self.verdict.finding


def accuracy_diff(a: float, b: float, n: int, steps: tuple[Step | None, Step | None] | None = None,
                  right: tuple[np.ndarray | None, np.ndarray | None] | None = None) -> Diff:
    """``a - b`` for two accuracies on the same ``n`` images: paired when ``steps`` (two steps' test
    accuracies) or ``right`` (per-image results) give both models' results on each image."""
    if steps is not None and (both := paired(*steps)):
        right = (both[0].right, both[1].right)
    if right is not None and (right[0] is None or right[1] is None or len(right[0]) != len(right[1])):
        right = None
    return Diff(float(a), float(b), int(n), right)


# --- several seeds ------------------------------------------------------------------------------------------


@dataclass
class Spread:
    """One quantity over several seeds."""

    values: dict[int, float]  # seed -> value

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.values.values())))

    @property
    def std(self) -> float:
        """Sample standard deviation (n - 1); 0 for a single value."""
        v = list(self.values.values())
        return float(np.std(v, ddof=1)) if len(v) > 1 else 0.0


def seed_spread(step: Step, get) -> Spread | None:
    """``get(metrics)`` over the step's first seed and its complete extra seeds; None if under 2 values."""
    if not step.complete:
        return None
    seed = (step.config or {}).get("seed")
    values: dict[int, float] = {}
    try:
        values[int(seed) if seed is not None else 0] = float(get(step.metrics))
        for s, sub in sorted(step.seeds.items()):
            if sub.complete:
                values[s] = float(get(sub.metrics))
    except (KeyError, TypeError, ValueError):
        return None
    return Spread(values) if len(values) > 1 else None


def welch(a: Spread, b: Spread) -> judge.Seeds:
    """The judge on two settings over several seeds (Welch's t-test)."""
    return judge.seeds(list(a.values.values()), list(b.values.values()))

