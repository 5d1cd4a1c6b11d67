"""Bradley-Terry ratings by maximum likelihood, on the Elo scale.

Model: P(i beats j) = 1 / (1 + exp(-(theta_i - theta_j))), theta in natural-log units. A tie
counts as half a win for each side (the "ties as half wins" likelihood FastChat, arena-rank
and evalica use), i.e. each deduplicated pair contributes
`s log p + (n - s) log(1 - p)` with `n` its weighted battles and `s` the weighted score of
its first model.

Solver: Newton's method on the full Hessian (a weighted graph Laplacian), in the gauge
sum(theta) = 0, iterated until the largest gradient component is below `tol` times the
total weight (a gradient check, reported in `BTFit.gradient_max`). Ratings are
`1000 + theta * 400 / ln 10` (so a 400-point gap is 10:1 odds) and, with an anchor, shifted
so that the anchor model has the anchor rating. `fit_bradley_terry_fastchat` reproduces
FastChat's solver settings exactly (scipy L-BFGS-B from zeros, at most 100 iterations,
gtol 1e-6, anchor mixtral-8x7b-instruct-v0.1 = 1114 when present).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit, log_expit

from lmaudit.arena._threads import single_blas_thread
from lmaudit.arena.cells import FloatArray, IntArray, PairCells
from lmaudit.core.types import LmauditError

ELO_SCALE = 400.0 / math.log(10.0)  # Elo points per natural-log unit of strength
INITIAL_RATING = 1000.0
FASTCHAT_ANCHOR = ("mixtral-8x7b-instruct-v0.1", 1114.0)


@dataclass(frozen=True)
class Anchor:
    """Pin one model's rating (Elo points); without an anchor the mean rating is 1000."""

    model: str
    rating: float


@dataclass(frozen=True)
class BTFit:
    """A fitted Bradley-Terry model.

    `theta`: natural-log strengths with sum zero. `ratings`: Elo scale, anchored.
    `gradient_max`: max |d loglik / d theta| divided by the total weight, at the solution.
    """

    models: tuple[str, ...]
    theta: FloatArray
    ratings: FloatArray
    log_likelihood: float
    iterations: int
    gradient_max: float
    converged: bool
    solver: str
    anchor: Anchor | None = None
    ridge: float = 0.0


@dataclass(frozen=True)
class NewtonResult:
    theta: FloatArray  # (rounds, models)
    iterations: int
    gradient_max: FloatArray  # (rounds,)
    converged: npt.NDArray[np.bool_]  # (rounds,)


def to_elo(theta: FloatArray, models: tuple[str, ...], anchor: Anchor | None) -> FloatArray:
    """Natural-log strengths (..., models) to Elo ratings, centred at 1000 or anchored."""
    theta = np.asarray(theta, dtype=float)
    centred = theta - theta.mean(axis=-1, keepdims=True)
    ratings = INITIAL_RATING + ELO_SCALE * centred
    if anchor is not None:
        if anchor.model not in models:
            raise LmauditError(f"anchor model {anchor.model!r} is not among the rated models")
        k = models.index(anchor.model)
        ratings = ratings - ratings[..., k : k + 1] + anchor.rating
    return ratings


def incidence(pair_a: IntArray, pair_b: IntArray, n_models: int) -> Any:
    """Sparse (pairs x models) matrix with +1 at each pair's first model, -1 at its second."""
    from scipy.sparse import csr_matrix

    rows = np.arange(len(pair_a))
    values = np.concatenate([np.ones(len(rows)), -np.ones(len(rows))])
    return csr_matrix(
        (values, (np.concatenate([rows, rows]), np.concatenate([pair_a, pair_b]))),
        shape=(len(rows), n_models),
    )


def pair_gradient(
    pair_a: IntArray, pair_b: IntArray, residual: FloatArray, n_models: int
) -> FloatArray:
    """sum_p r_p (e_a - e_b), batched over rows of `residual` (rounds, pairs)."""
    residual = np.atleast_2d(residual)
    if residual.shape[0] == 1:
        row = residual[0]
        grad = np.bincount(pair_a, row, n_models) - np.bincount(pair_b, row, n_models)
        return grad[None, :].astype(float)
    return np.asarray((incidence(pair_a, pair_b, n_models).T @ residual.T).T)


def laplacian(
    pair_a: IntArray, pair_b: IntArray, values: npt.ArrayLike, n_models: int
) -> FloatArray:
    """Weighted graph Laplacians sum_p v_p (e_a - e_b)(e_a - e_b)^T, batched over rows.

    Pairs must be unique (as in `PairCells`)."""
    weights = np.atleast_2d(np.asarray(values, dtype=float))
    out = np.zeros((weights.shape[0], n_models, n_models))
    out[:, pair_a, pair_b] = -weights
    out[:, pair_b, pair_a] = -weights
    index = np.arange(n_models)
    out[:, index, index] = -out.sum(axis=2)
    return out


