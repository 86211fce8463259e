"""Every word shown to people is data (src/mnistlab/words/*.toml), complete in both languages, and the code
asks only for words that exist and holds no sentence of its own."""

import ast
import re
from pathlib import Path

import pytest

from mnistlab import i18n
from mnistlab.errors import MnistlabError

SRC = Path(i18n.__file__).parent
# Files whose French is not a translation: the lab's own code (templates of its cells), the patterns the grader
# matches in a student's French, and the "Nom Prénom" format a help text asks for.
FRENCH_ALLOWED = ("lab/", "grade/answers.py", "grade/outputs.py", "cli.py")
FRENCH = re.compile(r"[éèêëàâçùûîïôœ«»]")


def _trees():
    for f in sorted(SRC.rglob("*.py")):
        yield f.relative_to(SRC).as_posix(), ast.parse(f.read_text(encoding="utf-8"))


def _docstrings(tree) -> set[int]:
    kinds = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, kinds) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def _strings(tree) -> list[str]:
    """Every string constant of ``tree`` but its docstrings (the literal parts of f-strings included)."""
    docs = _docstrings(tree)
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


def _keys_asked(tree, prefix: str) -> list[str]:
    """The literal keys of every ``say(...)`` call (both branches of ``a if c else b``)."""
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == "say" and n.args:
            first = n.args[0]
            for c in ([first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]):
                if isinstance(c, ast.Constant) and isinstance(c.value, str):
                    out.append(c.value if "." in c.value and c.value.split(".")[0] in i18n.words()
                               else prefix + c.value)
    return out


def test_every_entry_is_in_both_languages_with_the_same_fields():
    words = i18n.words()  # loading checks every entry; this states what it checks
    assert {"figures", "classes", "grade", "columns"} <= set(words)
    for name, table in words.items():
        for key, entry in table.items():
            assert set(entry) == set(i18n.LANGS), f"{name}.{key}"
            if isinstance(entry["fr"], str):
                assert i18n.fields(entry["fr"]) == i18n.fields(entry["en"]), f"{name}.{key}"
    for dataset, entry in words["classes"].items():
        assert len(entry["fr"]) == len(entry["en"]) == 10, dataset


def test_every_key_the_code_asks_for_exists():
    words = i18n.words()
    for path, tree in _trees():
        for key in _keys_asked(tree, "grade." if path.startswith("grade/") else ""):
            name, _, entry = key.partition(".")
            assert entry in words.get(name, {}), f"{path} asks for {key!r}, which no words file holds"


def test_every_entry_is_used_somewhere():
    literals = set()
    for path, tree in _trees():
        strings = _strings(tree)
        literals.update(strings)
        if path.startswith("grade/"):  # the grader's keys are written without their file's name
            literals.update("grade." + s for s in strings)
    prefixes = tuple(s for s in literals if s.endswith(".") and s.count(".") >= 1)
    unused = [f"{name}.{key}" for name, table in i18n.words().items() if name != "classes" for key in table
              if f"{name}.{key}" not in literals and not f"{name}.{key}".startswith(prefixes)]
    assert not unused, f"entries no code asks for: {unused}"


def test_no_sentence_is_written_in_the_code():
    """French (accented) text in a string of the code is a translation that escaped the words files."""
    found = [f"{path}: {s[:50]!r}" for path, tree in _trees() if not path.startswith(FRENCH_ALLOWED)
             for s in _strings(tree) if FRENCH.search(s)]
    assert not found, "\n".join(found)


def test_say_fills_the_fields_and_class_names_follow_the_language():
    assert i18n.say("figures.epochs", "en") == "Epochs"
    assert i18n.say("figures.label", "fr", 7) == "Label : 7"
    assert i18n.class_names("fashion_mnist", "fr")[9] == "Bottine"
    with pytest.raises(KeyError):
        i18n.say("figures.no_such_entry", "fr")


@pytest.mark.parametrize("text, message", [
    ('[x]\nfr = "x"\n', "entry 'x' must hold exactly fr and en"),
    ('[x]\nfr = "{a}"\nen = "{b}"\n', "different fields"),
    ('[x]\nfr = "{"\nen = "{"\n', "literal brace"),
    ('[x]\nfr = ["a"]\nen = "a"\n', "lists of one length"),
    ('[x\n', "not valid TOML"),
])
def test_a_broken_words_file_fails_when_it_loads_naming_the_file_and_entry(monkeypatch, text, message):
    class File:
        name = "broken.toml"

        def read_text(self, encoding):
            return text

    class Folder:
        def joinpath(self, name):
            return self

        def iterdir(self):
            return [File()]

    monkeypatch.setattr(i18n.resources, "files", lambda package: Folder())
    i18n.words.cache_clear()
    try:
        with pytest.raises(MnistlabError, match=message) as e:
            i18n.words()
        assert e.value.path == "words/broken.toml"
    finally:
        monkeypatch.undo()
        i18n.words.cache_clear()
    assert i18n.say("figures.epochs", "en") == "Epochs"
