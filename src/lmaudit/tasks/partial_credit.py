"""Partial-credit metrics beside a task's own: how close the model came to the target.

`PartialCreditTask(task)` asks the base task's questions and scores them as it does, and
adds, per sample, from one loglikelihood of the target answer given the prompt
(teacher-forced, the same context the task uses):

- `target_logprob`: mean natural-log probability of the target's tokens (nats/token);
- `target_token_acc`: share of the target's tokens that are the argmax of the model's
  next-token distribution given the prompt and the target's earlier tokens; left out for
  a sample whose backend (or stored answer) does not give per-token argmax flags;
- `target_greedy`: 1 when every target token is the argmax (teacher-forced exact match).

A generation task gets one extra loglikelihood request per sample: `(context,
target_delimiter + answer)`. A multiple-choice task needs none: the target option's own
request is used, and its `brier` and `confidence` are the task's. Exact match (the task's
own metric) needs every token right; these move with each token learned, which tells a
jump in a metric from a jump in the model (Schaeffer et al. 2023).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from lmaudit.core.task import Aggregation, MetricSpec, Task, WrappedTask
from lmaudit.core.types import (
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Request,
    RequestKind,
    Response,
    Sample,
    SampleRecord,
)

PARTIAL_CREDIT_VERSION = "partial-credit-v1"
PARTIAL_CREDIT_METRICS = (
    MetricSpec("target_logprob", Aggregation.MEAN),
    MetricSpec("target_token_acc", Aggregation.MEAN, bounds=(0.0, 1.0)),
    MetricSpec("target_greedy", Aggregation.PROPORTION),
)


def target_metrics(result: LoglikelihoodResult) -> dict[str, float]:
    """The partial-credit metrics of one target's loglikelihood (module docstring)."""
    if result.n_tokens < 1:
        raise LmauditError("partial credit: the target answer has no tokens")
    metrics = {
        "target_logprob": result.logprob / result.n_tokens,
        "target_greedy": float(result.is_greedy),
    }
    if len(result.token_greedy) == result.n_tokens:
        metrics["target_token_acc"] = sum(result.token_greedy) / result.n_tokens
    elif result.is_greedy or result.n_tokens == 1:  # all argmax, or one token: known anyway
        metrics["target_token_acc"] = float(result.is_greedy)
    return metrics


class PartialCreditTask(WrappedTask):
    """A generation or multiple-choice task with partial-credit metrics added."""

    def __init__(self, base: Task) -> None:
        super().__init__(base)
        kinds = base.request_kinds
        if RequestKind.GENERATE in kinds:
            self.mode = "generate"
        elif kinds == frozenset({RequestKind.LOGLIKELIHOOD}) and hasattr(base, "answer_text"):
            self.mode = "choices"
        else:
            raise LmauditError(
                f"task {base.name}: partial credit needs a generation or multiple-choice "
                "task (one with a target answer)"
            )

    @property
    def request_kinds(self) -> frozenset[RequestKind]:
        return self.base.request_kinds | {RequestKind.LOGLIKELIHOOD}

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        return (*self.base.metrics, *PARTIAL_CREDIT_METRICS)

    def spec(self) -> dict[str, Any]:
        return {**self.base.spec(), "partial_credit": PARTIAL_CREDIT_VERSION}

    def _target_request(self, sample: Sample) -> LoglikelihoodRequest:
        base: Any = self.base
        context = base.context(sample) if hasattr(base, "context") else sample.input
        answer = base.answer_text(sample) if hasattr(base, "answer_text") else str(sample.target)
        return LoglikelihoodRequest(context, getattr(base, "target_delimiter", " ") + answer)

    def requests(self, sample: Sample) -> list[Request]:
        own = self.base.requests(sample)
        return own if self.mode == "choices" else [*own, self._target_request(sample)]

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        if self.mode == "choices":
            record = self.base.score(sample, responses)
            target = responses[int(sample.target)]
        else:
            record = self.base.score(sample, responses[:-1])
            target = responses[-1]
        if not isinstance(target, LoglikelihoodResult):
            raise TypeError(f"task {self.name}: the target's answer is not a loglikelihood")
        added = target_metrics(target)
        if any(math.isnan(v) for v in added.values()):
            added = {k: v for k, v in added.items() if not math.isnan(v)}
        return dataclasses.replace(record, metrics={**record.metrics, **added})
