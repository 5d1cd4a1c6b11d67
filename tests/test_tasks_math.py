"""math, math500, aime24, aime25: loading each dataset's shape, prompts, multi-sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmaudit.core.aggregate import aggregate_records
from lmaudit.core.runner import evaluate
from lmaudit.core.types import GenerateRequest, LmauditError
from lmaudit.tasks.registry import load_task
from seed_fakes import ScriptedBackend, write_jsonl

HENDRYCKS = [
    {"problem": "What is $\\frac{1}{2}+\\frac{1}{4}$?", "level": "Level 1", "type": "Algebra",
     "solution": "We add: $\\frac{2}{4}+\\frac{1}{4}=\\boxed{\\frac{3}{4}}$."},
    {"problem": "Solve $x^2=4$.", "level": "Level 2", "type": "Algebra",
     "solution": "So $x=\\boxed{-2, 2}$."},
    {"problem": "How many ways to pick 2 of 4?", "level": "Level 2",
     "type": "Counting & Probability", "solution": "$\\binom42=\\boxed{6}$"},
]
MATH500 = [
    {"problem": "Convert $(0,3)$ to polar.", "solution": "... $\\boxed{(3,\\frac{\\pi}{2})}$",
     "answer": "\\left( 3, \\frac{\\pi}{2} \\right)", "subject": "Precalculus", "level": 2,
     "unique_id": "test/precalculus/807.json"},
    {"problem": "Simplify $\\sqrt{8}$.", "solution": "$2\\sqrt2$", "answer": "2\\sqrt{2}",
     "subject": "Algebra", "level": 1, "unique_id": "test/algebra/1.json"},
]
AIME24_H4 = [{"id": 60, "problem": "Find 2*102.", "solution": "204", "answer": "204",
              "url": "https://aops", "year": "2024"}]
AIME24_MAXWELL = [{"ID": "2024-I-1", "Problem": "Find 3*7.", "Solution": "21", "Answer": 21}]
AIME25_OPENCOMPASS = [{"question": "Find 5+5.", "answer": "10"},
                      {"question": "Find 6+6.", "answer": "12"}]


def _solve(request: GenerateRequest) -> str:
    prompt = request.prompt or request.messages[-1].content  # type: ignore[index]
    answers = {"frac{1}{2}": "<think>add them</think>The sum is $\\boxed{0.75}$.",
               "x^2=4": "Final Answer: The final answer is $2, -2$. I hope it is correct.",
               "pick 2": "I think \\boxed{5}", "polar": "\\boxed{(3, \\pi/2)}",
               "sqrt{8}": "<think>hmm, never closed", "2*102": "\\boxed{204}",
               "3*7": "\\boxed{21}"}
    return next((v for k, v in answers.items() if k in prompt), "no idea")


def test_math_reads_hendrycks_rows_and_grades_equivalence(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "math.jsonl", HENDRYCKS)
    task = load_task("math", {"data": str(data)})
    samples = task.samples()
    assert [s.id for s in samples] == ["algebra/0", "algebra/1", "counting_and_probability/0"]
    assert samples[0].target == "\\frac{3}{4}"
    assert "within \\boxed{}" in samples[0].input
    records = evaluate(task, ScriptedBackend(_solve), samples, show_progress=False)
    assert [r.metrics["acc_flexible"] for r in records] == [1.0, 1.0, 0.0]
    assert [r.metrics["acc_strict"] for r in records] == [1.0, 0.0, 0.0]
    assert records[0].extra["thinking"][0]["thinking_words"] == 2
    metrics = aggregate_records(task.metrics, records)
    assert metrics["extract_fail_strict"].value == pytest.approx(1 / 3)
    one = load_task("math", {"data": str(data), "subject": "counting_and_probability"})
    assert [s.id for s in one.samples()] == ["counting_and_probability/0"]


def test_math500_uses_the_answer_field_and_unique_ids(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "m500.jsonl", MATH500)
    task = load_task("math500", {"data": str(data)})
    samples = task.samples()
    assert samples[0].id == "test/precalculus/807.json"
    records = evaluate(task, ScriptedBackend(_solve), samples, show_progress=False)
    assert records[0].metrics["acc_flexible"] == 1.0
    # an unclosed <think> leaves no answer: an extraction failure, counted as unclosed
    assert records[1].metrics["extract_fail_flexible"] == 1.0
    assert records[1].metrics["thinking_unclosed"] == 1.0


@pytest.mark.parametrize(("name", "rows"), [("aime24", AIME24_H4), ("aime24", AIME24_MAXWELL),
                                            ("aime25", AIME25_OPENCOMPASS)])
def test_aime_shapes_notes_and_references(tmp_path: Path, name: str, rows: list) -> None:
    data = write_jsonl(tmp_path / "aime.jsonl", rows)
    task = load_task(name, {"data": str(data)})
    assert len(task.samples()) == len(rows)
    assert "problems" in task.notes()[0] and str(len(rows)) in task.notes()[0]  # type: ignore[attr-defined]
    assert task.references()["chance"] == pytest.approx(0.001)  # type: ignore[attr-defined]
    assert task.spec()["notes"]


def test_several_samples_per_problem_average_and_pass_at_k(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "aime.jsonl", AIME24_H4)
    task = load_task("aime24", {"data": str(data), "samples": "4", "seed": "7"})
    sample = task.samples()[0]
    requests = task.requests(sample)
    assert [r.params.seed for r in requests] == [7, 8, 9, 10]  # type: ignore[union-attr]
    assert all(r.params.temperature == 0.6 for r in requests)  # type: ignore[union-attr]
    replies = iter(["\\boxed{204}", "\\boxed{205}", "\\boxed{204}", "nothing"])
    records = evaluate(task, ScriptedBackend(lambda r: next(replies)), [sample],
                       show_progress=False)
    assert records[0].metrics["acc_flexible"] == 0.5
    assert records[0].metrics["pass_at_k"] == 1.0
    assert records[0].extra["answers_correct"] == [True, False, True, False]


def test_multiturn_fewshot_sends_chat_turns(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "math.jsonl", HENDRYCKS)
    task = load_task("math", {"data": str(data), "fewshot": "1", "fewshot_multiturn": "true"})
    request = task.requests(task.samples()[0])[0]
    assert isinstance(request, GenerateRequest) and request.messages is not None
    roles = [m.role for m in request.messages]
    assert roles == ["user", "assistant", "user"]
    assert "\\boxed" in request.messages[1].content  # the example's full solution


def test_bad_options_are_refused(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "aime.jsonl", AIME24_H4)
    with pytest.raises(LmauditError, match="think"):
        load_task("aime24", {"data": str(data), "think_tags": "<think>"})
    with pytest.raises(LmauditError, match="greedy"):
        load_task("aime24", {"data": str(data), "samples": "4", "temperature": "0"})
    with pytest.raises(LmauditError, match="unknown option"):
        load_task("aime24", {"data": str(data), "bogus": "1"})
