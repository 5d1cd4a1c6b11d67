"""Built-in tasks on local data (tiny files written here, and the shared external data)."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path

import pytest

from lmaudit.core.types import (
    GenerateRequest,
    Generation,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RollingLoglikelihoodRequest,
)
from lmaudit.tasks.registry import list_tasks, load_task

EXTERNAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "external"
GSM8K_TEST = EXTERNAL / "gsm8k" / "test.jsonl"
ARC_EVAL = EXTERNAL / "arc_agi" / "evaluation"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# --- gsm8k -------------------------------------------------------------------------------

GSM_ROWS = [
    {"question": "Tom has 3 apples and buys 4 more. How many?", "answer": "3+4=7\n#### 7"},
    {"question": "A box holds 5 pens. How many in 2 boxes?", "answer": "2*5=10\n#### 10"},
    {"question": "Ann had 9 cards and gave 2 away. How many left?", "answer": "9-2=7\n#### 7"},
]


def test_gsm8k_on_a_tiny_file(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "gsm.jsonl", GSM_ROWS)
    task = load_task("gsm8k", {"data": str(data)})
    samples = task.samples()
    assert [s.id for s in samples] == ["0", "1", "2"]
    (request,) = task.requests(samples[0])
    assert isinstance(request, GenerateRequest)
    assert request.prompt == "Question: Tom has 3 apples and buys 4 more. How many?\nAnswer:"
    assert request.params.stop == ("Question:", "</s>", "<|im_end|>")
    assert request.params.max_tokens == 256 and request.params.greedy
    good = task.score(samples[1], [Generation(" 2 boxes of 5 is 10.\n#### 10")])
    assert good.metrics["acc_strict"] == 1.0 and good.metrics["acc_flexible"] == 1.0
    loose = task.score(samples[1], [Generation(" The answer is 10.")])
    assert loose.metrics["acc_strict"] == 0.0 and loose.metrics["acc_flexible"] == 1.0


def test_gsm8k_fewshot_from_the_same_file_excludes_the_question(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "gsm.jsonl", GSM_ROWS)
    task = load_task("gsm8k", {"data": str(data), "fewshot": "2", "fewshot_seed": "1"})
    for sample in task.samples():
        (request,) = task.requests(sample)
        prompt = request.prompt  # type: ignore[union-attr]
        shots = prompt.split("\n\n")
        assert len(shots) == 3 and shots[-1] == sample.input
        assert all(sample.input not in shot for shot in shots[:-1])
        assert all(shot.endswith(("#### 7", "#### 10")) for shot in shots[:-1])
    again = load_task("gsm8k", {"data": str(data), "fewshot": "2", "fewshot_seed": "1"})
    assert again.spec()["fewshot"] == task.spec()["fewshot"]


def test_gsm8k_directory_takes_fewshot_from_train(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "test.jsonl", GSM_ROWS[:1])
    write_jsonl(tmp_path / "train.jsonl", GSM_ROWS[1:])
    task = load_task("gsm8k", {"data": str(tmp_path), "fewshot": "2"})
    (request,) = task.requests(task.samples()[0])
    prompt = request.prompt  # type: ignore[union-attr]
    assert prompt.count("Question:") == 3 and "Tom has 3 apples" in prompt.split("\n\n")[-1]
    assert task.spec()["data"]["fewshot"]["file"].endswith("train.jsonl")


@pytest.mark.skipif(not GSM8K_TEST.exists(), reason=f"shared GSM8K data absent: {GSM8K_TEST}")
def test_gsm8k_on_the_real_test_file() -> None:
    task = load_task("gsm8k", {"data": str(GSM8K_TEST)})
    samples = task.samples()
    assert len(samples) == 1319
    first = samples[0]
    assert first.input.startswith("Question: Janet\u2019s ducks lay 16 eggs per day.")
    assert first.input.endswith("\nAnswer:")
    assert str(first.target).endswith("#### 18")
    assert task.score(first, [Generation(" 16 - 3 - 4 = 9; 9 * 2 = 18\n#### 18")]).metrics[
        "acc_strict"] == 1.0
    assert len(task.spec()["data"]["eval"]["sha256"]) == 64


# --- mmlu --------------------------------------------------------------------------------

MMLU_ROWS = [
    {"question": " What is 2+2? ", "subject": "elementary_mathematics",
     "choices": ["3", "4", "5", "6"], "answer": 1},
    {"question": "What is 3*3?", "subject": "elementary_mathematics",
     "choices": ["6", "8", "9", "12"], "answer": 2},
    {"question": "Which organ pumps blood?", "subject": "anatomy",
     "choices": ["lung", "heart", "liver", "skin"], "answer": 1},
]


def test_mmlu_prompt_matches_lm_eval_layout(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "mmlu.jsonl", MMLU_ROWS)
    task = load_task("mmlu", {"data": str(data)})
    samples = task.samples()
    assert [s.id for s in samples] == [
        "elementary_mathematics/0", "elementary_mathematics/1", "anatomy/0",
    ]
    assert [s.cluster for s in samples] == ["elementary_mathematics"] * 2 + ["anatomy"]
    requests = task.requests(samples[0])
    context = (
        "The following are multiple choice questions (with answers) about elementary "
        "mathematics.\n\nWhat is 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:"
    )
    assert requests == [LoglikelihoodRequest(context, f" {x}") for x in "ABCD"]
    logprobs = [-2.0, -0.5, -3.0, -4.0]
    record = task.score(samples[0], [LoglikelihoodResult(x, False, 1) for x in logprobs])
    assert record.metrics["acc"] == 1.0 and record.target == "B" and record.response == "B"


def test_mmlu_subject_filter_fewshot_by_subject_and_csv(tmp_path: Path) -> None:
    csv_path = tmp_path / "mmlu.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "subject", "choices", "answer"])
        for row in MMLU_ROWS:  # choices as a JSON list in a string; every value a string
            writer.writerow([row["question"], row["subject"], json.dumps(row["choices"]),
                             row["answer"]])
    task = load_task("mmlu", {"data": str(csv_path), "subject": "elementary_mathematics",
                              "fewshot": "1"})
    assert task.name == "mmlu_elementary_mathematics"
    samples = task.samples()
    assert [s.target for s in samples] == [1, 2]
    (first, *_) = task.requests(samples[1])
    assert first.context.endswith(  # type: ignore[union-attr]
        "mathematics.\n\nWhat is 2+2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer: B\n\n"
        "What is 3*3?\nA. 6\nB. 8\nC. 9\nD. 12\nAnswer:"
    )
    with pytest.raises(LmauditError, match="unknown subject 'anatomyy'; did you mean 'anatomy'"):
        load_task("mmlu", {"subject": "anatomyy"})


# --- arc_agi -----------------------------------------------------------------------------

ARC_TASK = {
    "train": [
        {"input": [[1, 0], [0, 0]], "output": [[1, 1], [1, 1]]},
        {"input": [[0, 2], [0, 0]], "output": [[2, 2], [2, 2]]},
    ],
    "test": [
        {"input": [[0, 0, 3], [0, 0, 0]], "output": [[3, 3, 3], [3, 3, 3]]},
        {"input": [[4]], "output": [[4]]},
    ],
}


def test_arc_agi_samples_prompt_budget_and_two_attempts(tmp_path: Path) -> None:
    (tmp_path / "fill.json").write_text(json.dumps(ARC_TASK))
    task = load_task("arc_agi", {"data": str(tmp_path)})
    samples = task.samples()
    assert [s.id for s in samples] == ["fill-0", "fill-1"]
    assert samples[0].target == "333\n333" and samples[0].cluster == "fill"
    assert samples[0].input.endswith("Test\nInput:\n003\n000\nOutput:\n")
    assert "Example 2\nInput:\n02\n00\nOutput:\n22\n22" in samples[0].input
    # Budget: train outputs 2x(2+1) = 6 chars, ratio 6/6 = 1; test input 2x(3+1) = 8 chars:
    # max(6, 8 x 1) + 32 = 40. The 1x1 test input: max(6, 2) + 32 = 38.
    assert [s.metadata["max_tokens"] for s in samples] == [40, 38]
    greedy, sampled = task.requests(samples[0])
    assert greedy.params.greedy and not sampled.params.greedy  # type: ignore[union-attr]
    assert greedy.params.stop == ("\n\n",)  # type: ignore[union-attr]
    record = task.score(samples[0], [Generation("333\n330"), Generation("333\n333\n")])
    assert record.metrics == {"acc": 1.0, "first_attempt_correct": 0.0}


def test_arc_agi_needs_data() -> None:
    with pytest.raises(LmauditError, match="task arc_agi needs --task-option data=DIR"):
        load_task("arc_agi")


@pytest.mark.skipif(not ARC_EVAL.exists(), reason=f"shared ARC-AGI data absent: {ARC_EVAL}")
def test_arc_agi_on_three_real_tasks() -> None:
    ids = sorted(p.stem for p in ARC_EVAL.glob("*.json"))[:3]
    task = load_task("arc_agi", {"data": str(ARC_EVAL), "tasks": ",".join(ids)})
    samples = task.samples()
    expected = []
    for task_id in ids:
        data = json.loads((ARC_EVAL / f"{task_id}.json").read_text())
        expected += [f"{task_id}-{k}" for k in range(len(data["test"]))]
        grid = data["test"][0]["output"]
        sample = next(s for s in samples if s.id == f"{task_id}-0")
        assert sample.target == "\n".join("".join(map(str, row)) for row in grid)
        assert sample.metadata["max_tokens"] <= 30 * 31 + 32
        right = task.score(sample, [Generation("x"), Generation(str(sample.target))])
        wrong = task.score(sample, [Generation("x"), Generation("0")])
        assert right.metrics["acc"] == 1.0 and wrong.metrics["acc"] == 0.0
    assert [s.id for s in samples] == expected


# --- perplexity --------------------------------------------------------------------------

def test_perplexity_paragraphs_and_whole_files(tmp_path: Path) -> None:
    text = "First paragraph\nstill first.\n\n  \nSecond one.\n\n\n"
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    task = load_task("perplexity", {"data": str(path)})
    assert [s.input for s in task.samples()] == ["First paragraph\nstill first.", "Second one."]
    assert task.requests(task.samples()[1]) == [RollingLoglikelihoodRequest("Second one.")]
    whole = load_task("perplexity", {"data": str(path), "split": "file"})
    assert [s.input for s in whole.samples()] == [text.strip()]
    (tmp_path / "b.txt").write_text("Other file.")
    folder = load_task("perplexity", {"data": str(tmp_path)})
    assert [(s.id, s.cluster) for s in folder.samples()] == [
        ("b.txt/0", "b.txt"), ("corpus.txt/0", "corpus.txt"), ("corpus.txt/1", "corpus.txt"),
    ]
    assert {m.name for m in task.metrics} >= {"bits_per_byte", "word_perplexity"}


# --- arith -------------------------------------------------------------------------------

HAS_ARITH = importlib.util.find_spec("lmaudit.tasks.arith") is not None


@pytest.mark.skipif(not HAS_ARITH, reason="lmaudit.tasks.arith is not there yet")
def test_arith_and_arith_mc() -> None:
    from lmaudit.tasks import arith

    item = arith.load_split("test")[0]
    task = load_task("arith")
    sample = task.samples()[0]
    assert sample.id == item.id and sample.cluster == item.template_id
    (request,) = task.requests(sample)
    assert request.prompt == arith.prompt_for(item)  # type: ignore[union-attr]
    assert request.params.stop == ("\n",) and request.params.max_tokens == 16  # type: ignore[union-attr]
    assert task.score(sample, [Generation(f" {item.answer}\n")]).metrics["acc_flexible"] == 1.0
    mc = load_task("arith_mc")
    mc_sample = mc.samples()[0]
    options, correct = arith.make_choices(item, k=4, seed=0)
    assert mc_sample.choices == tuple(str(o) for o in options) and mc_sample.target == correct
    logprobs = [-5.0] * len(options)
    logprobs[correct] = -1.0
    record = mc.score(mc_sample, [LoglikelihoodResult(x, False, 1) for x in logprobs])
    assert record.metrics["acc"] == 1.0
    assert record.metrics["p_correct"] == pytest.approx(1 / (1 + 3 * math.exp(-4)))


# --- registry and the `tasks` command ----------------------------------------------------

def test_registry_lists_builtins_with_types() -> None:
    infos = {info.name: info for info in list_tasks()}
    assert infos["gsm8k"].type == "generate" and infos["mmlu"].type == "multiple_choice"
    assert infos["perplexity"].type == "perplexity" and infos["arc_easy"].source.endswith(".yaml")
    assert {"arc_agi", "arith", "arith_mc"} <= set(infos)


def test_unknown_task_and_option_errors() -> None:
    with pytest.raises(LmauditError, match=r"unknown task 'gsm8kk'; did you mean 'gsm8k'\?.*mmlu"):
        load_task("gsm8kk")
    pattern = r"task gsm8k: unknown option 'shots'; valid options: data"
    with pytest.raises(LmauditError, match=pattern):
        load_task("gsm8k", {"shots": "5"})
    with pytest.raises(LmauditError, match=r"option fewshot='five' must be an integer"):
        load_task("gsm8k", {"fewshot": "five"})


def test_tasks_command_lists_and_shows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lmaudit.cli import main

    assert main(["tasks"]) == 0
    listing = capsys.readouterr().out
    assert listing.splitlines()[0].split() == ["NAME", "TYPE", "DESCRIPTION"]
    assert any(line.split()[:2] == ["gsm8k", "generate"] for line in listing.splitlines())
    data = write_jsonl(tmp_path / "gsm.jsonl", GSM_ROWS)
    assert main(["tasks", "--show", "gsm8k", "--task-option", f"data={data}"]) == 0
    shown = capsys.readouterr().out
    assert "name: gsm8k\n" in shown and "n_samples: 3\n" in shown
    assert 'fewshot_delimiter: "\\n\\n"' in shown
    assert main(["tasks", "--show", "nonexistent_task"]) == 2
    assert "unknown task 'nonexistent_task'" in capsys.readouterr().err
