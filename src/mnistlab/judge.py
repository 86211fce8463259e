"""Verdicts on measured numbers, each returned with its evidence: the one judge of every claim.

A difference is a *finding* only beyond ``Z = 2`` standard errors; inside that band the verdict is the
neutral one ("same", "flat", "none", "tie") and the text says so. NumPy, the standard library and the words
lookup (its sentences are ``words/judge.toml``), so the report, the notebook and the analysis all phrase the same
verdicts.

Standard errors used:

- an accuracy ``p`` on ``n`` images: the binomial SE ``sqrt(p (1 - p) / n)``; a difference of two
  accuracies: ``sqrt(SE_a² + SE_b²)`` (ignores the pairing on the same images, so it errs wide);
- a mean loss: ``SD(per-example losses) / sqrt(n)``; a difference of two mean losses on the same examples:
  ``SD(per-example differences) / sqrt(n)`` when both epochs' per-example losses are known (paired), else
  ``sqrt(2) x`` one epoch's SE;
- several seeds: mean ± SD (n - 1) and Welch's t-test (a finding when beyond 2 SE *and* p < 0.05).

Overfitting (:func:`overfitting`), precisely: with the validation curves of ``N`` epochs, the run overfits
*measurably* when the lowest validation loss is at an epoch before the last and the last validation loss is
above it by more than 2 SE of a difference of two mean losses, **or** when the validation accuracy at the
last epoch is below its best (at an earlier epoch) by more than 2 SE of a difference of two accuracies.
Otherwise: "pas de surapprentissage mesurable sur ces N époques". A loss rise without a known loss SE is
not judged on the loss (the verdict then rests on the accuracy alone, and says so).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mnistlab.i18n import LANGS, say

BOTH = LANGS  # the languages of a verdict's two fragments (fr, en), in the order of its fields
Z = 2.0  # a difference is a finding beyond Z standard errors
ALPHA = 0.05  # Welch's test level, on top of the Z rule


@dataclass(frozen=True)
class Verdict:
    """A verdict with its evidence: the measured effect, its SE, the numbers it came from, two fragments."""

    verdict: str  # "higher" / "lower" / "same", "rises" / "falls" / "flat", "helps" / "hurts", ...
    value: float  # the effect (a - b, last - first, ...)
    se: float  # its standard error (inf when unknown)
    numbers: tuple[float, ...] = ()  # the inputs, in the order the function took them
    fr: str = ""  # a French fragment: "+0,40 point, au-delà de deux erreurs-types (± 0,35 point)"
    en: str = ""

    @property
    def finding(self) -> bool:
        """Beyond ``Z`` standard errors."""
        return math.isfinite(self.se) and abs(self.value) > Z * self.se

    def text(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en


def _num(x: float, lang: str, digits: int = 4) -> str:
    s = f"{x:.{digits}f}"
    return s.replace(".", ",") if lang == "fr" else s


def _pts(dx: float, lang: str, sign: bool = True) -> str:
    v = 100 * dx
    return in_points(("+" if v >= 0 else "−") * sign + _num(abs(v), lang, 2), v, lang)


def in_points(text: str, v: float, lang: str) -> str:
    """``text``, a number ``v`` of percentage points already written, with its unit: "0,90 point" / "0.90 points"."""
    one = abs(v) < 2 if lang == "fr" else abs(v) == 1  # French keeps the singular below two
    return say("judge.one_point" if one else "judge.points", lang, value=text)


def _signed(x: float, lang: str) -> str:
    return ("+" if x >= 0 else "−") + _num(abs(x), lang)


def binomial_se(p: float, n: int) -> float:
    """Standard error of an accuracy ``p`` measured on ``n`` images: sqrt(p (1 - p) / n); inf without images."""
    return math.sqrt(max(p * (1 - p), 0.0) / n) if n and n > 0 else math.inf


def loss_se(losses: Sequence[float] | np.ndarray) -> float:
    """Standard error of a mean loss: SD of the per-example losses (n - 1) / sqrt(n); inf under 2 examples."""
    x = np.asarray(losses, dtype=np.float64).ravel()
    return float(np.std(x, ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.inf


def _words(v: float, se: float, up: str, down: str, same: str) -> str:
    if not math.isfinite(se) or abs(v) <= Z * se:
        return same
    return up if v > 0 else down


def accuracies(a: float, b: float, n_a: int, n_b: int | None = None) -> Verdict:
    """``a - b`` for two accuracies on ``n_a`` and ``n_b`` images (the same set when ``n_b`` is None).

    Returns:
        verdict ``higher`` / ``lower`` beyond 2 SE, else ``same``.
    """
    n_b = n_a if n_b is None else n_b
    d, se = float(a) - float(b), math.hypot(binomial_se(a, n_a), binomial_se(b, n_b))
    verdict = _words(d, se, "higher", "lower", "same")
    fr, en = (say("judge.accuracies_same" if verdict == "same" else "judge.accuracies_beyond", lang,
                  diff=_pts(d, lang), bound=_pts(Z * se, lang, False)) for lang in BOTH)
    return Verdict(verdict, d, se, (float(a), float(b), float(n_a), float(n_b)), fr, en)


def losses(a: float, b: float, se_epoch: float | None = None, paired: Sequence[float] | None = None) -> Verdict:
    """``a - b`` for two mean losses on the same examples (two epochs, two models).

    Args:
        se_epoch: the SE of one epoch's mean loss (:func:`loss_se`); the difference's SE is sqrt(2) x it.
        paired: the per-example differences, when both sets of per-example losses are known (preferred).

    Returns:
        verdict ``higher`` / ``lower`` beyond 2 SE, else ``same`` (also when no SE is known).
    """
    if paired is not None and len(paired) > 1:
        se = loss_se(paired)
    elif se_epoch is not None and math.isfinite(se_epoch):
        se = math.sqrt(2) * se_epoch
    else:
        se = math.inf
    d = float(a) - float(b)
    verdict = _words(d, se, "higher", "lower", "same")
    if not math.isfinite(se):
        fr, en = (say("judge.losses_unknown", lang, diff=_signed(d, lang)) for lang in BOTH)
    else:
        fr, en = (say("judge.losses_same" if verdict == "same" else "judge.losses_beyond", lang,
                      diff=_signed(d, lang), bound=_num(Z * se, lang)) for lang in BOTH)
    return Verdict(verdict, d, se, (float(a), float(b)), fr, en)


@dataclass(frozen=True)
class Overfit:
    """:func:`overfitting`'s verdict (``overfits`` or ``none``) and its evidence."""

    verdict: str
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
    fr: str  # "pas de surapprentissage mesurable sur ces 5 époques : <evidence>"
    en: str
    evidence_fr: str = ""  # the evidence alone: what the loss and the accuracy did, with their noise
    evidence_en: str = ""

    @property
    def finding(self) -> bool:
        return self.verdict == "overfits"

    def text(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en

    def evidence(self, lang: str) -> str:
        return self.evidence_fr if lang == "fr" else self.evidence_en


def overfitting(val_loss: Sequence[float], val_acc: Sequence[float] | None = None, n_val: int = 0,
                se_epoch: float | None = None) -> Overfit:
    """Whether a training run overfits measurably (the definition is in the module's docstring).

    Args:
        val_loss: validation loss per epoch.
        val_acc: validation accuracy per epoch (optional).
        n_val: validation images (for the binomial SE of the accuracy).
        se_epoch: SE of one epoch's mean validation loss (:func:`loss_se`); None: the loss is not judged.
    """
    vl = [float(v) for v in val_loss]
    if not vl:
        raise ValueError("no validation loss")
    n_ep = len(vl)
    best = int(np.argmin(vl))
    rise = losses(vl[-1], vl[best], se_epoch)
    by_loss = best < n_ep - 1 and rise.verdict == "higher"
    va = [float(v) for v in val_acc] if val_acc else []
    drop, best_acc_epoch, by_acc = None, None, False
    if va:
        best_a = int(np.argmax(va))
        best_acc_epoch = best_a + 1
        drop = accuracies(va[best_a], va[-1], n_val)
        by_acc = best_a < len(va) - 1 and drop.verdict == "higher"
    verdict = "overfits" if by_loss or by_acc else "none"

    def evidence(lang: str) -> str:
        """What the loss and the accuracy did, with their noise, in ``lang``."""
        if best < n_ep - 1:
            ev = [say("judge.loss_goes", lang, lowest=_num(vl[best], lang), lowest_epoch=best + 1,
                      last=_num(vl[-1], lang), rise=rise.text(lang))]
        else:
            ev = [say("judge.loss_lowest_last", lang, last=_num(vl[-1], lang))]
        if drop is not None and best_acc_epoch < len(va):
            ev.append(say("judge.accuracy_goes", lang, best=_num(va[best_acc_epoch - 1], lang),
                          best_epoch=best_acc_epoch, last=_num(va[-1], lang), drop=drop.text(lang)))
        elif drop is not None:
            ev.append(say("judge.accuracy_highest_last", lang, last=_num(va[-1], lang)))
        if se_epoch is None and best < n_ep - 1:
            ev.append(say("judge.loss_rise_not_judged", lang))
        return say("judge.evidence_separator", lang).join(ev)

    def head(lang: str) -> str:
        """The verdict itself, in ``lang``."""
        if verdict == "overfits":
            return say("judge.overfits_from", lang, epoch=best + 1 if by_loss else best_acc_epoch)
        if n_ep > 1:
            return say("judge.no_overfit_epochs", lang, epochs=n_ep)
        return say("judge.no_overfit_one_epoch", lang)

    ev = {lang: evidence(lang) for lang in BOTH}
    fr, en = (say("judge.overfit_verdict", lang, verdict=head(lang), evidence=ev[lang]) for lang in BOTH)
    return Overfit(verdict, n_ep, best + 1, vl[best], vl[-1], rise, best_acc_epoch,
                   va[best_acc_epoch - 1] if va else None, va[-1] if va else None, drop, by_loss, by_acc,
                   fr, en, ev["fr"], ev["en"])


def trend(values: Sequence[float], n: int | None = None, se_epoch: float | None = None) -> Verdict:
    """Whether a curve rises, falls or stays flat from its first to its last epoch.

    Accuracies give ``n`` (binomial SE at each end); losses give ``se_epoch`` (difference SE sqrt(2) x it).
    A move inside 2 SE is ``flat``: a sign, never a finding.
    """
    v = [float(x) for x in values]
    if n is not None:
        d = accuracies(v[-1], v[0], n)
    else:
        d = losses(v[-1], v[0], se_epoch)
    verdict = {"higher": "rises", "lower": "falls", "same": "flat"}[d.verdict]
    return Verdict(verdict, d.value, d.se, tuple(v), d.fr, d.en)


def dips(values: Sequence[float], n: int) -> list[int]:
    """Epochs (1-based) where an accuracy fell from the previous epoch by more than 2 SE (measurable dips)."""
    v = [float(x) for x in values]
    return [i + 1 for i in range(1, len(v)) if accuracies(v[i - 1], v[i], n).verdict == "higher"]


@dataclass(frozen=True)
class Ranking:
    """Values from the largest down; ``leaders``: the first and every value within 2 SE of it."""

    order: tuple[tuple[str, float], ...]
    leaders: tuple[str, ...]
    first_vs_second: Verdict | None
    first_vs_last: Verdict | None

    @property
    def verdict(self) -> str:
        return "first" if len(self.leaders) == 1 else "tie"

    @property
    def finding(self) -> bool:
        return self.verdict == "first"

    def tied(self, lang: str) -> str:
        """``relu, tanh et LeakyReLU`` (the leaders, in order)."""
        names = list(self.leaders)
        return names[0] if len(names) == 1 else say("judge.names_and", lang, names=", ".join(names[:-1]),
                                                     last=names[-1])


def ranking(values: Mapping[str, float], n: int) -> Ranking:
    """Rank accuracies measured on ``n`` images each; ties inside the noise are kept together."""
    order = tuple(sorted(((k, float(v)) for k, v in values.items()), key=lambda kv: -kv[1]))
    if not order:
        return Ranking((), (), None, None)
    top = order[0][1]
    leaders = tuple(k for k, v in order if accuracies(top, v, n).verdict == "same" or v == top)
    second = accuracies(top, order[1][1], n) if len(order) > 1 else None
    last = accuracies(top, order[-1][1], n) if len(order) > 1 else None
    return Ranking(order, leaders, second, last)


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) (continued fraction, Numerical Recipes' betacf)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _betainc(b, a, 1 - x)
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > 1e-300 else 1e-300)
    f = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + num * d
            d = 1 / (d if abs(d) > 1e-300 else 1e-300)
            c = 1 + num / c
            c = c if abs(c) > 1e-300 else 1e-300
            f *= c * d
        if abs(c * d - 1) < 1e-14:
            break
    return front * f / a


