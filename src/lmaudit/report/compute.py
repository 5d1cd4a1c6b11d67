"""`compute_section`: the report's cost and test-time compute evidence from stored runs.

Per run (one model × task × setting, `samples.parquet` with one row per problem):

- **Cost of a problem**, by the first source that applies: a price the user gave
  (`Pricing.prices`, `--price MODEL=IN,OUT` / `--prices FILE`): prompt and completion tokens
  × USD per million; a compute rate the user gave (`Pricing.compute_rates`,
  `--compute-rate MODEL=USD_PER_HOUR`): the recorded seconds (`latency_s`, summed over the
  problem's answers) × rate / 3600, for local models; the price recorded with the run
  (`results.json` `usage.price_usd_per_million`); else no price, and the task's frontier is
  drawn in tokens (prompt + completion) for every point. Model names match exactly, then as
  glob patterns (`openai:*`).
- **Accuracy**: the run's headline metric and interval as the trust card shows it; cost
  per task and per correct answer come from `stats.cost` on the per-problem rows.
- **Setting** (`run_setting`): N samples per problem (`samples_per_problem` of a reasoning
  task, `sampling.samples` of `--samples`) and any thinking budget, extension or effort
  in the task spec.
- **Length vs correctness** (`stats.length`) for runs with several answers per problem
  (`extra.answers_correct`). Per-answer length: reasoning tokens (the thinking's share of
  the answer's tokens, `scoring.thinking`) when answers have thinking; else the problem's
  completion tokens prorated to each answer's characters; else words.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lmaudit.core.types import LmauditError
from lmaudit.core.usage import Price, find_price, parse_price
from lmaudit.report.compute_model import (
    TOKENS,
    USD,
    ComputeSection,
    CostPoint,
    LengthEvidence,
    TaskFrontier,
)
from lmaudit.report.evidence import score_evidence
from lmaudit.stats.cost import compute_cost, cost_estimates, pareto_frontier, token_cost
from lmaudit.stats.length import length_analysis

SETTING_KEYS = ("budget", "thinking_budget", "extend", "wait", "effort", "reasoning_effort")
REASONING = "reasoning tokens (thinking's share of each answer's tokens)"
PRORATED = "completion tokens (the problem's, prorated to each answer's characters)"
WORDS = "words of each answer"
UNITS = {REASONING: "reasoning tokens", PRORATED: "tokens", WORDS: "words"}


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


def run_setting(manifest: Mapping[str, Any]) -> tuple[str, int]:
    """(label, samples per problem) of a run's compute setting (module docstring)."""
    spec = manifest.get("task_spec") or {}
    sampling = spec.get("sampling")
    sampling = sampling if isinstance(sampling, Mapping) else {}
    n = int(spec.get("samples_per_problem") or sampling.get("samples") or 1)
    parts = [f"N={n}"] if n > 1 else []
    scopes = [spec, *(v for v in spec.values() if isinstance(v, Mapping))]
    for scope in scopes:
        for key in SETTING_KEYS:
            value = scope.get(key)
            if value not in (None, 0, "", False) and f"{key}={value}" not in parts:
                parts.append(f"{key}={value}")
    return " ".join(parts), n


