"""`compute_section`: the report's cost and test-time compute evidence from stored runs.

Per run (one model × task × setting, `samples.parquet` with one row per problem):

- **Cost of a problem**, by the first source that applies: a price the user gave
  (`Pricing.prices`, `--price MODEL=IN,OUT` / `--prices FILE`): prompt and completion tokens
  × USD per million; a compute rate the user gave (`Pricing.compute_rates`,
  `--compute-rate MODEL=USD_PER_HOUR`): the recorded seconds (`latency_s`, summed over the
  problem's answers; where they add up to more than the run's wall time, the answers
  overlapped (a vLLM engine call times every answer of its batch, concurrent requests each
  time their own wait), so the wall time is split over the problems by them; where the
  backend timed nothing, the wall time split by tokens) × rate / 3600, for local models;
  the price recorded with the run
  (`results.json` `usage.price_usd_per_million`); else no price, and the task's frontier is
  drawn in tokens (prompt + completion) for every point. Model names match exactly, then as
  glob patterns (`openai:*`).
- **Points**: a run with one answer per problem is one point, its headline metric as the
  trust card shows it. A run with N answers per problem gives a point per k = 1, 2, 4, ...,
  N: the majority vote over its first k answers (`maj@k`) and each verifier's pick among
  them (`best_of_k:LABEL`), at the cost of those k answers (prompt cost × k / N plus the
  completion cost prorated to the first k answers' characters). Its avg@N is not a point:
  it is one answer's accuracy bought at N answers' cost; the first k answers' completion
  cost is exact where the run stored each answer's tokens, else prorated (said in a note).
  A thinking-budget sweep (`{metric}@budget{B}` metrics) gives a point per budget
  (`report.compute_settings`). A best-of-N point adds its verifier's cost where it can be
  priced (a judge's recorded tokens at the judge's price, `report.compute_verifier`) and
  says per point when not. Cost per task and per correct answer come from `stats.cost` on
  the per-problem rows (bootstrap over problems, or over the task's clusters when every
  row has one).
- **Setting** (`run_setting`): N samples per problem (`samples_per_problem` of a reasoning
  task, `sampling.samples` of `--samples`) and any thinking budget, extension or effort
  in the task spec.
- **Length vs correctness** (`stats.length`) for runs with several answers per problem
  (`extra.answers_correct`). Per-answer length (`report.compute_lengths`): exact counts
  where the run stored them (thinking tokens of budget-forced answers, each answer's
  completion tokens), estimates for older runs; the section names the measure. A
  thinking-budget sweep is analysed on its largest budget's answers only, and says so.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lmaudit.core.types import LmauditError
from lmaudit.core.usage import Price, find_price, parse_price
from lmaudit.report.compute_lengths import (
    UNITS,
    answer_lengths,
    largest_budget,
    numeric_column,
)
from lmaudit.report.compute_model import (
    TOKENS,
    USD,
    ComputeSection,
    CostPoint,
    LengthEvidence,
    TaskFrontier,
)
from lmaudit.report.compute_settings import run_setting, variants
from lmaudit.report.compute_verifier import verifier_cost
from lmaudit.report.evidence import estimate_from_dict, score_evidence
from lmaudit.stats.cost import compute_cost, cost_estimates, pareto_frontier, token_cost
from lmaudit.stats.length import length_analysis


@dataclass(frozen=True)
class Pricing:
    """What the user said things cost: model name or glob → `Price` (USD per million
    prompt and completion tokens), and → USD per hour of recorded time (local models)."""

    prices: Mapping[str, Price] = field(default_factory=dict)
    compute_rates: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ComputeRun:
    """A finished run as the report loaded it."""

    model: str
    task: str
    frame: pd.DataFrame
    results: Mapping[str, Any]
    manifest: Mapping[str, Any]


def parse_model_price(text: str) -> tuple[str, Price]:
    """`MODEL=PROMPT,COMPLETION` (USD per million tokens) → (model, Price)."""
    model, sep, price = text.rpartition("=")
    if not sep or not model:
        raise LmauditError(f"--price expects MODEL=PROMPT,COMPLETION (USD per million tokens), "
                           f"got {text!r}")
    return model, parse_price(price)


def parse_compute_rate(text: str) -> tuple[str, float]:
    """`MODEL=USD_PER_HOUR` → (model, rate)."""
    model, sep, rate = text.rpartition("=")
    try:
        value = float(rate)
    except ValueError:
        value = math.nan
    if not sep or not model or not (math.isfinite(value) and value >= 0):
        raise LmauditError(f"--compute-rate expects MODEL=USD_PER_HOUR (a number >= 0), "
                           f"got {text!r}")
    return model, value


def _names(model: str) -> list[str]:
    return list(dict.fromkeys([model, model.split("@")[0]]))


@dataclass(frozen=True)
class _Costed:
    """A run's cost per problem in `unit`, split into the part that scales with the number
    of answers' prompts and the part that scales with what they generated."""

    prompt: np.ndarray
    completion: np.ndarray
    unit: str
    source: str


