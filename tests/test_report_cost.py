"""The report's "Cost and test-time compute" section, end to end on real run directories.

Runs are written by the project's runner with a scripted reasoning backend whose answers
depend on (question, seed) by a known rule:

- a question is *hard* or *easy* by a fixed hash; easy questions think 20 words, hard
  ones 80 (plus 0, 10, 5, 5 words for seeds 0-3, the same for right and wrong answers);
- easy questions are answered right except by sample 3, hard ones only by sample 3, so
  within every problem the wrong answers are exactly as long as the right ones on average:
  a planted Simpson's paradox (long answers are wrong more often only because hard
  problems draw long answers).

Completion tokens are the answer's characters and the thinking is `w ` repeated, so the
reasoning tokens of an answer are exactly twice its thinking words.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmaudit.cli import main
from lmaudit.core.runner import run_task
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    RequestKind,
    Usage,
)
from lmaudit.core.usage import Price
from lmaudit.report import AuditReport, load_report, render_html, render_json, render_terminal
from lmaudit.report.compute import Pricing, parse_compute_rate, parse_model_price, run_setting
from lmaudit.report.compute_model import TOKENS, USD
from lmaudit.stats.length import DIFFICULTY_ONLY
from lmaudit.tasks.builtins import _arith_samples
from lmaudit.tasks.reasoning import ReasoningTask

LIMIT = 60
PROMPT_TOKENS = 50
EVIL = "scripted:<b>evil</b>"


def _hard(question: str) -> bool:
    return int(hashlib.sha256(question.encode()).hexdigest()[:8], 16) % 2 == 0


class ThinkingBackend:
    """Answers `<think>w w ...</think> ANSWER` by the rule of the module docstring;
    `skill`: share of the simple rule's right answers kept (1.0: the rule as stated)."""

    def __init__(self, name: str, answers: dict[str, str], skill: float = 1.0) -> None:
        self.name, self.answers, self.skill = name, answers, skill

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE})

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("scripted", self.name, "v1", "none")

    def _one(self, request: GenerateRequest) -> Generation:
        prompt = request.prompt or ""
        seed = request.params.seed or 0
        hard = _hard(prompt)
        words = (80 if hard else 20) + (0, 10, 5, 5)[seed % 4]
        right = (seed % 4 == 3) if hard else (seed % 4 != 3)
        right = right and int(hashlib.sha256(prompt.encode()).hexdigest()[8:12], 16) \
            < self.skill * 0x10000
        target = self.answers[prompt]
        answer = target if right else str(int(target) + 1)
        text = "<think>" + "w " * words + "</think> " + answer
        return Generation(text, "stop", PROMPT_TOKENS, len(text),
                          usage=Usage(PROMPT_TOKENS, len(text), 0.01 * words))

    def generate(self, requests: Sequence[GenerateRequest], progress: object = None
                 ) -> list[Generation]:
        return [self._one(r) for r in requests]

    def loglikelihood(self, requests: Sequence[object], progress: object = None) -> list[object]:
        raise NotImplementedError

    loglikelihood_rolling = loglikelihood


def _task(samples: int) -> ReasoningTask:
    return ReasoningTask(
        "arith", lambda: _arith_samples("test", multiple_choice=False), scorer="numeric",
        samples=samples, temperature=0.6 if samples > 1 else 0.0, seed=0, max_tokens=256)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cost")
    task = _task(1)
    answers = {task.context(s): str(s.target) for s in task.samples()[:LIMIT]}
    made = {}
    for key, spec, samples, skill in (("n4", EVIL, 4, 1.0), ("n1", EVIL, 1, 1.0),
                                      ("weak", "scripted:weak", 4, 0.3)):
        made[key] = root / key
        run_task(_task(samples), ThinkingBackend(spec, answers, skill), made[key],
                 limit=LIMIT, model_spec=spec, show_progress=False)
    return made


