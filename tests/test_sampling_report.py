"""The report's "Repeated sampling" section: pass@k, maj@k and best-of-N curves from a
stored multi-sample run, with the same numbers in the terminal, HTML and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lmaudit import report
from lmaudit.cli import main
from lmaudit.report.json_render import render_json
from seed_fakes import write_jsonl

# arith answers, four per problem: p1 right at samples 1 and 3, p2 at 0, p3 never, p4 always
ROWS: list[dict[str, Any]] = [
    {"id": "p1", "target": "3", "responses": ["1", "3", "1", "3"],
     "token_logprobs": [[-0.1], [-0.5], [-0.2], [-0.3]]},
    {"id": "p2", "target": "5", "responses": ["5", "6", "6", "7"],
     "token_logprobs": [[-0.9], [-0.1], [-0.2], [-0.3]]},
    {"id": "p3", "target": "8", "responses": ["1", "2", "1", "2"]},
    {"id": "p4", "target": "9", "responses": ["9", "9", "9", "9"]},
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sampling-report")
    responses = write_jsonl(root / "r.jsonl", ROWS)
    assert main(["score", "--task", "arith", "--responses", str(responses), "--out",
                 str(root / "run"), "--verifier", "self", "--verifier", "oracle"]) == 0
    return root / "run"


def test_the_section_has_every_series_with_the_runs_own_estimates(run_dir: Path) -> None:
    built = report.load_report([run_dir])
    (curves,) = built.sampling
    assert (curves.task, curves.samples, curves.metric) == ("arith", 4, "acc_flexible")
    series = {s.name: {p.k: p.estimate.value for p in s.points} for s in curves.series}
    assert set(series) == {"pass@k", "maj@k", "best-of-k (self)", "best-of-k (oracle)"}
    # pass@1 = mean correctness (2/4, 1/4, 0, 1); pass@4: p1, p2, p4
    assert series["pass@k"][1] == pytest.approx((0.5 + 0.25 + 0 + 1) / 4)
    assert series["pass@k"][4] == pytest.approx(3 / 4)
    assert series["maj@k"][4] == pytest.approx(1 / 4)  # p1: tie 1/3 -> 1; p2: 6 wins
    # self: p1 always picks "1" (-0.1); p2 "5" at N=1, then "6" (-0.1); p3 unscored
    assert series["best-of-k (self)"] == pytest.approx({1: 0.5, 2: 0.25, 4: 0.25})
    assert series["best-of-k (oracle)"] == pytest.approx({1: 0.5, 2: 0.75, 4: 0.75})
    results = json.loads((run_dir / "results.json").read_text())["metrics"]
    assert series["maj@k"][2] == pytest.approx(results["maj@2"]["value"])
    gains = {g.name: g for g in curves.gains}
    oracle = gains["best-of-k (oracle)"].difference  # per problem: .5, .75, 0, 0 -> 0.3125
    assert gains["best-of-k (oracle)"].k == 4
    assert oracle.value == pytest.approx((0.5 + 0.75 + 0 + 0) / 4)
    assert oracle.ci_low <= oracle.value <= oracle.ci_high
    assert "best-of-k (oracle) at k=4 minus pass@1: +31.2 points" in curves.reading()


def test_the_section_renders_in_terminal_html_and_json(run_dir: Path) -> None:
    built = report.load_report([run_dir])
    text = report.render_terminal(built)
    assert "repeated sampling" in text and "best-of-k (self)" in text
    # vote shares (.5, .5, .5, 1) against right votes (0, 0, 0, 1): Brier .25 * 3 / 4
    assert "Brier 0.188" in text
    html = report.render_html(built)
    section = html[html.index('<section id="sampling">'):]
    assert "<svg" in section and "maj@k" in section and 'href="#sampling"' in html
    data = render_json(built)
    assert data["sampling"][0]["series"][0]["name"] == "pass@k"
