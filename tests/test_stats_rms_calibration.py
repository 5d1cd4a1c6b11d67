"""HLE's RMS calibration error: hand-computed values, the reference's last-bin rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmaudit.stats.rms_calibration import rms_calibration_error, rms_calibration_estimate
from lmaudit.stats.validation import StatsInputError


def test_hand_computed_bins_of_two() -> None:
    # sorted: (0.1, 0), (0.2, 0) | (0.6, 1), (0.9, 0), (0.95, 1): bins of 2, last absorbs 3
    conf = [0.9, 0.1, 0.6, 0.2, 0.95]
    hits = [0, 0, 1, 0, 1]
    first = (0.15 - 0.0) ** 2 * 2 / 5
    last = ((0.6 + 0.9 + 0.95) / 3 - 2 / 3) ** 2 * 3 / 5
    assert rms_calibration_error(conf, hits, bin_size=2) == pytest.approx(math.sqrt(first))
    assert rms_calibration_error(conf, hits, bin_size=2, drop_last_bin=False) == pytest.approx(
        math.sqrt(first + last)
    )


def test_perfect_and_worst_calibration() -> None:
    conf = np.repeat([0.0, 1.0], 150)
    hits = np.repeat([0, 1], 150)
    assert rms_calibration_error(conf, hits, drop_last_bin=False) == 0.0
    # always 100% sure and always wrong: every bin is off by 1
    assert rms_calibration_error(np.ones(300), np.zeros(300), drop_last_bin=False) == 1.0
    # the reference skips the last bin but divides by all n: sqrt(200 / 300)
    assert rms_calibration_error(np.ones(300), np.zeros(300)) == pytest.approx(math.sqrt(2 / 3))


def test_too_few_samples_and_bad_input() -> None:
    assert math.isnan(rms_calibration_error([0.5] * 99, [1] * 99))
    with pytest.raises(StatsInputError):
        rms_calibration_error([1.5] * 200, [1] * 200)
    with pytest.raises(StatsInputError):
        rms_calibration_error([0.5] * 3, [1] * 2)


def test_estimate_has_a_bootstrap_interval() -> None:
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, 400)
    hits = (rng.uniform(size=400) < 0.3).astype(float)  # overconfident
    estimate = rms_calibration_estimate(conf, hits, n_boot=200)
    assert estimate.ci_low <= estimate.value <= estimate.ci_high
    assert estimate.value > 0.3
