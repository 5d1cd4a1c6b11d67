"""Exact multinomial draws of bootstrap counts, fast, by Poissonization.

To resample N battles with replacement over K deduplicated cells with counts c_k we need
Multinomial(N, c / N) counts. numpy's sampler draws K conditional binomials per round; this
one draws K independent Poisson(c_k) counts (about twice as fast) and then corrects the
total exactly:

- if the Poisson total T is below N, it adds N - T draws from Categorical(c / N);
- if T exceeds N, it removes T - N of the T drawn battles chosen uniformly at random
  without replacement.

Why this is exact: given T = t, independent Poisson counts are Multinomial(t, c / N)
(t i.i.d. categorical labels). Adding N - t further i.i.d. labels gives N i.i.d. labels;
keeping a uniformly random subset of N of t i.i.d. labels also leaves N i.i.d. labels.
Either way the result is Multinomial(N, c / N) whatever t was, hence unconditionally.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lmaudit.core.types import LmauditError


def multinomial_counts(
    rng: np.random.Generator,
    counts: npt.ArrayLike,
    rounds: int,
    *,
    cells_first: bool = False,
) -> npt.NDArray[np.float64]:
    """`rounds` draws of Multinomial(sum(counts), counts / sum(counts)), as floats.

    `counts` must be non-negative integers (battles per cell). Returns (rounds, cells), or
    (cells, rounds) with `cells_first=True` (the layout the vectorised solvers use).
    """
    base = np.asarray(counts, dtype=float)
    if base.ndim != 1 or np.any(base < 0) or np.any(base != np.round(base)):
        raise LmauditError("bootstrap counts must be a vector of non-negative integers")
    n_cells, total = len(base), int(base.sum())
    draws = rng.poisson(base[:, None], size=(n_cells, rounds)).astype(np.int64)
    short = total - draws.sum(axis=0)
    need = np.flatnonzero(short > 0)
    if len(need):
        cumulative = np.cumsum(base) / max(total, 1)
        cumulative[-1] = 1.0
        extra = int(short[need].sum())
        cells = np.searchsorted(cumulative, rng.random(extra), side="right")
        cells = np.minimum(cells, n_cells - 1)
        owners = np.repeat(need, short[need])
        added = np.bincount(cells * rounds + owners, minlength=n_cells * rounds)
        draws += added.reshape(n_cells, rounds)
    for r in np.flatnonzero(short < 0):
        column = draws[:, r]
        positions = rng.choice(int(column.sum()), size=int(-short[r]), replace=False)
        cells = np.searchsorted(np.cumsum(column), positions, side="right")
        draws[:, r] = column - np.bincount(cells, minlength=n_cells)
    out = draws.astype(float)
    return out if cells_first else np.ascontiguousarray(out.T)