PRICING = Pricing({EVIL: Price(1.0, 4.0), "scripted:w*": Price(0.1, 0.4)})


@pytest.fixture(scope="module")
def report(runs: dict[str, Path]) -> AuditReport:
    return load_report(list(runs.values()), PRICING)


def _expected_cost(run_dir: Path, price: Price) -> float:
    frame = pd.read_parquet(run_dir / "samples.parquet")
    return float(np.mean((frame["prompt_tokens"] * price.prompt
                          + frame["completion_tokens"] * price.completion) / 1e6))


def _easy_share(run_dir: Path) -> float:
    frame = pd.read_parquet(run_dir / "samples.parquet")
    return float(np.mean([not _hard(p) for p in frame["prompt"]]))


def test_cost_points_and_frontier(report: AuditReport, runs: dict[str, Path]) -> None:
    assert report.compute is not None
    (frontier,) = report.compute.frontiers
    assert frontier.task == "arith" and frontier.unit == USD
    assert frontier.metric == "acc_flexible"
    n4 = {p.setting: p for p in frontier.points if p.model == EVIL and p.metric != "acc_flexible"}
    (n1,) = [p for p in frontier.points if p.model == EVIL and p.metric == "acc_flexible"]
    weak = {p.setting: p for p in frontier.points if p.model == "scripted:weak"}
    # a run of 4 samples gives the majority vote over its first 1, 2 and 4 answers
    assert set(n4) == set(weak) == {"N=1", "N=2 vote", "N=4 vote"} and n1.setting == ""
    assert [n4[s].metric for s in ("N=1", "N=2 vote", "N=4 vote")] == ["maj@1", "maj@2",
                                                                     "maj@4"]
    assert n4["N=4 vote"].samples_per_problem == 4
    # the rule: sample 0 and the vote are right exactly on easy problems, at every k
    easy = _easy_share(runs["n4"])
    for point in (*n4.values(), n1):
        assert point.accuracy.value == pytest.approx(easy)
    assert n4["N=4 vote"].cost_per_task.value == pytest.approx(
        _expected_cost(runs["n4"], Price(1.0, 4.0)))
    # the first answer of four costs what the one-sample run (the same seed-0 answer) cost:
    # a quarter of the prompts, and that answer's share of the characters
    assert n4["N=1"].cost_per_task.value == pytest.approx(n1.cost_per_task.value)
    assert n1.cost_per_task.value == pytest.approx(_expected_cost(runs["n1"], Price(1.0, 4.0)))
    assert n4["N=2 vote"].cost_per_task.value < n4["N=4 vote"].cost_per_task.value
    assert weak["N=4 vote"].cost_per_task.value == pytest.approx(
        _expected_cost(runs["weak"], Price(0.1, 0.4)))
    # frontier: the weak model's single answer (cheapest), then one answer of the strong
    # model (the two equal points keep one); more votes buy nothing here
    on = [frontier.points[i] for i in frontier.frontier]
    assert on[0] is weak["N=1"] and on[1] in (n4["N=1"], n1) and len(on) == 2
    assert all(p.on_frontier == (p in on) for p in frontier.points)
    p = n4["N=4 vote"]
    assert p.cost_per_correct is not None
    frame = pd.read_parquet(runs["n4"] / "samples.parquet")
    cost = (frame["prompt_tokens"] + 4.0 * frame["completion_tokens"]) / 1e6
    assert p.cost_per_correct.value == pytest.approx(cost.sum() / frame["maj@4"].sum())
    assert p.cost_per_correct.ci_low < p.cost_per_correct.value < p.cost_per_correct.ci_high
    assert p.cost_source == "price given"


