"""OpenAI wire format: request bodies, echo parsing rules, errors, Retry-After, spec parsing.

Every payload below is written out by hand; the expected sums are the listed log-probs.
"""

from __future__ import annotations

import email.utils

import pytest

from lmaudit.backends.openai_api import display_url, parse_spec
from lmaudit.backends.openai_protocol import (
    MalformedResponse,
    echo_body,
    error_detail,
    generation_body,
    parse_generation,
    parse_loglikelihood,
    parse_rolling,
    retry_after_seconds,
    split_prompt,
)
from lmaudit.core.types import (
    GenerateRequest,
    GenerationParams,
    LmauditError,
    LoglikelihoodResult,
    Message,
)


def echo_payload(
    tokens: list[str],
    values: list[float | None],
    tops: list[dict[str, float] | None] | None = None,
    *,
    text: str | None = None,
) -> dict[str, object]:
    offsets, position = [], 0
    for token in tokens:
        offsets.append(position)
        position += len(token)
    logprobs = {
        "tokens": tokens,
        "text_offset": offsets,
        "token_logprobs": values,
        "top_logprobs": tops
        if tops is not None
        else [None if v is None else {"t": v} for v in values],
    }
    return {
        "choices": [{"text": text if text is not None else "".join(tokens), "logprobs": logprobs}],
        "usage": {"prompt_tokens": len(tokens), "completion_tokens": 0},
    }


def parse(
    payload: object, context: str, continuation: str, prefix: str = ""
) -> LoglikelihoodResult:
    prompt, boundary = split_prompt(context, continuation, prefix)
    return parse_loglikelihood(payload, 0.25, prompt=prompt, boundary=boundary, server="S")


def test_split_prompt_moves_trailing_whitespace_and_uses_prefix_for_empty_context() -> None:
    assert split_prompt("Q: ", "A") == ("Q: A", 2)
    assert split_prompt("Q:", " A") == ("Q: A", 2)
    assert split_prompt("  ", "A") == ("  A", 0)
    assert split_prompt("", "A", "<s>") == ("<s>A", 3)


def test_continuation_tokens_sum_and_greedy() -> None:
    # "Q: A" = "Q" ":" " A"; the continuation " A" is the last token only.
    tops = [None, {":": -1.0}, {" A": -2.0, " B": -0.5}]
    payload = echo_payload(["Q", ":", " A"], [None, -1.0, -2.0], tops)
    result = parse(payload, "Q:", " A")
    assert (result.logprob, result.n_tokens, result.token_logprobs) == (-2.0, 1, (-2.0,))
    assert result.is_greedy is False  # " B" (-0.5) beats " A" (-2.0)
    assert result.usage is not None and result.usage.prompt_tokens == 3
    assert result.usage.latency_s == 0.25
    # The same prompt from "Q: " + "A": the space moves, the boundary stays after ":".
    assert parse(payload, "Q: ", "A").logprob == -2.0


def test_greedy_when_each_token_is_the_top_one_ties_included() -> None:
    tops = [None, {" b": -0.7}, {" c": -0.2, " d": -0.2}]
    payload = echo_payload(["a", " b", " c"], [None, -0.7, -0.2], tops)
    result = parse(payload, "a", " b c")
    assert result.logprob == pytest.approx(-0.9) and result.n_tokens == 2
    assert result.is_greedy is True


def test_straddling_token_is_scored_with_the_continuation() -> None:
    # context "x ab" + continuation "cd": the token " abc" holds context and continuation
    # characters, so it counts (with "d"): -1.5 + -0.5.
    payload = echo_payload(["x", " abc", "d"], [None, -1.5, -0.5])
    result = parse(payload, "x ab", "cd")
    assert result.token_logprobs == (-1.5, -0.5) and result.logprob == -2.0


def test_bos_shift_and_generated_tail_are_removed() -> None:
    # vLLM-style echo with a BOS token "<s>" in front: every text_offset is 3 too large.
    bos = echo_payload(["<s>", "Q", ":", " A"], [None, -0.1, -1.0, -2.0], text="Q: A")
    assert parse(bos, "Q:", " A").token_logprobs == (-2.0,)
    # A server that generated one token despite max_tokens=0: " more" is not scored.
    tail = echo_payload(["Q", ":", " A", " more"], [None, -1.0, -2.0, -9.0])
    assert parse(tail, "Q:", " A").token_logprobs == (-2.0,)


def test_unscorable_first_token_and_missing_logprobs_are_errors() -> None:
    payload = echo_payload(["hello", " world"], [None, -1.0])
    with pytest.raises(LmauditError, match="prefix_text"):
        parse(payload, "", "hello world")
    no_logprobs = {"choices": [{"text": "Q: A", "logprobs": None}]}
    with pytest.raises(LmauditError, match=r"server S does not return prompt logprobs \(echo\)"):
        parse(no_logprobs, "Q:", " A")
    with pytest.raises(MalformedResponse):
        parse({"choices": []}, "Q:", " A")
    with pytest.raises(MalformedResponse):
        parse(["not", "an", "object"], "Q:", " A")


