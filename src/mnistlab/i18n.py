"""Words shown to people (figure labels, class names), in French (the lab's language) and English.

The words are data: ``words.toml`` holds each entry in both languages side by side; :func:`text` and
:func:`class_names` look them up. An entry missing a language fails when the file loads.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

from mnistlab.errors import MnistlabError

LANGS = ("fr", "en")


@functools.cache
def words() -> dict[str, dict[str, dict[str, object]]]:
    """``words.toml`` as {"text" | "class_names": {key: {lang: value}}}, every entry checked for both languages.

    Raises:
        MnistlabError: an entry lacks a language.
    """
    raw = tomllib.loads(resources.files("mnistlab").joinpath("words.toml").read_text(encoding="utf-8"))
    for table in ("text", "class_names"):
        for key, entry in raw[table].items():
            if missing := [lang for lang in LANGS if lang not in entry]:
                raise MnistlabError(f"{table}.{key} has no {missing[0]!r} entry", "words.toml")
    return raw


def class_names(dataset: str, lang: str = "fr") -> list[str]:
    """The ten class names of ``dataset`` in ``lang``."""
    return list(words()["class_names"][dataset][lang])


def text(key: str, lang: str = "fr") -> str:
    """A figure string in ``lang``; ``str.format`` it where it has ``{}``."""
    return words()["text"][key][lang]
