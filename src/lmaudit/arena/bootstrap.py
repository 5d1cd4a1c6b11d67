"""Multinomial bootstrap of Bradley-Terry ratings over the deduplicated cells.

Each round redraws how many of the N battles fall in each (pair, outcome, weight) cell,
Multinomial(N, counts / N) (exact sampler in `sampling.py`), and refits. All rounds of a
chunk are solved together, vectorised across rounds, warm-started at the full-data fit:
chord-Newton iterations (Newton steps that reuse the full-data Hessian, factorised once)
converge linearly at a rate set by how far a round's Hessian is from the full-data one,
which for a bootstrap resample is small; rounds that have not converged after
`chord_iterations` continue with true per-round Newton steps. Every round stops on the same
gradient check as the full fit (max |gradient| <= tol * total weight).

Chunks of `chunk_rounds` rounds get their own child seed (`SeedSequence(seed).spawn`), so
results depend on the seed only, not on the number of worker processes.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from lmaudit.arena._parallel import default_workers, map_chunks, shared
from lmaudit.arena._threads import single_blas_thread
from lmaudit.arena.bradley_terry import (
    BTFit,
    incidence,
    laplacian,
    newton_bradley_terry,
    to_elo,
)
from lmaudit.arena.cells import FloatArray, PairCells
from lmaudit.arena.sampling import multinomial_counts
from lmaudit.core.types import LmauditError


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap replicates: `theta` (natural log, sum zero) and `ratings` (Elo, anchored),
    both (rounds, models). `not_converged` counts rounds that failed the gradient check
    (typically a rare model that won every resampled battle: its MLE is infinite)."""

    models: tuple[str, ...]
    theta: FloatArray
    ratings: FloatArray
    seed: int
    not_converged: int
    workers: int
    elapsed_s: float
    worker_cpu_s: tuple[float, ...] = ()  # CPU seconds spent in each worker process

    @property
    def rounds(self) -> int:
        return int(self.theta.shape[0])


