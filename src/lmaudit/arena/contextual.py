"""Contextual (style-controlled) Bradley-Terry: ratings plus style coefficients.

Model, per battle: logit P(a beats b) = theta_a - theta_b + z . beta, with z the
standardised style features of the battle (`style.py`) and ties as half wins. Fitted by
Newton's method on (theta, beta) with sum(theta) = 0 and the same gradient check as the
plain fit. `beta_k` is the change in log-odds of winning per standard deviation of feature
k; ratings are reported on the Elo scale.

Penalty conventions (how much the style coefficients are shrunk):
- lmaudit: `penalty` lam adds lam / 2 * |beta|^2 to the negative log-likelihood summed over
  battles (natural logs); `rating_penalty` does the same for theta. Default 0: plain MLE.
- FastChat (`construct_style_matrices` + `fit_mle_elo`): scikit-learn's default
  LogisticRegression (L2, C = 1) over every battle written twice, on ratings in log10 units
  and on the style coefficients: on lmaudit's scale lam = 0.5 for beta and
  0.5 / ln(10)^2 for theta (`penalty_convention("fastchat", n)`).
- arena-rank (`ContextualBradleyTerry`, read at commit 758bc92): reg / 2 * |beta|^2 added
  to the *mean* loss with reg = 1.0 by default, ratings unpenalised: on lmaudit's scale
  lam = reg * (number of battles), a much stronger shrinkage.
With a penalty, the sandwich intervals describe the penalised estimator around its own
(shrunken) target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit, log_expit

from lmaudit.arena._parallel import map_chunks, shared
from lmaudit.arena._threads import single_blas_thread
from lmaudit.arena.bradley_terry import Anchor, laplacian, to_elo
from lmaudit.arena.cells import FloatArray, IntArray
from lmaudit.arena.sampling import multinomial_counts
from lmaudit.arena.style import StyleDesign
from lmaudit.core.types import LmauditError


def penalty_convention(convention: str, n_battles: float) -> tuple[float, float]:
    """(style penalty, rating penalty) on lmaudit's scale for a named convention."""
    if convention == "none":
        return 0.0, 0.0
    if convention == "fastchat":
        return 0.5, 0.5 / math.log(10.0) ** 2
    if convention == "arena-rank":
        return float(n_battles), 0.0
    raise LmauditError(
        f"unknown penalty convention {convention!r}; use none, fastchat or arena-rank"
    )


@dataclass(frozen=True)
class ContextualFit:
    """Ratings with style control. `covariance` (sandwich, natural-log units) is over
    (theta, beta) stacked, in the gauge sum(theta) = 0."""

    models: tuple[str, ...]
    theta: FloatArray
    ratings: FloatArray
    beta: FloatArray
    names: tuple[str, ...]
    log_likelihood: float
    iterations: int
    gradient_max: float
    converged: bool
    penalty: float
    rating_penalty: float
    anchor: Anchor | None = None


@dataclass(frozen=True)
class _Pairs:
    low: IntArray
    high: IntArray
    index: IntArray  # row -> unordered pair


