"""What a verdict is: its name (:class:`Call`), the test behind it (:class:`Test`), its evidence, and its
words kept as a :class:`Phrase` that is written in a language only when it is shown (``text(lang)``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from mnistlab.i18n import number, say

Z = 2.0  # a difference is a finding beyond Z standard errors
ALPHA = 0.05  # the level of a test's p-value (McNemar, Welch), on top of the Z rule


class Call(StrEnum):
    """Every verdict's name. A ``StrEnum``: ``Call.SAME == "same"``, so a verdict reads as its name."""

    HIGHER = "higher"  # a - b beyond the noise, a above
    LOWER = "lower"
    SAME = "same"  # inside the noise
    RISES = "rises"  # a curve from its first to its last epoch
    FALLS = "falls"
    FLAT = "flat"
    HELPS = "helps"  # augmentation
    HURTS = "hurts"
    OVERFITS = "overfits"  # a training run
    NONE = "none"
    FIRST = "first"  # a ranking with one value ahead of all others
    TIE = "tie"  # a ranking whose first place is shared inside the noise


NEUTRAL = frozenset({Call.SAME, Call.FLAT, Call.NONE, Call.TIE})  # the verdicts that are not findings


class Test(StrEnum):
    """The test a verdict used, named in its words."""

    BINOMIAL = "binomial"  # two accuracies, unpaired: sqrt(SE_a² + SE_b²)
    MCNEMAR = "mcnemar"  # two accuracies on the same images: McNemar's exact test on the discordant images
    LOSS_PAIRED = "loss_paired"  # two mean losses on the same examples: SD of per-example differences / sqrt(n)
    LOSS_UNPAIRED = "loss_unpaired"  # sqrt(2) x one mean loss's SE
    UNKNOWN = "unknown"  # no standard error known: never a finding
    WELCH = "welch"  # several seeds a side: Welch's t-test


@dataclass(frozen=True)
class Num:
    """A number written at rendering: ``digits`` decimals, with its sign when ``sign``."""

    value: float
    digits: int = 4
    sign: bool = False

    def render(self, lang: str) -> str:
        s = number(abs(self.value), lang, self.digits)
        if self.sign:
            return ("+" if self.value >= 0 else "−") + s
        return ("−" if self.value < 0 else "") + s  # the typographic minus, as the report writes it


@dataclass(frozen=True)
class Points:
    """A difference of two accuracies in percentage points: ``+0,78 point`` / ``+0.78 points``."""

    value: float  # a fraction: 0.0078 is 0.78 point
    sign: bool = True

    def render(self, lang: str) -> str:
        v = 100 * self.value
        return in_points(("+" if v >= 0 else "−") * self.sign + number(abs(v), lang, 2), v, lang)


@dataclass(frozen=True)
class Phrase:
    """Words of ``words/*.toml`` (``key``) with their fields, written in a language by :meth:`render`."""

    key: str
    fields: Mapping[str, object] = field(default_factory=dict)

    def render(self, lang: str) -> str:
        return say(self.key, lang, **{k: render(v, lang) for k, v in self.fields.items()})


@dataclass(frozen=True)
class Joined:
    """Phrases joined by the words ``sep`` (``judge.evidence_separator``)."""

    parts: tuple[object, ...]
    sep: str = "judge.evidence_separator"

    def render(self, lang: str) -> str:
        return say(self.sep, lang).join(render(p, lang) for p in self.parts)


def render(x: object, lang: str) -> str:
    """A field in ``lang``: a :class:`Phrase`, :class:`Num`, :class:`Points`, an integer (``10 000``) or text."""
    if hasattr(x, "render"):
        return x.render(lang)
    if isinstance(x, bool) or isinstance(x, str):
        return str(x)
    if isinstance(x, (int, np.integer)):
        return number(int(x), lang, 0)
    if isinstance(x, float):
        return number(x, lang)
    return str(x)


def in_points(text: str, v: float, lang: str) -> str:
    """``text``, a number ``v`` of percentage points already written, with its unit: "0,90 point" / "0.90 points"."""
    one = abs(v) < 2 if lang == "fr" else abs(v) == 1  # French keeps the singular below two
    return say("judge.one_point" if one else "judge.points", lang, value=text)


def p_value(p: float) -> Phrase:
    """``p = 0,002`` / ``p < 0,001``."""
    return Phrase("judge.p_below", {"p": Num(0.001, 3)}) if p < 0.001 else Phrase("judge.p_equals", {"p": Num(p, 3)})


@dataclass(frozen=True)
class Verdict:
    """A verdict with its evidence: its name, the measured effect, its SE, the test, the numbers it came
    from, and its words (``text(lang)``)."""

    verdict: Call
    value: float  # the effect (a - b, last - first, ...)
    se: float  # its standard error (inf when unknown)
    numbers: tuple[float, ...] = ()  # the inputs, in the order the function took them
    phrase: object = None  # the words: a Phrase (or Joined), written in a language by text()
    test: Test = Test.UNKNOWN
    p: float | None = None  # the test's p-value, where it has one (McNemar, Welch)
    discordant: tuple[int, int] | None = None  # McNemar: (right for a only, right for b only)

    @property
    def finding(self) -> bool:
        """Beyond ``Z`` standard errors (and the test's p under ``ALPHA`` where it has one)."""
        return self.verdict not in NEUTRAL

    @property
    def z(self) -> float:
        """The effect in standard errors (0 when the SE is unknown)."""
        return self.value / self.se if math.isfinite(self.se) and self.se > 0 else 0.0

    @property
    def paired(self) -> bool:
        return self.test in (Test.MCNEMAR, Test.LOSS_PAIRED)

    def text(self, lang: str) -> str:
        """The verdict's words in ``lang``: "+0,78 point, au-delà de deux erreurs-types ... (McNemar exact, ...)"."""
        return render(self.phrase, lang) if self.phrase is not None else ""

    def brief(self, lang: str) -> str:
        """The verdict in a few words, for a summary that the full evidence follows elsewhere: its effect, beyond
        the noise or not, the test and twice its SE ("+0,83 point, au-delà du bruit (McNemar : ± 0,49 point)")."""
        fields = getattr(self.phrase, "fields", None) or {}
        if "diff" not in fields or "bound" not in fields:
            return self.text(lang)
        return render(Phrase("judge.brief_beyond" if self.finding else "judge.brief_same",
                             {"diff": fields["diff"], "bound": fields["bound"],
                              "test": Phrase(f"judge.test.{self.test.value}")}), lang)


def binomial_se(p: float, n: int) -> float:
    """Standard error of an accuracy ``p`` measured on ``n`` images: sqrt(p (1 - p) / n); inf without images."""
    return math.sqrt(max(p * (1 - p), 0.0) / n) if n and n > 0 else math.inf


def loss_se(losses: Sequence[float] | np.ndarray) -> float:
    """Standard error of a mean loss: SD of the per-example losses (n - 1) / sqrt(n); inf under 2 examples."""
    x = np.asarray(losses, dtype=np.float64).ravel()
    return float(np.std(x, ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.inf


def beyond(v: float, se: float, up: Call, down: Call, same: Call, p: float | None = None) -> Call:
    """``up`` / ``down`` when ``v`` is beyond ``Z`` SE (and ``p`` under ``ALPHA`` when given), else ``same``."""
    if not math.isfinite(se) or abs(v) <= Z * se or (p is not None and not p < ALPHA):
        return same
    return up if v > 0 else down
