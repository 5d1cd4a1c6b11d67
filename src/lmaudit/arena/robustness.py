"""Robustness audit: how few votes must go for the top-ranked model to lose its place?

For each challenger c of the top model t, every vote gets a first-order influence on the
gap theta_t - theta_c: dropping one vote of cell k (pair (i, j), score y, weight w) moves
theta by about -H^+ w (y - p_ij)(e_i - e_j), H the negative Hessian at the fit (the
"approximate maximum influence perturbation" of Broderick, Giordano and Meager). Votes are
ordered by that influence (most gap-closing first). The number of votes the linearisation
says suffice is the starting guess; removals along that order are then *verified by
refitting*: doubling until the top model changes, then bisecting to the smallest number
that changes it. The result is an achievable removal set, so an upper bound on the true
minimum (which is a hard combinatorial problem); the linear estimate is reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from lmaudit.arena.battles import WINNERS
from lmaudit.arena.bradley_terry import BTFit, laplacian, newton_bradley_terry
from lmaudit.arena.cells import FloatArray, PairCells

FLIP_MARGIN = 1e-9  # natural-log units: a tie at the top does not count as a change


@dataclass(frozen=True)
class RemovedVotes:
    model_a: str
    model_b: str
    winner: str
    votes: int


@dataclass(frozen=True)
class FlipAudit:
    """Votes whose removal makes `challenger` (or another model) overtake `top_model`.

    `votes_removed` is None when even removing every gap-closing vote did not flip."""

    top_model: str
    challenger: str
    votes_removed: int | None
    linear_estimate: int | None
    new_top: str | None
    removed: tuple[RemovedVotes, ...]
    refits: int


@dataclass(frozen=True)
class RobustnessAudit:
    top_model: str
    n_battles: float
    audits: tuple[FlipAudit, ...]

    @property
    def smallest(self) -> FlipAudit | None:
        found = [a for a in self.audits if a.votes_removed is not None]
        return min(found, key=lambda a: a.votes_removed or 0) if found else None


def _refit(cells: PairCells, counts: FloatArray, start: FloatArray, ridge: float) -> FloatArray:
    score, total = cells.pair_totals(counts)
    result = newton_bradley_terry(
        cells.pair_a, cells.pair_b, score, total, cells.n_models, start[None, :], ridge=ridge
    )
    return np.asarray(result.theta[0])


def _influence(
    cells: PairCells, theta: FloatArray, top: int, challenger: int, ridge: float
) -> FloatArray:
    """First-order change of theta_top - theta_challenger per removed vote, per cell."""
    _, total = cells.pair_totals()
    p_pair = expit(theta[cells.pair_a] - theta[cells.pair_b])
    hess = laplacian(cells.pair_a, cells.pair_b, total * p_pair * (1 - p_pair), cells.n_models)[0]
    hess += ridge * np.eye(cells.n_models)
    direction = np.zeros(cells.n_models)
    direction[top], direction[challenger] = 1.0, -1.0
    w = np.linalg.pinv(hess, hermitian=True) @ direction
    p = p_pair[cells.cell_pair]
    x_dot_w = w[cells.pair_a[cells.cell_pair]] - w[cells.pair_b[cells.cell_pair]]
    return np.asarray(-cells.cell_weight * (cells.cell_score - p) * x_dot_w)


def _removal_counts(order: np.ndarray, available: FloatArray, votes: int, size: int) -> FloatArray:
    """Counts removed per cell when taking the first `votes` votes along `order`."""
    cumulative = np.cumsum(available[order])
    taken = np.clip(votes - (cumulative - available[order]), 0, available[order])
    removed = np.zeros(size)
    removed[order] = taken
    return removed


def audit_challenger(
    cells: PairCells, fit: BTFit, challenger: str, max_refits: int = 40
) -> FlipAudit:
    """Smallest verified number of votes (along the influence order) that dethrones the top."""
    top = int(np.argmax(fit.theta))
    c = cells.models.index(challenger)
    influence = _influence(cells, fit.theta, top, c, fit.ridge)
    order = np.argsort(influence, kind="stable")
    order = order[influence[order] < 0]
    available = cells.cell_count
    limit = int(available[order].sum())
    gap = float(fit.theta[top] - fit.theta[c])
    closing = np.cumsum(-influence[order] * available[order])
    reach = int(np.searchsorted(closing, gap, side="right"))
    if reach < len(order):  # the linearisation predicts a flip inside cell `reach`
        before = float(closing[reach - 1]) if reach else 0.0
        votes_in_cell = int(np.ceil((gap - before) / -influence[order][reach]))
        linear: int | None = int(available[order][:reach].sum()) + max(votes_in_cell, 1)
    else:
        linear = None
    refits = 0

    def flips(votes: int) -> tuple[bool, FloatArray]:
        nonlocal refits
        refits += 1
        removed = _removal_counts(order, available, votes, len(available))
        theta = _refit(cells, available - removed, fit.theta, fit.ridge)
        others = np.delete(theta, top)
        return bool(others.max() > theta[top] + FLIP_MARGIN), theta

    low, high = 0, min(linear or limit, limit)
    flipped, theta = flips(high) if high else (False, fit.theta)
    while not flipped and high < limit and refits < max_refits:
        low, high = high, min(2 * max(high, 1), limit)
        flipped, theta = flips(high)
    if not flipped:
        return FlipAudit(cells.models[top], challenger, None, linear, None, (), refits)
    best_theta = theta
    while high - low > 1 and refits < max_refits:
        middle = (low + high) // 2
        ok, theta = flips(middle)
        if ok:
            high, best_theta = middle, theta
        else:
            low = middle
    removed = _removal_counts(order, available, high, len(available))
    listing = tuple(
        RemovedVotes(
            model_a=cells.models[cells.pair_a[cells.cell_pair[k]]],
            model_b=cells.models[cells.pair_b[cells.cell_pair[k]]],
            winner=WINNERS[int(cells.cell_outcome[k])],
            votes=int(removed[k]),
        )
        for k in np.flatnonzero(removed > 0)
    )
    new_top = cells.models[int(np.argmax(best_theta))]
    return FlipAudit(cells.models[top], challenger, high, linear, new_top, listing, refits)


def audit_top_model(cells: PairCells, fit: BTFit, challengers: int = 3) -> RobustnessAudit:
    """Audit the top model against the next `challengers` models by rating."""
    order = np.argsort(-fit.theta, kind="stable")
    audits = tuple(
        audit_challenger(cells, fit, cells.models[int(i)]) for i in order[1 : challengers + 1]
    )
    return RobustnessAudit(cells.models[int(order[0])], cells.n_battles, audits)
