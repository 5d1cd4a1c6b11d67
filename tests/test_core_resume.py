"""Crash-safe runs: journal, resume, request cache and the spending limit, end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from lmaudit.core.cache import RequestCache
from lmaudit.core.journal import JOURNAL, read_journal
from lmaudit.core.runner import run_task
from lmaudit.core.store import load_run
from lmaudit.core.types import LmauditError
from lmaudit.core.usage import BudgetExhausted, CostMeter, Price, load_price_table
from runner_fakes import CountingBackend, StreamingCountingBackend, generate_task, mc_task

TESTS = Path(__file__).resolve().parent


def _scores(run_dir: Path) -> tuple[dict[str, object], pd.DataFrame]:
    run = load_run(run_dir)
    metrics = {k: v["value"] for k, v in run.results["metrics"].items()}
    frame = run.samples.drop(columns=["latency_s"], errors="ignore")
    return metrics, frame.sort_values("sample_id").reset_index(drop=True)


@pytest.mark.parametrize("backend_type", [CountingBackend, StreamingCountingBackend])
def test_a_failed_run_resumes_without_sending_finished_requests(
    tmp_path: Path, backend_type: type[CountingBackend]
) -> None:
    task = mc_task(30)  # 120 loglikelihood requests
    reference = backend_type()
    run_task(task, reference, tmp_path / "ref", show_progress=False)

    failing = backend_type(fail_after=50)
    with pytest.raises(LmauditError, match=r"500 from fake server.*--resume"):
        run_task(task, failing, tmp_path / "run", show_progress=False, chunk_size=10)
    journaled, _ = read_journal(tmp_path / "run" / JOURNAL)
    assert len(journaled) == 50
    assert not (tmp_path / "run" / "results.json").exists()

    resumed = backend_type()
    run_task(task, resumed, tmp_path / "run", show_progress=False, resume=True)
    assert len(resumed.sent) == 120 - len(journaled)
    assert not set(resumed.sent) & set(failing.sent)
    ref_metrics, ref_frame = _scores(tmp_path / "ref")
    metrics, frame = _scores(tmp_path / "run")
    assert metrics == ref_metrics
    pd.testing.assert_frame_equal(frame, ref_frame)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert len(manifest["resumed"]) == 1


def test_resume_refuses_another_task_and_a_finished_run(tmp_path: Path) -> None:
    run_task(mc_task(4), CountingBackend(fail_after=10**9), tmp_path / "done", show_progress=False)
    with pytest.raises(LmauditError, match="already holds a finished run"):
        run_task(mc_task(4), CountingBackend(), tmp_path / "done", show_progress=False)
    with pytest.raises(LmauditError):
        run_task(mc_task(8), CountingBackend(fail_after=3), tmp_path / "half", show_progress=False)
    with pytest.raises(LmauditError, match=r"another task spec hash|another limit"):
        run_task(generate_task(8), CountingBackend(), tmp_path / "half", show_progress=False)
    with pytest.raises(LmauditError, match="nothing to resume"):
        run_task(mc_task(4), CountingBackend(), tmp_path / "none", resume=True)


def test_a_cache_hit_sends_nothing_and_costs_nothing(tmp_path: Path) -> None:
    task = generate_task(20)
    price = Price(prompt=1.0, completion=2.0)
    with RequestCache(tmp_path / "cache") as cache:
        first = StreamingCountingBackend()
        run_task(
            task, first, tmp_path / "a", cache=cache, meter=CostMeter(price), show_progress=False
        )
        second = StreamingCountingBackend()
        outcome = run_task(
            task, second, tmp_path / "b", cache=cache, meter=CostMeter(price), show_progress=False
        )
    assert len(first.sent) == 20 and second.sent == []
    assert _scores(tmp_path / "a")[0] == _scores(tmp_path / "b")[0]
    first_usage = load_run(tmp_path / "a").results["usage"]
    # 20 generations of 12 prompt + 1 completion tokens at $1/M and $2/M
    assert first_usage["cost_usd"] == pytest.approx(20 * (12 * 1.0 + 1 * 2.0) / 1e6)
    assert first_usage["prompt_tokens"] == 240 and first_usage["completion_tokens"] == 20
    assert outcome.usage is not None
    assert outcome.usage["cached"] == 20 and outcome.usage["cost_usd"] == 0.0
    samples = load_run(tmp_path / "a").samples
    assert samples["prompt_tokens"].tolist() == [12] * 20


def test_max_cost_stops_before_the_budget_and_resume_finishes(tmp_path: Path) -> None:
    task = generate_task(40)
    price = Price(prompt=1000.0, completion=1000.0)  # ~ $0.013 per request as sent
    budget = 0.30
    backend = StreamingCountingBackend()
    meter = CostMeter(price, budget)
    with pytest.raises(BudgetExhausted, match=r"stopped before exceeding the budget"):
        run_task(task, backend, tmp_path / "run", meter=meter, show_progress=False)
    assert 0 < len(backend.sent) < 40
    assert meter.spent <= budget
    journaled, _ = read_journal(tmp_path / "run" / JOURNAL)
    assert len(journaled) == len(backend.sent)

    rest = StreamingCountingBackend()
    run_task(
        task, rest, tmp_path / "run", meter=CostMeter(price, 10.0), resume=True, show_progress=False
    )
    assert len(rest.sent) == 40 - len(backend.sent)
    usage = load_run(tmp_path / "run").results["usage"]
    assert usage["cost_usd"] == pytest.approx(40 * 13 * 1000 / 1e6)


def test_price_table_errors_name_the_file_and_entry(tmp_path: Path) -> None:
    table = tmp_path / "prices.yaml"
    table.write_text(
        "gpt-x: {prompt: 0.5, completion: 1.5}\n'local/*': {prompt: 0, completion: 0}\n"
    )
    loaded = load_price_table(table)
    assert loaded["gpt-x"] == Price(0.5, 1.5)
    table.write_text("gpt-x: {prompt: 0.5}\n")
    with pytest.raises(LmauditError, match=r"prices.yaml: entry 'gpt-x' needs"):
        load_price_table(table)
    with pytest.raises(LmauditError, match="--max-cost needs a price"):
        CostMeter(None, 1.0)


_KILL_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from lmaudit.core.runner import run_task
from runner_fakes import StreamingCountingBackend, mc_task
backend = StreamingCountingBackend(sent_log=Path({log!r}), delay_s=0.004)
run_task(mc_task(60), backend, Path({run!r}), show_progress=False, resume={resume})
"""


