"""OpenAI-compatible bodies ask for generated-token log-probabilities and pass thinking
budgets and reasoning effort through; answers' log-probabilities become token_logprobs."""

from __future__ import annotations

import pytest

from lmaudit.backends.openai_protocol import (
    MalformedResponse,
    generation_body,
    parse_generation,
)
from lmaudit.core.types import GenerateRequest, GenerationParams, LmauditError, ThinkingControl


def test_bodies_ask_for_logprobs_in_each_endpoints_form() -> None:
    request = GenerateRequest("Hi", params=GenerationParams(5, logprobs=True))
    assert generation_body("m", request, chat=True)["logprobs"] is True
    assert generation_body("m", request, chat=False)["logprobs"] == 1
    assert "logprobs" not in generation_body("m", GenerateRequest("Hi"), chat=True)


def test_thinking_budget_and_effort_pass_through() -> None:
    control = ThinkingControl(budget=2048, effort="high")
    body = generation_body("m", GenerateRequest("Hi", params=GenerationParams(
        4096, thinking=control)), chat=True)
    assert body["reasoning_effort"] == "high"
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    effort_only = generation_body("m", GenerateRequest("Hi", params=GenerationParams(
        thinking=ThinkingControl(effort="low"))), chat=True)
    assert effort_only["reasoning_effort"] == "low" and "thinking" not in effort_only
    for control in (ThinkingControl(extend=2), ThinkingControl(min_tokens=100)):
        with pytest.raises(LmauditError, match="hf or vllm"):
            generation_body("m", GenerateRequest("Hi", params=GenerationParams(
                thinking=control)), chat=True)


def test_answers_logprobs_are_read_from_chat_and_completions() -> None:
    chat = {"choices": [{"message": {"content": "4"}, "finish_reason": "stop", "logprobs": {
        "content": [{"token": "4", "logprob": -0.25, "bytes": [52], "top_logprobs": []},
                    {"token": ".", "logprob": -1.5, "bytes": [46], "top_logprobs": []}]}}]}
    assert parse_generation(chat, 0.0, chat=True).token_logprobs == (-0.25, -1.5)
    completion = {"choices": [{"text": " 4", "finish_reason": "stop", "logprobs": {
        "tokens": [" 4"], "token_logprobs": [-0.5], "top_logprobs": [{" 4": -0.5}],
        "text_offset": [0]}}]}
    assert parse_generation(completion, 0.0, chat=False).token_logprobs == (-0.5,)
    none = {"choices": [{"message": {"content": "4"}, "logprobs": None}]}
    assert parse_generation(none, 0.0, chat=True).token_logprobs is None
    with pytest.raises(MalformedResponse, match="content"):
        parse_generation({"choices": [{"message": {"content": "4"}, "logprobs": {
            "content": [{"token": "4"}]}}]}, 0.0, chat=True)
