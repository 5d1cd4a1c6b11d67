"""The report carries `lmaudit diff`: two models' runs of one task get a typed PairDiff
(where their samples first part, counts per cause, share of the gap) that the terminal,
HTML and JSON renderers show from the same object."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmaudit.report import load_report
from lmaudit.report.html import render_html
from lmaudit.report.json_render import render_json
from lmaudit.report.terminal import render_terminal
from test_interop_diff import _rows, _score


def test_report_attributes_a_planted_prompt_and_answer_change(tmp_path: Path) -> None:
    a = _score(tmp_path, "a", _rows(), "contains")
    # B: two prompts edited (one of them also answered wrong), one other answer wrong
    b = _score(tmp_path, "b", _rows(prompt_edit={3, 4}, wrong={4, 7}), "contains")
    report = load_report([a, b])
    assert len(report.models) == 2, report.models
    [pair] = report.diffs
    assert (pair.model_a, pair.model_b) == report.models
    diff = pair.diff
    assert diff.metric == "acc" and diff.n_aligned == 10 and pair.n_differing == 2
    # sample 4 (prompt edited, answer wrong) parts at the prompt; sample 7 at the response
    assert [(c.cause, c.count, c.gap) for c in diff.causes] == [
        ("prompt", 1, pytest.approx(-0.1)), ("response", 1, pytest.approx(-0.1))]
    assert [(c.cause, c.count) for c in diff.same_score_differences] == [("prompt", 1)]
    assert sum(c.gap for c in diff.causes) == pytest.approx(diff.gap) == pytest.approx(-0.2)
    text = render_terminal(report)
    assert "why the scores differ" in text and "first part at prompt" in text
    assert "same score, yet the runs part at: prompt 1" in text  # sample 3, as lmaudit diff
    html = render_html(report)
    assert 'id="diffs"' in html and "first part at" in html and "char 32" in html
    assert "same score, yet the runs part at: prompt 1" in html
    stored = render_json(report)["diffs"][0]
    assert stored["n_differing"] == 2
    assert [c["cause"] for c in stored["diff"]["causes"]] == ["prompt", "response"]


def test_report_without_a_pair_has_no_diff_section(tmp_path: Path) -> None:
    report = load_report([_score(tmp_path, "a", _rows(), "contains")])
    assert report.diffs == ()
    assert 'id="diffs"' not in render_html(report)
    assert "why the scores differ" not in render_terminal(report)
