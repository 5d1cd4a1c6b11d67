"""`lmaudit run --samples` end to end on a tiny random HF model: every sample stored, the
sample metrics and best-of-N per verifier in results.json, a rerun with the same seed draws
the same samples, and `--resume` keeps the sampling settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from lmaudit.cli import main
from lmaudit.core.store import load_run
from test_backends_hf_tiny import build_model
from test_verifier_reward import _reward_model


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sampling-cli")
    return build_model(root / "lm", "gpt2"), _reward_model(root / "rm", 1)


def _answers(run_dir: Path) -> list[list[str]]:
    frame = load_run(run_dir).samples
    return [json.loads(extra)["answers"] for extra in frame["extra"]]


def test_run_samples_every_answer_and_reports_best_of_n_per_verifier(
    models: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lm, rm = models
    args = ["run", "--model", f"hf:{lm}", "--task", "arith", "--limit", "3", "--samples", "4",
            "--temperature", "1.0", "--top-p", "0.95", "--seed", "5", "--no-cache",
            "--no-progress", "--verifier", "oracle", "--verifier", f"reward={rm}",
            "--verifier", "self"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    metrics = results["metrics"]
    for name in ("acc_flexible", "pass@2", "pass@4", "maj@1", "maj@4", "vote_share",
                 "vote_brier", "best_of_4:oracle", "best_of_1:reward", "best_of_4:reward",
                 "verifier_failed:reward", "best_of_4:self"):
        assert name in metrics, name
        assert metrics[name]["ci_low"] <= metrics[name]["value"] <= metrics[name]["ci_high"]
    assert metrics["verifier_failed:reward"]["value"] == 0.0
    assert metrics["verifier_failed:self"]["value"] == 0.0  # the HF backend gave log-probs
    answers = _answers(tmp_path / "a")
    assert len(answers) == 3 and all(len(a) == 4 for a in answers)
    assert any(len(set(a)) > 1 for a in answers)  # seeds 5..8 draw different samples
    frame = load_run(tmp_path / "a").samples
    scores = json.loads(frame["extra"][0])["verifier_scores"]
    assert len(scores["reward"]) == 4 and all(isinstance(s, float) for s in scores["reward"])
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["invocation"]["sampling"]["samples"] == 4
    assert manifest["task_spec"]["sampling"] == {"samples": 4, "temperature": 1.0,
                                                 "top_p": 0.95, "seed": 5}
    assert main([*args, "--out", str(tmp_path / "b")]) == 0  # a rerun: the same samples
    assert _answers(tmp_path / "b") == answers
    capsys.readouterr()
    assert main(["run", "--resume", str(tmp_path / "a")]) == 0  # finished: its results again
    assert "best_of_4:reward" in capsys.readouterr().out


def test_run_refuses_sampling_a_multiple_choice_task(
    models: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    lm, _ = models
    code = main(["run", "--model", f"hf:{lm}", "--task", "arith_mc", "--samples", "2"])
    assert code != 0
    err = capsys.readouterr().err
    assert "not generations" in err and "Traceback" not in err


def test_a_judge_model_spec_loads_through_the_backend_registry(models: tuple[Path, Path]) -> None:
    from lmaudit.verifiers import Candidate, parse_verifier
    from lmaudit.verifiers.judge import JudgeVerifier

    lm, _ = models
    judge = parse_verifier(f"judge=hf:{lm}")
    assert isinstance(judge, JudgeVerifier) and judge.spec()["model"] == f"hf:{lm}"
    judge.max_tokens = 8
    verdicts = judge.verify([Candidate("2 + 3?", "5", "5", True), Candidate("2 + 3?", "6", "6",
                                                                         False)])
    assert len(verdicts) == 2  # a random model's reply has no score: recorded, not raised
    assert all((v.score is None) == (v.failure is not None) for v in verdicts)
