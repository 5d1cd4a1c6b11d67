"""lm-eval's `generate_until`: one greedy generation per document, scored by the task's
filter pipelines with the document at hand (`multi_choice_regex` reads its `choices`,
`custom` filters get it, as in lm-eval)."""

from __future__ import annotations

from collections.abc import Sequence

from lmaudit.core.types import Generation, LmauditError, Response, Sample, SampleRecord
from lmaudit.interop.lm_eval_filters import LmEvalScorer
from lmaudit.tasks.generic import GenerateTask


class LmEvalGenerateTask(GenerateTask):
    """A generation task whose scorer is an `LmEvalScorer` (set after construction)."""

    lm_eval_scorer: LmEvalScorer

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        if len(responses) != 1 or not isinstance(responses[0], Generation):
            raise LmauditError(f"task {self.name}: expected one generation per sample")
        generation = responses[0]
        doc = sample.metadata.get("fields") or {}
        outcome = self.lm_eval_scorer(generation.text, str(sample.target), doc)
        return SampleRecord(
            sample_id=sample.id, prompt=self.context(sample), target=str(sample.target),
            response=generation.text, extracted=outcome.extracted,
            metrics=dict(outcome.metrics), cluster=sample.cluster,
            extra={"finish_reason": generation.finish_reason})
