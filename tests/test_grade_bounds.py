"""The grader's bounds without ``--execute``: odd numbers, big or many cells, special files, long names in any
script, a misplaced ``--out``. Every case is generated here at a size that keeps the test fast; the same
generators at full size are in benchmarks/hostile_notebooks.py, which prints time and peak memory."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import hostile_notebooks as hn  # noqa: E402

from mnistlab.grade import parse, rubric, score  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
TH = rubric.load().thresholds


class _Ans:
    def __init__(self, text: str) -> None:
        self.text, self.words = text, len(text.split())


def _fact_item(fact: str, step: str = "ex1"):
    return next(i for i in rubric.load().items if i.kind == "fact" and i.fact == fact)


def _nbk(n_train=None, params=None, acc=None) -> parse.Notebook:
    nbk = parse.read({"cells": [], "metadata": {}})
    nbk.n_train = n_train
    st_ = nbk.steps.setdefault("ex1", parse.Step("ex1"))
    st_.summary_params, st_.printed_accuracy = params, acc
    return nbk


ODD = st.one_of(
    st.from_regex(r"\A[0-9]{1,500}\Z"),  # huge integers
    st.from_regex(r"\A[0-9]{1,5}[.,][0-9]{1,400}\Z"),  # long decimals, French commas
    st.from_regex(r"\A[0-9]{1,3}([,\u202f\u00a0 ][0-9]{3}){1,150}\Z"),  # thousands separators
    st.from_regex(r"\A[0-9]{1,3}e[+-]?[0-9]{1,6}\Z"),  # exponents
    st.sampled_from(["inf", "nan", "-inf", "1e999", "NaN %", "∞", "1,5e308", "0,9739", "97.39 %", "101 770"]),
    st.text(alphabet="0123456789.,% e-\u202f\u00a0", max_size=300),
)


@SETTINGS
@given(words=st.lists(ODD, min_size=1, max_size=6))
@example(words=["6" + "0" * 400])
@example(words=["1" + "0" * 5000])
def test_numbers_in_answers_are_finite_and_never_raise(words):
    text = "il y a " + " et ".join(words) + " images"
    nums = score._numbers(text)
    assert all(isinstance(x, float) and math.isfinite(x) for x in nums)


@SETTINGS
@given(expected=st.one_of(st.integers(min_value=-10**600, max_value=10**600),
                          st.floats(allow_nan=True, allow_infinity=True)),
       words=st.lists(ODD, min_size=0, max_size=4))
@example(expected=6 * 10**400, words=["6" + "0" * 400])
@example(expected=60000, words=["6" + "0" * 400, "60 000"])
def test_a_fact_is_marked_whatever_the_numbers(expected, words):
    text = "Il y a " + " ou ".join(words) + " exemples d'entraînement ici."
    for fact, nbk in (("n_train", _nbk(n_train=expected)), ("params", _nbk(params=expected)),
                      ("test_accuracy", _nbk(acc=expected))):
        mark = score._fact(_fact_item(fact), _Ans(text), nbk, TH)
        assert mark.say in ("fact.ok", "fact.wrong", "fact.noquote", "fact.unchecked")
        assert 0 <= mark.points <= mark.max


def test_a_printed_shape_of_400_zeros_leaves_the_fact_unchecked():
    nbk = parse.read(hn.huge_n_train(400))
    assert nbk.n_train == 6 * 10**400
    mark = score._fact(_fact_item("n_train"), _Ans("il y a " + "6" + "0" * 400 + " images"), nbk, TH)
    assert mark.say == "fact.unchecked" and mark.review
