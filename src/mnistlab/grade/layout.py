"""Where a hand-written notebook answers each of the lab's questions, whatever its layout.

The notebook is read as one list of lines, in order: its Markdown lines and the comments of its code cells
(Markdown table rows become ``first cell: other cells``). A line is an *anchor* when it names a question:

- by the question's words (French or English, copied or retyped with small changes), in a heading, a list
  item or a sentence; what follows the question on its line starts the answer;
- by a label: ``**Q1.**``, ``Q3 :``, ``Question 2)``, ``Q4.1`` (section 4, question 1), ``Q1.4.1``;
- by a number: ``1. ...`` in a numbered list that answers a numbered list of questions given just before
  (answer i goes to question i of that list), or under a "Réponses" heading.

A bare label or number ("Q3") is the third question of the section in force: the last section heading
(its title, or ``Partie 4`` / ``Étape 5`` / ``4.`` under an exercise), or the section of the last question
named by its words; labels that start again at 1 with no heading move on to the next section. The answer is
the text from the anchor up to the next anchor or heading (Markdown answers run over cells; a comment answer
stays in its code cell). The personal analysis is the text under a heading (``#``, bold, or a short line)
naming the analysis or a conclusion.
"""

from __future__ import annotations

import bisect
import functools
import re

from mnistlab.grade import lab
from mnistlab.grade import parts as partsmod
from mnistlab.grade.parse import Notebook
from mnistlab.grade.prose import _ANALYSIS_LINE, _DECOR, _LABEL, Found, Line, _bare, _lab_prose, _norm, lines, norm  # noqa: F401
from mnistlab.grade.unlabelled import _in_order, _todo, _unlabelled

_EXERCISE_LABEL = re.compile(r"^ex(?:ercice|ercise)?\s*\.?\s*([12])\s*[-:,.]?\s*", re.I)
_LETTERED = re.compile(r"^\(?([a-hA-H])\)\s+(.*)$")  # "(a) ...", "b) ..."
_NUMBERED = re.compile(r"^\(?(\d{1,2})\s*[.)]\s+(.*)$")  # "1. ...", "2) ...", "(3) ..."
_EXERCISE = re.compile(r"\b(?:exercice|exercise|ex)\s*\.?\s*([12])\b", re.I)
_SECTION = re.compile(r"(?:\b(?:[e\xe9]tape|step|partie|part|section)|§)\s*(\d)\b|^(\d)\s*[.)\-–—:]", re.I)
_ANSWERS_WORD = re.compile(r"^(?:mes\s+|my\s+|les\s+)?(?:reponses?|answers?)\b")  # over normalised text
_PREFIXED = re.compile(r"^(?:step|part|partie|etape)\s(\d)\s(?:q|question)\s?(\d?)\b")  # over normalised text
_NUMBER_WORD = re.compile(r"^(?:\d+|etape \d+|step \d+|partie \d+|part \d+)\s+")  # over normalised text
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})(?![\d,])\s*([.):\-–—]*)\s+\S")  # "4.2 ..." (section 4, question 2)
_BOLD_START = re.compile(r"^\s*(?:[-*+>]\s+)?(?:\*\*|__)")
_LEAD = re.compile(r"^(?:(?:[\xe9e]tape|step|partie|part|section)\s*(\d)|(\d)(?=\s*[\-–—(]))\s*[.):\-–—]*\s*(.*)$",
                   re.I)  # "Étape 1. ...", "3 – À faire. ..." (a section named, its answer on the same line)
_TODO_WORDS = re.compile(r"^\(?\s*(?:[\xe0a]\s+(?:faire|observer|v[\xe9e]rifier)|to\s*do|(?:to\s+)?(?:observe|check)"
                         r"|observation)\b\s*\)?\s*[.:\-–—]*\s*", re.I)  # "À faire.", "(à observer) :"
