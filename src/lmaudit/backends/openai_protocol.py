"""OpenAI-compatible wire format: request bodies in, lmaudit responses out (pure functions).

Loglikelihood through the completions endpoint (`echo=True, max_tokens=0, logprobs=1`, the
prompt is `context + continuation`): the server echoes the prompt's tokens with
`text_offset`, `token_logprobs` (nats; `null` for a token nothing precedes) and
`top_logprobs`. Conventions:

* Split: as in lm-evaluation-harness, trailing whitespace of the context moves to the
  continuation, so the boundary is `len(context.rstrip())` characters into the prompt.
* Straddling tokens: a token belongs to the continuation when it ends after the boundary,
  i.e. when it holds at least one continuation character. A token that starts in the
  context and ends in the continuation is therefore scored with the continuation, so every
  continuation character is covered (never a zero-token continuation).
* Offsets are anchored at the end of the echoed prompt: servers that prepend a BOS token
  (vLLM with Llama tokenizers reports it as text such as "<s>") shift every `text_offset`
  by that token's length, and the shift is measured and removed.
* Empty context (after the whitespace move): the prompt is `prefix_text + continuation`
  (`prefix_text` e.g. "<|endoftext|>", the text of the model's BOS/EOT token, as
  lm-evaluation-harness conditions on the prefix token). When a continuation token still
  comes back without a log-prob (nothing precedes it), that is an error, never a silent
  drop.
* `is_greedy`: at every continuation position the token's log-prob is the maximum of that
  position's `top_logprobs` (ties count as greedy, as in lm-evaluation-harness).
* Rolling loglikelihood: the prompt is `prefix_text + text`; every token of the text that
  has a log-prob is summed. A first token with a `null` log-prob (no BOS from the server and
  no `prefix_text`) cannot be scored and is left out of `logprob` and `n_tokens`.

Generation with `params.logprobs`: chat bodies ask `logprobs: true` (the answer's
`logprobs.content[i].logprob`), completions bodies `logprobs: 1` (`logprobs.token_logprobs`);
the values are the server's (vLLM's default is the model's raw log-probabilities). Thinking
(`params.thinking`): `effort` is sent as `reasoning_effort` (OpenAI, Gemini, vLLM) and
`budget` as `thinking: {"type": "enabled", "budget_tokens": B}` (the form of Anthropic's
OpenAI-compatible endpoint; a server that knows neither answers with an error naming the
field). Extension ("Wait") needs token-level control and is refused up front.

Malformed bodies (missing fields, wrong types) raise `MalformedResponse` (worth a retry); a
well-formed answer without prompt log-probs raises `LmauditError` (retrying cannot help).
"""

from __future__ import annotations

import email.utils
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from lmaudit.core.types import (
    GenerateRequest,
    Generation,
    LmauditError,
    LoglikelihoodResult,
    Message,
    RollingLoglikelihoodResult,
    ThinkingControl,
    Usage,
)

COMPLETIONS_PATH = "/completions"
CHAT_PATH = "/chat/completions"
NO_ECHO_HINT = "use a server that supports it, e.g. vLLM"


class MalformedResponse(ValueError):
    """The server's body is not the expected JSON shape (retrying may help)."""


def split_prompt(context: str, continuation: str, prefix_text: str = "") -> tuple[str, int]:
    """(prompt, boundary): the text to echo and where the continuation starts in it.

    Trailing whitespace of the context moves to the continuation; an empty (or all
    whitespace) context is replaced by `prefix_text`.
    """
    stripped = context.rstrip()
    moved = context[len(stripped) :] + continuation
    if not stripped:
        return prefix_text + moved, len(prefix_text)
    return stripped + moved, len(stripped)


def echo_body(model: str, prompt: str | list[str]) -> dict[str, Any]:
    """Completions body that returns the prompt's token log-probs and generates nothing
    (`prompt` a string, or a list of strings for a packed request)."""
    return {
        "model": model,
        "prompt": prompt,
        "max_tokens": 0,
        "echo": True,
        "logprobs": 1,
        "temperature": 0.0,
    }


def chat_messages(request: GenerateRequest) -> list[dict[str, str]]:
    """The request's chat turns; a plain prompt becomes one user message."""
    messages: Sequence[Message] = request.messages or (Message("user", request.prompt or ""),)
    return [{"role": m.role, "content": m.content} for m in messages]


def generation_body(model: str, request: GenerateRequest, *, chat: bool) -> dict[str, Any]:
    """Completions body (`prompt`) or chat body (`messages`) with the decoding settings.

    `top_p` is sent only when it is not 1, `stop` only when non-empty, `seed` only when set.
    """
    params = request.params
    body: dict[str, Any] = {"model": model}
    if chat:
        body["messages"] = chat_messages(request)
    else:
        if request.prompt is None:
            raise LmauditError(
                "a completions endpoint cannot take chat messages; use an openai-chat: model"
            )
        body["prompt"] = request.prompt
    body["max_tokens"] = params.max_tokens
    body["temperature"] = params.temperature
    if params.top_p != 1.0:
        body["top_p"] = params.top_p
    if params.stop:
        body["stop"] = list(params.stop)
    if params.seed is not None:
        body["seed"] = params.seed
    if params.logprobs:
        body["logprobs"] = True if chat else 1
    if params.thinking is not None:
        body.update(thinking_fields(params.thinking))
    return body


