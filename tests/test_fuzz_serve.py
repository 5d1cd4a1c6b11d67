"""Fuzzing `lmaudit serve`'s request schema and routes (Hypothesis): any JSON body is
either accepted with exactly the values sent (nothing clamped or coerced) or refused with a
400 naming the field; over HTTP every answer is a JSON error or a completion, never a
traceback, and the server keeps answering."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from lmaudit.serve.app import RunningServer, start_server_in_thread
from lmaudit.serve.schema import (
    CHAT_MAX_TOKENS,
    COMPLETION_MAX_TOKENS,
    ApiError,
    Limits,
    parse_chat,
    parse_completion,
)
from test_serve_support import FakeBackend, http

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMITS = Limits(context=64, max_prompts=8)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=10)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


NOTHING: st.SearchStrategy[Any] = st.nothing()


def _mostly(
    valid: st.SearchStrategy[Any], edge: st.SearchStrategy[Any] = NOTHING
) -> st.SearchStrategy[Any]:
    """Usually a valid value (so that bodies get accepted), else an edge case or any JSON."""
    choices = [valid] * 18 + [edge if edge is not NOTHING else valid, JSON_VALUES]
    return st.integers(0, len(choices) - 1).flatmap(lambda i: choices[i])


MESSAGES = st.lists(
    st.fixed_dictionaries({"role": _mostly(st.sampled_from(["user", "system"]))},
                          optional={"content": _mostly(st.text(max_size=8))}),
    min_size=1, max_size=3,
)  # fmt: skip
PROMPTS = st.text(max_size=10) | st.lists(st.text(max_size=5), min_size=1, max_size=8)
FIELDS = {
    "prompt": _mostly(PROMPTS, st.lists(st.text(max_size=2), max_size=12)),
    "messages": _mostly(MESSAGES, st.just([])),
    "max_tokens": _mostly(st.integers(0, 63), st.integers(-5, 2**21)),
    "max_completion_tokens": _mostly(st.integers(1, 63), st.integers(-5, 2**21)),
    "temperature": _mostly(st.floats(0, 2), st.floats()),
    "top_p": _mostly(st.floats(0, 1, exclude_min=True), st.floats()),
    "n": _mostly(st.just(1), st.integers()),
    "seed": _mostly(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**100), 2**100)),
    "stop": _mostly(st.text(max_size=3) | st.lists(st.text(max_size=3), max_size=4),
                    st.lists(st.text(max_size=2), max_size=20)),
    "echo": _mostly(st.booleans()),
    "logprobs": _mostly(st.integers(0, 20), st.integers()),
    "stream": _mostly(st.just(False), st.just(True)),
}  # fmt: skip
REQUIRED = {
    "model": _mostly(st.just("m")),
    "prompt": FIELDS["prompt"],
    "messages": FIELDS["messages"],
}
OPTIONAL = {k: v for k, v in FIELDS.items() if k not in REQUIRED}
WITH_MODEL = st.fixed_dictionaries(REQUIRED, optional=OPTIONAL)
BODIES = _mostly(WITH_MODEL, st.fixed_dictionaries({}, optional=FIELDS))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_params(body: dict[str, Any], params: Any, *, field: str, default: int) -> None:
    """The accepted parameters are exactly the values sent (or the documented defaults)."""
    sent_max = body.get(field)
    assert params.max_tokens == (min(default, LIMITS.max_tokens) if sent_max is None else sent_max)
    assert 0 <= params.max_tokens <= LIMITS.max_tokens
    temperature = body.get("temperature")
    assert params.temperature == (1.0 if temperature is None else temperature)
    assert math.isfinite(params.temperature) and 0 <= params.temperature <= 2
    top_p = body.get("top_p")
    assert params.top_p == (1.0 if top_p is None else top_p) and 0 < params.top_p <= 1
    assert params.seed == body.get("seed")
    assert params.seed is None or -(2**63) <= params.seed < 2**63
    assert body.get("n") in (None, 1) and not body.get("stream")
    stop = body.get("stop")
    assert params.stop == (
        () if stop is None else (stop,) if isinstance(stop, str) else tuple(stop)
    )


def _refused(error: ApiError) -> None:
    event(f"refused: {error.param}")
    assert error.status == 400
    assert error.message and "Traceback" not in error.message
    assert "\n" not in error.message


@FUZZ
@given(body=BODIES)
def test_completion_bodies_are_exact_or_refused(body: Any) -> None:
    try:
        call = parse_completion(body, LIMITS)
    except ApiError as error:
        _refused(error)
        return
    event("accepted")
    assert isinstance(body, dict)
    assert call.model == body["model"] and isinstance(call.model, str)
    prompt = body["prompt"]
    assert call.prompts == ((prompt,) if isinstance(prompt, str) else tuple(prompt))
    assert 1 <= len(call.prompts) <= LIMITS.max_prompts
    assert call.echo is body.get("echo", False)
    assert call.logprobs == body.get("logprobs")
    _check_params(body, call.params, field="max_tokens", default=COMPLETION_MAX_TOKENS)


def _sent_text(content: Any) -> str:
    """What an accepted message's content says: null is empty, a list of text parts is their
    texts joined (the only list the schema accepts)."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(part["text"] for part in content)
    assert isinstance(content, str)
    return content


@FUZZ
@given(body=BODIES)
@example(body={"model": "m", "messages": [{"role": "user", "content": []}]})  # found by CI
@example(body={"model": "m", "messages": [{"role": "user", "content": [
    {"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]})
def test_chat_bodies_are_exact_or_refused(body: Any) -> None:
    try:
        call = parse_chat(body, LIMITS)
    except ApiError as error:
        _refused(error)
        return
    event("accepted")
    assert isinstance(body, dict)
    assert [m.role for m in call.messages] == [m["role"] for m in body["messages"]]
    for message, sent in zip(call.messages, body["messages"], strict=True):
        assert message.content == _sent_text(sent.get("content"))
    field = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    _check_params(body, call.params, field=field, default=CHAT_MAX_TOKENS)
    assert call.params.max_tokens >= 1


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with start_server_in_thread(FakeBackend(), served_name="m", max_prompts_per_request=8) as s:
        yield s


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(body=BODIES, chat=st.booleans(), raw=st.none() | st.binary(max_size=30))
def test_any_payload_gets_a_json_answer(
    server: RunningServer, body: Any, chat: bool, raw: bytes | None
) -> None:
    path = "/chat/completions" if chat else "/completions"
    data = raw if raw is not None else json.dumps(body).encode()
    reply = http(f"{server.url}{path}", raw=data, timeout=10)
    assert reply.status in (200, 400, 404), reply.data[:200]
    event(f"status {reply.status}")
    payload = reply.json()
    if reply.status == 200:
        assert payload["choices"] and payload["model"] == "m"
    else:
        assert isinstance(payload["error"]["message"], str)
        assert "Traceback" not in payload["error"]["message"]
    assert http(f"{server.origin}/health").status == 200
