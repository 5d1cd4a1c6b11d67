"""Tie-aware Bradley-Terry variants: Davidson (1970), Rao-Kupper (1967), Newman's iteration.

With strengths pi = exp(lambda) (lambda in natural-log units, sum zero):

- Davidson: P(i beats j) = pi_i / D, P(tie) = nu sqrt(pi_i pi_j) / D,
  D = pi_i + pi_j + nu sqrt(pi_i pi_j), nu >= 0. Equivalently a 3-way softmax of
  (lambda_i, lambda_j, log nu + (lambda_i + lambda_j) / 2).
- Rao-Kupper: P(i beats j) = pi_i / (pi_i + t pi_j), P(tie) = (t^2 - 1) pi_i pi_j /
  ((pi_i + t pi_j)(t pi_i + pi_j)), t >= 1; with eta = ln t,
  P(i beats j) = sigmoid(lambda_i - lambda_j - eta).
- Newman (2023, "Efficient computation of rankings from pairwise comparisons"): a
  fixed-point iteration for Davidson's model in Newman's parametrisation (nu = 2 v),
  started from pi = 1, v = 1/2, returning pi unnormalised, as evalica does.

Both kinds of tie ("tie", "tie (bothbad)") count as ties. Davidson and Rao-Kupper are fitted
by L-BFGS on the exact log-likelihood with analytic gradients, to a relative gradient of
`tol`; ratings are reported on the Elo scale (in both models P(i beats j | not a tie) =
sigmoid(lambda_i - lambda_j), so 400 / ln 10 per unit again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_expit, logsumexp, softmax

from lmaudit.arena.bradley_terry import Anchor, check_identifiable, to_elo
from lmaudit.arena.cells import A_WINS, B_WINS, FloatArray, PairCells
from lmaudit.core.types import LmauditError


@dataclass(frozen=True)
class TieModelFit:
    """A tie-aware fit. `tie_parameter` is nu (Davidson, Newman) or t (Rao-Kupper)."""

    models: tuple[str, ...]
    theta: FloatArray
    ratings: FloatArray
    tie_parameter: float
    log_likelihood: float
    gradient_max: float
    converged: bool
    iterations: int
    model: str
    strengths: FloatArray
    anchor: Anchor | None = None


def _counts(cells: PairCells) -> tuple[FloatArray, FloatArray, FloatArray]:
    table = cells.outcome_counts()
    return table[:, A_WINS], table[:, B_WINS], table[:, 2] + table[:, 3]


def _davidson(cells: PairCells) -> Callable[[FloatArray], tuple[float, FloatArray]]:
    wins_a, wins_b, ties = _counts(cells)
    a, b, n = cells.pair_a, cells.pair_b, cells.n_models
    observed = np.stack([wins_a, wins_b, ties], axis=1)
    total = observed.sum(axis=1)

    def negative(params: FloatArray) -> tuple[float, FloatArray]:
        lam, log_nu = params[:n], params[n]
        utilities = np.stack([lam[a], lam[b], log_nu + (lam[a] + lam[b]) / 2], axis=1)
        loglik = (observed * utilities).sum() - (total * logsumexp(utilities, axis=1)).sum()
        g = observed - total[:, None] * softmax(utilities, axis=1)
        grad = np.bincount(a, g[:, 0] + g[:, 2] / 2, n) + np.bincount(b, g[:, 1] + g[:, 2] / 2, n)
        return -float(loglik), -np.append(grad, g[:, 2].sum())

    return negative


def _rao_kupper(cells: PairCells) -> Callable[[FloatArray], tuple[float, FloatArray]]:
    wins_a, wins_b, ties = _counts(cells)
    a, b, n = cells.pair_a, cells.pair_b, cells.n_models
    left, right = wins_a + ties, wins_b + ties

    def negative(params: FloatArray) -> tuple[float, FloatArray]:
        lam, kappa = params[:n], params[n]
        eta = np.exp(kappa)  # eta = ln t > 0
        d = lam[a] - lam[b]
        log_pa, log_pb = log_expit(d - eta), log_expit(-d - eta)
        loglik = (left * log_pa + right * log_pb).sum() + ties.sum() * np.log(np.expm1(2 * eta))
        miss_a, miss_b = -np.expm1(log_pa), -np.expm1(log_pb)  # 1 - P_A, 1 - P_B
        d_grad = left * miss_a - right * miss_b
        eta_grad = (-left * miss_a - right * miss_b).sum() + ties.sum() * 2 / -np.expm1(-2 * eta)
        grad = np.bincount(a, d_grad, n) - np.bincount(b, d_grad, n)
        return -float(loglik), -np.append(grad, eta_grad * eta)

    return negative


def _fit(
    cells: PairCells,
    model: str,
    objective: Callable[[FloatArray], tuple[float, FloatArray]],
    start_tie: float,
    anchor: Anchor | None,
    tol: float,
) -> TieModelFit:
    check_identifiable(cells)
    wins_a, wins_b, ties = _counts(cells)
    if ties.sum() <= 0:
        raise LmauditError(f"the {model} model needs ties; these battles have none")
    scale = float((wins_a + wins_b + ties).sum())

    def scaled(params: FloatArray) -> tuple[float, FloatArray]:
        value, grad = objective(params)
        return value / scale, grad / scale

    start = np.append(np.zeros(cells.n_models), start_tie)
    result = minimize(
        scaled,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 20000, "gtol": tol, "ftol": 1e-15, "maxcor": 30},
    )
    params = np.asarray(result.x, dtype=float)
    value, grad = objective(params)
    theta = params[: cells.n_models] - params[: cells.n_models].mean()
    gradient_max = float(np.abs(grad).max() / scale)
    if model == "davidson":
        tie_parameter = float(np.exp(params[-1]))
    else:
        tie_parameter = float(np.exp(np.exp(params[-1])))
    return TieModelFit(
        models=cells.models,
        theta=theta,
        ratings=to_elo(theta, cells.models, anchor),
        tie_parameter=tie_parameter,
        log_likelihood=-value,
        gradient_max=gradient_max,
        converged=gradient_max <= 10 * tol,
        iterations=int(result.nit),
        model=model,
        strengths=np.exp(theta),
        anchor=anchor,
    )


def fit_davidson(
    cells: PairCells, *, anchor: Anchor | None = None, tol: float = 1e-9
) -> TieModelFit:
    """Davidson's tie model by maximum likelihood; `tie_parameter` is nu."""
    return _fit(cells, "davidson", _davidson(cells), 0.0, anchor, tol)


