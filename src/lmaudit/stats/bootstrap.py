"""Vectorized nonparametric bootstrap of column sums.

One bootstrap replicate draws `m` units (samples or clusters) with replacement and sums each
column over the drawn units. Replicates are drawn as index matrices `(chunk, m)` with a seeded
`numpy.random.Generator`, in chunks of at most `max_elements` indices so that memory stays
bounded (about 16 bytes per index: the index and the gathered value). The draws are the same
whatever the chunk size, so results depend only on the data, `n_boot` and `seed`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lmaudit.stats.validation import FloatArray, StatsInputError

DEFAULT_MAX_ELEMENTS = 1 << 22


def bootstrap_sums(
    columns: Sequence[FloatArray],
    n_boot: int,
    seed: int,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> list[FloatArray]:
    """Sums of each column over `n_boot` resamples (with replacement) of the rows.

    All columns share the same resampled rows, so ratios of the returned sums are
    bootstrap replicates of ratios of totals. Returns one array of length `n_boot` per column.
    """
    if not columns:
        raise StatsInputError("bootstrap_sums needs at least one column")
    m = columns[0].shape[0]
    if m == 0 or any(column.shape != (m,) for column in columns):
        raise StatsInputError("bootstrap columns must be non-empty 1-D arrays of one length")
    if n_boot < 1:
        raise StatsInputError(f"n_boot must be at least 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    chunk = max(1, max_elements // m)
    sums = [np.empty(n_boot, dtype=np.float64) for _ in columns]
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        rows = rng.integers(0, m, size=(size, m))
        for column, out in zip(columns, sums, strict=True):
            out[start : start + size] = column[rows].sum(axis=1)
    return sums
