"""json_format: strict and fenced parse validity, schema conformance, expected values,
hostile outputs bounded before parsing, user files, and intervals over a run."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from lmaudit.core.aggregate import aggregate_records
from lmaudit.core.runner import evaluate
from lmaudit.core.types import GenerateRequest, LmauditError
from lmaudit.scoring.json_format import (
    MAX_JSON_CHARS,
    MAX_JSON_DEPTH,
    compile_schema,
    fenced_block,
    judge_json,
    nesting_depth,
    values_equal,
)
from lmaudit.tasks.json_format import builtin_items, json_format_document
from lmaudit.tasks.registry import load_task
from seed_fakes import ScriptedBackend, write_jsonl

SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}},
          "required": ["answer"], "additionalProperties": False}


def _metrics(text: str, schema: object = SCHEMA, expected: dict | None = None) -> dict:
    validator = compile_schema(schema, "test") if schema is not None else None
    return dict(judge_json(text, validator, expected).metrics)


def test_strict_fenced_schema_and_expected_readings() -> None:
    plain = _metrics('  {"answer": 60}\n', expected={"answer": 60})
    assert plain == {"json_valid": 1.0, "json_valid_fenced": 1.0, "schema_valid": 1.0,
                     "schema_valid_fenced": 1.0, "expected_match": 1.0}
    fenced = _metrics('Sure!\n```json\n{"answer": 6e1}\n```\nDone.', expected={"answer": 60})
    assert (fenced["json_valid"], fenced["json_valid_fenced"]) == (0.0, 1.0)
    # JSON Schema (draft 6 on): a number with a zero fractional part is an "integer"
    assert (fenced["schema_valid"], fenced["schema_valid_fenced"]) == (0.0, 1.0)
    assert _metrics('{"answer": 60.5}')["schema_valid"] == 0.0
    assert fenced["expected_match"] == 1.0  # numbers compared by value
    wrong_type = _metrics('{"answer": "60"}', expected={"answer": 60})
    assert wrong_type["json_valid"] == 1.0 and wrong_type["schema_valid"] == 0.0
    assert wrong_type["expected_match"] == 0.0
    extra_key = _metrics('{"answer": 60, "why": "x"}', expected={"answer": 60})
    assert extra_key["schema_valid"] == 0.0 and extra_key["expected_match"] == 1.0
    no_schema = _metrics('[1, 2]', schema=None)
    assert math.isnan(no_schema["schema_valid"]) and math.isnan(no_schema["expected_match"])


@pytest.mark.parametrize("text", [
    '{"answer": 60} and that is all',  # trailing text
    "{'answer': 60}",  # Python, not JSON
    '{"answer": NaN}',  # RFC 8259 has no NaN
    '{"answer": Infinity}',
    "```python\n{\"answer\": 60}\n```",  # a fence for another language is not read
    "",
])
def test_invalid_in_both_readings(text: str) -> None:
    metrics = _metrics(text)
    assert metrics["json_valid"] == 0.0 and metrics["json_valid_fenced"] == 0.0
    assert metrics["schema_valid"] == 0.0


def test_unlabelled_fence_and_first_fence_wins() -> None:
    assert fenced_block("x\n```\n[1]\n```\n```json\n[2]\n```") == "[1]"
    assert _metrics("````json\n{\"answer\": 1}\n````")["json_valid_fenced"] == 1.0


def test_depth_bound_is_exact_and_ignores_brackets_in_strings() -> None:
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    over = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    assert nesting_depth(at_limit) == MAX_JSON_DEPTH
    assert _metrics(at_limit, schema=None)["json_valid"] == 1.0
    verdict = judge_json(over)
    assert not verdict.strict_ok and "nested 65 deep" in str(verdict.problem)
    assert nesting_depth('{"a": "[[[[{{{\\"]]]"}') == 1
    assert nesting_depth('["a\\\\", [1]]') == 2  # an escaped backslash ends the string
    assert nesting_depth("]]][[") == 0  # a stray close: the parser stops there anyway


def test_hostile_outputs_are_bounded_and_fast() -> None:
    start = time.perf_counter()
    deep = judge_json("[" * 200_000 + "]" * 200_000)
    huge = judge_json('{"a": "' + "x" * (MAX_JSON_CHARS + 10) + '"}')
    big_int = judge_json("1" * 5000)
    assert time.perf_counter() - start < 3.0
    assert "nested" in str(deep.problem) and "longer than" in str(huge.problem)
    assert not big_int.strict_ok and "unreadable" in str(big_int.problem)


def test_values_equal_conventions() -> None:
    assert values_equal(60, 60.0) and values_equal([1, {"a": 2}], [1.0, {"a": 2}])
    assert not values_equal(1, True) and not values_equal("60", 60)
    assert not values_equal({"a": 1}, {"a": 1, "b": 2})


def test_invalid_schema_is_an_error_naming_the_row(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "bad.jsonl", [
        {"prompt": "p", "schema": SCHEMA},
        {"prompt": "q", "schema": {"type": "object", "required": "answer"}},
    ])
    task = load_task("json_format", {"data": str(data)})
    with pytest.raises(LmauditError, match=r"row 1: invalid JSON Schema"):
        task.samples()


def test_draft_from_dollar_schema() -> None:
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "number",
              "exclusiveMaximum": True, "maximum": 5}
    validator = compile_schema(draft4, "test")  # a boolean exclusiveMaximum is draft 4 only
    assert validator.is_valid(4) and not validator.is_valid(5)
    with pytest.raises(LmauditError):
        compile_schema({"type": "number", "exclusiveMaximum": True}, "test")  # 2020-12


def test_user_file_run_with_wilson_intervals(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "prompt": "Give a JSON object with an integer answer.", "schema": SCHEMA,
         "expected": {"answer": 1}},
        {"id": "b", "prompt": "Give a JSON list.", "schema": {"type": "array"}},
        {"id": "c", "prompt": "Give anything in JSON."},
        {"id": "d", "prompt": "Give a JSON object.", "schema": {"type": "object"}},
    ]
    data = write_jsonl(tmp_path / "items.jsonl", rows)
    replies = {"a": '{"answer": 1}', "b": "```json\n[1]\n```", "c": "null", "d": "{oops}"}
    task = load_task("json_format", {"data": str(data), "chat": "1"})
    by_prompt = {row["prompt"]: replies[row["id"]] for row in rows}
    model = ScriptedBackend(lambda r: by_prompt[r.messages[0].content])  # type: ignore[index]
    records = evaluate(task, model, task.samples(), show_progress=False)
    assert [r.metrics["json_valid"] for r in records] == [1.0, 0.0, 1.0, 0.0]
    assert [r.metrics["json_valid_fenced"] for r in records] == [1.0, 1.0, 1.0, 0.0]
    assert "schema_valid" not in records[2].metrics  # no schema: not applicable
    assert records[1].extra["used_fence"] and records[3].extra["json_problem"]
    metrics = aggregate_records(task.metrics, records)
    from lmaudit.report.evidence import primary_metric

    payload = {"metrics": {k: {"higher_is_better": True} for k in metrics}}
    assert primary_metric(payload) == "schema_valid"  # the report's headline
    valid = metrics["json_valid_fenced"]
    assert valid.value == 0.75 and valid.method == "wilson"
    assert (valid.ci_low, valid.ci_high) == pytest.approx((0.3006, 0.9544), abs=1e-4)
    assert metrics["schema_valid"].n == 3 and metrics["schema_valid"].value == pytest.approx(1 / 3)
    assert metrics["expected_match"].n == 1


def test_csv_cells_hold_schema_text(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text('prompt,schema\n"Answer in JSON.","{""type"": ""integer""}"\n',
                    encoding="utf-8")
    sample = load_task("json_format", {"data": str(path)}).samples()[0]
    assert sample.metadata["schema"] == {"type": "integer"}


def test_builtin_items_are_consistent_with_their_schemas() -> None:
    items = builtin_items("test", 6)
    assert [item.shape for item in items[:3]] == ["answer", "id_answer", "numbers_answer"]
    assert items[1].id in items[1].prompt and items[0].prompt.endswith("\nAnswer:")
    for item in items:
        validator = compile_schema(item.schema, item.id)
        record = dict(item.expected)
        if item.shape == "numbers_answer":
            record["numbers"] = [1, 2]
        assert validator.is_valid(record)
        assert judge_json(json.dumps(record), validator, item.expected).metrics[
            "expected_match"] == 1.0
    document = json_format_document(items[0])
    assert document.startswith(items[0].prompt + " {") and json.loads(
        document[len(items[0].prompt):]) == items[0].expected


def test_builtin_task_requests_and_shapes() -> None:
    task = load_task("json_format", {"max_tokens": "64"})
    sample = task.samples()[0]
    request = task.requests(sample)[0]
    assert isinstance(request, GenerateRequest) and request.prompt == sample.input
    assert request.params.max_tokens == 64 and request.params.stop == ()
    # clustered as arith is, by template (40 clusters of 5), not by the three record
    # shapes (a fixed design factor: clustered intervals on 2 degrees of freedom)
    samples = task.samples()
    arith = {s.id: s.cluster for s in load_task("arith").samples()}
    assert [s.cluster for s in samples] == [arith[s.id.removeprefix("json-")] for s in samples]
    assert len({s.cluster for s in samples}) == 40
    assert {s.metadata["shape"] for s in samples} == {"answer", "id_answer", "numbers_answer"}
    with pytest.raises(LmauditError, match="unknown option"):
        load_task("json_format", {"schema": "x"})


def test_thinking_is_removed_before_scoring(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "items.jsonl", [{"prompt": "JSON please", "schema": SCHEMA}])
    task = load_task("json_format", {"data": str(data)})
    sample = task.samples()[0]
    record = task.score_text(sample, '<think>maybe {"answer": "x"</think>\n{"answer": 3}')
    assert record.metrics["json_valid"] == 1.0 and record.metrics["schema_valid"] == 1.0
    assert record.extra["thinking"]["thinking_segments"] == 1
    kept = load_task("json_format", {"data": str(data), "think_tags": "none"})
    assert kept.score_text(sample, '<think>x</think>{"answer": 3}').metrics["json_valid"] == 0.0
