"""The grader's sentences (``mnistlab/words/grade.toml``, through :func:`mnistlab.i18n.say`) and numbers written
the language's way (0,842 in French)."""

from __future__ import annotations

from mnistlab import i18n


def num(value, lang: str, digits: int = 4) -> str:
    """``0.8421`` -> ``0,8421`` (fr) or ``0.8421`` (en); integers with thin grouping; text as it is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return i18n.number(value, lang, 0 if isinstance(value, int) else digits, group=isinstance(value, int))


def say(key: str, lang: str, **args) -> str:
    """The sentence ``key`` in ``lang`` with ``args`` filled (numbers written the language's way)."""
    lang = lang if lang in i18n.LANGS else "fr"
    return i18n.say(f"grade.{key}", lang, **{k: num(v, lang) for k, v in args.items()})