def _column(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    if name not in frame.columns:
        return None
    return pd.to_numeric(frame[name], errors="coerce").fillna(0.0).to_numpy(dtype=float)


def _problem_costs(run: ComputeRun, pricing: Pricing) -> tuple[np.ndarray, str] | None:
    """USD per problem and its source, or None when no price applies."""
    names = _names(run.model)
    prompt = _column(run.frame, "prompt_tokens")
    completion = _column(run.frame, "completion_tokens")
    price = find_price(pricing.prices, names)
    if price is not None and prompt is not None and completion is not None:
        return token_cost(prompt, completion, price.prompt, price.completion), "price given"
    rate = next((r for n in names for p, r in pricing.compute_rates.items()
                 if fnmatch.fnmatchcase(n, p)), None)
    seconds = _column(run.frame, "latency_s")
    if rate is not None and seconds is not None:
        return compute_cost(seconds, rate), "compute rate"
    recorded = (run.results.get("usage") or {}).get("price_usd_per_million")
    if isinstance(recorded, Mapping) and prompt is not None and completion is not None:
        return (token_cost(prompt, completion, float(recorded["prompt"]),
                           float(recorded["completion"])), "price recorded with the run")
    return None


def _point(run: ComputeRun, unit: str, cost: np.ndarray, source: str, n_boot: int
           ) -> CostPoint | None:
    score = score_evidence(run.results)
    if score is None or score.metric not in run.frame.columns:
        return None
    values = pd.to_numeric(run.frame[score.metric], errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(values) & np.isfinite(cost)
    if not keep.any() or ((values[keep] < 0) | (values[keep] > 1)).any():
        return None
    clusters = None
    if "cluster" in run.frame.columns and run.frame["cluster"].notna().all():
        clusters = run.frame["cluster"].astype(str).to_numpy()[keep]
    estimates = cost_estimates(cost[keep], values[keep], clusters, n_boot=n_boot)
    setting, n = run_setting(run.manifest)
    return CostPoint(run.model, run.task, setting, score.metric, score.estimate, unit,
                     estimates.per_task, estimates.per_correct, estimates.total,
                     int(keep.sum()), n, source, False)


def _frontier(task: str, runs: Sequence[ComputeRun], pricing: Pricing, n_boot: int,
              notes: list[str]) -> TaskFrontier | None:
    priced = {id(r): _problem_costs(r, pricing) for r in runs}
    unpriced = [r.model for r in runs if priced[id(r)] is None]
    points: list[CostPoint] = []
    for run in runs:
        found = priced[id(run)]
        if unpriced or found is None:
            prompt = _column(run.frame, "prompt_tokens")
            completion = _column(run.frame, "completion_tokens")
            if prompt is None or completion is None:
                notes.append(f"{run.model} · {task}: no token counts recorded; not on the "
                             "cost plot")
                continue
            point = _point(run, TOKENS, prompt + completion, "tokens", n_boot)
        else:
            point = _point(run, USD, found[0], found[1], n_boot)
        if point is not None:
            points.append(point)
    if not points:
        return None
    if unpriced:
        notes.append(f"{task}: no price for {', '.join(dict.fromkeys(unpriced))}; its costs "
                     "are in tokens (give --price MODEL=IN,OUT or --compute-rate "
                     "MODEL=USD_PER_HOUR)")
    frontier = pareto_frontier([p.cost_per_task.value for p in points],
                               [p.accuracy.value for p in points])
    points = [dataclasses.replace(p, on_frontier=i in frontier) for i, p in enumerate(points)]
    return TaskFrontier(task, points[0].metric, points[0].unit, tuple(points), frontier)


def _extras(frame: pd.DataFrame) -> list[dict[str, Any]] | None:
    if "extra" not in frame.columns:
        return None
    out = []
    for raw in frame["extra"].tolist():
        if not isinstance(raw, str) or "answers_correct" not in raw:
            return None
        out.append(json.loads(raw))
    return out


def answer_lengths(frame: pd.DataFrame) -> tuple[list[str], list[float], list[int], str] | None:
    """(problem, length, correct, measure) per answer of a multi-sample run (module
    docstring); None when the rows do not keep several answers each."""
    extras = _extras(frame)
    if not extras or max(len(e["answers_correct"]) for e in extras) < 2:
        return None
    thinking = all(len(e.get("thinking") or []) == len(e["answers_correct"])
                   and all(t.get("reasoning_tokens") is not None for t in e["thinking"])
                   for e in extras)
    thinking = thinking and any(t.get("thinking_chars") for e in extras for t in e["thinking"])
    completion = _column(frame, "completion_tokens")
    measure = REASONING if thinking else PRORATED if completion is not None else WORDS
    problems, lengths, correct = [], [], []
    for row, (sample_id, extra) in enumerate(zip(frame["sample_id"].tolist(), extras,
                                                 strict=True)):
        texts = [str(a) for a in extra.get("answers") or []]
        chars = sum(len(t) for t in texts)
        for i, right in enumerate(extra["answers_correct"]):
            if measure == REASONING:
                length = float(extra["thinking"][i]["reasoning_tokens"])
            elif measure == PRORATED and completion is not None:
                length = completion[row] * len(texts[i]) / chars if chars else 0.0
            else:
                length = float(len(texts[i].split())) if i < len(texts) else 0.0
            problems.append(str(sample_id))
            lengths.append(length)
            correct.append(int(bool(right)))
    return problems, lengths, correct, measure


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
        answers = answer_lengths(run.frame)
        if answers is None:
            continue
        problems, length, correct, measure = answers
        lengths.append(LengthEvidence(run.model, run.task, run_setting(run.manifest)[0],
                                      measure, length_analysis(problems, length, correct,
                                                               unit=UNITS[measure],
                                                               n_boot=n_boot)))
    if runs and not lengths:
        notes.append("length vs correctness needs several answers per problem; no run has "
                     "them (run with --samples N or the task option samples=N)")
    return ComputeSection(tuple(frontiers), tuple(lengths), tuple(notes))
