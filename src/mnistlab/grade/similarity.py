"""Pairs of submissions too close to each other, with the evidence side by side.

Three measures, each a Jaccard index or a count over what the two students wrote themselves:

- code: the set of their code lines (whitespace and comments dropped) minus every line of the lab's own code;
- answers: 5-word shingles of their answers and analysis, minus the sentences ``mnistlab notebook`` writes
  (recognised from the text, whatever the notebook's metadata says)
  (for code and answers, what more than half of the class wrote is dropped too: the lab's text, copied);
- numbers: the loss values of their fit logs, to 4 decimals, at the same step and epoch: a pair is shown when
  most of them are equal (a few can agree by chance; whole curves of independent trainings never do). Two
  executions of ``mnistlab notebook`` with the same seed on the same software can agree, so a pair where both
  notebooks are the tool's (a quarter of their answers or more in its sentences, and code run seeded and
  deterministic, as its set-up cell does) is not compared at all: the same tool writes the same notebook
  (its measured answers too). Nothing here reads the notebook's metadata, which the student can edit.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from mnistlab.grade import answers as answersmod
from mnistlab.grade import lab
from mnistlab.grade.parse import Notebook, line_key


@dataclass
class Pair:
    """Two students, the measure that flagged them, its value and the evidence (side by side)."""

    a: str
    b: str
    measure: str
    value: float
    evidence: list[tuple[str, str, str]]  # (what, a's, b's)


@dataclass
class Fingerprint:
    """What one submission is compared with: its own code lines, answer shingles, fit-log numbers."""

    student: str
    lines: set[str]
    shingles: set[tuple[str, ...]]
    words: int
    numbers: dict[tuple[str, int, str], str]
    answers: dict[str, str]
    generated: bool


@functools.cache
def _lab_lines() -> frozenset[str]:
    from mnistlab.grade import checks

    lines = {line_key(ln) for _, src in lab.reference_cells() for ln in src.split("\n")}
    lines |= {line_key(ln) for src in checks.reference().code for ln in src.split("\n")}
    return frozenset(lines)


MAX_LINES = 5_000  # code lines kept per student (a lab notebook has ~300)
MAX_WORDS = 20_000  # words of answers kept per student (a lab's answers are ~1,500)
MAX_EPOCHS = 200  # fit-log epochs kept per step (the lab fits 5 to 10)


def fingerprint(student: str, nbk: Notebook, answers: dict, analysis) -> Fingerprint:
    """What ``student`` wrote, read from the notebook's content only (its metadata is the student's to edit);
    bounded (:data:`MAX_LINES`, :data:`MAX_WORDS`, :data:`MAX_EPOCHS`) so that a class's fingerprints stay
    small whatever they hold."""
    own: set[str] = set()
    lab_lines = _lab_lines()
    for src in nbk.code:
        for ln in src.split("\n"):
            key = line_key(ln)
            if key and key not in lab_lines:
                own.add(key)
        if len(own) >= MAX_LINES:
            break
    texts = {k: a.text for k, a in answers.items() if not a.tool and a.text}
    if analysis.text and not analysis.tool:
        texts["analysis"] = analysis.text
    words = answersmod.norm(" ".join(texts.values())).split()[:MAX_WORDS]
    shingles = {tuple(words[i:i + 5]) for i in range(max(0, len(words) - 4))}
    numbers = {(step, n, k): f"{v:.4f}" for step, st in nbk.steps.items()
               for n, epoch in enumerate(st.fit_log[:MAX_EPOCHS], 1) for k, v in epoch.items()}
    # written by the tool, as its text shows, and executed seeded and deterministic (its set-up cell): two such
    # executions give equal curves and equal code
    code = "\n".join(nbk.code)
    seeded = bool(re.search(r"enable_op_determinism\s*\(", code) and re.search(r"set_(?:random_)?seed\s*\(", code))
    answered = [a for a in answers.values() if a.text]
    generated = seeded and bool(answered) and sum(a.tool for a in answered) >= len(answered) / 4
    return Fingerprint(student, own, shingles, len(words), numbers, texts, generated)


def pairs(prints: list[Fingerprint], th: dict) -> list[Pair]:
    """Every pair over a threshold, highest first."""
    common = _common([p.lines for p in prints]), _common([p.shingles for p in prints])
    prints = [Fingerprint(p.student, p.lines - common[0], p.shingles - common[1], p.words, p.numbers, p.answers,
                          p.generated) for p in prints]
    out = []
    for i, a in enumerate(prints):
        for b in prints[i + 1:]:
            out += _compare(a, b, th)
    return sorted(out, key=lambda p: -p.value)


def _common(sets: list[set]) -> set:
    """What more than half of the class (and at least 3 submissions) wrote: the lab's text, not copying."""
    from collections import Counter

    counts = Counter(x for s in sets for x in s)
    floor = max(3, len(sets) // 2 + 1)
    return {x for x, n in counts.items() if n >= floor}


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _compare(a: Fingerprint, b: Fingerprint, th: dict) -> list[Pair]:
    found = []
    both_tool = a.generated and b.generated
    if not both_tool and min(len(a.lines), len(b.lines)) >= th["similar_code_min_lines"]:
        j = _jaccard(a.lines, b.lines)
        if j >= th["similar_code"]:
            common = sorted(a.lines & b.lines)[:8]
            found.append(Pair(a.student, b.student, "code", j, [("code", ln, ln) for ln in common]))
    if not both_tool and min(a.words, b.words) >= th["similar_answers_min_words"]:
        j = _jaccard(a.shingles, b.shingles)
        if j >= th["similar_answers"]:
            keys = [k for k in a.answers if k in b.answers and _jaccard(_sh(a.answers[k]), _sh(b.answers[k])) > .5]
            found.append(Pair(a.student, b.student, "answers", j,
                              [(k, a.answers[k][:300], b.answers[k][:300]) for k in keys[:5]]))
    if not both_tool:
        both = [k for k in a.numbers if k in b.numbers and k[2] in ("loss", "val_loss")]
        same = [k for k in both if a.numbers[k] == b.numbers[k]]
        if len(same) >= th["similar_numbers"] and len(same) >= th["similar_numbers_fraction"] * len(both):
            ev = [(f"{s} epoch {n} {m}", a.numbers[(s, n, m)], b.numbers[(s, n, m)]) for s, n, m in same[:6]]
            found.append(Pair(a.student, b.student, "numbers", float(len(same)), ev))
    return found


def _sh(text: str) -> set:
    w = answersmod.norm(text).split()
    return {tuple(w[i:i + 5]) for i in range(max(0, len(w) - 4))}
