"""Operating characteristics (validation/roc.py) against hand-derived values and sklearn."""

from __future__ import annotations

import numpy as np
import pytest

from lmaudit.contamination.validation.roc import (
    auroc,
    bootstrap_auroc_interval,
    fpr_at_threshold,
    operating_characteristics,
    threshold_at_fpr,
    tpr_at_fpr,
)


def test_auroc_hand_example_with_a_tie() -> None:
    # 3 members x 4 non-members = 12 pairs. 0.9 and 0.8 beat all four non-members (8);
    # 0.4 beats 0.1 and 0.3 (2) and ties 0.4 (1/2): (8 + 2 + 0.5) / 12 = 0.875.
    assert auroc([0.9, 0.8, 0.4], [0.7, 0.4, 0.1, 0.3]) == pytest.approx(10.5 / 12)
    assert auroc([1.0, 2.0], [3.0, 4.0]) == 0.0
    assert auroc([5.0, 6.0], [1.0]) == 1.0
    assert auroc([2.0, 2.0], [2.0, 2.0, 2.0]) == 0.5  # all ties: chance


def test_auroc_agrees_with_sklearn_including_ties() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    for n1, n0, shift in ((5, 7, 0.0), (40, 60, 0.7), (200, 30, -0.3)):
        members = np.round(rng.normal(shift, 1.0, n1), 1)  # rounding makes ties
        nonmembers = np.round(rng.normal(0.0, 1.0, n0), 1)
        labels = np.r_[np.ones(n1), np.zeros(n0)]
        expected = roc_auc_score(labels, np.r_[members, nonmembers])
        assert auroc(members, nonmembers) == pytest.approx(expected, abs=1e-12)


def test_auroc_rejects_empty_or_nan() -> None:
    with pytest.raises(ValueError, match="empty"):
        auroc([], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        auroc([float("nan")], [1.0])


def test_tpr_at_1_and_5_percent_fpr_differ_on_a_hand_example() -> None:
    # 100 non-members scoring 0..99. FPR <= 1% allows one non-member strictly above the
    # threshold: t = 98 (only 99 is above). FPR <= 5% allows five: t = 94 (95..99 above).
    nonmembers = np.arange(100, dtype=float)
    members = [99.5, 97.0, 96.0, 95.5, 50.0]
    assert threshold_at_fpr(nonmembers, 0.01) == 98.0
    assert threshold_at_fpr(nonmembers, 0.05) == 94.0
    assert fpr_at_threshold(nonmembers, 98.0) == pytest.approx(0.01)
    assert fpr_at_threshold(nonmembers, 94.0) == pytest.approx(0.05)
    # Detected at 1%: only 99.5 > 98. At 5%: 99.5, 97, 96 and 95.5 > 94.
    assert tpr_at_fpr(members, nonmembers, 0.01) == pytest.approx(0.2)
    assert tpr_at_fpr(members, nonmembers, 0.05) == pytest.approx(0.8)
    oc = operating_characteristics(members, nonmembers, replicates=200)
    assert (oc.tpr_at_1pct_fpr, oc.tpr_at_5pct_fpr) == (pytest.approx(0.2), pytest.approx(0.8))
    assert (oc.n_members, oc.n_nonmembers) == (5, 100)


def test_tpr_threshold_never_exceeds_the_target_fpr() -> None:
    # 50 non-members: 1% of 50 is 0.5, so no false positive is allowed (t = the maximum).
    nonmembers = np.linspace(0.0, 1.0, 50)
    assert threshold_at_fpr(nonmembers, 0.01) == 1.0
    assert tpr_at_fpr([1.0, 1.5, 0.99], nonmembers, 0.01) == pytest.approx(1 / 3)
    # Ties at the boundary: [1, 2, 3, 3, 3] at 20% FPR (at most one above). t = 2 leaves
    # three above (60%), so t = 3 (none above, FPR 0); a member tied at 3 is not detected.
    tied = [1.0, 2.0, 3.0, 3.0, 3.0]
    assert threshold_at_fpr(tied, 0.2) == 3.0
    assert tpr_at_fpr([3.0, 3.5], tied, 0.2) == 0.5
    # At FPR 100% the lowest non-member is the threshold: only members above it count.
    assert tpr_at_fpr([0.5, 1.5], tied, 1.0) == 0.5


def test_bootstrap_interval_matches_a_naive_resampling_loop() -> None:
    rng = np.random.default_rng(11)
    members = rng.normal(0.5, 1.0, 25)
    nonmembers = rng.normal(0.0, 1.0, 40)
    fast = bootstrap_auroc_interval(members, nonmembers, replicates=4000, seed=1)
    assert fast.point == auroc(members, nonmembers)
    assert fast.low < fast.point < fast.high
    # Independent implementation: draw indices with replacement in each group.
    loop = np.random.default_rng(2)
    values = [
        auroc(members[loop.integers(0, 25, 25)], nonmembers[loop.integers(0, 40, 40)])
        for _ in range(4000)
    ]
    low, high = np.quantile(values, [0.025, 0.975])
    assert fast.low == pytest.approx(low, abs=0.02)
    assert fast.high == pytest.approx(high, abs=0.02)
    # Deterministic for a seed; narrower at a lower level; degenerate when separated.
    assert bootstrap_auroc_interval(members, nonmembers, replicates=500, seed=7) == (
        bootstrap_auroc_interval(members, nonmembers, replicates=500, seed=7))
    narrow = bootstrap_auroc_interval(members, nonmembers, level=0.5, replicates=4000, seed=1)
    assert narrow.high - narrow.low < fast.high - fast.low
    separated = bootstrap_auroc_interval([5.0, 6.0], [1.0, 2.0], replicates=100)
    assert (separated.low, separated.high) == (1.0, 1.0)
    assert separated.contains(1.0) and not separated.contains(0.5)
