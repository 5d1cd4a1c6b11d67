"""Style control: feature counts by hand, recovery of known style coefficients, coverage,
penalty conventions and rank changes."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from lmaudit.arena.battles import battles_from_frame
from lmaudit.arena.contextual import (
    bootstrap_contextual_bt,
    contextual_sandwich,
    fit_contextual_bt,
    penalty_convention,
)
from lmaudit.arena.ranking import RankOptions, rank_battles
from lmaudit.arena.simulate import simulate_battles
from lmaudit.arena.style import style_counts, style_design, with_inverse_propensity_rows

TEXT = """# Plan
Some **bold** words and __more bold__ here 🚀🚀.
## Steps
1. first step
2. second step
- a bullet
  * nested bullet
Not a #header and not a -list; 👍🏽 thumbs.
"""


def test_style_counts_by_hand() -> None:
    counts = style_counts(TEXT)
    assert counts["headers"] == 2  # "# Plan", "## Steps"
    assert counts["list_items"] == 4  # "1.", "2.", "-", "*"
    assert counts["bold"] == 2  # **bold**, __more bold__
    assert counts["emoji"] == 3  # two rockets and a thumbs-up (its skin tone not counted)
    assert style_counts("Hello, world!")["tokens"] == 4  # Hello , world !
    assert style_counts("abc", count_tokens=lambda s: 42)["tokens"] == 42


def test_design_from_texts_is_normalised_difference_standardised() -> None:
    frame = pd.DataFrame(
        {
            "model_a": ["x", "y", "x"],
            "model_b": ["y", "x", "y"],
            "winner": ["model_a", "model_b", "tie"],
            "response_a": ["one two three", "one", "# H\none two"],
            "response_b": ["one", "one two three four five", "one"],
        }
    )
    battles = battles_from_frame(frame, source="t", locations=["1", "2", "3"])
    design = style_design(battles, features=("tokens", "headers"))
    # tokens: (3-1)/(3+1+1), (1-5)/(1+5+1), (4-1)/(4+1+1) ("# H one two": #, H, one, two)
    raw = np.array([2 / 5, -4 / 7, 3 / 6])
    expected = (raw - raw.mean()) / raw.std()
    assert design.features[:, 0] == pytest.approx(expected)
    assert design.names == ("tokens", "headers")
    assert design.score.tolist() == [1.0, 0.0, 0.5]
    constant = style_design(battles, features=("tokens", "bold"))
    assert constant.dropped == ("bold",)


def test_recovers_known_style_coefficients_within_intervals() -> None:
    truth_theta = np.array([0.5, 0.2, 0.0, -0.1, -0.3, -0.6])
    truth_beta = np.array([0.4, 0.15, 0.1, 0.2, 0.05])
    sim = simulate_battles(truth_theta, 60_000, beta=truth_beta, tie_rate=0.3, seed=12)
    design = style_design(sim.to_battles())
    direct = sim.design()
    assert np.array_equal(design.features, direct.features)
    assert np.array_equal(design.score, direct.score)
    fit = fit_contextual_bt(design)
    assert fit.converged and fit.gradient_max < 1e-10
    se = np.sqrt(np.diag(contextual_sandwich(design, fit)))
    z_beta = (fit.beta - truth_beta) / se[6:]
    z_theta = (fit.theta - sim.theta) / se[:6]
    assert np.abs(z_beta).max() < 3.5 and np.abs(z_theta).max() < 3.5
    # the bootstrap agrees with the sandwich about the spread
    boot = bootstrap_contextual_bt(design, fit, rounds=40, seed=1, workers=1)
    ratio = boot.beta.std(axis=0, ddof=1) / se[6:]
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio


def test_style_coefficient_intervals_cover_at_nominal_rate() -> None:
    """200 simulated arenas of 3,000 battles; 95% sandwich intervals of the five style
    coefficients must cover the truth 95% of the time (1,000 intervals; +-0.03 is about
    4.4 standard errors of a binomial proportion, allowing for the correlation of the five
    intervals within an arena: across seeds we see 0.93-0.96)."""
    truth_theta = np.array([0.4, 0.0, -0.2, -0.2])
    truth_beta = np.array([0.5, 0.2, 0.0, 0.3, 0.1])
    rng = np.random.default_rng(99)
    hits = []
    for _ in range(200):
        sim = simulate_battles(truth_theta, 3000, beta=truth_beta, tie_rate=0.2, seed=rng)
        design = sim.design()
        fit = fit_contextual_bt(design)
        se = np.sqrt(np.diag(contextual_sandwich(design, fit)))[4:]
        hits.append(np.abs(fit.beta - truth_beta) <= 1.959964 * se)
    coverage = float(np.mean(hits))
    assert 0.92 <= coverage <= 0.98, coverage


def test_penalty_conventions_and_penalised_optimum() -> None:
    assert penalty_convention("none", 1000) == (0.0, 0.0)
    assert penalty_convention("fastchat", 1000) == (0.5, 0.5 / math.log(10) ** 2)
    assert penalty_convention("arena-rank", 1000) == (1000.0, 0.0)
    sim = simulate_battles([0.3, 0.0, -0.3], 3000, beta=[0.6, 0, 0, 0, 0], seed=4)
    design = style_design(sim.to_battles())
    plain = fit_contextual_bt(design)
    shrunk = fit_contextual_bt(design, penalty=float(design.count.sum()))  # arena-rank, reg 1
    assert np.abs(shrunk.beta).sum() < 0.5 * np.abs(plain.beta).sum()
    # stationarity of the penalised objective: Z^T (y - p) = lambda * beta
    p = expit(shrunk.theta[design.a] - shrunk.theta[design.b] + design.features @ shrunk.beta)
    assert design.features.T @ (design.score - p) == pytest.approx(
        design.count.sum() * shrunk.beta, rel=1e-6
    )


def test_rank_changes_under_style_control() -> None:
    """Model 0 is truly weakest but writes the longest answers; with a strong length effect
    it ranks first without control and last with it."""
    n = 6000
    rng = np.random.default_rng(3)
    a = rng.integers(0, 3, n)
    b = (a + rng.integers(1, 3, n)) % 3
    tokens = np.array([2000.0, 200.0, 200.0])
    ta, tb = rng.poisson(tokens[a]).astype(float), rng.poisson(tokens[b]).astype(float)
    raw = (ta - tb) / (ta + tb + 1)
    z = (raw - raw.mean()) / raw.std()
    theta = np.array([-0.4, 0.0, 0.2])
    outcome = np.where(rng.random(n) < expit(theta[a] - theta[b] + 1.5 * z), 0, 1)
    names = np.array(["verbose", "plain", "best"], dtype=object)
    frame = pd.DataFrame(
        {
            "model_a": names[a],
            "model_b": names[b],
            "winner": np.where(outcome == 0, "model_a", "model_b"),
            "tokens_a": ta,
            "tokens_b": tb,
        }
    )
    battles = battles_from_frame(frame, source="t", locations=[str(i) for i in range(n)])
    report = rank_battles(
        battles, RankOptions(intervals="sandwich", style_control=True, style_features=("tokens",))
    )
    assert report.leaderboard.models[0] == "verbose"
    assert report.style is not None
    assert report.style.leaderboard.models == ("best", "plain", "verbose")
    change = {c.model: c.change for c in report.style.changes}
    assert change == {"best": 1, "plain": 1, "verbose": -2}
    length = report.style.coefficients[0]
    assert length.name == "tokens" and length.ci_low < 1.5 < length.ci_high


def test_inverse_propensity_rows_equalise_pairs() -> None:
    """Pair (0, 1) keeps only a fifth of its battles; after reweighting every pair carries
    a third of the total weight (pair-count floor 1 here)."""
    design = simulate_battles([0.2, 0.0, -0.2], 900, seed=8).design()
    low, high = np.minimum(design.a, design.b), np.maximum(design.a, design.b)
    keep = ~((low == 0) & (high == 1)) | (np.arange(len(low)) % 5 == 0)
    weighted = with_inverse_propensity_rows(replace(design, count=keep.astype(float)), 1)
    totals = [
        float((weighted.count * weighted.weight)[(low == i) & (high == j)].sum())
        for i, j in ((0, 1), (0, 2), (1, 2))
    ]
    assert totals == pytest.approx([keep.sum() / 3] * 3)
