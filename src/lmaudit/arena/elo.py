"""Online Elo, FastChat's convention: K = 4, base 10, scale 400, initial rating 1000.

For each battle in order, with ratings r_a, r_b:
    E_a = 1 / (1 + base ** ((r_b - r_a) / scale)),  S_a = 1 (a wins), 0 (b wins), 1/2 (tie
    or tie (bothbad)),  r_a += K (S_a - E_a),  r_b += K ((1 - S_a) - (1 - E_a)).
Online Elo depends on the order of the battles; a row with `count = c` is applied c times in
a row. The bootstrap (FastChat's `get_bootstrap_result`) resamples the battles with
replacement in random order and reruns the updates, vectorised across rounds (one Python
step per battle, so it suits up to a few hundred thousand battles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lmaudit.arena.battles import Battles, model_codes, winner_codes
from lmaudit.arena.cells import FloatArray, IntArray
from lmaudit.core.types import LmauditError

_SCORES = np.array([1.0, 0.0, 0.5, 0.5])  # score of model_a for each code of WINNERS


@dataclass(frozen=True)
class EloSettings:
    k: float = 4.0
    base: float = 10.0
    scale: float = 400.0
    initial: float = 1000.0


@dataclass(frozen=True)
class BattleSequence:
    """Battles in order as model indices and the score of `a` (one entry per battle)."""

    models: tuple[str, ...]
    a: IntArray
    b: IntArray
    score_a: FloatArray


def battle_sequence(battles: Battles) -> BattleSequence:
    """Expand validated battles (counts repeated in place) into an ordered sequence."""
    frame = battles.frame
    counts = frame["count"].to_numpy(dtype=float)
    if np.any(counts != np.round(counts)):
        raise LmauditError(f"{battles.source}: online Elo needs integer battle counts")
    repeat = counts.astype(np.int64)
    models, a, b = model_codes(frame)
    score = _SCORES[winner_codes(frame)]
    return BattleSequence(
        models, np.repeat(a, repeat), np.repeat(b, repeat), np.repeat(score, repeat)
    )


def online_elo(sequence: BattleSequence, settings: EloSettings = EloSettings()) -> FloatArray:
    """Final ratings after one pass over the battles, in `sequence.models` order."""
    ratings = [settings.initial] * len(sequence.models)
    k, base, scale = settings.k, settings.base, settings.scale
    for a, b, s in zip(
        sequence.a.tolist(), sequence.b.tolist(), sequence.score_a.tolist(), strict=True
    ):
        ra, rb = ratings[a], ratings[b]
        expected_a = 1.0 / (1.0 + base ** ((rb - ra) / scale))
        expected_b = 1.0 / (1.0 + base ** ((ra - rb) / scale))
        ratings[a] = ra + k * (s - expected_a)
        ratings[b] = rb + k * (1.0 - s - expected_b)
    return np.asarray(ratings, dtype=float)


def bootstrap_elo(
    sequence: BattleSequence,
    rounds: int,
    seed: int = 0,
    settings: EloSettings = EloSettings(),
) -> FloatArray:
    """(rounds, models) Elo ratings over resamples drawn with replacement, in random order."""
    n = len(sequence.a)
    if n == 0:
        raise LmauditError("no battles to bootstrap")
    rng = np.random.default_rng(seed)
    ratings = np.full((rounds, len(sequence.models)), settings.initial)
    row = np.arange(rounds)
    k, base, scale = settings.k, settings.base, settings.scale
    block = max(1, 2_000_000 // rounds)  # steps drawn at a time, bounding memory
    for start in range(0, n, block):
        picks: npt.NDArray[np.int64] = rng.integers(0, n, size=(min(block, n - start), rounds))
        for pick in picks:
            a, b, s = sequence.a[pick], sequence.b[pick], sequence.score_a[pick]
            ra, rb = ratings[row, a], ratings[row, b]
            expected_a = 1.0 / (1.0 + base ** ((rb - ra) / scale))
            ratings[row, a] = ra + k * (s - expected_a)
            ratings[row, b] = rb - k * (s - expected_a)
    return ratings
