"""Multiple-comparison adjustments of p-values, and p-values of interval estimates.

Conventions (those of statsmodels' `multipletests`):

- `holm_adjust`: Holm's step-down family-wise error control. With p sorted ascending,
  p_adj(i) = max_{j <= i} min(1, (m - j + 1) * p(j)) (1-based ranks), returned in the input
  order. Rejecting p_adj < alpha controls the family-wise error rate at alpha.
- `benjamini_hochberg_adjust`: the Benjamini–Hochberg step-up false-discovery-rate
  adjustment, p_adj(i) = min_{j >= i} min(1, m * p(j) / j), in the input order.
- NaN p-values (a test that could not run) stay NaN and do not count towards m.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from lmaudit.stats.validation import StatsInputError


def _adjust(p_values: Sequence[float], step: Callable[[np.ndarray], np.ndarray]) -> list[float]:
    """Apply `step` to the finite p-values sorted ascending; results in the input order."""
    p = np.asarray(list(p_values), dtype=np.float64)
    finite = np.isfinite(p)
    if ((p[finite] < 0.0) | (p[finite] > 1.0)).any():
        raise StatsInputError("p-values must lie in [0, 1]")
    out = np.full(p.shape, np.nan)
    values = p[finite]
    if values.size:
        order = np.argsort(values, kind="stable")
        adjusted = np.empty(values.size)
        adjusted[order] = step(values[order])
        out[finite] = adjusted
    return [float(x) for x in out]


def _holm_step(ordered: np.ndarray) -> np.ndarray:
    m = ordered.size
    return np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * ordered))


def _bh_step(ordered: np.ndarray) -> np.ndarray:
    m = ordered.size
    scaled = np.minimum(1.0, ordered * m / np.arange(1, m + 1))
    return np.minimum.accumulate(scaled[::-1])[::-1]


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order (module docstring)."""
    return _adjust(p_values, _holm_step)


def benjamini_hochberg_adjust(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg step-up adjusted p-values (q-values), in the input order."""
    return _adjust(p_values, _bh_step)


def t_test_p_value(value: float, stderr: float | None, dof: int) -> float:
    """Two-sided p-value of H0: mean = 0 for an estimate with a t interval on `dof`
    degrees of freedom (`value / stderr` ~ t_dof). NaN when it cannot be computed; a zero
    stderr gives p = 1 for a zero value and p = 0 otherwise."""
    if stderr is None or not math.isfinite(stderr) or not math.isfinite(value) or dof < 1:
        return math.nan
    if stderr == 0.0:
        return 1.0 if value == 0.0 else 0.0
    from scipy import stats as scipy_stats  # deferred: ~1 s to import

    return float(2.0 * scipy_stats.t.sf(abs(value / stderr), dof))
