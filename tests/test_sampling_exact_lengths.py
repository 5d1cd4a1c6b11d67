"""Exact per-answer token counts of multi-sample runs: stored per answer (`--samples` on any
task and reasoning tasks), used by the length analysis and the cost of the first k answers
instead of prorating per-problem totals by characters (estimates only for old runs, named
as such); a thinking-budget sweep is analysed on its largest budget's answers only."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from lmaudit.core.runner import evaluate
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    RequestKind,
    ThinkingTrace,
)
from lmaudit.report.compute import ComputeRun, compute_section
from lmaudit.report.compute_lengths import (
    COMPLETION_EXACT,
    PRORATED,
    REASONING,
    THINKING_EXACT,
    WORDS,
    answer_lengths,
)
from lmaudit.report.compute_settings import variants
from lmaudit.tasks.builtins import _arith_samples
from lmaudit.tasks.reasoning import ReasoningTask
from lmaudit.tasks.registry import load_task
from lmaudit.tasks.sampled import SamplingConfig, apply_sampling


def _tokens(seed: int) -> int:
    return 3 + 7 * seed  # deliberately unrelated to the answer's characters


class CountingBackend:
    """Answers `reply(request)` with `_tokens(seed)` completion tokens and, with `think`,
    a thinking trace of 100 + seed tokens (what budget forcing reports)."""

    def __init__(self, think: bool = False) -> None:
        self.think = think

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE})

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("scripted", "counting", "1", "none")

    def generate(self, requests: Sequence[GenerateRequest], progress: object = None
                 ) -> list[Generation]:
        out = []
        for request in requests:
            seed = int(request.params.seed or 0)
            text = ("<think>" + "hm " * (seed + 1) + "</think> 4" if self.think
                    else "4" * (seed + 1))
            trace = ThinkingTrace(100 + seed) if self.think else None
            out.append(Generation(text, "stop", 5, _tokens(seed), thinking=trace))
        return out

    def loglikelihood(self, requests: Sequence[object], progress: object = None) -> list[object]:
        raise NotImplementedError

    loglikelihood_rolling = loglikelihood


def test_sampled_task_stores_each_answers_exact_completion_tokens() -> None:
    task = apply_sampling(load_task("arith"), SamplingConfig(3, 0.7, 1.0, 2))
    (record,) = evaluate(task, CountingBackend(), task.samples()[:1], show_progress=False)
    assert record.extra["answers_completion_tokens"] == [_tokens(2), _tokens(3), _tokens(4)]
    assert "answers_thinking_tokens" not in record.extra  # no backend count of thinking


def test_reasoning_task_stores_exact_completion_and_thinking_tokens() -> None:
    task = ReasoningTask("arith", lambda: _arith_samples("test", multiple_choice=False),
                         scorer="numeric", samples=3, temperature=0.6, seed=0)
    (record,) = evaluate(task, CountingBackend(think=True), task.samples()[:1],
                         show_progress=False)
    assert record.extra["answers_completion_tokens"] == [3, 10, 17]
    assert record.extra["answers_thinking_tokens"] == [100, 101, 102]


def _frame(extras: list[dict[str, object]], completion: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"sample_id": [f"p{i}" for i in range(len(extras))],
                         "completion_tokens": completion,
                         "extra": [json.dumps(e) for e in extras]})


def test_lengths_use_exact_counts_and_name_the_measure() -> None:
    # prorating 30 tokens over 1 + 9 characters would give 3 and 27; the answers counted 20, 10
    extra = {"answers": ["a", "bbbbbbbbb"], "answers_correct": [True, False]}
    old = _frame([extra], [30])
    assert answer_lengths(old) == (["p0", "p0"], [3.0, 27.0], [1, 0], PRORATED)
    new = _frame([{**extra, "answers_completion_tokens": [20, 10]}], [30])
    assert answer_lengths(new) == (["p0", "p0"], [20.0, 10.0], [1, 0], COMPLETION_EXACT)
    # a sweep's row total holds every budget's answers: never prorated, words instead
    assert answer_lengths(old, sweep=True)[1:] == ([1.0, 1.0], [1, 0], WORDS)  # type: ignore[index]

    thinking = [{"thinking_chars": 40, "reasoning_tokens": 12},
                {"thinking_chars": 80, "reasoning_tokens": 24}]
    estimate = {**extra, "thinking": thinking}
    assert answer_lengths(_frame([estimate], [30]))[1:] == ([12.0, 24.0], [1, 0], REASONING)  # type: ignore[index]
    exact = {**estimate, "answers_thinking_tokens": [50, 7]}
    assert answer_lengths(_frame([exact], [30]))[1:] == ([50.0, 7.0], [1, 0], THINKING_EXACT)  # type: ignore[index]
    # budget-forced answers stored before answers_thinking_tokens: the thinking record's count
    forced = {**extra, "thinking": [{**t, "reasoning_tokens_exact": True} for t in thinking]}
    assert answer_lengths(_frame([forced], [30]))[3] == THINKING_EXACT  # type: ignore[index]
    # one problem without exact counts makes the whole run an estimate
    mixed = _frame([exact, estimate], [30, 30])
    assert answer_lengths(mixed)[3] == REASONING  # type: ignore[index]


def _metric(value: float) -> dict[str, object]:
    return {"value": value, "ci_low": 0.0, "ci_high": 1.0, "n": 2, "method": "wilson"}


def test_cost_of_the_first_k_answers_uses_their_exact_tokens() -> None:
    # 4 answers of 1 character each: prorating by characters gives half for k = 2, but the
    # first two answers counted 10 + 30 of 100 tokens
    extra = {"answers": ["1", "2", "3", "4"], "answers_correct": [True] * 4}
    results = {"metrics": {"acc": _metric(1.0), "maj@1": _metric(1.0), "maj@2": _metric(1.0),
                           "maj@4": _metric(1.0)}}
    manifest = {"task_spec": {"samples_per_problem": 4}}
    old = _frame([extra], [100])
    new = _frame([{**extra, "answers_completion_tokens": [10, 30, 20, 40]}], [100])
    by_old = {v.metric: v for v in variants(manifest, results, old, "acc")}
    by_new = {v.metric: v for v in variants(manifest, results, new, "acc")}
    assert float(np.asarray(by_old["maj@2"].completion)[0]) == pytest.approx(0.5)
    assert not by_old["maj@2"].exact
    assert float(np.asarray(by_new["maj@2"].completion)[0]) == pytest.approx(0.4)
    assert float(np.asarray(by_new["maj@1"].completion)[0]) == pytest.approx(0.1)
    assert by_new["maj@2"].exact and by_new["maj@4"].exact

    frame = new.assign(prompt_tokens=[8], **{"maj@1": [1.0], "maj@2": [1.0], "maj@4": [1.0],
                                            "acc": [1.0]})
    section = compute_section([ComputeRun("m", "t", frame, results, manifest)], n_boot=50)
    costs = {p.metric: p.cost_per_task.value for p in section.frontiers[0].points}
    assert costs["maj@2"] == pytest.approx(8 * 2 / 4 + 40)
    assert not any("estimated" in n for n in section.notes)
    stale = compute_section([ComputeRun("m", "t", frame.assign(extra=old["extra"]), results,
                                        manifest)], n_boot=50)
    assert any("m · t: completion cost" in n and "estimated" in n for n in stale.notes)


def test_a_budget_sweep_is_analysed_on_its_largest_budget_only() -> None:
    # the stored answers are the largest budget's; the row totals hold both budgets' tokens
    extras = [{"answers": ["x y", "x"], "answers_correct": [True, False],
               "answers_completion_tokens": [40 + i, 10]} for i in range(6)]
    frame = _frame(extras, [500] * 6).assign(prompt_tokens=[8] * 6)
    manifest = {"task_spec": {"samples_per_problem": 2, "thinking_budgets": [64, 256]}}
    (evidence,) = compute_section([ComputeRun("m", "t", frame, {"metrics": {}}, manifest)],
                                  n_boot=50).lengths
    assert "budget=256" in evidence.setting
    assert "largest thinking budget (256) only" in evidence.measure
    assert "(64)" in evidence.measure
    assert evidence.measure.startswith(COMPLETION_EXACT)
    # within each problem the correct answer is 30 + i tokens longer: mean 32.5
    assert evidence.analysis.within_difference is not None
    assert evidence.analysis.within_difference.value == pytest.approx(32.5)