def _seconds(run: ComputeRun, prompt: np.ndarray | None, completion: np.ndarray | None
             ) -> tuple[np.ndarray, str] | None:
    """Seconds per problem: the recorded latency where the backend timed its answers (the
    run's wall time, `results.json` `seconds`, split by it where the latencies overlapped:
    their sum exceeds the wall time), else the wall time split over problems by tokens."""
    latency = numeric_column(run.frame, "latency_s")
    total = float(run.results.get("seconds") or 0.0)
    if latency is not None and (latency > 0).any():
        if total <= 0 or latency.sum() <= total:
            return latency, "compute rate × recorded seconds"
        return (total * latency / latency.sum(),
                "compute rate × run time split by recorded seconds (answers overlapped)")
    if total <= 0:
        return None
    weights = (np.ones(len(run.frame)) if prompt is None or completion is None
               else prompt + completion)
    if weights.sum() <= 0:
        weights = np.ones(len(run.frame))
    return total * weights / weights.sum(), "compute rate × run time split by tokens"


def _priced(run: ComputeRun, pricing: Pricing) -> _Costed | None:
    """USD per problem by the first price that applies (module docstring), else None."""
    names = _names(run.model)
    prompt = numeric_column(run.frame, "prompt_tokens")
    completion = numeric_column(run.frame, "completion_tokens")
    price = find_price(pricing.prices, names)
    if price is not None and prompt is not None and completion is not None:
        return _Costed(token_cost(prompt, 0 * prompt, price.prompt, 0.0),
                       token_cost(0 * completion, completion, 0.0, price.completion),
                       USD, "price given")
    rate = next((r for n in names for p, r in pricing.compute_rates.items()
                 if fnmatch.fnmatchcase(n, p)), None)
    if rate is not None:
        seconds = _seconds(run, prompt, completion)
        if seconds is not None:
            return _Costed(0 * seconds[0], compute_cost(seconds[0], rate), USD, seconds[1])
    recorded = (run.results.get("usage") or {}).get("price_usd_per_million")
    if isinstance(recorded, Mapping) and prompt is not None and completion is not None:
        return _Costed(prompt * float(recorded["prompt"]) / 1e6,
                       completion * float(recorded["completion"]) / 1e6, USD,
                       "price recorded with the run")
    return None


def _tokens(run: ComputeRun) -> _Costed | None:
    prompt = numeric_column(run.frame, "prompt_tokens")
    completion = numeric_column(run.frame, "completion_tokens")
    if prompt is None or completion is None:
        return None
    return _Costed(prompt, completion, TOKENS, "tokens")


