"""Prompt templates, option lists and target resolution."""

from __future__ import annotations

import pytest

from lmaudit.core.types import LmauditError
from lmaudit.tasks.prompting import (
    render_template,
    resolve_choices,
    resolve_target_index,
    template_fields,
)

SRC = {"source": "t.jsonl", "row_index": 5}


def test_render_template_fields() -> None:
    row = {"q": "Why?", "a": "x", "n": 3.14159}
    assert render_template("{q} 1) {a} 2) {n:.2f} {{x}} {a:>3}", row, **SRC) == (
        "Why? 1) x 2) 3.14 {x}   x"
    )
    assert template_fields("{q} {a} {q:>5}") == ["q", "a"]
    with pytest.raises(ValueError):
        template_fields("{q")
    with pytest.raises(ValueError, match="positional"):
        template_fields("{} and {0}")


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{question.__class__}", "field {question.__class__}: attribute and index access are "
         "not allowed; use a plain field name"),
        ("{question[0]}", "field {question[0]}: attribute and index access are not allowed; "
         "use a plain field name"),
        ("{question:>999999999}", "field {question:>999999999}: width or precision above 1000"),
        ("{question:.5000f}", "field {question:.5000f}: width or precision above 1000"),
        ("{question!r}", "field {question!r}: conversions (!r, !s, !a) are not allowed"),
        ("{question:{w}}", "field {question:{w}}: nested fields in a format spec are not allowed"),
        ("{q:" + "<" * 30 + "}", "format spec longer than 20 characters"),
    ],
)
def test_disallowed_templates_are_rejected_with_the_reason(template: str, reason: str) -> None:
    with pytest.raises(ValueError) as error:
        template_fields(template)
    assert reason in str(error.value)
    with pytest.raises(LmauditError) as rendered:
        render_template(template, {"question": "Why?", "q": "x", "w": 3}, **SRC)
    assert str(rendered.value).startswith(f"t.jsonl: prompt template {template!r}: ")


def test_missing_field_names_source_row_and_field() -> None:
    with pytest.raises(LmauditError) as error:
        render_template("{question}", {"q": 1, "a": 2}, **SRC)
    assert str(error.value) == (
        "t.jsonl: row 5: prompt template needs field 'question' (fields present: q, a)"
    )
    with pytest.raises(LmauditError, match=r"t\.jsonl: row 5: cannot fill prompt template"):
        render_template("{q:.2f}", {"q": "text"}, **SRC)


@pytest.mark.parametrize("null", [None, float("nan")])
def test_null_field_is_an_error_never_the_text_none(null: object) -> None:
    with pytest.raises(LmauditError) as error:
        render_template("Q: {question}", {"question": null}, **SRC, key="target")
    assert str(error.value) == (
        "t.jsonl: row 5: target template needs field 'question', which is null"
    )
    with pytest.raises(LmauditError, match=r"^t\.jsonl: row 5: choices: option 1 is null$"):
        resolve_choices(["a", null, "c"], **SRC)
    with pytest.raises(LmauditError, match=r"row 5: choices: label: option 0 is null$"):
        resolve_choices({"text": ["a", "b"], "label": [null, "B"]}, **SRC)


def test_choices_json_too_deep_or_huge_is_one_clear_error() -> None:
    with pytest.raises(LmauditError, match=r"row 5: choices: JSON nested too deeply to read"):
        resolve_choices("[" * 100_000 + "]" * 100_000, **SRC)
    with pytest.raises(LmauditError, match=r"row 5: choices: unreadable JSON value \(Exceeds"):
        resolve_choices("[" + "9" * 5000 + ", 1]", **SRC)


def test_choices_forms() -> None:
    assert resolve_choices(["a", "b"], **SRC) == (("a", "b"), None)
    assert resolve_choices('["a", "b", 3]', **SRC) == (("a", "b", "3"), None)
    arc = {"text": ["red", "blue"], "label": ["A", "B"]}
    assert resolve_choices(arc, **SRC) == (("red", "blue"), ("A", "B"))
    with pytest.raises(LmauditError, match="row 5: choices: needs at least 2"):
        resolve_choices(["only"], **SRC)
    with pytest.raises(LmauditError, match="row 5: choices: expected a list"):
        resolve_choices(7, **SRC)


def test_target_as_index_text_label_or_letter() -> None:
    options, labels = ("red", "blue", "green"), ("1", "2", "3")
    assert resolve_target_index(2, options, **SRC) == 2
    assert resolve_target_index("1", options, **SRC) == 1
    assert resolve_target_index("blue", options, **SRC) == 1
    assert resolve_target_index("C", options, **SRC) == 2  # unlabelled: letter by position
    # Labelled ("1", "2", "3", as some ARC rows): the label wins over the digit index.
    assert resolve_target_index("1", options, labels, **SRC) == 0
    assert resolve_target_index("B", options, None, kind="label", **SRC) == 1
    with pytest.raises(LmauditError, match="row 5: target: 'purple' is neither"):
        resolve_target_index("purple", options, **SRC)
    with pytest.raises(LmauditError, match="index 3 is out of range for 3 options"):
        resolve_target_index(3, options, **SRC)
    with pytest.raises(LmauditError, match="not among the options"):
        resolve_target_index("1", options, kind="text", **SRC)


def test_numeric_option_text_that_is_also_another_index_is_ambiguous() -> None:
    options = ("4", "0", "1", "2")
    with pytest.raises(LmauditError, match=r"'1' is ambiguous.*target_kind"):
        resolve_target_index("1", options, **SRC)
    assert resolve_target_index("1", options, kind="index", **SRC) == 1
    assert resolve_target_index("1", options, kind="text", **SRC) == 2
    assert resolve_target_index(1, options, **SRC) == 1  # an int is always an index