def thinking_fields(control: ThinkingControl) -> dict[str, Any]:
    """The body fields of a thinking budget or effort (module docstring)."""
    if control.extend or control.min_tokens:
        raise LmauditError("thinking_extend and thinking_min need token-level control of "
                           "decoding: use the hf or vllm backend (an API can only cap thinking)")
    fields: dict[str, Any] = {}
    if control.effort is not None:
        fields["reasoning_effort"] = control.effort
    if control.budget is not None:
        fields["thinking"] = {"type": "enabled", "budget_tokens": control.budget}
    return fields


def generated_logprobs(choice: Mapping[str, Any], *, chat: bool) -> tuple[float, ...] | None:
    """The generated tokens' log-probabilities of one choice (None when it has none)."""
    logprobs = choice.get("logprobs")
    if logprobs is None:
        return None
    if not isinstance(logprobs, Mapping):
        raise MalformedResponse("choice logprobs is not an object")
    if chat:
        content = logprobs.get("content")
        if content is None:
            return None
        if not isinstance(content, list) or not all(
                isinstance(t, Mapping) and isinstance(t.get("logprob"), int | float)
                for t in content):
            raise MalformedResponse("chat logprobs.content is not a list of tokens")
        return tuple(float(t["logprob"]) for t in content)
    values = logprobs.get("token_logprobs")
    if values is None:
        return None
    if not isinstance(values, list) or not all(isinstance(v, int | float) for v in values):
        raise MalformedResponse("logprobs.token_logprobs is not a list of numbers")
    return tuple(float(v) for v in values)


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def usage_of(payload: Mapping[str, Any], latency_s: float) -> Usage:
    """Token counts from the body's `usage` (0 when absent) and the measured latency."""
    usage = payload.get("usage") or {}
    return Usage(
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        latency_s=latency_s,
    )


def checked_body(payload: Any) -> Mapping[str, Any]:
    """The body as a mapping; MalformedResponse when it is not one or carries an error."""
    if not isinstance(payload, Mapping):
        raise MalformedResponse("body is not a JSON object")
    if payload.get("error"):
        detail = error_detail(json.dumps(payload).encode("utf-8"))
        raise MalformedResponse(f"the server answered with an error: {detail}")
    return payload


def _first_choice(payload: Any) -> Mapping[str, Any]:
    choices = checked_body(payload).get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise MalformedResponse("body has no choices")
    return choices[0]


def parse_generation(payload: Any, latency_s: float, *, chat: bool) -> Generation:
    """A Generation from a completions (`text`) or chat (`message.content`) body.

    A chat answer whose content is null (e.g. a refusal or tool call) becomes "".
    """
    return generation_of(_first_choice(payload), usage_of(payload, latency_s), chat=chat)


def choice_text(choice: Mapping[str, Any], *, chat: bool) -> str:
    """The generated text of one choice (`text`, or chat `message.content`; null content is
    "")."""
    if chat:
        message = choice.get("message")
        if not isinstance(message, Mapping):
            raise MalformedResponse("chat choice has no message")
        text = message.get("content") or ""
    else:
        text = choice.get("text")
    if not isinstance(text, str):
        raise MalformedResponse("choice has no text")
    return text


def generation_of(choice: Mapping[str, Any], usage: Usage, *, chat: bool) -> Generation:
    """A Generation from one choice, with the token counts of `usage`."""
    return Generation(
        text=choice_text(choice, chat=chat),
        finish_reason=str(choice.get("finish_reason") or "stop"),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        usage=usage,
        token_logprobs=generated_logprobs(choice, chat=chat),
    )


