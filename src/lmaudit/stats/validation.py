"""Input checks shared by the statistics functions.

Every check raises `StatsInputError`, which is both an `LmauditError` (the CLI prints it in
one line) and a `ValueError` (what a caller of a maths function expects).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from lmaudit.core.types import LmauditError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class StatsInputError(LmauditError, ValueError):
    """Statistics were asked of input they cannot describe (empty, NaN, wrong shape...)."""


def _rows(mask: npt.NDArray[np.bool_], limit: int = 5) -> str:
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    more = f", ... ({rows.size} rows)" if rows.size > limit else ""
    return f"[{shown}{more}]"


def as_float_vector(values: Any, name: str, *, allow_empty: bool = False) -> FloatArray:
    """`values` as a 1-D float64 array; raises on NaN/inf, on other shapes, and when empty."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise StatsInputError(f"{name}: values are not numbers ({error})") from None
    if array.ndim != 1:
        raise StatsInputError(f"{name}: expected a 1-D array, got shape {array.shape}")
    if array.size == 0 and not allow_empty:
        raise StatsInputError(f"{name}: no values (n = 0); an estimate needs at least one")
    bad = ~np.isfinite(array)
    if bad.any():
        raise StatsInputError(
            f"{name}: NaN or infinite value at rows {_rows(bad)}; drop or fill them first"
        )
    return array


def as_binary_vector(values: Any, name: str) -> FloatArray:
    """`values` as a float64 array of 0.0/1.0 (booleans accepted)."""
    array = as_float_vector(values, name)
    bad = (array != 0.0) & (array != 1.0)
    if bad.any():
        raise StatsInputError(
            f"{name}: expected only 0 or 1, got other values at rows {_rows(bad)}"
        )
    return array


def check_same_length(name_a: str, a: npt.NDArray[Any], name_b: str, b: npt.NDArray[Any]) -> None:
    if a.shape[0] != b.shape[0]:
        raise StatsInputError(
            f"{name_a} has {a.shape[0]} rows but {name_b} has {b.shape[0]}; they must be paired"
        )


def cluster_codes(clusters: Any, n: int, name: str = "clusters") -> tuple[IntArray, int]:
    """Integer codes 0..G-1 for any hashable cluster labels, and the number of clusters G.

    Missing labels (None/NaN) raise: a sample without a cluster cannot be placed.
    """
    labels = np.asarray(clusters, dtype=object)
    if labels.ndim != 1:
        raise StatsInputError(f"{name}: expected a 1-D array, got shape {labels.shape}")
    if labels.shape[0] != n:
        raise StatsInputError(f"{name} has {labels.shape[0]} rows but the values have {n}")
    import pandas as pd  # deferred: ~0.3 s to import, needed only with clusters

    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    missing = codes < 0
    if missing.any():
        raise StatsInputError(f"{name}: missing cluster label at rows {_rows(missing)}")
    return codes.astype(np.int64), len(uniques)


def check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise StatsInputError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    return float(confidence)


def normal_quantile(confidence: float) -> float:
    """Two-sided critical value z with P(|Z| <= z) = confidence."""
    from statistics import NormalDist  # stdlib: spares importing scipy.stats (~1 s)

    return float(NormalDist().inv_cdf(0.5 + check_confidence(confidence) / 2.0))


def t_quantile(confidence: float, dof: float) -> float:
    """Two-sided critical value t with P(|T_dof| <= t) = confidence."""
    from scipy import stats as scipy_stats  # deferred: importing scipy.stats takes ~1 s

    return float(scipy_stats.t.ppf(0.5 + check_confidence(confidence) / 2.0, dof))
