"""Verdicts on training curves: overfitting, a curve's trend, its dips. Paired across epochs when the run
saved each epoch's per-example validation losses (``val_losses.npy``), unpaired otherwise (and the words say so)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mnistlab.judge.compare import accuracies, losses
from mnistlab.judge.verdict import Call, Joined, Num, Phrase, Verdict, render


def _rows(per_example: np.ndarray | None, epochs: int) -> np.ndarray | None:
    """``per_example`` as float64 (epochs, n) when it has one row per epoch and 2+ examples; else None."""
    if per_example is None:
        return None
    x = np.asarray(per_example)
    if x.ndim != 2 or x.shape[0] != epochs or x.shape[1] < 2:
        return None
    return x if x.dtype == bool else x.astype(np.float64)


@dataclass(frozen=True)
class Overfit:
    """:func:`overfitting`'s verdict (``overfits`` or ``none``) and its evidence."""

    verdict: Call
    epochs: int
    best_loss_epoch: int
    best_loss: float
    last_loss: float
    rise: Verdict  # last - lowest validation loss
    best_acc_epoch: int | None
    best_acc: float | None
    last_acc: float | None
    drop: Verdict | None  # best - last validation accuracy
    by_loss: bool
    by_acc: bool
    phrase: object = None  # "pas de surapprentissage mesurable sur ces 5 époques : <evidence>"
    evidence_phrase: object = None  # the evidence alone: what the loss and the accuracy did, with their noise

    @property
    def finding(self) -> bool:
        return self.verdict == Call.OVERFITS

    def text(self, lang: str) -> str:
        return render(self.phrase, lang)

    def evidence(self, lang: str) -> str:
        return render(self.evidence_phrase, lang)


def overfitting(val_loss: Sequence[float], val_acc: Sequence[float] | None = None, n_val: int = 0,
                se_epoch: float | None = None, per_example: np.ndarray | None = None,
                right: np.ndarray | None = None) -> Overfit:
    """Whether a training run overfits measurably (the definition is in the package's docstring).

    Args:
        val_loss: validation loss per epoch.
        val_acc: validation accuracy per epoch (optional).
        n_val: validation images (for the binomial SE of the accuracy).
        se_epoch: SE of one epoch's mean validation loss (:func:`loss_se`); None: the loss is not judged
            (unless ``per_example`` is given).
        per_example: each epoch's per-example validation losses, (epochs, n): the loss rise is then judged
            paired (the per-example differences between the last epoch and the lowest one).
        right: each epoch's per-image right/wrong on the validation images, (epochs, n): the accuracy drop is
            then judged by McNemar's test.
    """
    vl = [float(v) for v in val_loss]
    if not vl:
        raise ValueError("no validation loss")
    n_ep = len(vl)
    best = int(np.argmin(vl))
    rows = _rows(per_example, n_ep)
    rise = losses(vl[-1], vl[best], se_epoch, paired=rows[-1] - rows[best] if rows is not None else None)
    by_loss = best < n_ep - 1 and rise.verdict == Call.HIGHER
    va = [float(v) for v in val_acc] if val_acc else []
    drop, best_acc_epoch, by_acc = None, None, False
    if va:
        best_a = int(np.argmax(va))
        best_acc_epoch = best_a + 1
        ok = _rows(right, len(va)) is not None
        drop = accuracies(va[best_a], va[-1], n_val, right_a=right[best_a] if ok else None,
                          right_b=right[-1] if ok else None)
        by_acc = best_a < len(va) - 1 and drop.verdict == Call.HIGHER
    verdict = Call.OVERFITS if by_loss or by_acc else Call.NONE

    if best < n_ep - 1:
        ev = [Phrase("judge.loss_goes", {"lowest": Num(vl[best]), "lowest_epoch": best + 1, "last": Num(vl[-1]),
                                         "rise": rise.phrase})]
    else:
        ev = [Phrase("judge.loss_lowest_last", {"last": Num(vl[-1])})]
    if drop is not None and best_acc_epoch < len(va):
        ev.append(Phrase("judge.accuracy_goes", {"best": Num(va[best_acc_epoch - 1]), "best_epoch": best_acc_epoch,
                                                 "last": Num(va[-1]), "drop": drop.phrase}))
    elif drop is not None:
        ev.append(Phrase("judge.accuracy_highest_last", {"last": Num(va[-1])}))
    if rows is None and se_epoch is None and best < n_ep - 1:
        ev.append(Phrase("judge.loss_rise_not_judged"))
    evidence = Joined(tuple(ev))
    if verdict == Call.OVERFITS:
        head = Phrase("judge.overfits_from", {"epoch": best + 1 if by_loss else best_acc_epoch})
    elif n_ep > 1:
        head = Phrase("judge.no_overfit_epochs", {"epochs": n_ep})
    else:
        head = Phrase("judge.no_overfit_one_epoch")
    return Overfit(verdict, n_ep, best + 1, vl[best], vl[-1], rise, best_acc_epoch,
                   va[best_acc_epoch - 1] if va else None, va[-1] if va else None, drop, by_loss, by_acc,
                   Phrase("judge.overfit_verdict", {"verdict": head, "evidence": evidence}), evidence)


TRENDS = {Call.HIGHER: Call.RISES, Call.LOWER: Call.FALLS, Call.SAME: Call.FLAT}


def trend(values: Sequence[float], n: int | None = None, se_epoch: float | None = None,
          per_example: np.ndarray | None = None, right: np.ndarray | None = None) -> Verdict:
    """Whether a curve rises, falls or stays flat from its first to its last epoch.

    Accuracies give ``n`` (binomial SE at each end; McNemar with ``right``, each epoch's per-image right/wrong);
    losses give ``per_example`` (each epoch's per-example
    losses: paired) or ``se_epoch`` (difference SE sqrt(2) x it). A move inside 2 SE is ``flat``: a sign, never
    a finding.
    """
    v = [float(x) for x in values]
    if n is not None:
        ok = _rows(right, len(v)) is not None
        d = accuracies(v[-1], v[0], n, right_a=right[-1] if ok else None, right_b=right[0] if ok else None)
    else:
        rows = _rows(per_example, len(v))
        d = losses(v[-1], v[0], se_epoch, paired=rows[-1] - rows[0] if rows is not None else None)
    return Verdict(TRENDS[d.verdict], d.value, d.se, tuple(v), d.phrase, d.test, d.p)


def loss_steps(values: Sequence[float], se_epoch: float | None = None,
               per_example: np.ndarray | None = None) -> list[Verdict]:
    """Each epoch's validation loss against the epoch before (``higher``: a measurable rise), paired when
    ``per_example`` holds each epoch's per-example losses."""
    v = [float(x) for x in values]
    rows = _rows(per_example, len(v))
    return [losses(v[i], v[i - 1], se_epoch, paired=rows[i] - rows[i - 1] if rows is not None else None)
            for i in range(1, len(v))]


def dips(values: Sequence[float], n: int, right: np.ndarray | None = None) -> list[int]:
    """Epochs (1-based) where an accuracy fell from the previous epoch by more than 2 SE (measurable dips);
    ``right``: each epoch's per-image right/wrong (epochs, n), for McNemar's test between epochs."""
    v = [float(x) for x in values]
    ok = _rows(right, len(v)) is not None
    return [i + 1 for i in range(1, len(v))
            if accuracies(v[i - 1], v[i], n, right_a=right[i - 1] if ok else None,
                          right_b=right[i] if ok else None).verdict == Call.HIGHER]
