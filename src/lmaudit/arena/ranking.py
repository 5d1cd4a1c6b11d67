"""From battles to a leaderboard with intervals: the pipeline behind `lmaudit arena rank`."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lmaudit.arena.battles import STYLE_STATS, Battles
from lmaudit.arena.bootstrap import bootstrap_bradley_terry
from lmaudit.arena.bradley_terry import (
    ELO_SCALE,
    Anchor,
    fit_bradley_terry,
    fit_bradley_terry_fastchat,
    to_elo,
    win_probabilities,
)
from lmaudit.arena.cells import PairCells, cells_from_battles, with_inverse_propensity_weights
from lmaudit.arena.contextual import (
    bootstrap_contextual_bt,
    contextual_sandwich,
    fit_contextual_bt,
    penalty_convention,
)
from lmaudit.arena.elo import battle_sequence, bootstrap_elo, online_elo
from lmaudit.arena.leaderboard import Leaderboard, RankChange, build_leaderboard, rank_changes
from lmaudit.arena.position_bt import PositionTerm, fit_position_bt
from lmaudit.arena.robustness import RobustnessAudit, audit_top_model
from lmaudit.arena.style import style_design, with_inverse_propensity_rows
from lmaudit.arena.ties import TieModelFit, fit_davidson, fit_rao_kupper
from lmaudit.arena.uncertainty import (
    RatingIntervals,
    anchored_covariance,
    bootstrap_intervals,
    normal_intervals,
    sandwich_covariance,
)
from lmaudit.core.types import LmauditError
from lmaudit.stats.validation import normal_quantile

METHODS = ("bt", "elo", "davidson", "rao-kupper")
METHOD_TITLES = {
    "bt": "Bradley-Terry MLE (ties as half wins)",
    "elo": "online Elo (K=4, base 10, scale 400, initial 1000)",
    "davidson": "Davidson tie model MLE",
    "rao-kupper": "Rao-Kupper tie model MLE",
}


@dataclass(frozen=True)
class RankOptions:
    """How to rate. `intervals`: bootstrap, sandwich (BT and style control) or none."""

    method: str = "bt"
    intervals: str = "bootstrap"
    bootstrap_rounds: int = 1000
    seed: int = 0
    workers: int | None = None
    anchor: Anchor | None = None
    confidence: float = 0.95
    ridge: float = 0.0
    inverse_propensity: bool = False
    fastchat_solver: bool = False
    style_control: bool = False
    style_features: tuple[str, ...] = STYLE_STATS
    style_penalty: str = "none"
    robustness: bool = False
    robustness_challengers: int = 3
    position_term: bool = False  # also fit BT with a first-shown advantage (position_bt)


@dataclass(frozen=True)
class StyleCoefficient:
    """Change in log-odds of winning per standard deviation of the feature, with interval."""

    name: str
    value: float
    ci_low: float
    ci_high: float
    stderr: float


@dataclass(frozen=True)
class StyleReport:
    leaderboard: Leaderboard
    coefficients: tuple[StyleCoefficient, ...]
    changes: tuple[RankChange, ...]
    dropped: tuple[str, ...]
    penalty: float
    gradient_max: float


@dataclass(frozen=True)
class RankReport:
    leaderboard: Leaderboard
    fit: dict[str, Any]
    win_probabilities: np.ndarray  # in leaderboard order
    style: StyleReport | None = None
    robustness: RobustnessAudit | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    position: PositionTerm | None = None


def _check(options: RankOptions) -> None:
    if options.method not in METHODS:
        raise LmauditError(f"unknown method {options.method!r}; use one of {', '.join(METHODS)}")
    if options.intervals not in ("bootstrap", "sandwich", "none"):
        raise LmauditError("intervals must be bootstrap, sandwich or none")
    if options.intervals == "sandwich" and options.method not in ("bt",):
        raise LmauditError(
            f"sandwich intervals are for Bradley-Terry; use --intervals "
            f"bootstrap with --method {options.method}"
        )
    if options.style_control and options.method != "bt":
        raise LmauditError("style control extends Bradley-Terry; use --method bt")
    if options.position_term and options.method != "bt":
        raise LmauditError("the position term extends Bradley-Terry; use --method bt")
    if options.intervals == "bootstrap" and options.bootstrap_rounds < 2:
        raise LmauditError("--bootstrap needs at least 2 rounds (or use --intervals none)")
    if not 0.0 < options.confidence < 1.0:  # NaN fails too
        raise LmauditError(
            f"--confidence must be a level between 0 and 1 (e.g. 0.95), got {options.confidence}"
        )
    if not 0.0 <= options.ridge < math.inf:
        raise LmauditError(f"--ridge must be a finite number >= 0, got {options.ridge}")


def _interval_label(options: RankOptions) -> str:
    if options.intervals == "bootstrap":
        return f"bootstrap percentile ({options.bootstrap_rounds} rounds, seed {options.seed})"
    return {"sandwich": "sandwich (robust) normal approximation", "none": "none"}[options.intervals]


def _tie_bootstrap(
    cells: PairCells, fit: TieModelFit, options: RankOptions
) -> tuple[np.ndarray, int]:
    from lmaudit.arena.sampling import multinomial_counts

    rng = np.random.default_rng(options.seed)
    counts = multinomial_counts(rng, cells.cell_count, options.bootstrap_rounds)
    fitter = fit_davidson if options.method == "davidson" else fit_rao_kupper
    replicates, failed = [], 0
    for row in counts:
        try:
            replicates.append(fitter(replace(cells, cell_count=row), anchor=options.anchor).ratings)
        except LmauditError:
            failed += 1  # a resample in which some model never won or never lost
    if len(replicates) < 2:
        raise LmauditError("too few bootstrap rounds could be fitted")
    return np.asarray(replicates), failed


def _rate(
    battles: Battles, cells: PairCells, options: RankOptions, timings: dict[str, float]
) -> tuple[np.ndarray, RatingIntervals | None, dict[str, Any], list[str]]:
    notes: list[str] = []
    started = time.perf_counter()
    intervals: RatingIntervals | None = None
    if options.method == "elo":
        if not battles.ordered:
            raise LmauditError(
                f"{battles.source} holds aggregated counts, not battles in time "
                "order; online Elo needs the order (use --method bt)"
            )
        sequence = battle_sequence(battles)
        ratings = online_elo(sequence)
        info: dict[str, Any] = {"solver": "online", "battles": len(sequence.a)}
        timings["fit_s"] = time.perf_counter() - started
        if options.intervals == "bootstrap":
            started = time.perf_counter()
            replicates = bootstrap_elo(sequence, options.bootstrap_rounds, options.seed)
            intervals = bootstrap_intervals(replicates, options.confidence)
            timings["bootstrap_s"] = time.perf_counter() - started
        return ratings, intervals, info, notes
    if options.method in ("davidson", "rao-kupper"):
        fitter = fit_davidson if options.method == "davidson" else fit_rao_kupper
        tie_fit = fitter(cells, anchor=options.anchor)
        info = {
            "solver": "l-bfgs",
            "iterations": tie_fit.iterations,
            "gradient_max": tie_fit.gradient_max,
            "converged": tie_fit.converged,
            "tie_parameter": tie_fit.tie_parameter,
            "log_likelihood": tie_fit.log_likelihood,
        }
        timings["fit_s"] = time.perf_counter() - started
        if options.intervals == "bootstrap":
            started = time.perf_counter()
            replicates, failed = _tie_bootstrap(cells, tie_fit, options)
            intervals = bootstrap_intervals(replicates, options.confidence)
            timings["bootstrap_s"] = time.perf_counter() - started
            if failed:
                notes.append(f"{failed} bootstrap round(s) had infinite MLEs and were skipped")
        return tie_fit.ratings, intervals, info, notes
    fit = (
        fit_bradley_terry_fastchat(cells)
        if options.fastchat_solver
        else fit_bradley_terry(cells, anchor=options.anchor, ridge=options.ridge)
    )
    if options.fastchat_solver and options.anchor is not None:
        fit = replace(
            fit, anchor=options.anchor, ratings=to_elo(fit.theta, cells.models, options.anchor)
        )
    info = {
        "solver": fit.solver,
        "iterations": fit.iterations,
        "gradient_max": fit.gradient_max,
        "converged": fit.converged,
        "log_likelihood": fit.log_likelihood,
        "ridge": fit.ridge,
    }
    timings["fit_s"] = time.perf_counter() - started
    started = time.perf_counter()
    if options.intervals == "bootstrap":
        boot = bootstrap_bradley_terry(
            cells, fit, rounds=options.bootstrap_rounds, seed=options.seed, workers=options.workers
        )
        intervals = bootstrap_intervals(boot.ratings, options.confidence)
        info["bootstrap_workers"] = boot.workers
        if boot.not_converged:
            notes.append(
                f"{boot.not_converged} bootstrap round(s) failed the gradient check "
                "(a rarely seen model won or lost all its resampled battles)"
            )
        timings["bootstrap_s"] = time.perf_counter() - started
    elif options.intervals == "sandwich":
        cov = anchored_covariance(sandwich_covariance(cells, fit.theta), cells.models, fit.anchor)
        intervals = normal_intervals(fit.ratings, cov, options.confidence, seed=options.seed)
        timings["sandwich_s"] = time.perf_counter() - started
    return fit.ratings, intervals, info, notes


def _style(
    battles: Battles, options: RankOptions, plain: Leaderboard, timings: dict[str, float]
) -> StyleReport:
    started = time.perf_counter()
    design = style_design(battles, features=options.style_features)
    if options.inverse_propensity:
        design = with_inverse_propensity_rows(design)
    penalty, rating_penalty = penalty_convention(options.style_penalty, float(design.count.sum()))
    fit = fit_contextual_bt(
        design, anchor=options.anchor, penalty=penalty, rating_penalty=rating_penalty
    )
    n = design.n_models
    z = normal_quantile(options.confidence)
    if options.intervals == "bootstrap":
        boot = bootstrap_contextual_bt(
            design, fit, rounds=options.bootstrap_rounds, seed=options.seed, workers=options.workers
        )
        intervals = bootstrap_intervals(
            to_elo(boot.theta, design.models, options.anchor), options.confidence
        )
        tail = (1 - options.confidence) / 2 * 100
        low, high = np.percentile(boot.beta, [tail, 100 - tail], axis=0)
        stderr = boot.beta.std(axis=0, ddof=1)
    elif options.intervals == "sandwich":
        cov = contextual_sandwich(design, fit)
        rating_cov = anchored_covariance(cov[:n, :n], design.models, options.anchor)
        intervals = normal_intervals(fit.ratings, rating_cov, options.confidence, seed=options.seed)
        stderr = np.sqrt(np.clip(np.diag(cov)[n:], 0, None))
        low, high = fit.beta - z * stderr, fit.beta + z * stderr
    else:
        intervals = None
        low = high = stderr = np.full(len(fit.beta), np.nan)
    battles_per_model = (
        np.bincount(design.a, design.count, n) + np.bincount(design.b, design.count, n)
    ).astype(float)
    board = build_leaderboard(
        design.models,
        fit.ratings,
        intervals,
        battles_per_model,
        method="Bradley-Terry with style control",
        interval_method=_interval_label(options),
    )
    coefficients = tuple(
        StyleCoefficient(name, float(v), float(lo), float(hi), float(se))
        for name, v, lo, hi, se in zip(design.names, fit.beta, low, high, stderr, strict=True)
    )
    timings["style_s"] = time.perf_counter() - started
    return StyleReport(
        board, coefficients, rank_changes(plain, board), design.dropped, penalty, fit.gradient_max
    )


def rank_battles(battles: Battles, options: RankOptions = RankOptions()) -> RankReport:
    """Fit the chosen method, attach intervals, optionally style control and robustness."""
    _check(options)
    timings: dict[str, float] = {}
    cells = cells_from_battles(battles)
    if options.inverse_propensity:
        cells = with_inverse_propensity_weights(cells)
    ratings, intervals, info, notes = _rate(battles, cells, options, timings)
    title = METHOD_TITLES[options.method] + (
        " + inverse-propensity weights" if options.inverse_propensity else ""
    )
    board = build_leaderboard(
        cells.models,
        ratings,
        intervals,
        cells.battles_per_model(),
        method=title,
        interval_method=_interval_label(options),
    )
    order = [cells.models.index(m) for m in board.models]
    probabilities = win_probabilities(np.asarray(ratings)[order])
    style = _style(battles, options, board, timings) if options.style_control else None
    audit = None
    if options.robustness:
        started = time.perf_counter()
        fit = fit_bradley_terry(cells, ridge=options.ridge)
        audit = audit_top_model(cells, fit, options.robustness_challengers)
        timings["robustness_s"] = time.perf_counter() - started
    position = None
    if options.position_term:
        started = time.perf_counter()
        position = fit_position_bt(
            battles, confidence=options.confidence, anchor=options.anchor, ridge=options.ridge
        )
        timings["position_s"] = time.perf_counter() - started
        if options.inverse_propensity:
            notes.append("the position term is fitted without inverse-propensity weights")
    info["elo_scale"] = ELO_SCALE
    return RankReport(
        board, info, probabilities, style, audit, timings, tuple(notes), position=position
    )