def _pairs(design: StyleDesign) -> _Pairs:
    low, high = np.minimum(design.a, design.b), np.maximum(design.a, design.b)
    keys, index = np.unique(low * design.n_models + high, return_inverse=True)
    return _Pairs(keys // design.n_models, keys % design.n_models, index.astype(np.int64))


def _hessian(
    design: StyleDesign, pairs: _Pairs, values: FloatArray, penalty: float, rating_penalty: float
) -> FloatArray:
    """Negative Hessian (or a sandwich meat with `values` = squared scores) over
    (theta, beta): [[Laplacian, cross], [cross^T, Z^T diag(v) Z]] plus the penalties."""
    n, k = design.n_models, design.features.shape[1]
    per_pair = np.bincount(pairs.index, values, len(pairs.low))
    out = np.zeros((n + k, n + k))
    out[:n, :n] = laplacian(pairs.low, pairs.high, per_pair, n)[0]
    weighted = design.features * values[:, None]
    cross = np.stack(
        [
            np.bincount(design.a, weighted[:, j], n) - np.bincount(design.b, weighted[:, j], n)
            for j in range(k)
        ],
        axis=1,
    )
    out[:n, n:], out[n:, :n] = cross, cross.T
    out[n:, n:] = design.features.T @ weighted
    out[np.arange(n), np.arange(n)] += rating_penalty
    out[np.arange(n, n + k), np.arange(n, n + k)] += penalty
    return out


def _gradient(
    design: StyleDesign,
    residual: FloatArray,
    theta: FloatArray,
    beta: FloatArray,
    penalty: float,
    rating_penalty: float,
) -> FloatArray:
    n = design.n_models
    g_theta = np.bincount(design.a, residual, n) - np.bincount(design.b, residual, n)
    g_beta = design.features.T @ residual
    return np.concatenate([g_theta - rating_penalty * theta, g_beta - penalty * beta])


def _gauge(hessian: FloatArray, n: int) -> FloatArray:
    fixed = hessian.copy()
    fixed[:n, :n] += np.trace(hessian[:n, :n]) / n**2 + 1e-300
    return fixed


def contextual_newton(
    design: StyleDesign,
    counts: npt.NDArray[np.float64] | None = None,
    start: FloatArray | None = None,
    *,
    penalty: float = 0.0,
    rating_penalty: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
    hessian_inverse: FloatArray | None = None,
) -> tuple[FloatArray, int, float, bool]:
    """Maximise the penalised likelihood; returns (params, iterations, gradient_max, ok).

    With `hessian_inverse` (of a nearby fit) the iteration is chord-Newton: the Hessian is
    not recomputed, each step costs one gradient.
    """
    n, k = design.n_models, design.features.shape[1]
    weights = (design.count if counts is None else counts) * design.weight
    scale = max(float(weights.sum()), 1e-300)
    params = np.zeros(n + k) if start is None else np.array(start, dtype=float)
    pairs = _pairs(design) if hessian_inverse is None else None
    gradient_max, iteration = math.inf, 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 - reported below
        theta, beta = params[:n], params[n:]
        p = expit(theta[design.a] - theta[design.b] + design.features @ beta)
        grad = _gradient(design, weights * (design.score - p), theta, beta, penalty, rating_penalty)
        gradient_max = float(np.abs(grad).max()) / scale
        if gradient_max <= tol:
            break
        step: FloatArray
        if hessian_inverse is not None:
            step = hessian_inverse @ grad
        else:
            assert pairs is not None
            hess = _hessian(design, pairs, weights * p * (1 - p), penalty, rating_penalty)
            step = np.asarray(np.linalg.solve(_gauge(hess, n), grad), dtype=np.float64)
        step *= min(1.0, 10.0 / max(float(np.abs(step).max()), 1e-300))
        params = params + step
        params[:n] -= params[:n].mean()
    return params, iteration, gradient_max, gradient_max <= tol


def fit_contextual_bt(
    design: StyleDesign,
    *,
    anchor: Anchor | None = None,
    penalty: float = 0.0,
    rating_penalty: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> ContextualFit:
    """Style-controlled Bradley-Terry by Newton's method (see the module docstring)."""
    with single_blas_thread():
        params, iterations, gradient_max, ok = contextual_newton(
            design, penalty=penalty, rating_penalty=rating_penalty, tol=tol, max_iter=max_iter
        )
    n = design.n_models
    theta, beta = params[:n], params[n:]
    eta = theta[design.a] - theta[design.b] + design.features @ beta
    weights = design.count * design.weight
    loglik = float(
        (weights * (design.score * log_expit(eta) + (1 - design.score) * log_expit(-eta))).sum()
    )
    return ContextualFit(
        models=design.models,
        theta=theta,
        ratings=to_elo(theta, design.models, anchor),
        beta=beta,
        names=design.names,
        log_likelihood=loglik,
        iterations=iterations,
        gradient_max=gradient_max,
        converged=ok,
        penalty=penalty,
        rating_penalty=rating_penalty,
        anchor=anchor,
    )


def contextual_hessian_inverse(design: StyleDesign, fit: ContextualFit) -> FloatArray:
    """Inverse negative Hessian at the fit, gauge-fixed (used by the bootstrap)."""
    p = expit(fit.theta[design.a] - fit.theta[design.b] + design.features @ fit.beta)
    weights = design.count * design.weight
    hess = _hessian(design, _pairs(design), weights * p * (1 - p), fit.penalty, fit.rating_penalty)
    return np.asarray(np.linalg.inv(_gauge(hess, design.n_models)))


def contextual_sandwich(design: StyleDesign, fit: ContextualFit) -> FloatArray:
    """Sandwich covariance H^+ M H^+ of (theta, beta), natural-log units."""
    p = expit(fit.theta[design.a] - fit.theta[design.b] + design.features @ fit.beta)
    pairs = _pairs(design)
    bread = _hessian(
        design, pairs, design.count * design.weight * p * (1 - p), fit.penalty, fit.rating_penalty
    )
    meat_values = design.count * design.weight**2 * (design.score - p) ** 2
    meat = _hessian(design, pairs, meat_values, 0.0, 0.0)
    inverse = np.linalg.pinv(bread, hermitian=True)
    return np.asarray(inverse @ meat @ inverse)


@dataclass(frozen=True)
class ContextualBootstrap:
    """Bootstrap replicates: `theta` (rounds, models), `beta` (rounds, features)."""

    theta: FloatArray
    beta: FloatArray
    not_converged: int
    seed: int


def _contextual_chunk(job: dict[str, Any]) -> tuple[FloatArray, int]:
    design: StyleDesign = shared(job, "design")
    start: FloatArray = shared(job, "start")
    rng = np.random.Generator(np.random.PCG64(job["seed"]))
    out = np.empty((job["rounds"], len(start)))
    failed = 0
    with single_blas_thread():
        counts = multinomial_counts(rng, design.count, job["rounds"])
        for r in range(job["rounds"]):
            params, _, _, ok = contextual_newton(
                design,
                counts[r],
                start,
                penalty=job["penalty"],
                rating_penalty=job["rating_penalty"],
                tol=job["tol"],
                max_iter=job["max_iter"],
                hessian_inverse=shared(job, "hessian_inverse"),
            )
            if not ok:  # chord steps stalled: finish with true Newton steps
                params, _, _, ok = contextual_newton(
                    design,
                    counts[r],
                    params,
                    penalty=job["penalty"],
                    rating_penalty=job["rating_penalty"],
                    tol=job["tol"],
                )
            out[r] = params
            failed += not ok
    return out, failed


def bootstrap_contextual_bt(
    design: StyleDesign,
    fit: ContextualFit,
    *,
    rounds: int = 100,
    seed: int = 0,
    workers: int | None = None,
    tol: float = 1e-9,
    chunk_rounds: int = 10,
) -> ContextualBootstrap:
    """Multinomial bootstrap over battles (rows weighted by their counts), each round solved
    by chord-Newton steps from the full-data fit (one gradient per step)."""
    if rounds < 1:
        raise LmauditError("bootstrap rounds must be at least 1")
    chunks = math.ceil(rounds / chunk_rounds)
    seeds = np.random.SeedSequence(seed).spawn(chunks)
    jobs = [
        {
            "rounds": min(chunk_rounds, rounds - k * chunk_rounds),
            "seed": seeds[k],
            "penalty": fit.penalty,
            "rating_penalty": fit.rating_penalty,
            "tol": tol,
            "max_iter": 40,
        }
        for k in range(chunks)
    ]
    inputs = {
        "design": design,
        "start": np.concatenate([fit.theta, fit.beta]),
        "hessian_inverse": contextual_hessian_inverse(design, fit),
    }
    results = map_chunks(_contextual_chunk, jobs, workers, inputs)
    params = np.concatenate([r[0] for r in results], axis=0)
    n = design.n_models
    theta = params[:, :n] - params[:, :n].mean(axis=1, keepdims=True)
    return ContextualBootstrap(theta, params[:, n:], sum(r[1] for r in results), seed)
