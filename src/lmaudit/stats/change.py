"""Summaries of several paired differences: orientation and averages across tasks.

Conventions: a *gain* is a difference turned so that a positive value is an improvement
(`difference` for a higher-is-better metric, `-difference` otherwise), in the metric's
units. Differences on different tasks come from disjoint item sets, so their estimates are
treated as independent: the mean of K gains has standard error sqrt(sum se_k^2) / K and a
normal (z) interval (method `mean-of-independent`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from statistics import NormalDist

from lmaudit.stats.intervals import Estimate
from lmaudit.stats.validation import StatsInputError


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
