"""hle: text-only rows, the response format, the LLM judge and calibration error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmaudit.core.aggregate import aggregate_records
from lmaudit.core.runner import evaluate
from lmaudit.core.types import GenerateRequest, LmauditError
from lmaudit.tasks.hle import parse_judgment
from lmaudit.tasks.registry import load_task
from seed_fakes import ScriptedBackend, write_jsonl

ROWS = [
    {"id": "q1", "question": "What is 2+2?", "image": "", "answer": "4",
     "answer_type": "exactMatch", "category": "Math", "rationale": "", "author_name": "a"},
    {"id": "q2", "question": "Which is a noble gas?\nA. N\nB. Ne", "image": "",
     "answer": "B", "answer_type": "multipleChoice", "category": "Chemistry"},
    {"id": "q3", "question": "Describe the image.", "image": "data:image/png;base64,AAAA",
     "answer": "a cat", "answer_type": "exactMatch", "category": "Other"},
]


def _judge(request: GenerateRequest) -> str:
    """A judge that reads the response line and compares it with the correct answer."""
    prompt = request.messages[0].content  # type: ignore[index]
    response = prompt.split("[response]: ", 1)[1].split("\n\n[correct_answer]")[0]
    correct = prompt.split("[correct_answer]: ", 1)[1].split("\n\n", 1)[0]
    answer = response.split("Answer:", 1)[-1].split("\n")[0].strip()
    confidence = response.split("Confidence:", 1)[-1].strip().rstrip("%")
    verdict = "yes" if answer == correct else "no"
    return (f"extracted_final_answer: {answer}\n\nreasoning: compared.\n\n"
            f"correct: {verdict}\n\nconfidence: {confidence}")


def _task(tmp_path: Path, judge: ScriptedBackend):  # type: ignore[no-untyped-def]
    data = write_jsonl(tmp_path / "hle.jsonl", ROWS)
    task = load_task("hle", {"data": str(data), "judge": "openai-chat:never-loaded"})
    task._judge = judge  # type: ignore[attr-defined]
    return task


def test_text_only_rows_and_response_format(tmp_path: Path) -> None:
    task = _task(tmp_path, ScriptedBackend(_judge))
    samples = task.samples()
    assert [s.id for s in samples] == ["q1", "q2"]  # the image question is left out
    exact = task.requests(samples[0])[0]
    choice = task.requests(samples[1])[0]
    assert isinstance(exact, GenerateRequest) and exact.messages is not None
    assert exact.messages[0].role == "system" and "Exact Answer:" in exact.messages[0].content
    assert "Answer: {the option" in choice.messages[0].content  # type: ignore[index]
    assert exact.messages[1].content == "What is 2+2?"


def test_judged_accuracy_confidence_and_thinking(tmp_path: Path) -> None:
    judge = ScriptedBackend(_judge)
    task = _task(tmp_path, judge)
    replies = {"What is 2+2?": "<think>Answer: 5?</think>Explanation: sum.\nExact Answer: 4"
                               "\nConfidence: 90%",
               "Which is a noble gas?\nA. N\nB. Ne": "Explanation: x\nAnswer: A\nConfidence: 80%"}
    model = ScriptedBackend(lambda r: replies[r.messages[1].content])  # type: ignore[index]
    records = evaluate(task, model, task.samples(), show_progress=False)
    assert [r.metrics["acc"] for r in records] == [1.0, 0.0]
    assert [r.metrics["stated_confidence"] for r in records] == [0.9, 0.8]
    assert "Answer: 5?" not in judge.seen[0].messages[0].content  # thinking removed
    assert records[0].extra["judge_reply"].startswith("extracted_final_answer: 4")
    metrics = aggregate_records(task.metrics, records)
    assert metrics["acc"].value == 0.5
    assert "calibration_rms" in metrics  # NaN below 100 samples, but always reported


def test_parse_judgment() -> None:
    reply = "**extracted_final_answer:** 42\n**reasoning:** ok\n**correct:** Yes\n" \
            "**confidence:** 85"
    assert parse_judgment(reply) == {"correct": True, "confidence": 0.85, "extracted": "42"}
    assert parse_judgment("no fields at all") == {"correct": None, "confidence": 1.0,
                                                  "extracted": None}


def test_calibration_error_over_many_judged_answers(tmp_path: Path) -> None:
    from lmaudit.core.types import SampleRecord

    records = [SampleRecord(str(i), "", "", "", None,
                            {"acc": float(i % 4 == 0), "stated_confidence": 0.9})
               for i in range(200)]
    task = _task(tmp_path, ScriptedBackend(_judge))
    metrics = aggregate_records(task.metrics, records)
    # one bin of 100 at 0.9 confidence and 0.25 accuracy counts, weighted 100/200
    assert metrics["calibration_rms"].value == pytest.approx((0.5 * 0.65**2) ** 0.5)
    assert metrics["calibration_rms_all_bins"].value == pytest.approx(0.65)


def test_judge_is_required_and_score_command_judges_in_one_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(LmauditError, match="judge=MODEL_SPEC"):
        load_task("hle", {})
    judge = ScriptedBackend(_judge)
    monkeypatch.setattr("lmaudit.backends.registry.load_backend", lambda spec: judge)
    responses = write_jsonl(tmp_path / "r.jsonl", [
        {"id": "x1", "question": "What is 2+2?", "answer": "4",
         "response": "Exact Answer: 4\nConfidence: 70%"},
        {"id": "x2", "question": "Capital of France?", "answer": "Paris",
         "response": "Exact Answer: Lyon\nConfidence: 60%"},
    ])
    from lmaudit.cli import main

    out = tmp_path / "run"
    assert main(["score", "--task", "hle", "--task-option", "judge=openai-chat:judge",
                 "--responses", str(responses), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())["metrics"]
    assert results["acc"]["value"] == 0.5
    assert results["stated_confidence"]["value"] == pytest.approx(0.65)
    assert len(judge.seen) == 2


def test_judgments_are_cached_unless_disabled(tmp_path: Path) -> None:
    judge = ScriptedBackend(_judge)
    task = _task(tmp_path, judge)
    sample = task.samples()[0]
    text = "Exact Answer: 4\nConfidence: 50%"
    first = task.judge_many([(sample, text)])  # type: ignore[attr-defined]
    again = task.judge_many([(sample, text)])  # type: ignore[attr-defined]
    assert len(judge.seen) == 1 and first[0].metrics == again[0].metrics
    task.judge_cache = False  # type: ignore[attr-defined]
    task.judge_many([(sample, text)])  # type: ignore[attr-defined]
    assert len(judge.seen) == 2
