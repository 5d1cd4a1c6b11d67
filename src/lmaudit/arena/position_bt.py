"""Bradley-Terry with a position (first-shown, "home advantage") term.

Model: P(model_a beats model_b) = expit(theta_a - theta_b + h), where model_a is the model
shown first (left, or answer A for a judge) and h is the first-shown advantage in
natural-log odds, fitted jointly with the strengths. Ties count as half a win for each
side (as in `bradley_terry`). h = 0 means no position effect; h > 0 favours the answer
shown first. At equal strength the first-shown model wins with probability expit(h).

Fit: Newton's method on the weighted binomial log-likelihood over ordered cells
(model_a, model_b, score, weight), with theta_0 fixed at 0 (then re-centred to sum zero;
h does not depend on the gauge). Interval: sandwich (robust) covariance
H^-1 M H^-1 with H = sum w n p (1 - p) x x^T and M = sum n w^2 (y - p)^2 x x^T, x the
design row (e_a - e_b without model 0, then 1 for h), a normal interval on h.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from lmaudit.arena.battles import Battles
from lmaudit.arena.bradley_terry import ELO_SCALE, Anchor, to_elo
from lmaudit.arena.cells import FloatArray, cells_from_battles
from lmaudit.core.types import LmauditError
from lmaudit.stats.validation import normal_quantile

SEPARATION_LOG_ODDS = 20.0  # a coefficient this large means an infinite MLE (separation)
_SCORE = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}


@dataclass(frozen=True)
class PositionTerm:
    """The first-shown advantage h (log-odds) with its interval, and the joint ratings.

    `elo`: h on the Elo scale (points). `first_win_probability`: expit(h), the chance
    that the first-shown of two equally strong models wins (ties as half).
    """

    value: float
    ci_low: float
    ci_high: float
    stderr: float
    elo: float
    first_win_probability: float
    confidence: float
    n_battles: float
    models: tuple[str, ...]
    ratings: tuple[float, ...]  # Elo scale, jointly fitted with h
    converged: bool


def _ordered_cells(battles: Battles, models: tuple[str, ...]) -> pd.DataFrame:
    frame = battles.frame
    frame = frame[frame["count"].to_numpy() > 0]
    index = {m: i for i, m in enumerate(models)}
    cells = pd.DataFrame(
        {
            "a": frame["model_a"].map(index).to_numpy(dtype=np.int64),
            "b": frame["model_b"].map(index).to_numpy(dtype=np.int64),
            "y": frame["winner"].map(_SCORE).to_numpy(dtype=float),
            "w": frame["weight"].to_numpy(dtype=float),
            "n": frame["count"].to_numpy(dtype=float),
        }
    )
    grouped = cells.groupby(["a", "b", "y", "w"], as_index=False)["n"].sum()
    return pd.DataFrame(grouped)


def _design(cells: pd.DataFrame, n_models: int) -> FloatArray:
    rows = len(cells)
    x = np.zeros((rows, n_models + 1))
    x[np.arange(rows), cells["a"].to_numpy()] += 1.0
    x[np.arange(rows), cells["b"].to_numpy()] -= 1.0
    x[:, n_models] = 1.0
    return x[:, 1:]  # theta_0 = 0 fixes the gauge


def fit_position_bt(
    battles: Battles,
    *,
    confidence: float = 0.95,
    anchor: Anchor | None = None,
    ridge: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> PositionTerm:
    """Fit strengths and the first-shown advantage jointly (see the module docstring).

    `ridge` (natural-log units) penalises the strengths only, as in `fit_bradley_terry`.
    Raises `LmauditError` when the fit does not converge or a coefficient reaches
    `SEPARATION_LOG_ODDS` (the MLE is infinite, e.g. the first-shown model always won).
    """
    cells_check = cells_from_battles(battles)
    if ridge == 0.0:
        from lmaudit.arena.bradley_terry import check_identifiable

        check_identifiable(cells_check)
    models = cells_check.models
    cells = _ordered_cells(battles, models)
    x = _design(cells, len(models))
    y, w, n = (cells[c].to_numpy(dtype=float) for c in ("y", "w", "n"))
    weight = w * n
    k = x.shape[1]
    penalty = np.full(k, ridge)
    penalty[-1] = 0.0
    beta = np.zeros(k)
    converged = False
    scale = max(float(weight.sum()), 1e-300)
    for _ in range(max_iter):
        p = expit(x @ beta)
        grad = x.T @ (weight * (y - p)) - penalty * beta
        if np.abs(grad).max() / scale <= tol:
            converged = True
            break
        hess = (x * (weight * p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        largest = float(np.abs(step).max())
        beta = beta + step * min(1.0, 10.0 / max(largest, 1e-300))
    p = expit(x @ beta)
    bread = (x * (weight * p * (1 - p))[:, None]).T @ x + np.diag(penalty)
    meat = (x * (n * w**2 * (y - p) ** 2)[:, None]).T @ x
    inverse = np.linalg.pinv(bread)
    cov = inverse @ meat @ inverse
    h = float(beta[-1])
    se = math.sqrt(max(float(cov[-1, -1]), 0.0))
    z = normal_quantile(confidence)
    if not converged or not np.all(np.abs(beta) < SEPARATION_LOG_ODDS):
        raise LmauditError(
            "the position term has no finite estimate: the model shown first won (or lost) "
            "every battle that decides it, or some model never lost; try --ridge"
        )
    theta = np.concatenate([[0.0], beta[:-1]])
    ratings = to_elo(theta, models, anchor)
    return PositionTerm(
        value=h,
        ci_low=h - z * se,
        ci_high=h + z * se,
        stderr=se,
        elo=h * ELO_SCALE,
        first_win_probability=float(expit(h)),
        confidence=confidence,
        n_battles=float(n.sum()),
        models=models,
        ratings=tuple(float(r) for r in ratings),
        converged=converged,
    )


def format_position_term(term: PositionTerm) -> str:
    """One line: h in log-odds and Elo points with the interval, and expit(h)."""
    level = f"{term.confidence:.0%}"
    return (
        f"position term (first-shown advantage, fitted jointly): h = {term.value:+.3f} log-odds "
        f"[{term.ci_low:+.3f}, {term.ci_high:+.3f}] ({level}, sandwich), "
        f"{term.elo:+.1f} Elo points; at equal strength the first-shown model wins "
        f"{term.first_win_probability:.1%}" + ("" if term.converged else " (NOT converged)")
    )
