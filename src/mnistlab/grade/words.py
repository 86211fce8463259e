"""The grader's sentences (``mnistlab/words/grade.toml``, through :func:`mnistlab.i18n.say`) and numbers written
the language's way (0,842 in French)."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Why:
    """Why a notebook got its status: the sentence ``why.<key>`` of the words file with its values, written in
    the language asked (the student's feedback, the class page, the grade files); ``str()`` is the English
    (the grader's own lines, logs)."""

    key: str
    args: tuple[tuple[str, object], ...] = ()

    def text(self, lang: str) -> str:
        return say(f"why.{self.key}", lang, **dict(self.args))

    def __str__(self) -> str:
        return self.text("en")

    def to_json(self) -> list:
        return [self.key, dict(self.args)]

    @classmethod
    def from_json(cls, value) -> Why | None:
        """A stored reason (a cache entry, untrusted): None unless a known key with plain values."""
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
                and isinstance(value[1], dict)):
            return None
        args = value[1]
        if not all(isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool)
                   for k, v in args.items()):
            return None
        found = why(value[0], **args)
        try:
            found.text("en")
        except (KeyError, IndexError, ValueError):
            return None
        return found


def why(key: str, **args) -> Why:
    """The reason ``why.<key>`` with its values (numbers are written the language's way when shown)."""
    return Why(key, tuple(sorted(args.items())))
