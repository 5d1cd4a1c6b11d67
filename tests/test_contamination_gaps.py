"""Skywork loss gaps: token weighting, exact and Monte Carlo permutation p, bootstrap interval."""

from __future__ import annotations

import numpy as np
import pytest

from lmaudit.contamination.loss_gaps import (
    SplitLosses,
    bootstrap_gap_interval,
    loss_gap,
    permutation_test_gap,
    skywork_gaps,
    token_weighted_loss,
)
from lmaudit.core.types import LmauditError


def test_split_loss_is_token_weighted() -> None:
    # (2 nats over 4 tokens) and (3 nats over 1 token): 5 / 5 = 1.0, not (0.5 + 3) / 2.
    assert token_weighted_loss([2.0, 3.0], [4, 1]) == pytest.approx(1.0)


# Hand example: four items (sum_nll, tokens): #0 (1, 1), #1 (4, 2), #2 (6, 2), #3 (3, 1).
# a = {#0, #3}, b = {#1, #2}: L_a = 4/2 = 2, L_b = 10/4 = 2.5, observed gap -0.5.
# The six ways to pick a's two items and their gap L_a - L_b:
#   {0,1}: 5/3 - 9/3 = -1.333   {0,2}: 7/3 - 7/3 = 0      {0,3}: 4/2 - 10/4 = -0.5
#   {1,2}: 10/4 - 4/2 = +0.5    {1,3}: 7/3 - 7/3 = 0      {2,3}: 9/3 - 5/3 = +1.333
# Gaps <= -0.5: {0,1} and {0,3}, so the exact one-sided p is 2/6.
HAND_A = SplitLosses.of([1.0, 3.0], [1, 1])
HAND_B = SplitLosses.of([4.0, 6.0], [2, 2])


def test_exact_permutation_p_on_a_hand_enumerated_example() -> None:
    p, method, n = permutation_test_gap(HAND_A, HAND_B)
    assert (method, n) == ("exact", 6)
    assert p == pytest.approx(2 / 6)
    # b against a: gaps <= +0.5 are 5 of the 6 splits (all but +1.333).
    assert permutation_test_gap(HAND_B, HAND_A)[0] == pytest.approx(5 / 6)


def test_monte_carlo_permutation_p_approximates_the_exact_one() -> None:
    p, method, n = permutation_test_gap(HAND_A, HAND_B, n_permutations=20_000, exact_limit=0,
                                        seed=1)
    assert (method, n) == ("monte_carlo", 20_000)
    assert p == pytest.approx(1 / 3, abs=0.012)
    assert p > 1 / 20_001  # the +1 correction: never zero


def test_gap_signs_and_significance_on_a_planted_difference() -> None:
    rng = np.random.default_rng(0)
    tokens_test = rng.integers(10, 30, size=60)
    tokens_ref = rng.integers(10, 30, size=60)
    test = SplitLosses.of(tokens_test * rng.normal(1.2, 0.2, 60), tokens_test)
    ref = SplitLosses.of(tokens_ref * rng.normal(1.6, 0.2, 60), tokens_ref)
    gaps = skywork_gaps(test, ref, ref, n_boot=500, n_permutations=2000)
    d1 = gaps["delta1"]
    assert d1.value == pytest.approx(test.loss - ref.loss)
    assert d1.value < -0.3 and d1.ci_high < 0 and d1.ci_low < d1.value
    assert d1.p_value == pytest.approx(1 / 2001)  # no permuted split is as extreme
    assert (d1.n_items_a, d1.n_tokens_a) == (60, int(tokens_test.sum()))
    swapped = loss_gap(ref, test, name="swapped", n_boot=200, n_permutations=2000)
    assert swapped.value > 0 and swapped.p_value > 0.99
    assert set(skywork_gaps(test, ref)) == {"delta1"}
    assert set(skywork_gaps(test, None, ref)) == {"delta2"}


def test_bootstrap_interval_is_seeded_and_covers_the_truth() -> None:
    a = SplitLosses.of([10.0, 20.0, 12.0, 9.0], [10, 12, 8, 9])
    b = SplitLosses.of([15.0, 30.0, 22.0], [10, 11, 12])
    assert bootstrap_gap_interval(a, b, n_boot=300, seed=4) == bootstrap_gap_interval(
        a, b, n_boot=300, seed=4)
    # Coverage sanity: per-item loss ~ N(mu, 0.5) independent of length, so the population
    # token-weighted loss is mu; true gap = 1.0 - 1.2 = -0.2. 95% intervals should cover it
    # about 95% of the time (percentile bootstrap, 40 items a side: slightly below nominal).
    rng = np.random.default_rng(11)
    covered = 0
    reps = 200
    for rep in range(reps):
        ta, tb = rng.integers(5, 21, size=40), rng.integers(5, 21, size=40)
        sa = SplitLosses.of(ta * rng.normal(1.0, 0.5, 40), ta)
        sb = SplitLosses.of(tb * rng.normal(1.2, 0.5, 40), tb)
        low, high = bootstrap_gap_interval(sa, sb, n_boot=400, seed=rep)
        covered += low <= -0.2 <= high
    assert 0.88 <= covered / reps <= 0.99, covered


def test_bad_splits_are_rejected() -> None:
    with pytest.raises(LmauditError, match="at least one token"):
        SplitLosses.of([1.0], [0])
    with pytest.raises(LmauditError, match=r"one \(sum_nll, n_tokens\) pair"):
        SplitLosses.of([], [])
    with pytest.raises(LmauditError, match="NaN"):
        SplitLosses.of([float("nan")], [3])
