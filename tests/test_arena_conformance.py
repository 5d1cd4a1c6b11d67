"""Conformance: evalica's golden scores, Wikipedia's Bradley-Terry example, and the
Chatbot Arena snapshot of 2024-08-14 (1.67 million battles).

The golden files (dustalov/evalica @ 2ebe79e3, in ../shared/external/ratings) hold scores
computed by evalica with its defaults, which we reproduce:
- `elo`: online Elo with initial 1000, base 10, scale 400, K = 4, ties half a win, the
  battles in file order (FastChat's convention);
- `bradley_terry`: the MLE with ties as half wins (evalica's win matrix + 0.5 * ties),
  strengths exp(theta) normalised to sum to one;
- `newman`: Newman's tie-model iteration from pi = 1, v = 1/2, run to convergence, pi not
  normalised.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmaudit.arena.battles import battles_from_frame, read_battles
from lmaudit.arena.bradley_terry import Anchor, fit_bradley_terry, fit_bradley_terry_fastchat
from lmaudit.arena.cells import cells_from_arrays, cells_from_battles
from lmaudit.arena.elo import battle_sequence, online_elo
from lmaudit.arena.ties import fit_davidson, newman_iteration

EXTERNAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "external"
RATINGS = EXTERNAL / "ratings"
ARENA = EXTERNAL / "arena" / "chatbotarena_20240814.json"
needs_ratings = pytest.mark.skipif(
    not RATINGS.is_dir(), reason="../shared/external/ratings (evalica golden files) is absent"
)
needs_arena = pytest.mark.skipif(
    not ARENA.is_file(), reason="../shared/external/arena snapshot is absent"
)


def _golden(name: str) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    data = pd.read_csv(RATINGS / f"{name}.csv", dtype=str)
    golden = pd.read_csv(RATINGS / f"{name}-golden.csv", dtype={"item": str})
    frame = pd.DataFrame(
        {
            "model_a": data["left"],
            "model_b": data["right"],
            "winner": data["winner"].map({"left": "model_a", "right": "model_b", "tie": "tie"}),
        }
    )
    scores = {str(alg): g.set_index("item")["score"] for alg, g in golden.groupby("algorithm")}
    return frame, scores


@needs_ratings
@pytest.mark.parametrize("name", ["simple", "food", "llmfao"])
def test_evalica_golden_scores(name: str) -> None:
    frame, golden = _golden(name)
    battles = battles_from_frame(
        frame, source=name, locations=[f"line {i + 2}" for i in range(len(frame))]
    )
    cells = cells_from_battles(battles)

    sequence = battle_sequence(battles)
    elo = dict(zip(sequence.models, online_elo(sequence), strict=True))
    assert max(abs(elo[m] - golden["elo"][m]) for m in sequence.models) < 1e-9

    fit = fit_bradley_terry(cells)
    assert fit.converged and fit.gradient_max < 1e-10
    shares = np.exp(fit.theta) / np.exp(fit.theta).sum()
    errors = [abs(shares[i] / golden["bradley_terry"][m] - 1) for i, m in enumerate(cells.models)]
    assert max(errors) < 1e-8

    newman = newman_iteration(cells)
    assert newman.converged
    errors = [
        abs(newman.strengths[i] / golden["newman"][m] - 1) for i, m in enumerate(cells.models)
    ]
    assert max(errors) < 1e-9

    # Newman's fixed point is Davidson's MLE: the direct maximum-likelihood fit agrees
    davidson = fit_davidson(cells)
    assert davidson.theta == pytest.approx(newman.theta, abs=1e-6)
    assert davidson.tie_parameter == pytest.approx(newman.tie_parameter, rel=1e-6)
    assert davidson.log_likelihood >= newman.log_likelihood - 1e-9


def test_wikipedia_bradley_terry_example() -> None:
    """Wikipedia's worked example ("Bradley-Terry model"): four teams, 22 games;
    wins[i][j] = games i won against j. The article's iteration, normalised by the
    geometric mean, converges to p = (0.640, 1.043, 0.660, 2.270)."""
    wins = [[0, 2, 0, 1], [3, 0, 5, 0], [0, 3, 0, 1], [4, 0, 3, 0]]
    a, b, outcome, count = [], [], [], []
    for i in range(4):
        for j in range(4):
            if wins[i][j]:
                a.append(i)
                b.append(j)
                outcome.append(0)
                count.append(wins[i][j])
    fit = fit_bradley_terry(cells_from_arrays(("A", "B", "C", "D"), a, b, outcome, count))
    strengths = np.exp(fit.theta - fit.theta.mean())  # geometric mean 1
    assert np.round(strengths, 3).tolist() == [0.640, 1.043, 0.660, 2.270]
    # on the Elo scale: 400 * log10 of the strength ratio
    assert fit.ratings[3] - fit.ratings[0] == pytest.approx(
        400 * math.log10(2.270 / 0.640), abs=0.2
    )


@needs_arena
def test_chatbot_arena_leaderboard() -> None:
    """The leaderboard of the 2024-08-14 snapshot, anchored like FastChat
    (mixtral-8x7b-instruct-v0.1 = 1114). The published Chatbot Arena leaderboard of that
    date (Bradley-Terry, no style control) had the same top five in the same order:
    chatgpt-4o-latest, gemini-1.5-pro-exp-0801, gpt-4o-2024-05-13, gpt-4o-mini-2024-07-18,
    claude-3-5-sonnet-20240620, at about 1316, 1299, 1286, 1275, 1271. The values pinned
    below are our own MLE (to 0.1 points); FastChat's published numbers come from its
    L-BFGS solver and bootstrap medians, so they differ by up to about a point."""
    cells = cells_from_battles(read_battles(ARENA))
    assert cells.n_models == 129 and cells.n_battles == 1_670_250
    fit = fit_bradley_terry(cells, anchor=Anchor("mixtral-8x7b-instruct-v0.1", 1114.0))
    assert fit.converged and fit.gradient_max < 1e-10
    order = np.argsort(-fit.ratings)
    top = [(cells.models[i], round(float(fit.ratings[i]), 1)) for i in order[:5]]
    assert [m for m, _ in top] == [
        "chatgpt-4o-latest",
        "gemini-1.5-pro-exp-0801",
        "gpt-4o-2024-05-13",
        "gpt-4o-mini-2024-07-18",
        "claude-3-5-sonnet-20240620",
    ]
    assert [r for _, r in top] == pytest.approx([1315.2, 1298.4, 1285.8, 1274.8, 1271.0], abs=0.1)

    # FastChat's exact solver settings stop early: within ~1.5 points of the MLE, and the
    # top five keep their order
    fastchat = fit_bradley_terry_fastchat(cells)
    gap = (fastchat.ratings - fastchat.ratings.mean()) - (fit.ratings - fit.ratings.mean())
    assert 0.01 < np.abs(gap).max() < 1.5
    assert [cells.models[i] for i in np.argsort(-fastchat.ratings)[:5]] == [m for m, _ in top]
