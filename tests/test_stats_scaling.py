"""Scaling-sweep statistics: known values against numpy/scipy, and simulated sweeps with
planted shapes (U, smooth monotone, inverse) that the tests must and must not flag."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from lmaudit.stats.calibration import expected_calibration_error
from lmaudit.stats.intervals import mean_estimate
from lmaudit.stats.multiple import holm_adjust
from lmaudit.stats.scaling import (
    MetricSweep,
    analyse_sweep,
    contrast_test,
    largest_step_share,
    ols_weights,
)
from lmaudit.stats.scaling_calibration import calibration_trend
from lmaudit.stats.validation import StatsInputError

SIZES = (1e5, 3e5, 1e6, 3e6, 1e7, 3e7)


def simulate(probabilities: list[float], n: int = 400, seed: int = 0) -> np.ndarray:
    """0/1 results of n items at each size: logit p_ik = logit(p_k) + u_i, u_i ~ N(0, 0.7)
    (item difficulty shared by every size, as in a real benchmark)."""
    rng = np.random.default_rng(seed)
    logits = np.log(np.array(probabilities) / (1 - np.array(probabilities)))
    items = rng.normal(0.0, 0.7, size=(n, 1))
    p = 1 / (1 + np.exp(-(logits[None, :] + items)))
    return (rng.random(p.shape) < p).astype(float)


def test_slope_and_quadratic_match_polyfit_and_paired_t() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=(50, 4)) + np.array([0.0, 0.3, 0.5, 0.2])
    sizes = (1e3, 1e4, 3e4, 1e6)
    x = np.log10(sizes)
    sweep = MetricSweep("m", values)
    (trend,) = analyse_sweep(sizes, [sweep])
    means = values.mean(axis=0)
    assert trend.slope.estimate == pytest.approx(np.polyfit(x, means, 1)[0], rel=1e-10)
    assert trend.quadratic is not None
    assert trend.quadratic.estimate == pytest.approx(np.polyfit(x, means, 2)[0], rel=1e-10)
    d = values @ ols_weights(x, 1)[1]
    reference = scipy_stats.ttest_1samp(d, 0.0)
    assert trend.slope.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert trend.slope.stderr == pytest.approx(d.std(ddof=1) / math.sqrt(50))
    low, high = reference.confidence_interval(0.95)
    assert (trend.slope.ci_low, trend.slope.ci_high) == pytest.approx((low, high))
    assert trend.slope.p_adjusted == pytest.approx(trend.slope.p_value)  # one metric


def test_two_point_segment_is_a_paired_t_test_per_tenfold() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(size=(30, 2)) + np.array([0.0, 0.4])
    test = contrast_test(values, ols_weights(np.log10([1e3, 1e5]), 1)[1])
    assert test.estimate == pytest.approx((values[:, 1] - values[:, 0]).mean() / 2)
    assert test.p_value == pytest.approx(scipy_stats.ttest_rel(values[:, 1], values[:, 0]).pvalue)


def test_clustered_contrast_uses_the_cr1_standard_error() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=(40, 3))
    clusters = [f"c{i % 8}" for i in range(40)]
    weights = ols_weights(np.log10([1e3, 1e4, 1e5]), 1)[1]
    test = contrast_test(values, weights, clusters)
    reference = mean_estimate(values @ weights, clusters=clusters)
    assert test.stderr == pytest.approx(reference.stderr)
    assert (test.ci_low, test.ci_high) == pytest.approx((reference.ci_low, reference.ci_high))
    assert test.dof == 7


def test_planted_u_is_flagged_and_located() -> None:
    values = simulate([0.7, 0.5, 0.3, 0.3, 0.5, 0.7], seed=4)
    (trend,) = analyse_sweep(SIZES, [MetricSweep("acc", values, proportion=True)])
    assert trend.verdict.startswith("U-shaped")
    u = next(s for s in trend.shapes if s.shape == "U")
    assert u.breakpoint in (1e6, 3e6)
    assert u.before is not None and u.before.estimate < 0
    assert u.after is not None and u.after.estimate > 0
    assert trend.vertex is not None and 1e5 < trend.vertex < 3e7


def test_smooth_monotone_and_emergent_curves_are_not_flagged_as_shapes() -> None:
    smooth = simulate([0.1, 0.2, 0.35, 0.5, 0.65, 0.8], seed=5)
    sudden = simulate([0.02, 0.02, 0.03, 0.05, 0.6, 0.9], seed=6)  # an "emergent" jump
    trends = analyse_sweep(SIZES, [MetricSweep("smooth", smooth, proportion=True),
                                   MetricSweep("sudden", sudden, proportion=True)])
    for trend in trends:
        assert trend.verdict == "improves with size", trend.verdict
        assert all(s.p_adjusted >= 0.05 for s in trend.shapes)
    assert trends[1].largest_step_share > 0.6 > trends[0].largest_step_share


def test_planted_inverse_trend_is_flagged_with_orientation() -> None:
    worse = simulate([0.7, 0.6, 0.5, 0.4, 0.3, 0.2], seed=7)
    trends = analyse_sweep(SIZES, [
        MetricSweep("acc", worse, proportion=True),
        # an error rate that falls with size is an improvement for a lower-is-better metric
        MetricSweep("error", worse, higher_is_better=False, proportion=True),
    ])
    assert trends[0].verdict == "inverse scaling: worse with size"
    assert trends[0].slope.estimate < 0
    assert trends[1].verdict == "improves with size"


def test_inverted_u_is_flagged_for_a_lower_is_better_metric() -> None:
    error = simulate([0.2, 0.4, 0.6, 0.6, 0.4, 0.2], seed=8)  # rises then falls: a U in skill
    (trend,) = analyse_sweep(SIZES, [MetricSweep("err", error, higher_is_better=False,
                                                 proportion=True)])
    assert trend.verdict.startswith("U-shaped")


def test_flat_null_false_positive_rate_stays_near_alpha() -> None:
    flags = 0
    runs = 100
    for seed in range(runs):
        values = simulate([0.5] * 6, n=100, seed=100 + seed)
        (trend,) = analyse_sweep(SIZES, [MetricSweep("acc", values, proportion=True)])
        flags += trend.verdict != "no significant trend"
    assert flags / runs <= 0.10  # slope and shape tests at 0.05; shape test is an IUT


def test_holm_adjusts_across_metrics() -> None:
    rng = np.random.default_rng(9)
    metrics = [MetricSweep(f"m{j}", rng.normal(size=(40, 3)) + 0.05 * j * np.arange(3))
               for j in range(4)]
    trends = analyse_sweep((1e3, 1e4, 1e5), metrics)
    raw = [t.slope.p_value for t in trends]
    assert [t.slope.p_adjusted for t in trends] == pytest.approx(holm_adjust(raw))
    shape_raw = [s.p_value for t in trends for s in t.shapes]
    assert [s.p_adjusted for t in trends for s in t.shapes] == pytest.approx(
        holm_adjust(shape_raw))


def test_sizes_are_sorted_and_missing_values_skipped() -> None:
    values = np.array([[1.0, 0.0, 0.5], [1.0, 0.0, np.nan], [1.0, 0.0, 0.5]])
    (trend,) = analyse_sweep((1e6, 1e4, 1e5), [MetricSweep("m", values)])
    assert trend.sizes == (1e4, 1e5, 1e6)
    assert [e.value for e in trend.estimates] == pytest.approx([0.0, 0.5, 1.0])
    assert trend.estimates[1].n == 2
    assert trend.slope.n == 2


def test_largest_step_share_known_values() -> None:
    assert largest_step_share([0, 0, 0, 1]) == 1.0
    assert largest_step_share([0, 1, 2, 3]) == pytest.approx(1 / 3)
    assert math.isnan(largest_step_share([2, 2, 2]))


def test_invalid_sweeps_raise_one_clear_error() -> None:
    with pytest.raises(StatsInputError, match="same size"):
        analyse_sweep((1e3, 1e3), [MetricSweep("m", np.zeros((3, 2)))])
    with pytest.raises(StatsInputError, match="one column per size"):
        analyse_sweep((1e3, 1e4), [MetricSweep("m", np.zeros((3, 3)))])


def test_calibration_trend_values_and_planted_improvement() -> None:
    rng = np.random.default_rng(10)
    n, sizes = 300, (1e4, 1e5, 1e6)
    conf = rng.uniform(0.3, 1.0, size=(n, 3))
    # accuracy = confidence minus an overconfidence gap that shrinks with size
    gaps = np.array([0.3, 0.15, 0.0])
    correct = (rng.random((n, 3)) < np.clip(conf - gaps, 0, 1)).astype(float)
    trend = calibration_trend(sizes, conf, correct, n_boot=200, seed=0)
    for j in range(3):
        assert trend.ece[j].value == pytest.approx(
            expected_calibration_error(conf[:, j], correct[:, j], 10))
        assert trend.ece[j].ci_low <= trend.ece[j].value <= trend.ece[j].ci_high
    assert trend.ece[0].value > 0.2 > trend.ece[2].value
    assert trend.ece_slope.value < 0 and trend.ece_slope.ci_high < 0
    assert trend.ece_slope_p <= 0.01
    assert trend.rms_bin_size == 60
