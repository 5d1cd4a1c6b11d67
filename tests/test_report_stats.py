"""Multiple-comparison adjustments and power against values computed by hand.

Holm and Benjamini–Hochberg: p = (0.01, 0.04, 0.03, 0.005), m = 4.
Sorted: 0.005, 0.01, 0.03, 0.04.
Holm: 4*0.005 = 0.02, 3*0.01 = 0.03, 2*0.03 = 0.06, 1*0.04 = 0.04 -> running max
      0.02, 0.03, 0.06, 0.06; in input order (0.03, 0.06, 0.06, 0.02).
BH:   0.005*4/1 = 0.02, 0.01*4/2 = 0.02, 0.03*4/3 = 0.04, 0.04*4/4 = 0.04 -> running min
      from the top: 0.02, 0.02, 0.04, 0.04; in input order (0.02, 0.04, 0.04, 0.02).
(statsmodels.stats.multitest.multipletests gives the same for 'holm' and 'fdr_bh'.)
"""

from __future__ import annotations

import math

import pytest

from lmaudit.stats.multiple import benjamini_hochberg_adjust, holm_adjust, t_test_p_value
from lmaudit.stats.power import minimum_detectable_difference, proportion_mde
from lmaudit.stats.validation import StatsInputError

P = [0.01, 0.04, 0.03, 0.005]


def test_holm_known_values() -> None:
    assert holm_adjust(P) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_bh_known_values() -> None:
    assert benjamini_hochberg_adjust(P) == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_adjustments_cap_at_one_and_keep_nan() -> None:
    holm = holm_adjust([0.5, math.nan, 0.9])
    assert holm[0] == pytest.approx(1.0) and holm[2] == pytest.approx(1.0)
    assert math.isnan(holm[1])
    bh = benjamini_hochberg_adjust([0.5, math.nan, 0.9])
    assert bh == pytest.approx([0.9, math.nan, 0.9], nan_ok=True)
    assert holm_adjust([]) == [] and benjamini_hochberg_adjust([]) == []
    with pytest.raises(StatsInputError):
        holm_adjust([1.5])


def test_single_p_value_is_unchanged() -> None:
    assert holm_adjust([0.2]) == [0.2]
    assert benjamini_hochberg_adjust([0.2]) == [0.2]


def test_mde_formula() -> None:
    # (z_0.975 + z_0.8) * sqrt(2 * 0.25) / sqrt(100) = (1.959964 + 0.841621) * 0.0707107
    assert proportion_mde(100, 0.5) == pytest.approx(0.198101, abs=1e-6)
    assert minimum_detectable_difference(400, 1.0) == pytest.approx(2.801585 / 20, abs=1e-6)
    assert proportion_mde(100, 1.0) == 0.0
    with pytest.raises(StatsInputError):
        proportion_mde(0)


def test_t_test_p_value() -> None:
    # t = 2.0 on 10 dof: two-sided p = 0.07338803 (tables)
    assert t_test_p_value(0.2, 0.1, 10) == pytest.approx(0.073388, abs=1e-6)
    assert t_test_p_value(0.0, 0.0, 5) == 1.0
    assert math.isnan(t_test_p_value(0.1, None, 5))
