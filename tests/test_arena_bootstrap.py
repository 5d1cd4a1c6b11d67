"""Uncertainty: the exact multinomial sampler, the vectorised bootstrap, and interval
coverage over repeated simulations (sandwich and bootstrap, with ties)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit

from lmaudit.arena.bootstrap import bootstrap_bradley_terry
from lmaudit.arena.bradley_terry import fit_bradley_terry, laplacian, newton_bradley_terry
from lmaudit.arena.cells import cells_from_arrays
from lmaudit.arena.sampling import multinomial_counts
from lmaudit.arena.simulate import simulate_battles
from lmaudit.arena.uncertainty import bootstrap_intervals, rank_upper_bound, sandwich_covariance


def test_multinomial_sampler_is_exact() -> None:
    """Poissonised draws with the exact correction: totals are N, and the law is
    Multinomial(N, c / N): moments match, and a cell's marginal is Binomial(N, p)."""
    counts = np.array([3.0, 0.0, 5.0, 2.0])
    n, p = 10, counts / 10
    draws = multinomial_counts(np.random.default_rng(0), counts, 100_000)
    assert (draws.sum(axis=1) == n).all()
    assert (draws[:, 1] == 0).all()
    assert draws.mean(axis=0) == pytest.approx(n * p, abs=0.02)
    cov = np.cov(draws.T)
    expected = n * (np.diag(p) - np.outer(p, p))
    assert cov == pytest.approx(expected, abs=0.03)
    observed = np.bincount(draws[:, 0].astype(int), minlength=11)
    chi2 = stats.chisquare(observed, stats.binom.pmf(np.arange(11), n, 0.3) * len(draws))
    assert chi2.pvalue > 1e-3
    cells_first = multinomial_counts(np.random.default_rng(0), counts, 5, cells_first=True)
    assert cells_first.shape == (4, 5)


def test_bootstrap_is_seeded_and_independent_of_workers() -> None:
    sim = simulate_battles([0.4, 0.1, -0.2, -0.3], 3000, tie_rate=0.2, seed=5)
    cells = cells_from_arrays(sim.models, sim.a, sim.b, sim.outcome, np.ones(len(sim.a)))
    fit = fit_bradley_terry(cells)
    one = bootstrap_bradley_terry(cells, fit, rounds=120, seed=9, workers=1, chunk_rounds=50)
    two = bootstrap_bradley_terry(cells, fit, rounds=120, seed=9, workers=2, chunk_rounds=50)
    assert one.rounds == 120 and one.not_converged == 0
    assert np.array_equal(one.theta, two.theta)
    other = bootstrap_bradley_terry(cells, fit, rounds=120, seed=10, workers=1)
    assert not np.array_equal(one.theta, other.theta)
    # every round solved to the gradient check: refit round 0 independently
    counts = multinomial_counts(
        np.random.Generator(np.random.PCG64(np.random.SeedSequence(9).spawn(3)[0])),
        cells.cell_count,
        50,
    )
    score, total = cells.pair_totals(counts[:1])
    direct = newton_bradley_terry(cells.pair_a, cells.pair_b, score, total, cells.n_models)
    assert one.theta[0] == pytest.approx(direct.theta[0], abs=1e-8)


