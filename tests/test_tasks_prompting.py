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


def test_render_template_fields_and_indexing() -> None:
    row = {"q": "Why?", "choices": ["a", "b"]}
    assert render_template("{q} 1) {choices[0]} 2) {choices[1]} {{x}}", row, **SRC) == (
        "Why? 1) a 2) b {x}"
    )
    assert template_fields("{q} {choices[1]} {meta.x}") == ["q", "choices", "meta"]
    with pytest.raises(ValueError):
        template_fields("{q")
    with pytest.raises(ValueError, match="positional"):
        template_fields("{} and {0}")


def test_missing_field_names_source_row_and_field() -> None:
    with pytest.raises(LmauditError) as error:
        render_template("{question}", {"q": 1, "a": 2}, **SRC)
    assert str(error.value) == (
        "t.jsonl: row 5: prompt template needs field 'question' (fields present: q, a)"
    )
    with pytest.raises(LmauditError, match=r"t\.jsonl: row 5: cannot fill prompt template"):
        render_template("{choices[7]}", {"choices": ["a"]}, **SRC)


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
