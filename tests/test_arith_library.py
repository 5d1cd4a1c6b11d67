"""The arith template library: 40 templates, each with p1 and noop variants, all sound."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from lmaudit.probes.templates import (
    Template,
    failed_conditions,
    instantiate,
    original_instance,
)
from lmaudit.probes.templates.sampler import answer_for, render_question
from lmaudit.tasks.arith import DATA_DIR, load_templates

TOPICS = {"rates", "percentages", "fractions", "money", "time", "counting"}
INSTANCES = 100
VARIANT_INSTANCES = 30


@pytest.fixture(scope="module")
def templates() -> list[Template]:
    return load_templates()


def test_library_size_topics_and_files(templates: list[Template]) -> None:
    assert len(templates) == 40
    assert len({t.id for t in templates}) == 40
    topics = Counter(t.topic for t in templates)
    assert set(topics) == TOPICS and min(topics.values()) >= 6
    files = sorted(p.name for p in DATA_DIR.glob("*.yaml") if p.name != "vocabularies.yaml")
    assert [re.sub(r"^\d\d-", "", f).removesuffix(".yaml") for f in files] == [
        t.id for t in templates
    ]
    assert (DATA_DIR / "README.md").is_file()


def test_every_template_has_p1_and_noop(templates: list[Template]) -> None:
    for template in templates:
        assert set(template.variants) == {"p1", "noop"}, template.id
        p1, noop = template.variants["p1"], template.variants["noop"]
        assert p1.id == f"{template.id}/p1" and noop.id == f"{template.id}/noop"
        assert p1.answer.source != template.answer.source  # its own answer
        assert noop.answer.source == template.answer.source


def _is_positive_integer(text: str) -> bool:
    return text.isdigit() and int(text) > 0


def test_originals_meet_conditions_with_integer_answers(templates: list[Template]) -> None:
    for template in templates:
        for variant in (template, *template.variants.values()):
            original = original_instance(variant)
            assert original.conditions_hold, variant.id
            assert _is_positive_integer(original.answer), (variant.id, original.answer)


def test_seeded_instances_meet_conditions(templates: list[Template]) -> None:
    """100 instances of every template, 30 of every variant."""
    for template in templates:
        for variant in (template, *template.variants.values()):
            questions = set()
            count = INSTANCES if variant is template else VARIANT_INSTANCES
            for index in range(1, count + 1):
                item = instantiate(variant, index)
                assert failed_conditions(variant, item.variables) == [], (variant.id, index)
                assert _is_positive_integer(item.answer), (variant.id, index, item.answer)
                assert "{" not in item.question and "}" not in item.question
                questions.add(item.question)
            assert len(questions) >= 0.9 * count, variant.id  # instances really vary


def test_noop_keeps_answer_and_only_inserts_a_clause(templates: list[Template]) -> None:
    for template in templates:
        noop = template.variants["noop"]
        for index in range(INSTANCES // 4):
            item = instantiate(noop, index)
            base_question = render_question(template, item.variables)
            base_answer = answer_for(template, item.variables)
            assert item.answer == base_answer, (noop.id, index)
            base_sentences = re.split(r"(?<=[.!?])\s+", base_question)
            noop_sentences = re.split(r"(?<=[.!?])\s+", item.question)
            assert len(noop_sentences) > len(base_sentences)
            remaining = iter(noop_sentences)
            assert all(s in remaining for s in base_sentences), (noop.id, index)


def test_p1_changes_the_answer_for_most_instances(templates: list[Template]) -> None:
    for template in templates:
        p1 = template.variants["p1"]
        changed = 0
        for index in range(1, 21):
            item = instantiate(p1, index)
            changed += item.answer != answer_for(template, item.variables)
        assert changed >= 15, p1.id
