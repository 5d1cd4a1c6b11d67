"""Bradley-Terry, Elo and the tie models: known values, gradients, recovery of known strengths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit

from lmaudit.arena.battles import battles_from_frame
from lmaudit.arena.bradley_terry import (
    ELO_SCALE,
    Anchor,
    fit_bradley_terry,
    log_likelihood,
    pair_gradient,
    win_probabilities,
)
from lmaudit.arena.cells import PairCells, cells_from_arrays
from lmaudit.arena.elo import battle_sequence, online_elo
from lmaudit.arena.simulate import simulate_battles
from lmaudit.arena.ties import fit_davidson, fit_rao_kupper
from lmaudit.arena.uncertainty import sandwich_covariance
from lmaudit.core.types import LmauditError


def test_two_models_closed_form() -> None:
    """A beats B 10 times, loses 7, ties 2: p = (10 + 1) / 19, theta gap = logit(p)."""
    cells = cells_from_arrays(("A", "B"), [0, 0, 0], [1, 1, 1], [0, 1, 2], [10, 7, 2])
    fit = fit_bradley_terry(cells)
    gap = math.log(11 / 8)
    assert fit.theta[0] - fit.theta[1] == pytest.approx(gap, abs=1e-12)
    assert fit.ratings[0] - fit.ratings[1] == pytest.approx(400 * math.log10(11 / 8), abs=1e-9)
    assert fit.ratings.mean() == pytest.approx(1000.0)
    anchored = fit_bradley_terry(cells, anchor=Anchor("B", 1114.0))
    assert anchored.ratings[1] == 1114.0
    assert anchored.ratings[0] - 1114.0 == pytest.approx(ELO_SCALE * gap)


def test_analytic_gradient_matches_finite_differences() -> None:
    sim = simulate_battles([0.3, -0.2, 0.5, 0.0, -0.6], 400, tie_rate=0.2, seed=3)
    cells = cells_from_arrays(sim.models, sim.a, sim.b, sim.outcome, np.ones(len(sim.a)))
    score, total = cells.pair_totals()
    theta = np.array([0.1, -0.3, 0.2, 0.4, -0.4])
    p = expit(theta[cells.pair_a] - theta[cells.pair_b])
    analytic = pair_gradient(cells.pair_a, cells.pair_b, score - total * p, cells.n_models)[0]
    numeric = np.zeros(5)
    for k in range(5):
        step = np.zeros(5)
        step[k] = 1e-6
        up = log_likelihood(cells.pair_a, cells.pair_b, score, total, theta + step)[0]
        down = log_likelihood(cells.pair_a, cells.pair_b, score, total, theta - step)[0]
        numeric[k] = (up - down) / 2e-6
    assert analytic == pytest.approx(numeric, abs=1e-5)
    fit = fit_bradley_terry(cells)
    assert fit.gradient_max < 1e-10 and fit.converged


def test_recovers_known_strengths_within_intervals() -> None:
    rng = np.random.default_rng(7)
    truth = rng.normal(0, 0.6, 10)
    sim = simulate_battles(truth, 40_000, tie_rate=0.25, seed=8)
    cells = cells_from_arrays(sim.models, sim.a, sim.b, sim.outcome, np.ones(len(sim.a)))
    fit = fit_bradley_terry(cells)
    se = np.sqrt(np.diag(sandwich_covariance(cells, fit.theta)))
    z = (fit.theta - sim.theta) / se
    assert np.abs(z).max() < 3.5
    assert np.corrcoef(fit.theta, sim.theta)[0, 1] > 0.99


def test_non_identifiable_data_is_refused_and_ridge_fixes_it() -> None:
    # C never loses: its MLE is infinite
    cells = cells_from_arrays(
        ("A", "B", "C"), [0, 0, 2, 2], [1, 1, 0, 1], [0, 1, 0, 0], [3, 2, 4, 5]
    )
    with pytest.raises(LmauditError, match="infinite"):
        fit_bradley_terry(cells)
    fit = fit_bradley_terry(cells, ridge=0.5)
    assert fit.converged and np.argmax(fit.ratings) == 2
    disconnected = cells_from_arrays(
        ("A", "B", "C", "D"), [0, 0, 2, 2], [1, 1, 3, 3], [0, 1, 0, 1], [1, 1, 1, 1]
    )
    with pytest.raises(LmauditError, match="never met"):
        fit_bradley_terry(disconnected)


def test_win_probability_matrix() -> None:
    probabilities = win_probabilities(np.array([1400.0, 1000.0]))
    assert probabilities[0, 1] == pytest.approx(10 / 11)
    assert probabilities[0, 1] + probabilities[1, 0] == pytest.approx(1.0)


def test_online_elo_by_hand() -> None:
    """FastChat's update, by hand: both at 1000, A wins: E = 1/2, A gains K/2 = 2 points.
    Then B beats A: E_B = 1/(1+10^((1002-998)/400)), B gains 4(1 - E_B)."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "model_a": ["A", "A", "A"],
            "model_b": ["B", "B", "B"],
            "winner": ["model_a", "model_b", "tie"],
        }
    )
    ratings = online_elo(
        battle_sequence(battles_from_frame(frame, source="t", locations=["1", "2", "3"]))
    )
    expected_b = 1 / (1 + 10 ** ((1002 - 998) / 400))
    b = 998 + 4 * (1 - expected_b)
    a = 1002 - 4 * (1 - expected_b)
    expected_a = 1 / (1 + 10 ** ((b - a) / 400))
    assert ratings[0] == pytest.approx(a + 4 * (0.5 - expected_a), abs=1e-12)
    assert ratings.sum() == pytest.approx(2000.0)


