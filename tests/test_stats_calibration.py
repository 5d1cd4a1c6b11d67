"""Expected calibration error, reliability bins and Brier scores against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmaudit.stats import (
    brier_multiclass,
    brier_score,
    expected_calibration_error,
    reliability_bins,
)

CONF = np.array(
    [0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.97, 0.62, 0.58, 0.33]
)
CORRECT = np.array([1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 1, 0])


def test_perfectly_calibrated_construction_has_zero_ece() -> None:
    # 10 confidence levels 0.05, 0.15, ..., 0.95, each used 20 times with exactly
    # 20 * c correct answers (1, 3, ..., 19): every bin's accuracy equals its confidence.
    levels = np.arange(10) / 10 + 0.05
    conf = np.repeat(levels, 20)
    correct = np.concatenate([np.r_[np.ones(k), np.zeros(20 - k)] for k in range(1, 20, 2)])
    for strategy in ("equal_mass", "equal_width"):
        assert expected_calibration_error(conf, correct, 10, strategy) == pytest.approx(
            0, abs=1e-12
        )


def test_sampled_calibrated_model_has_small_ece_and_overconfident_large() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.3, 1.0, size=20_000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    assert expected_calibration_error(p, y) < 0.02
    # claims 0.2 more confidence than it has -> ECE close to 0.2
    assert expected_calibration_error(np.minimum(p + 0.2, 1.0), y) > 0.15


def test_equal_mass_hand_computed() -> None:
    # n = 15, 4 bins -> sizes 4, 4, 4, 3 over the sorted confidences:
    #   [.33 .45 .50 .55] correct [0 0 0 1]: conf .4575, acc .25 -> |gap| .2075
    #   [.58 .60 .62 .65] correct [1 0 1 1]: conf .6125, acc .75 -> .1375
    #   [.70 .75 .80 .85] correct [0 1 1 0]: conf .775,  acc .50 -> .275
    #   [.90 .95 .97]     correct [1 1 1]:   conf .94,   acc 1   -> .06
    # ECE = 4/15 * (.2075 + .1375 + .275) + 3/15 * .06 = 0.1773333...
    # (Kumar et al.'s uncertainty-calibration 0.1.4 `get_ece_em(num_bins=4)`, which HELM
    # uses for ece_10_bin, gives 0.1773333333333333; with 3 and 5 bins 0.08 and 0.144.)
    assert expected_calibration_error(CONF, CORRECT, 4) == pytest.approx(0.1773333333333333)
    assert expected_calibration_error(CONF, CORRECT, 3) == pytest.approx(0.08)
    assert expected_calibration_error(CONF, CORRECT, 5) == pytest.approx(0.144)
    bins = reliability_bins(CONF, CORRECT, 4)
    assert [b.count for b in bins] == [4, 4, 4, 3]
    assert bins[0].upper == pytest.approx((0.55 + 0.58) / 2)  # midpoint between groups
    assert [b.accuracy for b in bins] == pytest.approx([0.25, 0.75, 0.5, 1.0])
    assert [b.mean_confidence for b in bins] == pytest.approx([0.4575, 0.6125, 0.775, 0.94])


def test_equal_width_hand_computed() -> None:
    conf = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    correct = np.array([0, 0, 1, 1, 0, 1])
    # 3 bins [0, 1/3), [1/3, 2/3), [2/3, 1]:
    #   {.1 .2 .3}: conf .2, acc 1/3 -> 2/15;  {.6}: conf .6, acc 1 -> .4;
    #   {.7 .9}: conf .8, acc .5 -> .3.   ECE = 3/6 * 2/15 + 1/6 * .4 + 2/6 * .3 = 7/30
    assert expected_calibration_error(conf, correct, 3, "equal_width") == pytest.approx(7 / 30)
    # the same data in 2 equal-mass bins: cut at (.3 + .6)/2; gaps 2/15 and 1/15 -> 0.1
    assert expected_calibration_error(conf, correct, 2, "equal_mass") == pytest.approx(0.1)


def test_equal_width_boundaries_are_left_closed_and_top_bin_closed() -> None:
    bins = reliability_bins([0.0, 0.3, 0.7, 1.0], [1, 0, 1, 1], 10, "equal_width")
    counts = [b.count for b in bins]
    assert counts == [1, 0, 0, 1, 0, 0, 0, 1, 0, 1]  # 0.3 -> [0.3, 0.4); 1.0 -> [0.9, 1]
    assert bins[3].lower == 0.3 and bins[9].upper == 1.0
    assert math.isnan(bins[1].accuracy)


def test_equal_mass_never_splits_ties() -> None:
    # sorted groups [.5 .5] [.5 .5] [.8 .9]: cuts .5 and .65, so all four .5s share a bin
    bins = reliability_bins([0.5, 0.5, 0.5, 0.5, 0.8, 0.9], [1, 0, 1, 0, 1, 1], 3)
    assert [b.count for b in bins] == [4, 0, 2]
    # more bins than samples: one bin per sample
    assert [b.count for b in reliability_bins([0.2, 0.9], [0, 1], 10)] == [1, 1]
    assert expected_calibration_error([0.2, 0.9], [0, 1], 10) == pytest.approx((0.2 + 0.1) / 2)


def test_calibration_input_errors() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error([0.5, 1.2], [1, 0])
    with pytest.raises(ValueError, match="only 0 or 1"):
        expected_calibration_error([0.5, 0.2], [1, 2])
    with pytest.raises(ValueError, match="strategy"):
        expected_calibration_error([0.5], [1], strategy="quantile")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n = 0"):
        expected_calibration_error([], [])


def test_brier_known_values() -> None:
    # rain forecasts: 0.7 and it rains -> 0.09; 0.3 and it rains -> 0.49;
    # 0.5 and it stays dry -> 0.25; 1.0 and it rains -> 0. Mean 0.83 / 4 = 0.2075.
    assert brier_score([0.7, 0.3, 0.5, 1.0], [1, 1, 0, 1]) == pytest.approx(0.2075)
    assert brier_score([0.0, 1.0], [1, 0]) == 1.0


def test_brier_multiclass() -> None:
    # [.7 .2 .1] target 0: .09 + .04 + .01 = .14; [.1 .6 .3] target 2: .01 + .36 + .49 = .86
    probs = [[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]]
    assert brier_multiclass(probs, [0, 2]) == pytest.approx(0.5)
    # two classes: twice the binary score on the probability of the target class
    p = np.array([0.9, 0.4, 0.25])
    y = np.array([1, 0, 1])
    matrix = np.column_stack([1 - p, p])
    assert brier_multiclass(matrix, y) == pytest.approx(2 * brier_score(p, y))
    assert brier_multiclass([[0.0, 1.0]], [0]) == 2.0
    with pytest.raises(ValueError, match="sum to 1"):
        brier_multiclass([[0.5, 0.6]], [0])
    with pytest.raises(ValueError, match="class indices"):
        brier_multiclass([[0.5, 0.5]], [2])