def test_length_analysis_reads_the_planted_paradox(report: AuditReport) -> None:
    assert report.compute is not None
    by_model = {ev.model: ev for ev in report.compute.lengths}
    assert set(by_model) == {EVIL, "scripted:weak"}  # the one-sample run has no such reading
    a = by_model[EVIL].analysis
    assert a.unit == "reasoning tokens" and a.n_answers == 4 * LIMIT
    assert a.within_difference is not None and a.within_difference.value == pytest.approx(0)
    assert a.naive_correlation.ci_high < 0
    assert a.verdict == DIFFICULTY_ONLY


def test_html_json_and_terminal_show_the_section(report: AuditReport) -> None:
    page = render_html(report)
    section = page[page.index('<section id="compute">'):]
    section = section[:section.index("</section>")]
    assert "<svg" in section and 'class="frontier"' in section  # the frontier's line
    ticks = re.findall(r'<text class="log-tick"[^>]*>([^<]*)</text>', section)
    assert ticks and all(t.startswith("$") for t in ticks)
    values = [float(t[1:].replace(",", "")) for t in ticks]
    ratios = {round(b / a, 6) for a, b in itertools.pairwise(values)}
    assert ratios <= {2.0, 2.5, 10.0}  # powers of ten (2x and 5x on short spans)
    assert EVIL not in page and html.escape(EVIL) in section  # model text escaped
    assert DIFFICULTY_ONLY in section
    data = json.loads(json.dumps(render_json(report)))
    point = next(p for p in data["compute"]["frontiers"][0]["points"]
                 if p["model"] == EVIL and p["setting"] == "N=4 vote")
    assert point["unit"] == "USD" and point["cost_per_task"]["value"] > 0
    assert point["accuracy"]["ci_low"] <= point["accuracy"]["value"]
    verdicts = {v["model"]: v["analysis"]["verdict"] for v in data["compute"]["lengths"]}
    assert verdicts[EVIL] == DIFFICULTY_ONLY
    text = render_terminal(report)
    assert "cost and test-time compute" in text and DIFFICULTY_ONLY in text


def test_without_prices_the_frontier_is_in_tokens(runs: dict[str, Path]) -> None:
    plain = load_report([runs["n4"], runs["n1"]])
    assert plain.compute is not None
    (frontier,) = plain.compute.frontiers
    assert frontier.unit == TOKENS and {p.cost_source for p in frontier.points} == {"tokens"}
    frame = pd.read_parquet(runs["n1"] / "samples.parquet")
    n1 = next(p for p in frontier.points if p.metric == "acc_flexible")
    assert n1.cost_per_task.value == pytest.approx(
        float((frame["prompt_tokens"] + frame["completion_tokens"]).mean()))
    assert any("no price" in n for n in plain.compute.notes)
    # the plot's log axis is in tokens: powers of ten (with 2x, 5x) as 100, 1k, 2k ...
    page = render_html(plain)
    ticks = re.findall(r'<text class="log-tick"[^>]*>([^<]*)</text>', page)
    assert ticks and all(re.fullmatch(r"[125]0*k?", t) for t in ticks), ticks


def test_compute_rate_prices_local_models(runs: dict[str, Path]) -> None:
    from lmaudit.report.compute import ComputeRun, compute_section

    rated = load_report([runs["n1"]], Pricing(compute_rates={"scripted:*": 36.0}))
    assert rated.compute is not None
    (point,) = rated.compute.frontiers[0].points
    frame = pd.read_parquet(runs["n1"] / "samples.parquet")
    # the scripted latencies add up to more than the run lasted: its wall time is split
    assert point.cost_source.startswith("compute rate × run time split by recorded seconds")
    results = json.loads((runs["n1"] / "results.json").read_text())
    manifest = json.loads((runs["n1"] / "manifest.json").read_text())
    assert point.total_cost == pytest.approx(results["seconds"] * 0.01)
    # answers timed one after another within the run: 36 USD per hour = 0.01 USD per second
    results["seconds"] = float(frame["latency_s"].sum()) + 1.0
    sequential = compute_section([ComputeRun(EVIL, "arith", frame, results, manifest)],
                                 Pricing(compute_rates={"scripted:*": 36.0}), n_boot=100)
    (point,) = sequential.frontiers[0].points
    assert point.cost_source == "compute rate × recorded seconds"
    assert point.cost_per_task.value == pytest.approx(float(frame["latency_s"].mean()) * 0.01)


