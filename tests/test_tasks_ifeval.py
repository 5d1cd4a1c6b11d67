"""The ifeval task: data rows (authors' and Hugging Face shapes), requests, scoring, and
`lmaudit score --task ifeval` joining stored responses to prompts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lmaudit.cli import main
from lmaudit.core.types import Generation, LmauditError
from lmaudit.tasks.ifeval import IfevalTask
from lmaudit.tasks.registry import load_task
from lmaudit.tasks.stored import join_rows, read_stored_rows

ROWS: list[dict[str, Any]] = [
    {
        "key": 1,
        "prompt": "Write a haiku about rain. Do not use any commas.",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
    },
    {
        # the Hugging Face copy lists every argument name, None where unused
        "key": 2,
        "prompt": "Describe a cat in fewer than 10 words, in all lowercase letters.",
        "instruction_id_list": [
            "length_constraints:number_words",
            "change_case:english_lowercase",
        ],
        "kwargs": [
            {"num_words": 10, "relation": "less than", "keywords": None, "language": None},
            {"num_words": None, "relation": None},
        ],
    },
]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return _write(tmp_path / "input_data.jsonl", ROWS)


def test_samples_requests_and_scoring(data: Path) -> None:
    task = load_task("ifeval", {"data": str(data)})
    assert isinstance(task, IfevalTask)
    samples = task.samples()
    assert [s.id for s in samples] == ["1", "2"]
    (request,) = task.requests(samples[0])
    assert request.prompt == ROWS[0]["prompt"]  # as written: nothing added
    assert request.params.temperature == 0.0 and request.params.max_tokens == 1280
    record = task.score(samples[1], [Generation("a small soft sleepy cat.")])
    assert record.metrics["prompt_strict"] == 1.0
    assert record.metrics["inst_strict_followed"] == 2.0
    assert record.extra["follow_strict"] == [True, True]
    record = task.score(samples[1], [Generation("A Small Cat.")])
    assert record.extra["follow_strict"] == [True, False]
    spec = task.spec()
    assert spec["n_samples"] == 2 and spec["data"]["sha256"]


def test_chat_and_max_tokens_options(data: Path) -> None:
    task = load_task("ifeval", {"data": str(data), "chat": "1", "max_tokens": "64"})
    (request,) = task.requests(task.samples()[0])
    assert request.prompt is None and request.messages is not None
    assert [(m.role, m.content) for m in request.messages] == [("user", ROWS[0]["prompt"])]
    assert request.params.max_tokens == 64
    with pytest.raises(LmauditError, match="unknown option 'fewshot'"):
        load_task("ifeval", {"fewshot": "3"})
    assert load_task("ifeval", {}).static_spec()["data"]["path"] == "google/IFEval"


def test_bad_instruction_data_fails_before_any_model(tmp_path: Path) -> None:
    bad = dict(ROWS[0], instruction_id_list=["keywords:rhymes"])
    task = load_task("ifeval", {"data": str(_write(tmp_path / "bad.jsonl", [bad]))})
    with pytest.raises(LmauditError, match=r"row 0 \(key 1\): unknown IFEval instruction"):
        task.samples()


def test_join_by_prompt_or_id_and_its_errors(data: Path, tmp_path: Path) -> None:
    samples = load_task("ifeval", {"data": str(data)}).samples()

    def join(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
        path = _write(tmp_path / "r.jsonl", rows)
        return [(s.id, text) for s, text in join_rows(samples, read_stored_rows(path), source=path)]

    by_prompt = [
        {"prompt": ROWS[1]["prompt"], "response": "b"},
        {"prompt": ROWS[0]["prompt"], "response": "a"},
    ]
    assert join(by_prompt) == [("2", "b"), ("1", "a")]
    assert join([{"id": 1, "response": "a"}, {"id": "2", "response": ""}]) == [
        ("1", "a"),
        ("2", ""),
    ]
    with pytest.raises(LmauditError, match=r"line 2: prompt 'Nope'.* not among"):
        join([{"id": 1, "response": "a"}, {"prompt": "Nope", "response": "b"}])
    with pytest.raises(LmauditError, match="line 2: sample 1 was already answered on line 1"):
        join([{"id": 1, "response": "a"}, {"prompt": ROWS[0]["prompt"], "response": "b"}])
    with pytest.raises(LmauditError, match="1 of the task's 2 samples have no response"):
        join([{"id": 1, "response": "a"}])
    with pytest.raises(LmauditError, match="line 1: `response` must be a string"):
        join([{"id": 1, "response": None}, {"id": 2, "response": "b"}])
    with pytest.raises(LmauditError, match="line 1: needs `id` or `prompt`"):
        join([{"response": "a"}])
    with pytest.raises(LmauditError, match="id '9' is not a sample"):
        join([{"id": "9", "response": "a"}])


def test_score_command_writes_a_run(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    responses = _write(
        tmp_path / "responses.jsonl",
        [
            {"prompt": ROWS[0]["prompt"], "response": "Rain falls soft\nno commas here"},
            {
                "prompt": ROWS[1]["prompt"],
                "response": "Sure, here:\na quiet grey cat naps in the warm sun.",
            },
        ],
    )
    out = tmp_path / "run"
    argv = ["score", "--task", "ifeval", "--task-option", f"data={data}"]
    assert main([*argv, "--responses", str(responses), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "prompt_strict" in printed and "inst_loose.punctuation:no_comma" in printed
    results = json.loads((out / "results.json").read_text())["metrics"]
    # prompt 2 fails both instructions strictly (11 words; the capital S of "Sure") and
    # passes both loosely without its first line (9 words, all lower case; langdetect
    # needs a few words: "a quiet cat naps." alone comes out Catalan)
    assert results["prompt_strict"]["value"] == 0.5
    assert results["prompt_loose"]["value"] == 1.0
    assert results["inst_strict"]["value"] == pytest.approx(1 / 3)
    assert results["inst_loose"]["value"] == 1.0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scorer"] == "task:ifeval" and manifest["task_spec"]["n_samples"] == 2
    # a partial file is refused with one line
    partial = _write(tmp_path / "partial.jsonl", [{"id": 1, "response": "x"}])
    assert main([*argv, "--responses", str(partial), "--out", str(tmp_path / "p")]) == 2
    assert "1 of the task's 2 samples have no response" in capsys.readouterr().err


def test_score_refuses_a_loglikelihood_task_before_reading_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A multiple-choice task without a stored-file reader cannot be graded from text:
    one line, as before the task-data path existed, and no data is loaded."""
    responses = _write(tmp_path / "r.jsonl", [{"id": 1, "response": "A"}])
    assert main(["score", "--task", "arith_mc", "--responses", str(responses)]) == 2
    assert "it is not a generation task (use --scorer)" in capsys.readouterr().err


