"""Repeated sampling on any generation task (`lmaudit.tasks.sampled`): requests with a seed
per sample, every answer scored and kept, the metrics over samples with known values."""

from __future__ import annotations

import json
from math import comb
from pathlib import Path

import pytest

from lmaudit.core.runner import evaluate
from lmaudit.core.task import Aggregation
from lmaudit.core.types import GenerateRequest, LmauditError
from lmaudit.tasks.generic import GenerateTask
from lmaudit.tasks.reasoning import ReasoningTask
from lmaudit.tasks.registry import load_task
from lmaudit.tasks.sampled import SampledTask, SamplingConfig, apply_sampling
from seed_fakes import ScriptedBackend

N = 4


def _arith_sampled(seed: int = 10) -> SampledTask:
    task = apply_sampling(load_task("arith"), SamplingConfig(N, 0.8, 0.9, seed))
    assert isinstance(task, SampledTask)
    return task


def test_each_problem_asks_n_samples_with_seed_plus_i_and_its_own_limits() -> None:
    task = _arith_sampled(seed=10)
    sample = task.samples()[0]
    (plain,) = load_task("arith").requests(sample)
    requests = task.requests(sample)
    assert len(requests) == N
    assert all(isinstance(r, GenerateRequest) for r in requests)
    assert [r.params.seed for r in requests] == [10, 11, 12, 13]  # type: ignore[union-attr]
    for request in requests:
        assert isinstance(request, GenerateRequest) and isinstance(plain, GenerateRequest)
        assert request.prompt == plain.prompt
        assert (request.params.temperature, request.params.top_p) == (0.8, 0.9)
        assert (request.params.max_tokens, request.params.stop) == (16, ("\n",))
    assert task.spec()["sampling"] == {"samples": 4, "temperature": 0.8, "top_p": 0.9, "seed": 10}
    assert task.spec()["task_version"] == load_task("arith").spec()["task_version"]


def test_every_answer_is_scored_and_the_sample_metrics_have_known_values() -> None:
    task = _arith_sampled(seed=0)
    samples = task.samples()[:3]
    targets = {s.input: str(s.target) for s in samples}
    # per problem, by seed: problem 0 right at seeds 1, 3; problem 1 never (answers 7, 7, 8, 8);
    # problem 2 always right.
    plan = {0: (False, True, False, True), 1: None, 2: (True, True, True, True)}
    prompts = [task.context(s) for s in samples]

    def reply(request: GenerateRequest) -> str:
        index = prompts.index(str(request.prompt))
        seed = int(request.params.seed or 0)
        if plan[index] is None:
            return "7" if seed < 2 else "8"
        right = plan[index][seed]  # type: ignore[index]
        return targets[samples[index].input] if right else "-1"

    records = evaluate(task, ScriptedBackend(reply), samples, show_progress=False)
    first, never, always = records
    assert first.extra["answers_correct"] == [False, True, False, True]
    assert len(first.extra["answers"]) == N and first.extra["answers_extracted"][0] == "-1"
    assert first.metrics["acc_flexible"] == 0.5  # avg@4
    assert first.metrics["pass@2"] == pytest.approx(1 - comb(2, 2) / comb(4, 2))
    assert first.metrics["pass_at_k"] == 1.0
    assert first.metrics["maj@2"] == 0.0  # tie -1 / target -> -1, the earliest
    assert first.metrics["maj@4"] == 0.0
    assert first.metrics["vote_share"] == 0.5
    assert never.metrics["pass@4"] == 0.0 and never.metrics["maj@4"] == 0.0  # 7 wins the tie
    assert never.extra["answers_extracted"] == ["7", "7", "8", "8"]
    assert always.metrics["maj@1"] == 1.0 and always.metrics["vote_brier"] == 0.0
    kinds = {m.name: m.aggregation for m in task.metrics}
    assert kinds["pass@4"] is Aggregation.MEAN and kinds["acc_flexible"] is Aggregation.PROPORTION


def test_sampling_refuses_what_it_cannot_do() -> None:
    with pytest.raises(LmauditError, match="not generations"):
        apply_sampling(load_task("arith_mc"), SamplingConfig(2, 0.7))
    with pytest.raises(LmauditError, match="temperature 0"):
        SamplingConfig(4, 0.0)
    with pytest.raises(LmauditError, match="top-p"):
        SamplingConfig(2, 0.7, 1.5)
    attempts = GenerateTask("two", lambda: load_task("arith").samples()[:1], attempts=2)
    wrapped = apply_sampling(attempts, SamplingConfig(2, 0.7))
    with pytest.raises(LmauditError, match="one generation request"):
        wrapped.requests(wrapped.samples()[0])


def test_reasoning_tasks_sample_natively_with_the_same_seeds() -> None:
    task = ReasoningTask("r", lambda: load_task("arith").samples()[:1], scorer="numeric",
                         think_tags=None)
    assert apply_sampling(task, SamplingConfig(3, 0.5, 0.95, 7)) is task
    requests = task.requests(task.samples()[0])
    assert [r.params.seed for r in requests] == [7, 8, 9]  # type: ignore[union-attr]
    assert {r.params.top_p for r in requests} == {0.95}  # type: ignore[union-attr]
    assert task.spec()["top_p"] == 0.95 and task.spec()["samples_per_problem"] == 3


