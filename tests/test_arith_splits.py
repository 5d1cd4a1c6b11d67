"""The arith benchmark data API: splits, documents, prompts, choices, reinstantiation."""

from __future__ import annotations

import re
import time
from fractions import Fraction

import pytest

from lmaudit.core.types import LmauditError
from lmaudit.probes.templates import instantiate, original_instance
from lmaudit.tasks import arith
from lmaudit.tasks.arith import (
    SPLITS,
    ArithItem,
    format_document,
    load_split,
    load_templates,
    make_choices,
    prompt_for,
    reinstantiate,
)

ID = re.compile(r"arith-(train|test|ref)-\d{3}-\d{2}")


def test_split_sizes_and_ids() -> None:
    sizes = {split: len(load_split(split)) for split in SPLITS}
    assert sizes == {"train": 3200, "test": 200, "ref": 200}
    for split in SPLITS:
        items = load_split(split)
        assert all(ID.fullmatch(item.id) and f"-{split}-" in item.id for item in items)
        assert len({item.id for item in items}) == len(items)


def test_no_question_repeats_within_or_across_splits() -> None:
    questions = [item.question for split in SPLITS for item in load_split(split)]
    assert len(questions) == len(set(questions)) == 3600


def test_splits_share_templates_with_disjoint_instances() -> None:
    by_split = {s: {(i.template_id, i.instance) for i in load_split(s)} for s in SPLITS}
    assert not by_split["test"] & by_split["ref"]
    assert not by_split["test"] & by_split["train"]
    assert not by_split["ref"] & by_split["train"]
    template_ids = {t.id for t in load_templates()}
    for split in SPLITS:
        assert {template for template, _ in by_split[split]} == template_ids


def test_test_split_starts_with_every_original() -> None:
    templates = load_templates()
    first = load_split("test", len(templates))
    for number, (item, template) in enumerate(zip(first, templates, strict=True), start=1):
        assert item.id == f"arith-test-{number:03d}-00"
        assert item.instance == 0 and item.template_id == template.id
        assert item.question == original_instance(template).question
        assert item.answer == original_instance(template).answer
    # Known original: template 1 reads "Maya reads 12 pages ... in 5 days?" → 12 * 5.
    assert first[0].answer == "60" and first[0].variables["pages"] == 12


def test_items_are_reproducible_from_template_and_instance() -> None:
    templates = {t.id: t for t in load_templates()}
    for split in SPLITS:
        for item in load_split(split)[::97]:
            again = instantiate(templates[item.template_id], item.instance)
            assert (again.question, again.answer) == (item.question, item.answer)
            assert item.answer.isdigit()


def test_load_split_prefixes_and_errors() -> None:
    assert load_split("train", 50) == load_split("train")[:50]
    assert load_split("ref", 0) == []
    assert len(load_split("test", 10_000)) == 200
    with pytest.raises(LmauditError, match="unknown arith split 'dev'"):
        load_split("dev")
    with pytest.raises(LmauditError, match="non-negative"):
        load_split("test", -1)


def test_generation_is_deterministic_and_fast() -> None:
    before = {split: load_split(split) for split in SPLITS}
    arith._split.cache_clear()
    arith._all_questions.cache_clear()
    started = time.perf_counter()
    after = {split: load_split(split) for split in SPLITS}
    elapsed = time.perf_counter() - started
    assert after == before
    assert [i.variables for i in after["test"]] == [i.variables for i in before["test"]]
    assert elapsed < 5.0  # about 0.5 s for all 3,600 items on one core


def test_document_and_prompt_formats() -> None:
    item = load_split("test", 1)[0]
    assert format_document(item) == f"Question: {item.question}\nAnswer: 60"
    assert prompt_for(item) == f"Question: {item.question}\nAnswer:"
    assert format_document(item).startswith(prompt_for(item))


def test_make_choices() -> None:
    for item in load_split("test")[::7]:
        options, correct = make_choices(item)
        assert len(options) == 4 and len(set(options)) == 4
        assert options[correct] == item.answer
        assert all(int(option) > 0 for option in options)
        assert make_choices(item) == (options, correct)
        six, index = make_choices(item, k=6, seed=3)
        assert len(set(six)) == 6 and six[index] == item.answer
    with pytest.raises(LmauditError, match="k >= 2"):
        make_choices(load_split("test", 1)[0], k=1)


def test_choices_include_off_by_one_step_answers() -> None:
    # Template 1, original: 12 pages a day for 5 days. One step of `days` gives 12 * 4 and
    # 12 * 6, one step of `pages` gives 11 * 5 and 13 * 5; offsets give 59, 61, ...
    item = load_split("test", 1)[0]
    seen = set()
    for seed in range(40):
        options, _ = make_choices(item, k=4, seed=seed)
        seen |= {int(o) for o in options}
    assert {48, 72, 55, 65, 120, 30} <= seen
    assert seen <= {60, 48, 72, 55, 65, 61, 59, 62, 58, 63, 57, 70, 50, 120, 30}
    correct_positions = {make_choices(item, seed=s)[1] for s in range(40)}
    assert correct_positions == {0, 1, 2, 3}


def test_choices_for_worded_fractions() -> None:
    template = next(t for t in load_templates() if t.id == "fractions-giveaway")
    item = next(i for i in load_split("test") if i.template_id == template.id)
    assert item.variables["part"] == "a third" and item.answer == "16"  # 24 - 24 / 3
    # The plain text "a third" is read back as 1/3, so the answer can be recomputed.
    assert arith._answer_with(template, item.variables) == (16, [("n", 1)])
    # One step of n (23 or 25) gives no integer answer, so only offsets, double and half.
    pool = {int(o) for s in range(40) for o in make_choices(item, seed=s)[0]}
    assert pool <= {16, 17, 15, 18, 14, 19, 13, 21, 11, 26, 6, 32, 8}
    assert 16 in pool and len(pool) > 8


def test_reinstantiate_gives_unseen_versions() -> None:
    every_question = {i.question for s in SPLITS for i in load_split(s)}
    fresh = [reinstantiate(item, seed=0) for item in load_split("test")]
    assert len({f.question for f in fresh}) == 200
    for item, new in zip(load_split("test"), fresh, strict=True):
        assert new.template_id == item.template_id and new.id == f"{item.id}-r0"
        assert new.question not in every_question
        assert new.answer.isdigit()
    assert reinstantiate(load_split("test")[3], seed=0) == fresh[3]
    assert reinstantiate(load_split("test")[3], seed=1) != fresh[3]


def test_unknown_template_is_a_user_error() -> None:
    stray = ArithItem("x", "q", "1", "no-such-template", 1, {})
    with pytest.raises(LmauditError, match="unknown template id"):
        reinstantiate(stray, 0)


def test_answers_are_canonical_integers() -> None:
    for item in load_split("train")[::13]:
        assert item.answer == str(int(Fraction(item.answer)))
