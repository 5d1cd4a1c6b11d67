"""`kill -9` of `lmaudit run` against a real HTTP server, then resume: nothing finished is
sent again, and the results equal an uninterrupted run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fake_openai_server import FakeOpenAIServer
from lmaudit.core.journal import JOURNAL, read_journal
from lmaudit.core.store import load_run

N = 160


def _task(root: Path) -> Path:
    with (root / "sums.jsonl").open("w") as handle:
        for i in range(N):
            a, b = 3 * i + 1, 7 * i + 2
            # every fifth target is wrong on purpose, so accuracy is not trivially 1
            target = a + b + (1 if i % 5 == 0 else 0)
            handle.write(json.dumps({"q": f"{a} + {b} =", "answer": str(target)}) + "\n")
    path = root / "sums.yaml"
    path.write_text(
        "name: sums\ntype: generate\ndataset: {path: sums.jsonl}\n"
        'prompt: "{q}"\ntarget: answer\nscorer: numeric\nmax_tokens: 8\n'
    )
    return path


def _start_run(server: FakeOpenAIServer, task: Path, out: Path) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable, "-m", "lmaudit", "run",
        "--model", f"openai:fake@{server.base_url}", "--task", str(task), "--out", str(out),
        "--max-concurrency", "4", "--no-cache", "--no-progress",
    ]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _journaled(out: Path) -> int:
    path = out / JOURNAL
    return len(read_journal(path)[0]) if path.exists() else 0


def test_sigkill_at_several_points_then_resume(tmp_path: Path) -> None:
    task = _task(tmp_path)
    with FakeOpenAIServer() as reference_server:
        done = _start_run(reference_server, task, tmp_path / "ref")
        assert done.wait(120) == 0, done.stderr.read().decode() if done.stderr else ""
        assert reference_server.completed == N
    reference = load_run(tmp_path / "ref")

    out = tmp_path / "run"
    with FakeOpenAIServer(delay_s=0.03) as server:
        kills = 0
        for target in (25, 70, 115):  # kill once the journal holds this many answers
            process = _start_run(server, task, out)
            deadline = time.monotonic() + 90
            while _journaled(out) < target and time.monotonic() < deadline:
                if process.poll() is not None:
                    break
                time.sleep(0.005)
            if process.poll() is not None:
                pytest.fail(f"run ended before the kill: {process.stderr.read().decode()}")  # type: ignore[union-attr]
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            kills += 1
            assert not (out / "results.json").exists()
        before_final = _journaled(out)
        arrivals_before_final = server.requests_received
        final = _start_run(server, task, out)  # re-running the same command resumes
        assert final.wait(120) == 0, final.stderr.read().decode() if final.stderr else ""
        sent_in_final = server.requests_received - arrivals_before_final
        total_answered = server.completed

    # no journaled request was sent again; only the missing ones were
    assert sent_in_final == N - before_final
    # answers lost with a killed process: at most the 4 in flight per kill
    assert N <= total_answered <= N + 4 * kills
    run = load_run(out)
    assert len(run.manifest["resumed"]) == kills
    for name, metric in reference.results["metrics"].items():
        assert run.results["metrics"][name] == metric
    columns = ["sample_id", "response", "extracted", "acc_strict", "acc_flexible"]
    ours = run.samples[columns].sort_values("sample_id").reset_index(drop=True)
    theirs = reference.samples[columns].sort_values("sample_id").reset_index(drop=True)
    assert ours.equals(theirs)
    assert reference.results["metrics"]["acc_flexible"]["value"] == pytest.approx(0.8)
