"""Numeric answers: normalization rules, strict vs flexible extraction, exact equality."""

from __future__ import annotations

from fractions import Fraction

import pytest

from lmaudit.core.types import LmauditError
from lmaudit.scoring import (
    FLEXIBLE_VERSION,
    STRICT_VERSION,
    NumericScorer,
    extract_flexible,
    extract_strict,
    get_scorer,
    normalize_number,
    numbers_equal,
    parse_gsm8k_target,
)
from lmaudit.scoring.numeric import canonical, find_numbers

# (raw answer string, canonical form or None), one rule per group.
NORMALIZATION_TABLE = [
    # plain integers, leading zeros, signs
    ("42", "42"),
    ("007", "7"),
    ("+7", "7"),
    ("-5", "-5"),
    ("\u22125", "-5"),  # Unicode minus sign
    ("- 5", "-5"),
    ("-0", "0"),
    # currencies, before or after the sign
    ("$1,200", "1200"),
    ("-$5", "-5"),
    ("$-5", "-5"),
    ("€3.50", "3.5"),
    ("£10", "10"),
    ("5€", "5"),
    ("-$-5", None),  # two signs: ambiguous
    # US thousands separators: groups of exactly three digits
    ("1,234", "1234"),
    ("1,234,567.891", "1234567.891"),
    ("1,23", None),
    ("12,5", None),  # decimal commas are not supported
    # decimals: exact, trailing zeros dropped
    ("0.50", "0.5"),
    ("3.0", "3"),
    (".5", "0.5"),
    ("1,234.00", "1234"),
    # trailing punctuation and a sentence-final period
    ("42.", "42"),
    ("0.5.", "0.5"),
    ("42!", "42"),
    ("(5)", "5"),
    ("**42**", "42"),
    # percent is a unit: 50% -> 50, not 0.5
    ("50%", "50"),
    ("50 %", "50"),
    ("12.5\\%", "12.5"),
    # digit-free trailing units
    ("5 apples", "5"),
    ("12 km", "12"),
    ("1,234.00 dollars.", "1234"),
    ("18 dollars per hour", "18"),
    ("5 m^2", None),  # the unit holds a digit
    # fractions: terminating -> decimal, otherwise reduced p/q
    ("3/4", "0.75"),
    ("6/8", "0.75"),
    ("-1/2", "-0.5"),
    ("1/3", "1/3"),
    ("4/6", "2/3"),
    ("1/0", None),
    # scientific notation, bounded exponent
    ("1e3", "1000"),
    ("1.5e-2", "0.015"),
    ("2E+2", "200"),
    ("1e101", None),
    # LaTeX
    ("\\boxed{42}", "42"),
    ("$\\boxed{1{,}234}$", "1234"),
    ("\\boxed{\\frac{3}{4}}", "0.75"),
    ("\\dfrac{1}{3}", "1/3"),
    ("1\\,234", "1234"),
    ("\\$18", "18"),
    ("$42$", "42"),
    ("5\\text{ apples}", "5"),
    # not numbers
    ("", None),
    ("abc", None),
    ("3 4", None),
    ("x = 5", None),
    ("The answer is 5", None),
    ("5 - 3", None),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZATION_TABLE)
def test_normalize_number_table(raw: str, expected: str | None) -> None:
    assert normalize_number(raw) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(0), "0"),
        (Fraction(-12), "-12"),
        (Fraction(3, 4), "0.75"),
        (Fraction(-1, 8), "-0.125"),
        (Fraction(1, 20), "0.05"),
        (Fraction(123456789, 1000), "123456.789"),
        (Fraction(1, 3), "1/3"),
        (Fraction(-7, 6), "-7/6"),
    ],
)
def test_canonical_is_exact_decimal_or_fraction(value: Fraction, expected: str) -> None:
    assert canonical(value) == expected
    # round trip: the canonical string parses back to the same value
    assert numbers_equal(expected, str(value))


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ("0.5", "1/2", True),
        ("0.50", ".5", True),
        ("1/3", "2/6", True),
        ("1,234", "1234.000", True),
        ("$1,234.00", "1234", True),
        ("50%", "50", True),  # percent is a unit (GSM8K convention)
        ("50%", "0.5", False),
        ("-3", "−3", True),
        ("1e3", "1,000", True),
        ("\\boxed{18}", "18 dollars", True),
        # exact: no float tolerance
        ("0.3333333333", "1/3", False),
        ("0.1", "0.10000000000000001", False),
        ("3", "3.0000001", False),
        ("-5", "5", False),
        # a non-number is never equal, not even to itself
        ("abc", "abc", False),
        ("", "", False),
    ],
)
def test_numbers_equal_is_exact(a: str, b: str, equal: bool) -> None:
    assert numbers_equal(a, b) is equal
    assert numbers_equal(b, a) is equal


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("The answer is 1,234.00 dollars.", ["1234"]),
        # an operator minus between digits is not a sign; "=-3" is
        ("16-3=13 and x=-3", ["16", "3", "13", "-3"]),
        ("a 3-4 hour trip", ["3", "4"]),
        ("She owes $-5 or -$6, not 7-$8", ["-5", "-6", "7", "8"]),
        # badly grouped commas split the digits instead of joining them
        ("1,2,3", ["1", "2", "3"]),
        ("1,2345", ["1", "2345"]),
        ("costs 5.5. Then 6", ["5.5", "6"]),
        ("2/2=<<2/2=1>>1 bolt", ["1", "1", "1", "1"]),
        ("from 12/25/2023", ["0.48", "2023"]),  # a date reads as the fraction 12/25
        ("the 5th and 2nd", ["5", "2"]),
        ("ratio \\frac{3}{4} of 1{,}000", ["0.75", "1000"]),
        ("no digits here", []),
    ],
)
def test_find_numbers_in_text(text: str, numbers: list[str]) -> None:
    assert find_numbers(text) == numbers