def _points(run: ComputeRun, costed: _Costed, n_boot: int, notes: list[str],
            prices: Mapping[str, Price]) -> list[CostPoint]:
    score = score_evidence(run.results)
    if score is None:
        return []
    clusters = None
    if "cluster" in run.frame.columns and run.frame["cluster"].notna().all():
        clusters = run.frame["cluster"].astype(str).to_numpy()
    points, estimated = [], False
    for v in variants(run.manifest, run.results, run.frame, score.metric):
        entry = (run.results.get("metrics") or {}).get(v.metric)
        if v.metric not in run.frame.columns or not isinstance(entry, Mapping):
            continue
        estimated = estimated or not v.exact
        values = pd.to_numeric(run.frame[v.metric], errors="coerce").to_numpy(dtype=float)
        cost = costed.prompt * v.prompt + costed.completion * v.completion
        source = costed.source
        if v.metric.startswith("best_of_") and ":" in v.metric:  # the verifier's own cost
            added, line = verifier_cost(run.frame, run.manifest, v.metric.split(":", 1)[1],
                                        v.answers, costed.unit, prices)
            cost = cost if added is None else cost + added
            source = f"{source}; {line}"
        keep = np.isfinite(values) & np.isfinite(cost)
        if not keep.any() or ((values[keep] < 0) | (values[keep] > 1)).any():
            continue
        estimates = cost_estimates(cost[keep], values[keep],
                                   None if clusters is None else clusters[keep], n_boot=n_boot)
        points.append(CostPoint(run.model, run.task, v.setting, v.metric,
                                estimate_from_dict(entry), costed.unit, estimates.per_task,
                                estimates.per_correct, estimates.total, int(keep.sum()),
                                v.answers, source, False))
    if estimated:
        notes.append(f"{run.model} · {run.task}: completion cost of fewer than all answers "
                     "(or of one budget) is estimated, prorated by characters or thinking "
                     "tokens: the run stored no per-answer token counts")
    return points


def _frontier(task: str, runs: Sequence[ComputeRun], pricing: Pricing, n_boot: int,
              notes: list[str]) -> TaskFrontier | None:
    priced = {id(r): _priced(r, pricing) for r in runs}
    unpriced = [r.model for r in runs if priced[id(r)] is None]
    points: list[CostPoint] = []
    for run in runs:
        costed = _tokens(run) if unpriced else priced[id(run)]
        if costed is None:
            notes.append(f"{run.model} · {task}: no token counts recorded; not on the "
                         "cost plot")
            continue
        points += _points(run, costed, n_boot, notes, pricing.prices)
    if not points:
        return None
    if unpriced:
        notes.append(f"{task}: no price for {', '.join(dict.fromkeys(unpriced))}; its costs "
                     "are in tokens (give --price MODEL=IN,OUT or --compute-rate "
                     "MODEL=USD_PER_HOUR)")
    if any(":" in p.metric for p in points):
        notes.append(f"{task}: each best-of-N point says whether its verifier's cost is "
                     "included (a judge's tokens at the judge's price)")
    frontier = pareto_frontier([p.cost_per_task.value for p in points],
                               [p.accuracy.value for p in points])
    points = [dataclasses.replace(p, on_frontier=i in frontier) for i, p in enumerate(points)]
    headline = score_evidence(runs[0].results)
    return TaskFrontier(task, headline.metric if headline else points[0].metric,
                        points[0].unit, tuple(points), frontier)


def compute_section(runs: Sequence[ComputeRun], pricing: Pricing | None = None, *,
                    n_boot: int = 2000) -> ComputeSection:
    """Frontiers per task and length analyses per multi-sample run (module docstring)."""
    pricing = pricing or Pricing()
    notes: list[str] = []
    frontiers = []
    for task in dict.fromkeys(r.task for r in runs):
        frontier = _frontier(task, [r for r in runs if r.task == task], pricing, n_boot, notes)
        if frontier is not None:
            frontiers.append(frontier)
    lengths = []
    for run in runs:
        sweep = largest_budget(run.manifest.get("task_spec") or {})
        answers = answer_lengths(run.frame, sweep=sweep is not None)
        if answers is None:
            continue
        problems, length, correct, measure = answers
        setting = run_setting(run.manifest)[0]
        if sweep is not None:  # only the largest budget's answers are stored
            top, budgets = sweep
            setting = " ".join(filter(None, [setting, f"budget={top}"]))
            measure += (f"; answers under the largest thinking budget ({top}) only, not "
                        f"mixed with the sweep's others ({', '.join(map(str, budgets[:-1]))}): "
                        "budget forcing sets their lengths")
        lengths.append(LengthEvidence(run.model, run.task, setting,
                                      measure, length_analysis(problems, length, correct,
                                                               unit=UNITS[answers[3]],
                                                               n_boot=n_boot)))
    if runs and not lengths:
        notes.append("length vs correctness needs several answers per problem; no run has "
                     "them (run with --samples N or the task option samples=N)")
    return ComputeSection(tuple(frontiers), tuple(lengths), tuple(notes))
