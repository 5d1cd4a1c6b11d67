"""Intervals of bounded metrics stay inside the metric's range (issue 11)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmaudit.core.aggregate import aggregate_records
from lmaudit.core.task import Aggregation, MetricSpec
from lmaudit.core.types import SampleRecord
from lmaudit.stats import (
    aggregate_metric,
    mean_estimate,
    paired_difference,
    proportion_estimate,
    wilson_interval,
)
from lmaudit.stats.intervals import effective_clusters
from lmaudit.stats.validation import StatsInputError
from lmaudit.tasks.generic import MultipleChoiceTask

PROBABILITY = (0.0, 1.0)


def test_small_n_probability_uses_wilson_not_an_impossible_t_interval() -> None:
    # The report: p_correct 0.33 [-1.01, 1.68] from a t interval on 2 samples.
    values = np.array([0.66, 0.0])
    unbounded = mean_estimate(values)
    assert unbounded.ci_low < -1.0 and unbounded.ci_high > 1.6
    bounded = mean_estimate(values, bounds=PROBABILITY)
    assert bounded.method == "wilson-bounded"
    assert bounded.value == pytest.approx(0.33)
    assert (bounded.ci_low, bounded.ci_high) == wilson_interval(0.66, 2)
    assert 0.0 <= bounded.ci_low < 0.33 < bounded.ci_high <= 1.0
    assert bounded.stderr == unbounded.stderr  # the t stderr is still reported


def test_wilson_bounded_known_values() -> None:
    # mean 1/3 over n = 3 -> Wilson(1, 3) = [0.0614919, 0.7923404] (0.0615, 0.7923 in
    # Newcombe 1998, table I).
    est = mean_estimate([0.9, 0.1, 0.0], bounds=PROBABILITY)
    assert (est.ci_low, est.ci_high) == pytest.approx((0.0614919, 0.7923404), abs=1e-6)
    # Brier in [0, 2]: values [2, 0] -> share 1/2 of the range over n = 2, Wilson(1, 2)
    # = [0.0945312, 0.9054688], times 2.
    brier = mean_estimate([2.0, 0.0], bounds=(0.0, 2.0))
    assert (brier.ci_low, brier.ci_high) == pytest.approx((0.1890624, 1.8109376), abs=1e-6)


def test_a_t_interval_inside_the_range_is_kept() -> None:
    rng = np.random.default_rng(5)
    values = rng.uniform(0.3, 0.7, size=200)
    assert mean_estimate(values, bounds=PROBABILITY) == mean_estimate(values)


def test_no_observed_variation_is_not_a_zero_width_interval() -> None:
    est = mean_estimate(np.ones(50), bounds=PROBABILITY)
    assert est.method == "wilson-bounded"
    assert est.ci_high == 1.0
    assert est.ci_low == pytest.approx(wilson_interval(50, 50)[0]) and est.ci_low < 1.0
    single = mean_estimate([0.25], bounds=PROBABILITY)
    assert (single.ci_low, single.ci_high) == wilson_interval(0.25, 1)


def test_clustered_bounded_mean_uses_the_design_effect_sample_size() -> None:
    codes = np.array([0, 1] + [2] * 8)
    # cluster sizes 1, 1, 8: Kish's effective number of clusters 10^2 / (1 + 1 + 64)
    assert effective_clusters(codes) == pytest.approx(100.0 / 66.0)
    # mean 0.82; clustered-t on 2 dof: 0.82 +- 4.303 * 0.1293 reaches past 1.
    values = np.array([1.0, 0.0] + [0.9] * 8)
    t_interval = mean_estimate(values, clusters=codes)
    assert t_interval.ci_high > 1.0 and t_interval.stderr == pytest.approx(0.12929, abs=1e-5)
    est = mean_estimate(values, clusters=codes, bounds=PROBABILITY)
    n_eff = 0.82 * 0.18 / t_interval.stderr**2  # 8.83: p (1 - p) / SE^2, below n = 10
    assert n_eff == pytest.approx(8.830, abs=1e-3)
    assert est.method == "wilson-bounded-clusters" and est.n_clusters == 3
    assert (est.ci_low, est.ci_high) == pytest.approx(wilson_interval(0.82 * n_eff, n_eff))
    one = mean_estimate([0.2, 0.4], clusters=["a", "a"], bounds=PROBABILITY)
    assert (one.ci_low, one.ci_high) == (0.0, 1.0)


def test_values_outside_the_bounds_are_an_error() -> None:
    with pytest.raises(StatsInputError, match=r"bounded to \[0, 1\] has rows \[1\] outside"):
        mean_estimate([0.5, 1.5], bounds=PROBABILITY)
    # rounding noise at a bound is accepted (softmax sums are not exact)
    assert mean_estimate([1.0 + 1e-12, 0.0], bounds=PROBABILITY).value <= 0.5 + 1e-12


def test_clustered_proportion_few_clusters_stays_in_unit_interval() -> None:
    values = np.array([1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1], dtype=float)
    clusters = np.repeat([0, 1, 2, 3], 3)
    est = proportion_estimate(values, clusters=clusters)
    assert 0.0 <= est.ci_low <= est.value <= est.ci_high <= 1.0
    assert est.method == "wilson-clusters"
    # clustered SE = sqrt(4/3 * 0.75) / 12 = 1/12, so n_eff = (11/12)(1/12) * 144 = 11
    assert (est.ci_low, est.ci_high) == pytest.approx(wilson_interval(values.mean() * 11, 11))
    # no observed variation: each cluster counts once (Kish), Wilson(0, 4)
    none = proportion_estimate(np.zeros(12), clusters=clusters)
    assert (none.ci_low, none.ci_high) == pytest.approx(wilson_interval(0.0, 4))


def test_rare_successes_in_many_clusters_are_not_read_as_one_observation_per_cluster() -> None:
    """4 successes in 200 items, 40 templates of 5, two templates holding 2 each: the
    clustered-t interval crosses 0 (SE = sqrt(40/39 * 7.6) / 200 = 0.013959). The bounded
    reading uses n_eff = 0.02 * 0.98 / SE^2 = 100.6 observations, not 40."""
    values = np.zeros(200)
    values[[0, 1, 5, 6]] = 1.0
    clusters = np.arange(200) // 5
    assert mean_estimate(values, clusters=clusters).ci_low < 0.0
    est = proportion_estimate(values, clusters=clusters)
    stderr = math.sqrt(40 / 39 * 7.6) / 200
    n_eff = 0.02 * 0.98 / stderr**2
    assert n_eff == pytest.approx(100.6, abs=0.1)
    assert est.method == "wilson-clusters"
    assert (est.ci_low, est.ci_high) == pytest.approx(wilson_interval(0.02 * n_eff, n_eff))
    assert est.ci_high < wilson_interval(0.02 * 40, 40)[1]


def test_paired_difference_of_proportions_is_clipped_and_says_so() -> None:
    a, b = np.array([0.0, 1.0]), np.array([1.0, 1.0])
    est = paired_difference(a, b, bounds=PROBABILITY)
    assert est.method == "paired-t-clipped"
    assert (est.ci_low, est.ci_high) == (-1.0, 1.0)
    assert paired_difference(a, b).method == "paired-t"


def test_aggregate_uses_metric_spec_bounds() -> None:
    spec = MetricSpec("p_correct", Aggregation.MEAN, bounds=PROBABILITY)
    est = aggregate_metric(spec, {"p_correct": np.array([0.66, 0.0, math.nan])}, None)
    assert est.n == 2 and est.method == "wilson-bounded"
    assert est.ci_low >= 0.0 and est.ci_high <= 1.0


def test_multiple_choice_probabilities_stay_in_range_for_a_tiny_run() -> None:
    task = MultipleChoiceTask("t", list)
    bounds = {spec.name: spec.bounds for spec in task.metrics}
    assert bounds["p_correct"] == bounds["confidence"] == (0.0, 1.0)
    assert bounds["brier"] == (0.0, 2.0)
    records = [
        SampleRecord(str(i), "", "", "", None, {"acc": acc, "p_correct": p, "confidence": c,
                                                 "brier": br})
        for i, (acc, p, c, br) in enumerate([(1.0, 0.66, 0.66, 0.2), (0.0, 0.0, 0.9, 1.8)])
    ]
    results = aggregate_records(task.metrics, records)
    for name in ("acc", "p_correct", "confidence"):
        assert 0.0 <= results[name].ci_low <= results[name].ci_high <= 1.0, name
    assert 0.0 <= results["brier"].ci_low <= results["brier"].ci_high <= 2.0


def test_compare_runs_keeps_bounded_means_and_differences_in_range() -> None:
    import pandas as pd

    from lmaudit.stats import compare_runs

    df_a = pd.DataFrame({"sample_id": ["1", "2"], "p_correct": [0.66, 0.0]})
    df_b = pd.DataFrame({"sample_id": ["1", "2"], "p_correct": [0.0, 0.9]})
    free = compare_runs(df_a, df_b, "p_correct")
    assert free.mean_a.ci_low < 0.0  # what an unbounded t interval does with n = 2
    bounded = compare_runs(df_a, df_b, "p_correct", bounds=PROBABILITY)
    for est in (bounded.mean_a, bounded.mean_b):
        assert est.method == "wilson-bounded" and 0.0 <= est.ci_low <= est.ci_high <= 1.0
    assert bounded.difference.method == "paired-t-clipped"
    assert (bounded.difference.ci_low, bounded.difference.ci_high) == (-1.0, 1.0)


def test_compare_command_finds_the_task_metric_bounds() -> None:
    from lmaudit.commands.compare import metric_bounds

    bounds = metric_bounds({"invocation": {"task": "arith_mc", "task_options": {}}})
    assert bounds == {"confidence": (0.0, 1.0), "p_correct": (0.0, 1.0), "brier": (0.0, 2.0)}
    assert metric_bounds({"invocation": {"task": "/no/such/task.yaml"}}) == {}
    assert metric_bounds({}) == {}


def test_report_prints_bounded_means_in_their_own_unit() -> None:
    from lmaudit.report.fmt import is_share

    brier = mean_estimate([2.0, 0.0], bounds=(0.0, 2.0))
    assert brier.method == "wilson-bounded" and not is_share("brier", brier)
    assert is_share("correct", proportion_estimate([1.0, 0.0]))
    clustered = proportion_estimate(np.ones(6), clusters=[0, 0, 1, 1, 2, 2])
    assert clustered.method == "wilson-clusters" and is_share("correct", clustered)