# the analysis's heading: its name, the lab's own first point ("Interprétation des résultats"), or a personal
# opinion or what one keeps from the lab ("Mon avis", "Ce que j'en retiens", "My take", "Takeaways")
_BOLD_NUMBERED = re.compile(r"^\s*(?:\*\*|__)\s*(\d{1,2})\s*[.)]\s+([^*_]+\?)\s*(?:\*\*|__)\s*$")  # "**2. ... ?**"
_STEP_DOTTED = re.compile(r"^(?:[\xe9e]tape|step|partie|part)\s*(\d)\.(\d)(?!\d)\s*[.):\-–—]*\s*(.*)$", re.I)
_ANALYSIS = re.compile(r"analy[sz]|conclusion|bilan|interpr[\xe9e]tation|\b(?:mon|my)\s+(?:avis|opinion|take)\b"
                       r"|\bretiens\b|\bretenir\b|\btake-?aways?\b", re.I)


class _Questions:
    """The lab's questions, indexed for matching."""

    def __init__(self) -> None:
        self.all = lab.questions()
        self.by_key = {q.key: q for q in self.all}
        self.texts = {k: [_norm(t) for t in ts] for k, ts in lab.question_texts().items()}
        self.words = {k: [set(_content(t)) for t in ts] for k, ts in lab.question_texts().items()}
        self.sections = {s.id: s for s in lab.sections()}
        self.titles = {s.id: [_NUMBER_WORD.sub("", norm(t)) for t in s.titles] for s in lab.sections()}
        self.order = [s.id for s in lab.sections() if any(q.section == s.id for q in self.all)]

    def in_section(self, section: str) -> list[str]:
        """The keys of a section's items in the lab's order (its to-do items first)."""
        return [q.key for q in self.all if q.section == section]

    def numbered(self, section: str, n: str) -> str | None:
        """The key of question ``n`` (``"3"``, ``"a"``) of ``section``."""
        key = f"{section}.{n}"
        return key if key in self.by_key else None

    def by_words(self, text: str, section: str | None = None) -> tuple[str, str] | None:
        """(key, the rest of the line after the question) when the line names a question by its words."""
        n = _norm(text)
        if len(n) < 12:
            return None
        best = None
        for key, variants in self.texts.items():
            for v in variants:
                probe = v[:45]
                if len(probe) >= 12 and probe in n and (best is None or len(v) > best[1]):
                    best = (key, len(v))
        if best is None:
            return self._retold(text, section)
        q = self.by_key[best[0]]
        return best[0], _after_question(text, q.text.count("?"))

    def _retold(self, text: str, section: str | None) -> tuple[str, str] | None:
        """A question retold in the student's words (a translation, a typo): a line ending with "?" holding most
        of one question's content words, clearly more than of any other."""
        line = text.strip().rstrip(" *_")
        if not line.endswith("?") or len(line.split()) > 40:
            return None
        words = set(_content(line))
        scores = sorted(((2 * len(words & qw) / (len(qw) + len(words)), key) for key, qws in self.words.items()
                         for qw in qws if qw), reverse=True)  # Dice: a short question does not win by being short
        if not scores or scores[0][0] < 0.5:
            return None
        around = self._around(section)
        if around and self.by_key[scores[0][1]].section not in around:  # the part in force first: a student
            here = [(sc, k) for sc, k in scores if sc >= 0.5 and self.by_key[k].section in around]  # retells
            if here and len({k for sc, k in here if sc == here[0][0]}) == 1:  # the questions where they stand
                return here[0][1], ""
        close = {k for sc, k in scores if sc >= scores[0][0] - 0.1}
        if len(close) == 1:
            return scores[0][1], ""
        near = [k for k in close if self.by_key[k].section in self._around(section)]
        return (near[0], "") if len(near) == 1 else None

    def _around(self, section: str | None) -> tuple[str, ...]:
        """The section in force and the next one (where a question retold next most likely belongs)."""
        if section not in self.order:
            return ()
        i = self.order.index(section)
        return tuple(self.order[i:i + 2])

    def section_of_heading(self, text: str, exercise: str | None) -> tuple[str | None, str | None]:
        """(exercise, section id) a heading names (either may be None)."""
        n = _norm(text)
        head = _NUMBER_WORD.sub("", n)
        for s in self.sections.values():
            for tn in self.titles[s.id]:
                if (len(tn) >= 8 and tn in n) or (len(head) >= 12 and tn.startswith(head)):
                    if exercise is None or s.exercise == exercise or s.exercise in n:
                        return s.exercise, s.id
        ex = None
        m = _EXERCISE.search(n)
        if m and re.search(r"exerci|\bex\b", n):
            ex = "ex" + m.group(1)
        elif "fashion" in n:
            ex = _of_dataset("fashion_mnist")
        elif re.search(r"\bmnist\b", n):
            ex = _of_dataset("mnist")
        raw = text.strip().lstrip(_DECOR)
        rest = _EXERCISE.sub(" ", raw).strip(" :–—-") if ex else raw
        m = _SECTION.search(rest)
        if m:
            sid = f"{ex or exercise or _first()}.{m.group(1) or m.group(2)}"
            if sid in self.sections:
                return ex or self.sections[sid].exercise, sid
        return ex, None


