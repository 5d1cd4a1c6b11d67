"""End to end through the CLI: `lmaudit run`, `compare`, `score`, and user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from lmaudit.cli import main
from lmaudit.core.store import load_run
from test_backends_hf_tiny import build_model

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "external"

QUESTIONS = [
    ("What colour is the sky?", ["blue", "green", "red", "a large brown fox"], 0),
    ("Which number is even?", ["3", "5", "8", "11"], 2),
    ("Capital of Italy?", ["Paris", "Rome", "Oslo", "Lima"], 1),
    ("Which is a fruit?", ["apple", "chair", "lamp", "road"], 0),
    ("Which animal barks?", ["cat", "cow", "dog", "fish"], 2),
    ("What do bees make?", ["milk", "honey", "wool", "silk"], 1),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("cli-model"), "gpt2")


@pytest.fixture(scope="module")
def task_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-task")
    with (root / "quiz.jsonl").open("w") as handle:
        for i, (question, options, answer) in enumerate(QUESTIONS):
            row = {"q": question, "options": options, "label": answer, "topic": f"t{i % 3}"}
            handle.write(json.dumps(row) + "\n")
    path = root / "quiz.yaml"
    path.write_text(
        "name: quiz\ntype: multiple_choice\n"
        "dataset: {path: quiz.jsonl}\n"
        'prompt: "Question: {q}\\nAnswer:"\n'
        "choices: options\ntarget: label\n"
    )
    return path


def test_run_writes_a_complete_run_directory(
    model_dir: Path, task_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--model",
            f"hf:{model_dir}",
            "--task",
            str(task_file),
            "--out",
            str(out),
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "acc" in printed and "95% CI" in printed
    run = load_run(out)
    assert run.manifest["task"] == "quiz"
    assert run.manifest["model_fingerprint"].startswith("hf:")
    assert len(run.manifest["task_spec_hash"]) == 64
    assert len(run.samples) == len(QUESTIONS)
    assert all(len(lp) == 4 for lp in run.samples["choice_logprobs"])
    for name in ("acc", "acc_norm", "brier", "ece", "ece_equal_mass"):
        metric = run.results["metrics"][name]
        assert metric["ci_low"] <= metric["value"] <= metric["ci_high"]
        assert metric["n"] == len(QUESTIONS)
    # the stored accuracy is the mean of the per-sample scores, recomputed from the log-probs
    picks = [max(range(4), key=lambda i, lp=lp: lp[i]) for lp in run.samples["choice_logprobs"]]
    expected = sum(p == q[2] for p, q in zip(picks, QUESTIONS, strict=True)) / len(QUESTIONS)
    assert run.results["metrics"]["acc"]["value"] == pytest.approx(expected)


def test_compare_reports_a_paired_difference(
    model_dir: Path, task_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a", "b"):
        args = ["run", "--model", f"hf:{model_dir}", "--task", str(task_file)]
        assert main([*args, "--out", str(tmp_path / name), "--no-progress"]) == 0
    capsys.readouterr()
    report = tmp_path / "cmp.json"
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json", str(report)]) == 0
    rows = {row["metric"]: row for row in json.loads(report.read_text())}
    # the same model twice: zero difference and McNemar p = 1 (no discordant pairs)
    assert rows["acc"]["difference"]["value"] == 0.0
    assert rows["acc"]["mcnemar"]["p_value"] == 1.0
    assert rows["acc"]["test"] == {"name": "McNemar exact", "p_value": 1.0}  # no clusters
    assert rows["acc"]["n_shared"] == len(QUESTIONS)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--model", "nope:x", "--task", "arith"], "unknown model kind 'nope'"),
        (["run", "--model", "hf:/does/not/exist", "--task", "arith"], "/does/not/exist"),
        (["run", "--model", "hf:x", "--task", "gsm9k"], "gsm8k"),
        (["score", "--task", "gsm8k", "--responses", "/no/such.jsonl"], "/no/such.jsonl"),
    ],
)
def test_user_errors_are_one_line_without_traceback(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lmaudit: error:") and message in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_score_names_the_line_with_a_missing_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"response": "#### 3", "target": "3"}\n{"response": "4"}\n')
    assert main(["score", "--task", "gsm8k", "--responses", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: line 2: missing field 'target'" in err


def test_score_gsm8k_solutions_agree_with_the_authors_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`lmaudit score` on GSM8K's four graded solution sets (Cobbe et al. 2021).

    The solutions end with "A: x", not "#### x", so the strict extractor finds nothing
    (extract_fail_strict = 1) and the verdict comes from the flexible extractor (the last
    number). The authors' own `is_correct` labels must agree on at least 99% of solutions
    per set; in fact every one agrees (see tests/test_scoring_gsm8k_conformance.py for the
    analysis of the edge cases: truncated solutions, "Publisher A:" inside the prose).
    """
    solutions = SHARED / "gsm8k" / "example_model_solutions.jsonl"
    tests = SHARED / "gsm8k" / "test.jsonl"
    if not solutions.is_file() or not tests.is_file():
        pytest.skip("../shared/external/gsm8k is absent (conformance data is not in the repo)")
    problems = [json.loads(line) for line in tests.read_text().splitlines() if line.strip()]
    rows = [json.loads(line) for line in solutions.read_text().splitlines() if line.strip()]
    sets = [k for k, v in rows[0].items() if isinstance(v, dict) and "is_correct" in v]
    assert len(sets) == 4
    for name in sets:
        responses = tmp_path / f"{name}.jsonl"
        with responses.open("w") as handle:
            for i, (row, problem) in enumerate(zip(rows, problems, strict=True)):
                assert row["question"] == problem["question"]
                record = {"id": i, "response": row[name]["solution"], "target": problem["answer"]}
                handle.write(json.dumps(record) + "\n")
        out = tmp_path / f"run-{name}"
        assert (
            main(["score", "--task", "gsm8k", "--responses", str(responses), "--out", str(out)])
            == 0
        )
        scored = load_run(out).samples.sort_values("sample_id", key=lambda s: s.astype(int))
        labels = [float(row[name]["is_correct"]) for row in rows]
        agreement = (scored["acc_flexible"].to_numpy() == labels).mean()
        print(f"{name}: agreement with the authors' labels {agreement:.4f}")
        assert agreement >= 0.99
    capsys.readouterr()


