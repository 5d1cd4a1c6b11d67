"""The RMS calibration error that Humanity's Last Exam reports (stated confidence).

Definition (the HLE authors' `calib_err` with p = 2 and bin size beta = 100, itself from
Hendrycks et al.'s outlier-exposure calibration tools): sort the samples by confidence,
cut them into consecutive bins of `bin_size` samples, the last bin absorbing the remainder
(so n = 250 gives bins of 100 and 150), and return

    sqrt( sum_b (n_b / n) * (mean confidence_b - accuracy_b)^2 ).

Two conventions, both reported by lmaudit:
- `drop_last_bin=True` (default, the reference code): the sum skips the last bin while
  still dividing by the total n. This is what the published HLE numbers computed.
- `drop_last_bin=False`: every bin counts (the formula as written in words).

Inputs: confidence in [0, 1] (HLE's percentages divided by 100), correctness in {0, 1};
output in [0, 1] (HLE prints it times 100). Ties in confidence keep the input order
(stable sort; the reference's default sort may order ties differently, which matters only
for ties that straddle a bin boundary). Fewer than `bin_size` samples: NaN (the
reference raises).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lmaudit.stats.intervals import Estimate
from lmaudit.stats.validation import StatsInputError


def rms_calibration_error(
    confidence: Any, correct: Any, *, bin_size: int = 100, drop_last_bin: bool = True
) -> float:
    """RMS calibration error over consecutive equal-count bins (module docstring)."""
    conf = np.asarray(confidence, dtype=float)
    hits = np.asarray(correct, dtype=float)
    if conf.shape != hits.shape or conf.ndim != 1:
        raise StatsInputError("confidence and correct must be 1-D arrays of the same length")
    if bin_size < 1:
        raise StatsInputError("bin_size must be at least 1")
    if np.any((conf < 0) | (conf > 1)) or np.isnan(conf).any():
        raise StatsInputError("confidence must lie in [0, 1]")
    n = len(conf)
    n_bins = n // bin_size
    if n_bins == 0:
        return math.nan
    order = np.argsort(conf, kind="stable")
    conf, hits = conf[order], hits[order]
    starts = [b * bin_size for b in range(n_bins)]
    ends = [*starts[1:], n]
    used = n_bins - 1 if drop_last_bin else n_bins
    total = 0.0
    for start, end in zip(starts[:used], ends[:used], strict=True):
        gap = conf[start:end].mean() - hits[start:end].mean()
        total += (end - start) / n * gap * gap
    return math.sqrt(total)


def rms_calibration_estimate(
    confidence: Any,
    correct: Any,
    *,
    drop_last_bin: bool = True,
    bin_size: int = 100,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> Estimate:
    """`rms_calibration_error` with a percentile bootstrap interval over samples (no closed
    form); NaN value and interval below `bin_size` samples."""
    conf = np.asarray(confidence, dtype=float)
    hits = np.asarray(correct, dtype=float)
    value = rms_calibration_error(conf, hits, bin_size=bin_size, drop_last_bin=drop_last_bin)
    n = len(conf)
    if math.isnan(value):
        return Estimate(math.nan, math.nan, math.nan, n, "bootstrap-percentile")
    rng = np.random.default_rng(seed)
    draws = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        draws[b] = rms_calibration_error(conf[idx], hits[idx], bin_size=bin_size,
                                         drop_last_bin=drop_last_bin)
    alpha = (1 - level) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return Estimate(float(value), float(low), float(high), n, "bootstrap-percentile",
                    stderr=float(draws.std(ddof=1)), confidence=level)
