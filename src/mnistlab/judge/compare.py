"""Two measurements compared: accuracies (McNemar's exact test when both models' per-image results are known,
the binomial SE otherwise), mean losses (paired per-example differences when known), seeds (Welch's t-test)
and augmentation's effect."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mnistlab.judge.verdict import (
    ALPHA,
    Call,
    Num,
    Phrase,
    Points,
    Test,
    Verdict,
    Z,
    beyond,
    binomial_se,
    loss_se,
    p_value,
)


def _right(x: Sequence[bool] | np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=bool).ravel()


def accuracies(a: float, b: float, n_a: int, n_b: int | None = None, right_a: Sequence[bool] | None = None,
               right_b: Sequence[bool] | None = None) -> Verdict:
    """``a - b`` for two accuracies on ``n_a`` and ``n_b`` images (the same set when ``n_b`` is None).

    With ``right_a`` and ``right_b`` (whether each model got each image right, the same images in the same
    order), the test is paired: :func:`mcnemar`. Otherwise the SE is ``sqrt(SE_a² + SE_b²)`` (binomial), which
    ignores any pairing and so errs wide; the words say which.

    Returns:
        verdict ``higher`` / ``lower`` beyond 2 SE, else ``same``.
    """
    if right_a is not None and right_b is not None and len(right_a) == len(right_b) and len(right_a) > 0:
        return mcnemar(right_a, right_b, a, b)
    n_b = n_a if n_b is None else n_b
    d, se = float(a) - float(b), math.hypot(binomial_se(a, n_a), binomial_se(b, n_b))
    verdict = beyond(d, se, Call.HIGHER, Call.LOWER, Call.SAME)
    key = "judge.accuracies_same" if verdict == Call.SAME else "judge.accuracies_beyond"
    phrase = Phrase(key, {"diff": Points(d), "bound": Points(Z * se, False)})
    return Verdict(verdict, d, se, (float(a), float(b), float(n_a), float(n_b)), phrase, Test.BINOMIAL)


def mcnemar(right_a: Sequence[bool], right_b: Sequence[bool], a: float | None = None,
            b: float | None = None) -> Verdict:
    """McNemar's exact test: two models scored on the same ``n`` images.

    ``b_`` images only model a gets right, ``c_`` only model b: the difference of accuracies is
    ``(b_ - c_) / n`` with paired SE ``sqrt(b_ + c_ - (b_ - c_)² / n) / n``; the exact two-sided p-value is the
    binomial test of ``b_`` successes in ``b_ + c_`` trials at 1/2 (``scipy.stats.binomtest``). A finding
    beyond 2 SE with p under ``ALPHA``.

    Args:
        a, b: the accuracies as the run recorded them (the effect stated); by default those of the arrays.
    """
    from scipy.stats import binomtest

    ra, rb = _right(right_a), _right(right_b)
    n = len(ra)
    b_, c_ = int((ra & ~rb).sum()), int((~ra & rb).sum())
    d = float(a) - float(b) if a is not None and b is not None else (b_ - c_) / n
    se = math.sqrt(max(b_ + c_ - (b_ - c_) ** 2 / n, 0.0)) / n
    p = float(binomtest(b_, b_ + c_, 0.5).pvalue) if b_ + c_ else 1.0
    if se == 0:
        se = math.inf  # no discordant image: nothing to tell apart
    verdict = beyond(d, se, Call.HIGHER, Call.LOWER, Call.SAME, p)
    key = "judge.accuracies_same_paired" if verdict == Call.SAME else "judge.accuracies_beyond_paired"
    phrase = Phrase(key, {"diff": Points(d), "bound": Points(Z * se if math.isfinite(se) else 0.0, False),
                          "b": b_, "c": c_, "n": n, "z": Num(d / se if math.isfinite(se) else 0.0, 2),
                          "p": p_value(p)})
    return Verdict(verdict, d, se, (float(ra.mean()), float(rb.mean()), float(n), float(n)), phrase, Test.MCNEMAR,
                   p, (b_, c_))


def losses(a: float, b: float, se_epoch: float | None = None, paired: Sequence[float] | None = None) -> Verdict:
    """``a - b`` for two mean losses on the same examples (two epochs, two models).

    Args:
        se_epoch: the SE of one mean loss (:func:`loss_se`); unpaired, the difference's SE is sqrt(2) x it.
        paired: the per-example differences ``d_i``, when both sets of per-example losses are known
            (preferred): SE = SD(d_i) / sqrt(n).

    Returns:
        verdict ``higher`` / ``lower`` beyond 2 SE, else ``same`` (also when no SE is known); the words name
        the test.
    """
    d = float(a) - float(b)
    if paired is not None and len(paired) > 1:
        se, test = loss_se(paired), Test.LOSS_PAIRED
    elif se_epoch is not None and math.isfinite(se_epoch):
        se, test = math.sqrt(2) * se_epoch, Test.LOSS_UNPAIRED
    else:
        se, test = math.inf, Test.UNKNOWN
    verdict = beyond(d, se, Call.HIGHER, Call.LOWER, Call.SAME)
    fields = {"diff": Num(d, sign=True), "bound": Num(Z * se)}
    if test == Test.UNKNOWN:
        phrase = Phrase("judge.losses_unknown", {"diff": Num(d, sign=True)})
    elif test == Test.LOSS_PAIRED:
        phrase = Phrase("judge.losses_same_paired" if verdict == Call.SAME else "judge.losses_beyond_paired",
                        {**fields, "n": len(paired), "z": Num(d / se if se > 0 else 0.0, 2)})
    else:
        phrase = Phrase("judge.losses_same" if verdict == Call.SAME else "judge.losses_beyond", fields)
    return Verdict(verdict, d, se, (float(a), float(b)), phrase, test)


def paired_losses(losses_a: Sequence[float], losses_b: Sequence[float], a: float | None = None,
                  b: float | None = None) -> Verdict:
    """``a - b`` for two mean losses from their per-example losses on the same examples (paired).

    Args:
        a, b: the mean losses as the run recorded them (the effect stated); by default the arrays' means.
    """
    la, lb = (np.asarray(x, dtype=np.float64).ravel() for x in (losses_a, losses_b))
    d = la - lb
    return losses(float(la.mean()) if a is None else a, float(lb.mean()) if b is None else b, paired=d)


@dataclass(frozen=True)
class Seeds:
    """Two settings over several seeds: mean ± SD of each, Welch's t-test on the means."""

    mean_a: float
    sd_a: float
    n_a: int
    mean_b: float
    sd_b: float
    n_b: int
    diff: Verdict  # mean_a - mean_b with Welch's SE
    p: float | None

    @property
    def verdict(self) -> Call:
        return self.diff.verdict

    @property
    def finding(self) -> bool:
        """Beyond 2 SE *and* Welch's p under ``ALPHA``."""
        return self.diff.finding


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample SD (n - 1; 0 for one value)."""
    x = np.asarray(values, dtype=np.float64)
    return float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else 0.0


def seeds(a: Sequence[float], b: Sequence[float]) -> Seeds:
    """Compare two settings run with several seeds each: Welch's t-test (``scipy.stats.ttest_ind`` with
    ``equal_var=False``); p None under 2 seeds a side."""
    return seeds_from_stats(*mean_sd(a), len(a), *mean_sd(b), len(b))


def seeds_from_stats(ma: float, sa: float, na: int, mb: float, sb: float, nb: int) -> Seeds:
    """:func:`seeds` from each side's mean, SD (n - 1) and n (``scipy.stats.ttest_ind_from_stats``, Welch)."""
    d = ma - mb
    p, se = None, math.inf
    if na > 1 and nb > 1:
        se = math.sqrt(sa * sa / na + sb * sb / nb)
        if se == 0:
            p = 0.0 if d != 0 else 1.0
        else:
            from scipy.stats import ttest_ind_from_stats

            p = float(ttest_ind_from_stats(ma, sa, na, mb, sb, nb, equal_var=False).pvalue)
    if se == 0:
        se = 0.0 if d != 0 else math.inf
    verdict = beyond(d, se, Call.HIGHER, Call.LOWER, Call.SAME, p)
    fields = {"diff": Points(d), "seeds_a": na, "seeds_b": nb}
    phrase = Phrase("judge.seeds_welch", {**fields, "p": p_value(p)}) if p is not None \
        else Phrase("judge.seeds_mean", fields)
    return Seeds(ma, sa, na, mb, sb, nb, Verdict(verdict, d, se, (ma, mb), phrase, Test.WELCH, p), p)


