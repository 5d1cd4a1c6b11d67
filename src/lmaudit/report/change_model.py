"""Typed results of a before/after audit (`lmaudit audit --baseline`): the change matrix.

Every difference is *model minus baseline* on the items both runs scored, in the task's
headline metric units (shares for accuracies). `gain` turns it so that positive is better
(`stats.change.oriented`). Roles say what a task stands for in the comparison: `target`
(the skill the fine-tuning was meant to teach), `general` (other skills), `format`
(following an output format) and `safety` (refusals).
"""

from __future__ import annotations

from dataclasses import dataclass

from lmaudit.stats import Estimate

ROLES = ("target", "general", "format", "safety")


@dataclass(frozen=True)
class ChangeCell:
    """One model × task cell: the paired difference to the baseline and its test.
    `test`: `McNemar exact` (0/1 metrics, no cluster of several items), `paired t` (clustered where
    the items are) or `paired bootstrap` (ratio metrics); `p_holm`: Holm-adjusted over
    every cell of the matrix."""

    model: str
    task: str
    role: str
    metric: str
    higher_is_better: bool
    n_shared: int
    baseline_mean: Estimate
    model_mean: Estimate
    difference: Estimate
    gain: Estimate
    test: str
    p_value: float
    p_holm: float

    @property
    def significant(self) -> bool:
        """Holm-adjusted p below 0.05."""
        return self.p_holm < 0.05


@dataclass(frozen=True)
class RoleChange:
    """A model's mean gain over the tasks of one role (`stats.change.mean_of_independent`)."""

    model: str
    role: str
    tasks: tuple[str, ...]
    gain: Estimate


@dataclass(frozen=True)
class Tradeoff:
    """One point of the learning-vs-forgetting plot: the mean gain on the target task(s)
    (x) and the mean gain on every other task (y; negative = forgetting)."""

    model: str
    target_gain: Estimate
    elsewhere_gain: Estimate
    target_tasks: tuple[str, ...]
    other_tasks: tuple[str, ...]


@dataclass(frozen=True)
class ModelChange:
    """The change matrix of an audit against `baseline`: cells in task order then model
    order, role means, trade-off points (empty without a target task) and notes on what
    could not be compared."""

    baseline: str
    models: tuple[str, ...]
    tasks: tuple[str, ...]
    roles: tuple[tuple[str, str], ...]
    cells: tuple[ChangeCell, ...]
    role_changes: tuple[RoleChange, ...]
    tradeoffs: tuple[Tradeoff, ...]
    n_tests: int
    notes: tuple[str, ...] = ()

    def role_of(self, task: str) -> str:
        return dict(self.roles).get(task, "general")

    def cell(self, model: str, task: str) -> ChangeCell | None:
        return next((c for c in self.cells if c.model == model and c.task == task), None)
