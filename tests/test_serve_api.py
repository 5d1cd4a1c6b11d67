"""`lmaudit serve` over HTTP: generation equals the backend's, chat, errors, API key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lmaudit.core.types import GenerateRequest, GenerationParams, Message
from lmaudit.serve.app import RunningServer, start_server_in_thread
from test_serve_support import FakeBackend, http, tiny_backend

PROMPTS = ["The capital of France is", "A quick brown fox", "Question: What colour is the sky?"]


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    backend = tiny_backend(tmp_path_factory, "llama")
    with start_server_in_thread(backend, served_name="tiny-llama") as server:
        yield server


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    backend = tiny_backend(tmp_path_factory, "gpt2")
    with start_server_in_thread(backend, served_name="tiny-gpt2") as server:
        yield server


def complete(server: RunningServer, **body: Any) -> Any:
    reply = http(f"{server.url}/completions", {"model": server.server.options.served_name, **body})
    assert reply.status == 200, reply.data
    return reply.json()


def test_health_and_models(llama: RunningServer) -> None:
    assert http(f"{llama.origin}/health").json() == {"status": "ok"}
    models = http(f"{llama.url}/models").json()
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["tiny-llama"]
    assert models["data"][0]["object"] == "model"


def test_greedy_completion_equals_backend_generate(llama: RunningServer) -> None:
    backend = llama.server.backend
    params = GenerationParams(max_tokens=8, temperature=0.0)
    expected = backend.generate([GenerateRequest(prompt=p, params=params) for p in PROMPTS])
    body = complete(llama, prompt=PROMPTS, max_tokens=8, temperature=0)
    assert body["object"] == "text_completion"
    assert body["model"] == "tiny-llama"
    assert body["id"].startswith("cmpl-") and isinstance(body["created"], int)
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    for choice, generation in zip(body["choices"], expected, strict=True):
        assert choice["text"] == generation.text
        assert choice["finish_reason"] == generation.finish_reason
        assert choice["logprobs"] is None
    prompt_tokens = sum(g.prompt_tokens for g in expected)
    completion_tokens = sum(g.completion_tokens for g in expected)
    assert body["usage"] == {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    again = complete(llama, prompt=PROMPTS[0], max_tokens=8, temperature=0)
    assert again["choices"][0]["text"] == expected[0].text  # deterministic


def test_stop_and_seeded_sampling_follow_the_backend(llama: RunningServer) -> None:
    backend = llama.server.backend
    sampled = GenerationParams(max_tokens=6, temperature=1.0, seed=7)
    expected = backend.generate([GenerateRequest(prompt=PROMPTS[1], params=sampled)])[0]
    body = complete(llama, prompt=PROMPTS[1], max_tokens=6, temperature=1.0, seed=7)
    assert body["choices"][0]["text"] == expected.text
    greedy = backend.generate([GenerateRequest(prompt=PROMPTS[0], params=GenerationParams(12))])
    text = greedy[0].text
    if len(text) > 2:  # stop at the generated text's third character
        stop = text[2]
        body = complete(llama, prompt=PROMPTS[0], max_tokens=12, temperature=0, stop=[stop])
        assert body["choices"][0]["text"] == text[: text.index(stop)]
        assert body["choices"][0]["finish_reason"] == "stop"


def test_chat_completion_uses_the_chat_template(llama: RunningServer) -> None:
    messages = [Message("system", "Answer briefly."), Message("user", "What colour is the sky?")]
    expected = llama.server.backend.generate(
        [GenerateRequest(messages=tuple(messages), params=GenerationParams(6, 0.0))]
    )[0]
    reply = http(
        f"{llama.url}/chat/completions",
        {
            "model": "tiny-llama",
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": 6,
            "temperature": 0,
        },
    )
    assert reply.status == 200, reply.data
    body = reply.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": expected.text}
    assert choice["finish_reason"] == expected.finish_reason
    assert body["usage"]["prompt_tokens"] == expected.prompt_tokens
    # the templated prompt is longer than the two messages' words
    assert expected.prompt_tokens > len(
        ["Answer", "briefly.", "What", "colour", "is", "the", "sky?"]
    )


def test_chat_without_template_fails_clearly(gpt2: RunningServer) -> None:
    reply = http(
        f"{gpt2.url}/chat/completions",
        {"model": "tiny-gpt2", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert reply.status == 400
    error = reply.json()["error"]
    assert "no chat template" in error["message"]
    assert "/v1/completions" in error["message"]
    assert error["code"] == "no_chat_template"


def test_errors_are_openai_shaped(gpt2: RunningServer) -> None:
    url = f"{gpt2.url}/completions"
    missing = http(url, {"model": "tiny-gpt2"})
    assert missing.status == 400
    assert missing.json()["error"]["param"] == "prompt"
    assert "`prompt`" in missing.json()["error"]["message"]
    bad_type = http(url, {"model": "tiny-gpt2", "prompt": "x", "max_tokens": "many"})
    assert (bad_type.status, bad_type.json()["error"]["param"]) == (400, "max_tokens")
    not_json = http(url, raw=b"{not json")
    assert not_json.status == 400
    assert "not valid JSON" in not_json.json()["error"]["message"]
    unknown = http(url, {"model": "gpt-4", "prompt": "x"})
    assert unknown.status == 404
    assert unknown.json()["error"]["code"] == "model_not_found"
    assert "gpt-4" in unknown.json()["error"]["message"]
    route = http(f"{gpt2.url}/embeddings", {"model": "tiny-gpt2", "input": "x"})
    assert route.status == 404
    assert "error" in route.json()
    stats = http(f"{gpt2.origin}/lmaudit/stats").json()
    assert stats["requests_failed"] >= 4
    assert stats["requests_completed"] + stats["requests_failed"] == stats["requests_received"]


def test_api_key_is_required_when_configured() -> None:
    backend = FakeBackend()
    with start_server_in_thread(backend, served_name="fake", api_key="s3cret") as server:
        body = {"model": "fake", "prompt": "abc", "max_tokens": 5}
        assert http(f"{server.url}/completions", body).status == 401
        wrong = http(f"{server.url}/completions", body, headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        assert wrong.json()["error"]["code"] == "invalid_api_key"
        assert http(f"{server.url}/models").status == 401
        good = {"Authorization": "Bearer s3cret"}
        reply = http(f"{server.url}/completions", body, headers=good)
        assert reply.status == 200
        assert reply.json()["choices"][0]["text"] == "cba"
        assert http(f"{server.origin}/health").status == 200  # health needs no key
        assert server.stats()["requests_received"] == 1  # refused requests are not counted


def test_backend_without_prompt_logprobs_refuses_echo_and_logprobs() -> None:
    backend = FakeBackend()
    with start_server_in_thread(backend, served_name="fake") as server:
        url = f"{server.url}/completions"
        reply = http(url, {"model": "fake", "prompt": "abc", "echo": True, "logprobs": 1})
        assert reply.status == 400
        error = reply.json()["error"]
        assert "echo/logprobs is not supported by this backend" in error["message"]
        assert error["param"] == "logprobs"
        assert backend.calls == []  # refused before any backend work
        echo = http(url, {"model": "fake", "prompt": "abc", "echo": True, "max_tokens": 2})
        assert echo.json()["choices"][0]["text"] == "abccb"  # echo without logprobs works
        failed = http(url, {"model": "fake", "prompt": "fail"})
        assert failed.status == 400
        assert "refuses the prompt" in failed.json()["error"]["message"]
        chat = http(
            f"{server.url}/chat/completions",
            {"model": "fake", "messages": [{"role": "user", "content": "hello"}]},
        )
        assert chat.json()["choices"][0]["message"]["content"] == "olleh"


def test_build_app_exposes_its_model_server() -> None:
    from lmaudit.serve.app import SERVER_KEY, ServerOptions, build_app

    app = build_app(FakeBackend(), ServerOptions(served_name="x", max_batch_size=3))
    server = app[SERVER_KEY]
    assert server.options.served_name == "x"
    assert server.batcher.max_batch_size == 3
    assert server.scorer is None  # no tokenizer: echo/logprobs are refused