def t_two_sided_p(t: float, df: float) -> float:
    """Two-sided p-value of Student's t with ``df`` degrees of freedom."""
    return _betainc(df / 2, 0.5, df / (df + t * t)) if math.isfinite(t) else 0.0


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
    def verdict(self) -> str:
        return self.diff.verdict if self.finding else "same"

    @property
    def finding(self) -> bool:
        return self.diff.finding and self.p is not None and self.p < ALPHA


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample SD (n - 1; 0 for one value)."""
    x = np.asarray(values, dtype=np.float64)
    return float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else 0.0


def seeds(a: Sequence[float], b: Sequence[float]) -> Seeds:
    """Compare two settings run with several seeds each (Welch's t-test; p None under 2 seeds a side)."""
    ma, sa = mean_sd(a)
    mb, sb = mean_sd(b)
    na, nb = len(a), len(b)
    d = ma - mb
    p = None
    se = math.inf
    if na > 1 and nb > 1:
        va, vb = sa * sa / na, sb * sb / nb
        se = math.sqrt(va + vb)
        if se == 0:
            p = 0.0 if d != 0 else 1.0
        else:
            df = (va + vb) ** 2 / (va * va / (na - 1) + vb * vb / (nb - 1))
            p = t_two_sided_p(d / se, df)
    if se == 0:
        se = 0.0 if d != 0 else math.inf
    verdict = _words(d, se, "higher", "lower", "same") if p is None or p < ALPHA else "same"
    fr, en = (say("judge.seeds_mean", lang, diff=_pts(d, lang), seeds_a=na, seeds_b=nb)
              + (say("judge.seeds_welch", lang, p=_num(p, lang, 3)) if p is not None else "") for lang in BOTH)
    return Seeds(ma, sa, na, mb, sb, nb, Verdict(verdict, d, se, (ma, mb), fr, en), p)


def augmentation(aug_acc: float, base_acc: float, n: int, aug_loss: float | None = None,
                 base_loss: float | None = None, se_epoch: float | None = None) -> Verdict:
    """Whether data augmentation helps: ``helps`` / ``hurts`` on the test accuracy beyond 2 SE, else ``same``.

    The test loss, when given, is evidence (``numbers``); it changes the verdict only when the accuracy says
    nothing and the loss moved beyond 2 SE (lower loss: ``helps``, higher: ``hurts``).
    """
    acc = accuracies(aug_acc, base_acc, n)
    verdict = {"higher": "helps", "lower": "hurts", "same": "same"}[acc.verdict]
    numbers = (float(aug_acc), float(base_acc), float(n))
    if aug_loss is not None and base_loss is not None:
        loss = losses(aug_loss, base_loss, se_epoch)
        numbers += (float(aug_loss), float(base_loss))
        if verdict == "same" and loss.finding:
            verdict = "helps" if loss.value < 0 else "hurts"
    return Verdict(verdict, acc.value, acc.se, numbers, acc.fr, acc.en)


def hardest_class(recall: Mapping[str, float], support: Mapping[str, int]) -> Ranking:
    """The class with the lowest recall; ``leaders`` are every class within 2 SE of it (binomial on its
    support), so a tie inside the noise names them all."""
    order = tuple(sorted(((k, float(v)) for k, v in recall.items()), key=lambda kv: kv[1]))
    if not order:
        return Ranking((), (), None, None)
    worst, low = order[0]
    leaders = tuple(k for k, v in order
                    if k == worst or math.hypot(binomial_se(v, support.get(k, 0)),
                                                binomial_se(low, support.get(worst, 0))) * Z >= v - low)
    second = accuracies(order[1][1], low, support.get(order[1][0], 0), support.get(worst, 0)) \
        if len(order) > 1 else None
    return Ranking(order, leaders, second, None)
