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


def nominal_coincidences(
    units: Sequence[Sequence[Hashable | None]],
) -> tuple[tuple[Hashable, ...], np.ndarray]:
    """Categories (sorted by their string form) and the coincidence matrix o_ck."""
    categories = sorted({value for unit in units for value in unit if value is not None}, key=str)
    index = {c: i for i, c in enumerate(categories)}
    matrix = np.zeros((len(categories), len(categories)))
    for unit in units:
        counts = np.zeros(len(categories))
        for value in unit:
            if value is not None:
                counts[index[value]] += 1
        m = counts.sum()
        if m < 2:
            continue
        pairs = np.outer(counts, counts) - np.diag(counts)  # ordered pairs of distinct raters
        matrix += pairs / (m - 1)
    return tuple(categories), matrix


def krippendorff_alpha_nominal(units: Sequence[Sequence[Hashable | None]]) -> float:
    """Krippendorff's alpha (nominal) of `units` (each a sequence of raters' labels)."""
    _, o = nominal_coincidences(units)
    n_c = o.sum(axis=1)
    n = float(n_c.sum())
    if n < 2:
        return float("nan")
    observed = float(o.sum() - np.trace(o))
    expected = float(n * n - np.sum(n_c * n_c))
    if expected <= 0:
        return float("nan")
    return 1.0 - (n - 1.0) * observed / expected
