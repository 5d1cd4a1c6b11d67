"""Typed results of the report's "Cost and test-time compute" section (frozen dataclasses).

Built by `report.compute.compute_section` from the stored runs; rendered by
`report.compute_render` (terminal, HTML) and by `render_json` like every other section.
Costs are per problem (every answer the setting drew for it) in `unit`: `USD` when every
point of a task has a price, else `tokens` (prompt + completion tokens) for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmaudit.stats import Estimate
from lmaudit.stats.length import LengthAnalysis

USD = "USD"
TOKENS = "tokens"


@dataclass(frozen=True)
class CostPoint:
    """One model × setting on a task: its headline accuracy and what it cost.

    `setting`: what distinguishes the run's compute (`N=8`, `budget=512`; "" for one
    default sample); `cost_source`: `price given` (`--price`/`--prices`), `compute rate × ...`
    (`--compute-rate`: seconds × USD per hour, `report.compute`), `price recorded with the
    run`, or `tokens` (no price). `cost_per_correct`: None when no problem was solved."""

    model: str
    task: str
    setting: str
    metric: str
    accuracy: Estimate
    unit: str
    cost_per_task: Estimate
    cost_per_correct: Estimate | None
    total_cost: float
    n_problems: int
    samples_per_problem: int
    cost_source: str
    on_frontier: bool

    @property
    def label(self) -> str:
        return self.model + (f" · {self.setting}" if self.setting else "")


@dataclass(frozen=True)
class TaskFrontier:
    """Every point of one task and its cost–accuracy Pareto frontier (`frontier`: indices
    into `points`, by increasing cost)."""

    task: str
    metric: str
    unit: str
    points: tuple[CostPoint, ...]
    frontier: tuple[int, ...]


@dataclass(frozen=True)
class LengthEvidence:
    """Length against correctness for one model × task × setting; `measure` says how the
    per-answer length was obtained (reasoning tokens, prorated completion tokens, words)."""

    model: str
    task: str
    setting: str
    measure: str
    analysis: LengthAnalysis

    @property
    def label(self) -> str:
        return f"{self.model} · {self.task}" + (f" · {self.setting}" if self.setting else "")


@dataclass(frozen=True)
class ComputeSection:
    """The section: frontiers per task, length analyses per run, and notes (prices
    missing, runs without token counts) said, never hidden."""

    frontiers: tuple[TaskFrontier, ...]
    lengths: tuple[LengthEvidence, ...]
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.frontiers or self.lengths)
