"""Krippendorff's alpha for nominal data (any number of raters, missing values allowed).

Conventions (Krippendorff, "Computing Krippendorff's Alpha-Reliability", 2011):
- The data are units x raters; a rater that did not rate a unit gives `None`. Only units
  with at least two values are pairable; the others are ignored.
- Coincidences: each pairable unit u with m_u values adds, for every ordered pair of its
  values (c, k) from two different raters, 1 / (m_u - 1) to o_ck. n_c = sum_k o_ck and
  n = sum_c n_c (the number of pairable values).
- Nominal distance (0 when equal, 1 otherwise):

      alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k

- alpha is 1 for perfect agreement, 0 for agreement at chance level and negative below it.
  It is NaN when fewer than two values are pairable or every pairable value is the same
  category (no expected disagreement: alpha is undefined).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def unit_coincidences(
    units: Sequence[Sequence[Hashable | None]],
) -> tuple[tuple[Hashable, ...], np.ndarray]:
    """Categories (sorted by their string form) and each unit's coincidences, shape
    (units, categories, categories); units with fewer than two values contribute zeros.
    Summing over units (or over a bootstrap resample of them) gives o_ck."""
    categories = sorted({value for unit in units for value in unit if value is not None}, key=str)
    index = {c: i for i, c in enumerate(categories)}
    out = np.zeros((len(units), len(categories), len(categories)))
    for u, unit in enumerate(units):
        counts = np.zeros(len(categories))
        for value in unit:
            if value is not None:
                counts[index[value]] += 1
        m = counts.sum()
        if m >= 2:  # ordered pairs of values from distinct raters, weighted 1 / (m_u - 1)
            out[u] = (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    return tuple(categories), out


def nominal_coincidences(
    units: Sequence[Sequence[Hashable | None]],
) -> tuple[tuple[Hashable, ...], np.ndarray]:
    """Categories (sorted by their string form) and the coincidence matrix o_ck."""
    categories, per_unit = unit_coincidences(units)
    return categories, per_unit.sum(axis=0)


def alpha_from_coincidences(o: np.ndarray) -> np.ndarray:
    """Nominal alpha from coincidence matrices (..., categories, categories); NaN where
    fewer than two values are pairable or no disagreement is expected."""
    o = np.asarray(o, dtype=float)
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    observed = o.sum(axis=(-2, -1)) - np.trace(o, axis1=-2, axis2=-1)
    expected = n * n - np.sum(n_c * n_c, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1.0 - (n - 1.0) * observed / expected
    return np.asarray(np.where((n >= 2) & (expected > 0), alpha, np.nan))


def krippendorff_alpha_nominal(units: Sequence[Sequence[Hashable | None]]) -> float:
    """Krippendorff's alpha (nominal) of `units` (each a sequence of raters' labels)."""
    _, o = nominal_coincidences(units)
    if o.size == 0:
        return float("nan")
    return float(alpha_from_coincidences(o))