def _simulate_tournaments(
    rng: np.random.Generator, truth: np.ndarray, sims: int, battles: int, tie_rate: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Battle counts per (simulation, pair, outcome): every pair equally likely."""
    n = len(truth)
    pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n)])
    s = expit(truth[pairs[:, 0]] - truth[pairs[:, 1]])
    tie = 4 * tie_rate * s * (1 - s)
    probabilities = np.stack([s - tie / 2, 1 - s - tie / 2, tie], axis=1)
    per_pair = rng.multinomial(battles, np.full(len(pairs), 1 / len(pairs)), size=sims)
    outcomes = rng.multinomial(per_pair, probabilities)  # (sims, pairs, 3)
    return pairs, outcomes, truth - truth.mean()


def test_sandwich_intervals_cover_at_nominal_rate() -> None:
    """400 simulated tournaments (6 models, 300 battles, 30% tie propensity), fitted
    together; 95% sandwich intervals must cover the true (centred) strengths 95% of the
    time, within a binomial tolerance (2,400 intervals; 3.5 standard errors ~ 1.6 points,
    widened to 2.5 points for the within-tournament correlation)."""
    rng = np.random.default_rng(2024)
    truth = np.array([0.6, 0.3, 0.1, -0.1, -0.4, -0.5])
    pairs, outcomes, centred = _simulate_tournaments(rng, truth, 400, 300, 0.3)
    score = outcomes[..., 0] + 0.5 * outcomes[..., 2]
    total = outcomes.sum(axis=2)
    fit = newton_bradley_terry(
        pairs[:, 0], pairs[:, 1], score.astype(float), total.astype(float), 6
    )
    assert fit.converged.all()
    p = expit(fit.theta[:, pairs[:, 0]] - fit.theta[:, pairs[:, 1]])
    bread = laplacian(pairs[:, 0], pairs[:, 1], total * p * (1 - p), 6)
    meat_values = (
        outcomes[..., 0] * (1 - p) ** 2
        + outcomes[..., 1] * p**2
        + outcomes[..., 2] * (0.5 - p) ** 2
    )
    meat = laplacian(pairs[:, 0], pairs[:, 1], meat_values, 6)
    inverse = np.linalg.pinv(bread, hermitian=True)
    se = np.sqrt(np.einsum("sii->si", inverse @ meat @ inverse))
    coverage = float((np.abs(fit.theta - centred) <= 1.959964 * se).mean())
    assert 0.925 <= coverage <= 0.975, coverage
    # the model-based inverse Hessian ignores that ties carry less variance: it over-covers
    naive = np.sqrt(np.einsum("sii->si", inverse))
    assert float((np.abs(fit.theta - centred) <= 1.959964 * naive).mean()) > coverage


def test_sandwich_matches_single_fit_function() -> None:
    sim = simulate_battles([0.5, 0.0, -0.5], 2000, tie_rate=0.3, seed=1)
    cells = cells_from_arrays(sim.models, sim.a, sim.b, sim.outcome, np.ones(len(sim.a)))
    fit = fit_bradley_terry(cells)
    cov = sandwich_covariance(cells, fit.theta)
    assert cov.sum(axis=0) == pytest.approx(np.zeros(3), abs=1e-12)  # sum-zero gauge
    assert np.all(np.diag(cov) > 0)


def test_bootstrap_intervals_cover_at_nominal_rate() -> None:
    """150 tournaments x 200 multinomial bootstrap rounds each, all solved in one batch."""
    rng = np.random.default_rng(7)
    truth = np.array([0.5, 0.2, 0.0, -0.3, -0.4])
    pairs, outcomes, centred = _simulate_tournaments(rng, truth, 150, 400, 0.2)
    rounds, covered = 200, []
    all_score, all_total = [], []
    for sim in range(len(outcomes)):
        cells = cells_from_arrays(
            tuple("abcde"),
            np.repeat(pairs[:, 0], 3),
            np.repeat(pairs[:, 1], 3),
            np.tile([0, 1, 2], len(pairs)),
            outcomes[sim].reshape(-1),
        )
        draws = multinomial_counts(rng, cells.cell_count, rounds)
        score, total = np.zeros((rounds, len(pairs))), np.zeros((rounds, len(pairs)))
        index = cells.pair_a * 5 + cells.pair_b
        pair_index = np.searchsorted(pairs[:, 0] * 5 + pairs[:, 1], index)
        score[:, pair_index], total[:, pair_index] = cells.pair_totals(draws)
        all_score.append(score)
        all_total.append(total)
    fits = newton_bradley_terry(
        pairs[:, 0], pairs[:, 1], np.concatenate(all_score), np.concatenate(all_total), 5
    )
    replicates = fits.theta.reshape(len(outcomes), rounds, 5)
    for sim in range(len(outcomes)):
        low, high = np.percentile(replicates[sim], [2.5, 97.5], axis=0)
        covered.append((low <= centred) & (centred <= high))
    coverage = float(np.mean(covered))
    assert 0.92 <= coverage <= 0.975, coverage


def test_rank_bounds() -> None:
    low = np.array([10.0, 8.0, 1.0])
    high = np.array([12.0, 11.0, 3.0])
    assert rank_upper_bound(low, high).tolist() == [1, 1, 3]
    replicates = np.array([[3.0, 2.0, 1.0]] * 50 + [[2.0, 3.0, 1.0]] * 50)
    intervals = bootstrap_intervals(replicates)
    assert intervals.rank_best.tolist() == [1, 1, 3]
    assert intervals.rank_worst.tolist() == [2, 2, 3]
