"""The numeric no-op family (our GSM-NoOp): a seemingly relevant clause with a number,
inserted before the question sentence, the answer unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lmaudit.core.types import Sample
from lmaudit.probes.noop_numeric import (
    GENERAL_CLAUSES,
    SUBJECT_CLAUSES,
    clause_for,
    numeric_noop_variant,
    subject_of,
)
from lmaudit.probes.perturb import split_prompt
from lmaudit.probes.runner import build_probe_samples
from lmaudit.probes.templates.vocabularies import NAMES
from lmaudit.tasks.registry import load_task

GSM8K_TEST = Path(__file__).resolve().parents[1] / ".." / "shared" / "external" / "gsm8k" / \
    "test.jsonl"


def check_variant(sample: Sample, variant: Sample) -> None:
    """Same target, same question sentence, and exactly one inserted clause with a number
    about someone the problem does not mention."""
    clause = variant.metadata["clause"]
    assert variant.target == sample.target and variant.choices == sample.choices
    assert re.search(r"\b\d+\b", clause) and str(variant.metadata["clause_number"]) in clause
    original, perturbed = split_prompt(sample.input), split_prompt(variant.input)
    assert original is not None and perturbed is not None
    assert perturbed.question == original.question
    assert perturbed.context == (*original.context, clause)
    assert variant.input.replace(" " + clause, "", 1) == original.text()
    strangers = [n for n in NAMES if n in clause and n not in sample.input]
    subject = subject_of(" ".join(original.context))
    assert all(n not in sample.input for n in strangers)
    assert {n for n in NAMES if n in clause} <= {*strangers, subject}
    assert variant.metadata["variant"] == "noop_numeric"
    assert variant.metadata["original_id"] == sample.id


def test_subject_is_the_name_that_starts_the_problem() -> None:
    assert subject_of("Janet’s ducks lay 16 eggs per day.") == "Janet"
    assert subject_of("Marissa is hiking a 12-mile trail.") == "Marissa"
    assert subject_of("The store sells 4 apples.") is None
    assert subject_of("If Tom has 3 pens") is None
    assert subject_of("3 cats sleep.") is None


def test_clause_is_seeded_and_carries_a_number() -> None:
    text = "Janet has 16 eggs. She eats 3. How many are left?"
    first = clause_for(text, "item-1")
    assert clause_for(text, "item-1") == first
    clause, number = first
    assert str(number) in clause and 2 <= number <= 40
    assert any(clause == c.format(subject="Janet", other=o, n=number)
               for c in SUBJECT_CLAUSES + GENERAL_CLAUSES for o in NAMES)
    # without a leading name only the general clauses (no subject) are used
    for key in range(30):
        clause, number = clause_for("The shop has 16 eggs. How many?", str(key))
        assert any(clause == c.format(other=o, n=number) for c in GENERAL_CLAUSES for o in NAMES)


def test_arith_items_keep_their_answers() -> None:
    samples = load_task("arith", {}).samples()[:200]
    made = 0
    for sample in samples:
        variant = numeric_noop_variant(sample)
        if variant is not None:
            check_variant(sample, variant)
            made += 1
    assert made == 200


def test_the_family_joins_a_probe_run() -> None:
    samples = load_task("arith", {}).samples()[:5]
    built, skipped = build_probe_samples(samples, ["noop_numeric"])
    assert skipped == {"noop_numeric": 0}
    assert [s.id for s in built[5:]] == [f"{s.id}~noop_numeric0" for s in samples]


def test_a_prompt_without_context_gets_no_clause() -> None:
    assert numeric_noop_variant(Sample("1", "Question: How many?\nAnswer:", "2")) is None


@pytest.mark.skipif(not GSM8K_TEST.is_file(), reason=f"GSM8K absent: {GSM8K_TEST}")
def test_every_gsm8k_item_keeps_its_answer() -> None:
    samples = load_task("gsm8k", {"data": str(GSM8K_TEST)}).samples()
    variants = [(s, numeric_noop_variant(s)) for s in samples]
    made = [(s, v) for s, v in variants if v is not None]
    for sample, variant in made:
        check_variant(sample, variant)
    # 75 items end with an instruction ("calculate Allen's age ...") instead of a "?"
    assert len(made) == 1244
    starts = [split_prompt(s.input) for s, _ in made]
    assert sum(p is not None and subject_of(p.context[0]) is not None for p in starts) == 869
