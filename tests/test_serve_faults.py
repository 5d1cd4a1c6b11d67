"""Fault injection: the drawn faults reach the client as promised and are counted."""

from __future__ import annotations

import json
import time

from lmaudit.serve.app import start_server_in_thread
from lmaudit.serve.faults import FAULT_HEADER, FaultPlan, expected_faults
from test_serve_support import FakeBackend, http


def test_rate_02_produces_the_four_kinds_and_stats_count_them() -> None:
    plan = FaultPlan(rate=0.2, seed=0, stall_s=0.05, retry_after_s=3)
    n = 60
    predicted = list(expected_faults(plan, n))
    assert {k for k in predicted if k} == {"429", "500", "malformed", "stall"}
    backend = FakeBackend()
    with start_server_in_thread(backend, served_name="fake", faults=plan) as server:
        seen: list[str | None] = []
        for i in range(n):  # one at a time: arrival order is request order
            started = time.monotonic()
            body = {"model": "fake", "prompt": f"prompt {i}", "max_tokens": 50}
            reply = http(f"{server.url}/completions", body)
            elapsed = time.monotonic() - started
            kind = reply.headers.get(FAULT_HEADER)
            seen.append(kind)
            if kind == "429":
                assert reply.status == 429
                assert reply.headers["Retry-After"] == "3"
                assert reply.json()["error"]["type"] == "rate_limit_error"
            elif kind == "500":
                assert reply.status == 500
                assert reply.json()["error"]["type"] == "server_error"
            elif kind == "malformed":
                assert reply.status == 200
                try:
                    json.loads(reply.data)
                    raise AssertionError("a malformed answer parsed as JSON")
                except json.JSONDecodeError:
                    pass
            else:  # a stalled answer is a correct answer, late
                assert reply.status == 200
                assert reply.json()["choices"][0]["text"] == f"prompt {i}"[::-1]
                if kind == "stall":
                    assert elapsed >= 0.05
        stats = http(f"{server.origin}/lmaudit/stats").json()
    assert seen == predicted
    faults = {k: predicted.count(k) for k in ("429", "500", "malformed", "stall")}
    assert stats["faults_injected"] == faults
    assert stats["requests_received"] == n
    assert stats["requests_completed"] == predicted.count(None)
    assert stats["requests_failed"] == 0
    # only answered requests (unfaulted and stalled) reached the backend
    assert sum(backend.calls) == predicted.count(None) + faults["stall"]


def test_a_stall_outlasts_a_client_timeout_and_is_not_completed() -> None:
    plan = FaultPlan(rate=1.0, kinds=("stall",), stall_s=1.5)
    with start_server_in_thread(FakeBackend(), served_name="fake", faults=plan) as server:
        started = time.monotonic()
        try:
            http(f"{server.url}/completions", {"model": "fake", "prompt": "x"}, timeout=0.3)
            raise AssertionError("the stalled request was answered before the client timeout")
        except TimeoutError:
            pass
        assert time.monotonic() - started < 1.0
        stats = http(f"{server.origin}/lmaudit/stats").json()
        assert stats["faults_injected"] == {"stall": 1}
        assert stats["requests_received"] == 1
        assert stats["requests_completed"] == 0