def augmentation(aug_acc: float, base_acc: float, n: int, aug_loss: float | None = None,
                 base_loss: float | None = None, se_epoch: float | None = None,
                 right: tuple[Sequence[bool], Sequence[bool]] | None = None,
                 per_example: tuple[Sequence[float], Sequence[float]] | None = None) -> Verdict:
    """Whether data augmentation helps: ``helps`` / ``hurts`` on the test accuracy beyond 2 SE, else ``same``.

    The test loss, when given, is evidence (``numbers``); it changes the verdict only when the accuracy says
    nothing and the loss moved beyond 2 SE (lower loss: ``helps``, higher: ``hurts``).

    Args:
        right: (augmented, base) per-image right/wrong on the same test images: McNemar's test.
        per_example: (augmented, base) per-image test losses: the loss judged paired.
    """
    acc = accuracies(aug_acc, base_acc, n, right_a=right[0] if right else None, right_b=right[1] if right else None)
    verdict = {Call.HIGHER: Call.HELPS, Call.LOWER: Call.HURTS, Call.SAME: Call.SAME}[acc.verdict]
    numbers = (float(aug_acc), float(base_acc), float(n))
    if aug_loss is not None and base_loss is not None:
        loss = paired_losses(*per_example, aug_loss, base_loss) if per_example else \
            losses(aug_loss, base_loss, se_epoch)
        numbers += (float(aug_loss), float(base_loss))
        if verdict == Call.SAME and loss.finding:
            verdict = Call.HELPS if loss.value < 0 else Call.HURTS
    return Verdict(verdict, acc.value, acc.se, numbers, acc.phrase, acc.test, acc.p, acc.discordant)


__all__ = ["ALPHA", "Seeds", "accuracies", "augmentation", "losses", "mcnemar", "mean_sd", "paired_losses", "seeds"]
