"""Every word shown to people, in French (the lab's language) and English: one lookup over data files.

The words are data in ``words/*.toml``, one file per subject (``figures``, ``classes``, ``grade``, the
report's modules...). Each entry holds its two languages side by side::

    [missing_step]
    fr = "**Manquant** : {step} n'a pas de résultats."
    en = "**Missing**: {step} has no results."

:func:`say` ("file.entry", lang, values) gives the sentence with its ``{fields}`` filled by ``str.format``
(so a literal brace is written ``{{``); :func:`class_names` gives a data set's ten class names. Every file is
checked when it is first read: an entry without both languages, with other keys, or whose two languages do
not have the same fields fails there, naming the file and the entry.
"""

from __future__ import annotations

import functools
import string
import tomllib
from importlib import resources

from mnistlab.errors import MnistlabError

LANGS = ("fr", "en")
FOLDER = "words"


def fields(template: str) -> list[str]:
    """The ``{fields}`` of ``template``, sorted (``{}`` counts as ``""``)."""
    return sorted(f for _, f, _, _ in string.Formatter().parse(template) if f is not None)


def _check(name: str, table: dict) -> dict[str, dict[str, object]]:
    """``table`` (one words file) if every entry is {fr, en} of the same kind and fields; else MnistlabError."""
    for key, entry in table.items():
        where = f"{FOLDER}/{name}.toml"
        if not isinstance(entry, dict) or set(entry) != set(LANGS):
            have = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise MnistlabError(f"entry {key!r} must hold exactly {' and '.join(LANGS)} (has {have})", where)
        fr, en = (entry[lang] for lang in LANGS)
        if isinstance(fr, str) and isinstance(en, str):
            try:
                same = fields(fr) == fields(en)
            except ValueError as e:
                raise MnistlabError(f"entry {key!r}: {e} (write a literal brace as {{{{)", where) from None
            if not same:
                raise MnistlabError(f"entry {key!r}: the languages have different fields "
                                    f"({fields(fr)} / {fields(en)})", where)
        elif not (isinstance(fr, list) and isinstance(en, list) and len(fr) == len(en)):
            raise MnistlabError(f"entry {key!r}: both languages must be text, or lists of one length", where)
    return table


@functools.cache
def words() -> dict[str, dict[str, dict[str, object]]]:
    """Every words file as {file: {entry: {lang: text}}}, each checked (see the module's docstring).

    Raises:
        MnistlabError: a file is not TOML or an entry is not complete.
    """
    out = {}
    for f in sorted(resources.files("mnistlab").joinpath(FOLDER).iterdir(), key=lambda f: f.name):
        if f.name.endswith(".toml"):
            name = f.name.removesuffix(".toml")
            try:
                out[name] = _check(name, tomllib.loads(f.read_text(encoding="utf-8")))
            except tomllib.TOMLDecodeError as e:
                raise MnistlabError(f"not valid TOML: {e}", f"{FOLDER}/{f.name}") from None
    return out


def say(key: str, lang: str = "fr", *args: object, **values: object) -> str:
    """The words ``key`` ("file.entry") in ``lang``, their fields filled from ``args`` / ``values``.

    Raises:
        KeyError: no such entry or language (a mistake in the code; a test checks every key the code uses).
    """
    return template(key, lang).format(*args, **values)


# How each language writes a number: decimal mark and thousands separator (French: a narrow no-break space).
DECIMAL = {"fr": ",", "en": "."}
THOUSANDS = {"fr": "\u202f", "en": ","}


def number(x: float | int | None, lang: str, digits: int = 4, group: bool = True) -> str:
    """``x`` with ``digits`` decimals as ``lang`` writes it: ``0,9750`` / ``0.9750``, ``1\u202f234,5`` /
    ``1,234.5`` (``group``: thousands separated); ``—`` when unknown (None or NaN). The one number formatter
    of the package: the judge, the report, the grader and the figures all write numbers through it.
    """
    if x is None or (isinstance(x, float) and x != x):
        return "—"
    s = f"{float(x):{',' if group else ''}.{digits}f}"
    lang = lang if lang in DECIMAL else LANGS[0]
    return s.replace(",", "\0").replace(".", DECIMAL[lang]).replace("\0", THOUSANDS[lang])


def template(key: str, lang: str = "fr") -> str:
    """The words ``key`` ("file.entry") in ``lang`` with their fields unfilled (to recognise a sentence)."""
    name, _, entry = key.partition(".")
    return words()[name][entry][lang]


def class_names(dataset: str, lang: str = "fr") -> list[str]:
    """The ten class names of ``dataset`` in ``lang``."""
    return list(words()["classes"][dataset][lang])
