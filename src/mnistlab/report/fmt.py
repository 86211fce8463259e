"""Numbers as the report writes them, in French or English conventions.

French: decimal comma, thin no-break space between thousands, "97,50 %"; English: "0.9750", "101,770".
Every number in the report goes through these functions, so a test can format an artifact's value the
same way and find it in the report.
"""

from __future__ import annotations

from mnistlab import judge
from mnistlab.i18n import DECIMAL, number, say

NNBSP = "\u202f"  # narrow no-break space: French thousands separator and before % and units


def num(x: float | None, lang: str, digits: int = 4) -> str:
    """A decimal number with ``digits`` decimals: ``0,9750`` (fr) / ``0.9750`` (en); ``—`` if unknown."""
    return number(x, lang, digits)


def signed(x: float | None, lang: str, digits: int = 4) -> str:
    """A difference with its sign: ``+0,3727`` / ``−0.0120``."""
    if x is None:
        return "—"
    return ("+" if x >= 0 else "−") + num(abs(x), lang, digits)


def signed_int(n: int | None, lang: str) -> str:
    """An integer difference with its sign: ``+115 648``."""
    if n is None:
        return "—"
    return ("+" if n >= 0 else "−") + integer(abs(n), lang)


def general(x: float | None, lang: str) -> str:
    """A setting as short as it goes: ``0,001``, ``1``, ``0,01`` (``%g``)."""
    if x is None:
        return "—"
    return f"{float(x):g}".replace(".", DECIMAL.get(lang, "."))


def integer(n: int | float | None, lang: str) -> str:
    """``101 770`` (fr) / ``101,770`` (en)."""
    if n is None:
        return "—"
    return number(int(round(n)), lang, 0)


def pct(x: float | None, lang: str, digits: int = 2) -> str:
    """A fraction as a percentage: ``97,50 %`` (fr) / ``97.50%`` (en)."""
    if x is None:
        return "—"
    return num(100 * x, lang, digits) + (f"{NNBSP}%" if lang == "fr" else "%")


def points(dx: float | None, lang: str, digits: int = 2, sign: bool = True) -> str:
    """A difference of two accuracies in percentage points: ``+0,90 point`` / ``+0.90 points``."""
    if dx is None:
        return "—"
    v = 100 * dx
    s = num(abs(v), lang, digits)
    if sign:
        s = ("+" if v >= 0 else "−") + s
    return judge.in_points(s, v, lang)


def seconds(s: float | None, lang: str) -> str:
    """Wall time: ``28 s``, ``2 min 47 s``, ``1 h 02 min``."""
    if s is None:
        return "—"
    s = float(s)
    if s < 10:
        return num(s, lang, 1) + f"{NNBSP}s"
    total = int(round(s))
    h, rest = divmod(total, 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h}{NNBSP}h{NNBSP}{m:02d}{NNBSP}min"
    if m:
        return f"{m}{NNBSP}min{NNBSP}{sec:02d}{NNBSP}s"
    return f"{sec}{NNBSP}s"


def shape(dims: list[int] | tuple[int, ...], lang: str) -> str:
    """An array shape as Python prints it, ``(60000, 28, 28)``."""
    dims = list(dims)
    return "(" + ", ".join(str(int(d)) for d in dims) + ("," if len(dims) == 1 else "") + ")"


def listing(items: list[str], lang: str) -> str:
    """``a, b et c`` / ``a, b and c``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + say("report.list_and", lang) + items[-1]


def epochs(n: int | None, lang: str) -> str:
    """``1 époque``, ``5 époques`` / ``1 epoch``, ``5 epochs``."""
    if n is None:
        return "—"
    plural = n != 1 if lang == "en" else n > 1  # French: 0 époque, 1 époque, 2 époques
    return say("report.epochs" if plural else "report.epoch", lang, n=n)
