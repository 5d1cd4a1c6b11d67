"""Thinking budgets on a reasoning task: options, requests per budget, metrics per budget,
and the report's accuracy-vs-budget section, through `run_task` and `load_report`.

The backend is scripted (the backends themselves are tested in test_budget_forcing*.py):
problem i needs `NEEDED[i]` thinking tokens and answers right only when its budget allows
them, so the accuracy at budget B is known: the share of problems with NEEDED <= B.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from lmaudit.core.runner import run_task
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LmauditError,
    RequestKind,
    Sample,
    ThinkingTrace,
)
from lmaudit.report.html import render_html
from lmaudit.report.json_render import render_json
from lmaudit.report.loading import load_report
from lmaudit.report.terminal import render_terminal
from lmaudit.tasks.reasoning import ReasoningTask
from lmaudit.tasks.registry import TaskOptions
from lmaudit.tasks.thinking_budget import THINKING_OPTIONS, ThinkingPlan, thinking_plan

NEEDED = [2, 5, 9, 14, 3, 30, 7, 12, 1, 20, 6, 11]
BUDGETS = (4, 8, 16)


class ThinkingByBudget:
    """Answers "<think>…</think> N": right when the budget covers the problem's need."""

    capabilities = frozenset({RequestKind.GENERATE})
    fingerprint = Fingerprint("scripted", "thinker", "1", "none")

    def __init__(self) -> None:
        self.seen: list[GenerateRequest] = []

    def generate(self, requests: Sequence[GenerateRequest], progress: Any = None) -> list[Any]:
        out = []
        for request in requests:
            self.seen.append(request)
            i = int((request.prompt or "").split("#")[1].split(":")[0])
            control = request.params.thinking
            budget = control.budget if control is not None and control.budget is not None \
                else 10**6
            used = min(budget, NEEDED[i])
            answer = i if NEEDED[i] <= budget else i + 1
            out.append(Generation(f"<think>{'hm ' * used}</think> {answer}", "stop", 5,
                                  used + 3, thinking=ThinkingTrace(used, used < NEEDED[i])))
        if progress is not None:
            progress(len(requests))
        return out

    def loglikelihood(self, *args: Any, **kwargs: Any) -> list[Any]:
        raise NotImplementedError

    def loglikelihood_rolling(self, *args: Any, **kwargs: Any) -> list[Any]:
        raise NotImplementedError


def _task(plan: ThinkingPlan, **kwargs: Any) -> ReasoningTask:
    samples = [Sample(str(i), f"Problem #{i}: answer {i}.", str(i)) for i in range(len(NEEDED))]
    return ReasoningTask("budgeted", lambda: samples, scorer="numeric", max_tokens=32,
                         thinking=plan, **kwargs)


def test_options_parse_budgets_extension_and_effort() -> None:
    opts = TaskOptions("math500", {"thinking_budget": "512, 256,512", "thinking_extend": "2",
                                   "thinking_effort": "high", "thinking_min": "64"},
                       THINKING_OPTIONS)
    plan = thinking_plan(opts)
    assert plan == ThinkingPlan((256, 512), 2, "high", 64)
    assert plan.spec() == {"thinking_budgets": [256, 512], "thinking_extend": 2,
                           "thinking_effort": "high", "thinking_min": 64}
    assert plan.control(256, None).min_tokens == 64
    assert ThinkingPlan((64,)).spec() == {"thinking_budget": 64}
    with pytest.raises(LmauditError, match="thinking_budget must be token counts"):
        thinking_plan(TaskOptions("t", {"thinking_budget": "many"}, THINKING_OPTIONS))


def test_requests_per_budget_share_seeds_and_leave_room_for_the_answer() -> None:
    task = _task(ThinkingPlan(BUDGETS, extend=1), samples=2, temperature=0.6, seed=5)
    requests = task.requests(task.samples()[0])
    assert len(requests) == 6
    controls = [r.params.thinking for r in requests]
    assert [c.budget for c in controls] == [4, 4, 8, 8, 16, 16]
    assert {c.extend for c in controls} == {1}
    assert [r.params.max_tokens for r in requests] == [36, 36, 40, 40, 48, 48]
    assert [r.params.seed for r in requests] == [5, 6] * 3  # same samples at each budget
    plain = _task(ThinkingPlan()).requests(task.samples()[0])
    assert len(plain) == 1 and plain[0].params.thinking is None


