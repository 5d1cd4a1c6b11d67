"""Summaries of several paired differences: orientation and averages across tasks.

Conventions: a *gain* is a difference turned so that a positive value is an improvement
(`difference` for a higher-is-better metric, `-difference` otherwise), in the metric's
units. Differences on different tasks come from disjoint item sets, so their estimates are
treated as independent: the mean of K gains has standard error sqrt(sum se_k^2) / K and a
normal (z) interval (method `mean-of-independent`). Ratio-of-sums metrics (bits per byte,
perplexity) get a paired bootstrap of their difference (`paired_ratio_difference`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

from lmaudit.stats.intervals import RATIO_TRANSFORMS, Estimate
from lmaudit.stats.validation import StatsInputError, as_float_vector, check_same_length


def oriented(estimate: Estimate, higher_is_better: bool) -> Estimate:
    """`estimate` as a gain: unchanged when higher is better, negated (bounds swapped)
    otherwise."""
    if higher_is_better:
        return estimate
    return dataclasses.replace(estimate, value=-estimate.value, ci_low=-estimate.ci_high,
                               ci_high=-estimate.ci_low)


def mean_of_independent(estimates: Sequence[Estimate], confidence: float = 0.95) -> Estimate:
    """The unweighted mean of independent estimates, each with its standard error
    (module docstring). `n` is the summed sample count; NaN when a stderr is missing. The
    mean of one estimate is that estimate."""
    if not estimates:
        raise StatsInputError("the mean of no estimates is undefined")
    if len(estimates) == 1:
        return estimates[0]
    k = len(estimates)
    value = sum(e.value for e in estimates) / k
    variances = [e.stderr ** 2 if e.stderr is not None else math.nan for e in estimates]
    stderr = math.sqrt(sum(variances)) / k
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    low, high = (value - z * stderr, value + z * stderr) if math.isfinite(stderr) else (
        math.nan, math.nan)
    return Estimate(value, low, high, sum(e.n for e in estimates), "mean-of-independent",
                    stderr, confidence)


def paired_ratio_difference(
    num_a: Any, den_a: Any, num_b: Any, den_b: Any, transform: str = "identity",
    confidence: float = 0.95, n_boot: int = 2000, seed: int = 0, clusters: Any = None,
) -> Estimate:
    """`transform(sum num_b / sum den_b) - transform(sum num_a / sum den_a)` (B minus A) for
    a ratio-of-sums metric (bits per byte, perplexity) scored on the same items by two runs,
    with a paired percentile bootstrap: each replicate resamples items (whole clusters when
    `clusters` is given) and uses them for both runs, so the runs' shared item difficulty
    cancels. `stderr`: the std of the replicates (ddof=1); method
    `paired-bootstrap-percentile` (`-clusters` with clusters)."""
    arrays = [as_float_vector(x, name) for x, name in
              ((num_a, "num_a"), (den_a, "den_a"), (num_b, "num_b"), (den_b, "den_b"))]
    for name, x in zip(("den_a", "num_b", "den_b"), arrays[1:], strict=True):
        check_same_length("num_a", arrays[0], name, x)
    if transform not in RATIO_TRANSFORMS:
        raise StatsInputError(f"transform {transform!r} unknown")
    units = np.stack(arrays, axis=1)  # rows: items; columns: num_a, den_a, num_b, den_b
    method = "paired-bootstrap-percentile"
    if clusters is not None:
        _, codes = np.unique(np.asarray(clusters, dtype=str), return_inverse=True)
        sums = np.zeros((int(codes.max()) + 1, 4))
        np.add.at(sums, codes, units)
        units, method = sums, method + "-clusters"
    apply = RATIO_TRANSFORMS[transform]

    def difference(totals: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return apply(totals[..., 2] / totals[..., 3]) - apply(totals[..., 0] / totals[..., 1])

    value = float(difference(units.sum(axis=0)))
    rng = np.random.default_rng(seed)
    replicates = []
    for start in range(0, n_boot, 256):  # chunks keep memory at 256 x units
        picks = rng.integers(0, len(units), size=(min(256, n_boot - start), len(units)))
        replicates.append(difference(units[picks].sum(axis=1)))
    draws = np.concatenate(replicates)
    draws = draws[np.isfinite(draws)]
    if len(units) < 2 or draws.size < 2:
        return Estimate(value, math.nan, math.nan, len(arrays[0]), method, math.nan,
                        confidence, len(units) if clusters is not None else None)
    alpha = 1.0 - confidence
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return Estimate(value, float(low), float(high), len(arrays[0]), method,
                    float(draws.std(ddof=1)), confidence,
                    len(units) if clusters is not None else None)


def normal_p_value(value: float, stderr: float | None) -> float:
    """Two-sided p of H0: difference = 0 from a normal approximation (`value / stderr`);
    NaN without a finite stderr, and 1 or 0 for a zero stderr."""
    if stderr is None or not math.isfinite(stderr) or not math.isfinite(value):
        return math.nan
    if stderr == 0.0:
        return 1.0 if value == 0.0 else 0.0
    return 2.0 * (1.0 - NormalDist().cdf(abs(value) / stderr))
