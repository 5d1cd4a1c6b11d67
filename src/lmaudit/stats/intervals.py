"""Point estimates with confidence intervals over per-sample scores.

Conventions
- Intervals are two-sided at level `confidence` (default 0.95).
- Clustered standard errors follow Inspect AI's `stderr(cluster=...)` and the CR1 sandwich
  estimator of an intercept-only regression (what statsmodels' `cov_type="cluster"` gives):

      SE = sqrt( G / (G - 1) * sum_g ( sum_{i in g} (x_i - mean) )^2 ) / n

  with G clusters and n samples; the interval uses Student's t on G - 1 degrees of freedom.
  With one sample per cluster (G = n) this is exactly the iid `std(ddof=1) / sqrt(n)`.
- Bounded metrics (proportions, probabilities, Brier scores: `bounds=(lower, upper)`)
  always get an interval inside their range. The t (or clustered-t) interval is kept when
  it lies inside the range and has a positive stderr; otherwise (small n or few clusters,
  a mean near a bound, no observed variation) the mean is rescaled to [0, 1] and given a
  Wilson interval on the effective number of observations: n without clusters (method
  `wilson-bounded`; proportions: `wilson`); with clusters (method
  `wilson-bounded-clusters`; proportions: `wilson-clusters`) the design-effect sample size
  p (1 - p) / SE^2 of the clustered standard error (Kish; the Korn-Graubard reading of
  Wilson for clustered samples), at most n; with no observed variation (SE = 0) Kish's
  effective number of clusters n^2 / sum_g n_g^2, each cluster counted as one observation
  (G for equal cluster sizes). A score in [0, 1] with mean p has variance at most
  p (1 - p), so this reading is conservative.
- Edge cases: n = 0 or any NaN/inf raises `StatsInputError` (a `ValueError`). When there is
  only one sample (or one cluster) no spread can be estimated: unbounded means and ratios
  get NaN bounds and NaN stderr; bounded metrics keep the Wilson interval (defined for
  n = 1), or get their full range when clustered into one cluster. All-equal values of an
  unbounded mean give a zero-width t interval (no observed variation).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmaudit.stats.bootstrap import DEFAULT_MAX_ELEMENTS, bootstrap_sums
from lmaudit.stats.validation import (
    FloatArray,
    IntArray,
    StatsInputError,
    as_float_vector,
    check_confidence,
    check_same_length,
    cluster_codes,
    normal_quantile,
    t_quantile,
)

NAN = float("nan")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval.

    `n`: samples used. `method`: how the interval was made (`wilson`, `t`, `clustered-t`,
    `wilson-bounded`, `wilson-clusters`, `wilson-bounded-clusters`, `bootstrap-percentile`,
    `cluster-bootstrap-percentile`, or a `paired-` variant, `-clipped` when a paired
    difference's interval was clipped to its range). `stderr`: the standard error behind
    the interval (bootstrap: std of the replicates), None where the method has none.
    `n_clusters`: G when clustered. `proportion`: a share of successes in [0, 1]
    (`proportion_estimate`), whatever its interval method (reports print it as a percentage).
    """

    value: float
    ci_low: float
    ci_high: float
    n: int
    method: str
    stderr: float | None = None
    confidence: float = 0.95
    n_clusters: int | None = None
    proportion: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; NaN and infinite floats become None; `proportion` only when
        true."""

        def clean(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        payload = {
            "value": clean(self.value),
            "ci_low": clean(self.ci_low),
            "ci_high": clean(self.ci_high),
            "n": self.n,
            "method": self.method,
            "stderr": clean(self.stderr),
            "confidence": self.confidence,
            "n_clusters": self.n_clusters,
        }
        return {**payload, "proportion": True} if self.proportion else payload


def wilson_interval(
    successes: float, n: float, confidence: float = 0.95
) -> tuple[float, float]:
    """Wilson (1927) score interval for a binomial proportion `successes / n`.

    `successes` may be fractional (a sum of scores in [0, 1]), and so may `n` (an effective
    number of observations, at least 1). Bounds are exactly 0 when `successes == 0` and
    exactly 1 when `successes == n`.
    """
    if not n >= 1:
        raise StatsInputError(f"wilson_interval: n must be at least 1, got {n}")
    if not 0.0 <= successes <= n:
        raise StatsInputError(f"wilson_interval: successes {successes} outside [0, {n}]")
    z = normal_quantile(confidence)
    p = successes / n
    z2_n = z * z / n
    center = (p + z2_n / 2.0) / (1.0 + z2_n)
    half = z * math.sqrt(p * (1.0 - p) / n + z2_n / (4.0 * n)) / (1.0 + z2_n)
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == n else min(1.0, center + half)
    return low, high


def clustered_stderr(values: Any, clusters: Any) -> float:
    """Cluster-robust (CR1) standard error of the mean of `values`; NaN with one cluster."""
    x = as_float_vector(values, "values")
    codes, n_clusters = cluster_codes(clusters, x.shape[0])
    return _clustered_stderr(x, codes, n_clusters)


def _clustered_stderr(x: FloatArray, codes: IntArray, n_clusters: int) -> float:
    if n_clusters < 2:
        return NAN
    deviations = x - x.mean()
    cluster_sums = np.bincount(codes, weights=deviations, minlength=n_clusters)
    meat = float(np.sum(cluster_sums**2))
    return math.sqrt(meat * n_clusters / (n_clusters - 1)) / x.shape[0]


def _t_bounds(value: float, stderr: float, dof: int, confidence: float) -> tuple[float, float]:
    if not math.isfinite(stderr):
        return NAN, NAN
    half = t_quantile(confidence, dof) * stderr
    return value - half, value + half


def mean_estimate(
    values: Any,
    confidence: float = 0.95,
    clusters: Any = None,
    bounds: tuple[float, float] | None = None,
) -> Estimate:
    """Mean with a Student-t interval.

    Without clusters: stderr = std(ddof=1) / sqrt(n), t on n - 1 degrees of freedom.
    With clusters: the CR1 clustered stderr (module docstring), t on G - 1 degrees of freedom.
    n = 1 (or G = 1) gives NaN bounds and stderr.
    `bounds=(lower, upper)`: every value must lie in that range, and so does the interval
    (rules in the module docstring).
    """
    confidence = check_confidence(confidence)
    x = as_float_vector(values, "values")
    if bounds is not None:
        x = _check_within(x, bounds)
    n = x.shape[0]
    value = float(x.mean())
    if clusters is None:
        stderr = float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else NAN
        low, high = _t_bounds(value, stderr, n - 1, confidence)
        estimate = Estimate(value, low, high, n, "t", stderr, confidence)
        return estimate if bounds is None else _within_bounds(estimate, bounds, None)
    codes, n_clusters = cluster_codes(clusters, n)
    stderr = _clustered_stderr(x, codes, n_clusters)
    low, high = _t_bounds(value, stderr, n_clusters - 1, confidence)
    estimate = Estimate(value, low, high, n, "clustered-t", stderr, confidence, n_clusters)
    return estimate if bounds is None else _within_bounds(estimate, bounds, codes)


def _check_within(x: FloatArray, bounds: tuple[float, float]) -> FloatArray:
    """`x` clipped to `bounds`; StatsInputError for a value outside them by more than
    rounding (1e-9 of the range)."""
    lower, upper = bounds
    if not lower < upper:
        raise StatsInputError(f"bounds: lower {lower} must be below upper {upper}")
    slack = 1e-9 * (upper - lower)
    outside = (x < lower - slack) | (x > upper + slack)
    if outside.any():
        rows = np.flatnonzero(outside)[:5].tolist()
        raise StatsInputError(
            f"values: a metric bounded to [{lower:g}, {upper:g}] has rows {rows} outside it"
        )
    return np.clip(x, lower, upper)


def effective_clusters(codes: IntArray) -> float:
    """Kish's effective number of clusters n^2 / sum_g n_g^2 (G for equal sizes, less for
    unequal ones, at least 1)."""
    sizes = np.bincount(codes).astype(np.float64)
    return float(sizes.sum() ** 2 / np.sum(sizes**2))


def design_effective_n(share: float, stderr: float | None, n: int, codes: IntArray) -> float:
    """Effective sample size of a clustered mean of scores in [0, 1]: share (1 - share) /
    stderr^2 (the design effect's reading), at most n and at least 1; Kish's effective number
    of clusters when the data show no variation (stderr 0 or undefined, share 0 or 1)."""
    if stderr is not None and math.isfinite(stderr) and stderr > 0.0 and 0.0 < share < 1.0:
        return min(float(n), max(1.0, share * (1.0 - share) / stderr**2))
    return effective_clusters(codes)


def _within_bounds(
    estimate: Estimate, bounds: tuple[float, float], codes: IntArray | None
) -> Estimate:
    """`estimate` if its interval lies in `bounds` with a positive stderr; otherwise the
    bounded Wilson reading of the module docstring (full range for a single cluster)."""
    lower, upper = bounds
    low, high, stderr = estimate.ci_low, estimate.ci_high, estimate.stderr
    if (
        stderr is not None
        and stderr > 0.0
        and lower <= low <= high <= upper  # False for NaN bounds
    ):
        return estimate
    if codes is not None and (estimate.n_clusters or 0) < 2:
        return dataclasses.replace(estimate, ci_low=lower, ci_high=upper)
    width = upper - lower
    share = min(1.0, max(0.0, (estimate.value - lower) / width))
    if codes is None:
        n_eff = float(estimate.n)
    else:
        scaled = None if stderr is None else stderr / width
        n_eff = design_effective_n(share, scaled, estimate.n, codes)
    w_low, w_high = wilson_interval(share * n_eff, n_eff, estimate.confidence)
    return dataclasses.replace(
        estimate,
        ci_low=lower + w_low * width,
        ci_high=lower + w_high * width,
        method="wilson-bounded" if codes is None else "wilson-bounded-clusters",
    )


def proportion_estimate(values: Any, confidence: float = 0.95, clusters: Any = None) -> Estimate:
    """Share of successes with an interval; values are scores in [0, 1] (usually 0/1).

    Fractional scores are accepted: Wilson on (sum, n) is then conservative, since a score
    in [0, 1] with mean p has variance at most p (1 - p).

    Without clusters: Wilson interval on (sum, n); stderr = sqrt(p (1 - p) / n).
    With clusters: CR1 clustered stderr and a t interval on G - 1 degrees of freedom when
    it lies inside [0, 1] with a positive stderr; otherwise (few clusters, p near 0 or 1)
    Wilson on Kish's effective number of clusters (method `wilson-clusters`, module
    docstring). One cluster gives [0, 1].
    """
    confidence = check_confidence(confidence)
    x = as_float_vector(values, "values")
    outside = (x < 0.0) | (x > 1.0)
    if outside.any():
        rows = np.flatnonzero(outside)[:5].tolist()
        raise StatsInputError(f"values: a proportion needs scores in [0, 1]; rows {rows} are not")
    n = x.shape[0]
    p = float(x.mean())
    if clusters is None:
        low, high = wilson_interval(float(x.sum()), n, confidence)
        stderr = math.sqrt(p * (1.0 - p) / n)
        return Estimate(p, low, high, n, "wilson", stderr, confidence, proportion=True)
    estimate = mean_estimate(x, confidence, clusters, bounds=(0.0, 1.0))
    if estimate.method == "wilson-bounded-clusters":
        estimate = dataclasses.replace(estimate, method="wilson-clusters")
    return dataclasses.replace(estimate, proportion=True)


RATIO_TRANSFORMS: dict[str, Callable[[FloatArray], FloatArray]] = {
    "identity": lambda r: r,
    "exp": np.exp,
    "bits": lambda r: r / math.log(2.0),
}


def ratio_estimate(
    numerator: Any,
    denominator: Any,
    transform: str = "identity",
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    clusters: Any = None,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> Estimate:
    """`transform(sum(numerator) / sum(denominator))` with a percentile bootstrap interval.

    Transforms: `identity`; `exp` (perplexity from summed NLL in nats over token counts);
    `bits` (ratio / ln 2, e.g. bits per byte from summed NLL in nats over byte counts).
    The numerator is used as given (pass negative log-likelihoods, not log-probs, for `exp`).

    Bootstrap: `n_boot` resamples of the samples with replacement (of whole clusters, with
    their summed numerators and denominators, when `clusters` is given), seeded by `seed`;
    the interval is the (alpha/2, 1 - alpha/2) quantile pair of the transformed replicates
    and stderr is their std (ddof=1). Replicates whose denominator sums to 0 are discarded.
    One sample (or one cluster) gives NaN bounds and stderr.
    """
    confidence = check_confidence(confidence)
    if transform not in RATIO_TRANSFORMS:
        raise StatsInputError(
            f"transform {transform!r} unknown; choose one of {sorted(RATIO_TRANSFORMS)}"
        )
    if n_boot < 2:
        raise StatsInputError(f"n_boot must be at least 2, got {n_boot}")
    num = as_float_vector(numerator, "numerator")
    den = as_float_vector(denominator, "denominator")
    check_same_length("numerator", num, "denominator", den)
    if den.sum() == 0.0:
        raise StatsInputError("denominator sums to 0; the ratio is undefined")
    apply = RATIO_TRANSFORMS[transform]
    with np.errstate(over="ignore"):
        value = float(apply(np.array([num.sum() / den.sum()]))[0])
    n = num.shape[0]
    n_clusters: int | None = None
    method = "bootstrap-percentile"
    if clusters is not None:
        codes, n_clusters = cluster_codes(clusters, n)
        num = np.bincount(codes, weights=num, minlength=n_clusters).astype(np.float64)
        den = np.bincount(codes, weights=den, minlength=n_clusters).astype(np.float64)
        method = "cluster-bootstrap-percentile"
    if num.shape[0] < 2:
        return Estimate(value, NAN, NAN, n, method, NAN, confidence, n_clusters)
    num_sums, den_sums = bootstrap_sums([num, den], n_boot, seed, max_elements)
    usable = den_sums != 0.0
    with np.errstate(over="ignore"):
        replicates = apply(num_sums[usable] / den_sums[usable])
    if replicates.shape[0] < 2:
        raise StatsInputError("almost every bootstrap replicate has a zero denominator")
    alpha = 1.0 - confidence
    low, high = np.quantile(replicates, [alpha / 2.0, 1.0 - alpha / 2.0])
    stderr = float(np.std(replicates, ddof=1))
    return Estimate(value, float(low), float(high), n, method, stderr, confidence, n_clusters)