def _start(tmp_path: Path, resume: bool) -> subprocess.Popen[bytes]:
    code = _KILL_SCRIPT.format(
        tests=str(TESTS),
        log=str(tmp_path / "sent.log"),
        run=str(tmp_path / "run"),
        resume=resume,
    )
    return subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)


def test_kill_9_at_several_points_then_resume_equals_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    reference = StreamingCountingBackend()
    run_task(mc_task(60), reference, tmp_path / "ref", show_progress=False)
    resume = False
    for _kill in range(3):
        process = _start(tmp_path, resume)
        deadline = time.monotonic() + 60
        journal = tmp_path / "run" / JOURNAL
        # wait until this attempt has made progress, then kill it without warning
        before = len(read_journal(journal)[0]) if journal.exists() else 0
        while time.monotonic() < deadline:
            if journal.exists() and len(read_journal(journal)[0]) >= before + 40:
                break
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        resume = True
    process = _start(tmp_path, resume=True)
    assert process.wait(120) == 0, process.stderr.read().decode() if process.stderr else ""
    sent = (tmp_path / "sent.log").read_text().split()
    # every request answered exactly once, except those answered but not yet journaled
    # when a kill landed (at most one per kill with this one-at-a-time backend)
    assert len(set(sent)) == 240
    assert len(sent) - 240 <= 3
    assert _scores(tmp_path / "run")[0] == _scores(tmp_path / "ref")[0]
    pd.testing.assert_frame_equal(_scores(tmp_path / "run")[1], _scores(tmp_path / "ref")[1])
