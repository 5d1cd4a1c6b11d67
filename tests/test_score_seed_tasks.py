"""`lmaudit score` for the seed benchmarks: stored answers graded without a model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmaudit.cli import main
from seed_fakes import write_jsonl


def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def test_score_aime_with_several_answers_per_problem(tmp_path: Path) -> None:
    rows = [
        {"id": "p1", "target": "204", "responses": ["<think>x</think>\\boxed{204}",
                                                     "\\boxed{205}"]},
        {"id": "p2", "target": "\\frac{1}{2}", "response": "Answer: 0.5"},
        {"id": "p2", "target": "\\frac{1}{2}", "response": "<think>never closed"},
    ]
    responses = write_jsonl(tmp_path / "r.jsonl", rows)
    out = tmp_path / "run"
    assert main(["score", "--task", "aime24", "--responses", str(responses),
                 "--out", str(out)]) == 0
    metrics = _results(out)["metrics"]
    assert metrics["acc_flexible"]["value"] == pytest.approx(0.5)
    assert metrics["pass_at_k"]["value"] == 1.0
    assert metrics["extract_fail_flexible"]["value"] == pytest.approx(0.25)
    assert metrics["thinking_unclosed"]["value"] == pytest.approx(0.25)


def test_score_rejects_uneven_answer_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    rows = [{"id": "a", "target": "1", "responses": ["1", "1"]},
            {"id": "b", "target": "2", "response": "2"}]
    responses = write_jsonl(tmp_path / "r.jsonl", rows)
    assert main(["score", "--task", "math500", "--responses", str(responses),
                 "--out", str(tmp_path / "o")]) == 2
    assert "same number of answers" in capsys.readouterr().err


def test_score_rejects_one_id_with_two_targets(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"id": "a", "target": "1", "response": "1"},
            {"id": "a", "target": "2", "response": "2"}]
    responses = write_jsonl(tmp_path / "r.jsonl", rows)
    assert main(["score", "--task", "aime24", "--responses", str(responses),
                 "--out", str(tmp_path / "o")]) == 2
    assert "line 2" in capsys.readouterr().err


def test_score_gpqa_and_mmlu_pro_letters(tmp_path: Path) -> None:
    gpqa = write_jsonl(tmp_path / "g.jsonl", [
        {"id": "r1", "target": "C", "response": "Reasoning.\nAnswer: C"},
        {"id": "r2", "target": "A", "response": "Answer: B"},
    ])
    assert main(["score", "--task", "gpqa_diamond", "--responses", str(gpqa),
                 "--out", str(tmp_path / "g")]) == 0
    assert _results(tmp_path / "g")["metrics"]["acc"]["value"] == pytest.approx(0.5)
    pro = write_jsonl(tmp_path / "p.jsonl", [
        {"id": "1", "target": "J", "response": "so the answer is (J)."},
    ])
    assert main(["score", "--task", "mmlu_pro", "--responses", str(pro),
                 "--out", str(tmp_path / "p")]) == 0
    assert _results(tmp_path / "p")["metrics"]["acc"]["value"] == 1.0


def test_score_math_joined_to_the_task_data_by_id(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "m500.jsonl", [
        {"problem": "p", "solution": "s", "answer": "2\\sqrt{2}", "subject": "Algebra",
         "level": 1, "unique_id": "test/algebra/1.json"},
    ])
    responses = write_jsonl(tmp_path / "r.jsonl", [
        {"id": "test/algebra/1.json", "response": "\\boxed{\\sqrt{8}}"},
    ])
    out = tmp_path / "run"
    assert main(["score", "--task", "math500", "--task-option", f"data={data}",
                 "--responses", str(responses), "--out", str(out)]) == 0
    assert _results(out)["metrics"]["acc_strict"]["value"] == 1.0


def test_score_lm_eval_samples_files_for_hellaswag_and_truthfulqa(tmp_path: Path) -> None:
    from test_tasks_lm_eval_mc import HELLASWAG, TRUTHFULQA

    data = write_jsonl(tmp_path / "hs.jsonl", HELLASWAG)
    # an lm-eval samples log: doc_id is the row position, filtered_resps as strings
    log = write_jsonl(tmp_path / "samples_hellaswag.jsonl", [
        {"doc_id": 0, "target": 3, "filtered_resps": [["-9.0", "False"], ["-8.0", "False"],
                                                      ["-7.0", "False"], ["-1.0", "False"]]},
        {"doc_id": 1, "target": 0, "filtered_resps": [["-3.0", "False"], ["-1.0", "False"],
                                                      ["-9.0", "False"], ["-9.0", "False"]]},
    ])
    out = tmp_path / "hs"
    assert main(["score", "--task", "hellaswag", "--task-option", f"data={data}",
                 "--responses", str(log), "--out", str(out)]) == 0
    assert _results(out)["metrics"]["acc"]["value"] == pytest.approx(0.5)

    tqa = write_jsonl(tmp_path / "tqa.jsonl", TRUTHFULQA)
    stored = write_jsonl(tmp_path / "r.jsonl", [{"id": "0", "logprobs": [0.0, 0.0, 0.0, 0.0]}])
    out2 = tmp_path / "tqa"
    assert main(["score", "--task", "truthfulqa_mc2", "--task-option", f"data={tqa}",
                 "--responses", str(stored), "--out", str(out2)]) == 0
    assert _results(out2)["metrics"]["acc"]["value"] == pytest.approx(0.5)


def test_score_lm_eval_mc_names_a_bad_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    from test_tasks_lm_eval_mc import TRUTHFULQA

    tqa = write_jsonl(tmp_path / "tqa.jsonl", TRUTHFULQA)
    stored = write_jsonl(tmp_path / "r.jsonl", [{"id": "0", "logprobs": [0.0]}])
    assert main(["score", "--task", "truthfulqa_mc1", "--task-option", f"data={tqa}",
                 "--responses", str(stored), "--out", str(tmp_path / "o")]) == 2
    assert "line 1" in capsys.readouterr().err


def test_results_carry_references_and_the_small_sample_note(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    responses = write_jsonl(tmp_path / "r.jsonl", [
        {"id": str(i), "target": str(i), "response": f"\\boxed{{{i}}}"} for i in range(30)
    ])
    out = tmp_path / "run"
    assert main(["score", "--task", "aime25", "--responses", str(responses),
                 "--out", str(out)]) == 0
    results = _results(out)
    assert results["references"] == {"chance": 0.001}
    assert results["notes"][0].startswith("AIME has 30 problems: one problem moves the score "
                                          "by 3.3 points")
    assert "note: AIME has 30 problems" in capsys.readouterr().out


def test_run_prints_and_stores_notes(tmp_path: Path) -> None:
    from lmaudit.core.runner import run_task
    from lmaudit.tasks.registry import load_task
    from seed_fakes import ScriptedBackend

    data = write_jsonl(tmp_path / "g.jsonl", [
        {"Question": "Q?", "Correct Answer": "yes", "Incorrect Answer 1": "a",
         "Incorrect Answer 2": "b", "Incorrect Answer 3": "c", "Record ID": "r1"}])
    task = load_task("gpqa_diamond", {"data": str(data)})
    run_task(task, ScriptedBackend(lambda r: "Answer: A"), tmp_path / "run",
             show_progress=False)
    results = _results(tmp_path / "run")
    assert results["references"]["chance"] == 0.25
    assert results["references"]["human"]["non_expert"] == 0.34