class EchoedTokens:
    """The echoed prompt's per-token log-probs (of one choice), with offsets shifted into
    prompt coordinates."""

    def __init__(self, choice: Mapping[str, Any], prompt: str, server: str) -> None:
        logprobs = choice.get("logprobs")
        if not isinstance(logprobs, Mapping) or not logprobs.get("token_logprobs"):
            raise LmauditError(
                f"server {server} does not return prompt logprobs (echo); {NO_ECHO_HINT}"
            )
        tokens = logprobs.get("tokens")
        offsets = logprobs.get("text_offset")
        values = logprobs["token_logprobs"]
        top = logprobs.get("top_logprobs")
        if not isinstance(tokens, list) or not isinstance(offsets, list):
            raise LmauditError(
                f"server {server} returns no tokens/text_offset with its logprobs; {NO_ECHO_HINT}"
            )
        if not (len(tokens) == len(offsets) == len(values)) or not tokens:
            raise MalformedResponse("logprobs lists differ in length")
        if top is not None and (not isinstance(top, list) or len(top) != len(tokens)):
            raise MalformedResponse("top_logprobs has the wrong length")
        text = choice.get("text")
        generated = 0
        if isinstance(text, str) and len(text) > len(prompt) and text.startswith(prompt):
            generated = len(text) - len(prompt)  # the server generated despite max_tokens=0
        end = int(offsets[-1]) + len(str(tokens[-1]))
        self.shift = end - generated - len(prompt)  # e.g. the length of an echoed "<s>"
        self.prompt_end = len(prompt)
        self.starts = [int(o) - self.shift for o in offsets]
        self.ends = [*self.starts[1:], end - self.shift]
        self.values: list[float | None] = [None if v is None else float(v) for v in values]
        self.top: list[Any] = top if top is not None else [None] * len(tokens)
        self.server = server
        self.prompt = prompt

    def prompt_token_count(self) -> int:
        """Echoed tokens that start inside the prompt (a server's BOS token included)."""
        return sum(start < self.prompt_end for start in self.starts)

    def positions_after(self, boundary: int) -> list[int]:
        """Indices of prompt tokens that end after `boundary` (see the straddling rule)."""
        return [
            i
            for i, (start, end) in enumerate(zip(self.starts, self.ends, strict=True))
            if end > boundary and start < self.prompt_end
        ]

    def is_greedy_at(self, i: int) -> bool:
        top = self.top[i]
        value = self.values[i]
        if not isinstance(top, Mapping) or not top:
            raise LmauditError(
                f"server {self.server} returns no top_logprobs for echoed tokens; {NO_ECHO_HINT}"
            )
        assert value is not None
        return value >= max(float(v) for v in top.values())


def parse_loglikelihood(
    payload: Any, latency_s: float, *, prompt: str, boundary: int, server: str
) -> LoglikelihoodResult:
    """Sum of the continuation's token log-probs (nats) from an echo body.

    `prompt` and `boundary` come from `split_prompt`; rules in the module docstring.
    """
    echoed = EchoedTokens(_first_choice(payload), prompt, server)
    return loglikelihood_of(echoed, boundary, usage_of(payload, latency_s))


def loglikelihood_of(echoed: EchoedTokens, boundary: int, usage: Usage) -> LoglikelihoodResult:
    """The continuation's log-prob from one echoed choice (see `parse_loglikelihood`)."""
    positions = echoed.positions_after(boundary)
    if not positions:
        raise MalformedResponse("no echoed token covers the continuation")
    values: list[float] = []
    for i in positions:
        value = echoed.values[i]
        if value is None:
            raise LmauditError(
                f"server {echoed.server} gives no log-prob for the first token of "
                f"{echoed.prompt[:40]!r}: nothing precedes it; set the backend option "
                "prefix_text to the text of the model's BOS/EOT token (e.g. '<|endoftext|>')"
            )
        values.append(value)
    greedy = tuple(echoed.is_greedy_at(i) for i in positions)
    return LoglikelihoodResult(
        logprob=math.fsum(values),
        is_greedy=all(greedy),
        n_tokens=len(values),
        token_logprobs=tuple(values),
        token_greedy=greedy,
        usage=usage,
    )


def parse_rolling(
    payload: Any, latency_s: float, *, prompt: str, boundary: int, server: str
) -> RollingLoglikelihoodResult:
    """Sum of the log-probs (nats) of the text's tokens (`prompt[boundary:]`) that have one.

    A token without a log-prob (the very first one, when nothing precedes it) is skipped.
    """
    echoed = EchoedTokens(_first_choice(payload), prompt, server)
    return rolling_of(echoed, boundary, usage_of(payload, latency_s))


def rolling_of(echoed: EchoedTokens, boundary: int, usage: Usage) -> RollingLoglikelihoodResult:
    """The text's log-prob from one echoed choice (see `parse_rolling`)."""
    values = [
        value for i in echoed.positions_after(boundary) if (value := echoed.values[i]) is not None
    ]
    return RollingLoglikelihoodResult(
        logprob=math.fsum(values),
        n_tokens=len(values),
        token_logprobs=tuple(values),
        usage=usage,
    )


def error_detail(body: bytes, limit: int = 300) -> str:
    """The server's error message from an error body, on one line and at most `limit` chars.

    Understands OpenAI (`{"error": {"message": ...}}`), vLLM/TGI (`{"message": ...}`,
    `{"error": "..."}`, `{"detail": ...}`) and plain-text bodies.
    """
    text = body.decode("utf-8", errors="replace").strip()
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, Mapping):
        found: Any = payload.get("error") or payload.get("message") or payload.get("detail")
        if isinstance(found, Mapping):
            found = found.get("message") or found
        if found:
            text = found if isinstance(found, str) else json.dumps(found)
    text = " ".join(text.split()) or "(empty body)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date.

    `now` is the current Unix time (for HTTP dates). Returns None when absent or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, when.timestamp() - now)
    return max(0.0, seconds) if math.isfinite(seconds) else None
