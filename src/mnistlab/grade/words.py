"""The grader's sentences (``words.toml``) and numbers written the language's way (0,842 in French)."""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

LANGS = ("fr", "en")


@functools.cache
def _table() -> dict[str, dict[str, str]]:
    return tomllib.loads((resources.files("mnistlab.grade") / "words.toml").read_text(encoding="utf-8"))


def num(value, lang: str, digits: int = 4) -> str:
    """``0.8421`` -> ``0,8421`` (fr) or ``0.8421`` (en); integers with thin grouping; text as it is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u202f" if lang == "fr" else ",")
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "fr" else text


def say(key: str, lang: str, **args) -> str:
    """The sentence ``key`` in ``lang`` with ``args`` filled (numbers written the language's way)."""
    template = _table()[lang if lang in LANGS else "fr"][key]
    return template.format(**{k: num(v, lang) for k, v in args.items()})
