"""Comparison across models: paired differences, adjusted p-values, detectable differences.

For every task and every pair of models (A before B in the report's model order) and every
metric both runs store per sample, `stats.paired.compare_runs` gives B − A on the shared
samples (the computation behind `lmaudit compare`). The p-value is `paired_test`'s:
McNemar's exact test for 0/1 metrics on independent samples (no cluster holds two), else
the paired (clustered) t test of the difference. All p-values of the report, over every
task, metric and pair, form one family: Holm (family-wise) and
Benjamini–Hochberg (false discovery rate) adjust them together.

Power: per task, the smallest difference of the headline metric detectable at 80% power
and alpha 0.05 with the task's number of items (`stats.power`): at the models' mean
accuracy and at 50% (the worst case, what a new model near the middle would face) for 0/1
metrics, else from the pooled per-sample standard deviation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from lmaudit.report.model import Comparison, PairedRow, TaskPower
from lmaudit.stats import PairedComparison, StatsInputError, compare_runs
from lmaudit.stats.multiple import benjamini_hochberg_adjust, holm_adjust, t_test_p_value
from lmaudit.stats.power import minimum_detectable_difference, proportion_mde


@dataclass(frozen=True)
class RunForComparison:
    """A finished run's samples and the metrics its results.json reports."""

    model: str
    task: str
    frame: pd.DataFrame
    metrics: tuple[str, ...]
    primary: str | None


def shared_metrics(a: RunForComparison, b: RunForComparison) -> list[str]:
    """Metrics both runs report and store per sample (what `lmaudit compare` compares)."""
    return [m for m in a.metrics
            if m in b.metrics and m in a.frame.columns and m in b.frame.columns]


def paired_test(result: PairedComparison) -> tuple[str, float]:
    """(test name, two-sided p) of a paired comparison: McNemar's exact test for a 0/1
    metric on independent items (no clusters, or one item per cluster); else the paired t
    test of the difference on n - 1 degrees of freedom, or its clustered form on G - 1
    (McNemar takes the pairs as independent, which items sharing a cluster are not)."""
    d = result.difference
    if result.mcnemar is not None and d.n_clusters in (None, d.n):
        return "McNemar exact", result.mcnemar.p_value
    dof = (d.n_clusters if d.n_clusters else d.n) - 1
    return "paired t", t_test_p_value(d.value, d.stderr, dof)


def _row(task: str, metric: str, a: RunForComparison, b: RunForComparison) -> PairedRow | None:
    try:
        result = compare_runs(a.frame, b.frame, metric)
    except StatsInputError:
        return None
    test, p = paired_test(result)
    return PairedRow(task, metric, a.model, b.model, result.n_shared, result.mean_a,
                     result.mean_b, result.difference, test, p, math.nan, math.nan)


def _power(task: str, runs: Sequence[RunForComparison]) -> TaskPower | None:
    primary = next((r.primary for r in runs if r.primary), None)
    if primary is None:
        return None
    columns = [pd.to_numeric(r.frame[primary], errors="coerce").to_numpy(dtype=float)
               for r in runs if primary in r.frame.columns]
    values = np.concatenate(columns) if columns else np.array([])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    n = min(int(np.isfinite(c).sum()) for c in columns)
    baseline = float(values.mean())
    if n < 1:
        return None
    if np.isin(values, (0.0, 1.0)).all():
        mde, worst = proportion_mde(n, baseline), proportion_mde(n, 0.5)
    else:
        sd = float(values.std(ddof=1)) if values.size > 1 else 0.0
        mde = worst = minimum_detectable_difference(n, math.sqrt(2.0) * sd)
    return TaskPower(task, primary, n, baseline, mde, worst)


def compare_models(runs: Sequence[RunForComparison]) -> Comparison:
    """Every pairwise comparison and every task's detectable difference (module doc)."""
    rows: list[PairedRow] = []
    power: list[TaskPower] = []
    tasks = list(dict.fromkeys(r.task for r in runs))
    for task in tasks:
        of_task = [r for r in runs if r.task == task]
        for a, b in combinations(of_task, 2):
            if a.model == b.model:
                continue
            for metric in shared_metrics(a, b):
                row = _row(task, metric, a, b)
                if row is not None:
                    rows.append(row)
        task_power = _power(task, of_task)
        if task_power is not None:
            power.append(task_power)
    p_values = [r.p_value for r in rows]
    holm = holm_adjust(p_values)
    bh = benjamini_hochberg_adjust(p_values)
    adjusted = tuple(
        PairedRow(r.task, r.metric, r.model_a, r.model_b, r.n_shared, r.mean_a, r.mean_b,
                  r.difference, r.test, r.p_value, h, q)
        for r, h, q in zip(rows, holm, bh, strict=True))
    n_tests = sum(math.isfinite(p) for p in p_values)
    return Comparison(rows=adjusted, power=tuple(power), n_tests=n_tests)
