"""LLM-judge pipeline with a scripted judge backend (a test double), verdict parsing,
position consistency, win rates (raw and length-controlled) and Cohen's kappa."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from lmaudit.arena.agreement import cohen_kappa
from lmaudit.arena.battles import battles_from_frame
from lmaudit.arena.judge_report import evaluate_judgments
from lmaudit.arena.judges import (
    ModelOutputs,
    judgments_to_battles,
    parse_verdict,
    read_outputs,
    run_judge,
    summarize_judgments,
)
from lmaudit.arena.lc_winrate import length_controlled_win_rate
from lmaudit.core.backend import ProgressCallback
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
)


class ScriptedJudge:
    """Prefers the answer with the higher `quality=N`; a gap of 2+ is a strong verdict.
    Equal quality: it favours whichever answer is shown first (position bias). Prompts
    whose id contains `mute` get a reply without a verdict."""

    capabilities = frozenset({RequestKind.GENERATE})
    fingerprint = Fingerprint("fake", "scripted-judge", "1", "none")

    def __init__(self) -> None:
        self.requests: list[GenerateRequest] = []

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: ProgressCallback | None = None
    ) -> list[LoglikelihoodResult]:
        raise NotImplementedError("a judge only generates")

    def loglikelihood_rolling(
        self,
        requests: Sequence[RollingLoglikelihoodRequest],
        progress: ProgressCallback | None = None,
    ) -> list[RollingLoglikelihoodResult]:
        raise NotImplementedError("a judge only generates")

    def generate(
        self, requests: Sequence[GenerateRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        self.requests.extend(requests)
        replies = []
        for request in requests:
            text = request.messages[-1].content if request.messages else ""
            qa, qb = (int(q) for q in re.findall(r"quality=(\d+)", text))
            if "mute" in text:
                replies.append(Generation("Both answers are fine, I cannot decide."))
                continue
            if qa == qb:
                verdict = "A>B"
            elif qa > qb:
                verdict = "A>>B" if qa - qb >= 2 else "A>B"
            else:
                verdict = "B>>A" if qb - qa >= 2 else "B>A"
            replies.append(
                Generation(f"Draft: [[A=B]]. On reflection, final verdict: [[{verdict}]]")
            )
        return replies


def test_parse_verdict() -> None:
    assert parse_verdict("My final verdict is [[A>>B]].") == 2
    assert parse_verdict("[[B>A]]") == -1
    assert parse_verdict("[[A<B]]") == -1
    assert parse_verdict("[[B<<A]]") == 2
    assert parse_verdict("[[ A = B ]]") == 0
    assert parse_verdict("first [[A>B]] then [[B>>A]]") == -2  # last match wins
    assert parse_verdict("[[A>A]] no real verdict") is None
    assert parse_verdict("A is better") is None


def _outputs() -> list[ModelOutputs]:
    prompts = {"p1": "q1", "p2": "q2", "p3": "q3", "mute-4": "q4 mute"}
    quality = {"x": [3, 1, 2, 2], "y": [1, 1, 3, 2], "z": [2, 4, 2, 2]}
    return [
        ModelOutputs(
            model,
            {
                pid: (text, f"answer quality={q[i]} " + "w " * (5 * q[i]))
                for i, (pid, text) in enumerate(prompts.items())
            },
        )
        for model, q in quality.items()
    ]


def test_pipeline_both_orders_consistency_and_battles() -> None:
    judge = ScriptedJudge()
    judgments = run_judge(judge, _outputs())
    assert len(judge.requests) == 3 * 4 * 2  # 3 pairs x 4 prompts x 2 orders
    shown = [(j.prompt_id, j.first, j.second) for j in judgments]
    assert ("p1", "x", "y") in shown and ("p1", "y", "x") in shown
    summary = summarize_judgments(judgments)
    assert summary.n_judgments == 24 and summary.n_unparseable == 6
    # 9 prompt pairs with both orders parsed; the equal-quality ones (p2 x-y, p3 x-z)
    # flip with the order: consistency 7/9
    assert summary.n_consistency_pairs == 9
    assert summary.position_consistency == pytest.approx(7 / 9)
    # by hand: strong verdicts where qualities differ by 2+ (p1 x-y, p2 x-z, p2 y-z, each
    # order once as A>>B and once as B>>A); equal qualities give A>B in both orders
    assert summary.verdict_counts == {"A>>B": 3, "A>B": 8, "A=B": 0, "B>A": 4, "B>>A": 3}
    assert summary.first_position_win_rate == pytest.approx(11 / 18)
    battles = judgments_to_battles(judgments)
    assert battles.n_battles == 6 * 3 + 12  # strong verdicts count 3 times
    x_vs_z_p2 = battles.frame[
        (battles.frame["prompt_id"] == "p2")
        & (battles.frame["model_a"] == "x")
        & (battles.frame["model_b"] == "z")
    ]
    assert x_vs_z_p2[["winner", "count"]].values.tolist() == [["model_b", 3]]


def test_report_win_rates_and_human_agreement() -> None:
    outputs = _outputs()
    judgments = run_judge(ScriptedJudge(), outputs, baseline="y")
    human = battles_from_frame(
        pd.DataFrame(
            {
                "model_a": ["x", "y", "z"],
                "model_b": ["y", "z", "y"],
                "winner": ["model_a", "model_b", "tie"],
                "prompt_id": ["p1", "p2", "p3"],
            }
        ),
        source="human",
        locations=["1", "2", "3"],
    )
    report = evaluate_judgments(judgments, outputs, baseline="y", human=human, bootstrap=200)
    by_model = {r.model: r for r in report.against_baseline}
    # x vs y per prompt (mean over both orders): p1 1, p2 0.5 (order-dependent), p3 0
    assert by_model["x"].win_rate.value == pytest.approx(100 * 1.5 / 3)
    assert by_model["x"].n_prompts == 3
    assert 0 <= by_model["x"].lc_win_rate.ci_low <= by_model["x"].lc_win_rate.ci_high <= 100
    # judge: p1 x>y, p2 z>y, p3 z vs y: y better (3 vs 2) -> human said tie
    assert report.agreement is not None
    assert report.agreement.n == 3 and report.agreement.agreement == pytest.approx(2 / 3)


def test_cohen_kappa_by_hand() -> None:
    a = ["x", "x", "y", "tie"]
    b = ["x", "y", "y", "tie"]
    # p_o = 3/4; p_e = .5*.25 + .25*.5 + .25*.25 = .3125; kappa = .4375 / .6875
    assert cohen_kappa(a, b) == pytest.approx(0.4375 / 0.6875)
    assert cohen_kappa(a, a) == pytest.approx(1.0)


def test_length_controlled_win_rate_removes_length_bias() -> None:
    """Simulated judge: logit P(model preferred) = 0 + 1.5 * tanh(delta / sd); the model
    writes longer answers on average, so its raw win rate is inflated while the
    length-controlled one is 50% (the truth at zero length difference)."""
    rng = np.random.default_rng(0)
    n = 800
    base_len = rng.integers(200, 800, n)
    model_len = base_len + rng.normal(150, 200, n).astype(int).clip(-150, None)
    delta = model_len - base_len
    prefer = rng.random(n) < expit(1.5 * np.tanh(delta / delta.std(ddof=1)))
    preferences = {f"p{i}": float(v) for i, v in enumerate(prefer)}
    model = ModelOutputs("m", {f"p{i}": ("q", "x" * int(model_len[i])) for i in range(n)})
    baseline = ModelOutputs("b", {f"p{i}": ("q", "x" * int(base_len[i])) for i in range(n)})
    result = length_controlled_win_rate(preferences, model, baseline, bootstrap=300, seed=1)
    assert result.win_rate.ci_low > 55  # biased upwards by length
    assert result.lc_win_rate.ci_low < 50 < result.lc_win_rate.ci_high
    assert result.length_coefficient == pytest.approx(1.5, abs=0.4)


def test_read_outputs(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"id": 1, "instruction": "q", "output": "a"}) + "\n")
    outputs = read_outputs(path)
    assert outputs.model == "mine" and outputs.answers == {"1": ("q", "a")}
