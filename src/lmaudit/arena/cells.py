"""Battles deduplicated into cells: one row per (unordered model pair, outcome, weight).

Every statistic of the Bradley-Terry family depends on the battles only through these
cells, so fits and the multinomial bootstrap work on a few thousand cells instead of
millions of battles. Within a pair the models are ordered by index (`pair_a < pair_b`) and
outcomes are relative to that order: 0 = `pair_a` wins, 1 = `pair_b` wins, 2 = tie,
3 = tie (both bad). Ties of both kinds score half a win for each side.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from lmaudit.arena.battles import Battles, model_codes, winner_codes
from lmaudit.core.types import LmauditError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

A_WINS, B_WINS, TIE, TIE_BOTHBAD = 0, 1, 2, 3
OUTCOME_SCORE = np.array([1.0, 0.0, 0.5, 0.5])  # score of pair_a for each outcome code


@dataclass(frozen=True)
class PairCells:
    """Deduplicated battles. `cell_count` counts battles; `cell_weight` weighs each one."""

    models: tuple[str, ...]
    pair_a: IntArray
    pair_b: IntArray
    cell_pair: IntArray
    cell_outcome: IntArray
    cell_count: FloatArray
    cell_weight: FloatArray

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def n_pairs(self) -> int:
        return len(self.pair_a)

    @property
    def cell_score(self) -> FloatArray:
        return OUTCOME_SCORE[self.cell_outcome]

    @property
    def n_battles(self) -> float:
        return float(self.cell_count.sum())

    def pair_totals(self, counts: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
        """Weighted score of `pair_a` and weighted number of battles per pair.

        `counts` (cells, or rounds x cells) replaces `cell_count`, e.g. bootstrap draws.
        Returns arrays of shape (pairs,) or (rounds, pairs).
        """
        counts = self.cell_count if counts is None else counts
        weighted = counts * self.cell_weight
        if weighted.ndim == 1:
            score = np.bincount(self.cell_pair, weighted * self.cell_score, self.n_pairs)
            total = np.bincount(self.cell_pair, weighted, self.n_pairs)
            return score.astype(float), total.astype(float)
        import scipy.sparse as sparse

        rows = np.arange(len(self.cell_pair))
        to_pair = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, self.cell_pair)), shape=(len(rows), self.n_pairs)
        )
        to_score = sparse.csr_matrix(
            (self.cell_score, (rows, self.cell_pair)), shape=(len(rows), self.n_pairs)
        )
        return (
            np.asarray((to_score.T @ weighted.T).T),
            np.asarray((to_pair.T @ weighted.T).T),
        )

    def battles_per_model(self) -> FloatArray:
        """Number of battles (unweighted counts) each model took part in."""
        per_pair = np.bincount(self.cell_pair, self.cell_count, self.n_pairs)
        both = np.bincount(self.pair_a, per_pair, self.n_models) + np.bincount(
            self.pair_b, per_pair, self.n_models
        )
        return both.astype(float)

    def outcome_counts(self) -> FloatArray:
        """Weighted battles per pair and outcome code, shape (pairs, 4)."""
        table = np.zeros((self.n_pairs, 4))
        np.add.at(table, (self.cell_pair, self.cell_outcome), self.cell_count * self.cell_weight)
        return table

    def index(self, model: str) -> int:
        try:
            return self.models.index(model)
        except ValueError:
            raise LmauditError(f"unknown model {model!r}; the battles have no such model") from None


def cells_from_arrays(
    models: tuple[str, ...],
    index_a: npt.ArrayLike,
    index_b: npt.ArrayLike,
    outcome: npt.ArrayLike,
    count: npt.ArrayLike,
    weight: npt.ArrayLike | None = None,
) -> PairCells:
    """Deduplicate battle arrays (model indices, outcome codes relative to a/b) into cells."""
    ia = np.asarray(index_a, dtype=np.int64)
    ib = np.asarray(index_b, dtype=np.int64)
    code = np.asarray(outcome, dtype=np.int64)
    counts = np.asarray(count, dtype=float)
    weights = np.ones(len(counts)) if weight is None else np.asarray(weight, dtype=float)
    swap = ia > ib
    flipped = np.array([B_WINS, A_WINS, TIE, TIE_BOTHBAD])[code]
    keep = counts > 0
    low = np.where(swap, ib, ia)[keep]
    high = np.where(swap, ia, ib)[keep]
    code = np.where(swap, flipped, code)[keep]
    counts, weights = counts[keep], weights[keep]
    n = len(models)
    _, weight_code = np.unique(weights, return_inverse=True)
    key = ((low * n + high) * 4 + code) * (int(weight_code.max(initial=0)) + 1) + weight_code
    unique_key, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    cell_count = np.bincount(inverse, counts, len(unique_key)).astype(float)
    pair_key = low[first] * n + high[first]
    unique_pairs, cell_pair = np.unique(pair_key, return_inverse=True)
    return PairCells(
        models=models,
        pair_a=(unique_pairs // n).astype(np.int64),
        pair_b=(unique_pairs % n).astype(np.int64),
        cell_pair=cell_pair.astype(np.int64),
        cell_outcome=code[first].astype(np.int64),
        cell_count=cell_count,
        cell_weight=weights[first].astype(float),
    )


def cells_from_battles(battles: Battles) -> PairCells:
    """Deduplicate validated battles. Models are sorted by name; zero-count rows drop out."""
    frame = battles.frame
    frame = frame[frame["count"].to_numpy() > 0]
    if not len(frame):
        raise LmauditError(f"{battles.source}: every battle has count 0")
    models, index_a, index_b = model_codes(frame)
    return cells_from_arrays(
        models,
        index_a,
        index_b,
        winner_codes(frame),
        frame["count"].to_numpy(dtype=float),
        frame["weight"].to_numpy(dtype=float),
    )


def with_inverse_propensity_weights(cells: PairCells, min_pair_count: float = 50.0) -> PairCells:
    """Reweight battles by 1 / max(battles of their pair, `min_pair_count`).

    Each pair then carries (about) equal total weight, so models that were paired unevenly
    (more often against weak or strong opponents) are not favoured by the sampling scheme.
    The weights are rescaled so that the total weight equals the number of battles (as in
    arena-rank's reweighting, which floors pair counts at 50).
    """
    per_pair = np.bincount(cells.cell_pair, cells.cell_count, cells.n_pairs)
    ipw = 1.0 / np.maximum(per_pair[cells.cell_pair], min_pair_count)
    weight = cells.cell_weight * ipw
    weight *= cells.cell_count.sum() / float((cells.cell_count * weight).sum())
    return replace(cells, cell_weight=weight)
