"""From a sweep's runs to the report's `ScalingSection`: which metrics, their chance levels,
the trend tests and calibration vs size.

Default metrics: the task's own first metric (exact match or accuracy: all or nothing),
the partial-credit metrics of `PartialCreditTask` (`target_logprob`, `target_token_acc`)
and, for a multiple-choice task, the Brier score over the choices and the probability of
the correct choice. Chance levels, for a task with k_i options per item: accuracy and
`p_correct` mean(1 / k_i); Brier mean(1 - 1 / k_i) (the uniform guess); a generation task's
exact match uses the task's own `references()["chance"]` when it has one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lmaudit.core.task import Aggregation, MetricSpec
from lmaudit.report.scaling_model import ScalingMetric, ScalingSection, SweepModel
from lmaudit.scaling.sweep import SweepRuns
from lmaudit.stats.scaling import MetricSweep, analyse_sweep
from lmaudit.stats.scaling_calibration import CalibrationTrend, calibration_trend

PARTIAL = ("target_logprob", "target_token_acc")
CHOICE_EXTRAS = ("brier", "p_correct")
LABELS: Mapping[str, tuple[str, str]] = {
    "target_logprob": ("log-likelihood of the target", "nats/token"),
    "target_token_acc": ("per-token accuracy of the target (teacher-forced)", "share"),
    "target_greedy": ("every target token the argmax (teacher-forced)", "share"),
    "brier": ("Brier score over the choices", "0 to 2"),
    "p_correct": ("probability of the correct choice", "probability"),
    "confidence": ("probability of the chosen option", "probability"),
}


def default_metrics(specs: Sequence[MetricSpec]) -> list[str]:
    """The base task's first metric, the partial-credit metrics and, for multiple choice,
    the Brier score and p(correct)."""
    names = [s.name for s in specs if s.name not in PARTIAL and s.name != "target_greedy"]
    chosen = [names[0], *PARTIAL]
    if "brier" in names:
        chosen += [n for n in CHOICE_EXTRAS if n in names]
    return chosen


def _chance(name: str, primary: str, choices: Sequence[int], task_chance: Any) -> float | None:
    options = [k for k in choices if k > 0]
    if options and len(options) == len(choices):
        if name in (primary, "p_correct"):
            return float(np.mean([1.0 / k for k in options]))
        if name == "brier":
            return float(np.mean([1.0 - 1.0 / k for k in options]))
        return None
    if name == primary and isinstance(task_chance, int | float):
        return float(task_chance)
    return None


def _label(name: str, primary: str, spec: MetricSpec, choices: bool) -> tuple[str, str, str]:
    """(label, unit, kind) of a metric for the report."""
    if name in LABELS:
        label, unit = LABELS[name]
        return label, unit, "partial"  # not the task's own all-or-nothing metric
    share = spec.aggregation is Aggregation.PROPORTION
    what = name if name != primary else "accuracy" if choices else "exact match"
    return what, "share" if share else "", "exact"


def _calibration(runs: SweepRuns, primary: str, seed: int) -> CalibrationTrend | None:
    if "confidence" not in runs.columns or primary not in runs.columns:
        return None
    correct = runs.columns[primary]
    if not np.isin(correct[np.isfinite(correct)], (0.0, 1.0)).all():
        return None
    return calibration_trend(runs.sizes, runs.columns["confidence"], correct, seed=seed)


def scaling_section(
    runs: SweepRuns,
    task_name: str,
    specs: Sequence[MetricSpec],
    metrics: Sequence[str],
    size_unit: str,
    *,
    task_chance: Any = None,
    alpha: float = 0.05,
    seed: int = 0,
) -> ScalingSection:
    """Every chosen metric against size, with tests and verdicts, and calibration vs size
    (multiple-choice tasks: the chosen option's probability against its correctness)."""
    by_name = {s.name: s for s in specs}
    primary = default_metrics(specs)[0]
    sweeps, labels, notes = [], [], []
    for name in metrics:
        spec = by_name[name]
        values = np.asarray(runs.columns[name], dtype=float)
        if not np.isfinite(values).any():
            notes.append(f"{name}: no run scored it (e.g. the backend gives no per-token "
                         "argmax); left out")
            continue
        missing = int((~np.isfinite(values).all(axis=1)).sum())
        if missing:
            notes.append(f"{name}: {missing} item(s) lack a value at some size; the trend "
                         "tests leave them out")
        sweeps.append(MetricSweep(
            name, values, spec.higher_is_better, spec.aggregation is Aggregation.PROPORTION,
            spec.bounds, _chance(name, primary, runs.choices, task_chance),
        ))
        labels.append(_label(name, primary, spec, bool(runs.choices) and all(runs.choices)))
    trends = analyse_sweep(runs.sizes, sweeps, runs.clusters, alpha=alpha)
    order = np.argsort(runs.sizes)
    models = tuple(SweepModel(runs.points[k].spec, runs.sizes[k], str(runs.run_dirs[k]))
                   for k in order)
    out = tuple(
        ScalingMetric(t.metric.name, label, unit, kind, t.metric.higher_is_better,
                      t.metric.chance, t.estimates, t.slope, t.quadratic, t.vertex, t.shapes,
                      t.largest_step_share, t.verdict)
        for t, (label, unit, kind) in zip(trends, labels, strict=True)
    )
    calibration = _calibration(runs, primary, seed)
    if calibration is None:
        notes.append("calibration vs size needs a task with choices (the chosen option's "
                     "probability against its correctness); this task has none")
    if runs.dropped_items:
        notes.append(f"{runs.dropped_items} item(s) not scored by every model are left out")
    if runs.clusters is not None:
        notes.append(f"intervals and tests clustered by the items' {len(set(runs.clusters))} "
                     "clusters")
    return ScalingSection(task_name, size_unit, models, len(runs.item_ids), out, calibration,
                          alpha, tuple(notes), jump_reading(out))


JUMP_SHARE = 0.75


def jump_reading(metrics: Sequence[ScalingMetric]) -> str | None:
    """Whether a jump of the task's exact metric shows in the partial-credit metrics too.

    With 3+ sizes, a metric "jumps" when its largest step between adjacent sizes is at
    least 75% of its total change (`largest_step_share`). None when exact match does not
    jump or no partial-credit metric was measured."""
    exact = next((m for m in metrics if m.kind == "exact"), None)
    partial = [m for m in metrics if m.name in PARTIAL
               and math.isfinite(m.largest_step_share)]
    if exact is None or not partial or len(exact.estimates) < 3 \
            or not exact.largest_step_share >= JUMP_SHARE:
        return None
    shares = ", ".join(f"{m.name} {m.largest_step_share:.2f}" for m in partial)
    head = (f"{exact.name} changes mostly in one step (step share "
            f"{exact.largest_step_share:.2f})")
    if all(m.largest_step_share < JUMP_SHARE for m in partial):
        return (f"{head} while the partial-credit metrics change evenly ({shares}): the "
                "jump is in the all-or-nothing metric, not a sudden change in the model")
    return f"{head} and so do partial-credit metrics ({shares}): the model itself changes"
