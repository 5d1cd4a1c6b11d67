"""A best-of-N API judge's cached replies are reused only while the server serves the same
model (its GET /models entry and system_fingerprint), checked once per run, not per problem;
a changed judge is announced in one line and asked again."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fake_openai_server import FakeOpenAIServer
from lmaudit.backends.registry import load_backend
from lmaudit.core.cache import RequestCache
from lmaudit.core.runner import run_task
from lmaudit.tasks.registry import load_task
from lmaudit.tasks.sampled import SamplingConfig, apply_sampling
from lmaudit.verifiers.judge import JudgeVerifier
from seed_fakes import ScriptedBackend

PROBLEMS = 3  # the model answers "5" twice per problem: one distinct judge prompt each


@pytest.fixture(autouse=True)
def _no_default_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def _run(server: FakeOpenAIServer, cache: RequestCache, out: Path) -> None:
    """One run with a fresh judge backend (as a new `lmaudit run` would build it)."""
    spec = f"openai:fake@{server.base_url}"
    task = apply_sampling(load_task("arith"), SamplingConfig(2, 0.7),
                          [JudgeVerifier(load_backend(spec), spec)])
    run_task(task, ScriptedBackend(lambda r: "5"), out, limit=PROBLEMS, show_progress=False,
             cache=cache)


def test_an_unchanged_judge_is_reused_and_another_model_is_asked_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (FakeOpenAIServer(models={"fake": {"root": "/weights/x"}}) as server,
          RequestCache(tmp_path / "cache") as cache):
        _run(server, cache, tmp_path / "a")
        assert server.requests_received == PROBLEMS
        assert server.model_list_requests == 1  # identified once for the run, not per problem
        _run(server, cache, tmp_path / "b")
        assert server.requests_received == PROBLEMS  # every judgment from the cache
        assert server.model_list_requests == 2
        server.models = {"fake": {"root": "/weights/y"}}
        with caplog.at_level(logging.WARNING):
            _run(server, cache, tmp_path / "c")
        assert server.requests_received == 2 * PROBLEMS  # no stale judgment reused
    assert [r.getMessage() for r in caplog.records] == [
        f"fake@{server.base_url} now serves another model (its GET /models entry changed): "
        f"{PROBLEMS} cached answers of the previous one deleted, every request is asked again"
    ]


def test_a_judge_with_another_system_fingerprint_is_asked_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (FakeOpenAIServer(system_fingerprint="fp_a") as server,
          RequestCache(tmp_path / "cache") as cache):
        _run(server, cache, tmp_path / "a")
        assert server.requests_received == PROBLEMS
        _run(server, cache, tmp_path / "b")
        assert server.requests_received == PROBLEMS + 1  # one probe for the run, not per problem
        server.system_fingerprint = "fp_b"
        with caplog.at_level(logging.WARNING):
            _run(server, cache, tmp_path / "c")
        # the probe (problem 1), then problems 2 and 3 asked afresh
        assert server.requests_received == 2 * PROBLEMS + 1
        _run(server, cache, tmp_path / "d")
        assert server.requests_received == 2 * PROBLEMS + 2  # cached again under fp_b
    assert [r.getMessage() for r in caplog.records] == [
        f"fake@{server.base_url} answers with system_fingerprint fp_b, not fp_a as when its "
        f"answers were cached: {PROBLEMS} cached answers deleted, every request is asked again"
    ]
