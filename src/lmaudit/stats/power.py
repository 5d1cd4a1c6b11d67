"""Power: the smallest difference an evaluation of a given size can detect.

Convention: a two-sided test at level `alpha` of the difference between two means
measured on n samples each, normal approximation,

    MDE = (z_{1 - alpha/2} + z_{power}) * sd_diff / sqrt(n)

where `sd_diff` is the standard deviation of one sample's contribution to the difference.
For two models scored 0/1 on the same items at accuracy p, treated as independent
(conservative: positively correlated models make the paired test stronger),
sd_diff = sqrt(2 p (1 - p)); p = 0.5 is the worst case. Differences are in the metric's
units (accuracy shares, not percentage points).
"""

from __future__ import annotations

import math
from statistics import NormalDist

from lmaudit.stats.validation import StatsInputError


def minimum_detectable_difference(
    n: int, sd_diff: float, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest true difference detected with probability `power` (module docstring)."""
    if n < 1:
        raise StatsInputError(f"n must be at least 1, got {n}")
    if not (0.0 < alpha < 1.0 and 0.0 < power < 1.0):
        raise StatsInputError(f"alpha and power must lie in (0, 1), got {alpha}, {power}")
    if sd_diff < 0 or not math.isfinite(sd_diff):
        raise StatsInputError(f"sd_diff must be a finite non-negative number, got {sd_diff}")
    normal = NormalDist()
    z = normal.inv_cdf(1.0 - alpha / 2.0) + normal.inv_cdf(power)
    return z * sd_diff / math.sqrt(n)


def proportion_mde(
    n: int, p: float = 0.5, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """MDE for two accuracies near `p` on n items each: sd_diff = sqrt(2 p (1 - p))."""
    if not 0.0 <= p <= 1.0:
        raise StatsInputError(f"p must lie in [0, 1], got {p}")
    return minimum_detectable_difference(
        n, math.sqrt(2.0 * p * (1.0 - p)), alpha=alpha, power=power
    )