def log_likelihood(
    pair_a: IntArray, pair_b: IntArray, score: FloatArray, total: FloatArray, theta: FloatArray
) -> FloatArray:
    """Ties-as-half-wins log-likelihood (nats), batched over rows."""
    theta = np.atleast_2d(theta)
    diff = theta[:, pair_a] - theta[:, pair_b]
    value = score * log_expit(diff) + (total - score) * log_expit(-diff)
    return np.asarray(value.sum(axis=-1))


def newton_bradley_terry(
    pair_a: IntArray,
    pair_b: IntArray,
    score: FloatArray,
    total: FloatArray,
    n_models: int,
    theta0: FloatArray | None = None,
    *,
    ridge: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
    max_step: float = 10.0,
) -> NewtonResult:
    """Newton's method for many data sets at once (rows of `score` / `total`).

    Maximises loglik - ridge/2 * |theta|^2 in the gauge sum(theta) = 0. A round has
    converged when max |gradient| <= tol * its total weight. Steps are capped at `max_step`
    natural-log units so that a round whose MLE is infinite (a model that never lost) drifts
    instead of overflowing; such rounds report `converged = False`.
    """
    score, total = np.atleast_2d(score), np.atleast_2d(total)
    rounds = score.shape[0]
    theta = np.zeros((rounds, n_models)) if theta0 is None else np.array(theta0, dtype=float)
    theta = theta - theta.mean(axis=1, keepdims=True)
    scale = np.maximum(total.sum(axis=1), 1e-300)
    active = np.ones(rounds, dtype=bool)
    gradient_max = np.full(rounds, np.inf)
    iterations = 0
    with single_blas_thread():
        for iterations in range(1, max_iter + 1):  # noqa: B007 - reported below
            idx = np.flatnonzero(active)
            th = theta[idx]
            p = expit(th[:, pair_a] - th[:, pair_b])
            grad = pair_gradient(pair_a, pair_b, score[idx] - total[idx] * p, n_models)
            grad -= ridge * th
            gradient_max[idx] = np.abs(grad).max(axis=1) / scale[idx]
            done = gradient_max[idx] <= tol
            active[idx[done]] = False
            if not active.any():
                break
            keep = ~done
            idx, th, grad, p = idx[keep], th[keep], grad[keep], p[keep]
            hess = laplacian(pair_a, pair_b, total[idx] * p * (1 - p), n_models)
            diag = np.einsum("rii->ri", hess)
            gauge = diag.mean(axis=1) / n_models + 1e-12 * scale[idx] / n_models
            hess += gauge[:, None, None]  # fixes sum(step) = 0; grad sums to zero
            hess[:, np.arange(n_models), np.arange(n_models)] += ridge
            step = _solve_steps(hess, grad)
            largest = np.abs(step).max(axis=1, keepdims=True)
            step *= np.minimum(1.0, max_step / np.maximum(largest, 1e-300))
            theta[idx] = th + step
    theta -= theta.mean(axis=1, keepdims=True)
    return NewtonResult(theta, iterations, gradient_max, ~active)


def _solve_steps(hess: FloatArray, grad: FloatArray) -> FloatArray:
    """Newton steps `hess^-1 grad` per round. A round whose comparison graph falls apart
    (a bootstrap resample of a small file that leaves a model without battles) has a
    singular Hessian: its step is the least-squares one (pseudo-inverse), which leaves
    the models it cannot move where they are."""
    try:
        step = np.linalg.solve(hess, grad[..., None])
    except np.linalg.LinAlgError:
        step = np.linalg.pinv(hess, hermitian=True) @ grad[..., None]
    return np.asarray(step[..., 0], dtype=np.float64)


