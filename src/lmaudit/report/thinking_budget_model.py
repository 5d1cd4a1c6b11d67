"""The typed results of the thinking-budget section (built by `report.thinking_budget`):
accuracies are shares in [0, 1] with 95% intervals, budgets and token counts are thinking
tokens."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lmaudit.stats import Estimate


@dataclass(frozen=True)
class BudgetPoint:
    """Accuracy (the metric's units, shares) and mean thinking tokens at one budget."""

    budget: int
    accuracy: Estimate
    thinking_tokens: Estimate | None = None


@dataclass(frozen=True)
class BudgetCurve:
    """One model × task's accuracy per thinking budget, ascending budgets."""

    model: str
    task: str
    metric: str
    points: tuple[BudgetPoint, ...]
    gain: Estimate | None  # largest minus smallest budget, paired over problems
    source: str  # "sweep" (one run) or "runs" (one run per budget)
    setting: str = ""  # the runs' compute setting beside the budget (N=4, wait=2, ...)

    @property
    def reading(self) -> str:
        """Whether more thinking helped, from the paired gain's interval."""
        if self.gain is None or len(self.points) < 2 or not math.isfinite(self.gain.ci_low):
            return "not enough paired problems to compare budgets"
        low, high = self.points[0].budget, self.points[-1].budget
        span = f"from {low} to {high} thinking tokens"
        if self.gain.ci_low > 0:
            return f"accuracy rises {span} (the paired interval excludes 0)"
        if self.gain.ci_high < 0:
            return f"accuracy falls {span} (the paired interval excludes 0)"
        return f"no accuracy change {span} that the interval can tell from 0"