def test_davidson_and_rao_kupper_recover_simulated_truth() -> None:
    """Battles drawn from each tie model with known strengths and tie parameter."""
    rng = np.random.default_rng(11)
    truth = np.array([0.8, 0.3, 0.0, -0.4, -0.7])
    n = 30_000
    a = rng.integers(0, 5, n)
    b = (a + rng.integers(1, 5, n)) % 5
    pa, pb = np.exp(truth[a]), np.exp(truth[b])

    nu = 0.8  # Davidson
    tie = nu * np.sqrt(pa * pb)
    denominator = pa + pb + tie
    u = rng.random(n)
    outcome = np.where(u < pa / denominator, 0, np.where(u < (pa + tie) / denominator, 2, 1))
    davidson = fit_davidson(cells_from_arrays(tuple("ABCDE"), a, b, outcome, np.ones(n)))
    assert davidson.tie_parameter == pytest.approx(nu, rel=0.05)
    assert davidson.theta == pytest.approx(truth - truth.mean(), abs=0.05)

    t = 1.6  # Rao-Kupper
    p_a, p_b = pa / (pa + t * pb), pb / (pb + t * pa)
    u = rng.random(n)
    outcome = np.where(u < p_a, 0, np.where(u < 1 - p_b, 2, 1))
    rao_kupper = fit_rao_kupper(cells_from_arrays(tuple("ABCDE"), a, b, outcome, np.ones(n)))
    assert rao_kupper.tie_parameter == pytest.approx(t, rel=0.03)
    assert rao_kupper.theta == pytest.approx(truth - truth.mean(), abs=0.05)
    assert rao_kupper.converged and rao_kupper.gradient_max < 1e-8


def test_inverse_propensity_weights_remove_pairing_bias() -> None:
    """The MLE is consistent under any pairing; with a misspecified (non-transitive) truth,
    uneven pairing shifts the plain fit, and IPW restores the evenly-paired answer."""
    from lmaudit.arena.cells import with_inverse_propensity_weights

    # A beats B 70%, B beats C 70%, C beats A 60% (not a Bradley-Terry world)
    p = {(0, 1): 0.7, (1, 2): 0.7, (0, 2): 0.4}

    def cells_for(counts: dict[tuple[int, int], int]) -> PairCells:
        a, b, outcome, count = [], [], [], []
        for (i, j), n in counts.items():
            wins = round(n * p[(i, j)])
            a += [i, i]
            b += [j, j]
            outcome += [0, 1]
            count += [wins, n - wins]
        return cells_from_arrays(("A", "B", "C"), a, b, outcome, count)

    even = fit_bradley_terry(cells_for({(0, 1): 1000, (1, 2): 1000, (0, 2): 1000}))
    uneven = cells_for({(0, 1): 9000, (1, 2): 1000, (0, 2): 1000})
    plain = fit_bradley_terry(uneven)
    weighted = fit_bradley_terry(with_inverse_propensity_weights(uneven))
    assert np.abs(plain.theta - even.theta).max() > 0.1
    assert weighted.theta == pytest.approx(even.theta, abs=1e-9)
