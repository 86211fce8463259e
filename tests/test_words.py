"""The words shown to people are data (src/mnistlab/words.toml), complete in both languages."""

import string

import pytest

from mnistlab import i18n
from mnistlab.errors import MnistlabError


def _fields(s: str) -> list[str]:
    return [f for _, f, spec, _ in string.Formatter().parse(s) if f is not None]


def test_every_word_is_in_both_languages_with_the_same_placeholders():
    words = i18n.words()
    for key, entry in words["text"].items():
        assert set(entry) == set(i18n.LANGS), key
        assert _fields(entry["fr"]) == _fields(entry["en"]), key
    for dataset, entry in words["class_names"].items():
        assert len(entry["fr"]) == len(entry["en"]) == 10, dataset


def test_a_word_missing_a_language_fails_when_the_file_loads(monkeypatch):
    class Files:
        def joinpath(self, name):
            return self

        def read_text(self, encoding):
            return '[class_names]\n[text.x]\nfr = "x"\n'

    monkeypatch.setattr(i18n.resources, "files", lambda package: Files())
    i18n.words.cache_clear()
    try:
        with pytest.raises(MnistlabError, match="text.x has no 'en' entry"):
            i18n.words()
    finally:
        monkeypatch.undo()
        i18n.words.cache_clear()
    assert i18n.text("epochs", "en") == "Epochs"
