"""The whole path under fire: `run_task` → `openai:` client → `lmaudit serve --fault-rate 0.2`
(429 + Retry-After, 500, garbled JSON, stalls past the client timeout) → a real HF model.
The run completes and every score equals the fault-free run's."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmaudit.backends.openai_api import OpenAIBackend
from lmaudit.core.runner import run_task
from lmaudit.core.store import load_run
from lmaudit.core.types import Sample
from lmaudit.serve.app import start_server_in_thread
from lmaudit.serve.faults import FaultPlan
from lmaudit.tasks.generic import MultipleChoiceTask
from test_serve_support import tiny_backend

pytest.importorskip("torch")

QUESTIONS = [
    (f"Question {i}: which word comes next in 'one two three'?", ["four", "blue", "cat"], 0)
    for i in range(12)
]


def quiz() -> MultipleChoiceTask:
    samples = [
        Sample(f"q{i}", f"{q}\nAnswer:", answer, choices=tuple(options))
        for i, (q, options, answer) in enumerate(QUESTIONS)
    ]
    return MultipleChoiceTask("quiz", lambda: samples)


def test_scores_under_twenty_percent_faults_equal_a_clean_run(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    backend = tiny_backend(tmp_path_factory, "gpt2")
    outcomes = {}
    faults = FaultPlan(rate=0.2, seed=3, stall_s=1.5, retry_after_s=1)
    for name, plan in (("clean", None), ("faulty", faults)):
        # one prompt per model call, so batching cannot change the numbers between runs
        with start_server_in_thread(backend, max_batch_size=1, faults=plan) as server:
            client = OpenAIBackend(
                "model", server.url, timeout=0.75, backoff_base=0.01, backoff_max=0.05
            )
            run_task(quiz(), client, tmp_path / name, show_progress=False)
            client.close()
            outcomes[name] = server.stats()
    injected = outcomes["faulty"]["faults_injected"]
    assert set(injected) == {"429", "500", "malformed", "stall"}, injected
    assert outcomes["faulty"]["requests_completed"] == 36  # every distinct request once
    clean, faulty = load_run(tmp_path / "clean"), load_run(tmp_path / "faulty")
    assert faulty.results["metrics"] == clean.results["metrics"]
    as_lists = [[list(x) for x in r.samples["choice_logprobs"]] for r in (clean, faulty)]
    assert as_lists[0] == as_lists[1]
