"""IFEval (Zhou et al. 2023): prompts with verifiable instructions, graded strict and loose.

Data: rows of `{key, prompt, instruction_id_list, kwargs}` as in the authors'
`input_data.jsonl` or the Hugging Face dataset `google/IFEval` (split `train`, the only
one; its kwargs carry every argument name with None where unused). Local data:
`--task-option data=PATH`. The hub dataset is only read when no local file is given.

Generation: the prompt exactly as written, nothing added (no description, no few-shot);
greedy, `max_tokens` new tokens (default 1280, as lm-evaluation-harness), no stop
sequence. With `chat=1` the prompt goes as one user message, so the backend applies the
model's chat template. Scoring: `lmaudit.scoring.ifeval` (strict and loose, prompt- and
instruction-level, per instruction type; metric names in `lmaudit.scoring.ifeval.evaluate`).

Reasoning models: thinking segments (`think_tags`, default `<think>,</think>`; `none` to
keep everything) are removed before the checkers see the response
(`lmaudit.scoring.thinking`); a response with no tag is checked exactly as written. The
thinking counts go into each sample's `extra`; `thinking_unclosed` (the share of responses
whose thinking never closed, so nothing is left to check) is a reported metric.
Stored responses (`lmaudit score --task ifeval --responses FILE`) are joined to the
prompts by their exact prompt text, as the authors' `evaluation_main` joins them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lmaudit.core.task import Aggregation, MetricSpec
from lmaudit.core.types import (
    Generation,
    GenerationParams,
    LmauditError,
    Request,
    RequestKind,
    Response,
    Sample,
    SampleRecord,
)
from lmaudit.data.loading import require_field
from lmaudit.data.source import DataSource
from lmaudit.scoring.ifeval import VERSION, build_instructions, judge_prompt, metric_specs
from lmaudit.scoring.thinking import DEFAULT_TAGS, THINKING_VERSION, split_thinking
from lmaudit.tasks.generic import single_turn_request
from lmaudit.tasks.registry import TaskOptions, register_task, think_tags_help

IFEVAL_HUB_ID = "google/IFEval"
IFEVAL_SPLIT = "train"
TASK_VERSION = "ifeval-v1"
DEFAULT_MAX_TOKENS = 1280


def _samples_from_rows(rows: Sequence[dict[str, Any]], where: str) -> list[Sample]:
    """One sample per row: id = `key`, input = `prompt`, the instructions (validated
    here, so bad data fails before any model loads) in metadata."""
    samples: list[Sample] = []
    for i, row in enumerate(rows):
        key = require_field(row, "key", source=where, row_index=i)
        prompt = require_field(row, "prompt", source=where, row_index=i)
        ids = require_field(row, "instruction_id_list", source=where, row_index=i)
        kwargs = require_field(row, "kwargs", source=where, row_index=i)
        if not isinstance(ids, list) or not isinstance(kwargs, list):
            raise LmauditError(f"{where}: row {i}: instruction_id_list and kwargs must be lists")
        try:
            build_instructions([str(x) for x in ids], [dict(k or {}) for k in kwargs])
        except LmauditError as error:
            raise LmauditError(f"{where}: row {i} (key {key}): {error}") from None
        samples.append(
            Sample(
                str(key),
                str(prompt),
                "; ".join(str(x) for x in ids),
                metadata={
                    "instruction_id_list": [str(x) for x in ids],
                    "kwargs": [dict(k or {}) for k in kwargs],
                },
            )
        )
    return samples


class IfevalTask:
    """The IFEval task (module docstring); implements `lmaudit.core.task.Task`."""

    task_type = "generate"

    def __init__(
        self,
        source: DataSource,
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        chat: bool = False,
        think_tags: tuple[str, str] | None = DEFAULT_TAGS,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.source = source
        self.max_tokens = max_tokens
        self.chat = chat
        self.think_tags = think_tags
        self.options = dict(options or {})
        self._samples: list[Sample] | None = None

    @property
    def name(self) -> str:
        return "ifeval"

    @property
    def request_kinds(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE})

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        specs = metric_specs()
        if self.think_tags is not None:
            specs.append(
                MetricSpec("thinking_unclosed", Aggregation.PROPORTION, higher_is_better=False)
            )
        return specs

    def static_spec(self) -> dict[str, Any]:
        """The spec without loading data (for `lmaudit tasks --show`)."""
        return {
            "name": self.name,
            "type": self.task_type,
            "task_version": TASK_VERSION,
            "checkers_version": VERSION,
            "max_tokens": self.max_tokens,
            "chat": self.chat,
            "think_tags": list(self.think_tags) if self.think_tags else None,
            "thinking_version": THINKING_VERSION,
            "options": dict(sorted(self.options.items())),
            "data": self.source.describe(hash_files=False),
        }

    def spec(self) -> dict[str, Any]:
        spec = self.static_spec()
        spec["data"] = self.source.describe()
        spec["n_samples"] = len(self.samples())
        return spec

    def samples(self) -> list[Sample]:
        if self._samples is None:
            where = self.source.label()
            samples = _samples_from_rows(self.source.rows(), where)
            if not samples:
                raise LmauditError(f"{where}: no IFEval prompts")
            seen: set[str] = set()
            for sample in samples:
                if sample.id in seen:
                    raise LmauditError(f"{where}: key {sample.id} appears twice")
                seen.add(sample.id)
            self._samples = samples
        return list(self._samples)

    def requests(self, sample: Sample) -> list[Request]:
        params = GenerationParams(self.max_tokens, 0.0)
        return [single_turn_request(sample.input, params, chat=self.chat)]

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        if len(responses) != 1 or not isinstance(responses[0], Generation):
            raise ValueError(f"task ifeval: expected one Generation, got {len(responses)}")
        generation = responses[0]
        return self.score_text(
            sample,
            generation.text,
            finish_reason=generation.finish_reason,
            completion_tokens=generation.completion_tokens,
        )

    def score_text(
        self,
        sample: Sample,
        text: str,
        *,
        finish_reason: str | None = None,
        completion_tokens: int = 0,
    ) -> SampleRecord:
        """The record of one response text: thinking removed (when tagged), then strict
        and loose verdicts per instruction; `extracted` holds the checked text when it
        differs from the response."""
        split = split_thinking(text, self.think_tags)
        tagged = bool(split.thinking) or split.unclosed
        checked = split.answer if tagged else text
        instructions = build_instructions(
            sample.metadata["instruction_id_list"], sample.metadata["kwargs"]
        )
        verdict = judge_prompt(instructions, checked)
        metrics = verdict.metrics()
        extra: dict[str, Any] = {
            "instruction_id_list": list(verdict.instruction_ids),
            "follow_strict": list(verdict.strict),
            "follow_loose": list(verdict.loose),
        }
        if self.think_tags is not None:
            metrics["thinking_unclosed"] = float(split.unclosed)
            extra["thinking"] = split.counts(completion_tokens, len(text))
        if finish_reason is not None:
            extra["finish_reason"] = finish_reason
        return SampleRecord(
            sample_id=sample.id,
            prompt=sample.input,
            target=str(sample.target),
            response=text,
            extracted=checked if tagged else None,
            metrics=metrics,
            cluster=sample.cluster,
            extra=extra,
        )


@register_task(
    "ifeval",
    "IFEval verifiable instructions (google/IFEval); strict and loose, prompt and "
    "instruction level",
    task_type="generate",
)
def ifeval(**options: str) -> IfevalTask:
    """The IFEval task; options: data, max_tokens, chat."""
    opts = TaskOptions(
        "ifeval",
        options,
        {
            "data": "local file of {key, prompt, instruction_id_list, kwargs} rows (the "
            "authors' input_data.jsonl); default the hub dataset google/IFEval",
            "max_tokens": f"new tokens per response (default {DEFAULT_MAX_TOKENS})",
            "chat": "1 to send the prompt as one user chat message (default 0: plain prompt)",
            "think_tags": think_tags_help("checking"),
        },
    )
    think_tags = opts.think_tags()
    data = opts.text("data")
    source = DataSource(data, None) if data else DataSource(IFEVAL_HUB_ID, IFEVAL_SPLIT)
    chat = opts.choice("chat", "0", ("0", "1")) == "1"
    return IfevalTask(
        source,
        max_tokens=opts.integer("max_tokens", DEFAULT_MAX_TOKENS, minimum=1),
        chat=chat,
        think_tags=think_tags,
        options=opts.spec(),
    )