def test_compute_rate_without_timed_answers_splits_the_run_time_by_tokens() -> None:
    from lmaudit.report.compute import ComputeRun, compute_section

    frame = pd.DataFrame({"sample_id": ["a", "b"], "prompt_tokens": [10, 30],
                          "completion_tokens": [10, 50], "latency_s": [0.0, 0.0],
                          "acc": [1.0, 0.0]})
    results = {"seconds": 36.0, "metrics": {"acc": {"value": 0.5, "ci_low": 0.0,
                                                    "ci_high": 1.0, "n": 2,
                                                    "method": "wilson"}}}
    section = compute_section([ComputeRun("lab:x", "t", frame, results, {})],
                              Pricing(compute_rates={"lab:*": 100.0}), n_boot=100)
    (point,) = section.frontiers[0].points
    # 36 s split 20 : 80 by tokens -> 7.2 s and 28.8 s; at $100/h: $0.20 and $0.80
    assert point.cost_source == "compute rate × run time split by tokens"
    assert point.total_cost == pytest.approx(1.0)
    assert point.cost_per_task.value == pytest.approx(0.5)
    assert point.cost_per_correct.value == pytest.approx(1.0)


def test_compute_rate_never_bills_more_seconds_than_the_run_lasted() -> None:
    """A vLLM engine call times every answer of its batch with the call's latency: 4
    problems answered in one 10 s call record 10 s each, 40 s in all, in a run of 12 s."""
    from lmaudit.report.compute import ComputeRun, compute_section

    frame = pd.DataFrame({"sample_id": list("abcd"), "prompt_tokens": [10] * 4,
                          "completion_tokens": [10] * 4, "latency_s": [10.0] * 4,
                          "acc": [1.0, 0.0, 1.0, 1.0]})
    results = {"seconds": 12.0, "metrics": {"acc": {"value": 0.75, "ci_low": 0.2,
                                                    "ci_high": 1.0, "n": 4,
                                                    "method": "wilson"}}}
    section = compute_section([ComputeRun("vllm:x", "t", frame, results, {})],
                              Pricing(compute_rates={"vllm:*": 360.0}), n_boot=100)
    (point,) = section.frontiers[0].points
    # 12 s at $360/h = $1.20 (not 40 s = $4.00), $0.30 per problem, $0.40 per correct
    assert point.cost_source.startswith("compute rate × run time split by recorded seconds")
    assert point.total_cost == pytest.approx(1.2)
    assert point.cost_per_task.value == pytest.approx(0.3)
    assert point.cost_per_correct.value == pytest.approx(0.4)


def test_options_and_setting_labels() -> None:
    assert parse_model_price("hf:org/m=0.1,0.2") == ("hf:org/m", Price(0.1, 0.2))
    assert parse_compute_rate("lab:*=2.5") == ("lab:*", 2.5)
    for bad in ("0.1,0.2", "m=0.1"):
        with pytest.raises(Exception, match="--price"):
            parse_model_price(bad)
    with pytest.raises(Exception, match="--compute-rate"):
        parse_compute_rate("m=-1")
    assert run_setting({"task_spec": {"samples_per_problem": 8}}) == ("N=8", 8)
    assert run_setting({"task_spec": {"sampling": {"samples": 4},
                                      "thinking": {"budget": 512, "extend": 0}}}) == (
        "N=4 budget=512", 4)
    assert run_setting({}) == ("", 1)


