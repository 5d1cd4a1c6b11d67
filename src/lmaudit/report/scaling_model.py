"""Typed results of a scaling sweep, as the Report stage renders them (`lmaudit scaling`).

Sizes are parameters or training FLOPs (`size_unit`), ascending. Each metric holds its
per-size estimates (95% intervals), its chance level where there is one, and the tests of
`lmaudit.stats.scaling` (slope per tenfold size, quadratic term, two-lines U tests, with
Holm-adjusted p-values across the sweep's metrics) and a verdict in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmaudit.stats import Estimate
from lmaudit.stats.scaling import ContrastTest, ShapeTest
from lmaudit.stats.scaling_calibration import CalibrationTrend


@dataclass(frozen=True)
class SweepModel:
    """One model of the sweep: spec, size and the run directory holding its answers."""

    model: str
    size: float
    run_dir: str


@dataclass(frozen=True)
class ScalingMetric:
    """One metric against size. `unit`: `share` (printed as percent), `nats/token`, or the
    metric's range (e.g. `0 to 2` for a Brier score). `kind`: `exact` (the task's own
    all-or-nothing metric) or `partial` (a partial-credit metric)."""

    name: str
    label: str
    unit: str
    kind: str
    higher_is_better: bool
    chance: float | None
    estimates: tuple[Estimate, ...]
    slope: ContrastTest
    quadratic: ContrastTest | None
    vertex: float | None
    shapes: tuple[ShapeTest, ...]
    largest_step_share: float
    verdict: str


@dataclass(frozen=True)
class ScalingSection:
    """A whole sweep: task, models, every metric vs size and calibration vs size."""

    task: str
    size_unit: str
    models: tuple[SweepModel, ...]
    n_items: int
    metrics: tuple[ScalingMetric, ...]
    calibration: CalibrationTrend | None
    alpha: float = 0.05
    notes: tuple[str, ...] = ()
    reading: str | None = None  # is a jump in the metric or in the model (`jump_reading`)

    @property
    def sizes(self) -> tuple[float, ...]:
        return tuple(m.size for m in self.models)
