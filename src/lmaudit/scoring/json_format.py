"""Scoring a response that should be JSON: parse validity, schema conformance, expected values.

Two readings of a response, each a per-sample 0/1 metric:
- `json_valid` (strict): the whole response, leading and trailing whitespace removed, is
  one JSON text (RFC 8259: no `NaN`/`Infinity`, no trailing text, no comments);
- `json_valid_fenced` (lenient, the common "```json fence" habit of chat models): valid when
  the strict reading is, else when the content of the first Markdown code fence (three or
  more backticks, language tag `json` or none) is one JSON text. It is never below
  `json_valid`; the gap between the two is the share of answers that needed the fence.

Schema conformance (`schema_valid`, on the strict reading; `schema_valid_fenced`, on the
lenient one; NaN for items without a schema): the parsed value validates against the item's
JSON Schema with the `jsonschema` library, under the draft its `$schema` names (latest draft
when absent). Formats (`"format": "email"`) are annotations only, as the JSON Schema spec's
default; remote `$ref`s are never fetched. A response that does not parse does not conform.
`expected_match` (items with expected values; NaN otherwise): the lenient parse is an
object holding every expected key with an equal value (numbers compared by value, so
`60`, `60.0` and `6e1` match; strings exactly; lists and objects recursively).

Hostile responses are bounded before parsing: more than `MAX_JSON_CHARS` characters or
brackets nested deeper than `MAX_JSON_DEPTH` count as not valid, without calling the
parser (`json_problem` says why). Duplicate object keys are allowed (the last one wins).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmaudit.core.types import LmauditError
from lmaudit.data.textio import JsonProblem

VERSION = "json-format-v1"
MAX_JSON_CHARS = 1_000_000  # characters of one candidate JSON text
MAX_JSON_DEPTH = 64  # nested arrays/objects

_FENCE = re.compile(r"(`{3,})[ \t]*(json|JSON|Json)?[ \t]*\r?\n(.*?)\r?\n?\1", re.S)
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # a JSON string, unrolled
_OPENING, _CLOSING = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting of a JSON-like text (the maximum running count of
    opening minus closing brackets), brackets inside strings ignored. A stray closing
    bracket lowers the count, but the parser stops with an error there, before it reaches
    any nesting that follows, so the bound still holds for everything it parses."""
    data = np.frombuffer(_STRING.sub('""', text).encode("utf-8"), dtype=np.uint8)
    if data.size == 0:
        return 0
    steps = np.isin(data, _OPENING).astype(np.int64) - np.isin(data, _CLOSING)
    return max(0, int(np.cumsum(steps).max()))


def _reject_constant(name: str) -> Any:
    raise JsonProblem(f"{name} is not valid JSON")


def parse_bounded_json(text: str) -> Any:
    """One JSON text, bounded before parsing; `JsonProblem` (one line) when it is too long,
    too deep, malformed, or uses `NaN`/`Infinity`."""
    if len(text) > MAX_JSON_CHARS:
        raise JsonProblem(f"longer than {MAX_JSON_CHARS:,} characters")
    depth = nesting_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise JsonProblem(f"nested {depth} deep (limit {MAX_JSON_DEPTH})")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise JsonProblem(f"malformed JSON ({error.msg} at line {error.lineno} column "
                          f"{error.colno})") from None
    except RecursionError:
        raise JsonProblem("JSON nested too deeply to read") from None
    except JsonProblem:
        raise
    except ValueError as error:  # integers beyond Python's digit limit
        raise JsonProblem(f"unreadable JSON value ({str(error).split(';')[0]})") from None


def fenced_block(text: str) -> str | None:
    """The content of the first ``` code fence labelled json or unlabelled, else None."""
    if len(text) > 4 * MAX_JSON_CHARS:
        return None
    match = _FENCE.search(text)
    return match.group(3) if match else None


def compile_schema(schema: Any, where: str) -> Any:
    """A `jsonschema` validator for `schema` (checked against its meta-schema);
    `LmauditError` naming `where` when the schema itself is invalid."""
    try:
        from jsonschema import exceptions, validators
    except ImportError:
        raise LmauditError(f"{where}: a JSON Schema needs the jsonschema package: "
                           "pip install 'lmaudit[graders]'") from None
    if not isinstance(schema, (dict, bool)):
        raise LmauditError(f"{where}: schema must be a JSON object, got {type(schema).__name__}")
    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as error:
        raise LmauditError(f"{where}: invalid JSON Schema ({error.message})") from None
    return cls(schema)


def values_equal(expected: Any, actual: Any) -> bool:
    """JSON equality with numbers compared by value (bools are not numbers)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            values_equal(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            values_equal(v, actual[k]) for k, v in expected.items())
    return type(expected) is type(actual) and bool(expected == actual)


@dataclass(frozen=True)
class JsonVerdict:
    """One response judged: each reading's parse (None when it failed), why it failed,
    and the per-sample metrics (module docstring; NaN where a metric does not apply)."""

    strict_ok: bool
    fenced_ok: bool
    used_fence: bool
    problem: str | None
    metrics: Mapping[str, float]
    value: Any = None


def _conforms(validator: Any, ok: bool, value: Any) -> float:
    if validator is None:
        return math.nan
    return float(ok and bool(validator.is_valid(value)))


def judge_json(response: str, validator: Any = None,
               expected: Mapping[str, Any] | None = None) -> JsonVerdict:
    """The verdict on one response; `validator` from `compile_schema` (or None),
    `expected` the key/value pairs the answer must hold (or None)."""
    problem = None
    strict_value: Any = None
    try:
        strict_value = parse_bounded_json(response.strip())
        strict_ok = True
    except JsonProblem as error:
        strict_ok, problem = False, str(error)
    fenced_ok, used_fence, fenced_value = strict_ok, False, strict_value
    if not strict_ok:
        block = fenced_block(response)
        if block is not None:
            used_fence = True
            try:
                fenced_value = parse_bounded_json(block.strip())
                fenced_ok = True
            except JsonProblem as error:
                problem = f"fenced block: {error}"
    match = math.nan
    if expected is not None:
        match = float(fenced_ok and isinstance(fenced_value, dict) and all(
            key in fenced_value and values_equal(value, fenced_value[key])
            for key, value in expected.items()))
    metrics = {
        "json_valid": float(strict_ok),
        "json_valid_fenced": float(fenced_ok),
        "schema_valid": _conforms(validator, strict_ok, strict_value),
        "schema_valid_fenced": _conforms(validator, fenced_ok, fenced_value),
        "expected_match": match,
    }
    return JsonVerdict(strict_ok, fenced_ok, used_fence, None if fenced_ok else problem,
                       metrics, fenced_value if fenced_ok else None)
