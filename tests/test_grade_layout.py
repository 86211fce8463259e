"""The same answers in another place or form keep their points: layouts students use, and code comments.

One honest hand-written notebook of the corpus (each answer in its own cell after its question) is laid out
again the ways students do: only "**Q1.**" labels, answers in code comments, all answers gathered at the end,
a Markdown table per part, a numbered list of questions answered by a numbered "Réponses" list, or by one
unnumbered cell per answer, in order. Its points
must stay within 1 of 26.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from mnistlab.grade import bands as bandmod
from mnistlab.grade import lab, parse, rubric, score

BASE = Path(__file__).parent / "grade_corpus" / "c01_interleaved_fr" / "submission.ipynb"
_QUESTION = re.compile(r"^\*\*Question(?: (\d+))?\*\* : (.*)$", re.S)


def src(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def pairs(nb: dict) -> list[tuple[int, str, str]]:
    """(index of the question cell, question key, answer text) of each question followed by its answer cell."""
    keys = {t[0]: k for k, t in lab.question_texts().items()}
    out = []
    for i, cell in enumerate(nb["cells"][:-1]):
        m = _QUESTION.match(src(cell)) if cell["cell_type"] == "markdown" else None
        if m and m.group(2).strip() in keys:
            out.append((i, keys[m.group(2).strip()], src(nb["cells"][i + 1])))
    return out


def total(nb: dict) -> float:
    return score.grade(parse.read(nb), rubric.load(), bandmod.load(None)).total


def without_pairs(nb: dict, found) -> dict:
    drop = {i for i, _, _ in found} | {i + 1 for i, _, _ in found}
    out = copy.deepcopy(nb)
    out["cells"] = [c for i, c in enumerate(nb["cells"]) if i not in drop]
    return out


def labels_only(nb: dict) -> dict:
    """Each question cell removed; its answer starts with "**Q3.**"."""
    out = copy.deepcopy(nb)
    found = pairs(nb)
    for i, key, answer in found:
        out["cells"][i + 1] = md(f"**Q{key.rsplit('.', 1)[1]}.** {answer}")
    drop = {i for i, _, _ in found}
    out["cells"] = [c for i, c in enumerate(out["cells"]) if i not in drop]
    return out


def in_comments(nb: dict) -> dict:
    """Each answer written as "# Q3 : ..." comments in the code cell just above its question."""
    out = copy.deepcopy(nb)
    found = pairs(nb)
    for i, key, answer in found:
        above = next((j for j in range(i - 1, -1, -1) if out["cells"][j]["cell_type"] == "code"), None)
        lines = answer.split("\n")
        comment = f"\n# Q{key.rsplit('.', 1)[1]} : {lines[0]}" + "".join(f"\n#   {ln}" for ln in lines[1:])
        out["cells"][above]["source"] = src(out["cells"][above]) + comment
    return without_pairs(out, found)


def at_the_end(nb: dict) -> dict:
    """Every answer gathered at the end, under one heading per part, labelled "Question 2)"."""
    found = pairs(nb)
    out = without_pairs(nb, found)
    tail, part = ["# Réponses aux questions"], None
    for _, key, answer in found:
        ex, sec, num = key.split(".")
        if (ex, sec) != part:
            part = (ex, sec)
            tail.append(f"\n### Exercice {ex[-1]} – {'partie' if ex == 'ex1' else 'étape'} {sec}")
        tail.append(f"Question {num}) {' '.join(answer.split())}")
    out["cells"].append(md("\n".join(tail)))
    return out


def _by_part(found: list) -> dict[str, list]:
    """The (cell, key, answer) triples of :func:`pairs` grouped by the lab part they answer, in order."""
    by_part: dict[str, list] = {}
    for i, key, answer in found:
        by_part.setdefault(key.rsplit(".", 1)[0], []).append((i, key, answer))
    return by_part


def tables(nb: dict) -> dict:
    """Each part's answers in one Markdown table (question number | answer) where its first question was."""
    found = pairs(nb)
    out = copy.deepcopy(nb)
    by_part = _by_part(found)
    for rows in by_part.values():
        table = "| Question | Réponse |\n|---|---|\n" + "\n".join(
            f"| {k.rsplit('.', 1)[1]} | {' '.join(a.split())} |" for _, k, a in rows)
        out["cells"][rows[0][0]] = md(table)
        out["cells"][rows[0][0] + 1] = md("")
    keep = {rows[0][0] for rows in by_part.values()}
    drop = ({i for i, _, _ in found} | {i + 1 for i, _, _ in found}) - keep
    out["cells"] = [c for i, c in enumerate(out["cells"]) if i not in drop]
    return out


def numbered_lists(nb: dict) -> dict:
    """Each part's questions as a numbered list, then one "Réponses" cell with a numbered list of answers."""
    found = pairs(nb)
    out = copy.deepcopy(nb)
    by_part = _by_part(found)
    texts = lab.question_texts()
    for rows in by_part.values():
        out["cells"][rows[0][0]] = md("Questions :\n" + "\n".join(
            f"{n}. {texts[k][0]}" for n, (_, k, _) in enumerate(rows, 1)))
        out["cells"][rows[0][0] + 1] = md("**Réponses :**\n" + "\n".join(
            f"{n}. {' '.join(a.split())}" for n, (_, _, a) in enumerate(rows, 1)))
    keep = {rows[0][0] for rows in by_part.values()}
    drop = ({i for i, _, _ in found} | {i + 1 for i, _, _ in found}) - keep - {k + 1 for k in keep}
    out["cells"] = [c for i, c in enumerate(out["cells"]) if i not in drop]
    return out


