"""Rendering dataset rows into prompts, options and targets.

Templates are Python format strings filled with `str.format_map` over a row's fields:
`"Question: {question}\\nAnswer:"`. Literal braces are doubled (`{{`, `}}`). Only plain
field names are allowed, with an optional format spec of at most `MAX_SPEC_CHARS`
characters whose numbers (width, precision) are at most `MAX_FORMAT_WIDTH`: attribute
access (`{q.__class__}`), indexing (`{choices[0]}`), conversions (`{q!r}`), nested fields
and huge widths (`{q:>999999999}`) are rejected by `template_fields` when the task is
loaded. A field whose value is null (None, or a float NaN) is an error naming the source,
row and field: it never becomes the text "None".

Options (`choices`) may be a list of strings, a JSON list in a string (CSV files), or a
Hugging Face ARC-style dict `{"text": [...], "label": [...]}` (labels optional).

A multiple-choice target resolves to an option index by `target_kind`:
- `index`: an int, or a string of digits;
- `label`: one of the options' labels (ARC `answerKey`), or a letter A, B, ... by position;
- `text`: the text of one option;
- `auto` (default): an int is an index; a string is tried as a label, then as an option
  text, then as a digit string, then as a letter. A string that reads both as an option
  text and as a different index is rejected as ambiguous: say `target_kind`.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from lmaudit.core.types import LmauditError
from lmaudit.data.loading import is_null
from lmaudit.data.textio import JsonProblem, parse_json

TARGET_KINDS = ("auto", "index", "label", "text")
LETTERS = string.ascii_uppercase
MAX_FORMAT_WIDTH = 1000
MAX_SPEC_CHARS = 20


class _MissingField(KeyError):
    pass


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        raise _MissingField(key)


def _check_field(field: str, spec: str, conversion: str | None) -> str:
    """The field name of one replacement field; ValueError saying what is not allowed."""
    shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
    shown += "}"
    if field == "" or field.isdigit():
        raise ValueError(f"positional field {shown}: use a field name")
    if "." in field or "[" in field:
        raise ValueError(
            f"field {shown}: attribute and index access are not allowed; use a plain field name"
        )
    if conversion is not None:
        raise ValueError(f"field {shown}: conversions (!r, !s, !a) are not allowed")
    if "{" in spec or "}" in spec:
        raise ValueError(f"field {shown}: nested fields in a format spec are not allowed")
    if len(spec) > MAX_SPEC_CHARS:
        raise ValueError(f"field {shown}: format spec longer than {MAX_SPEC_CHARS} characters")
    if any(int(number) > MAX_FORMAT_WIDTH for number in re.findall(r"\d+", spec)):
        raise ValueError(f"field {shown}: width or precision above {MAX_FORMAT_WIDTH}")
    return field


@functools.lru_cache(maxsize=256)
def _parse_fields(template: str) -> tuple[str, ...]:
    names: list[str] = []
    for _, field, spec, conversion in string.Formatter().parse(template):
        if field is None:
            continue
        name = _check_field(field, spec or "", conversion)
        if name not in names:
            names.append(name)
    return tuple(names)


def template_fields(template: str) -> list[str]:
    """Field names a template reads, in order (`"{a} {b:>5} {a}"` → `["a", "b"]`).

    Raises ValueError for a malformed template (unbalanced braces) or one the module
    docstring does not allow (attribute/index access, conversions, unbounded specs).
    """
    return list(_parse_fields(template))


def render_template(
    template: str, row: Mapping[str, Any], *, source: str, row_index: int, key: str = "prompt"
) -> str:
    """`template.format_map(row)`; a malformed template, a missing or null field or a
    format spec that does not fit the value names source, row and key."""
    try:
        fields = template_fields(template)
    except ValueError as error:
        raise LmauditError(f"{source}: {key} template {template[:80]!r}: {error}") from None
    for name in fields:
        if name in row and is_null(row[name]):
            raise LmauditError(
                f"{source}: row {row_index}: {key} template needs field {name!r}, which is null"
            )
    try:
        return template.format_map(_Fields(row))
    except _MissingField as error:
        present = ", ".join(str(k) for k in row) or "none"
        raise LmauditError(
            f"{source}: row {row_index}: {key} template needs field {error.args[0]!r} "
            f"(fields present: {present})"
        ) from None
    except (IndexError, KeyError, AttributeError, TypeError, ValueError) as error:
        raise LmauditError(
            f"{source}: row {row_index}: cannot fill {key} template "
            f"({type(error).__name__}: {error})"
        ) from None


def _texts(values: Any, where: str) -> tuple[str, ...]:
    """A list (tuple, numpy array) of option texts or labels as strings; nulls rejected."""
    if hasattr(values, "tolist"):  # numpy array from parquet/pandas
        values = values.tolist()
    if not isinstance(values, list | tuple):
        raise LmauditError(f"{where}: expected a list of options, got {type(values).__name__}")
    for i, text in enumerate(values):
        if is_null(text):
            raise LmauditError(f"{where}: option {i} is null")
    return tuple(str(text) for text in values)


def resolve_choices(
    value: Any, *, source: str, row_index: int
) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """(option texts, option labels or None) from a list, a JSON list string or a dict."""
    where = f"{source}: row {row_index}: choices"
    if isinstance(value, str) and value.lstrip().startswith(("[", "{")):
        try:
            value = parse_json(value)
        except JsonProblem as problem:
            raise LmauditError(f"{where}: {problem}") from None
    labels: tuple[str, ...] | None = None
    if isinstance(value, Mapping):
        if "text" not in value:
            raise LmauditError(f"{where}: a dict of options needs a 'text' list")
        texts = value["text"]
        if value.get("label") is not None:
            labels = _texts(value["label"], f"{where}: label")
    else:
        texts = value
    options = _texts(texts, where)
    if len(options) < 2:
        raise LmauditError(f"{where}: needs at least 2 options, got {len(options)}")
    if labels is not None and len(labels) != len(options):
        raise LmauditError(f"{where}: {len(labels)} labels for {len(options)} options")
    return options, labels


def resolve_target_index(
    value: Any,
    options: Sequence[str],
    labels: Sequence[str] | None = None,
    *,
    source: str,
    row_index: int,
    kind: str = "auto",
) -> int:
    """The index of the correct option (rules in the module docstring)."""
    where = f"{source}: row {row_index}: target"
    if kind not in TARGET_KINDS:
        raise ValueError(f"target kind must be one of {TARGET_KINDS}, got {kind!r}")
    if isinstance(value, bool) or value is None:
        raise LmauditError(f"{where}: expected an index or an option, got {value!r}")
    if hasattr(value, "item"):  # numpy scalar from parquet/pandas
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        if kind in ("auto", "index"):
            return _check_range(value, options, where)
        value = str(value)
    if not isinstance(value, str):
        raise LmauditError(f"{where}: expected an index or an option, got {value!r}")
    text = value.strip()
    as_index = int(text) if text.isdigit() else None
    letter = LETTERS.index(text) if len(text) == 1 and text in LETTERS else None
    if kind == "index":
        if as_index is None:
            raise LmauditError(f"{where}: expected an option index, got {value!r}")
        return _check_range(as_index, options, where)
    if kind in ("auto", "label") and labels is not None and text in labels:
        return list(labels).index(text)
    if kind == "label":
        if letter is not None and letter < len(options):
            return letter
        shown = ", ".join(labels) if labels else f"A-{LETTERS[len(options) - 1]}"
        raise LmauditError(f"{where}: {value!r} is not an option label ({shown})")
    matches = [i for i, option in enumerate(options) if option in (value, text)]
    if kind == "text":
        if not matches:
            raise LmauditError(f"{where}: {value!r} is not among the options {list(options)}")
        return matches[0]
    if matches:
        if as_index is not None and as_index < len(options) and as_index != matches[0]:
            raise LmauditError(
                f"{where}: {value!r} is ambiguous: it is the text of option {matches[0]} and "
                f"also reads as index {as_index}; set target_kind to 'text' or 'index'"
            )
        return matches[0]
    if as_index is not None:
        return _check_range(as_index, options, where)
    if letter is not None and labels is None and letter < len(options):
        return letter
    raise LmauditError(
        f"{where}: {value!r} is neither an index, a label nor one of the options "
        f"{list(options)}"
    )


def _check_range(index: int, options: Sequence[str], where: str) -> int:
    if not 0 <= index < len(options):
        raise LmauditError(f"{where}: index {index} is out of range for {len(options)} options")
    return index
