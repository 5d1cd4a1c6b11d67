"""Metric-versus-size statistics for a scaling sweep: per-size intervals and trend tests.

Data: for each metric, a matrix `values[i, k]`: item i scored by the model of size k (the
same items at every size). Sizes are positive numbers (parameters or training FLOPs);
the tests use x_k = log10(size_k), so slopes are in metric units per tenfold size. A NaN
marks a missing value: the item is left out of that size's estimate and of the metric's
trend tests (which need the item at every size).

Trend tests treat the K models as fixed and the items as the random sample, as the paired
comparisons of `lmaudit.stats.paired` do. A linear statistic of the per-size means,
T = sum_k w_k mean_k, is the mean over items of d_i = sum_k w_k values[i, k], so its
standard error is that of a mean of d_i: t on n - 1 degrees of freedom, or the CR1
clustered standard error on G - 1 when items carry clusters. Item effects shared across
sizes cancel, as in a paired t test. The weights w are rows of the OLS solution
(X'X)^-1 X' over the K sizes:

- slope: X = [1, x]; the log-linear trend. Inverse scaling = a significantly worse trend.
- quadratic: X = [1, x, x^2] (K >= 3); its x^2 coefficient and vertex are reported, but a
  quadratic term alone does not test a U (a saturating curve has one too).
- two-lines test (Simonsohn 2018, "Two lines: a valid alternative to the invalid testing of
  U-shaped relationships with quadratic regressions"): the breakpoint is the interior size
  whose mean is worst (U: worse, then better) or best (inverted U: better, then worse); the
  OLS slope is fit on the sizes up to and including it and, separately, on the sizes from
  it on. A shape is found when both slopes are significant with the opposite signs it
  needs; its p-value is the larger of the two two-sided p-values (an intersection-union
  test). The breakpoint is chosen from the same data, which makes the test somewhat
  liberal at the chosen point; requiring both segments keeps a monotone curve unflagged.

Multiple testing: Holm's correction across the metrics of a sweep, separately for the
slope family (one test per metric) and the shape family (U and inverted U per metric).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from lmaudit.stats.intervals import Estimate, clustered_stderr, mean_estimate, proportion_estimate
from lmaudit.stats.multiple import holm_adjust, t_test_p_value
from lmaudit.stats.validation import FloatArray, StatsInputError, cluster_codes, t_quantile


@dataclass(frozen=True)
class MetricSweep:
    """One metric's per-item values at every size: `values` has shape (items, sizes).

    `proportion`: values in [0, 1], Wilson intervals; else t intervals kept inside `bounds`.
    `chance`: the metric's value for a model that guesses (None when there is none).
    """

    name: str
    values: FloatArray = field(compare=False, repr=False)
    higher_is_better: bool = True
    proportion: bool = False
    bounds: tuple[float, float] | None = None
    chance: float | None = None
    unit: str = ""


@dataclass(frozen=True)
class ContrastTest:
    """A linear statistic of the per-size means, tested over items (module docstring).

    `p_adjusted`: Holm-adjusted across the sweep's metrics (NaN where not adjusted).
    """

    estimate: float
    ci_low: float
    ci_high: float
    stderr: float
    dof: int
    p_value: float
    n: int
    p_adjusted: float = math.nan


@dataclass(frozen=True)
class ShapeTest:
    """Two-lines test of one shape, `U` (worse, then better) or `inverted-U`."""

    shape: str
    breakpoint: float | None
    before: ContrastTest | None
    after: ContrastTest | None
    p_value: float
    p_adjusted: float = math.nan


@dataclass(frozen=True)
class MetricTrend:
    """Everything the sweep says about one metric; `verdict` reads in words."""

    metric: MetricSweep
    sizes: tuple[float, ...]
    estimates: tuple[Estimate, ...]
    slope: ContrastTest
    quadratic: ContrastTest | None
    vertex: float | None
    shapes: tuple[ShapeTest, ...]
    largest_step_share: float
    verdict: str


def ols_weights(x: Sequence[float] | FloatArray, degree: int) -> FloatArray:
    """Rows of (X'X)^-1 X' for X = [1, x, ..., x^degree]: coefficient j = row j . means."""
    xs = np.asarray(x, dtype=np.float64)
    if xs.size <= degree:
        raise StatsInputError(f"a degree-{degree} fit needs more than {degree} sizes")
    design = np.vander(xs, degree + 1, increasing=True)
    return np.asarray(np.linalg.pinv(design), dtype=np.float64)


def contrast_test(
    values: FloatArray, weights: FloatArray, clusters: Sequence[object] | None = None,
    confidence: float = 0.95,
) -> ContrastTest:
    """Mean of d_i = values[i] . weights with its t interval and two-sided p (H0: 0)."""
    d = np.asarray(values, dtype=np.float64) @ np.asarray(weights, dtype=np.float64)
    n = int(d.size)
    estimate = float(d.mean()) if n else math.nan
    if clusters is None:
        stderr = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
        dof = n - 1
    else:
        _, n_clusters = cluster_codes(clusters, n)
        stderr = clustered_stderr(d, clusters) if n_clusters > 1 else math.nan
        dof = n_clusters - 1
    p = t_test_p_value(estimate, stderr, dof)
    if dof >= 1 and math.isfinite(stderr):
        half = t_quantile(confidence, dof) * stderr
        low, high = estimate - half, estimate + half
    else:
        low = high = math.nan
    return ContrastTest(estimate, low, high, stderr, dof, p, n)


def size_estimates(
    metric: MetricSweep, clusters: Sequence[object] | None = None, confidence: float = 0.95
) -> tuple[Estimate, ...]:
    """The metric's mean at each size with its interval (missing values left out)."""
    out = []
    labels = None if clusters is None else np.asarray(clusters, dtype=object)
    for k in range(metric.values.shape[1]):
        column = metric.values[:, k]
        keep = np.isfinite(column)
        if not keep.any():
            out.append(Estimate(math.nan, math.nan, math.nan, 0, "none"))
            continue
        groups = None if labels is None else labels[keep]
        if metric.proportion:
            out.append(proportion_estimate(column[keep], confidence, groups))
        else:
            out.append(mean_estimate(column[keep], confidence, groups, metric.bounds))
    return tuple(out)


def largest_step_share(means: Sequence[float] | FloatArray) -> float:
    """max |step| / sum |step| over adjacent sizes: 1 / (K - 1) for an even climb, 1 for a
    single jump; NaN with no change (a descriptive sharpness figure, not a test)."""
    steps = np.abs(np.diff(np.asarray(means, dtype=np.float64)))
    total = float(steps.sum())
    return float(steps.max() / total) if steps.size and total > 0 else math.nan


def _shape_test(
    values: FloatArray, sizes: FloatArray, means: FloatArray, shape: str,
    clusters: Sequence[object] | None, confidence: float,
) -> ShapeTest:
    x, k = np.log10(sizes), len(sizes)
    interior = means[1 : k - 1]
    if interior.size == 0 or not np.isfinite(interior).all():
        return ShapeTest(shape, None, None, None, math.nan)
    b = 1 + int(np.argmin(interior) if shape == "U" else np.argmax(interior))
    before = contrast_test(values[:, : b + 1], ols_weights(x[: b + 1], 1)[1], clusters, confidence)
    after = contrast_test(values[:, b:], ols_weights(x[b:], 1)[1], clusters, confidence)
    sign = -1.0 if shape == "U" else 1.0  # oriented: the U's first limb gets worse
    fits = sign * before.estimate > 0 and -sign * after.estimate > 0
    p = max(before.p_value, after.p_value) if fits else 1.0
    return ShapeTest(shape, float(sizes[b]), before, after, p)


def _orient(metric: MetricSweep, values: FloatArray) -> FloatArray:
    return values if metric.higher_is_better else -values


def _unadjusted_trend(
    metric: MetricSweep, sizes: FloatArray, clusters: Sequence[object] | None,
    confidence: float,
) -> MetricTrend:
    """One metric's trend with sizes ascending and p-values not yet adjusted."""
    x = np.log10(sizes)
    values = metric.values
    complete = np.isfinite(values).all(axis=1)
    kept = values[complete]
    labels = None if clusters is None else np.asarray(clusters, dtype=object)
    groups = None if labels is None else list(labels[complete])
    estimates = size_estimates(metric, clusters, confidence)
    means = np.array([e.value for e in estimates])
    slope = contrast_test(kept, ols_weights(x, 1)[1], groups, confidence)
    quadratic = vertex = None
    shapes: tuple[ShapeTest, ...] = ()
    if len(x) >= 3:
        quadratic = contrast_test(kept, ols_weights(x, 2)[2], groups, confidence)
        linear = float(ols_weights(x, 2)[1] @ kept.mean(axis=0)) if len(kept) else math.nan
        if quadratic.estimate != 0 and math.isfinite(quadratic.estimate):
            top = -linear / (2 * quadratic.estimate)
            vertex = float(10**top) if x[0] < top < x[-1] else None
        oriented, oriented_means = _orient(metric, kept), _orient(metric, means)
        shapes = tuple(_shape_test(oriented, sizes, oriented_means, s, groups, confidence)
                       for s in ("U", "inverted-U"))
    return MetricTrend(metric, tuple(float(s) for s in sizes), estimates, slope, quadratic,
                       vertex, shapes, largest_step_share(means), "")


def analyse_sweep(
    sizes: Sequence[float],
    metrics: Sequence[MetricSweep],
    clusters: Sequence[object] | None = None,
    *,
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> tuple[MetricTrend, ...]:
    """Per-size estimates, slope, quadratic and two-lines tests of every metric, with Holm
    adjustment across metrics (module docstring). Needs at least 2 sizes (3 for shapes).
    The returned trends hold their metric's values with the sizes in ascending order."""
    size_array = np.asarray(sizes, dtype=np.float64)
    if size_array.ndim != 1 or size_array.size < 2 or not (size_array > 0).all():
        raise StatsInputError("a sweep needs at least 2 positive sizes")
    if np.unique(size_array).size != size_array.size:
        raise StatsInputError("two models of a sweep have the same size")
    order = np.argsort(size_array)
    raw = []
    for metric in metrics:
        if metric.values.ndim != 2 or metric.values.shape[1] != size_array.size:
            raise StatsInputError(f"{metric.name}: values must have one column per size")
        ordered = replace(metric, values=np.asarray(metric.values, dtype=np.float64)[:, order])
        raw.append(_unadjusted_trend(ordered, size_array[order], clusters, confidence))
    slope_p = iter(holm_adjust([t.slope.p_value for t in raw]))
    shape_p = iter(holm_adjust([s.p_value for t in raw for s in t.shapes]))
    trends = []
    for trend in raw:
        slope = replace(trend.slope, p_adjusted=next(slope_p))
        shapes = tuple(replace(s, p_adjusted=next(shape_p)) for s in trend.shapes)
        trends.append(replace(trend, slope=slope, shapes=shapes,
                              verdict=verdict(trend.metric, slope, shapes, alpha)))
    return tuple(trends)


def verdict(
    metric: MetricSweep, slope: ContrastTest, shapes: Sequence[ShapeTest], alpha: float
) -> str:
    """The sweep's finding for a metric, in words (adjusted p-values against `alpha`)."""
    found = [s for s in shapes if s.p_adjusted < alpha]
    if found:
        best = min(found, key=lambda s: s.p_adjusted)
        return ("U-shaped: worse, then better" if best.shape == "U"
                else "inverted U: better, then worse")
    if slope.p_adjusted < alpha:
        better = (slope.estimate > 0) == metric.higher_is_better
        return "improves with size" if better else "inverse scaling: worse with size"
    return "no significant trend"
