"""Thinking budgets on reasoning tasks: options, requests and metrics per budget.

Task options (`THINKING_OPTIONS`, read by `ReasoningTask`):

- `thinking_budget=B` caps thinking at B tokens by budget forcing (`core.types.
  ThinkingControl`; HF and vLLM backends force the close tag, APIs get the budget passed
  through); `thinking_budget=B1,B2,...` sweeps budgets in one run: every problem is answered
  under every budget with the same seeds, so the budgets are compared on the same problems.
- `thinking_extend=W` replaces the model's first W close tags by "Wait" (HF and vLLM only);
  `thinking_min=M` replaces every close tag that comes before M thinking tokens.
- `thinking_effort=LEVEL` is sent as `reasoning_effort` to APIs that take it.

`max_tokens` stays the room for the answer: a request under budget B may generate
`max_tokens + B` tokens (thinking, inserted text and answer together).

Metrics per budget B (`budget_metrics`): `{correct}@budget{B}`, the mean correctness of the
problem's answers under B (the task's correctness metric, e.g. `acc@budget512`), and
`thinking_tokens@budget{B}`, the mean thinking tokens the model wrote (the backend's
`ThinkingTrace`; without one, the prorated `reasoning_tokens` estimate of
`scoring.thinking`). Each is a mean over problems, so its interval treats the problem as the
unit. The task's other metrics (and maj@k, pass@k, verifiers) are those of the largest budget.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lmaudit.core.task import Aggregation, MetricSpec
from lmaudit.core.types import Generation, LmauditError, ThinkingControl
from lmaudit.scoring.thinking import DEFAULT_TAGS, split_thinking
from lmaudit.tasks.registry import TaskOptions

THINKING_OPTIONS = {
    "thinking_budget": "thinking tokens before the close tag is forced (budget forcing, s1); "
    "B1,B2,... sweeps the budgets in one run (metrics ACC@budgetB; hf, vllm; APIs get it "
    "passed through)",
    "thinking_extend": "times the model's end of thinking is replaced by 'Wait' (hf, vllm)",
    "thinking_min": "thinking tokens before the model may end its thinking: an earlier end is "
    "replaced by 'Wait' (hf, vllm)",
    "thinking_effort": "reasoning effort sent to APIs that take one (e.g. low, medium, high)",
}
BUDGET_METRIC = re.compile(r"^(?P<metric>.+)@budget(?P<budget>\d+)$")


@dataclass(frozen=True)
class ThinkingPlan:
    """The thinking budgets of a task: `budgets` ascending (empty: no cap), `extend` and
    `effort` as in `ThinkingControl`."""

    budgets: tuple[int, ...] = ()
    extend: int = 0
    effort: str | None = None
    min_tokens: int = 0

    @property
    def active(self) -> bool:
        return (bool(self.budgets) or self.extend > 0 or self.min_tokens > 0
                or self.effort is not None)

    @property
    def levels(self) -> tuple[int | None, ...]:
        """One entry per answer group: each budget, or None (no cap) when there is none."""
        return self.budgets or (None,)

    def control(self, budget: int | None, tags: tuple[str, str] | None) -> ThinkingControl:
        return ThinkingControl(budget=budget, extend=self.extend, tags=tags or DEFAULT_TAGS,
                               effort=self.effort, min_tokens=self.min_tokens)

    def spec(self) -> dict[str, object]:
        """What the run manifest records (the task spec)."""
        found: dict[str, object] = {}
        if len(self.budgets) == 1:
            found["thinking_budget"] = self.budgets[0]
        elif self.budgets:
            found["thinking_budgets"] = list(self.budgets)
        if self.extend:
            found["thinking_extend"] = self.extend
        if self.effort is not None:
            found["thinking_effort"] = self.effort
        if self.min_tokens:
            found["thinking_min"] = self.min_tokens
        return found


def thinking_plan(opts: TaskOptions) -> ThinkingPlan:
    """The `THINKING_OPTIONS` of `opts` as a plan (one-line errors name the option)."""
    raw = (opts.text("thinking_budget") or "").strip()
    budgets: list[int] = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        if not part.isdigit():
            raise LmauditError(f"task {opts.task}: thinking_budget must be token counts "
                               f"(B or B1,B2,...), got {raw!r}")
        budgets.append(int(part))
    effort = (opts.text("thinking_effort") or "").strip() or None
    return ThinkingPlan(tuple(sorted(set(budgets))), opts.integer("thinking_extend", 0), effort,
                        opts.integer("thinking_min", 0))


def budget_metric_specs(plan: ThinkingPlan, correct: str) -> list[MetricSpec]:
    """`{correct}@budget{B}` and `thinking_tokens@budget{B}` per budget (module docstring)."""
    specs: list[MetricSpec] = []
    for budget in plan.budgets:
        specs.append(MetricSpec(f"{correct}@budget{budget}", Aggregation.PROPORTION))
        specs.append(MetricSpec(f"thinking_tokens@budget{budget}", Aggregation.MEAN,
                                higher_is_better=False))
    return specs


def thinking_tokens(generation: Generation, tags: tuple[str, str] | None) -> float:
    """Thinking tokens of one answer: the backend's exact count, else the prorated estimate."""
    if generation.thinking is not None:
        return float(generation.thinking.tokens)
    split = split_thinking(generation.text, tags)
    estimate = split.reasoning_tokens(generation.completion_tokens, len(generation.text))
    return float(estimate or 0)


def budget_metrics(
    plan: ThinkingPlan,
    groups: Sequence[Sequence[Generation]],
    correct: Sequence[Sequence[float]],
    tags: tuple[str, str] | None,
    correct_name: str,
) -> dict[str, float]:
    """One problem's per-budget metrics from its answers per budget (`groups[b]`, in the
    order of `plan.budgets`) and their correctness values (`correct[b]`)."""
    values: dict[str, float] = {}
    for budget, answers, hits in zip(plan.budgets, groups, correct, strict=True):
        values[f"{correct_name}@budget{budget}"] = sum(hits) / len(hits)
        values[f"thinking_tokens@budget{budget}"] = (
            sum(thinking_tokens(g, tags) for g in answers) / len(answers))
    return values
