"""Retries, back-off, concurrency, admission, cancellation and endpoints, on a real server.

The fake server injects faults chosen by a hash of (request body, attempt number), so these
runs are reproducible and a retried request eventually succeeds.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pytest

from fake_openai_server import FakeOpenAIServer
from lmaudit.backends.openai_api import OpenAIBackend
from lmaudit.backends.openai_http import HttpEngine, HttpJob
from lmaudit.backends.openai_pacing import AdaptiveLimit, Endpoint
from lmaudit.core.types import (
    GenerateRequest,
    GenerationParams,
    LmauditError,
    LoglikelihoodRequest,
    Request,
    RollingLoglikelihoodRequest,
)

FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05}


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def mixed_requests(n: int) -> list[Request]:
    made: list[Request] = []
    for i in range(n):
        if i % 3 == 0:
            made.append(LoglikelihoodRequest(f"Item {i}: the answer is", f" word{i % 7}"))
        elif i % 3 == 1:
            made.append(RollingLoglikelihoodRequest(f"document {i} has some words"))
        else:
            made.append(GenerateRequest(f"{i} + 1 =", params=GenerationParams(max_tokens=3)))
    return made


def collect(backend: OpenAIBackend, requests: Sequence[Request]) -> list[object]:
    answers: list[object] = [None] * len(requests)
    for index, answer in backend.stream(requests):
        assert answers[index] is None
        answers[index] = answer
    return answers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_faults_are_retried_and_results_equal_a_clean_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="lmaudit.backends.openai_http")
    requests = mixed_requests(90)
    with FakeOpenAIServer() as clean:
        expected = collect(OpenAIBackend("fake", clean.base_url), requests)
    with FakeOpenAIServer(fault_rate=0.2, stall_s=1.0) as faulty:
        backend = OpenAIBackend("fake", faulty.base_url, timeout=0.3, max_retries=8, **FAST)
        got = collect(backend, requests)
        assert set(faulty.faults_sent) == {"429", "500", "malformed", "stall"}
        assert faulty.requests_received == 90 + sum(faulty.faults_sent.values())
    assert got == expected
    summary = caplog.records[-1].getMessage()
    for kind in ("429", "500", "malformed", "timeout"):
        assert f"{kind} x{faulty.faults_sent['stall' if kind == 'timeout' else kind]}" in summary


def test_unauthorized_fails_at_once_without_leaking_the_key(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-test-SECRET123"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    caplog.set_level(logging.DEBUG)
    with FakeOpenAIServer(api_key="sk-right") as server:
        backend = OpenAIBackend("fake", server.base_url, max_concurrency=32)
        with pytest.raises(LmauditError) as failure:
            collect(backend, mixed_requests(60))
        # The server echoes the key it was given; the client scrubs it.
        assert str(failure.value) == (
            f"401 from {server.base_url}/completions: Incorrect API key provided: ***"
        )
        assert server.requests_received <= 4  # slow start: at most 4 in flight at first
    shown = [str(failure.value), repr(backend), backend.fingerprint.key(), caplog.text]
    assert not any(secret in text for text in shown)
    assert secret not in repr(vars(backend))


def test_retry_after_is_honoured() -> None:
    requests = [GenerateRequest(f"{i} + 2 =") for i in range(3)]
    with FakeOpenAIServer(fail_first=1, retry_after="1") as server:
        start = time.perf_counter()
        answers = collect(OpenAIBackend("fake", server.base_url, **FAST), requests)
        elapsed = time.perf_counter() - start
        by_body: dict[str, list[float]] = defaultdict(list)
        for arrived, body in server.arrivals:
            by_body[body].append(arrived)
    assert len(answers) == 3 and len(by_body) == 3
    for first, second in by_body.values():
        assert second - first >= 1.0
    assert elapsed < 2.0  # the three waits overlap


def test_retries_run_out_and_other_client_errors_fail_at_once() -> None:
    with FakeOpenAIServer(status=500) as server:
        backend = OpenAIBackend("fake", server.base_url, max_retries=2, **FAST)
        with pytest.raises(LmauditError) as failure:
            collect(backend, [GenerateRequest("x")])
        assert server.requests_received == 3
    assert str(failure.value) == (
        f"request failed after 3 attempts: 500 from {server.base_url}/completions: "
        "status 500 for every request"
    )
    with FakeOpenAIServer(status=400) as server:
        with pytest.raises(LmauditError, match=r"^400 from .*/completions: status 400"):
            collect(OpenAIBackend("fake", server.base_url, **FAST), [GenerateRequest("x")])
        assert server.requests_received == 1


def test_answers_before_a_failure_are_yielded_then_it_raises() -> None:
    requests: list[Request] = [GenerateRequest(f"{i} + 1 =") for i in range(6)]
    requests.append(GenerateRequest("REJECT this"))
    seen: list[int] = []
    with FakeOpenAIServer() as server:
        backend = OpenAIBackend("fake", server.base_url, max_concurrency=1)
        with pytest.raises(LmauditError, match=r"422 from .*prompt rejected by policy"):
            for index, _ in backend.stream(requests):
                seen.append(index)
    assert seen == [0, 1, 2, 3, 4, 5]


def test_echo_without_logprobs_is_a_clear_error() -> None:
    with FakeOpenAIServer(echo_supported=False) as server:
        backend = OpenAIBackend("fake", server.base_url)
        with pytest.raises(LmauditError, match=r"does not return prompt logprobs \(echo\)"):
            backend.loglikelihood([LoglikelihoodRequest("a", " b")])


def test_concurrency_never_exceeds_the_limit() -> None:
    with FakeOpenAIServer(delay_s=0.03) as server:
        backend = OpenAIBackend("fake", server.base_url, max_concurrency=3)
        assert len(collect(backend, mixed_requests(40))) == 40
        assert server.max_in_flight == 3
    assert backend.peak_concurrency == 3


def test_adaptive_limit_halves_on_throttling_and_grows_back_slowly() -> None:
    async def scenario() -> list[float]:
        limit = AdaptiveLimit(maximum=16)
        seen = [limit.limit]  # slow start from 4
        grants = [await limit.acquire() for _ in range(4)]
        for granted in grants:
            limit.release(granted, True)  # +1 each in slow start
        seen.append(limit.limit)
        grants = [await limit.acquire() for _ in range(3)]
        limit.release(grants[0], False)  # 429: halve once...
        limit.release(grants[1], False)  # ...not again for the same round
        seen.append(limit.limit)
        limit.release(grants[2], True)  # congestion avoidance: +1/limit
        seen.append(limit.limit)
        for _ in range(200):
            limit.release(await limit.acquire(), True)
        seen.append(limit.limit)
        return seen

    seen = asyncio.run(scenario())
    assert seen[:4] == [4.0, 8.0, 4.0, 4.25]
    assert seen[4] == 16.0  # never above the maximum


def test_admit_stops_sending() -> None:
    calls: list[Request] = []

    def admit(request: Request) -> bool:
        calls.append(request)
        return len(calls) <= 5

    requests = mixed_requests(20)
    with FakeOpenAIServer() as server:
        backend = OpenAIBackend("fake", server.base_url, max_concurrency=4)
        answered = sorted(index for index, _ in backend.stream(requests, admit=admit))
        assert server.requests_received == 5
    assert answered == [0, 1, 2, 3, 4]
    assert calls == requests[:6]  # asked in order, never again after the refusal


def test_closing_the_stream_early_cancels_requests_in_flight() -> None:
    requests: list[Request] = [GenerateRequest("1 + 1 =")]
    requests += [GenerateRequest(f"SLOW {i}") for i in range(6)]
    with FakeOpenAIServer(slow_s=5.0) as server:
        backend = OpenAIBackend("fake", server.base_url, max_concurrency=8)
        stream = backend.stream(requests)
        assert next(stream)[0] == 0
        start = time.perf_counter()
        stream.close()
        assert time.perf_counter() - start < 1.0
        deadline = time.monotonic() + 2.0
        while server.cancelled < server.requests_received - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.requests_received >= 2 and server.completed == 1
        assert server.cancelled == server.requests_received - 1
        # The backend is still usable afterwards.
        assert backend.generate([GenerateRequest("2 + 2 =")])[0].text.startswith(" 4")


def test_two_endpoints_share_the_work() -> None:
    requests = mixed_requests(60)
    with FakeOpenAIServer(delay_s=0.01) as one, FakeOpenAIServer(delay_s=0.01) as two:
        backend = OpenAIBackend(
            "fake", endpoints=f"{one.base_url},{two.base_url}", max_concurrency=8
        )
        got = collect(backend, requests)
        assert one.completed >= 15 and two.completed >= 15
        assert one.completed + two.completed == 60
        assert backend.endpoint_counts == {one.base_url: one.completed, two.base_url: two.completed}
        expected = collect(OpenAIBackend("fake", one.base_url), requests)
    assert got == expected
    assert backend.fingerprint.model == f"fake@{one.base_url}"


def test_a_dead_endpoint_is_survived() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with FakeOpenAIServer() as live:
        backend = OpenAIBackend(
            "fake", endpoints=[dead, live.base_url], max_concurrency=4, max_retries=3, **FAST
        )
        answers = collect(backend, mixed_requests(30))
        assert len(answers) == 30 and live.completed == 30
    assert backend.endpoint_counts[dead] == 0
    assert backend.endpoint_failures[dead] >= 1  # it was tried, and its requests moved over
    assert backend.endpoint_failures[live.base_url] == 0


def test_a_failing_job_builder_is_reported_and_frees_its_slot() -> None:
    def make_job(pack: Sequence[int]) -> HttpJob:
        raise ValueError(f"cannot build job {pack[0]}")

    engine = HttpEngine([Endpoint("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1")], headers={})
    with pytest.raises(ValueError, match="cannot build job 0"):
        list(engine.stream([[0], [1], [2]], make_job))
    assert engine.limit.in_flight == 0
    engine.close()


def test_a_failing_server_is_announced_once_while_retrying(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A dead server should not look like a frozen progress bar: one warning, not one per try."""
    logger = "lmaudit.backends.openai_http"
    with caplog.at_level(logging.WARNING, logger=logger), FakeOpenAIServer(status=500) as server:
        backend = OpenAIBackend("fake", server.base_url, max_retries=3, **FAST)
        with pytest.raises(LmauditError):
            collect(backend, [GenerateRequest("x")])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"500 from {server.base_url}/completions: status 500 for every request; "
        "retrying with back-off"
    ]
    caplog.clear()
    # 429s are routine: no warning
    with caplog.at_level(logging.WARNING, logger=logger), FakeOpenAIServer(fail_first=2) as server:
        collect(OpenAIBackend("fake", server.base_url, **FAST), [GenerateRequest("x")])
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