_STOP = frozenset("what which does that this with your from have there pourquoi quelle quels quel quoi dans pour "
                  "avec elle sont cette votre entre".split())


def _content(text: str) -> list[str]:
    """The words that carry a question's meaning (4 letters or more, not a question word), stems of 5 letters."""
    return [w[:5] for w in norm(text).split() if len(w) >= 4 and w not in _STOP]


def _after_question(text: str, marks: int) -> str:
    """What follows the question on its line (after its ``marks`` question marks, or a ``:``/``→``)."""
    if marks:
        parts = text.split("?", marks)
        if len(parts) > marks:
            return parts[marks].strip(" *_:→->|\t")
        return ""
    m = re.search(r"(?:\s:|→|->|:\s)\s*(.*)$", text)
    return m.group(1).strip(" *_") if m else ""


def read(nbk: Notebook) -> tuple[list[Found], str, int | None]:
    """(every answer found, in order, the same question possibly more than once; the analysis; its cell)."""
    qs = _questions()
    ls = lines(nbk)
    code_step = {cell: name for name, st in nbk.steps.items() for cell in st.cells}
    anchors: list[tuple[int, str, str]] = []  # (line index, key, first text)
    by_number: list[tuple[int, str, int]] = []  # (anchor index, section, n) of the anchors "Q<n>" in a section
    heads: set[int] = set()
    exercise: str | None = None
    section: str | None = None
    used: set[str] = set()  # labels used in the section in force
    qlist: list[str] = []  # a numbered list of questions not yet answered
    in_answers = False
    listing = False  # just under a part's heading, or inside the numbered list that follows it
    analysis_at: list[int] = []
    where: list[str | None] = []  # the section in force at each line
    cues = partsmod.code_sections(nbk)
    for pos, ln in enumerate(ls):
        if ln.code and cues.get(ln.cell) and cues[ln.cell] != section:  # questions follow their section's code
            section, used, qlist = cues[ln.cell], set(), []
            exercise = section.split(".")[0]
        where.append(section)
        if ln.comment and ln.cell in code_step and code_step[ln.cell].startswith("ex2") and exercise != "ex2":
            exercise = "ex2"
        if not ln.comment and code_step.get(ln.cell, "").startswith("ex2"):
            exercise = "ex2"
        bare = _bare(ln.text)
        if not bare:
            continue
        under_own_code = section is not None and cues.get(ln.cell) == section  # a code cell of the part in force
        numbered_here = _NUMBERED.match(bare) and under_own_code
        if ln.comment and len(bare.split()) <= 4 and not _LABEL.match(bare) and not numbered_here:  # "# Step 2"
            if _ANALYSIS.search(bare) and not re.search(r"\bquestion", bare, re.I):  # "# === ANALYSE ==="
                heads.add(pos)
                analysis_at.append(pos)
                continue
            ex, sid = qs.section_of_heading(bare, exercise)
            if sid:
                heads.add(pos)
                exercise = ex or exercise
                if sid != section:
                    section, used, qlist = sid, set(), []
                continue
        prefixed = _PREFIXED.match(norm(bare))
        if prefixed and f"{exercise or _first()}.{prefixed.group(1)}" in qs.sections:  # "Step 1 Q: ..."
            key = qs.numbered(f"{exercise or _first()}.{prefixed.group(1)}", prefixed.group(2) or "1")
            if key:
                section, used = qs.by_key[key].section, {key.rsplit(".", 1)[1]}
                after = re.match(r"^\W*\w+\s*\d\s*\W*\s*(?:q|question)\s*\.?\s*\d?\s*[.):\-–—]*\s*(.*)$", bare, re.I)
                anchors.append((pos, key, after.group(1).strip(" *_") if after else ""))
                continue
        dotted_step = _STEP_DOTTED.match(bare)  # "Étape 2.1 Pourquoi normaliser ?": question 1 of step 2
        key = (qs.numbered(f"{exercise or _first()}.{dotted_step.group(1)}", dotted_step.group(2)) if dotted_step
               else None)
        if key:
            section, used = qs.by_key[key].section, {dotted_step.group(2)}
            rest = dotted_step.group(3).strip(" *_")
            anchors.append((pos, key, "" if rest.endswith("?") else rest))  # a question retold: its answer below
            continue
        lead = None if ln.heading or ln.comment else _lead(qs, bare, exercise, anchors)
        if lead:
            keys, rest = lead
            section, used, qlist = qs.by_key[keys[0]].section, set(), []
            anchors += [(pos, key, rest) for key in keys]
            continue
        dotted = _DOTTED.match(bare)
        if dotted and not _LABEL.match(bare) and (dotted.group(3) or in_answers or _BOLD_START.match(ln.text)) \
                and qs.numbered(f"{exercise or _first()}.{dotted.group(1)}", dotted.group(2)):
            bare = "Q" + bare  # "**4.2** ...": question 2 of section 4, as "Q4.2"
        if not ln.comment and _ANALYSIS_LINE.match(bare) and len(bare.split()) > 5:  # "Analyse : ..."
            heads.add(pos)
            analysis_at.append(pos)
            continue
        asked = _BOLD_NUMBERED.match(ln.text) if section and not ln.comment else None
        own = qs.numbered(section, asked.group(1)) if asked else None
        named = qs.by_words(bare, section) if own else None
        if own and (named is None or qs.by_key[named[0]].section != section):
            anchors.append((pos, own, ""))  # "**2. Rôle de Flatten ?**": question 2 of the part in force (not a
            used.add(asked.group(1))        # part's title), even when its words are closer to another part's
            continue
        if (ln.heading and not _LABEL.match(bare)) or (not ln.comment and len(bare.split()) <= 5 and
                                                       bare.endswith(":") and not _LABEL.match(bare)
                                                       and not _NUMBERED.match(bare)):
            named = qs.by_words(bare, section)
            if named is None:
                heads.add(pos)
                if _ANALYSIS.search(bare) and not re.search(r"\bquestion", bare, re.I):
                    analysis_at.append(pos)
                ex, sid = qs.section_of_heading(bare, exercise)
                exercise = ex or exercise
                if sid and sid != section:
                    section, used, qlist = sid, set(), []
                elif ex and not sid:  # "## Exercice 2", "Réponses de l'exercice 2": its parts from the first
                    section, used, qlist = None, set(), []
                in_answers = bool(_ANSWERS_WORD.match(norm(bare)))
                listing = bool(sid)  # a numbered list right under a part's heading answers its questions
                continue
        named = qs.by_words(bare, section)
        if named:
            key, rest = named
            q = qs.by_key[key]
            if q.section != section:
                section, used = q.section, set()
            exercise = q.section.split(".")[0]
            anchors.append((pos, key, rest))
            listed = bool(_NUMBERED.match(bare)) or not rest
            if listed and not rest:
                qlist.append(key)
            else:
                qlist = []
            used.add(key.rsplit(".", 1)[1])
            continue
        pre = _EXERCISE_LABEL.match(bare)  # "Ex1 Q4.1", "Exercice 2 - Question 3"
        if pre and _LABEL.match(bare[pre.end():]):
            exercise, bare = "ex" + pre.group(1), bare[pre.end():]
        label = _LABEL.match(bare)
        lettered = None if label or not (in_answers or listing) else _LETTERED.match(bare)
        if lettered:  # "(a) ..." under "Answers": the section's questions in order, a for 1, b for 2
            bare = f"{ord(lettered.group(1).lower()) - 96}) {lettered.group(2)}"
        number = None if label else _NUMBERED.match(bare)
        listed = number is not None and (
            (not ln.comment and listing and norm(bare) not in _lab_prose())
            or (ln.comment and under_own_code))  # "# 2) ..." under its code
        if label or (number and (qlist or in_answers or listed)):
            raw, rest = (label or number).group(1), (label or number).group(2)
            parts = [p for p in re.split(r"\s*[.\-]\s*", raw.strip()) if p]
            key = None
            if len(parts) == 3 and f"ex{parts[0]}.{parts[1]}" in qs.sections:
                key = qs.numbered(f"ex{parts[0]}.{parts[1]}", parts[2])
            elif len(parts) == 2:
                sid = f"{exercise or _first()}.{parts[0]}"
                key = qs.numbered(sid, parts[1]) if sid in qs.sections else None
            elif parts:
                n = parts[0].lower()
                numbered = [k for k in qlist if not qs.by_key[k].todo] or qlist  # to-do items are not numbered
                if qlist and n.isdigit() and 1 <= int(n) <= len(numbered):
                    key = numbered[int(n) - 1]
                    if int(n) == len(numbered):
                        qlist = []
                else:
                    if section is None or n in used:
                        section = _next_section(qs, section, exercise)
                        used = set()
                    key = qs.numbered(section, n) if section else None
                    if section and n.isdigit():
                        by_number.append((len(anchors), section, int(n)))
                        if key is None and int(n) <= len(qs.in_section(section)):
                            key = f"?{section}.{n}"  # past the questions: the section may count its to-do items
                            anchors.append((pos, key, rest.strip(" *_:")))
                            used.add(n)
                            continue
            if key and number and not label and rest.rstrip(" *_").endswith("?"):
                anchors.append((pos, key, ""))  # "2. Rôle de Flatten ?": a numbered list of questions, retold
                if key not in qlist:
                    qlist.append(key)
                used.add(key.rsplit(".", 1)[1])
                continue
            if key:
                if qlist and key not in qlist:
                    qlist = []
                if qs.by_key[key].section != section:
                    section, used = qs.by_key[key].section, set()
                used.add(key.rsplit(".", 1)[1])
                anchors.append((pos, key, rest.strip(" *_:")))
                listing = listing and number is not None
                continue
        if qlist and not in_answers:
            qlist = []
        listing = False
    starts = sorted({p for p, _, _ in anchors} | heads)
    anchors = _count_todo(qs, anchors, by_number)
    found = []
    covered: set[int] = set()
    cuts: dict[str, list[int]] = {}
    for pos, key, rest in anchors:
        sid = qs.by_key[key].section
        cut = cuts[sid] if sid in cuts else cuts.setdefault(sid, _cut(ls, cues, sid))
        found.append(Found(key, _body(ls, pos, rest, starts, covered, cut), ls[pos].cell))
    _in_order(found, anchors, ls, starts)
    found += _unlabelled(qs, ls, where, covered | heads, {k for _, k, _ in anchors})
    found += _todo(qs, ls, where, covered | heads, {f.key for f in found if f.text.strip()})
    analysis, cell = "", None
    for pos in analysis_at:
        head = _bare(ls[pos].text)
        lead = _ANALYSIS_LINE.match(head)
        rest = head[lead.end():] if lead else re.split(r"[:：]", head, maxsplit=1)[1] if ":" in head else ""
        text = _body(ls, pos, rest, starts)
        if len(text.split()) > len(analysis.split()):
            analysis, cell = text, ls[pos].cell
    return found, analysis, cell


