"""lmaudit's YAML template format and `load_template_dir` (both formats, failures listed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lmaudit.core.types import LmauditError
from lmaudit.probes.templates import (
    ExpressionRefused,
    TemplateError,
    instantiate,
    load_template_dir,
    original_instance,
    parse_lmaudit_template,
)
from lmaudit.probes.templates.format import insert_clause

SHELF = """
id: shelf-books
topic: counting
question: "{name} puts {per} books on each of {shelves} shelves. How many books is that?"
variables:
  name: {vocab: names}
  per: {int: [4, 20, 2]}
  shelves: {int: [2, 6]}
  total: {expr: "per * shelves"}
conditions: ["total < 100"]
answer: "total"
original: {name: Maya, per: 10, shelves: 3}
variants:
  p1:
    question: "{name} puts {per} books on each of {shelves} shelves and {part} of them
      are lent out. How many books are left?"
    variables: {part: {words: [half, a quarter]}}
    conditions: ["is_int(total * part)"]
    answer: "total - total * part"
    original: {part: half}
  noop:
    clause: "The shelves are made of {wood}."
    variables: {wood: {choices: [oak, pine]}}
    original: {wood: oak}
"""


def parse(text: str, **changes: object) -> object:
    data = yaml.safe_load(text)
    data.update(changes)
    return parse_lmaudit_template(data, "shelf.yaml")


def test_base_template_and_original() -> None:
    template = parse(SHELF)
    original = original_instance(template)  # type: ignore[arg-type]
    assert original.question == "Maya puts 10 books on each of 3 shelves. How many books is that?"
    assert original.answer == "30" and original.conditions_hold
    assert template.topic == "counting"  # type: ignore[attr-defined]


def test_int_domains_are_inclusive_with_step() -> None:
    template = parse(SHELF)
    seen_per, seen_shelves = set(), set()
    for i in range(1, 300):
        item = instantiate(template, i)  # type: ignore[arg-type]
        seen_per.add(item.variables["per"])
        seen_shelves.add(item.variables["shelves"])
        assert item.variables["total"] == item.variables["per"] * item.variables["shelves"] < 100
    assert seen_per == {4, 6, 8, 10, 12, 14, 16, 18, 20}  # both ends included, step 2
    assert seen_shelves == {2, 3, 4, 5, 6}


def test_p1_variant_adds_a_step() -> None:
    p1 = parse(SHELF).variants["p1"]  # type: ignore[attr-defined]
    assert p1.id == "shelf-books/p1"
    original = original_instance(p1)
    assert original.question.endswith("and half of them are lent out. How many books are left?")
    assert original.answer == "15"
    for i in range(1, 50):
        item = instantiate(p1, i)
        total, part = item.variables["total"], item.variables["part"]
        assert int(item.answer) == total - total * part.value


def test_noop_variant_inserts_a_clause_and_keeps_the_answer() -> None:
    template = parse(SHELF)
    noop = template.variants["noop"]  # type: ignore[attr-defined]
    original = original_instance(noop)
    assert original.question == (
        "Maya puts 10 books on each of 3 shelves. The shelves are made of oak. "
        "How many books is that?"
    )
    assert original.answer == original_instance(template).answer  # type: ignore[arg-type]


def test_insert_clause_positions() -> None:
    question = "One. Two! Three? Four?"
    assert insert_clause(question, "X.", "before_question") == "One. Two! Three? X. Four?"
    assert insert_clause(question, "X.", "after_first") == "One. X. Two! Three? Four?"
    with pytest.raises(TemplateError, match="one-sentence"):
        insert_clause("Only one?", "X.", "before_question")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"original": {"name": "Maya", "per": 10}}, "no original for ['shelves']"),
        ({"colour": "red"}, "unknown field(s) 'colour'"),
        ({"variables": {"per": {"int": [5]}}}, "int needs [low, high]"),
        ({"variables": {"per": {"int": [1, 5], "vocab": "names"}}}, "exactly one of"),
        ({"question": "{nobody} reads. Why?"}, "slot {nobody} is not a variable"),
        ({"answer": "total.__class__"}, "attribute access"),
        ({"answer": "open('x')"}, "call of 'open'"),
        ({"id": "bad id!"}, "may hold only"),
        ({"variants": {"p2": {}}}, "may hold only 'p1' and 'noop'"),
        ({"variables": {"part": {"words": ["many"]}}}, "not a number phrase"),
    ],
)
def test_errors_name_the_file_and_field(changes: dict[str, object], message: str) -> None:
    with pytest.raises(LmauditError) as caught:
        parse(SHELF, **changes)
    assert "shelf.yaml" in str(caught.value)
    assert message in str(caught.value)


def test_unsafe_expressions_are_refused() -> None:
    with pytest.raises(ExpressionRefused):
        parse(SHELF, conditions=["__import__('os').system('true')"])


GSM_RECORD = {
    "question": "Ana has 4 cats. How many?",
    "answer": "#### 4",
    "question_annotated": "{name,Ana} has {x,4} {pet,cat}s. How many?\n#init:\n"
    "- name = sample(names)\n- pet = sample(pets)\n- $x = range(2, 9)\n#answer: x",
}


def test_load_template_dir_reads_both_formats_and_lists_failures(tmp_path: Path) -> None:
    (tmp_path / "a-shelf.yaml").write_text(SHELF)
    (tmp_path / "symbolic").mkdir()
    (tmp_path / "symbolic" / "0001.json").write_text(json.dumps(GSM_RECORD))
    (tmp_path / "b-broken.yaml").write_text("id: [unclosed")
    (tmp_path / "c-copy.yaml").write_text(SHELF)
    (tmp_path / "d-unsafe.json").write_text(
        json.dumps(dict(GSM_RECORD, question_annotated="{x,1}\n#init:\n- $x = ().__class__\n"
                        "#answer: x"))
    )
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "vocabularies.yaml").write_text("pets: [hamster, gecko]\n")
    templates, failures = load_template_dir(tmp_path)
    assert [t.id for t in templates] == ["shelf-books", "gsm-symbolic/symbolic/0001"]
    reasons = {Path(path).name: reason for path, reason in failures}
    assert set(reasons) == {"b-broken.yaml", "c-copy.yaml", "d-unsafe.json"}
    assert "cannot read YAML" in reasons["b-broken.yaml"]
    assert "duplicate template id 'shelf-books'" in reasons["c-copy.yaml"]
    assert "attribute access" in reasons["d-unsafe.json"]
    pets = {instantiate(templates[1], i).variables["pet"] for i in range(1, 40)}
    assert pets == {"hamster", "gecko"}  # the directory's vocabulary replaces the built-in


def test_load_template_dir_needs_a_directory(tmp_path: Path) -> None:
    with pytest.raises(LmauditError, match="not a directory"):
        load_template_dir(tmp_path / "missing")
