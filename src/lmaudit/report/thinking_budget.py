"""Accuracy vs thinking budget: the report's evidence from budget-forced runs.

Two sources, per model × task (`budget_curves`):

- a run that swept budgets (`thinking_budget=B1,B2,...`, `tasks.thinking_budget`): its
  metrics `{metric}@budget{B}` and `thinking_tokens@budget{B}` with the intervals the run
  stored (a mean over problems, problem-clustered or by the task's clusters);
- runs of one budget each (`thinking_budget` in the task spec), same model, task and
  setting otherwise (samples, extension, effort: `report.compute_settings.run_setting`;
  runs that differ there make separate curves): each run's headline metric is the point
  at its budget.

`gain` is the paired difference (largest budget minus smallest) over the problems both
budgets answered (`stats.paired.paired_difference`, clustered by the task's clusters when
every problem has one), so problem difficulty cancels; `reading` says in one line whether
more thinking helped. Budgets are thinking tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lmaudit.report.compute_settings import run_setting
from lmaudit.report.evidence import estimate_from_dict, primary_metric
from lmaudit.report.thinking_budget_model import BudgetCurve, BudgetPoint
from lmaudit.stats import Estimate
from lmaudit.stats.paired import paired_difference
from lmaudit.tasks.thinking_budget import BUDGET_METRIC


@dataclass(frozen=True)
class BudgetRun:
    """A stored run as the loader gives it."""

    model: str
    task: str
    results: Mapping[str, Any]
    manifest: Mapping[str, Any]
    frame: pd.DataFrame | None


def _paired(frame_a: pd.DataFrame, col_a: str, frame_b: pd.DataFrame,
            col_b: str) -> Estimate | None:
    """b − a over the problems (sample ids) both answered; None below two problems."""
    if col_a not in frame_a or col_b not in frame_b:
        return None
    left = frame_a[["sample_id", "cluster", col_a]].rename(columns={col_a: "a"})
    joined = left.merge(frame_b[["sample_id", col_b]].rename(columns={col_b: "b"}),
                        on="sample_id").dropna(subset=["a", "b"])
    if len(joined) < 2:
        return None
    clusters = joined["cluster"] if joined["cluster"].notna().all() else None
    return paired_difference(joined["a"].to_numpy(float), joined["b"].to_numpy(float),
                             clusters=None if clusters is None else clusters.to_numpy(),
                             bounds=(0.0, 1.0))


def _sweep(run: BudgetRun) -> BudgetCurve | None:
    metrics = run.results.get("metrics") or {}
    found: dict[str, dict[int, Estimate]] = {}
    for name, payload in metrics.items():
        match = BUDGET_METRIC.match(name)
        if match and isinstance(payload, Mapping):
            found.setdefault(match["metric"], {})[int(match["budget"])] = (
                estimate_from_dict(payload))
    tokens = found.pop("thinking_tokens", {})
    if not found:
        return None
    metric, per_budget = next(iter(found.items()))
    budgets = sorted(per_budget)
    if len(budgets) < 2:  # one budget: a point of a curve across runs
        return None
    points = tuple(BudgetPoint(b, per_budget[b], tokens.get(b)) for b in budgets)
    gain = None
    if run.frame is not None and len(budgets) > 1:
        gain = _paired(run.frame, f"{metric}@budget{budgets[0]}",
                       run.frame, f"{metric}@budget{budgets[-1]}")
    return BudgetCurve(run.model, run.task, metric, points, gain, "sweep", _setting(run))


def _single_budget(run: BudgetRun) -> int | None:
    budget = (run.manifest.get("task_spec") or {}).get("thinking_budget")
    return budget if isinstance(budget, int) and not isinstance(budget, bool) else None


def _setting(run: BudgetRun) -> str:
    """The run's compute setting without its budget (`run_setting`)."""
    label = run_setting(run.manifest)[0]
    return " ".join(p for p in label.split() if not p.startswith("budget="))


def _across_runs(model: str, task: str, setting: str,
                 runs: Sequence[BudgetRun]) -> BudgetCurve | None:
    metric = primary_metric(runs[0].results)
    by_budget = {_single_budget(r): r for r in runs}
    if metric is None or len(by_budget) < 2:
        return None
    budgets = sorted(b for b in by_budget if b is not None)
    points = []
    for b in budgets:
        payload = (by_budget[b].results.get("metrics") or {}).get(metric)
        if isinstance(payload, Mapping):
            points.append(BudgetPoint(b, estimate_from_dict(payload)))
    low, high = by_budget[budgets[0]], by_budget[budgets[-1]]
    gain = (_paired(low.frame, metric, high.frame, metric)
            if low.frame is not None and high.frame is not None else None)
    return BudgetCurve(model, task, metric, tuple(points), gain, "runs", setting)


def budget_curves(runs: Sequence[BudgetRun]) -> tuple[BudgetCurve, ...]:
    """Every accuracy-vs-budget curve the runs hold (module docstring)."""
    curves = [c for c in (_sweep(r) for r in runs) if c is not None]
    groups: dict[tuple[str, str, str], list[BudgetRun]] = {}
    for run in runs:
        if _single_budget(run) is not None:
            groups.setdefault((run.model, run.task, _setting(run)), []).append(run)
    for (model, task, setting), members in groups.items():
        curve = _across_runs(model, task, setting, members)
        if curve is not None:
            curves.append(curve)
    return tuple(curves)
