"""lm-eval's `loglikelihood` output type: one continuation per document.

The request is `(context, target)`: lm-eval 0.4.13 sends the target as rendered, without
`target_delimiter` (task files put any leading space in `doc_to_target`). Per sample
lmaudit stores the continuation's log-likelihood (natural log), `acc` (1 when greedy
decoding would produce the continuation: lm-eval's `acc` for this type) and `nll`.
`perplexity` is lm-eval's `exp(-mean log-likelihood)`, a ratio of sums with a bootstrap
interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lmaudit.core.task import Aggregation, MetricSpec
from lmaudit.core.types import (
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Request,
    Response,
    Sample,
    SampleRecord,
)
from lmaudit.tasks.generic import MultipleChoiceTask


class ContinuationTask(MultipleChoiceTask):
    """Scores one target continuation per sample (`Sample.target` is its text)."""

    task_type = "loglikelihood"

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        return (
            MetricSpec("acc", Aggregation.PROPORTION),
            MetricSpec("perplexity", Aggregation.RATIO, "nll", "count", "exp",
                       higher_is_better=False),
        )

    def answer_text(self, sample: Sample) -> str:
        return str(sample.target)

    def requests(self, sample: Sample) -> list[Request]:
        return [LoglikelihoodRequest(self.context(sample), str(sample.target))]

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        if len(responses) != 1 or not isinstance(responses[0], LoglikelihoodResult):
            raise LmauditError(f"task {self.name}: expected one log-likelihood per sample")
        result = responses[0]
        extra: dict[str, Any] = {"n_tokens": result.n_tokens}
        return SampleRecord(
            sample_id=sample.id, prompt=self.context(sample), target=str(sample.target),
            response=str(sample.target), extracted=None,
            metrics={"acc": float(result.is_greedy), "loglikelihood": result.logprob,
                     "nll": -result.logprob, "count": 1.0},
            cluster=sample.cluster, choice_logprobs=(result.logprob,), extra=extra)
