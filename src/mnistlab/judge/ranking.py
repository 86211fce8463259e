"""Rankings judged pair by pair: which values are measurably apart, which are tied, and the one sentence that
says so (:meth:`Ranking.sentence`), so no text ranks what the judge calls a tie."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mnistlab.judge.compare import accuracies
from mnistlab.judge.verdict import Call, Joined, Phrase, Verdict, Z, binomial_se, render


def _names(names: Sequence[str]) -> Phrase | str:
    """``a``, ``a et b``, ``a, b et c``."""
    names = list(names)
    if len(names) == 1:
        return names[0]
    return Phrase("judge.names_and", {"names": ", ".join(names[:-1]), "last": names[-1]})


@dataclass(frozen=True)
class Ranking:
    """Values from the largest down, judged pair by pair.

    ``leaders``: the first and every value the judge ties with it; ``pairs``: the verdict of every pair
    (``pairs[a, b]``: a - b, a ranked above b); ``groups``: consecutive values tied with one another, in order.
    """

    order: tuple[tuple[str, float], ...]
    leaders: tuple[str, ...]
    first_vs_second: Verdict | None
    first_vs_last: Verdict | None
    pairs: Mapping[tuple[str, str], Verdict] = field(default_factory=dict)
    groups: tuple[tuple[str, ...], ...] = ()

    @property
    def verdict(self) -> Call:
        return Call.FIRST if len(self.leaders) == 1 else Call.TIE

    @property
    def finding(self) -> bool:
        return self.verdict == Call.FIRST

    def tied(self, lang: str) -> str:
        """``relu, tanh et LeakyReLU`` (the leaders, in order)."""
        return render(_names(self.leaders), lang)

    def apart(self, a: str, b: str) -> bool:
        """Whether the judge tells ``a`` and ``b`` apart (beyond the noise)."""
        v = self.pairs.get((a, b)) or self.pairs.get((b, a))
        return bool(v and v.finding)

    def place(self, name: str) -> int | None:
        """``name``'s place (1-based) when the judge tells it apart from every other value; else None."""
        names = [k for k, _ in self.order]
        if name not in names or any(not self.apart(name, k) for k in names if k != name):
            return None
        return names.index(name) + 1

    def phrase(self, evidence: bool = False) -> object:
        """The ranking as the judge sees it (see :meth:`sentence`)."""
        names = [k for k, _ in self.order]
        if len(names) < 2:
            return names[0] if names else ""
        if all(not self.apart(a, b) for i, a in enumerate(names) for b in names[i + 1:]):
            head = Phrase("judge.rank_all_tied", {"names": _names(names)})
            parts = [head]
        else:
            first = self.groups[0]
            parts = [Phrase("judge.rank_first", {"first": first[0]}) if len(first) == 1
                     else Phrase("judge.rank_first_tied", {"names": _names(first)})]
            earlier = list(first)
            for group in self.groups[1:]:
                split = {g: (tuple(a for a in earlier if self.apart(a, g)),
                             tuple(a for a in earlier if not self.apart(a, g))) for g in group}
                if len(set(split.values())) == 1:  # the whole group behind / level with the same values
                    members = [(tuple(group), *split[group[0]])]
                else:
                    members = [((g,), *split[g]) for g in group]
                for who, above, level in members:
                    who_words = _names(who) if len(who) == 1 else Phrase("judge.rank_group", {"names": _names(who)})
                    if above and level:
                        parts.append(Phrase("judge.rank_behind_level", {"names": who_words, "above": _names(above),
                                                                        "level": _names(level)}))
                    elif above:
                        parts.append(Phrase("judge.rank_behind", {"names": who_words, "above": _names(above)}))
                    else:
                        parts.append(Phrase("judge.rank_level", {"names": who_words, "level": _names(level)}))
                earlier += group
        if evidence:
            proofs = tuple(Phrase("judge.rank_pair", {"a": a, "b": b, "verdict": self.pairs[a, b].phrase})
                           for i, a in enumerate(names) for b in names[i + 1:] if (a, b) in self.pairs)
            return Phrase("judge.rank_evidence", {"ranking": Joined(tuple(parts)), "pairs": Joined(proofs)})
        return Joined(tuple(parts))

    def sentence(self, lang: str, evidence: bool = False) -> str:
        """The ranking in words, derived from the pairwise verdicts: the first place alone or shared
        ("relu et tanh à égalité en tête dans le bruit"), then each next group with the values it is
        measurably behind and those it is level with ("sigmoid derrière relu, mais au niveau de tanh").

        Args:
            evidence: add every pair's verdict with its numbers and its test.
        """
        return render(self.phrase(evidence), lang)


def _groups(names: list[str], pairs: Mapping[tuple[str, str], Verdict]) -> tuple[tuple[str, ...], ...]:
    """Consecutive names each tied with every other member of its group (a new group at the first that is not)."""
    groups: list[list[str]] = []
    for k in names:
        if groups and all(not pairs[g, k].finding for g in groups[-1]):
            groups[-1].append(k)
        else:
            groups.append([k])
    return tuple(tuple(g) for g in groups)


def ranking(values: Mapping[str, float], n: int, right: Mapping[str, Sequence[bool]] | None = None) -> Ranking:
    """Rank accuracies measured on ``n`` images each, every pair judged; ties inside the noise kept together.

    Args:
        right: per name, whether each image was classified right (the same images in the same order): each
            pair is then judged by McNemar's test; otherwise by the binomial SE.
    """
    order = tuple(sorted(((k, float(v)) for k, v in values.items()), key=lambda kv: -kv[1]))
    if not order:
        return Ranking((), (), None, None)
    right = right or {}
    names = [k for k, _ in order]
    pairs = {(a, b): accuracies(va, vb, n, right_a=right.get(a), right_b=right.get(b))
             for i, (a, va) in enumerate(order) for b, vb in order[i + 1:]}
    top = names[0]
    leaders = (top, *(k for k in names[1:] if not pairs[top, k].finding))
    second = pairs[top, names[1]] if len(names) > 1 else None
    last = pairs[top, names[-1]] if len(names) > 1 else None
    return Ranking(order, leaders, second, last, pairs, _groups(names, pairs))


def hardest_class(recall: Mapping[str, float], support: Mapping[str, int]) -> Ranking:
    """The class with the lowest recall; ``leaders`` are every class within 2 SE of it (binomial on its
    support), so a tie inside the noise names them all."""
    order = tuple(sorted(((k, float(v)) for k, v in recall.items()), key=lambda kv: kv[1]))
    if not order:
        return Ranking((), (), None, None)
    worst, low = order[0]
    leaders = tuple(k for k, v in order
                    if k == worst or math.hypot(binomial_se(v, support.get(k, 0)),
                                                binomial_se(low, support.get(worst, 0))) * Z >= v - low)
    second = accuracies(order[1][1], low, support.get(order[1][0], 0), support.get(worst, 0)) \
        if len(order) > 1 else None
    # every pair judged too (a - b, a the lower recall), so apart(), place() and sentence() hold here as well
    pairs = {(a, b): accuracies(va, vb, support.get(a, 0), support.get(b, 0))
             for i, (a, va) in enumerate(order) for b, vb in order[i + 1:]}
    return Ranking(order, leaders, second, None, pairs, _groups([k for k, _ in order], pairs))
