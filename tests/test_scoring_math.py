"""The math grader: extraction (strict / flexible) and equivalence (known pairs)."""

from __future__ import annotations

import pytest

from lmaudit.scoring import get_scorer
from lmaudit.scoring.math import (
    answer_line,
    extract_flexible,
    extract_strict,
    gold_answer,
    last_boxed,
    math_equal,
)

# (gold, prediction): every listed form, each with equal and different pairs.
EQUAL = [
    # fractions and decimals
    ("\\frac{1}{2}", "0.5"),
    ("\\frac12", "1/2"),
    ("\\dfrac{3}{4}", "0.75"),
    ("\\frac{6}{8}", "\\frac{3}{4}"),
    ("-\\frac{2}{3}", "\\frac{-2}{3}"),
    ("3", "3.0"),
    # radicals
    ("2\\sqrt{2}", "\\sqrt{8}"),
    ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}"),
    ("\\sqrt{2}/2", "\\frac{\\sqrt2}{2}"),
    # pi
    ("2\\pi", "\\pi \\cdot 2"),
    ("\\frac{\\pi}{4}", "\\pi/4"),
    # intervals
    ("[1,2)", "[1, 2)"),
    ("(-\\infty, 3]", "(-\\infty,3]"),
    ("(-\\infty,-1)\\cup(1,\\infty)", "(-\\infty, -1) \\cup (1, \\infty)"),
    # sets and unordered solution lists
    ("\\{1,2,3\\}", "\\{3,2,1\\}"),
    ("1,2", "2,1"),
    ("x=1, x=2", "2, 1"),
    ("-3, 5", "5, -3"),
    # matrices and vectors
    ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
    ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}"),
    # degrees and units
    ("30^\\circ", "30"),
    ("30", "30^{\\circ}"),
    ("5\\text{ cm}", "5"),
    ("12", "12\\text{ inches}"),
    # thousands separators
    ("10,000", "10000"),
    ("1{,}000", "1000"),
    ("1000000", "1,000,000"),
    # \text{} letters
    ("\\text{(B)}", "B"),
    ("\\text{B}", "(B)"),
    # algebra, equations, money, percent
    ("x^2+2x+1", "(x+1)^2"),
    ("y=2x+1", "2x+1"),
    ("\\$5", "5"),
    ("50\\%", "50"),
    ("\\infty", "\\infty"),
    ("2 + 3i", "3i + 2"),
    ("\\text{Monday}", "Monday"),
    ("x \\in [1,2]", "[1,2]"),
    ("\\frac{1}{2}", "\\frac{2}{4}"),
]

DIFFERENT = [
    ("\\frac{1}{3}", "0.33"),
    ("0.333", "\\frac13"),
    ("\\frac{1}{2}", "\\frac{1}{3}"),
    ("2\\sqrt{2}", "\\sqrt{2}"),
    ("\\pi", "3.14"),
    ("2\\pi", "\\pi"),
    ("(1,2)", "(1,2]"),
    ("[0, 1]", "(0, 1)"),
    ("\\{1,2\\}", "\\{1,3\\}"),
    ("2,3", "2,4"),
    ("1, 2, 3", "1, 2"),
    ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}2\\\\1\\end{pmatrix}"),
    ("30^\\circ", "60"),
    ("1,000", "1"),
    ("10,000", "1000"),
    ("B", "C"),
    ("\\text{(A)}", "\\text{(D)}"),
    ("x^2+1", "(x+1)^2"),
    ("-5", "5"),
    ("", "5"),
    ("(1,2)", "(2,1)"),  # an ordered pair or interval, not a set
    ("\\text{Monday}", "Tuesday"),
    ("-\\infty", "\\infty"),
    ("5", "5.0001"),
]


@pytest.mark.parametrize(("gold", "prediction"), EQUAL)
def test_known_equal_pairs(gold: str, prediction: str) -> None:
    assert math_equal(prediction, gold)


@pytest.mark.parametrize(("gold", "prediction"), DIFFERENT)
def test_known_different_pairs(gold: str, prediction: str) -> None:
    assert not math_equal(prediction, gold)


def test_pair_count_covers_the_issue() -> None:
    assert len(EQUAL) + len(DIFFERENT) >= 40


def test_last_boxed_takes_the_last_balanced_box() -> None:
    text = "first \\boxed{1} then \\boxed{\\frac{1}{\\sqrt{2}}} done"
    assert last_boxed(text) == "\\frac{1}{\\sqrt{2}}"
    assert last_boxed("so \\fbox{7}.") == "7"
    assert last_boxed("answer \\boxed 42.") == "42"
    assert last_boxed("unclosed \\boxed{3") is None
    assert last_boxed("no box here") is None


def test_flexible_reads_the_final_answer_line() -> None:
    minerva = "So x=2.\nFinal Answer: The final answer is $\\frac{1}{2}$. I hope it is correct."
    assert extract_strict(minerva) is None
    assert extract_flexible(minerva) == "\\frac{1}{2}"
    assert answer_line("The answer is 12.\nThanks") == "12"
    assert extract_flexible("I am not sure.") is None
    assert extract_flexible("Answer: 3 \n \\boxed{4}") == "4"  # a box beats the line


def test_gold_answer_of_a_full_solution() -> None:
    assert gold_answer("We get $x=\\boxed{\\frac{3}{5}}$.") == "\\frac{3}{5}"
    assert gold_answer("204") == "204"


def test_scorer_metrics_and_extraction_failures() -> None:
    scorer = get_scorer("math")
    hit = scorer("so \\boxed{0.5}", "The answer is $\\boxed{\\frac12}$.")
    assert hit.correct and hit.metrics["acc_strict"] == 1.0
    line = scorer("Final Answer: The final answer is 1/2.", "\\frac{1}{2}")
    assert line.metrics == {
        "acc_strict": 0.0, "acc_flexible": 1.0,
        "extract_fail_strict": 1.0, "extract_fail_flexible": 0.0,
    }
    miss = scorer("no idea", "7")
    assert not miss.correct and miss.extracted is None
    assert miss.metrics["extract_fail_flexible"] == 1.0
    assert "math-verify-" in scorer.version
