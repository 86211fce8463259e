"""What an answer may quote: only the measured values that a code cell above it has printed.

A measured value is a decimal number of three decimals or more written the French way (``0,8649``,
``1,6049``), a count of errors (``66 erreurs``), or McNemar's counts (``343 contre 265 images discordantes
sur 10 000``). Differences (``+0,78 point``, ``−0,0211``), their
uncertainties (``± 0,0220``) and a test's statistic and p-value (``z = 3,16``, ``p = 0,002``) are computed
from quoted values and are not looked for.
:func:`keep_shown` drops from an answer the paragraphs that quote a value no output above shows yet (the
answer to a question asked before the cell that computes it); the course's explanation stays.
"""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# a test's statistic and p-value (``z = 3,16``, ``p = 0,002``, ``p < 0,001``) are computed from the values, not quoted
_DECIMAL = re.compile(r"(?<![\d,.±+−\-])(?<!± )(?<![+−]\u202f)(?<!p = )(?<!p < )(?<!p &lt; )(?<!z = )"
                      r"(\d{1,3}(?:\u202f\d{3})+|\d+),(\d{3,})(?![\d,]|\s?points?\b|\s?%)")
_ERRORS = re.compile(r"(?<![\d,])(\d+)\s(?=erreurs?\b)")
_DISCORDANT = re.compile(r"(?<![\d,])(\d+) (?:contre|against) (\d+) (?:images discordantes|discordant images)"
                         r"(?: (?:sur|of) (\d{1,3}(?:[\u202f\u00a0 ,]\d{3})*)(?!\d))?")
_PRINTED = re.compile(r"(?<![\d.])(\d+)\.(\d+)")
# "54, sur 100": 54 and 100; not a duration ("2s 20ms/step", "12 s"): times change from one execution to the next
_INTEGER = re.compile(r"(?<![\d.,])\d+(?![\d.]|,\d|\s?(?:ms|us|µs|s|min)\b)")


def output_text(cell) -> str:
    """The text a code cell shows: its streams and its plain-text results, colour codes removed."""
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o.get("text", ""))
        elif "text/plain" in o.get("data", {}):
            out.append(o["data"]["text/plain"])
    return _ANSI.sub("", "".join(out))


def quoted(text: str) -> list[tuple[str, float, int]]:
    """The measured values ``text`` quotes: (as written, value, decimals); counts have 0 decimals."""
    out = [(m.group(0), float(f"{m.group(1).replace(chr(0x202f), '')}.{m.group(2)}"), len(m.group(2)))
           for m in _DECIMAL.finditer(text)]
    out += [(m.group(0).strip(), float(m.group(1)), 0) for m in _ERRORS.finditer(text)]
    for m in _DISCORDANT.finditer(text):
        out += [(m.group(0), float(re.sub(r"\D", "", g)), 0) for g in m.groups() if g]
    return out


class Shown:
    """The values printed by the outputs read so far."""

    def __init__(self) -> None:
        self.decimals: set[tuple[int, int]] = set()  # (digits of the value times 10**k, k) for each rounding
        self.integers: set[int] = set()

    def add(self, text: str) -> None:
        for m in _PRINTED.finditer(text):
            x = float(m.group(0))
            for k in range(1, 9):  # "0.5" shows 0,5000 too
                self.decimals.add((round(x * 10**k), k))
        self.integers.update(int(m.group(0)) for m in _INTEGER.finditer(text))

    def has(self, value: float, decimals: int) -> bool:
        if decimals == 0:
            return int(value) in self.integers
        return (round(value * 10**decimals), decimals) in self.decimals


def keep_shown(answer: str, shown: Shown) -> str:
    """``answer`` without the paragraphs that quote a value ``shown`` does not hold, nor the paragraphs with
    numbers that follow one of those (a difference between values it gave)."""
    kept, dropped = [], False
    for p in answer.split("\n\n"):
        values = quoted(p)
        if values:
            dropped = not all(shown.has(v, d) for _, v, d in values)
        elif not (dropped and re.search(r"\d", p)):
            dropped = False
        if not dropped:
            kept.append(p)
    return "\n\n".join(kept)