def check_identifiable(cells: PairCells) -> None:
    """Raise unless the MLE exists: the comparison graph must be connected, and every
    split of the models into two groups must have each group score something (a win or a
    tie) against the other (Zermelo's / Ford's strong-connectivity condition)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    score, total = cells.pair_totals()
    n = cells.n_models
    a, b = cells.pair_a, cells.pair_b
    undirected = csr_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    groups, labels = connected_components(undirected, directed=False)
    if groups > 1:
        sizes = np.bincount(labels)
        small = np.argsort(sizes)[: min(3, groups - 1)]
        names = [cells.models[int(np.flatnonzero(labels == g)[0])] for g in small]
        raise LmauditError(
            f"the battles split into {groups} groups of models that never met each other "
            f"(e.g. the group of {', '.join(repr(x) for x in names)}); ratings across groups "
            "are not comparable"
        )
    a_scored, b_scored = score > 0, (total - score) > 0
    rows = np.concatenate([a[a_scored], b[b_scored]])
    cols = np.concatenate([b[a_scored], a[b_scored]])
    directed = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    strong, labels = connected_components(directed, directed=True, connection="strong")
    if strong > 1:
        counts = np.bincount(labels)
        smallest = int(np.argmin(counts))
        members = [cells.models[i] for i in np.flatnonzero(labels == smallest)[:3]]
        raise LmauditError(
            "the Bradley-Terry maximum-likelihood ratings are infinite: some models "
            f"(e.g. {', '.join(repr(m) for m in members)}) never lost or never won against "
            "the others; pass a ridge penalty (--ridge) or drop them"
        )


def fit_bradley_terry(
    cells: PairCells,
    *,
    anchor: Anchor | None = None,
    ridge: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> BTFit:
    """Bradley-Terry MLE (ties as half wins) by Newton's method, reported on the Elo scale.

    `ridge` adds ridge/2 * |theta|^2 to the negative log-likelihood (natural-log units,
    summed over battles); 0 gives the plain MLE, which requires identifiable data.
    """
    if ridge == 0.0:
        check_identifiable(cells)
    score, total = cells.pair_totals()
    result = newton_bradley_terry(
        cells.pair_a,
        cells.pair_b,
        score,
        total,
        cells.n_models,
        ridge=ridge,
        tol=tol,
        max_iter=max_iter,
    )
    theta = result.theta[0]
    loglik = float(log_likelihood(cells.pair_a, cells.pair_b, score, total, theta)[0])
    return BTFit(
        models=cells.models,
        theta=theta,
        ratings=to_elo(theta, cells.models, anchor),
        log_likelihood=loglik,
        iterations=result.iterations,
        gradient_max=float(result.gradient_max[0]),
        converged=bool(result.converged[0]),
        solver="newton",
        anchor=anchor,
        ridge=ridge,
    )


def fit_bradley_terry_fastchat(cells: PairCells, *, normalize_weights: bool = False) -> BTFit:
    """FastChat's `fit_bt`, reproduced: L-BFGS-B from zeros on base-10 ratings r (logit
    ln(10) * (r_a - r_b)), `maxiter=100`, `gtol=1e-6`, ratings 400 r + 1000 anchored to
    mixtral-8x7b-instruct-v0.1 = 1114 when that model is present. FastChat's bootstrap
    divides the weights by the number of battles (`normalize_weights=True`), which changes
    what gtol means; its full-data fit does not."""
    from scipy.optimize import minimize

    score, total = cells.pair_totals()
    if normalize_weights:
        score, total = score / cells.n_battles, total / cells.n_battles
    alpha = math.log(10.0)
    a, b = cells.pair_a, cells.pair_b

    def loss_and_grad(r: FloatArray) -> tuple[float, FloatArray]:
        diff = alpha * (r[a] - r[b])
        loss = -float(np.sum(score * log_expit(diff) + (total - score) * log_expit(-diff)))
        residual = -alpha * (score - total * expit(diff))
        grad = np.bincount(a, residual, cells.n_models) - np.bincount(b, residual, cells.n_models)
        return loss, grad.astype(float)

    result = minimize(
        loss_and_grad,
        np.zeros(cells.n_models),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 100, "gtol": 1e-6},
    )
    theta = alpha * np.asarray(result.x, dtype=float)
    raw_ratings = 400.0 * np.asarray(result.x, dtype=float) + INITIAL_RATING
    model, rating = FASTCHAT_ANCHOR
    if model in cells.models:
        raw_ratings += rating - raw_ratings[cells.models.index(model)]
    full_score, full_total = cells.pair_totals()
    p = expit(theta[a] - theta[b])
    grad = np.bincount(a, full_score - full_total * p, cells.n_models) - np.bincount(
        b, full_score - full_total * p, cells.n_models
    )
    return BTFit(
        models=cells.models,
        theta=theta - theta.mean(),
        ratings=raw_ratings,
        log_likelihood=float(log_likelihood(a, b, full_score, full_total, theta)[0]),
        iterations=int(result.nit),
        gradient_max=float(np.abs(grad).max() / max(full_total.sum(), 1e-300)),
        converged=bool(result.success),
        solver="fastchat-lbfgs",
        anchor=Anchor(model, rating) if model in cells.models else None,
    )


def win_probabilities(ratings: FloatArray) -> FloatArray:
    """P(row model beats column model) implied by Elo-scale ratings (ties as half)."""
    ratings = np.asarray(ratings, dtype=float)
    return np.asarray(expit((ratings[:, None] - ratings[None, :]) / ELO_SCALE))
