"""`json_format`: prompts that ask for a JSON answer, scored for validity and schema conformance.

Data, `--task-option data=FILE`: JSONL (or JSON/CSV) rows `{prompt, schema?, expected?,
id?, cluster?}`: `schema` a JSON Schema (an object, or its JSON text in a CSV cell),
`expected` an object of key/value pairs the answer must hold. Without `data`, the built-in
items (`builtin_items`): lmaudit's own arith word problems (split `split`, default test),
each asking for the answer as a JSON record in one of three shapes, with a schema and the
expected answer, so the lab models (trained on arith) can be run and fine-tuned on it.

Generation: greedy, `max_tokens` (default 128), no stop sequence (a JSON answer spans
lines); with `chat=1` the prompt goes as one user message. Metrics
(`lmaudit.scoring.json_format`): `json_valid` (strict), `json_valid_fenced` (a ```json
fence accepted), `schema_valid`, `schema_valid_fenced`, `expected_match`; each a
proportion with a Wilson interval, clustered where rows give a `cluster` (the built-in
items: by arith template, as `arith` is; their record shape, a fixed design factor, is kept
in `shape`). The
headline is `schema_valid` where items have schemas (a bare `60` is valid JSON, RFC 8259,
but not the record asked for), else `json_valid`. Reasoning
models: thinking segments (`think_tags`, default `<think>,</think>`; `none` keeps all) are
removed before scoring (`lmaudit.scoring.thinking`); an untagged reply is scored as written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lmaudit.core.task import Aggregation, MetricSpec, Task
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
from lmaudit.data.textio import JsonProblem, parse_json
from lmaudit.scoring.json_format import VERSION, compile_schema, judge_json
from lmaudit.scoring.thinking import DEFAULT_TAGS, split_thinking
from lmaudit.tasks.generic import _BaseTask, single_turn_request
from lmaudit.tasks.registry import TaskOptions, register_task, think_tags_help

TASK_VERSION = "json_format-v1"
DEFAULT_MAX_TOKENS = 128

_ANSWER = {"type": "integer"}
# (shape name, also the cluster; instruction) per built-in record shape.
SHAPES: tuple[tuple[str, str], ...] = (
    ("answer", 'Reply with only a JSON object of the form {"answer": <integer>}.'),
    ("id_answer", 'Reply with only a JSON object of the form {"id": "<the question id>", '
                  '"answer": <integer>}. The question id is {id}.'),
    ("numbers_answer", 'Reply with only a JSON object of the form {"numbers": [<every number '
                       'in the question, in order>], "answer": <integer>}.'),
)


@dataclass(frozen=True)
class JsonFormatItem:
    """One built-in item: `prompt` ends with "Answer:"; `expected` the keys checked;
    `template_id` the arith template it instantiates (its cluster)."""

    id: str
    prompt: str
    schema: dict[str, Any]
    expected: dict[str, Any]
    shape: str
    template_id: str


def _schema(shape: str) -> dict[str, Any]:
    properties: dict[str, Any] = {"answer": _ANSWER}
    if shape == "id_answer":
        properties["id"] = {"type": "string"}
    if shape == "numbers_answer":
        properties["numbers"] = {"type": "array", "items": {"type": "number"}}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "properties": properties, "required": sorted(properties),
            "additionalProperties": False}


def builtin_items(split: str = "test", n: int | None = None) -> list[JsonFormatItem]:
    """The built-in items over the arith split `split` (first `n`): item k uses shape
    k mod 3; ids `json-<arith id>`."""
    from lmaudit.tasks import arith

    items = []
    for k, problem in enumerate(arith.load_split(split, n)):
        shape, instruction = SHAPES[k % len(SHAPES)]
        item_id = f"json-{problem.id}"
        expected: dict[str, Any] = {"answer": int(problem.answer)}
        if shape == "id_answer":
            expected["id"] = item_id
        instruction = instruction.replace("{id}", item_id)
        prompt = f"Question: {problem.question}\n{instruction}\nAnswer:"
        items.append(JsonFormatItem(item_id, prompt, _schema(shape), expected, shape,
                                    problem.template_id))
    return items


def json_format_document(item: JsonFormatItem) -> str:
    """A training text for `item`: its prompt, a space and the expected record as compact
    JSON (for lab fine-tunes that teach the format)."""
    return f"{item.prompt} {json.dumps(item.expected, separators=(', ', ': '))}"


def _builtin_samples(split: str) -> list[Sample]:
    return [Sample(item.id, item.prompt, json.dumps(item.expected),
                   metadata={"schema": item.schema, "expected": item.expected,
                             "shape": item.shape, "cluster": item.template_id})
            for item in builtin_items(split)]


def _json_cell(value: Any, where: str, i: int, key: str) -> Any:
    """A schema/expected cell: JSON values as they are, JSON text (CSV) parsed."""
    if isinstance(value, str):
        try:
            return parse_json(value)
        except JsonProblem as problem:
            raise LmauditError(f"{where}: row {i}: field {key!r}: {problem}") from None
    return value


def samples_from_rows(rows: Sequence[dict[str, Any]], where: str) -> list[Sample]:
    """One sample per row `{prompt, schema?, expected?, id?, cluster?}`; schemas are checked
    against their meta-schema here, before any model loads."""
    samples = []
    for i, row in enumerate(rows):
        prompt = require_field(row, "prompt", source=where, row_index=i)
        metadata: dict[str, Any] = {"row_index": i}
        schema = row.get("schema")
        if schema not in (None, ""):
            metadata["schema"] = _json_cell(schema, where, i, "schema")
            compile_schema(metadata["schema"], f"{where}: row {i}")
        expected = row.get("expected")
        if expected not in (None, ""):
            expected = _json_cell(expected, where, i, "expected")
            if not isinstance(expected, dict):
                raise LmauditError(f"{where}: row {i}: `expected` must be a JSON object")
            metadata["expected"] = expected
        if row.get("cluster") not in (None, ""):
            metadata["cluster"] = str(row["cluster"])
        samples.append(Sample(str(row.get("id", i)), str(prompt),
                              json.dumps(metadata.get("expected")), metadata=metadata))
    return samples


class JsonFormatTask(_BaseTask):
    """Generation scored by `lmaudit.scoring.json_format` (module docstring)."""

    task_type = "generate"

    def __init__(self, name: str, load: Any, *, max_tokens: int, chat: bool,
                 config: dict[str, Any], data_spec: Any = None,
                 think_tags: tuple[str, str] | None = DEFAULT_TAGS) -> None:
        super().__init__(name, load, config=config, data_spec=data_spec)
        self.max_tokens = max_tokens
        self.chat = chat
        self.think_tags = think_tags
        self._validators: dict[str, Any] = {}

    @property
    def request_kinds(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE})

    @property
    def metrics(self) -> Sequence[MetricSpec]:
        return tuple(MetricSpec(name, Aggregation.PROPORTION) for name in (
            "schema_valid", "json_valid", "json_valid_fenced", "schema_valid_fenced",
            "expected_match"))

    def card_metrics(self) -> list[str]:
        """Shown under the headline on the report's card, when reported: the headline is
        `schema_valid` when the items have schemas, else `json_valid`."""
        return ["json_valid", "json_valid_fenced", "schema_valid_fenced", "expected_match"]

    def _type_spec(self) -> dict[str, Any]:
        return {"scorer_version": VERSION, "max_tokens": self.max_tokens, "chat": self.chat,
                "think_tags": list(self.think_tags) if self.think_tags else None}

    def requests(self, sample: Sample) -> list[Request]:
        params = GenerationParams(self.max_tokens, 0.0)
        return [single_turn_request(sample.input, params, chat=self.chat)]

    def _validator(self, sample: Sample) -> Any:
        schema = sample.metadata.get("schema")
        if schema is None:
            return None
        if sample.id not in self._validators:
            self._validators[sample.id] = compile_schema(schema, f"task {self.name}: {sample.id}")
        return self._validators[sample.id]

    def score(self, sample: Sample, responses: Sequence[Response]) -> SampleRecord:
        if len(responses) != 1 or not isinstance(responses[0], Generation):
            raise ValueError(f"task {self.name}: expected one Generation")
        return self.score_text(sample, responses[0].text, responses[0].finish_reason)

    def score_text(self, sample: Sample, text: str,
                   finish_reason: str | None = None) -> SampleRecord:
        """The record of one response text (module docstring for the metrics)."""
        split = split_thinking(text, self.think_tags)
        tagged = bool(split.thinking) or split.unclosed
        checked = split.answer if tagged else text
        verdict = judge_json(checked, self._validator(sample), sample.metadata.get("expected"))
        metrics = {k: v for k, v in verdict.metrics.items() if v == v}  # NaN: not applicable
        extra: dict[str, Any] = {"used_fence": verdict.used_fence, "json_problem": verdict.problem}
        if tagged:
            extra["thinking"] = split.counts(0, len(text))
        if finish_reason is not None:
            extra["finish_reason"] = finish_reason
        return SampleRecord(
            sample_id=sample.id, prompt=self.context(sample), target=str(sample.target),
            response=text,
            extracted=None if verdict.value is None else json.dumps(verdict.value)[:2000],
            metrics=metrics, cluster=sample.cluster, extra=extra)


@register_task("json_format", "answers as JSON: strict and fenced parse validity, JSON Schema "
               "conformance (built-in arith records, or a JSONL of prompts and schemas)",
               task_type="generate")
def json_format(**options: str) -> Task:
    """The json_format task (module docstring)."""
    opts = TaskOptions("json_format", options, {
        "data": "file of {prompt, schema?, expected?, id?, cluster?} rows (JSONL, JSON or "
        "CSV); default the built-in arith records",
        "split": "built-in items: arith split test (default), ref or train",
        "max_tokens": f"new tokens per answer (default {DEFAULT_MAX_TOKENS})",
        "chat": "1 to send the prompt as one user chat message (default 0)",
        "think_tags": think_tags_help("scoring"),
    })
    think_tags = opts.think_tags()
    data = opts.text("data")
    split = opts.choice("split", "test", ("test", "ref", "train"))
    config = {"task_version": TASK_VERSION, "options": opts.spec()}
    common: dict[str, Any] = dict(
        max_tokens=opts.integer("max_tokens", DEFAULT_MAX_TOKENS, minimum=1),
        chat=opts.choice("chat", "0", ("0", "1")) == "1", config=config, think_tags=think_tags)
    if data is None:
        return JsonFormatTask("json_format", lambda: _builtin_samples(split), **common)
    source = DataSource(data, None)
    return JsonFormatTask(
        "json_format", lambda: samples_from_rows(source.rows(), source.label()),
        data_spec=lambda load: {"eval": source.describe(hash_files=load)}, **common)