def test_cli_report_with_prices(runs: dict[str, Path], tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    code = main(["report", str(runs["n4"]), str(runs["n1"]), "--out", str(out), "--json",
                 str(js), "--price", f"{EVIL}=1,4"])
    assert code == 0
    data = json.loads(js.read_text())
    assert {p["unit"] for p in data["compute"]["frontiers"][0]["points"]} == {"USD"}
    assert "per correct" in capsys.readouterr().out


def test_audit_takes_the_cost_options_and_passes_them_on(tmp_path: Path) -> None:
    from lmaudit.cli import build_parser
    from lmaudit.commands.audit import reproducing_command
    from lmaudit.commands.report import pricing

    args = build_parser().parse_args([
        "audit", "--model", "lab:a", "--suite", "demo", "--price", "lab:a=1,2",
        "--compute-rate", "lab:*=3"])
    assert pricing(args) == Pricing({"lab:a": Price(1.0, 2.0)}, {"lab:*": 3.0})
    command = reproducing_command(args, tmp_path)
    assert command[-4:] == ["--price", "lab:a=1,2", "--compute-rate", "lab:*=3"]


def test_a_thinking_budget_sweep_gives_a_point_per_budget() -> None:
    from lmaudit.report.compute import ComputeRun, compute_section

    # two problems, each answered once under budgets 256 and 1024: 100 prompt tokens per
    # answer, 1,000 completion tokens per problem, thinking 200 and 600 tokens
    frame = pd.DataFrame({
        "sample_id": ["a", "b"], "prompt_tokens": [200, 200], "completion_tokens": [1000, 1000],
        "acc": [1.0, 0.0], "acc@budget256": [0.0, 0.0], "acc@budget1024": [1.0, 0.0],
        "thinking_tokens@budget256": [200.0, 200.0], "thinking_tokens@budget1024": [600.0, 600.0]})

    def entry(value: float) -> dict[str, object]:
        return {"value": value, "ci_low": 0.0, "ci_high": 1.0, "n": 2, "method": "wilson"}

    results = {"metrics": {"acc": entry(0.5), "acc@budget256": entry(0.0),
                           "acc@budget1024": entry(0.5), "thinking_tokens@budget256":
                           {**entry(200.0), "method": "t"}}}
    run = ComputeRun("m", "t", frame, results,
                     {"task_spec": {"thinking_budgets": [256, 1024], "thinking_extend": 1}})
    (frontier,) = compute_section([run], n_boot=200).frontiers
    by = {p.setting: p for p in frontier.points}
    assert set(by) == {"budget=256 wait=1", "budget=1024 wait=1"}
    # budget 256: half the prompts (100) + a quarter of the completions (250) = 350 tokens
    assert by["budget=256 wait=1"].cost_per_task.value == pytest.approx(350.0)
    assert by["budget=1024 wait=1"].cost_per_task.value == pytest.approx(850.0)
    assert by["budget=256 wait=1"].cost_per_correct is None  # never right
    assert by["budget=1024 wait=1"].cost_per_correct.value == pytest.approx(1700.0)
    assert [frontier.points[i].setting for i in frontier.frontier] == [
        "budget=256 wait=1", "budget=1024 wait=1"]


def test_answer_lengths_without_thinking_prorate_or_count_words() -> None:
    from lmaudit.report.compute_lengths import PRORATED, WORDS, answer_lengths

    extra = json.dumps({"answers": ["12", "1234 5 6"], "answers_correct": [True, False]})
    frame = pd.DataFrame({"sample_id": ["p"], "completion_tokens": [10], "extra": [extra]})
    # 10 tokens over 2 + 8 characters: 2 and 8 tokens
    assert answer_lengths(frame) == (["p", "p"], [2.0, 8.0], [1, 0], PRORATED)
    assert answer_lengths(frame.drop(columns="completion_tokens")) == (
        ["p", "p"], [1.0, 3.0], [1, 0], WORDS)
    one = json.dumps({"answers_correct": [True]})
    assert answer_lengths(frame.assign(extra=[one])) is None  # one answer per problem
    assert answer_lengths(frame.drop(columns="extra")) is None
