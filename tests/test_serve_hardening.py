"""`lmaudit serve` under hostile clients: the key guards every route but /health (Bearer in
any case), idle connections and slow bodies time out, out-of-range values are 400s with a
JSON error and no exception text, and a model served under a reused name is not confused
with the previous one by a caching client."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from lmaudit.cli import main
from lmaudit.core.types import Fingerprint, GenerateRequest
from lmaudit.serve.app import RunningServer, start_server_in_thread
from test_serve_support import FakeBackend, http

KEY = "serve-key"


class ContextBackend(FakeBackend):
    """A FakeBackend with a 64-token context."""

    max_length = 64


class UpperBackend(FakeBackend):
    """Another model: answers in upper case, with its own fingerprint."""

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("fake", "upper", "1", "none")

    def generate(self, requests: Sequence[GenerateRequest], progress: Any = None) -> list[Any]:
        return [
            type(g)(g.text.upper() + "9", g.finish_reason, g.prompt_tokens, g.completion_tokens)
            for g in super().generate(requests, progress)
        ]


class BrokenBackend(FakeBackend):
    def generate(self, requests: Sequence[GenerateRequest], progress: Any = None) -> list[Any]:
        raise RuntimeError("internal detail /secret/path")


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    options = {"served_name": "m", "api_key": KEY, "idle_timeout_s": 0.5}
    with start_server_in_thread(ContextBackend(), **options, max_prompts_per_request=8) as running:
        yield running


def _post(server: RunningServer, body: Any = None, raw: bytes | None = None) -> Any:
    headers = {"Authorization": f"Bearer {KEY}"}
    return http(f"{server.url}/completions", body, raw=raw, headers=headers)


def test_stats_need_the_key_and_bearer_is_case_insensitive(server: RunningServer) -> None:
    assert http(f"{server.origin}/lmaudit/stats").status == 401
    assert http(f"{server.url}/models").status == 401
    assert http(f"{server.origin}/health").status == 200
    for scheme in ("Bearer", "bearer", "BEARER"):
        reply = http(f"{server.origin}/lmaudit/stats", headers={"Authorization": f"{scheme} {KEY}"})
        assert reply.status == 200 and "requests_received" in reply.json()
    wrong = http(f"{server.origin}/lmaudit/stats", headers={"Authorization": f"Basic {KEY}"})
    assert wrong.status == 401


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"seed": 2**100}, "seed", "expected an integer in [-9223372036854775808, "
         "9223372036854775807], got 1267650600228229401496703205376"),
        ({"seed": 10**40}, "seed", "got an integer of 41 digits"),
        ({"seed": 1.5}, "seed", "expected an integer, got float"),
        ({"max_tokens": -1}, "max_tokens", "expected an integer in [0, 63], got -1"),
        ({"max_tokens": 64}, "max_tokens", "expected an integer in [0, 63], got 64"),
        ({"max_tokens": 1_048_576}, "max_tokens", "expected an integer in [0, 63], got 1048576"),
        ({"n": 2**100}, "n", "expected an integer in [1, 1000000]"),
        ({"prompt": ["a"] * 9}, "prompt", "at most 8 prompts per request, got 9"),
        ({"stop": ["x"] * 17}, "stop", "at most 16 stop strings of at most 1000 characters"),
        ({"temperature": 1e308 * 10}, "temperature", "expected a number in [0, 2], got inf"),
    ],
)  # fmt: skip
def test_out_of_range_values_are_400s_naming_the_field(
    server: RunningServer, body: dict[str, Any], param: str, message: str
) -> None:
    reply = _post(server, {"model": "m", "prompt": "hi", **body})
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["param"] == param
    assert message in error["message"]
    assert error["message"].startswith(f"invalid `{param}`: ")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"model": "m", "prompt": "hi", "temperature": NaN}', "invalid `temperature`"),
        (b"[" * 50_000 + b"]" * 50_000, "the request body nests too deep"),
        (b'{"model": "m", "prompt": "hi", "seed": ' + b"7" * 5000 + b"}", "4300"),
        (b"\xff\xfe", "the request body is not valid JSON"),
    ],
)
def test_hostile_bodies_are_400s_without_exception_text(
    server: RunningServer, raw: bytes, message: str
) -> None:
    reply = _post(server, raw=raw)
    assert reply.status == 400
    text = reply.json()["error"]["message"]
    assert message in text and "Traceback" not in text and "Error:" not in text


def test_a_backend_failure_is_a_500_without_its_details() -> None:
    with start_server_in_thread(BrokenBackend(), served_name="m") as broken:
        reply = http(f"{broken.url}/completions", {"model": "m", "prompt": "x", "max_tokens": 2})
    assert reply.status == 500
    assert reply.json()["error"]["message"] == (
        "internal server error (the details are in the server's log)"
    )


def test_idle_connections_and_slow_bodies_time_out(server: RunningServer) -> None:
    with socket.create_connection((server.host, server.port), timeout=5) as idle:
        start = time.monotonic()
        assert idle.recv(100) == b""  # closed by the server
        assert time.monotonic() - start < 4
    with socket.create_connection((server.host, server.port), timeout=5) as slow:
        slow.sendall(
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + KEY.encode() + b'\r\nContent-Length: 100\r\n\r\n{"mo'
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = slow.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 ")


def _sums(root: Path) -> Path:
    (root / "q.jsonl").write_text(
        "".join(json.dumps({"q": f"{i}1", "answer": str(i)}) + "\n" for i in range(1, 5))
    )
    path = root / "q.yaml"
    path.write_text(
        "name: q\ntype: generate\ndataset: {path: q.jsonl}\n"
        'prompt: "{q}"\ntarget: answer\nscorer: exact\nmax_tokens: 8\n'
    )
    return path


def test_another_model_served_under_the_same_name_is_not_served_from_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    task, cache = _sums(tmp_path), tmp_path / "cache"
    x = FakeBackend()
    with start_server_in_thread(x, served_name="N") as first:
        port = first.port
        spec = f"openai:N@{first.url}"
        argv = ["run", "--model", spec, "--task", str(task), "--cache-dir", str(cache)]
        assert main([*argv, "--out", str(tmp_path / "x")]) == 0
        assert main([*argv, "--out", str(tmp_path / "x2")]) == 0
        assert sum(x.calls) == 4  # the second run came from the cache
    again = FakeBackend()  # the same model, restarted: its cached answers stay valid
    with start_server_in_thread(again, port=port, served_name="N"):
        assert main([*argv, "--out", str(tmp_path / "x3")]) == 0
    assert again.calls == []
    y = UpperBackend()
    with (
        start_server_in_thread(y, port=port, served_name="N"),
        caplog.at_level(logging.WARNING),
    ):
        assert main([*argv, "--out", str(tmp_path / "y")]) == 0
    assert sum(y.calls) == 4  # every request asked again
    assert "now serves another model (its GET /models entry changed)" in caplog.text
    samples = [
        json.loads(line)["response"]
        for line in (tmp_path / "y" / "records.jsonl").read_text().splitlines()
    ]
    assert all(s.endswith("9") for s in samples)  # Y's answers, not X's


def test_the_models_entry_identifies_the_backend(server: RunningServer) -> None:
    reply = http(f"{server.url}/models", headers={"Authorization": f"Bearer {KEY}"})
    (entry,) = reply.json()["data"]
    assert entry["root"] == "fake:reverse@0/none"
    assert entry["max_model_len"] == 64