def _count_todo(qs: _Questions, anchors: list, by_number: list) -> list:
    """A section whose labels run 1 to (its questions + its to-do items), none missing: the student numbered
    the to-do items too, in the lab's order (to-do items first), so label n is the section's n-th item."""
    out = list(anchors)
    for sid in {s for _, s, _ in by_number}:
        got = [(i, n) for i, s, n in by_number if s == sid]
        keys = qs.in_section(sid)
        if any(qs.by_key[k].todo for k in keys) and sorted(n for _, n in got) == list(range(1, len(keys) + 1)):
            for i, n in got:
                out[i] = (out[i][0], keys[n - 1], out[i][2])
    return [a for a in out if not a[1].startswith("?")]


def _lead(qs: _Questions, bare: str, exercise: str | None, anchors: list) -> tuple[list[str], str] | None:
    """A line that names a section and answers on the same line ("Étape 1. Les images ...", "3 – À faire. Les
    chiffres ..."): (the section's to-do items not yet answered, or its only question; the answer)."""
    m = _LEAD.match(bare)
    if not m or len(m.group(3).split()) < 4 or _PREFIXED.match(norm(bare)):
        return None
    sid = f"{exercise or _first()}.{m.group(1) or m.group(2)}"
    if sid not in qs.sections or norm(bare) in _lab_prose() or any(
            t and norm(m.group(3)).startswith(t) for t in qs.titles[sid]):
        return None  # the lab's own line, or the section's title
    rest = m.group(3)
    todo = _TODO_WORDS.match(rest)
    qs_in = [q for q in qs.all if q.section == sid]
    if todo:
        named = {k for _, k, _ in anchors}
        keys = [q.key for q in qs_in if q.todo and q.key not in named]
        rest = rest[todo.end():]
    elif m.group(1) and len([q for q in qs_in if not q.todo]) == 1:
        keys = [q.key for q in qs_in if not q.todo]
    else:
        return None
    return (keys, rest.strip(" *_")) if keys else None


