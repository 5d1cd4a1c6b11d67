"""What accuracy costs: cost per task, cost per correct answer, the cost–accuracy frontier.

Costs are per problem (one stored row: every answer the setting drew for it, so N samples
cost N answers), in whatever unit the caller priced them (US dollars, or tokens when no
price is known). Scores are the run's per-problem headline metric in [0, 1] (avg@N for N
samples).

- cost per task = sum(cost) / number of problems;
- cost per correct answer = sum(cost) / sum(score): the spend per solved problem;
both with percentile bootstrap intervals over problems (`ratio_estimate`, whole clusters
resampled when `clusters` is given; replicates with no correct answer are dropped, which
the interval of a nearly-never-right setting should be read with).

`pareto_frontier`: the settings no other setting beats on both axes (cheaper or as cheap
*and* at least as accurate, one of them strictly), in increasing cost; exact duplicates keep
the first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmaudit.stats.intervals import Estimate, ratio_estimate
from lmaudit.stats.validation import FloatArray, StatsInputError, as_float_vector


@dataclass(frozen=True)
class CostEstimates:
    """Cost per task and per correct answer (None when nothing was solved), and the total,
    all in the caller's cost unit."""

    per_task: Estimate
    per_correct: Estimate | None
    total: float


def token_cost(prompt_tokens: Any, completion_tokens: Any, usd_per_million_prompt: float,
               usd_per_million_completion: float) -> FloatArray:
    """US dollars per row: tokens × price per million tokens, prompt and completion apart."""
    prompt = as_float_vector(prompt_tokens, "prompt_tokens")
    completion = as_float_vector(completion_tokens, "completion_tokens")
    return np.asarray((prompt * usd_per_million_prompt
                       + completion * usd_per_million_completion) / 1e6, dtype=np.float64)


def compute_cost(seconds: Any, usd_per_hour: float) -> FloatArray:
    """US dollars per row for a local model: seconds of (GPU or wall) time × hourly rate."""
    return np.asarray(as_float_vector(seconds, "seconds") * usd_per_hour / 3600.0,
                      dtype=np.float64)


def cost_estimates(cost: Any, score: Any, clusters: Any = None, *, n_boot: int = 2000,
                   seed: int = 0, confidence: float = 0.95) -> CostEstimates:
    """Cost per task and per correct answer with bootstrap intervals (module docstring).
    `clusters`: labels of groups of problems resampled together (default: each problem)."""
    c = as_float_vector(cost, "cost")
    s = as_float_vector(score, "score")
    if c.shape != s.shape:
        raise StatsInputError(f"cost has {c.size} rows but score has {s.size}")
    if (c < 0).any():
        raise StatsInputError("cost: costs must be >= 0")
    if ((s < 0) | (s > 1)).any():
        raise StatsInputError("score: per-problem scores must lie in [0, 1]")
    units = np.arange(c.size) if clusters is None else clusters
    per_task = ratio_estimate(c, np.ones_like(c), confidence=confidence, n_boot=n_boot,
                              seed=seed, clusters=units)
    per_correct = None
    if s.sum() > 0:
        per_correct = ratio_estimate(c, s, confidence=confidence, n_boot=n_boot, seed=seed,
                                     clusters=units)
    return CostEstimates(per_task, per_correct, float(c.sum()))


def pareto_frontier(cost: Sequence[float], accuracy: Sequence[float]) -> tuple[int, ...]:
    """Indices of the non-dominated points, by increasing cost (module docstring); points
    with a NaN or infinite coordinate are never on the frontier."""
    if len(cost) != len(accuracy):
        raise StatsInputError(f"{len(cost)} costs but {len(accuracy)} accuracies")
    usable = [i for i in range(len(cost))
              if math.isfinite(cost[i]) and math.isfinite(accuracy[i])]
    order = sorted(usable, key=lambda i: (cost[i], -accuracy[i], i))
    frontier: list[int] = []
    best = -math.inf
    for i in order:
        if accuracy[i] > best:
            frontier.append(i)
            best = accuracy[i]
    return tuple(frontier)
