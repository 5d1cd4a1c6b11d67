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
from lmaudit.probes.runner import build_probe_samples
from lmaudit.probes.templates.vocabularies import NAMES
from lmaudit.tasks.registry import load_task

GSM8K_TEST = Path(__file__).resolve().parents[1] / ".." / "shared" / "external" / "gsm8k" / \
    "test.jsonl"


def _spaced(text: str) -> str:
    return " ".join(text.split())


def check_variant(sample: Sample, variant: Sample) -> None:
    """Same target, same final (question) sentence right after the clause, and exactly one
    inserted clause with a number about someone the problem does not mention."""
    clause = variant.metadata["clause"]
    assert variant.target == sample.target and variant.choices == sample.choices
    assert re.search(r"\b\d+\b", clause) and str(variant.metadata["clause_number"]) in clause
    assert _spaced(variant.input.replace(clause, "", 1)) == _spaced(sample.input)
    before, after = variant.input.split(clause, 1)
    assert _spaced(sample.input).endswith(_spaced(after))
    assert re.search(r"[.!?]\s*$", before)  # inserted between sentences
    problem = sample.metadata.get("fields", {}).get("question") or sample.input
    subject = subject_of(problem.removeprefix("Question: "))
    mentioned = {n for n in NAMES if re.search(rf"\b{n}\b", clause)}
    assert all(n not in sample.input for n in mentioned - {subject})
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


def test_a_one_sentence_problem_gets_no_clause() -> None:
    assert numeric_noop_variant(Sample("1", "Question: How many?\nAnswer:", "2")) is None
    assert numeric_noop_variant(Sample("2", "Question: Add 2 and 3.\nAnswer:", "5")) is None


def test_a_problem_ending_in_an_instruction_gets_its_clause_before_it() -> None:
    question = "Ana has 3 pens. Bo has 4 pens. Calculate the total."
    sample = Sample("3", f"Question: {question}\nAnswer:", "7",
                    metadata={"fields": {"question": question}})
    variant = numeric_noop_variant(sample)
    assert variant is not None
    clause = variant.metadata["clause"]
    assert variant.input == (
        f"Question: Ana has 3 pens. Bo has 4 pens. {clause} Calculate the total.\nAnswer:"
    )
    check_variant(sample, variant)


@pytest.mark.skipif(not GSM8K_TEST.is_file(), reason=f"GSM8K absent: {GSM8K_TEST}")
def test_every_gsm8k_item_keeps_its_answer() -> None:
    samples = load_task("gsm8k", {"data": str(GSM8K_TEST)}).samples()
    variants = [(s, numeric_noop_variant(s)) for s in samples]
    made = [(s, v) for s, v in variants if v is not None]
    for sample, variant in made:
        check_variant(sample, variant)
    # 16 items are one sentence ("If Ann is 9 years old and ..., how old ...?"); 59 end in
    # an instruction ("... calculate Allen's age 10 years from now.") and still get one
    assert len(made) == 1303
    assert sum(subject_of(s.metadata["fields"]["question"]) is not None for s, _ in made) == 904
