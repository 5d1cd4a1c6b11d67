"""Intervals: Wilson, t, clustered standard errors, ratio bootstrap, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from lmaudit.core.types import LmauditError
from lmaudit.stats import (
    Estimate,
    bootstrap_sums,
    clustered_stderr,
    mean_estimate,
    proportion_estimate,
    ratio_estimate,
    wilson_interval,
)


def _se(estimate: Estimate) -> float:
    assert estimate.stderr is not None
    return estimate.stderr


# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Stat Med 17,
# Table I, method 3 (Wilson score interval without continuity correction), 95%.
@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_table(successes: int, n: int, low: float, high: float) -> None:
    got_low, got_high = wilson_interval(successes, n)
    assert got_low == pytest.approx(low, abs=5e-5)
    assert got_high == pytest.approx(high, abs=5e-5)


def test_wilson_bounds_are_exact_at_the_extremes_and_narrow_with_n() -> None:
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    # 1/1: center (1 + z²/2)/(1 + z²), half z sqrt(z²/4)/(1 + z²) -> low = 1/(1 + z²)
    z = scipy_stats.norm.ppf(0.975)
    assert wilson_interval(1, 1)[0] == pytest.approx(1.0 / (1.0 + z * z), rel=1e-12)
    w_small = np.diff(wilson_interval(30, 100))[0]
    w_large = np.diff(wilson_interval(300, 1000))[0]
    assert w_large < w_small
    # a higher confidence gives a wider interval
    assert np.diff(wilson_interval(30, 100, 0.99))[0] > w_small


def test_proportion_estimate_uses_wilson_and_binomial_stderr() -> None:
    values = np.array([1] * 81 + [0] * 182)
    est = proportion_estimate(values)
    assert est.method == "wilson"
    assert est.n == 263
    assert est.value == pytest.approx(81 / 263)
    assert (est.ci_low, est.ci_high) == wilson_interval(81, 263)
    p = 81 / 263
    assert est.stderr == pytest.approx(math.sqrt(p * (1 - p) / 263))


def test_mean_t_interval_matches_scipy() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(3.0, 2.0, size=37)
    est = mean_estimate(x, confidence=0.9)
    low, high = scipy_stats.t.interval(0.9, df=36, loc=x.mean(), scale=scipy_stats.sem(x))
    assert est.method == "t"
    assert est.ci_low == pytest.approx(low, rel=1e-12)
    assert est.ci_high == pytest.approx(high, rel=1e-12)
    assert est.stderr == pytest.approx(scipy_stats.sem(x), rel=1e-12)


def test_clustered_stderr_hand_computed() -> None:
    # x = [2, 4 | 3, 7, 5 | 9], clusters a, b, c; n = 6, G = 3; mean = 30 / 6 = 5.
    # deviations: [-3, -1 | -2, 2, 0 | 4]; cluster sums: a = -4, b = 0, c = 4.
    # sum of squares = 16 + 0 + 16 = 32; CR1 factor G / (G - 1) = 3 / 2 -> 48.
    # SE = sqrt(48) / 6 = 1.1547005...  (statsmodels OLS on a constant with
    # cov_type="cluster" gives 1.1547005383792526 and CI [0.0317246, 9.9682754]).
    x = np.array([2.0, 4.0, 3.0, 7.0, 5.0, 9.0])
    clusters = np.array(["a", "a", "b", "b", "b", "c"])
    expected = math.sqrt(48.0) / 6.0
    assert clustered_stderr(x, clusters) == pytest.approx(expected, rel=1e-12)
    est = mean_estimate(x, clusters=clusters)
    half = scipy_stats.t.ppf(0.975, df=2) * expected  # t on G - 1 = 2 dof
    assert est.method == "clustered-t"
    assert est.n_clusters == 3
    assert (est.ci_low, est.ci_high) == pytest.approx((5.0 - half, 5.0 + half), rel=1e-12)
    assert (est.ci_low, est.ci_high) == pytest.approx((0.03172457649933769, 9.968275423500666))


def test_one_sample_per_cluster_reduces_to_iid_stderr() -> None:
    # G = n: sqrt(n/(n-1) * sum (x - mean)^2) / n == std(ddof=1) / sqrt(n), t on n - 1 dof.
    rng = np.random.default_rng(3)
    x = rng.normal(size=25)
    iid = mean_estimate(x)
    clustered = mean_estimate(x, clusters=np.arange(25))
    assert clustered.stderr == pytest.approx(iid.stderr, rel=1e-12)
    assert clustered.ci_low == pytest.approx(iid.ci_low, rel=1e-12)
    assert clustered.ci_high == pytest.approx(iid.ci_high, rel=1e-12)


def test_clustering_widens_interval_when_clusters_are_correlated() -> None:
    rng = np.random.default_rng(11)
    cluster_effect = np.repeat(rng.normal(0, 1.0, size=20), 10)
    x = cluster_effect + rng.normal(0, 0.3, size=200)
    clusters = np.repeat(np.arange(20), 10)
    assert _se(mean_estimate(x, clusters=clusters)) > 2 * _se(mean_estimate(x))


def test_clustered_proportion() -> None:
    # values [1, 0 | 1, 1 | 0, 0]: mean 0.5, deviations sum per cluster 0, 1, -1;
    # SE = sqrt(3/2 * 2) / 6 = sqrt(3) / 6; t(2) half-width 1.24 leaves [0, 1], so the
    # interval is Wilson on the 3 clusters as 3 observations: Wilson(1.5, 3).
    values = np.array([1, 0, 1, 1, 0, 0])
    est = proportion_estimate(values, clusters=[0, 0, 1, 1, 2, 2])
    assert est.stderr == pytest.approx(math.sqrt(3.0) / 6.0)
    assert est.method == "wilson-clusters"
    assert (est.ci_low, est.ci_high) == pytest.approx((0.1253344719, 0.8746655281), abs=1e-9)
    assert (est.ci_low, est.ci_high) == wilson_interval(1.5, 3)
    # all correct: clustered SE is 0, so fall back to Wilson with one observation per cluster
    ones = proportion_estimate(np.ones(40), clusters=np.repeat(np.arange(8), 5))
    assert ones.method == "wilson-clusters"
    assert (ones.ci_low, ones.ci_high) == wilson_interval(8, 8)
    one_cluster = proportion_estimate([1, 0, 1], clusters=["x", "x", "x"])
    assert (one_cluster.ci_low, one_cluster.ci_high) == (0.0, 1.0)


def test_edge_cases() -> None:
    with pytest.raises(ValueError, match="n = 0"):
        mean_estimate([])
    with pytest.raises(LmauditError, match=r"NaN .* rows \[2\]"):
        proportion_estimate([1.0, 0.0, float("nan")])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        proportion_estimate([0.5, 2.0])
    with pytest.raises(ValueError, match="missing cluster"):
        mean_estimate([1.0, 2.0], clusters=["a", None])
    single = mean_estimate([4.2])
    assert single.value == 4.2 and math.isnan(single.ci_low) and math.isnan(_se(single))
    assert single.to_dict()["ci_low"] is None
    assert proportion_estimate([1.0]).ci_low == pytest.approx(wilson_interval(1, 1)[0])
    flat = mean_estimate([3.0] * 5)
    assert (flat.ci_low, flat.ci_high, flat.stderr) == (3.0, 3.0, 0.0)
    flat_p = proportion_estimate([1.0] * 5)
    assert flat_p.ci_low == pytest.approx(wilson_interval(5, 5)[0]) and flat_p.ci_low < 1.0


def test_estimate_to_dict_keys() -> None:
    d = mean_estimate([1.0, 2.0, 4.0]).to_dict()
    assert {"value", "ci_low", "ci_high", "n", "method", "stderr"} <= set(d)
    assert d["n"] == 3 and d["value"] == pytest.approx(7 / 3)
    assert Estimate(1.0, 0.5, 1.5, 2, "t").stderr is None


def test_ratio_point_and_transforms() -> None:
    nll = np.array([2.0, 4.0])  # nats
    tokens = np.array([1.0, 3.0])
    assert ratio_estimate(nll, tokens).value == pytest.approx(1.5)
    assert ratio_estimate(nll, tokens, transform="exp").value == pytest.approx(math.exp(1.5))
    assert ratio_estimate(nll, tokens, transform="bits").value == pytest.approx(1.5 / math.log(2))
    with pytest.raises(ValueError, match="transform"):
        ratio_estimate(nll, tokens, transform="log")
    with pytest.raises(ValueError, match="sums to 0"):
        ratio_estimate(nll, np.zeros(2))
    single = ratio_estimate([3.0], [2.0])
    assert single.value == 1.5 and math.isnan(single.ci_low)


def test_ratio_bootstrap_deterministic_and_chunk_independent() -> None:
    rng = np.random.default_rng(5)
    den = rng.integers(50, 500, size=300).astype(float)
    num = den * rng.gamma(4.0, 0.25, size=300)
    a = ratio_estimate(num, den, transform="bits", n_boot=500, seed=1)
    b = ratio_estimate(num, den, transform="bits", n_boot=500, seed=1, max_elements=1000)
    c = ratio_estimate(num, den, transform="bits", n_boot=500, seed=2)
    assert a == b
    assert a != c
    assert a.ci_low < a.value < a.ci_high
    ident = ratio_estimate(num, den, n_boot=500, seed=1)
    # bits is a linear map of the ratio, so its percentiles are the scaled identity ones
    assert a.ci_low == pytest.approx(ident.ci_low / math.log(2), rel=1e-12)
    sums = bootstrap_sums([num, den], n_boot=3, seed=0)
    assert all(s.shape == (3,) for s in sums)


def test_ratio_bootstrap_agrees_with_t_for_a_mean() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(10.0, 3.0, size=400)
    boot = ratio_estimate(x, np.ones_like(x), n_boot=2000, seed=0)
    t = mean_estimate(x)
    assert _se(boot) == pytest.approx(_se(t), rel=0.1)
    assert boot.ci_low == pytest.approx(t.ci_low, abs=0.4 * _se(t))
    assert boot.ci_high == pytest.approx(t.ci_high, abs=0.4 * _se(t))


def test_ratio_bootstrap_coverage_sanity() -> None:
    # True ratio 0.8: num_i ~ Poisson(0.8 * den_i). 300 data sets, nominal 95%.
    rng = np.random.default_rng(2024)
    hits = 0
    trials = 300
    for trial in range(trials):
        den = rng.integers(5, 60, size=60).astype(float)
        num = rng.poisson(0.8 * den).astype(float)
        est = ratio_estimate(num, den, n_boot=400, seed=trial)
        hits += est.ci_low <= 0.8 <= est.ci_high
    coverage = hits / trials
    assert 0.89 <= coverage <= 0.99, coverage


def test_cluster_bootstrap() -> None:
    rng = np.random.default_rng(9)
    num, den = rng.gamma(2.0, 1.0, size=50), rng.uniform(1, 2, size=50)
    # one sample per cluster, clusters in row order: the same draws as the sample bootstrap
    plain = ratio_estimate(num, den, n_boot=300, seed=4)
    per_row = ratio_estimate(num, den, n_boot=300, seed=4, clusters=np.arange(50))
    assert (per_row.ci_low, per_row.ci_high) == pytest.approx((plain.ci_low, plain.ci_high))
    assert per_row.method == "cluster-bootstrap-percentile" and per_row.n_clusters == 50
    # strongly correlated clusters widen the interval
    effect = np.repeat(rng.normal(0, 2.0, size=10), 20)
    num2 = np.exp(effect) + rng.uniform(0, 0.1, size=200)
    den2 = np.ones(200)
    groups = np.repeat(np.arange(10), 20)
    clustered = ratio_estimate(num2, den2, n_boot=500, seed=0, clusters=groups)
    iid = ratio_estimate(num2, den2, n_boot=500, seed=0)
    assert clustered.ci_high - clustered.ci_low > 2 * (iid.ci_high - iid.ci_low)
