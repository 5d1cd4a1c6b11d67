"""The OpenAI-compatible backend against a real local HTTP server (tests/fake_openai_server).

Expected log-probs are computed by hand from the fake server's published formula
(`token_logprob(previous token, token)`) and its tokenization (words and punctuation with
their leading whitespace), written out per request below.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections.abc import Iterator

import pytest

from fake_openai_server import FakeOpenAIServer, is_top_token, token_logprob
from lmaudit.backends.openai_api import OpenAIBackend
from lmaudit.backends.registry import load_backend
from lmaudit.core.backend import StreamingBackend
from lmaudit.core.runner import evaluate
from lmaudit.core.types import (
    GenerateRequest,
    GenerationParams,
    LmauditError,
    LoglikelihoodRequest,
    Message,
    RequestKind,
    RollingLoglikelihoodRequest,
    Sample,
)
from lmaudit.tasks.generic import GenerateTask, MultipleChoiceTask


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture
def backend(server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIBackend]:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with OpenAIBackend("fake", server.base_url, max_concurrency=8) as made:
        yield made


def lp(previous: str, token: str) -> float:
    return token_logprob(previous, token)


def test_loglikelihood_values_follow_the_servers_token_logprobs(backend: OpenAIBackend) -> None:
    requests = [
        # "Question: 2 + 2 =" + " 4": tokens ... " =", " 4"; the continuation is " 4".
        LoglikelihoodRequest("Question: 2 + 2 =", " 4"),
        # Trailing space moves: "The sky is" | " blue".
        LoglikelihoodRequest("The sky is ", "blue"),
        # Two continuation tokens: " northern", " France".
        LoglikelihoodRequest("Paris is in", " northern France"),
        # "x ab" + "cd" is tokenized "x", " abcd": the straddling token counts.
        LoglikelihoodRequest("x ab", "cd"),
    ]
    results = backend.loglikelihood(requests)
    expected = [
        [lp(" =", " 4")],
        [lp(" is", " blue")],
        [lp(" in", " northern"), lp(" northern", " France")],
        [lp("x", " abcd")],
    ]
    for result, values in zip(results, expected, strict=True):
        assert result.token_logprobs == tuple(values)
        assert result.logprob == pytest.approx(math.fsum(values), abs=1e-12)
        assert result.n_tokens == len(values)
    greedy = is_top_token(" in", " northern") and is_top_token(" northern", " France")
    assert results[2].is_greedy is greedy
    assert results[0].is_greedy is is_top_token(" =", " 4")
    usage = results[0].usage
    assert usage is not None and usage.prompt_tokens == 7 and usage.latency_s > 0


@pytest.mark.parametrize("quirk", ["bos", "echo_generates"])
def test_bos_echo_and_extra_generated_token_do_not_change_scores(quirk: str) -> None:
    requests = [LoglikelihoodRequest("Paris is in", " northern France")]
    with FakeOpenAIServer(bos=quirk == "bos", echo_generates=quirk == "echo_generates") as server:
        result = OpenAIBackend("fake", server.base_url).loglikelihood(requests)[0]
    assert result.token_logprobs == (lp(" in", " northern"), lp(" northern", " France"))


def test_empty_context_needs_a_prefix_and_rolling_skips_the_first_token(
    server: FakeOpenAIServer,
) -> None:
    plain = OpenAIBackend("fake", server.base_url)
    with pytest.raises(LmauditError, match="prefix_text"):
        plain.loglikelihood([LoglikelihoodRequest("", "hello world")])
    rolling = plain.loglikelihood_rolling([RollingLoglikelihoodRequest("hello big world")])[0]
    assert rolling.n_tokens == 2
    assert rolling.logprob == pytest.approx(lp("hello", " big") + lp(" big", " world"))
    # The fake tokenizes "<s>" as "<", "s", ">": the text's first token follows ">".
    prefixed = OpenAIBackend("fake", server.base_url, prefix_text="<s>")
    result = prefixed.loglikelihood([LoglikelihoodRequest("", "hello world")])[0]
    assert result.token_logprobs == (lp(">", "hello"), lp("hello", " world"))
    rolling = prefixed.loglikelihood_rolling([RollingLoglikelihoodRequest("hello big")])[0]
    assert rolling.token_logprobs == (lp(">", "hello"), lp("hello", " big"))


def test_generation_completions_and_chat(server: FakeOpenAIServer) -> None:
    params = GenerationParams(max_tokens=8, stop=("\n",))
    completions = OpenAIBackend("fake", server.base_url)
    sums, truncated = completions.generate(
        [
            GenerateRequest("Q: 2 + 3 =", params=params),
            GenerateRequest("Tell me", params=GenerationParams(max_tokens=2)),
        ]
    )
    assert (sums.text, sums.finish_reason, sums.completion_tokens) == (" 5", "stop", 1)
    # "Q", ":", " 2", " +", " 3", " =": six prompt tokens.
    assert sums.prompt_tokens == 6 and sums.usage is not None and sums.usage.prompt_tokens == 6
    assert truncated.finish_reason == "length" and truncated.completion_tokens == 2
    assert server.paths["/v1/completions"] == 2
    chat = OpenAIBackend("fake", server.base_url, chat=True)
    turns = (Message("system", "Add."), Message("user", "7 + 8 ="))
    answers = chat.generate(
        [GenerateRequest(messages=turns, params=params), GenerateRequest("1 + 1 =", params=params)]
    )
    assert [a.text for a in answers] == ["15", "2"]
    assert server.paths["/v1/chat/completions"] == 2
    with pytest.raises(LmauditError, match="openai-chat"):
        completions.generate([GenerateRequest(messages=turns)])


def test_evaluate_multiple_choice_end_to_end(backend: OpenAIBackend) -> None:
    samples = [
        Sample("a", "Sky colour:", 0, choices=("blue", "green", "red")),
        Sample("b", "Two plus two:", 2, choices=("three", "five", "four")),
    ]
    task = MultipleChoiceTask("mc", lambda: samples)
    records = evaluate(task, backend, samples, show_progress=False)
    for record, sample in zip(records, samples, strict=True):
        last = ":"  # every prompt ends with ":" and each option is one token " <word>"
        expected = tuple(lp(last, " " + option) for option in sample.choices or ())
        assert record.choice_logprobs == pytest.approx(expected, abs=1e-12)
        best = max(range(len(expected)), key=lambda i: (expected[i], -i))
        assert record.metrics["acc"] == float(best == sample.target)


def test_evaluate_generate_task_end_to_end(backend: OpenAIBackend) -> None:
    samples = [Sample("s1", "2 + 3 =", "5"), Sample("s2", "4 + 4 =", "9")]
    task = GenerateTask("sums", lambda: samples, max_tokens=8, stop=("\n",))
    records = evaluate(task, backend, samples, show_progress=False)
    assert [r.response for r in records] == [" 5", " 8"]
    assert [r.metrics["acc_flexible"] for r in records] == [1.0, 0.0]


def test_chat_backend_fails_capability_check_before_any_request(
    server: FakeOpenAIServer,
) -> None:
    chat = load_backend(f"openai-chat:fake@{server.base_url}")
    assert chat.capabilities == frozenset({RequestKind.GENERATE})
    samples = [Sample("a", "Q:", 0, choices=("x", "y"))]
    task = MultipleChoiceTask("mc", lambda: samples)
    with pytest.raises(LmauditError, match="does not support loglikelihood requests"):
        evaluate(task, chat, samples, show_progress=False)
    assert server.requests_received == 0


def test_registry_spec_options_and_fingerprint(server: FakeOpenAIServer) -> None:
    backend = load_backend(
        f"openai:org/model-7b@{server.base_url}",
        {"max_concurrency": 4, "timeout": 5, "max_retries": 2, "endpoints": None},
    )
    assert isinstance(backend, OpenAIBackend) and isinstance(backend, StreamingBackend)
    # not yet asked what the server serves: "unknown" (never cached)
    assert backend.fingerprint.key() == (
        f"openai-completions:org/model-7b@{server.base_url}@unknown/n/a"
    )
    server.models = {"org/model-7b": {"created": 1_600_000_000, "root": "/w/7b"}}
    entry = {"id": "org/model-7b", "object": "model", "owned_by": "fake"}
    entry.update(created=1_600_000_000, root="/w/7b")
    digest = hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()[:16]
    assert backend.identify().key() == (
        f"openai-completions:org/model-7b@{server.base_url}@models:{digest}/n/a"
    )
    assert backend.served_model == entry
    assert backend.capabilities == frozenset(RequestKind)
    default = load_backend("openai:gpt-4o-mini")
    assert default.fingerprint.model == "gpt-4o-mini@https://api.openai.com/v1"
    with pytest.raises(LmauditError, match=r"unknown option.*batch_size"):
        load_backend("openai:m", {"batch_size": 4})


def test_api_key_header_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVER_KEY", "sk-right")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    request = [GenerateRequest("1 + 2 =", params=GenerationParams(max_tokens=4))]
    with FakeOpenAIServer(api_key="sk-right") as server:
        keyed = load_backend(f"openai:fake@{server.base_url}#MY_SERVER_KEY")
        # " 3", "\n\nQ", ":", " more": four tokens, all within max_tokens=4.
        assert keyed.generate(request)[0].text == " 3\n\nQ: more"
        assert server.authorization == ["Bearer sk-right"]
    with FakeOpenAIServer() as server:
        load_backend(f"openai:fake@{server.base_url}").generate(request)
        assert server.authorization == [None]  # no key: no Authorization header
    with pytest.raises(LmauditError, match=r"MISSING_KEY .*is not set"):
        load_backend("openai:fake@http://127.0.0.1:9/v1#MISSING_KEY")


def test_usable_from_a_thread_that_runs_an_event_loop(backend: OpenAIBackend) -> None:
    # As in Jupyter: the caller's thread already runs a loop; the backend's loop lives on
    # its own thread, so a blocking call still works there.
    async def inside() -> str:
        return backend.generate([GenerateRequest("20 + 22 =")])[0].text

    assert asyncio.run(inside()).startswith(" 42")