def test_rolling_skips_the_unconditioned_first_token_unless_prefixed() -> None:
    payload = echo_payload(["hello", " big", " world"], [None, -1.0, -2.5])
    result = parse_rolling(payload, 0.0, prompt="hello big world", boundary=0, server="S")
    assert (result.logprob, result.n_tokens) == (-3.5, 2)
    prefixed = echo_payload(["<s>", "hello", " big"], [None, -4.0, -1.0])
    result = parse_rolling(prefixed, 0.0, prompt="<s>hello big", boundary=3, server="S")
    assert (result.logprob, result.n_tokens) == (-5.0, 2)


def test_generation_bodies_map_every_parameter() -> None:
    params = GenerationParams(max_tokens=7, temperature=0.5, top_p=0.9, stop=("\n",), seed=3)
    body = generation_body("m", GenerateRequest("Hi", params=params), chat=False)
    assert body == {
        "model": "m",
        "prompt": "Hi",
        "max_tokens": 7,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": ["\n"],
        "seed": 3,
    }
    chat = generation_body("m", GenerateRequest("Hi"), chat=True)
    assert chat == {
        "model": "m",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 256,
        "temperature": 0.0,
    }
    turns = (Message("system", "Be brief."), Message("user", "Hi"))
    assert generation_body("m", GenerateRequest(messages=turns), chat=True)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    with pytest.raises(LmauditError, match="openai-chat"):
        generation_body("m", GenerateRequest(messages=turns), chat=False)
    assert echo_body("m", "x") == {
        "model": "m",
        "prompt": "x",
        "max_tokens": 0,
        "echo": True,
        "logprobs": 1,
        "temperature": 0.0,
    }


def test_parse_generation_completions_and_chat() -> None:
    completion = {
        "choices": [{"text": " 5", "finish_reason": "length"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 1},
    }
    result = parse_generation(completion, 0.5, chat=False)
    assert (result.text, result.finish_reason, result.prompt_tokens) == (" 5", "length", 4)
    assert result.usage is not None and result.usage.completion_tokens == 1
    chat = {"choices": [{"message": {"content": None}, "finish_reason": "stop"}]}
    assert parse_generation(chat, 0.0, chat=True).text == ""
    with pytest.raises(MalformedResponse):
        parse_generation({"choices": [{"message": "x"}]}, 0.0, chat=True)
    with pytest.raises(MalformedResponse):
        parse_generation({"choices": [{"text": None}]}, 0.0, chat=False)
    with pytest.raises(MalformedResponse, match="answered with an error: overloaded"):
        parse_generation({"error": {"message": "overloaded"}}, 0.0, chat=False)


def test_error_detail_reads_common_shapes_on_one_line() -> None:
    assert error_detail(b'{"error": {"message": "invalid API key"}}') == "invalid API key"
    assert error_detail(b'{"object": "error", "message": "bad\\n prompt"}') == "bad prompt"
    assert error_detail(b'{"error": "overloaded"}') == "overloaded"
    assert error_detail(b'{"detail": [{"loc": "x"}]}') == '[{"loc": "x"}]'
    assert error_detail(b"<html>\n Bad Gateway\n</html>") == "<html> Bad Gateway </html>"
    assert error_detail(b"") == "(empty body)"
    assert error_detail(b"x" * 500, limit=20) == "x" * 17 + "..."


def test_retry_after_seconds_and_http_dates() -> None:
    assert retry_after_seconds("3", 0.0) == 3.0
    assert retry_after_seconds("-2", 0.0) == 0.0
    assert retry_after_seconds(None, 0.0) is None
    assert retry_after_seconds("soon", 0.0) is None
    now = 1_445_412_475.0  # 2015-10-21 07:27:55 UTC
    date = email.utils.formatdate(now + 5, usegmt=True)
    assert date == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after_seconds(date, now) == pytest.approx(5.0)


def test_parse_spec_forms() -> None:
    spec = parse_spec("gpt-4o-mini")
    assert (spec.model, spec.base_url, spec.key_env) == ("gpt-4o-mini", None, None)
    spec = parse_spec("llama3:8b@http://localhost:11434/v1#OLLAMA_KEY")
    assert (spec.model, spec.base_url, spec.key_env) == (
        "llama3:8b",
        "http://localhost:11434/v1",
        "OLLAMA_KEY",
    )
    spec = parse_spec("m@https://user:pw@host:8000/v1/")
    assert (spec.model, spec.base_url) == ("m", "https://user:pw@host:8000/v1/")
    assert spec.base_url is not None
    assert display_url(spec.base_url) == ("https://host:8000/v1", "pw")
    with pytest.raises(LmauditError, match="scheme"):
        parse_spec("m@localhost:8000/v1")
    with pytest.raises(LmauditError, match="environment variable name"):
        parse_spec("m#not-a-name")
    with pytest.raises(LmauditError, match="no model"):
        parse_spec("@http://h/v1")
    with pytest.raises(LmauditError, match="invalid base URL"):
        display_url("ftp://h/v1")
