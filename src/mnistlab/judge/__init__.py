"""Verdicts on measured numbers, each returned with its evidence: the one judge of every claim.

A difference is a *finding* only beyond ``Z = 2`` standard errors (and, for a test with a p-value, p under
``ALPHA = 0.05``); inside that band the verdict is the neutral one (``same``, ``flat``, ``none``, ``tie``) and
the words say so. Verdict names are :class:`Call` members; the words (``words/judge.toml``) are kept as a
:class:`Phrase` and written in a language only when shown (``verdict.text(lang)``), numbers through the
package's one formatter (:func:`mnistlab.i18n.number`).

Tests, paired wherever pairs exist, and the words name the one used:

- two accuracies on the same images, both models' per-image results known: McNemar's exact test on the
  discordant images (``b`` right for a only, ``c`` for b only): difference ``(b - c) / n``, paired SE
  ``sqrt(b + c - (b - c)² / n) / n``, exact p from ``scipy.stats.binomtest(b, b + c)``
  (:func:`mcnemar`); otherwise the binomial SE ``sqrt(SE_a² + SE_b²)``, ``SE = sqrt(p (1 - p) / n)``, which
  ignores the pairing and errs wide (:func:`accuracies`);
- two mean losses on the same examples: the mean of the per-example differences ``d_i``, SE
  ``SD(d_i) / sqrt(n)`` when both sets of per-example losses are known (:func:`paired_losses`; across epochs
  from the run's ``val_losses.npy``); otherwise ``sqrt(2) x`` one mean loss's SE ``SD / sqrt(n)``
  (:func:`losses`);
- several seeds: mean ± SD (n - 1) and Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``)
  (:func:`seeds`);
- a ranking: every pair judged as above; :meth:`Ranking.sentence` says it from those verdicts alone.

Overfitting (:func:`overfitting`), precisely: with the validation curves of ``N`` epochs, the run overfits
*measurably* when the lowest validation loss is at an epoch before the last and the last validation loss is
above it by more than 2 SE of their difference (paired when each epoch's per-example losses are known), **or**
when the validation accuracy at the last epoch is below its best (at an earlier epoch) by more than 2 SE of a
difference of two accuracies. Otherwise: "pas de surapprentissage mesurable sur ces N époques". A loss rise
without a known loss SE is not judged on the loss (the verdict then rests on the accuracy alone, and says so).
"""

from mnistlab.judge.compare import (
    Seeds,
    accuracies,
    augmentation,
    losses,
    mcnemar,
    mean_sd,
    paired_losses,
    seeds,
)
from mnistlab.judge.curves import Overfit, dips, loss_steps, overfitting, trend
from mnistlab.judge.ranking import Ranking, hardest_class, ranking
from mnistlab.judge.verdict import (
    ALPHA,
    NEUTRAL,
    Call,
    Joined,
    Num,
    Phrase,
    Points,
    Test,
    Verdict,
    Z,
    binomial_se,
    in_points,
    loss_se,
    render,
)

__all__ = [
    "ALPHA", "NEUTRAL", "Z", "Call", "Joined", "Num", "Overfit", "Phrase", "Points", "Ranking", "Seeds", "Test",
    "Verdict", "accuracies", "augmentation", "binomial_se", "dips", "hardest_class", "in_points", "loss_se",
    "loss_steps", "losses", "mcnemar", "mean_sd", "overfitting", "paired_losses", "ranking", "render", "seeds",
    "trend",
]
