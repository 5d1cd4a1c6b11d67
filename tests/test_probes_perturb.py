"""Perturbations keep the answer and the link to the original (hand-checked examples)."""

from __future__ import annotations

import pytest

from lmaudit.core.types import LmauditError, Sample
from lmaudit.probes import perturb, templated
from lmaudit.probes.runner import build_probe_samples

WORD = Sample(
    "w1",
    "Question: Ann has 3 apples. Ben gives her 4 more. Then she eats 2. "
    "How many apples does Ann have now?\nAnswer:",
    "5",
    metadata={"cluster": "apples"},
)
MMLU_LIKE = Sample(
    "m1",
    "What is 2 + 2?\nA. three\nB. four\nC. five\nD. six\nAnswer:",
    1,
    choices=("A", "B", "C", "D"),
)
OPTIONS = Sample("o1", "Question: What is 2 + 2?\nAnswer:", 2, choices=("3", "5", "4", "6"))


def test_split_prompt_finds_question_sentence_and_context() -> None:
    parts = perturb.split_prompt(WORD.input)
    assert parts is not None
    assert parts.head == "Question: "
    assert parts.context == ("Ann has 3 apples.", "Ben gives her 4 more.", "Then she eats 2.")
    assert parts.question == "How many apples does Ann have now?"
    assert parts.tail == "\nAnswer:"
    assert parts.text() == WORD.input
    assert perturb.split_prompt("no question here.") is None


def test_irrelevant_clause_goes_just_before_the_question() -> None:
    variant = perturb.irrelevant_clause(WORD, 0, seed=0)
    assert variant is not None
    parts = perturb.split_prompt(variant.input)
    assert parts is not None
    assert parts.context[:3] == ("Ann has 3 apples.", "Ben gives her 4 more.", "Then she eats 2.")
    assert parts.context[3] in perturb.NEUTRAL_SENTENCES
    assert parts.question == "How many apples does Ann have now?"
    assert variant.target == "5"
    assert variant.metadata["original_id"] == "w1"
    assert variant.metadata["variant"] == "noop"
    assert variant.metadata["cluster"] == "apples"
    assert variant.id == "w1~noop0"


def test_reorder_shuffles_context_keeps_question_last_and_flags_meaning() -> None:
    variant = perturb.reorder_sentences(WORD, 0, seed=3)
    assert variant is not None
    parts = perturb.split_prompt(variant.input)
    assert parts is not None
    assert parts.question == "How many apples does Ann have now?"
    original = ("Ann has 3 apples.", "Ben gives her 4 more.", "Then she eats 2.")
    assert sorted(parts.context) == sorted(original)
    assert parts.context != original  # never the identity
    assert variant.metadata["meaning_may_change"] is True
    assert [original[i] for i in variant.metadata["sentence_order"]] == list(parts.context)
    one_sentence = Sample("s", "Question: Ann has 3. How many?\nAnswer:", "3")
    assert perturb.reorder_sentences(one_sentence) is None


def test_rotations_of_option_texts_follow_the_target() -> None:
    # choices ('3','5','4','6'), target 2 ('4'); rotation by 1 → ('5','4','6','3'), target 1
    r1 = perturb.rotate_options(OPTIONS, 1)
    assert r1 is not None and r1.choices == ("5", "4", "6", "3") and r1.target == 1
    assert r1.metadata["target_position"] == 1
    targets = []
    for shift in range(4):
        r = perturb.rotate_options(OPTIONS, shift)
        assert r is not None and r.choices is not None
        assert r.choices[int(r.target)] == "4"
        targets.append(r.target)
    assert sorted(targets) == [0, 1, 2, 3]  # the answer visits every position


def test_rotation_of_listed_options_rewrites_the_prompt() -> None:
    r = perturb.rotate_options(MMLU_LIKE, 1)
    assert r is not None
    assert r.input == "What is 2 + 2?\nA. four\nB. five\nC. six\nD. three\nAnswer:"
    assert r.choices == ("A", "B", "C", "D") and r.target == 0


def test_relabel_listed_options() -> None:
    r = perturb.relabel_options(MMLU_LIKE, 0)
    assert r is not None
    assert r.input == "What is 2 + 2?\nW. three\nX. four\nY. five\nZ. six\nAnswer:"
    assert r.choices == ("W", "X", "Y", "Z") and r.target == 1
    r1 = perturb.relabel_options(MMLU_LIKE, 1)
    assert r1 is not None and r1.choices == ("1", "2", "3", "4")
    assert perturb.relabel_options(OPTIONS, 0) is None  # options not listed in the prompt


def test_symbolic_variant_of_arith_item_is_a_fresh_instance() -> None:
    from lmaudit.tasks import arith
    from lmaudit.tasks.registry import load_task

    sample = load_task("arith", {}).samples()[0]
    item = arith.load_split("test", 1)[0]
    v = templated.symbolic_variant(sample, 2)
    fresh = arith.reinstantiate(item, 2)
    assert v is not None
    assert v.input == arith.prompt_for(fresh) and v.target == fresh.answer
    assert v.metadata["cluster"] == item.template_id == "rates-reading"
    assert v.metadata["variant_set"] == 2 and v.metadata["original_id"] == sample.id
    # rates-reading: answer = pages * days, checked from the rendered numbers
    assert fresh.answer == str(fresh.variables["pages"] * fresh.variables["days"])
    assert templated.symbolic_variant(WORD, 0) is None


def test_template_noop_keeps_values_and_answer() -> None:
    from lmaudit.tasks.registry import load_task

    sample = load_task("arith", {}).samples()[0]
    v = templated.template_noop_variant(sample)
    assert v is not None
    assert v.input == (
        "Question: Maya reads 12 pages of a novel every day. The novel has a green cover and "
        "a map on its first page. How many pages does Maya read in 5 days?\nAnswer:"
    )
    assert v.target == sample.target == "60"


def test_build_probe_samples_links_everything_and_rejects_inapplicable() -> None:
    samples, skipped = build_probe_samples([WORD, OPTIONS], ["noop", "permute"], n_sets=3)
    ids = [s.id for s in samples]
    assert ids[:2] == ["w1", "o1"]
    assert [s.metadata["variant"] for s in samples[:2]] == ["original", "original"]
    assert len(ids) == len(set(ids))
    assert skipped == {"noop": 0, "permute": 1}  # WORD is not multiple choice
    permuted = [s for s in samples if s.metadata["variant"] == "permute"]
    assert [s.metadata["variant_set"] for s in permuted] == [1, 2, 3]
    with pytest.raises(LmauditError, match="symbolic"):
        build_probe_samples([WORD], ["symbolic"])