def test_an_audit_suite_entry_samples_its_run_stage(tmp_path: Path) -> None:
    from audit_fakes import MemorizerBackend
    from lmaudit.audit import load_suite, run_audit

    suite = tmp_path / "suite.yaml"
    suite.write_text("tasks:\n  arith:\n    sampling: {samples: 4, temperature: 0.9, "
                     "verifiers: [oracle]}\n")
    spec = load_suite(str(suite)).tasks[0]
    assert spec.sampling == {"samples": 4, "temperature": 0.9, "top_p": 1.0,
                             "verifiers": ["oracle"]}
    run_audit(load_suite(str(suite)), ["fake:a"], tmp_path / "audit",
              load_model=lambda s: MemorizerBackend(s), limit=3,
              command=["lmaudit", "audit"], echo=lambda _: None)
    run_dir = tmp_path / "audit" / "runs" / "a" / "arith"
    results = json.loads((run_dir / "results.json").read_text())
    assert {"pass@4", "maj@4", "best_of_4:oracle"} <= set(results["metrics"])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["invocation"]["sampling"]["samples"] == 4
    assert manifest["task_spec"]["sampling"]["temperature"] == 0.9
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks:\n  arith:\n    sampling: {samples: 4, temperature: 0}\n")
    with pytest.raises(LmauditError, match=r"tasks.arith.sampling: .*temperature 0"):
        load_suite(str(bad))


def test_the_generic_path_on_a_code_task_agrees_with_its_own_sampling(tmp_path: Path) -> None:
    from test_code_tasks import PROBLEMS, ScriptedBackend, _write_jsonl

    data = str(_write_jsonl(tmp_path / "toy.jsonl", PROBLEMS))
    answers: dict[tuple[str, int | None], str] = {
        ("def add", 0): "    return a + b\n", ("def add", 1): "    return b + a\n",
        ("def neg", 3): "    return -x\n",
    }
    native = load_task("humaneval", {"data": data, "samples": "4", "workers": "2"})
    wrapped = apply_sampling(load_task("humaneval", {"data": data, "workers": "2"}),
                             SamplingConfig(4, 0.8, 0.95, seed=0))
    own = evaluate(native, ScriptedBackend(answers), native.samples(), show_progress=False)
    generic = evaluate(wrapped, ScriptedBackend(answers), wrapped.samples(), show_progress=False)
    for mine, theirs in zip(generic, own, strict=True):
        assert mine.metrics["pass@1"] == pytest.approx(theirs.metrics["pass@1"])
        for k in (2, 4):
            assert mine.metrics[f"pass@{k}"] == pytest.approx(theirs.metrics[f"pass@{k}"])
    assert [r.extra["answers_correct"] for r in generic] == [[True, True, False, False],
                                                              [False, False, False, True]]


def test_a_reasoning_task_samples_on_the_correctness_metric_its_headline_and_budgets_use() -> None:
    """gpqa's letter scorer: its verdict (`acc`, "Answer: X" only) and its headline
    `acc_flexible` differ on "The answer is (B)"; pass@k, maj@k and the thinking budget's
    accuracy must all count the same answers correct as the headline (pass@1) does."""
    from lmaudit.core.types import Sample
    from lmaudit.tasks.reasoning import score_answers

    sample = Sample("q", "Which letter?", "B")
    task = ReasoningTask("letters", lambda: [sample], scorer="gpqa_letter", think_tags=None,
                         samples=2, temperature=0.7)
    record = score_answers(task, sample, [("The answer is (B)", 5, "stop"),
                                          ("The answer is (C)", 5, "stop")])
    assert record.metrics["acc_flexible"] == 0.5  # the headline, pass@1
    assert record.extra["answers_correct"] == [True, False]
    assert record.metrics["pass@2"] == 1.0 and record.metrics["pass_at_k"] == 1.0
    assert task._correct_name() == "acc_flexible"


def test_samples_zero_on_the_command_line_is_refused_not_read_as_one() -> None:
    import argparse

    from lmaudit.commands._sampling import sampled_task, sampling_invocation

    args = argparse.Namespace(samples=0, temperature=None, top_p=None, verifier=None)
    stored = sampling_invocation(args)
    assert stored is not None and stored["samples"] == 0
    with pytest.raises(LmauditError, match="--samples must be at least 1, got 0"):
        sampled_task(load_task("arith"), stored, 0)


def test_a_letter_scorer_votes_on_the_answers_its_correctness_metric_read() -> None:
    """maj@k must vote on the extraction the correctness metric (`acc_flexible`) judged:
    three "The answer is (B)" (flexible B, no "Answer: X") against one "Answer: C" is a vote
    for B, not a vote for C with the three B answers abstaining."""
    from lmaudit.core.types import Sample
    from lmaudit.tasks.reasoning import score_answers

    sample = Sample("q", "Which letter?", "B")
    task = ReasoningTask("letters", lambda: [sample], scorer="gpqa_letter", think_tags=None,
                         samples=4, temperature=0.7)
    record = score_answers(task, sample, [("The answer is (B)", 5, "stop")] * 3
                           + [("Answer: C", 5, "stop")])
    assert record.extra["answers_extracted"] == ["B", "B", "B", "C"]
    assert record.metrics["maj@4"] == 1.0
