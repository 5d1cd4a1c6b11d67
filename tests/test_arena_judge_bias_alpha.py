"""Krippendorff's alpha (nominal) against the published example and the reference package."""

from __future__ import annotations

import numpy as np
import pytest

from lmaudit.stats.krippendorff import krippendorff_alpha_nominal, nominal_coincidences

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C:
# 4 observers x 12 units with missing values; nominal alpha = 0.743.
_OBSERVERS = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def _units(observers: list[list[int | None]]) -> list[list[int | None]]:
    return [list(unit) for unit in zip(*observers, strict=True)]


def test_published_example() -> None:
    alpha = krippendorff_alpha_nominal(_units(_OBSERVERS))
    assert alpha == pytest.approx(0.743, abs=5e-4)
    categories, o = nominal_coincidences(_units(_OBSERVERS))
    assert categories == (1, 2, 3, 4, 5)
    assert o.sum() == pytest.approx(40)  # n: pairable values (unit 12 has one value)
    assert o[0, 0] == pytest.approx(7)  # the paper's coincidence table, cell (1, 1)


def test_edge_cases() -> None:
    assert krippendorff_alpha_nominal([["a", "a"], ["b", "b"]]) == pytest.approx(1.0)
    assert np.isnan(krippendorff_alpha_nominal([["a", "a"], ["a", "a"]]))  # no variation
    assert np.isnan(krippendorff_alpha_nominal([["a", None], [None, "b"]]))  # nothing paired
    # systematic disagreement is below chance
    assert krippendorff_alpha_nominal([["a", "b"], ["b", "a"]]) < 0


def test_matches_reference_package() -> None:
    krippendorff = pytest.importorskip("krippendorff")
    rng = np.random.default_rng(3)
    for trial in range(5):
        truth = rng.integers(0, 3, size=40)
        data = np.where(rng.random((4, 40)) < 0.7, truth, rng.integers(0, 3, size=(4, 40)))
        data = data.astype(float)
        data[rng.random((4, 40)) < 0.15] = np.nan
        units = [[None if np.isnan(v) else int(v) for v in column] for column in data.T]
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        assert krippendorff_alpha_nominal(units) == pytest.approx(expected, abs=1e-10), trial