# (response, strict, flexible): where the two conventions agree and where they differ.
EXTRACTION_TABLE = [
    ("Janet makes 9 * 2 = $18.\n#### 18", "18", "18"),
    ("#### $1,200.00", "1200", "1200"),
    ("#### -7", "-7", "-7"),
    ("#### 18 dollars", "18", "18"),
    ("#### \\boxed{3/4}", "0.75", "0.75"),
    # the last marker wins
    ("#### 3\nwait, recheck\n#### 4", "4", "4"),
    # strict reads only the marker's own line; flexible reads the last number anywhere
    ("#### 42\nCheck: 42 * 2 = 84", "42", "84"),
    ("#### \nthe answer is 5", None, "5"),
    # no marker: strict fails, flexible still finds a number
    ("The answer is 1,234.00 dollars.", None, "1234"),
    ("So she has 3 apples left.", None, "3"),
    # nothing numeric at all
    ("I don't know.", None, None),
    ("####", None, None),
]


@pytest.mark.parametrize(("response", "strict", "flexible"), EXTRACTION_TABLE)
def test_strict_and_flexible_extraction(
    response: str, strict: str | None, flexible: str | None
) -> None:
    assert extract_strict(response) == strict
    assert extract_flexible(response) == flexible


def test_strict_marker_is_configurable() -> None:
    text = "16 - 7 = 9 eggs\nA: 18\n"
    assert extract_strict(text) is None
    assert extract_strict(text, marker="A:") == "18"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("42", "42"),
        ("$1,200", "1200"),
        ("-3", "-3"),
        (
            "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n"
            "She makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18",
            "18",
        ),
        ("He saves 1,000 * 2 = <<1000*2=2000>>2000.\n#### 2,000", "2000"),
    ],
)
def test_parse_gsm8k_target(target: str, expected: str) -> None:
    assert parse_gsm8k_target(target) == expected


@pytest.mark.parametrize("target", ["", "unknown", "#### none", "She has some apples"])
def test_parse_gsm8k_target_rejects_non_numbers(target: str) -> None:
    with pytest.raises(LmauditError, match="no numeric answer"):
        parse_gsm8k_target(target)


def test_numeric_scorer_metrics_strict_vs_flexible() -> None:
    scorer = get_scorer("numeric")
    assert scorer.name == "numeric"
    assert STRICT_VERSION in scorer.version and FLEXIBLE_VERSION in scorer.version
    assert scorer.metric_names() == (
        "acc_strict",
        "acc_flexible",
        "extract_fail_strict",
        "extract_fail_flexible",
    )

    both = scorer("9 * 2 = 18\n#### 18", "#### 18")
    assert both.correct and both.extracted == "18"
    assert dict(both.metrics) == {
        "acc_strict": 1.0,
        "acc_flexible": 1.0,
        "extract_fail_strict": 0.0,
        "extract_fail_flexible": 0.0,
    }

    # no marker: strict fails to extract, flexible is right and is the primary verdict
    flexible_only = scorer("She makes $18 a day.", "18")
    assert flexible_only.correct and flexible_only.extracted == "18"
    assert flexible_only.metrics["acc_strict"] == 0.0
    assert flexible_only.metrics["extract_fail_strict"] == 1.0

    # text after the marker line: strict right, flexible wrong
    strict_only = scorer("#### 18\nCheck: 18 / 2 = 9", "18")
    assert not strict_only.correct and strict_only.extracted == "9"
    assert strict_only.metrics["acc_strict"] == 1.0
    assert strict_only.metrics["acc_flexible"] == 0.0

    nothing = scorer("I cannot solve this.", "18")
    assert not nothing.correct and nothing.extracted is None
    assert nothing.metrics["extract_fail_flexible"] == 1.0
    assert set(nothing.metrics) == set(scorer.metric_names())


def test_numeric_scorer_percent_and_formatting_count_as_correct() -> None:
    scorer = NumericScorer()
    assert scorer("The discount is 50%.", "50").correct
    assert scorer("#### $1,234.00", "1234").metrics["acc_strict"] == 1.0
    assert scorer("The answer is \\boxed{-4}.", "-4").correct
    assert not scorer("The answer is 4.", "-4").correct


def test_numeric_scorer_marker_changes_the_version() -> None:
    default, custom = NumericScorer(), NumericScorer(strict_marker="A:")
    assert default.version != custom.version
    assert "A:" in custom.version
    assert custom("so 9 eggs\nA: 18", "18").metrics["acc_strict"] == 1.0
    with pytest.raises(ValueError, match="non-blank"):
        NumericScorer(strict_marker=" ")


def test_numeric_scorer_bad_target_is_a_user_error() -> None:
    with pytest.raises(LmauditError, match="GSM8K target"):
        NumericScorer()("#### 5", "five")


def test_degenerate_digit_runs_are_not_numbers() -> None:
    """Runs over 4,000 digits (looping generations) are skipped, not crashed on:
    Python refuses int->str conversion past 4,300 digits."""
    assert normalize_number("9" * 4000) == "9" * 4000
    assert normalize_number("0." + "3" * 3990) == "0." + "3" * 3990
    assert normalize_number("9" * 4001) is None
    assert find_numbers("x = 5, then " + "1" * 100_000 + " and 7") == ["5", "7"]
    assert extract_flexible("#### " + "1" * 100_000) is None
