"""gpqa_* and mmlu_pro: option shuffling, prompts, answer-letter extraction, references."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from lmaudit.core.runner import evaluate
from lmaudit.core.types import GenerateRequest
from lmaudit.scoring import get_scorer
from lmaudit.scoring.choice_letters import (
    extract_answer_colon,
    extract_answer_is,
    extract_answer_is_strict,
)
from lmaudit.tasks.gpqa import shuffled_options
from lmaudit.tasks.registry import load_task
from seed_fakes import ScriptedBackend, write_jsonl


def _gpqa_rows(n: int) -> list[dict[str, str]]:
    return [
        {"Question": f"Question number {i}?", "Correct Answer": f"right {i}",
         "Incorrect Answer 1": f"wrong a{i}", "Incorrect Answer 2": f"wrong b{i}",
         "Incorrect Answer 3": f"wrong c{i}", "Record ID": f"rec{i:03d}",
         "High-level domain": "Physics"}
        for i in range(n)
    ]


def test_gpqa_correct_option_positions_are_spread_and_recorded(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "gpqa.jsonl", _gpqa_rows(80))
    task = load_task("gpqa_diamond", {"data": str(data)})
    samples = task.samples()
    positions = Counter(str(s.target) for s in samples)
    assert set(positions) == set("ABCD")
    assert max(positions.values()) < 0.45 * len(samples)  # nowhere near a fixed place
    first = samples[0]
    fields = first.metadata["fields"]
    assert fields["shuffle_seed"] == "0/rec000"
    shown = "ABCD".index(str(first.target))
    assert fields["permutation"][shown] == 0
    assert f"{first.target}) right 0" in first.input
    # the same item gets the same order whatever the rows around it
    alone = load_task("gpqa_diamond", {"data": str(write_jsonl(tmp_path / "one.jsonl",
                                                                _gpqa_rows(80)[5:6]))})
    assert alone.samples()[0].input == samples[5].input
    other = load_task("gpqa_diamond", {"data": str(data), "shuffle_seed": "1"})
    assert [s.input for s in other.samples()] != [s.input for s in samples]


def test_shuffled_options_is_a_permutation() -> None:
    options, permutation, correct = shuffled_options("c", ["x", "y", "z"], seed="0/a")
    assert sorted(options) == ["c", "x", "y", "z"] and options[correct] == "c"
    assert sorted(permutation) == [0, 1, 2, 3]


def test_gpqa_scores_answer_lines_and_carries_references(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "gpqa.jsonl", _gpqa_rows(4))
    task = load_task("gpqa_diamond", {"data": str(data)})
    samples = task.samples()
    by_prompt = {s.input: str(s.target) for s in samples}

    def reply(request: GenerateRequest) -> str:
        letter = by_prompt[request.prompt or ""]
        return f"<think>Answer: Z? no</think>Reasoning...\nAnswer: {letter}"

    records = evaluate(task, ScriptedBackend(reply), samples, show_progress=False)
    assert all(r.metrics["acc"] == 1.0 for r in records)
    refs = task.references()  # type: ignore[attr-defined]
    assert refs["chance"] == 0.25 and refs["human"]["expert"] == 0.65
    assert refs["human"]["non_expert"] == 0.34 and set(refs) == {"chance", "human"}
    notes = task.notes()  # type: ignore[attr-defined]
    assert "arXiv:2311.12022" in notes[0] and "4 questions" in notes[1]
    assert len(load_task("gpqa_main", {"data": str(data)}).notes()) == 1  # type: ignore[attr-defined]


def test_simple_evals_letter_rule() -> None:
    assert extract_answer_colon("blah\nAnswer: C") == "C"
    assert extract_answer_colon("answer : $B$ and later Answer: D") == "B"  # first match
    assert extract_answer_colon("The answer is C") is None
    scorer = get_scorer("gpqa_letter")
    outcome = scorer("I pick (c).\nanswer is (c)", "C")
    assert outcome.metrics == {"acc": 0.0, "acc_flexible": 1.0, "extract_fail": 1.0,
                               "extract_fail_flexible": 0.0}


def test_mmlu_pro_letter_cascade() -> None:
    assert extract_answer_is("so the answer is (J).") == "J"
    assert extract_answer_is("The answer is H") == "H"
    assert extract_answer_is("Step\nAnswer: C then Answer: D\nAnswer: E") == "D"
    assert extract_answer_is("I would go with E, not F.") == "F"  # last standalone letter
    assert extract_answer_is("no letters here") is None
    assert extract_answer_is_strict("Answer: C") is None
    outcome = get_scorer("mmlu_pro_letter")("Answer: C", "C")
    assert outcome.correct and outcome.metrics["acc_strict"] == 0.0


MMLU_PRO_VALIDATION = [
    {"question_id": k, "question": f"Example {k} about money?", "options": ["x", "y", "z"],
     "answer": "B", "answer_index": 1, "category": "business", "src": "ori_mmlu",
     "cot_content": f"A: Let's think step by step. Reason {k}. The answer is (B)."}
    for k in range(6)
] + [{"question_id": 9, "question": "Law example?", "options": ["p", "q"], "answer": "A",
      "answer_index": 0, "category": "law", "src": "s",
      "cot_content": "A: Let's think step by step. Law. The answer is (A)."}]
MMLU_PRO_TEST = [
    {"question_id": 70, "question": "What is revenue?", "answer": "C", "answer_index": 2,
     "options": [f"opt{i}" for i in range(10)] + ["N/A"], "category": "business",
     "src": "stemez",
     "cot_content": ""},
    {"question_id": 71, "question": "What is a tort?", "answer": "A", "answer_index": 0,
     "options": ["wrong", "civil wrong"], "category": "law", "src": "s", "cot_content": ""},
]


def test_mmlu_pro_five_shot_layout_and_scoring(tmp_path: Path) -> None:
    directory = tmp_path / "mmlu_pro"
    directory.mkdir()
    write_jsonl(directory / "test.jsonl", MMLU_PRO_TEST)
    write_jsonl(directory / "validation.jsonl", MMLU_PRO_VALIDATION)
    task = load_task("mmlu_pro", {"data": str(directory), "fewshot": "1"})
    samples = task.samples()
    assert [s.target for s in samples] == ["C", "A"] and samples[0].cluster == "business"
    request = task.requests(samples[0])[0]
    assert isinstance(request, GenerateRequest) and request.prompt is not None
    prompt = request.prompt
    assert prompt.startswith("The following are multiple choice questions (with answers) "
                             "about business.")
    assert 'with "the answer is (X)" where X is the correct letter choice.\nQuestion:\n' in prompt
    assert request.params.stop == ("Question:",)
    assert ("Question:\nExample 0 about money?\nOptions:\nA. x\nB. y\nC. z\n"
            "Answer: Let's think step by step. Reason 0. The answer is (B).\n\n") in prompt
    assert prompt.endswith("J. opt9\nAnswer: Let's think step by step.")
    assert "Law example" not in prompt  # examples come from the same category
    five = load_task("mmlu_pro", {"data": str(directory)})
    assert five.requests(five.samples()[0])[0].prompt.count("Question:") == 6  # type: ignore[union-attr]
    records = evaluate(task, ScriptedBackend(lambda r: "Thus the answer is (C)."), samples,
                       show_progress=False)
    assert [r.metrics["acc"] for r in records] == [1.0, 0.0]
    assert task.references()["chance"] == 0.1  # type: ignore[attr-defined]


def test_mmlu_pro_local_file_needs_a_fewshot_pool(tmp_path: Path) -> None:
    from lmaudit.core.types import LmauditError

    data = write_jsonl(tmp_path / "t.jsonl", MMLU_PRO_TEST)
    with pytest.raises(LmauditError, match="fewshot"):
        load_task("mmlu_pro", {"data": str(data)})
    zero = load_task("mmlu_pro", {"data": str(data), "fewshot": "0", "category": "law"})
    assert [s.id for s in zero.samples()] == ["71"]