@functools.cache
def _questions() -> _Questions:
    return _Questions()


def _next_section(qs: _Questions, section: str | None, exercise: str | None) -> str | None:
    """The section after ``section`` that has questions (the first of ``exercise`` when none yet)."""
    if section is None:
        return next((s for s in qs.order if exercise is None or s.startswith(exercise + ".")), None)
    i = qs.order.index(section) if section in qs.order else -1
    return qs.order[i + 1] if i + 1 < len(qs.order) else None


def _cut(ls: list[Line], cues: dict, section: str) -> list[int]:
    """The starts of the code cells of other sections than ``section``: an answer does not run past them."""
    return [p for p, ln in enumerate(ls) if ln.code and cues.get(ln.cell) not in (None, section)]


def _body(ls: list[Line], pos: int, rest: str, starts: list[int], covered: set[int] | None = None,
          cut: list[int] = ()) -> str:
    """The answer's text: ``rest`` of the anchor's line, then the lines up to the next anchor or heading
    (of the same kind: Markdown lines for a Markdown anchor, the same cell's comments for a comment) or the
    code of another section."""
    anchor = ls[pos]
    out = [rest] if rest else []
    end = min(starts[bisect.bisect_right(starts, pos)] if starts and starts[-1] > pos else len(ls),
              cut[bisect.bisect_right(cut, pos)] if cut and cut[-1] > pos else len(ls))
    for p in range(pos + 1, end):
        ln = ls[p]
        if ln.comment != anchor.comment or (anchor.comment and ln.cell != anchor.cell):
            if anchor.comment:
                break
            continue
        out.append(ln.text)
        if covered is not None:
            covered.add(p)
    if covered is not None:
        covered.add(pos)
    return "\n".join(out).strip()


def _of_dataset(dataset: str) -> str | None:
    """The first exercise on ``dataset``, None when the lab has none."""
    return next((ex for ex, ds in lab.exercises() if ds == dataset), None)


def _first() -> str:
    """The lab's first exercise (``ex1``): the one a numbered part belongs to before any exercise heading."""
    return lab.exercises()[0][0]
