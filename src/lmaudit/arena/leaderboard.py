"""Leaderboards: ratings with intervals and rank bounds, as tables and JSON-ready dicts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lmaudit.arena.cells import FloatArray
from lmaudit.arena.uncertainty import RatingIntervals, rank_upper_bound


@dataclass(frozen=True)
class LeaderboardRow:
    """One model. Ratings on the Elo scale; `rank_ub` is FastChat's Rank (UB); best/worst
    ranks bound the model's rank at the interval's confidence (see `uncertainty.py`)."""

    model: str
    rating: float
    ci_low: float
    ci_high: float
    stderr: float
    rank: int
    rank_ub: int
    rank_best: int
    rank_worst: int
    n_battles: float


@dataclass(frozen=True)
class Leaderboard:
    """Rows sorted by rating, best first."""

    method: str
    interval_method: str
    confidence: float
    rows: tuple[LeaderboardRow, ...]

    def row(self, model: str) -> LeaderboardRow:
        for row in self.rows:
            if row.model == model:
                return row
        raise KeyError(model)

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(row.model for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "interval_method": self.interval_method,
            "confidence": self.confidence,
            "rows": [asdict(row) for row in self.rows],
        }


def build_leaderboard(
    models: Sequence[str],
    ratings: FloatArray,
    intervals: RatingIntervals | None,
    n_battles: FloatArray,
    *,
    method: str,
    interval_method: str,
) -> Leaderboard:
    """Assemble a leaderboard from per-model arrays (in `models` order)."""
    n = len(models)
    nan = np.full(n, np.nan)
    low = intervals.low if intervals else nan
    high = intervals.high if intervals else nan
    stderr = intervals.stderr if intervals else nan
    rank_ub = rank_upper_bound(low, high) if intervals else nan
    order = np.argsort(-np.asarray(ratings), kind="stable")
    rows = []
    for position, i in enumerate(order, start=1):
        rows.append(
            LeaderboardRow(
                model=str(models[i]),
                rating=float(ratings[i]),
                ci_low=float(low[i]),
                ci_high=float(high[i]),
                stderr=float(stderr[i]),
                rank=position,
                rank_ub=int(rank_ub[i]) if intervals else position,
                rank_best=int(intervals.rank_best[i]) if intervals else position,
                rank_worst=int(intervals.rank_worst[i]) if intervals else position,
                n_battles=float(n_battles[i]),
            )
        )
    confidence = intervals.confidence if intervals else math.nan
    return Leaderboard(method, interval_method, confidence, tuple(rows))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _interval(low: float, high: float) -> str:
    return "n/a" if math.isnan(low) else f"[{low:.1f}, {high:.1f}]"


def format_leaderboard(board: Leaderboard, limit: int | None = None) -> str:
    """Plain-text table: rank, model, rating, CI, Rank (UB), rank range, battles."""
    level = "" if math.isnan(board.confidence) else f"{board.confidence:.0%} "
    header = ["rank", "model", "rating", f"{level}CI", "Rank(UB)", "ranks", "battles"]
    rows = [
        [
            str(r.rank),
            r.model,
            f"{r.rating:.1f}",
            _interval(r.ci_low, r.ci_high),
            str(r.rank_ub),
            f"{r.rank_best}-{r.rank_worst}",
            f"{r.n_battles:,.0f}",
        ]
        for r in board.rows[:limit]
    ]
    title = f"{board.method}; intervals: {board.interval_method}"
    more = len(board.rows) - len(rows)
    tail = f"\n... {more} more model(s); --json has all" if more > 0 else ""
    return f"{title}\n{_table(header, rows, {0, 2, 4, 5, 6})}{tail}"


@dataclass(frozen=True)
class RankChange:
    """A model's place without and with style control; `change` > 0 means it moved up."""

    model: str
    rank_without: int
    rank_with: int
    change: int
    rating_without: float
    rating_with: float
    ci_low_with: float
    ci_high_with: float


def rank_changes(without: Leaderboard, with_control: Leaderboard) -> tuple[RankChange, ...]:
    """Side-by-side ranks, in the order of the style-controlled leaderboard."""
    changes = []
    for row in with_control.rows:
        before = without.row(row.model)
        changes.append(
            RankChange(
                model=row.model,
                rank_without=before.rank,
                rank_with=row.rank,
                change=before.rank - row.rank,
                rating_without=before.rating,
                rating_with=row.rating,
                ci_low_with=row.ci_low,
                ci_high_with=row.ci_high,
            )
        )
    return tuple(changes)


def format_rank_changes(changes: Sequence[RankChange], limit: int | None = None) -> str:
    """Ranks and ratings with and without style control, side by side."""
    header = ["rank", "w/o style", "change", "model", "rating", "CI", "w/o style rating"]
    rows = [
        [
            str(c.rank_with),
            str(c.rank_without),
            f"{c.change:+d}" if c.change else "0",
            c.model,
            f"{c.rating_with:.1f}",
            _interval(c.ci_low_with, c.ci_high_with),
            f"{c.rating_without:.1f}",
        ]
        for c in changes[:limit]
    ]
    return _table(header, rows, {0, 1, 2, 4, 6})
