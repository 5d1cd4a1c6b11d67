"""Robustness audit: smallest vote removal that changes the top model."""

from __future__ import annotations

import itertools

import numpy as np

from lmaudit.arena.bradley_terry import fit_bradley_terry, newton_bradley_terry
from lmaudit.arena.cells import cells_from_arrays
from lmaudit.arena.robustness import FLIP_MARGIN, audit_top_model


def test_two_models_by_hand() -> None:
    """A beat B 10 times and lost 7: the top changes once A's wins drop below 7, i.e. after
    removing 4 of A's wins (removing 3 leaves a 7-7 tie, not a change)."""
    cells = cells_from_arrays(("A", "B"), [0, 0], [1, 1], [0, 1], [10, 7])
    audit = audit_top_model(cells, fit_bradley_terry(cells), challengers=1)
    found = audit.smallest
    assert found is not None
    assert audit.top_model == "A" and found.new_top == "B"
    assert found.votes_removed == 4 and found.linear_estimate == 4
    assert [(r.model_a, r.model_b, r.winner, r.votes) for r in found.removed] == [
        ("A", "B", "model_a", 4)
    ]


def test_matches_brute_force_on_a_small_arena() -> None:
    """Every subset of votes (as per-cell counts) refitted: the audit finds the minimum."""
    a, b = [0, 0, 0, 0, 1, 1], [1, 1, 2, 2, 2, 2]
    outcome, count = [0, 1, 0, 1, 0, 1], [4, 2, 3, 2, 3, 2]
    cells = cells_from_arrays(("A", "B", "C"), a, b, outcome, count)
    ridge = 0.05  # keeps every subset's fit finite
    fit = fit_bradley_terry(cells, ridge=ridge)
    top = int(np.argmax(fit.theta))
    removals = np.array(list(itertools.product(*[range(int(c) + 1) for c in cells.cell_count])))
    score, total = cells.pair_totals(cells.cell_count[None, :] - removals)
    theta = newton_bradley_terry(cells.pair_a, cells.pair_b, score, total, 3, ridge=ridge).theta
    others = np.delete(theta, top, axis=1).max(axis=1)
    flipped = others > theta[:, top] + FLIP_MARGIN
    brute_force = int(removals[flipped].sum(axis=1).min())
    audit = audit_top_model(cells, fit, challengers=2)
    assert audit.smallest is not None
    assert audit.smallest.votes_removed == brute_force
