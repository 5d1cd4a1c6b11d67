"""Template helpers (`range`, `sample`, `divides`, ...) and number text, on known values."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from lmaudit.probes.templates.evaluator import EvaluationError, Worded, evaluate
from lmaudit.probes.templates.helpers import make_functions
from lmaudit.probes.templates.text import (
    decimals_of,
    number_words,
    parse_number_phrase,
    render_value,
)
from lmaudit.probes.templates.vocabularies import VOCABULARIES


def run(source: str, seed: int = 0, **variables: object) -> object:
    return evaluate(source, {**VOCABULARIES, **variables}, make_functions(random.Random(seed)))


def test_range_is_python_half_open() -> None:
    assert list(run("range(2, 6)")) == [2, 3, 4, 5]  # type: ignore[call-overload]
    assert list(run("range(10, 50, 10)")) == [10, 20, 30, 40]  # type: ignore[call-overload]
    assert run("list(range(2, 4)) * 2") == [2, 3, 2, 3]
    with pytest.raises(EvaluationError, match="integer"):
        run("range(1, 2.5)")


def test_numbers_within_is_inclusive_and_worded() -> None:
    values = run("numbers_within(2, 5)")
    assert values == [Worded("two", 2), Worded("three", 3), Worded("four", 4), Worded("five", 5)]


def test_arange_and_frange_are_exact_and_half_open() -> None:
    assert run("np.arange(0.25, 1, 0.25)") == [Fraction(1, 4), Fraction(1, 2), Fraction(3, 4)]
    # numpy gives 5 values for arange(20.25, 21.26, 0.25): 20.25 ... 21.25.
    assert run("np.arange(20.25, 21.26, 0.25)") == [
        Fraction(81, 4), Fraction(41, 2), Fraction(83, 4), 21, Fraction(85, 4)
    ]
    assert run("frange(1, 2, 0.5)") == [1, Fraction(3, 2)]
    assert len(run("np.arange(0.21, 1, 0.01)")) == 79  # type: ignore[arg-type]


def test_is_int_and_divides() -> None:
    assert run("is_int(6 / 3)") is True
    assert run("is_int(7 / 2)") is False
    assert run("is_int('4')") is False
    # divides(a, b): a / b is an integer ("a is divisible by b").
    assert run("divides(120, 12)") is True
    assert run("divides(12, 120)") is False
    assert run("divides(5, 0)") is False
    assert run("divides(1.5, 0.25)") is True  # 1.5 / 0.25 = 6
    assert run("divides(k, 3)", k=Worded("six", 6)) is True


def test_sample_and_sample_sequential() -> None:
    draws = {run("sample([1, 2, 3])", seed=s) for s in range(50)}
    assert draws == {1, 2, 3}
    pair = run("sample(names, 2)", seed=4)
    assert isinstance(pair, list) and len(pair) == 2 and pair[0] != pair[1]
    assert run("sample(names, 2)", seed=4) == pair  # same seed, same draw
    days = VOCABULARIES["weekdays"]
    runs = [run("sample_sequential(weekdays, 3)", seed=s) for s in range(60)]
    for triple in runs:
        start = days.index(triple[0])  # type: ignore[index]
        assert triple == [days[(start + i) % 7] for i in range(3)]
    assert ["Saturday", "Sunday", "Monday"] in runs  # runs wrap around the week


def test_randint_fix_floats_and_shuffle() -> None:
    values = run("np.random.randint(1000, 1003, 50)")
    assert isinstance(values, list) and len(values) == 50 and set(values) <= {1000, 1001, 1002}
    assert run("fix_floats([1.005, 2.5, 0.125])") == [1, Fraction(5, 2), Fraction(3, 25)]
    shuffled = run("shuffle_list([1, 2, 3, 4, 5])", seed=3)
    assert sorted(shuffled) == [1, 2, 3, 4, 5]  # type: ignore[type-var]


def test_python_builtins_on_exact_numbers() -> None:
    assert run("min(3, 1/2, 2)") == Fraction(1, 2)
    assert run("max([4, 9, 2])") == 9
    assert run("sum([1/2, 1/3, 1/6])") == 1
    assert run("abs(-5/2)") == Fraction(5, 2)
    assert run("len(names)") == len(VOCABULARIES["names"])
    assert run("Fraction(3, 12)") == Fraction(1, 4)
    assert run("Fraction(f)", f=Worded("half", Fraction(1, 2))) == Fraction(1, 2)


@pytest.mark.parametrize(
    ("n", "words"),
    [(0, "zero"), (7, "seven"), (13, "thirteen"), (20, "twenty"), (42, "forty-two"),
     (100, "one hundred"), (305, "three hundred five"), (2024, "two thousand twenty-four")],
)
def test_number_words(n: int, words: str) -> None:
    assert number_words(n) == words
    assert parse_number_phrase(words) == n


@pytest.mark.parametrize(
    ("phrase", "value"),
    [
        ("12", 12), ("1,200", 1200), ("1.50", Fraction(3, 2)), ("1/16", Fraction(1, 16)),
        ("twice", 2), ("thrice", 3), ("double", 2), ("triple", 3), ("three times", 3),
        ("four", 4), ("half", Fraction(1, 2)), ("a third", Fraction(1, 3)),
        ("third", Fraction(1, 3)), ("one-fifth", Fraction(1, 5)),
        ("two-thirds", Fraction(2, 3)), ("three quarters", Fraction(3, 4)),
        ("three-fifths", Fraction(3, 5)), ("A quarter", Fraction(1, 4)),
        ("an eighth", Fraction(1, 8)),
    ],
)
def test_parse_number_phrase(phrase: str, value: int | Fraction) -> None:
    assert parse_number_phrase(phrase) == value


@pytest.mark.parametrize("phrase", ["", "Benny", "blue", "times", "a", "six-sided"])
def test_non_numbers_are_not_parsed(phrase: str) -> None:
    assert parse_number_phrase(phrase) is None


def test_render_value() -> None:
    assert render_value(12) == "12"
    assert render_value(Fraction(5, 2)) == "2.5"
    assert render_value(Fraction(1, 3)) == "1/3"
    assert render_value(Fraction(-3, 8)) == "-0.375"
    assert render_value(Fraction(3, 2), decimals=2) == "1.50"  # money style
    assert render_value(12, decimals=2) == "12.00"
    assert render_value(Fraction(1, 8), decimals=2) == "0.125"  # cannot be shown in 2 places
    assert render_value(Worded("twice", 2)) == "twice"
    assert decimals_of("0.50") == 2 and decimals_of("1.5") is None and decimals_of("12") is None
