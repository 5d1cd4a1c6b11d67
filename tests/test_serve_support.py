"""Helpers for the tests of `lmaudit serve` (imported by tests/test_serve_*.py), and tests of
the server's pure parts: request validation, token offsets, the fault sequence."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    GenerationParams,
    LmauditError,
    RequestKind,
)
from lmaudit.serve.echo import token_offsets
from lmaudit.serve.faults import FaultPlan, expected_faults, parse_fault_kinds, truncated_json
from lmaudit.serve.schema import ApiError, parse_chat, parse_completion

# -- helpers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    data: bytes

    def json(self) -> Any:
        return json.loads(self.data)


def http(
    url: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 20.0,
) -> Reply:
    """GET `url` (no body) or POST `body` as JSON (or `raw` bytes); errors are replies too."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers), error.read())


class FakeBackend:
    """A generation-only backend without tokenizer: the reversed prompt (or last message),
    cut to `max_tokens` characters. Records the size of every generate call."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self._lock = threading.Lock()

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE})

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("fake", "reverse", "0", "none")

    def loglikelihood(self, requests: Sequence[Any], progress: Any = None) -> list[Any]:
        raise NotImplementedError

    def loglikelihood_rolling(self, requests: Sequence[Any], progress: Any = None) -> list[Any]:
        raise NotImplementedError

    def generate(self, requests: Sequence[GenerateRequest], progress: Any = None) -> list[Any]:
        with self._lock:
            self.calls.append(len(requests))
        out = []
        for r in requests:
            source = r.prompt if r.prompt is not None else (r.messages or ())[-1].content
            if source == "fail":
                raise LmauditError("the fake backend refuses the prompt 'fail'")
            full = source[::-1]
            text = full[: r.params.max_tokens]
            finish = "length" if len(text) < len(full) else "stop"
            out.append(Generation(text, finish, len(source.split()), len(text)))
        return out


_TINY: dict[str, Any] = {}


def tiny_backend(factory: pytest.TempPathFactory, arch: str) -> Any:
    """A random tiny `gpt2` (no chat template, no BOS) or `llama` (chat template, BOS) HF
    backend, built once per test session (see test_backends_hf_tiny)."""
    if arch not in _TINY:
        torch = pytest.importorskip("torch")
        pytest.importorskip("transformers")
        from lmaudit.backends.hf import HFBackend
        from test_backends_hf_tiny import build_model

        torch.set_num_threads(1)
        directory: Path = build_model(factory.mktemp(f"serve-{arch}"), arch)
        _TINY[arch] = HFBackend(str(directory), dtype="float32", device="cpu", batch_size=8)
    return _TINY[arch]


# -- validation --------------------------------------------------------------------------------


def _error(call: Any, body: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(body)
    return caught.value


def test_completion_body_defaults_follow_openai() -> None:
    call = parse_completion({"model": "m", "prompt": "hi"})
    assert call.prompts == ("hi",)
    assert call.params == GenerationParams(max_tokens=16, temperature=1.0, top_p=1.0)
    assert (call.echo, call.logprobs) == (False, None)
    call = parse_completion(
        {
            "model": "m",
            "prompt": ["a", "b"],
            "max_tokens": 0,
            "temperature": 0,
            "stop": "\n",
            "seed": 3,
            "echo": True,
            "logprobs": 5,
        }
    )
    assert call.prompts == ("a", "b")
    assert call.params == GenerationParams(0, 0.0, 1.0, ("\n",), 3)
    assert (call.echo, call.logprobs) == (True, 5)


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ([1, 2], None, 400),
        ({"prompt": "x"}, "model", 400),
        ({"model": "m"}, "prompt", 400),
        ({"model": "m", "prompt": [1, 2]}, "prompt", 400),
        ({"model": "m", "prompt": []}, "prompt", 400),
        ({"model": "m", "prompt": "x", "max_tokens": -1}, "max_tokens", 400),
        ({"model": "m", "prompt": "x", "max_tokens": 1.5}, "max_tokens", 400),
        ({"model": "m", "prompt": "x", "temperature": "hot"}, "temperature", 400),
        ({"model": "m", "prompt": "x", "top_p": 0}, "top_p", 400),
        ({"model": "m", "prompt": "x", "n": 2}, "n", 400),
        ({"model": "m", "prompt": "x", "logprobs": 21}, "logprobs", 400),
        ({"model": "m", "prompt": "x", "logprobs": True}, "logprobs", 400),
        ({"model": "m", "prompt": "x", "echo": "yes"}, "echo", 400),
        ({"model": "m", "prompt": "x", "stop": [1]}, "stop", 400),
        ({"model": "m", "prompt": "x", "stream": True}, "stream", 400),
    ],
)
def test_invalid_completion_bodies_name_the_field(
    body: Any, field: str | None, status: int
) -> None:
    error = _error(parse_completion, body)
    assert error.status == status
    assert error.param == field
    if field is not None:
        assert f"`{field}`" in error.message
    assert set(error.body()["error"]) == {"message", "type", "param", "code"}


def test_chat_body_accepts_text_parts_and_names_bad_message_fields() -> None:
    call = parse_chat(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}],
                },
            ],
            "max_completion_tokens": 7,
            "temperature": 0,
        }
    )
    assert [(m.role, m.content) for m in call.messages] == [
        ("system", "Be brief."),
        ("user", "Hi there"),
    ]
    assert call.params.max_tokens == 7
    assert _error(parse_chat, {"model": "m"}).param == "messages"
    assert _error(parse_chat, {"model": "m", "messages": [{"content": "x"}]}).param == (
        "messages[0].role"
    )
    bad_part = {"model": "m", "messages": [{"role": "user", "content": [{"type": "image"}]}]}
    assert _error(parse_chat, bad_part).param == "messages[0].content[0]"
    assert _error(parse_chat, {"model": "m", "messages": []}).param == "messages"
    one = [{"role": "user", "content": "x"}]
    assert _error(parse_chat, {"model": "m", "messages": one, "logprobs": True}).param == (
        "logprobs"
    )
    assert _error(parse_chat, {"model": "m", "messages": one, "max_tokens": 0}) is not None


# -- token offsets -----------------------------------------------------------------------------


def test_token_offsets_from_spans() -> None:
    # BOS (0, 0); "The" (0, 3); " cat" (3, 7); two byte tokens of one character (7, 8) twice;
    # a special token in the middle (0, 0) starts where the text before it ended.
    spans = [(0, 0), (0, 3), (3, 7), (7, 8), (7, 8), (0, 0), (8, 9)]
    assert token_offsets(spans) == [0, 0, 3, 7, 7, 8, 8]
    # a tokenizer whose spans skip the space before a word ("▁cat" spans only "cat")
    assert token_offsets([(0, 3), (4, 7)]) == [0, 4]


# -- faults ------------------------------------------------------------------------------------


def test_fault_sequence_is_a_deterministic_function_of_seed_and_arrival() -> None:
    plan = FaultPlan(rate=0.2, seed=0)
    first = list(expected_faults(plan, 400))
    assert first == list(expected_faults(plan, 400))
    assert first != list(expected_faults(FaultPlan(rate=0.2, seed=1), 400))
    faulted = [k for k in first if k is not None]
    # 400 Bernoulli(0.2) draws: 80 expected, sd 8; all four kinds present
    assert 50 <= len(faulted) <= 110
    assert set(faulted) == {"429", "500", "malformed", "stall"}
    assert list(expected_faults(FaultPlan(rate=0.0), 50)) == [None] * 50
    assert set(expected_faults(FaultPlan(rate=1.0, kinds=("500",)), 20)) == {"500"}


def test_fault_plan_validation_and_truncation() -> None:
    assert parse_fault_kinds(" 429, STALL,429 ,") == ("429", "stall")
    with pytest.raises(LmauditError, match="unknown fault kind"):
        FaultPlan(rate=0.1, kinds=("404",))
    with pytest.raises(LmauditError, match="fault-rate"):
        FaultPlan(rate=1.5)
    body = json.dumps({"id": "x", "choices": [{"text": "hello"}]}).encode()
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated_json(body))
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated_json(b"{}"))