def test_a_budget_sweep_run_reports_accuracy_per_budget(tmp_path: Path) -> None:
    backend = ThinkingByBudget()
    task = _task(ThinkingPlan(BUDGETS))
    run_task(task, backend, tmp_path / "run", show_progress=False)  # type: ignore[arg-type]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["task_spec"]["thinking_budgets"] == list(BUDGETS)
    metrics = results["metrics"]
    for budget in BUDGETS:
        expected = sum(n <= budget for n in NEEDED) / len(NEEDED)
        accuracy = metrics[f"acc_flexible@budget{budget}"]
        assert accuracy["value"] == pytest.approx(expected)
        assert accuracy["ci_low"] <= expected <= accuracy["ci_high"]
        tokens = metrics[f"thinking_tokens@budget{budget}"]["value"]
        assert tokens == pytest.approx(sum(min(n, budget) for n in NEEDED) / len(NEEDED))
    largest = sum(n <= 16 for n in NEEDED) / len(NEEDED)
    assert metrics["acc_flexible"]["value"] == pytest.approx(largest)  # headline: largest

    report = load_report([tmp_path / "run"])
    (curve,) = report.thinking
    assert [p.budget for p in curve.points] == list(BUDGETS)
    assert curve.metric == "acc_flexible" and curve.source == "sweep"
    smallest = sum(n <= 4 for n in NEEDED) / len(NEEDED)
    assert curve.gain is not None and curve.gain.value == pytest.approx(largest - smallest)
    assert curve.gain.method.startswith("paired")
    assert "accuracy rises from 4 to 16 thinking tokens" in curve.reading
    text = render_terminal(report)
    assert "accuracy vs thinking budget" in text and "budget 16:" in text
    gain = 100 * (largest - smallest)
    assert f"paired: {gain:+.1f} [" in text
    assert render_json(report)["thinking"][0]["points"][0]["budget"] == 4
    html = render_html(report)
    assert '<section id="thinking">' in html and 'href="#thinking"' in html


def test_one_run_per_budget_forms_a_curve_too(tmp_path: Path) -> None:
    for budget in (4, 16):
        run_task(_task(ThinkingPlan((budget,))), ThinkingByBudget(),  # type: ignore[arg-type]
                 tmp_path / f"b{budget}", show_progress=False, model_spec="scripted:thinker")
    report = load_report([tmp_path / "b16", tmp_path / "b4"])
    (curve,) = report.thinking
    assert curve.source == "runs" and [p.budget for p in curve.points] == [4, 16]
    expected = (sum(n <= 16 for n in NEEDED) - sum(n <= 4 for n in NEEDED)) / len(NEEDED)
    assert curve.gain is not None and curve.gain.value == pytest.approx(expected)


def test_runs_of_one_budget_with_other_settings_make_separate_curves(tmp_path: Path) -> None:
    """A budget-16 run that also extends thinking is not the budget-16 point of the plain
    runs' curve (the later run of a budget used to replace the earlier in one curve)."""
    for name, plan in (("b4", ThinkingPlan((4,))), ("b16", ThinkingPlan((16,))),
                       ("w4", ThinkingPlan((4,), extend=2)),
                       ("w16", ThinkingPlan((16,), extend=2))):
        run_task(_task(plan), ThinkingByBudget(),  # type: ignore[arg-type]
                 tmp_path / name, show_progress=False, model_spec="scripted:thinker")
    report = load_report([tmp_path / n for n in ("b4", "w4", "b16", "w16")])
    curves = {c.setting: c for c in report.thinking}
    assert set(curves) == {"", "wait=2"}
    assert all([p.budget for p in c.points] == [4, 16] for c in curves.values())
    assert "thinker · budgeted · wait=2 · acc_flexible" in render_terminal(report)


def test_exact_thinking_counts_replace_the_prorated_estimate() -> None:
    task = _task(ThinkingPlan((4, 16)))
    sample = task.samples()[3]  # needs 14 thinking tokens
    responses = ThinkingByBudget().generate(task.requests(sample))
    record = task.score(sample, responses)
    (answer,) = record.extra["thinking"]  # the headline (largest budget) answer
    assert answer["reasoning_tokens"] == 14 and answer["reasoning_tokens_exact"] is True
    assert answer["thinking_forced"] is False and answer["thinking_extensions"] == 0
    assert record.metrics["thinking_tokens@budget4"] == 4
    assert record.metrics["acc_flexible@budget4"] == 0.0
    assert record.metrics["acc_flexible@budget16"] == record.metrics["acc_flexible"] == 1.0