def _pair_totals_by_column(cells: PairCells, counts: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Weighted score and battles per pair for (cells, rounds) counts -> (pairs, rounds)."""
    weighted = counts * cells.cell_weight[:, None]
    if np.all(np.diff(cells.cell_pair) >= 0) and len(cells.cell_pair):
        starts = np.flatnonzero(np.r_[True, np.diff(cells.cell_pair) != 0])
        score = np.add.reduceat(weighted * cells.cell_score[:, None], starts, axis=0)
        total = np.add.reduceat(weighted, starts, axis=0)
        return score, total
    score, total = cells.pair_totals(np.ascontiguousarray(weighted.T) / cells.cell_weight)
    return np.ascontiguousarray(score.T), np.ascontiguousarray(total.T)


def _chord_solve(
    cells: PairCells,
    counts: FloatArray,
    theta0: FloatArray,
    hessian_inverse: FloatArray,
    ridge: float,
    tol: float,
    chord_iterations: int,
) -> tuple[FloatArray, int]:
    """Solve every round (columns of `counts`, shape (cells, rounds)); theta is returned
    as (rounds, models), with the number of rounds that failed the gradient check."""
    score, total = _pair_totals_by_column(cells, counts)
    a, b, n = cells.pair_a, cells.pair_b, cells.n_models
    gradient_matrix = incidence(a, b, n).T.tocsr()  # (models, pairs)
    rounds = counts.shape[1]
    theta = np.repeat(theta0[:, None], rounds, axis=1)  # (models, rounds)
    limit = tol * np.maximum(total.sum(axis=0), 1e-300)
    pending = np.ones(rounds, dtype=bool)
    for _ in range(chord_iterations):
        residual = score - total * expit(theta[a] - theta[b])
        grad = gradient_matrix @ residual - ridge * theta
        pending = np.abs(grad).max(axis=0) > limit
        if not pending.any():
            break
        theta += hessian_inverse @ grad
    theta = np.ascontiguousarray(theta.T)
    if not pending.any():
        return theta, 0
    stubborn = np.flatnonzero(pending)  # finish these with true Newton steps
    result = newton_bradley_terry(
        a,
        b,
        np.ascontiguousarray(score[:, stubborn].T),
        np.ascontiguousarray(total[:, stubborn].T),
        n,
        theta[stubborn],
        ridge=ridge,
        tol=tol,
    )
    theta[stubborn] = result.theta
    return theta, int((~result.converged).sum())


def _run_chunk(job: dict[str, Any]) -> tuple[FloatArray, int, int, float]:
    started = time.process_time()
    rng = np.random.Generator(np.random.PCG64(job["seed"]))
    cells = shared(job, "cells")
    with single_blas_thread():
        counts = multinomial_counts(rng, cells.cell_count, job["rounds"], cells_first=True)
        theta, failed = _chord_solve(
            cells,
            counts,
            shared(job, "theta0"),
            shared(job, "hessian_inverse"),
            job["ridge"],
            job["tol"],
            job["chord_iterations"],
        )
    return theta, failed, os.getpid(), time.process_time() - started


def merge_ties(cells: PairCells) -> PairCells:
    """Cells with "tie" and "tie (bothbad)" merged: Bradley-Terry cannot tell them apart,
    and merging cells before a multinomial draw leaves the merged counts' law unchanged
    (so the bootstrap draws a quarter fewer random variates)."""
    from lmaudit.arena.cells import TIE, TIE_BOTHBAD, cells_from_arrays

    outcome = np.where(cells.cell_outcome == TIE_BOTHBAD, TIE, cells.cell_outcome)
    a, b = cells.pair_a[cells.cell_pair], cells.pair_b[cells.cell_pair]
    return cells_from_arrays(cells.models, a, b, outcome, cells.cell_count, cells.cell_weight)


def full_data_hessian_inverse(cells: PairCells, theta: FloatArray, ridge: float) -> FloatArray:
    """Inverse of the negative Hessian at `theta`, in the sum-zero gauge.

    Adding c * 11^T (c > 0) makes the Laplacian invertible without changing its action on
    vectors that sum to zero, and gradients always sum to zero.
    """
    _, total = cells.pair_totals()
    p = expit(theta[cells.pair_a] - theta[cells.pair_b])
    hess = laplacian(cells.pair_a, cells.pair_b, total * p * (1 - p), cells.n_models)[0]
    n = cells.n_models
    hess += np.trace(hess) / n**2 + ridge * np.eye(n)
    return np.asarray(np.linalg.inv(hess))


def bootstrap_bradley_terry(
    cells: PairCells,
    fit: BTFit,
    *,
    rounds: int = 1000,
    seed: int = 0,
    workers: int | None = None,
    tol: float = 1e-9,
    chunk_rounds: int = 50,
    chord_iterations: int = 30,
) -> BootstrapResult:
    """Refit Bradley-Terry on `rounds` multinomial resamples of the battles.

    The anchor and ridge of `fit` apply to every round (an anchored model therefore has a
    zero-width interval, as in FastChat). `tol` is the relative gradient tolerance.
    """
    if rounds < 1:
        raise LmauditError("bootstrap rounds must be at least 1")
    started = time.perf_counter()
    cells = merge_ties(cells)
    chunks = math.ceil(rounds / chunk_rounds)
    seeds = np.random.SeedSequence(seed).spawn(chunks)
    hessian_inverse = full_data_hessian_inverse(cells, fit.theta, fit.ridge)
    jobs = [
        {
            "rounds": min(chunk_rounds, rounds - k * chunk_rounds),
            "seed": seeds[k],
            "ridge": fit.ridge,
            "tol": tol,
            "chord_iterations": chord_iterations,
        }
        for k in range(chunks)
    ]
    inputs = {"cells": cells, "theta0": fit.theta, "hessian_inverse": hessian_inverse}
    workers = min(default_workers() if workers is None else max(1, workers), chunks)
    results = map_chunks(_run_chunk, jobs, workers, inputs)
    theta = np.concatenate([r[0] for r in results], axis=0)
    theta -= theta.mean(axis=1, keepdims=True)
    return BootstrapResult(
        models=cells.models,
        theta=theta,
        ratings=to_elo(theta, cells.models, fit.anchor),
        seed=seed,
        not_converged=sum(r[1] for r in results),
        workers=workers,
        elapsed_s=time.perf_counter() - started,
        worker_cpu_s=tuple(
            sum(r[3] for r in results if r[2] == pid) for pid in sorted({r[2] for r in results})
        ),
    )