def fit_rao_kupper(
    cells: PairCells, *, anchor: Anchor | None = None, tol: float = 1e-9
) -> TieModelFit:
    """Rao and Kupper's tie model by maximum likelihood; `tie_parameter` is t >= 1."""
    return _fit(cells, "rao-kupper", _rao_kupper(cells), np.log(0.5), anchor, tol)


def win_tie_matrices(cells: PairCells) -> tuple[FloatArray, FloatArray]:
    """Dense W[i, j] = weighted wins of i over j and symmetric T[i, j] = ties of i and j."""
    wins_a, wins_b, ties = _counts(cells)
    n, a, b = cells.n_models, cells.pair_a, cells.pair_b
    wins, tie = np.zeros((n, n)), np.zeros((n, n))
    wins[a, b], wins[b, a] = wins_a, wins_b
    tie[a, b], tie[b, a] = ties, ties
    return wins, tie


def newman_iteration(
    cells: PairCells,
    *,
    v_init: float = 0.5,
    tol: float = 1e-12,
    max_iter: int = 100_000,
    anchor: Anchor | None = None,
) -> TieModelFit:
    """Newman's iteration for the tie model, from pi = 1: repeat until |pi' - pi| < tol

        pi_i' = sum_j (W_ij + T_ij/2)(pi_j + v s_ij) / D_ij
                / sum_j (W_ji + T_ji/2)(1 + v sqrt(pi_j / pi_i)) / D_ij
        v'    = (sum_ij T_ij (pi_i + pi_j) / D_ij / 2) / (2 sum_ij W_ij s_ij / D_ij)

    with s_ij = sqrt(pi_i pi_j) and D_ij = pi_i + pi_j + 2 v s_ij. `strengths` is pi as
    iterated (not normalised); `tie_parameter` is Davidson's nu = 2 v.
    """
    wins, tie = win_tie_matrices(cells)
    half = wins + tie / 2
    pi, v = np.ones(cells.n_models), float(v_init)
    converged, iteration = False, 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 - reported below
        root = np.sqrt(np.outer(pi, pi))
        pair_sum = np.add.outer(pi, pi)
        denominator = pair_sum + 2 * v * root
        numerator = (half * (pi[None, :] + v * root) / denominator).sum(axis=1)
        ratio = np.sqrt(pi[None, :] / pi[:, None])  # [i, j] = sqrt(pi_j / pi_i)
        divisor = (half.T * (1 + v * ratio) / denominator).sum(axis=1)
        new_pi = numerator / divisor
        new_v = float((tie * pair_sum / denominator).sum() / 2) / float(
            (wins * root / denominator).sum() * 2
        )
        change = float(np.linalg.norm(new_pi - pi))
        pi, v = new_pi, new_v
        if change < tol:
            converged = True
            break
    theta = np.log(pi) - np.log(pi).mean()
    return TieModelFit(
        models=cells.models,
        theta=theta,
        ratings=to_elo(theta, cells.models, anchor),
        tie_parameter=2 * v,
        log_likelihood=-_davidson(cells)(np.append(theta, np.log(2 * v)))[0],
        gradient_max=float("nan"),
        converged=converged,
        iterations=iteration,
        model="newman",
        strengths=pi,
        anchor=anchor,
    )
