"""Best-of-N verifiers (`lmaudit.verifiers`): a scripted verifier's exact picks and
accuracies, the LLM judge (parsing, failures recorded), the model's own confidence, and the
oracle, through a sampled generation task."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from lmaudit.cli import main
from lmaudit.core.aggregate import aggregate_records
from lmaudit.core.runner import evaluate
from lmaudit.core.types import GenerateRequest, Generation, LmauditError
from lmaudit.tasks.registry import load_task
from lmaudit.tasks.sampled import SampledTask, SamplingConfig, apply_sampling
from lmaudit.verifiers import (
    Candidate,
    OracleVerifier,
    SelfConfidenceVerifier,
    Verdict,
    parse_verifier,
)
from lmaudit.verifiers.judge import JudgeVerifier, parse_judge_score
from seed_fakes import ScriptedBackend, write_jsonl

# Three problems x 4 samples: which samples are right, and the scores a verifier plants.
RIGHT = [(False, True, False, True), (True, False, False, False), (False, False, True, False)]
PLANTED: list[tuple[float | None, ...]] = [
    (0.9, 0.5, 0.95, 0.7),   # N=1: s0 (wrong); N=2: s0 (0.9 > 0.5); N=4: s2 (0.95, wrong)
    (0.1, 0.8, None, 0.2),   # N=1: s0 (right); N=2: s1 (wrong); N=4: s1 (None never wins)
    (0.3, 0.3, 0.9, None),   # N=1: s0; N=2: tie -> s0 (wrong); N=4: s2 (right)
]


class ScriptedVerifier:
    """Scores planted per problem (found by the candidates' prompt)."""

    label = "scripted"
    needs_logprobs = False

    def __init__(self, prompts: list[str]) -> None:
        self.prompts = prompts
        self.calls = 0

    def spec(self) -> dict[str, Any]:
        return {"kind": "scripted"}

    def verify(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        self.calls += 1
        planted = PLANTED[self.prompts.index(candidates[0].prompt)]
        return [Verdict(s, None if s is not None else "no score") for s in planted]


def _sampled_run(verifiers: Any = None, replies: Any = None) -> tuple[SampledTask, list[Any]]:
    """Arith's first three problems, 4 samples each; sample i of problem p is right when
    RIGHT[p][i] (seed i)."""
    base = load_task("arith")
    samples = base.samples()[:3]
    prompts = [base.context(s) for s in samples]  # type: ignore[attr-defined]
    verifiers = verifiers(prompts) if callable(verifiers) else verifiers
    task = apply_sampling(base, SamplingConfig(4, 0.7, seed=0), verifiers or [])
    assert isinstance(task, SampledTask)

    def reply(request: GenerateRequest) -> str:
        p, i = prompts.index(str(request.prompt)), int(request.params.seed or 0)
        return str(samples[p].target) if RIGHT[p][i] else str(-1 - i)

    backend = ScriptedBackend(replies or reply)
    return task, evaluate(task, backend, samples, show_progress=False)


def test_scripted_verifier_picks_the_planted_best_and_gives_exact_accuracies() -> None:
    task, records = _sampled_run(lambda prompts: [ScriptedVerifier(prompts), OracleVerifier()])
    expected = {1: (0.0, 1.0, 0.0), 2: (0.0, 0.0, 0.0), 4: (0.0, 0.0, 1.0)}
    oracle = {1: (0.0, 1.0, 0.0), 2: (1.0, 1.0, 0.0), 4: (1.0, 1.0, 1.0)}
    for n in (1, 2, 4):
        assert [r.metrics[f"best_of_{n}:scripted"] for r in records] == list(expected[n])
        assert [r.metrics[f"best_of_{n}:oracle"] for r in records] == list(oracle[n])
    assert [r.metrics["verifier_failed:scripted"] for r in records] == [0.0, 0.25, 0.25]
    assert records[1].extra["verifier_scores"]["scripted"] == [0.1, 0.8, None, 0.2]
    assert records[1].extra["verifier_failures"]["scripted"][2] == "no score"
    estimates = aggregate_records(task.metrics, records)
    assert estimates["best_of_1:scripted"].value == pytest.approx(1 / 3)
    assert estimates["best_of_2:scripted"].value == 0.0
    assert estimates["best_of_4:scripted"].value == pytest.approx(1 / 3)
    assert [estimates[f"best_of_{n}:oracle"].value for n in (1, 2, 4)] == pytest.approx(
        [1 / 3, 2 / 3, 1.0])
    assert estimates["best_of_4:oracle"].value == estimates["pass@4"].value  # N = all samples
    for n in (1, 2, 4):  # intervals clustered by problem, inside [0, 1]
        e = estimates[f"best_of_{n}:scripted"]
        assert e.n_clusters == 3 and 0.0 <= e.ci_low <= e.value <= e.ci_high <= 1.0
    assert "verifier_failed:oracle" not in estimates  # the oracle cannot fail
    assert task.spec()["verifiers"] == [{"kind": "scripted"}, {"kind": "oracle"}]


def test_judge_score_parsing() -> None:
    assert parse_judge_score("It is right.\nScore: 7") == Verdict(0.7)
    assert parse_judge_score("score = 3, then on reflection **Score:** 10") == Verdict(1.0)
    assert parse_judge_score("Score: 2.5").score == 0.25
    missing = parse_judge_score("I think it is probably fine")
    assert missing.score is None and "no `Score: N`" in str(missing.failure)
    outside = parse_judge_score("Score: 11")
    assert outside.score is None and "outside 0-10" in str(outside.failure)


def test_llm_judge_through_a_backend_records_malformed_replies_as_failures() -> None:
    verdicts = {"-1": "Score: 9", "-2": "looks right to me", "-3": "Score: 1", "-4": "Score: 0"}

    def judge_reply(request: GenerateRequest) -> str:
        assert request.params.temperature == 0.0 and "### Candidate answer" in str(request.prompt)
        answer = str(request.prompt).split("### Candidate answer\n")[1].split("\n")[0]
        return verdicts.get(answer, "Score: 5")  # a right answer gets 5

    judge_backend = ScriptedBackend(judge_reply)
    judge = JudgeVerifier(judge_backend, "scripted:judge")
    task, records = _sampled_run([judge])
    # problem 0: wrong (-1) 0.9, right 0.5, wrong (-3) 0.1, right 0.5 -> N=4 picks s0, wrong
    assert records[0].extra["verifier_scores"]["judge"] == [0.9, 0.5, 0.1, 0.5]
    assert records[0].metrics["best_of_4:judge"] == 0.0
    # problem 1: right 0.5, (-2) malformed, (-3) 0.1, (-4) 0.0 -> picks s0, right
    assert records[1].extra["verifier_scores"]["judge"] == [0.5, None, 0.1, 0.0]
    assert "looks right" in records[1].extra["verifier_failures"]["judge"][1]
    assert records[1].metrics["verifier_failed:judge"] == 0.25
    assert records[1].metrics["best_of_4:judge"] == 1.0
    assert len(judge_backend.seen) == 12  # one judge request per answer
    assert task.spec()["verifiers"][0]["model"] == "scripted:judge"


def _with_logprobs(text: str, logprobs: tuple[float, ...] | None) -> Generation:
    return Generation(text, token_logprobs=logprobs)


def test_self_confidence_picks_the_answer_with_the_highest_mean_token_logprob() -> None:
    task = apply_sampling(load_task("arith"), SamplingConfig(4, 0.7),
                          [SelfConfidenceVerifier(), OracleVerifier()])
    sample = task.samples()[0]
    right = str(sample.target)
    requests = task.requests(sample)
    assert all(isinstance(r, GenerateRequest) and r.params.logprobs for r in requests)
    answers = [_with_logprobs("1", (-0.5, -1.5)), _with_logprobs(right, (-0.2, -0.4)),
               _with_logprobs("2", None), _with_logprobs("3", (-0.1,))]
    record = task.score(sample, answers)
    assert record.extra["verifier_scores"]["self"] == pytest.approx([-1.0, -0.3, None, -0.1])
    assert record.metrics["best_of_1:self"] == 0.0
    assert record.metrics["best_of_2:self"] == 1.0  # -0.3 > -1.0
    assert record.metrics["best_of_4:self"] == 0.0  # -0.1 wins: the confident wrong answer
    assert record.metrics["verifier_failed:self"] == 0.25
    assert record.metrics["best_of_4:oracle"] == 1.0


def test_verifier_specs() -> None:
    assert isinstance(parse_verifier("oracle"), OracleVerifier)
    assert isinstance(parse_verifier("self"), SelfConfidenceVerifier)
    for bad in ("judge", "reward=", "best", "oracle=x"):
        with pytest.raises(LmauditError, match="--verifier"):
            parse_verifier(bad)
    with pytest.raises(LmauditError, match="--samples N"):
        apply_sampling(load_task("arith"), SamplingConfig(1, 0.0), [OracleVerifier()])


def test_score_stored_samples_of_any_scorer_task_with_verifiers(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [  # arith (a plain generation task): 2 problems x 3 samples
        {"id": "p1", "target": "12", "responses": ["12", "7", "7"],
         "token_logprobs": [[-0.9], [-0.1, -0.3], [-2.0]]},
        {"id": "p2", "target": "5", "sample_index": 1, "response": "5",
         "token_logprobs": [-0.2]},
        {"id": "p2", "target": "5", "sample_index": 0, "response": "4",
         "token_logprobs": [-0.5, -0.7]},
        {"id": "p2", "target": "5", "sample_index": 2, "response": "5"},
    ]
    responses = write_jsonl(tmp_path / "r.jsonl", rows)
    out = tmp_path / "run"
    assert main(["score", "--task", "arith", "--responses", str(responses), "--out", str(out),
                 "--verifier", "self", "--verifier", "oracle"]) == 0
    metrics = json.loads((out / "results.json").read_text())["metrics"]
    assert metrics["acc_flexible"]["value"] == pytest.approx((1 / 3 + 2 / 3) / 2)  # avg@3
    assert metrics["maj@1"]["value"] == pytest.approx(0.5)  # p1: 12 (right); p2: 4 (wrong)
    assert metrics["maj@2"]["value"] == pytest.approx(0.5)  # p1: tie -> 12; p2: tie -> 4
    # self: p1 picks "7" (-0.2 beats -0.9) at N=2; p2 picks "5" (-0.2 beats -0.6) at N=2
    assert metrics["best_of_1:self"]["value"] == pytest.approx(0.5)
    assert metrics["best_of_2:self"]["value"] == pytest.approx(0.5)
    assert metrics["verifier_failed:self"]["value"] == pytest.approx((0 + 1 / 3) / 2)
    assert metrics["best_of_2:oracle"]["value"] == 1.0
    one = write_jsonl(tmp_path / "one.jsonl", [{"id": "p", "target": "1", "response": "1"}])
    assert main(["score", "--task", "arith", "--responses", str(one), "--out",
                 str(tmp_path / "one"), "--verifier", "oracle"]) != 0
    # --scorer takes the plain one-answer path, which has no verifiers: refused, not ignored
    assert main(["score", "--task", "arith", "--scorer", "numeric", "--responses", str(one),
                 "--out", str(tmp_path / "scorer"), "--verifier", "oracle"]) != 0
    assert not (tmp_path / "scorer").exists()


def test_the_judge_asks_nothing_twice_with_a_request_cache(tmp_path: Path) -> None:
    from lmaudit.core.cache import RequestCache

    backend = ScriptedBackend(lambda r: "Score: 8" if "### Candidate answer\n5" in str(r.prompt)
                              else "no idea")
    candidates = [Candidate("2 + 3?", "5", "5", True), Candidate("2 + 3?", "6", "6", False)]
    with RequestCache(tmp_path / "cache") as cache:
        judge = JudgeVerifier(backend, "scripted:judge")
        judge.use_cache(cache)
        first = judge.verify(candidates)
        assert len(backend.seen) == 2
        again = JudgeVerifier(backend, "scripted:judge")
        again.use_cache(cache)
        assert again.verify(candidates) == first  # from the cache, failures included
        assert len(backend.seen) == 2
    assert first[0] == Verdict(0.8) and first[1].score is None


def test_every_run_gives_its_request_cache_to_the_judge(tmp_path: Path) -> None:
    """`run_task` (lmaudit run, audit run stages) hands the run's cache to a judge verifier:
    a second run of the same problems asks the judge nothing."""
    from lmaudit.core.cache import RequestCache
    from lmaudit.core.runner import run_task

    judge_backend = ScriptedBackend(lambda r: "Score: 7")
    model = ScriptedBackend(lambda r: "5")
    with RequestCache(tmp_path / "cache") as cache:
        for name in ("a", "b"):
            task = apply_sampling(load_task("arith"), SamplingConfig(2, 0.7),
                                  [JudgeVerifier(judge_backend, "scripted:judge")])
            run_task(task, model, tmp_path / name, limit=3, show_progress=False, cache=cache)
    # 3 problems; a problem's two answers are both "5": one distinct greedy judge prompt,
    # asked once; the second run asks nothing
    assert len(judge_backend.seen) == 3


def test_verifiers_of_a_wrapped_task_with_thinking_tags_read_the_answer_only() -> None:
    """`Candidate.text` is the answer without its thinking for any task that removes
    thinking (`think_tags`), as for reasoning tasks; the stored answers keep it all."""
    seen: list[str] = []

    class Reader:
        label, needs_logprobs = "reader", False

        def spec(self) -> dict[str, Any]:
            return {"kind": "reader"}

        def verify(self, candidates: Sequence[Candidate]) -> list[Verdict]:
            seen.extend(c.text for c in candidates)
            return [Verdict(0.0) for _ in candidates]

    base = load_task("arith")
    base.think_tags = ("<think>", "</think>")  # type: ignore[attr-defined]
    task = apply_sampling(base, SamplingConfig(2, 0.7), [Reader()])
    sample = base.samples()[0]
    (record,) = evaluate(task, ScriptedBackend(lambda r: "<think>7 or 8?</think> 8"),
                         [sample], show_progress=False)
    assert seen == ["8", "8"]
    assert record.extra["answers"] == ["<think>7 or 8?</think> 8"] * 2
