"""Intervals and ranks for ratings: sandwich covariance, bootstrap percentiles, rank bounds.

Sandwich (robust) covariance of the Bradley-Terry MLE, natural-log units, sum-zero gauge:

    Cov = H^+ M H^+,   H = sum_battles w p (1 - p) x x^T,   M = sum_battles w^2 (y - p)^2 x x^T

with x = e_a - e_b, y the score of a (1, 0 or 1/2), w the battle weight. H^+ is the
pseudo-inverse (the ratings are only defined up to a common shift). When the model is
right and there are no ties or weights, M = H and this is the usual inverse Fisher
information; ties (y = 1/2 is closer to p than 0 or 1) and weights make the two differ,
and the sandwich stays honest. Anchoring a model at a fixed rating turns the covariance
into that of theta_i - theta_anchor.

Rank (UB) is FastChat's: 1 + the number of models whose interval lies entirely above this
model's interval. Best and worst ranks are the 2.5% and 97.5% quantiles of the model's rank
over bootstrap replicates (or over draws from the normal approximation for sandwich
intervals).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from lmaudit.arena.bradley_terry import ELO_SCALE, Anchor, laplacian
from lmaudit.arena.cells import FloatArray, PairCells
from lmaudit.stats.validation import normal_quantile


@dataclass(frozen=True)
class RatingIntervals:
    """Per-model intervals on the Elo scale, in the models' order."""

    low: FloatArray
    high: FloatArray
    stderr: FloatArray
    rank_best: FloatArray
    rank_worst: FloatArray
    method: str
    confidence: float


def sandwich_covariance(cells: PairCells, theta: FloatArray) -> FloatArray:
    """Robust covariance of the sum-zero strengths (natural-log units^2)."""
    p_pair = expit(theta[cells.pair_a] - theta[cells.pair_b])
    weighted = cells.cell_count * cells.cell_weight
    p_cell = p_pair[cells.cell_pair]
    bread_cell = weighted * p_cell * (1 - p_cell)
    meat_cell = cells.cell_count * cells.cell_weight**2 * (cells.cell_score - p_cell) ** 2
    bread_pair = np.bincount(cells.cell_pair, bread_cell, cells.n_pairs)
    meat_pair = np.bincount(cells.cell_pair, meat_cell, cells.n_pairs)
    bread = laplacian(cells.pair_a, cells.pair_b, bread_pair, cells.n_models)[0]
    meat = laplacian(cells.pair_a, cells.pair_b, meat_pair, cells.n_models)[0]
    inverse = np.linalg.pinv(bread, hermitian=True)
    return np.asarray(inverse @ meat @ inverse)


def anchored_covariance(
    covariance: FloatArray, models: tuple[str, ...], anchor: Anchor | None
) -> FloatArray:
    """Covariance of the ratings as reported: sum-zero, or relative to the anchor model."""
    if anchor is None:
        return covariance
    k = models.index(anchor.model)
    transform = np.eye(len(models))
    transform[:, k] -= 1.0
    return np.asarray(transform @ covariance @ transform.T)


def rank_of(ratings: FloatArray) -> FloatArray:
    """Rank 1 = highest rating; rows of a 2-D array are ranked independently."""
    ratings = np.atleast_2d(ratings)
    order = np.argsort(-ratings, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, ratings.shape[1] + 1)[None, :], axis=1)
    return ranks.astype(float)


def rank_upper_bound(low: FloatArray, high: FloatArray) -> FloatArray:
    """FastChat's Rank (UB): 1 + #models whose lower bound exceeds this model's upper bound."""
    return 1.0 + (low[None, :] > high[:, None]).sum(axis=1).astype(float)


def bootstrap_intervals(replicates: FloatArray, confidence: float = 0.95) -> RatingIntervals:
    """Percentile intervals from (rounds, models) Elo-scale replicates."""
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail], axis=0)
    ranks = rank_of(replicates)
    best, worst = np.percentile(ranks, [tail, 100 - tail], axis=0, method="nearest")
    return RatingIntervals(
        low=low,
        high=high,
        stderr=replicates.std(axis=0, ddof=1),
        rank_best=best,
        rank_worst=worst,
        method="bootstrap",
        confidence=confidence,
    )


def normal_intervals(
    ratings: FloatArray,
    covariance: FloatArray,
    confidence: float = 0.95,
    *,
    rank_draws: int = 2000,
    seed: int = 0,
) -> RatingIntervals:
    """Wald intervals rating +- z * se from a natural-log-unit covariance; rank quantiles
    from `rank_draws` draws of the normal approximation."""
    cov_elo = covariance * ELO_SCALE**2
    stderr = np.sqrt(np.clip(np.diag(cov_elo), 0, None))
    z = normal_quantile(confidence)
    rng = np.random.default_rng(seed)
    eigval, eigvec = np.linalg.eigh(cov_elo)
    root = eigvec * np.sqrt(np.clip(eigval, 0, None))
    draws = ratings[None, :] + rng.standard_normal((rank_draws, len(ratings))) @ root.T
    tail = (1 - confidence) / 2 * 100
    best, worst = np.percentile(rank_of(draws), [tail, 100 - tail], axis=0, method="nearest")
    return RatingIntervals(
        low=ratings - z * stderr,
        high=ratings + z * stderr,
        stderr=stderr,
        rank_best=best,
        rank_worst=worst,
        method="sandwich",
        confidence=confidence,
    )
