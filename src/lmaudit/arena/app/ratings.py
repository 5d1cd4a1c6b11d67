"""The live leaderboard: Bradley-Terry ratings from the stored votes, via `lmaudit.arena`.

The fit and its intervals are `lmaudit.arena.ranking.rank_battles` (Newton MLE, sandwich 95%
intervals, Elo scale centred at 1000), once plain and once with style control. Nothing is
re-derived here: this module turns the database's votes into `Battles` and the report into a
JSON-ready dict. While the votes cannot identify the ratings (too few votes, or style features
that are constant or collinear with the models), the board shows what it can (counts, or
ratings without style control) and says in `note` why the rest is missing.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from lmaudit.arena.app.store import battle_records, vote_signature
from lmaudit.arena.battles import battles_from_records
from lmaudit.arena.ranking import RankOptions, rank_battles
from lmaudit.core.types import LmauditError

PLAIN = RankOptions(method="bt", intervals="sandwich", ridge=0.01)  # keeps an unbeaten model finite
STYLED = replace(PLAIN, style_control=True)


def leaderboard(maker: sessionmaker[Session], models: tuple[str, ...]) -> dict[str, Any]:
    """Ratings with 95% intervals (with and without style control) and vote counts.

    Keys: `votes` (total), `counts` (model -> battles voted), `rows` (plain BT, best first:
    model, rating, ci_low, ci_high, battles), `style_rows` (the same under style control, or
    []), `note` (why a part is missing, or "").
    """
    records = list(battle_records(maker))
    counts: Counter[str] = Counter()
    for record in records:
        counts[record["model_a"]] += 1
        counts[record["model_b"]] += 1
    board: dict[str, Any] = {
        "votes": len(records),
        "counts": {m: counts.get(m, 0) for m in models},
        "rows": [],
        "style_rows": [],
        "note": "",
    }
    if not records:
        board["note"] = "no votes yet"
        return board
    battles = battles_from_records(records, source="arena")
    notes: list[str] = []
    try:
        report = rank_battles(battles, STYLED)
    except (LmauditError, np.linalg.LinAlgError) as style_error:
        try:
            report = rank_battles(battles, PLAIN)
        except (LmauditError, np.linalg.LinAlgError) as error:
            board["note"] = f"no ratings yet: {error}"
            return board
        notes.append(f"no style control yet: {style_error}")
    board["rows"] = [_row(r) for r in report.leaderboard.rows]
    if report.style is not None:
        board["style_rows"] = [_row(r) for r in report.style.leaderboard.rows]
    board["note"] = "; ".join([*notes, *report.notes])
    return board


def _row(row: Any) -> dict[str, Any]:
    return {
        "model": row.model,
        "rating": round(float(row.rating), 1),
        "ci_low": round(float(row.ci_low), 1),
        "ci_high": round(float(row.ci_high), 1),
        "battles": float(row.n_battles),
    }


class CachedLeaderboard:
    """`leaderboard` refitted only when the votes changed (by `store.vote_signature`).

    Pages poll the board every few seconds; the fit runs once per change of the votes, not
    once per viewer.
    """

    def __init__(self, maker: sessionmaker[Session], models: tuple[str, ...]) -> None:
        self._maker = maker
        self._models = models
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._board: dict[str, Any] = {}

    def __call__(self) -> dict[str, Any]:
        """The current board (a copy-free shared dict: do not mutate it)."""
        key = vote_signature(self._maker)
        with self._lock:
            if key != self._key:
                self._board = leaderboard(self._maker, self._models)
                self._key = key
            return self._board
