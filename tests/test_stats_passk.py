"""pass@k: the unbiased estimator against known values and the binomial definition."""

from __future__ import annotations

from math import comb

import pytest

from lmaudit.stats.passk import k_values, pass_at_k, pass_at_k_estimates, per_problem_counts
from lmaudit.stats.validation import StatsInputError


def test_known_values() -> None:
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - comb(7, 5) / comb(10, 5))
    assert pass_at_k(10, 3, 5) == pytest.approx(0.9166666666666666)
    assert pass_at_k(10, 0, 4) == 0.0
    assert pass_at_k(10, 8, 3) == 1.0  # n - c < k: every draw of 3 holds a pass
    assert pass_at_k(1, 1, 1) == 1.0


@pytest.mark.parametrize("n", [1, 2, 7, 20, 50])
def test_matches_binomial_definition(n: int) -> None:
    for c in range(n + 1):
        for k in range(1, n + 1):
            exact = 1 - comb(n - c, k) / comb(n, k)
            assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)


def test_large_n_is_stable() -> None:
    value = pass_at_k(1000, 1, 500)
    assert value == pytest.approx(0.5)
    assert 0.0 <= pass_at_k(2000, 17, 1024) <= 1.0


@pytest.mark.parametrize(("n", "c", "k"), [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_rejects_out_of_range(n: int, c: int, k: int) -> None:
    with pytest.raises(StatsInputError):
        pass_at_k(n, c, k)


def test_k_values_are_one_and_powers_of_two() -> None:
    assert k_values(1) == [1]
    assert k_values(10) == [1, 2, 4, 8]
    assert k_values(16) == [1, 2, 4, 8, 16]


def test_problems_weigh_the_same_whatever_their_n() -> None:
    rows = ["a"] * 4 + ["b"] * 2
    passed = [True, True, True, True, False, False]
    counts = per_problem_counts(rows, passed)
    assert counts == {"a": (4, 4), "b": (2, 0)}
    estimates = pass_at_k_estimates(counts)
    assert set(estimates) == {"pass@1", "pass@2"}
    assert estimates["pass@1"].value == pytest.approx(0.5)  # not 4/6
    assert estimates["pass@1"].n_clusters == 2
    assert 0.0 <= estimates["pass@1"].ci_low <= 0.5 <= estimates["pass@1"].ci_high <= 1.0


def test_interval_shrinks_with_more_problems() -> None:
    few = pass_at_k_estimates({str(i): (4, i % 5) for i in range(10)})["pass@1"]
    many = pass_at_k_estimates({str(i): (4, i % 5) for i in range(200)})["pass@1"]
    assert many.ci_high - many.ci_low < few.ci_high - few.ci_low


def test_k_beyond_smallest_n_is_refused() -> None:
    with pytest.raises(StatsInputError, match="only 2 samples"):
        pass_at_k_estimates({"a": (4, 1), "b": (2, 1)}, ks=[4])