def answers_in_order(nb: dict) -> dict:
    """Each part's questions as a numbered list, then the answers in order, one cell each, unnumbered."""
    found = pairs(nb)
    out = copy.deepcopy(nb)
    by_part = _by_part(found)
    texts = lab.question_texts()
    firsts = {}
    for rows in by_part.values():
        firsts[rows[0][0]] = [md("\n".join(f"{n}. {texts[k][0]}" for n, (_, k, _) in enumerate(rows, 1)))] + [
            md(" ".join(a.split())) for _, _, a in rows]
    drop = {i for i, _, _ in found} | {i + 1 for i, _, _ in found}
    cells = []
    for i, c in enumerate(out["cells"]):
        cells += firsts.get(i, [])
        if i not in drop:
            cells.append(c)
    out["cells"] = cells
    return out


def dotted_at_the_end(nb: dict) -> dict:
    """Every answer gathered in a final section: "**4.2** ..." in Exercise 1, "**Étape 2 – Q1.** ..." in
    Exercise 2 (no colon after the label)."""
    found = pairs(nb)
    out = without_pairs(nb, found)
    tail, ex_now = ["# Réponses aux questions"], None
    for _, key, answer in found:
        ex, sec, num = key.split(".")
        if ex != ex_now:
            ex_now = ex
            tail.append(f"\n## Exercice {ex[-1]}\n")
        label = f"**{sec}.{num}**" if ex == "ex1" else f"**Étape {sec} – Q{num}.**"
        tail.append(f"{label} {' '.join(answer.split())}\n")
    out["cells"].append(md("\n".join(tail)))
    return out


def r_labels(nb: dict) -> dict:
    """Each question cell removed; its answer starts with "R3:"."""
    out = copy.deepcopy(nb)
    found = pairs(nb)
    for i, key, answer in found:
        out["cells"][i + 1] = md(f"R{key.rsplit('.', 1)[1]}: {answer}")
    out["cells"] = [c for i, c in enumerate(out["cells"]) if i not in {i for i, _, _ in found}]
    return out


def bullets_unlabelled(nb: dict) -> dict:
    """No question written at all: each part's answers as one bullet list, in the lab's order, after its code."""
    found = pairs(nb)
    out = copy.deepcopy(nb)
    by_part = _by_part(found)
    for rows in by_part.values():
        last = rows[-1][0]
        out["cells"][last] = md("\n".join(f"- {' '.join(a.split())}" for _, _, a in rows))
    keep = {rows[-1][0] for rows in by_part.values()}
    drop = ({i for i, _, _ in found} | {i + 1 for i, _, _ in found}) - keep
    out["cells"] = [c for i, c in enumerate(out["cells"]) if i not in drop]
    return out


def retold_question_lists(nb: dict) -> dict:
    """Each part's questions shortened to a few words ending with "?" in a numbered list, then a numbered
    "Réponses" list."""
    found = pairs(nb)
    out = copy.deepcopy(nb)
    by_part = _by_part(found)
    for rows in by_part.values():
        out["cells"][rows[0][0]] = md("**Questions**\n" + "\n".join(
            f"{n}. Point {n} de la partie ?" for n in range(1, len(rows) + 1)))
        out["cells"][rows[0][0] + 1] = md("**Réponses**\n" + "\n".join(
            f"{n}. {' '.join(a.split())}" for n, (_, _, a) in enumerate(rows, 1)))
    keep = {rows[0][0] for rows in by_part.values()}
    drop = ({i for i, _, _ in found} | {i + 1 for i, _, _ in found}) - keep - {k + 1 for k in keep}
    out["cells"] = [c for i, c in enumerate(out["cells"]) if i not in drop]
    return out


@pytest.fixture(scope="module")
def base() -> dict:
    return json.loads(BASE.read_text(encoding="utf-8"))


def test_the_base_notebook_has_its_answers_in_pairs(base):
    assert len(pairs(base)) >= 45


@pytest.mark.parametrize("layout", [labels_only, in_comments, at_the_end, tables, numbered_lists, answers_in_order,
                                    dotted_at_the_end, r_labels, bullets_unlabelled, retold_question_lists],
                         ids=lambda f: f.__name__)
def test_the_same_answers_elsewhere_keep_their_points(base, layout):
    moved = layout(base)
    assert moved["cells"] != base["cells"]
    assert abs(total(moved) - total(base)) <= 1.0, (layout.__name__, total(moved), total(base))


def test_comments_added_to_code_change_nothing(base):
    commented = copy.deepcopy(base)
    for cell in commented["cells"]:
        if cell["cell_type"] == "code":
            body = src(cell).split("\n")
            cell["source"] = "# ma cellule, relue avant de rendre\n" + "\n".join(
                f"{ln}  # ok" if ln.strip() and not ln.rstrip().endswith((",", "(", "[", "\\")) else ln
                for ln in body)
    a = score.grade(parse.read(base), rubric.load(), bandmod.load(None))
    b = score.grade(parse.read(commented), rubric.load(), bandmod.load(None))
    assert [(m.item, m.points) for m in a.marks] == [(m.item, m.points) for m in b.marks]
    assert [f for f, _ in a.flags] == [f for f, _ in b.flags]
