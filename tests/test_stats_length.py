"""Length against correctness: known values on constructed answers (hand-computed in the
comments), a planted Simpson's paradox and a planted within-problem effect."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from lmaudit.stats.intervals import Estimate
from lmaudit.stats.length import (
    DIFFICULTY_ONLY,
    INCONCLUSIVE,
    LONGER_BETTER,
    LONGER_WORSE,
    length_analysis,
    point_biserial,
    relative_lengths,
    verdict,
)
from lmaudit.stats.validation import StatsInputError


def _answers(groups: list[tuple[int, list[float], list[int]]]
             ) -> tuple[list[str], list[float], list[int]]:
    """(copies, lengths, correct) per problem kind -> flat answer columns."""
    problem, length, correct = [], [], []
    for kind, (copies, lengths, right) in enumerate(groups):
        for c in range(copies):
            problem += [f"k{kind}-{c}"] * len(lengths)
            length += lengths
            correct += right
    return problem, length, correct


# Simpson: easy problems are short and mostly right, hard ones long and mostly wrong; within
# each problem the correct answers are exactly as long as the incorrect ones.
SIMPSON = _answers([(10, [90, 110, 100, 100], [1, 1, 1, 0]),
                    (10, [300, 290, 310, 300], [1, 0, 0, 0])])
# A true effect: in every problem the wrong answers are 80 or 120 tokens longer.
PLANTED = _answers([(5, [100, 100, 180, 180], [1, 1, 0, 0]),
                    (5, [100, 100, 220, 220], [1, 1, 0, 0])])


def test_point_biserial_matches_the_closed_form_and_scipy() -> None:
    _, length, correct = SIMPSON
    # correct mean 150, incorrect mean 250, population sd sqrt(10050), p = q = 1/2
    expected = (150 - 250) / math.sqrt(10050) * 0.5
    assert point_biserial(length, correct) == pytest.approx(expected, abs=1e-12)
    assert point_biserial(length, correct) == pytest.approx(
        scipy_stats.pointbiserialr(correct, length).statistic, abs=1e-12)
    assert math.isnan(point_biserial([1.0, 2.0], [1, 1]))  # constant outcome


def test_simpsons_paradox_reads_as_difficulty_only() -> None:
    problem, length, correct = SIMPSON
    result = length_analysis(problem, length, correct, n_bins=2, n_boot=1000, seed=1)
    assert result.n_answers == 80 and result.n_problems == 20 and result.n_mixed == 20
    assert result.naive_correlation.value == pytest.approx(-100 / math.sqrt(10050) * 0.5)
    assert result.naive_correlation.ci_high < 0
    assert result.naive_difference.value == pytest.approx(-100.0)
    assert result.naive_difference.ci_high < 0
    within = result.within_difference
    assert within is not None and within.n == 20
    assert (within.value, within.ci_low, within.ci_high) == pytest.approx((0.0, 0.0, 0.0))
    # wrong answers are exactly as long as their problem's right ones on average
    assert result.relative_incorrect is not None
    assert result.relative_incorrect.value == pytest.approx(1.0)
    assert result.verdict == DIFFICULTY_ONLY
    # strata: easy (3/4 right) and hard (1/4 right); median-split bins by hand:
    # easy [90, 100] -> 90 ok, 100 ok, 100 wrong = 2/3; (100, 110] -> 110 ok = 1
    # hard [290, 300] -> 290 wrong, 300 ok, 300 wrong = 1/3; (300, 310] -> 310 wrong = 0
    got = {(b.stratum.split()[0], b.low, b.high): (b.accuracy.value, b.n, b.n_problems)
           for b in result.bins}
    assert got == {
        ("hard", 290.0, 300.0): (pytest.approx(1 / 3), 30, 10),
        ("hard", 300.0, 310.0): (0.0, 10, 10),
        ("easy", 90.0, 100.0): (pytest.approx(2 / 3), 30, 10),
        ("easy", 100.0, 110.0): (1.0, 10, 10),
    }


def test_planted_within_problem_effect_reads_as_longer_worse() -> None:
    problem, length, correct = PLANTED
    result = length_analysis(problem, length, correct, n_boot=500)
    within = result.within_difference
    assert within is not None
    # d = -80 (5 problems), -120 (5): mean -100, sd 20 sqrt(10/9), se = sd / sqrt(10),
    # t(0.975, 9) = 2.2621571628
    half = 2.2621571628 * 20 * math.sqrt(10 / 9) / math.sqrt(10)
    assert within.value == pytest.approx(-100.0)
    assert (within.ci_low, within.ci_high) == pytest.approx((-100 - half, -100 + half))
    # pooled: correct 100 (20), wrong 180 (10) and 220 (10); population sd sqrt(2700)
    assert result.naive_correlation.value == pytest.approx(-100 / math.sqrt(2700) * 0.5)
    assert result.relative_incorrect is not None
    assert result.relative_incorrect.value == pytest.approx(2.0)  # 1.8 and 2.2, equal weight
    assert result.verdict == LONGER_WORSE
    # every problem is half right (one stratum); tercile edges of 20 x 100, 10 x 180,
    # 10 x 220 are 100, 100, 180, 220: the short bin is all right, the long ones all wrong
    assert [(b.stratum.split()[0], b.low, b.high, b.n, b.accuracy.value)
            for b in result.bins] == [("medium", 100.0, 100.0, 20, 1.0),
                                      ("medium", 100.0, 180.0, 10, 0.0),
                                      ("medium", 180.0, 220.0, 10, 0.0)]


def test_relative_lengths_by_hand() -> None:
    codes = np.array([0, 0, 0, 1, 1])
    x = np.array([100.0, 300.0, 150.0, 40.0, 60.0])
    y = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    got = relative_lengths(codes, 2, x, y)
    # problem 0: correct mean 200 -> 0.5, 1.5, 0.75; problem 1 has no correct answer
    assert got[:3] == pytest.approx([0.5, 1.5, 0.75])
    assert np.isnan(got[3:]).all()


def _est(value: float, low: float, high: float) -> Estimate:
    return Estimate(value, low, high, 10, "t")


def test_verdict_rule_on_intervals() -> None:
    naive = _est(-100.0, -130.0, -70.0)
    assert verdict(_est(-30.0, -50.0, -10.0), naive) == LONGER_WORSE
    assert verdict(_est(30.0, 10.0, 50.0), naive) == LONGER_BETTER
    assert verdict(_est(0.0, -20.0, 20.0), naive) == DIFFICULTY_ONLY
    # a within-problem interval too wide to rule out the naive effect decides nothing
    assert verdict(_est(-10.0, -150.0, 130.0), naive) == INCONCLUSIVE
    # no naive effect and no within-problem effect: nothing to explain
    assert verdict(_est(0.0, -20.0, 20.0), _est(-5.0, -30.0, 20.0)) == INCONCLUSIVE
    assert verdict(None, naive) == INCONCLUSIVE
    assert verdict(_est(1.0, math.nan, math.nan), naive) == INCONCLUSIVE


def test_one_answer_per_problem_has_no_within_reading() -> None:
    result = length_analysis(["a", "b", "c", "d"], [10, 20, 30, 40], [1, 1, 0, 0], n_boot=200)
    assert result.within_difference is None and result.n_mixed == 0
    assert result.bins == () and result.relative_incorrect is None
    assert result.naive_difference.value == pytest.approx(-20.0)
    assert result.verdict == INCONCLUSIVE


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(StatsInputError, match="length"):
        length_analysis(["a"], [-1.0], [1])
    with pytest.raises(StatsInputError, match="correct"):
        length_analysis(["a", "a"], [1.0, 2.0], [1, 2])