def test_thinking_is_removed_before_checking(data: Path) -> None:
    task = load_task("ifeval", {"data": str(data)})
    sample = task.samples()[0]  # no commas
    record = task.score(sample, [Generation("<think>Hmm, well, okay.</think>\nRain on the roof")])
    assert record.metrics["prompt_strict"] == 1.0 and record.metrics["thinking_unclosed"] == 0.0
    assert record.extracted == "Rain on the roof"
    assert record.extra["thinking"]["thinking_segments"] == 1
    # thinking that never closed leaves nothing to check: every instruction fails
    record = task.score(sample, [Generation("<think>Rain on the roof and on")])
    assert record.metrics["prompt_loose"] == 0.0 and record.metrics["thinking_unclosed"] == 1.0
    # untagged text is checked exactly as written (no stripping)
    record = task.score(sample, [Generation("  Rain  ")])
    assert record.extracted is None and record.metrics["prompt_strict"] == 1.0
    # think_tags=none checks everything, the thinking included
    kept = load_task("ifeval", {"data": str(data), "think_tags": "none"})
    record = kept.score(sample, [Generation("<think>Hmm, well.</think>Rain")])
    assert record.metrics["prompt_strict"] == 0.0 and "thinking_unclosed" not in record.metrics
    with pytest.raises(LmauditError, match="task ifeval: thinking tags must be OPEN,CLOSE"):
        load_task("ifeval", {"think_tags": "<think>"})
