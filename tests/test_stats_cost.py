"""Cost per task, per correct answer and the cost–accuracy frontier on known values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmaudit.stats.cost import compute_cost, cost_estimates, pareto_frontier, token_cost
from lmaudit.stats.validation import StatsInputError


def test_token_and_compute_cost() -> None:
    # 1,000 prompt tokens at $0.15/M plus 500 completion tokens at $0.60/M = $0.00045
    assert token_cost([1000, 0], [500, 2e6], 0.15, 0.60) == pytest.approx([4.5e-4, 1.2])
    assert compute_cost([36.0], 2.0) == pytest.approx([0.02])  # 36 s at $2 per hour


def test_cost_per_task_and_per_correct_answer() -> None:
    result = cost_estimates([1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 1.0, 0.0], n_boot=2000, seed=3)
    assert result.total == 10.0
    assert result.per_task.value == pytest.approx(2.5)
    assert result.per_correct is not None
    assert result.per_correct.value == pytest.approx(5.0)  # $10 for 2 solved problems
    assert result.per_task.ci_low < 2.5 < result.per_task.ci_high
    assert result.per_correct.ci_low < 5.0 < result.per_correct.ci_high
    assert result.per_correct.method == "cluster-bootstrap-percentile"
    # avg@N scores are fractions: 2 problems at 0.25 correct cost 1 each -> $4 per correct
    assert cost_estimates([1.0, 1.0], [0.25, 0.25]).per_correct.value == pytest.approx(4.0)


def test_clusters_are_resampled_whole() -> None:
    # each cluster spends exactly $2 per correct answer, so every cluster resample does
    # too: the clustered interval is the point; resampling single rows is not
    cost = [1.0, 3.0, 2.0, 0.0, 1.0, 1.0]
    score = [1.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    clustered = cost_estimates(cost, score, ["a", "a", "b", "b", "c", "c"], n_boot=500)
    assert clustered.per_correct is not None
    assert (clustered.per_correct.value, clustered.per_correct.ci_low,
            clustered.per_correct.ci_high) == pytest.approx((2.0, 2.0, 2.0))
    assert clustered.per_correct.n_clusters == 3
    rows = cost_estimates(cost, score, n_boot=500).per_correct
    assert rows is not None and rows.ci_high - rows.ci_low > 0.5


def test_nothing_solved_has_no_cost_per_correct() -> None:
    result = cost_estimates([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], n_boot=100)
    assert result.per_correct is None and result.per_task.value == 1.0


def test_bad_costs_and_scores_are_clear_errors() -> None:
    with pytest.raises(StatsInputError, match="cost"):
        cost_estimates([-1.0], [1.0])
    with pytest.raises(StatsInputError, match="score"):
        cost_estimates([1.0], [2.0])
    with pytest.raises(StatsInputError, match="rows"):
        cost_estimates([1.0, 2.0], [1.0])


def test_pareto_frontier_known_points() -> None:
    points = [(1.0, 0.5),   # 0 A: on the frontier
              (2.0, 0.4),   # 1 B: A is cheaper and better
              (2.0, 0.7),   # 2 C: on the frontier
              (10.0, 0.7),  # 3 D: as good as C at 5x the cost
              (10.0, 0.9),  # 4 E: on the frontier (the best)
              (0.5, 0.2),   # 5 F: the cheapest
              (1.0, 0.5),   # 6 G: a duplicate of A (the first is kept)
              (math.nan, 1.0),  # 7: no cost known
              (0.7, 0.1)]   # 8: F is cheaper and better
    cost, accuracy = zip(*points, strict=True)
    assert pareto_frontier(cost, accuracy) == (5, 0, 2, 4)
    assert pareto_frontier([], []) == ()
    # brute force: a point is on the frontier iff no other point dominates it
    rng = np.random.default_rng(0)
    c, a = rng.integers(1, 6, 40).astype(float), rng.integers(0, 5, 40) / 4
    found = set(pareto_frontier(list(c), list(a)))
    for i in range(40):
        dominated = any((c[j] <= c[i] and a[j] >= a[i] and (c[j] < c[i] or a[j] > a[i]))
                        or (c[j] == c[i] and a[j] == a[i] and j < i) for j in range(40))
        assert (i in found) == (not dominated)
