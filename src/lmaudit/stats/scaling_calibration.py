"""Calibration of a scaling sweep: ECE and RMS calibration error at each size, and their trend.

Inputs are matrices of shape (items, sizes): `confidence[i, k]`, the probability the model of
size k gave its own answer to item i (e.g. the top option's softmax probability over the
choices), and `correct[i, k]` in {0, 1}. ECE is `expected_calibration_error` (10 equal-mass
bins, plug-in); the RMS error is `rms_calibration_error` (consecutive equal-count bins of
`bin_size` items, every bin counted). Neither is a mean of per-item values, so intervals and
the trend come from a paired bootstrap over items: each replicate draws items with
replacement and keeps each drawn item's results at every size together. The ECE trend is
the OLS slope of ECE on log10(size) (ECE per tenfold size); its p-value is the two-sided
bootstrap p, 2 * min(share of replicate slopes <= 0, share >= 0), floored at 1 / n_boot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmaudit.stats.calibration import expected_calibration_error
from lmaudit.stats.intervals import Estimate
from lmaudit.stats.rms_calibration import rms_calibration_error
from lmaudit.stats.validation import FloatArray, StatsInputError


@dataclass(frozen=True)
class CalibrationTrend:
    """ECE and RMS calibration error per size (sizes ascending) and the ECE slope."""

    sizes: tuple[float, ...]
    ece: tuple[Estimate, ...]
    rms: tuple[Estimate, ...]
    ece_slope: Estimate
    ece_slope_p: float
    n_bins: int
    rms_bin_size: int
    n_boot: int


def rms_bin_size(n: int) -> int:
    """Items per RMS bin: HLE's 100 from 500 items on, else n // 5 (at least 2)."""
    return 100 if n >= 500 else max(2, n // 5)


def _slope_weights(x: FloatArray) -> FloatArray:
    centred = x - x.mean()
    return np.asarray(centred / float((centred**2).sum()), dtype=np.float64)


def _percentile_estimate(value: float, draws: FloatArray, n: int, confidence: float) -> Estimate:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return Estimate(value, float(low), float(high), n, "paired-bootstrap-percentile",
                    float(draws.std(ddof=1)), confidence)


def calibration_trend(
    sizes: Sequence[float],
    confidence: FloatArray,
    correct: FloatArray,
    *,
    n_bins: int = 10,
    n_boot: int = 500,
    seed: int = 0,
    level: float = 0.95,
) -> CalibrationTrend:
    """ECE and RMS error per size with paired-bootstrap intervals, and the ECE slope over
    log10(size) (module docstring). Rows with a missing value at any size are dropped."""
    size_array = np.asarray(sizes, dtype=np.float64)
    conf = np.asarray(confidence, dtype=np.float64)
    hits = np.asarray(correct, dtype=np.float64)
    if conf.shape != hits.shape or conf.ndim != 2 or conf.shape[1] != size_array.size:
        raise StatsInputError("confidence and correct must be (items, sizes) matrices")
    if size_array.size < 2:
        raise StatsInputError("a calibration trend needs at least 2 sizes")
    order = np.argsort(size_array)
    keep = np.isfinite(conf).all(axis=1) & np.isfinite(hits).all(axis=1)
    conf, hits = conf[keep][:, order], hits[keep][:, order]
    n, k = conf.shape
    if n < 2:
        raise StatsInputError("calibration needs at least 2 items answered at every size")
    bin_size = rms_bin_size(n)
    weights = _slope_weights(np.log10(size_array[order]))

    def errors(rows: Any) -> tuple[FloatArray, FloatArray]:
        ece = np.array([expected_calibration_error(conf[rows, j], hits[rows, j], n_bins)
                        for j in range(k)])
        rms = np.array([rms_calibration_error(conf[rows, j], hits[rows, j],
                                              bin_size=bin_size, drop_last_bin=False)
                        for j in range(k)])
        return ece, rms

    ece, rms = errors(np.arange(n))
    rng = np.random.default_rng(seed)
    ece_draws = np.empty((n_boot, k))
    rms_draws = np.empty((n_boot, k))
    for b in range(n_boot):
        ece_draws[b], rms_draws[b] = errors(rng.integers(0, n, size=n))
    slope_draws = ece_draws @ weights
    slope = float(ece @ weights)
    share_low = float((slope_draws <= 0).mean())
    share_high = float((slope_draws >= 0).mean())
    p = max(min(1.0, 2.0 * min(share_low, share_high)), 1.0 / n_boot)
    return CalibrationTrend(
        tuple(float(s) for s in size_array[order]),
        tuple(_percentile_estimate(float(ece[j]), ece_draws[:, j], n, level) for j in range(k)),
        tuple(_percentile_estimate(float(rms[j]), rms_draws[:, j], n, level) for j in range(k)),
        _percentile_estimate(slope, slope_draws, n, level),
        p if math.isfinite(slope) else math.nan,
        n_bins, bin_size, n_boot,
    )
