"""PNG plots of leaderboards (matplotlib, Agg backend; imported only when plotting)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lmaudit.arena.leaderboard import Leaderboard, RankChange


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_ratings(board: Leaderboard, path: str | Path, limit: int = 40) -> Path:
    """Ratings with their intervals, best model at the top."""
    plt = _pyplot()
    rows = board.rows[:limit]
    y = np.arange(len(rows))[::-1]
    ratings = np.array([r.rating for r in rows])
    low = np.array([r.ci_low for r in rows])
    high = np.array([r.ci_high for r in rows])
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.32 * len(rows)))
    has_ci = not np.isnan(low).all()
    if has_ci:
        ax.errorbar(
            ratings,
            y,
            xerr=[ratings - low, high - ratings],
            fmt="o",
            color="#1f4e79",
            ecolor="#7aa6d6",
            elinewidth=3,
            capsize=3,
            markersize=5,
        )
    else:
        ax.plot(ratings, y, "o", color="#1f4e79")
    ax.set_yticks(y)
    ax.set_yticklabels([f"{r.rank}. {r.model}" for r in rows], fontsize=9)
    for yi, r in zip(y, rows, strict=True):
        ax.annotate(
            f"{r.rating:.0f}",
            (r.ci_high if has_ci else r.rating, yi),
            xytext=(5, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    level = "" if math.isnan(board.confidence) else f" ({board.confidence:.0%} intervals)"
    shown = f"; top {len(rows)} of {len(board.rows)} models" if len(rows) < len(board.rows) else ""
    ax.set_xlabel("rating (Elo scale)")
    ax.set_title(f"{board.method}{level}\n{board.interval_method}{shown}", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path, plt)


def plot_rank_changes(changes: Sequence[RankChange], path: str | Path, limit: int = 30) -> Path:
    """Slope chart: rank without style control (left) and with it (right)."""
    plt = _pyplot()
    shown = sorted(changes, key=lambda c: min(c.rank_with, c.rank_without))[:limit]
    depth = max(max(c.rank_with, c.rank_without) for c in shown)
    fig, ax = plt.subplots(figsize=(9, 1.5 + 0.3 * depth))
    for c in shown:
        color = "#2e7d32" if c.change > 0 else "#c62828" if c.change < 0 else "#757575"
        ax.plot([0, 1], [c.rank_without, c.rank_with], "-o", color=color, markersize=4, lw=1.5)
        ax.text(
            -0.03,
            c.rank_without,
            f"{c.model} ({c.rank_without})",
            ha="right",
            va="center",
            fontsize=8,
        )
        label = (
            f"({c.rank_with}) {c.model}  {c.change:+d}"
            if c.change
            else f"({c.rank_with}) {c.model}"
        )
        ax.text(1.03, c.rank_with, label, ha="left", va="center", fontsize=8, color=color)
    ax.set_xlim(-0.9, 1.9)
    ax.set_ylim(depth + 0.7, 0.3)
    ax.set_xticks([0, 1])
    ax.set_xticklabels(["without style control", "with style control"])
    ax.set_yticks([])
    for side in ("left", "right", "top", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title("Rank change under style control (green: up, red: down)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path, plt)


def plot_win_matrix(
    board: Leaderboard, probabilities: np.ndarray, path: str | Path, limit: int = 20
) -> Path:
    """Heat map of P(row model beats column model) implied by the ratings."""
    plt = _pyplot()
    k = min(limit, len(board.rows))
    matrix = np.asarray(probabilities)[:k, :k]
    names = [r.model for r in board.rows[:k]]
    fig, ax = plt.subplots(figsize=(1.5 + 0.5 * k, 1.2 + 0.5 * k))
    image = ax.imshow(matrix, cmap="RdBu", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if i != j:
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(k))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k))
    ax.set_yticklabels(names, fontsize=8)
    ax.set_title("P(row beats column), from the ratings", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    return _save(fig, path, plt)


def _save(fig: Any, path: str | Path, plt: Any) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
