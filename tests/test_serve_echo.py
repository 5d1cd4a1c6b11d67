"""Prompt log-probabilities over HTTP (`echo` + `logprobs`) against the HF backend's own
loglikelihood and against a direct forward pass, for a GPT-2-style (no BOS) and a
Llama-style (BOS) tokenizer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lmaudit.core.types import GenerateRequest, GenerationParams, LoglikelihoodRequest
from lmaudit.serve.app import RunningServer, start_server_in_thread
from test_serve_support import http, tiny_backend

torch = pytest.importorskip("torch")

# Contexts end without whitespace (so the backend moves nothing) and every continuation
# starts a new word, so the context's tokens are a prefix of the whole text's tokens.
PAIRS = [
    ("The capital of France is", " Paris."),
    ("Question: What colour is the sky? Answer:", " blue, mostly"),
    ("A quick brown fox", " jumps over the lazy dog"),
    ("Numbers: 1 2 3", " 4 5 6 7"),
    ("Language models assign", " probabilities to sequences"),
]


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    backend = tiny_backend(tmp_path_factory, request.param)
    with start_server_in_thread(backend, served_name="tiny", max_batch_wait_ms=20) as running:
        yield running


def echo(server: RunningServer, prompt: str | list[str], **body: Any) -> Any:
    payload = {"model": "tiny", "prompt": prompt, "echo": True, "max_tokens": 0, **body}
    reply = http(f"{server.url}/completions", payload)
    assert reply.status == 200, reply.data
    return reply.json()


def test_echo_equals_backend_loglikelihood(server: RunningServer) -> None:
    backend: Any = server.server.backend
    requests = [LoglikelihoodRequest(c, x) for c, x in PAIRS]
    results = backend.loglikelihood(requests)
    body = echo(server, [c + x for c, x in PAIRS], logprobs=1, temperature=0)
    for request, result, choice in zip(requests, results, body["choices"], strict=True):
        pair = backend.tokenize_pair(request)
        logprobs = choice["logprobs"]
        assert choice["text"] == request.context + request.continuation
        assert choice["finish_reason"] == "length"
        assert logprobs["token_logprobs"][0] is None and logprobs["top_logprobs"][0] is None
        n_context = len(pair.context)
        assert len(logprobs["tokens"]) == n_context + len(pair.continuation)
        # the client's way to find the continuation: the first token at or after the
        # context's last character
        first = next(
            i for i, off in enumerate(logprobs["text_offset"]) if off >= len(request.context)
        )
        assert first == n_context
        continuation = logprobs["token_logprobs"][first:]
        assert continuation == pytest.approx(list(result.token_logprobs), abs=1e-5)
        assert sum(continuation) == pytest.approx(result.logprob, abs=1e-4)
        tops = logprobs["top_logprobs"][first:]
        greedy = [
            lp >= max(top.values()) - 1e-6 for lp, top in zip(continuation, tops, strict=True)
        ]
        assert all(greedy) == result.is_greedy


def greedy_continuations(backend: Any, limit: int = 4) -> list[LoglikelihoodRequest]:
    """(context, argmax next token) pairs whose token survives decoding and re-encoding."""
    tok, model = backend.tokenizer, backend.model
    words = " ".join(c + x for c, x in PAIRS).split(" ")
    found = []
    for end in range(2, len(words)):
        context = " ".join(words[:end])
        ids = tok.encode(context)
        with torch.no_grad():
            best = int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
        text = tok.decode([best])
        if text.strip() and "\ufffd" not in text and tok.encode(context + text) == [*ids, best]:
            found.append(LoglikelihoodRequest(context, text))
        if len(found) == limit:
            break
    return found


def test_top_logprobs_agree_with_is_greedy(server: RunningServer) -> None:
    """On greedy and non-greedy continuations, the actual token is the top one exactly
    when the backend says the continuation is greedy."""
    backend: Any = server.server.backend
    greedy_requests = greedy_continuations(backend)
    assert greedy_requests, "no single-token greedy continuation found"
    requests = greedy_requests + [LoglikelihoodRequest(c, x) for c, x in PAIRS]
    results = backend.loglikelihood(requests)
    assert all(r.is_greedy for r in results[: len(greedy_requests)])
    assert not all(r.is_greedy for r in results[len(greedy_requests) :])
    body = echo(server, [r.context + r.continuation for r in requests], logprobs=3)
    for request, result, choice in zip(requests, results, body["choices"], strict=True):
        first = len(backend.tokenize_pair(request).context)
        logprobs = choice["logprobs"]
        continuation = logprobs["token_logprobs"][first:]
        tops = logprobs["top_logprobs"][first:]
        assert sum(continuation) == pytest.approx(result.logprob, abs=1e-4)
        for lp, top in zip(continuation, tops, strict=True):
            assert 3 <= len(top) <= 4  # top 3, plus the actual token when not among them
            assert max(top.values()) >= lp - 1e-6
        greedy = all(
            lp >= max(top.values()) - 1e-6 for lp, top in zip(continuation, tops, strict=True)
        )
        assert greedy == result.is_greedy


def test_echo_matches_a_direct_forward_pass(server: RunningServer) -> None:
    backend: Any = server.server.backend
    tok, model = backend.tokenizer, backend.model
    prompt = "The capital of Italy is Rome."
    body = echo(server, prompt, logprobs=2)
    choice = body["choices"][0]
    logprobs = choice["logprobs"]
    ids = tok.encode(prompt)
    with torch.no_grad():
        log_probs = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
    expected = [log_probs[i - 1, ids[i]].item() for i in range(1, len(ids))]
    assert logprobs["token_logprobs"][1:] == pytest.approx(expected, abs=1e-5)
    scorer: Any = server.server.scorer
    assert scorer is not None
    assert logprobs["tokens"] == [tok.decode([i]) for i in ids]  # ASCII: whole characters
    for i in range(1, len(ids)):
        top_ids = log_probs[i - 1].topk(2).indices.tolist()
        top = logprobs["top_logprobs"][i]
        for t in top_ids:
            assert top[scorer.token_text(t)] == pytest.approx(log_probs[i - 1, t].item(), abs=1e-5)
    # offsets point at each token's text (ASCII prompt); a BOS token sits at offset 0
    for token, offset in zip(logprobs["tokens"], logprobs["text_offset"], strict=True):
        if token == tok.bos_token and ids[0] == tok.bos_token_id:
            assert offset == 0
        else:
            assert prompt[offset : offset + len(token)] == token
    assert body["usage"] == {
        "prompt_tokens": len(ids),
        "completion_tokens": 0,
        "total_tokens": len(ids),
    }


def test_echo_with_generation_and_logprobs_of_the_completion(server: RunningServer) -> None:
    backend: Any = server.server.backend
    prompt = "A quick brown fox"
    generation = backend.generate(
        [GenerateRequest(prompt=prompt, params=GenerationParams(max_tokens=5))]
    )[0]
    plain = backend.tokenizer.encode(generation.text, add_special_tokens=False)
    prompt_ids = backend.tokenizer.encode(prompt)
    # echo: the prompt's tokens, then the completion's tokens
    body = echo(server, prompt, max_tokens=5, temperature=0, logprobs=1)
    choice = body["choices"][0]
    assert choice["text"] == prompt + generation.text
    assert len(choice["logprobs"]["tokens"]) == len(prompt_ids) + len(plain)
    assert body["usage"]["completion_tokens"] == generation.completion_tokens
    # no echo: the completion's tokens only, offsets into prompt + completion
    reply = http(
        f"{server.url}/completions",
        {"model": "tiny", "prompt": prompt, "max_tokens": 5, "temperature": 0, "logprobs": 1},
    )
    only = reply.json()["choices"][0]
    assert only["text"] == generation.text
    assert only["logprobs"]["token_logprobs"] == pytest.approx(
        choice["logprobs"]["token_logprobs"][len(prompt_ids) :], abs=1e-6
    )
    if plain:
        assert only["logprobs"]["text_offset"][0] >= len(prompt)
        assert None not in only["logprobs"]["token_logprobs"]


def test_too_long_prompt_is_a_clear_400(server: RunningServer) -> None:
    backend: Any = server.server.backend
    long_prompt = " ".join(["Paris"] * (backend.max_length + 10))
    reply = http(
        f"{server.url}/completions",
        {
            "model": "tiny",
            "prompt": [long_prompt, "Rome"],
            "echo": True,
            "max_tokens": 0,
            "logprobs": 0,
        },
    )
    assert reply.status == 400
    assert "max_length" in reply.json()["error"]["message"]
    fine = echo(server, "Rome", logprobs=0)
    assert fine["choices"][0]["text"] == "Rome"