def test_resume_from_the_manifest_alone(
    model_dir: Path, task_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run killed before results.json continues from `--resume DIR` with nothing else."""
    from lmaudit.core.journal import JOURNAL

    out = tmp_path / "run"
    argv = ["run", "--model", f"hf:{model_dir}", "--task", str(task_file), "--no-progress"]
    assert main([*argv, "--out", str(out), "--limit", "4", "--no-cache"]) == 0
    reference = load_run(out).results["metrics"]
    (out / "results.json").unlink()  # as if killed after the last answer was journaled
    lines = (out / JOURNAL).read_text().splitlines(keepends=True)
    (out / JOURNAL).write_text("".join(lines[:5]))  # ... or after 5 of 16 answers
    capsys.readouterr()
    assert main(["run", "--resume", str(out), "--no-progress", "--no-cache"]) == 0
    run = load_run(out)
    # equal up to float noise: the resumed answers were batched with different neighbours
    for name, value in reference.items():
        assert run.results["metrics"][name]["value"] == pytest.approx(value["value"], abs=1e-6)
    assert run.results["metrics"]["acc"] == reference["acc"]
    assert len(run.samples) == 4 and len(run.manifest["resumed"]) == 1
    assert len((out / JOURNAL).read_text().splitlines()) == 16
    assert main(["run", "--resume", str(tmp_path / "nothing")]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_run_needs_model_and_task_unless_resuming(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--task", "arith"]) == 2
    assert "--model and --task are required" in capsys.readouterr().err
