"""A best-of-N point's verifier cost: the LLM judge's tokens, as its backend counted them,
are stored per answer and priced at the judge model's price (or added as tokens in a
frontier drawn in tokens); a verifier whose cost cannot be priced is said per point."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd
import pytest

from lmaudit.core.runner import evaluate
from lmaudit.core.types import Fingerprint, GenerateRequest, Generation, RequestKind
from lmaudit.core.usage import Price
from lmaudit.report.compute import ComputeRun, Pricing, compute_section
from lmaudit.report.compute_model import TOKENS, USD, CostPoint
from lmaudit.tasks.registry import load_task
from lmaudit.tasks.sampled import SamplingConfig, apply_sampling
from lmaudit.verifiers import Candidate, OracleVerifier
from lmaudit.verifiers.judge import JudgeVerifier


class CountingJudge:
    """Replies `Score: 7` in 4 completion tokens; the prompt counts one token per word."""

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE})

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("scripted", "judge", "1", "none")

    def generate(self, requests: Sequence[GenerateRequest], progress: object = None
                 ) -> list[Generation]:
        return [Generation("Score: 7", "stop", len(str(r.prompt).split()), 4) for r in requests]

    def loglikelihood(self, requests: Sequence[object], progress: object = None) -> list[object]:
        raise NotImplementedError

    loglikelihood_rolling = loglikelihood


def test_the_judges_counted_tokens_are_stored_per_answer() -> None:
    judge = JudgeVerifier(CountingJudge(), "scripted:judge")
    candidates = [Candidate("2 + 3?", "5", "5", True), Candidate("2 + 3?", "six", "6", False)]
    verdicts = judge.verify(candidates)
    prompts = [len(r.prompt.split()) for r in judge.requests(candidates)]  # type: ignore[union-attr]
    assert [(v.score, v.prompt_tokens, v.completion_tokens) for v in verdicts] == [
        (0.7, prompts[0], 4), (0.7, prompts[1], 4)]

    task = apply_sampling(load_task("arith"), SamplingConfig(2, 0.7), [judge, OracleVerifier()])
    from seed_fakes import ScriptedBackend

    (record,) = evaluate(task, ScriptedBackend(lambda r: "5"), task.samples()[:1],
                         show_progress=False)
    stored = record.extra["verifier_tokens"]
    assert set(stored) == {"judge"}  # the oracle spends nothing
    assert [c for _, c in stored["judge"]] == [4, 4] and all(p > 20 for p, _ in stored["judge"])


def _metric(value: float) -> dict[str, object]:
    return {"value": value, "ci_low": 0.0, "ci_high": 1.0, "n": 2, "method": "wilson"}


def _run(with_tokens: bool = True) -> ComputeRun:
    # two problems, 2 answers each: 10 prompt tokens and 50 completion tokens per answer;
    # the judge read 300 + 100 tokens and wrote 5 + 5 per problem
    extra = {"answers": ["a", "b"], "answers_correct": [True, False],
             "answers_completion_tokens": [50, 50]}
    if with_tokens:
        extra["verifier_tokens"] = {"judge": [[300, 5], [100, 5]]}
    names = ["maj@1", "maj@2", "best_of_2:judge", "best_of_2:reward", "best_of_2:oracle"]
    frame = pd.DataFrame({"sample_id": ["p", "q"], "prompt_tokens": [20, 20],
                          "completion_tokens": [100, 100], "acc": [0.5, 0.5],
                          **{n: [1.0, 0.0] for n in names},
                          "extra": [json.dumps(extra)] * 2})
    results = {"metrics": {"acc": _metric(0.5), **{n: _metric(0.5) for n in names}}}
    manifest = {"task_spec": {"samples_per_problem": 2, "verifiers": [
        {"kind": "judge", "model": "api:judge"}, {"kind": "reward", "model": "rm"},
        {"kind": "oracle"}]}}
    return ComputeRun("api:m", "t", frame, results, manifest)


def _points(run: ComputeRun, pricing: Pricing | None) -> dict[str, CostPoint]:
    (frontier,) = compute_section([run], pricing, n_boot=50).frontiers
    return {p.metric: p for p in frontier.points}


def test_a_judge_point_pays_for_the_judges_tokens_at_the_judges_price() -> None:
    pricing = Pricing({"api:m": Price(1.0, 2.0), "api:j*": Price(3.0, 10.0)})
    points = _points(_run(), pricing)
    answers = (20 * 1.0 + 100 * 2.0) / 1e6  # both answers of a problem
    judge = (400 * 3.0 + 10 * 10.0) / 1e6
    assert points["maj@2"].unit == USD
    assert points["maj@2"].cost_per_task.value == pytest.approx(answers)
    assert points["best_of_2:judge"].cost_per_task.value == pytest.approx(answers + judge)
    assert "+ judge api:judge at its price" in points["best_of_2:judge"].cost_source
    assert points["best_of_2:oracle"].cost_per_task.value == pytest.approx(answers)
    reward = points["best_of_2:reward"]
    assert reward.cost_per_task.value == pytest.approx(answers)
    assert "verifier cost not included" in reward.cost_source


def test_without_a_judge_price_or_token_counts_the_point_says_so() -> None:
    no_judge_price = _points(_run(), Pricing({"api:m": Price(1.0, 2.0)}))
    point = no_judge_price["best_of_2:judge"]
    assert point.cost_per_task.value == pytest.approx(220 / 1e6)
    assert "verifier cost not included (no price for judge api:judge" in point.cost_source
    uncounted = _points(_run(with_tokens=False), Pricing({"api:m": Price(1.0, 2.0),
                                                          "api:judge": Price(3.0, 10.0)}))
    assert "judge api:judge recorded no token usage" in uncounted["best_of_2:judge"].cost_source
    # a frontier drawn in tokens adds the judge's tokens as tokens
    in_tokens = _points(_run(), None)
    assert in_tokens["best_of_2:judge"].unit == TOKENS
    assert in_tokens["best_of_2:judge"].cost_per_task.value == pytest.approx(120 + 410)
