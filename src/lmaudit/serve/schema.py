"""OpenAI request validation and response bodies (pure functions, no HTTP).

Errors are `ApiError`s that the app turns into `{"error": {"message", "type", "param",
"code"}}` with their HTTP status; a validation error names the field at fault (`param`).

Defaults follow the OpenAI API: `temperature` 1.0 (0 means greedy), `top_p` 1.0, `n` 1
(the only value served); completions default to `max_tokens` 16, chat to 256. Unknown
fields are ignored, except `stream` and `n` > 1, which are refused.

Ranges (`Limits`): numbers must be finite and in range (never clamped): `max_tokens` in
[0, context - 1] when the model's context is known (a budget that fills the context would
leave no room for the prompt), else [0, 2**20]; `seed` a 64-bit signed integer; at most
`max_prompts` prompts per completions request and `MAX_STOPS` stop strings of at most
`MAX_STOP_CHARS` characters. A default `max_tokens` over the context is lowered to fit.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lmaudit.core.types import GenerationParams, Message

MAX_LOGPROBS = 20
COMPLETION_MAX_TOKENS = 16
CHAT_MAX_TOKENS = 256
MAX_STOPS = 16
MAX_STOP_CHARS = 1000
SEED_RANGE = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Limits:
    """What one request may ask: `context` the model's length in tokens (None: unknown),
    `max_prompts` the prompts in one completions request."""

    context: int | None = None
    max_prompts: int = 256

    @property
    def max_tokens(self) -> int:
        return 1 << 20 if self.context is None else max(0, self.context - 1)


class ApiError(Exception):
    """An error answered as an OpenAI-style JSON body with an HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, f"invalid `{field}`: {message}", code="invalid_value", param=field)


@dataclass(frozen=True)
class CompletionCall:
    """A validated POST /v1/completions body."""

    model: str
    prompts: tuple[str, ...]
    params: GenerationParams
    echo: bool
    logprobs: int | None  # top-k alternatives per token; None: no logprobs


@dataclass(frozen=True)
class ChatCall:
    """A validated POST /v1/chat/completions body."""

    model: str
    messages: tuple[Message, ...]
    params: GenerationParams


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object", code="invalid_body")
    return body


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise ApiError(400, "missing required field `model`", code="missing_field", param="model")
    if not isinstance(model, str) or not model:
        raise invalid("model", "expected a non-empty string")
    return model


def _number(body: dict[str, Any], field: str, default: float, low: float, high: float) -> float:
    value = body.get(field)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(field, f"expected a number, got {type(value).__name__}")
    if not low <= value <= high:  # NaN fails this too
        raise invalid(field, f"expected a number in [{low:g}, {high:g}], got {value:.6g}")
    return float(value)


def _integer(body: dict[str, Any], field: str, low: int, high: int) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, f"expected an integer, got {type(value).__name__}")
    if not low <= value <= high:
        shown = (
            str(value) if abs(value) < 10**40 else f"an integer of {len(str(abs(value)))} digits"
        )
        raise invalid(field, f"expected an integer in [{low}, {high}], got {shown}")
    return value


def _stop(body: dict[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        stops = tuple(stop)
    else:
        raise invalid("stop", "expected a string or a list of strings")
    if len(stops) > MAX_STOPS or any(len(s) > MAX_STOP_CHARS for s in stops):
        raise invalid(
            "stop", f"at most {MAX_STOPS} stop strings of at most {MAX_STOP_CHARS} characters"
        )
    return stops


def _common(
    body: dict[str, Any], *, max_tokens_field: str, default_max: int, limits: Limits
) -> GenerationParams:
    if body.get("stream"):
        raise ApiError(400, "`stream` is not supported by this server", param="stream")
    n = _integer(body, "n", 1, 1_000_000)
    if n is not None and n != 1:
        raise invalid("n", "this server answers one choice per prompt (n=1)")
    max_tokens = _integer(body, max_tokens_field, 0, limits.max_tokens)
    if max_tokens is None:
        max_tokens = min(default_max, limits.max_tokens)
    seed = _integer(body, "seed", *SEED_RANGE)
    top_p = _number(body, "top_p", 1.0, 0.0, 1.0)
    if top_p == 0.0:
        raise invalid("top_p", "expected a number in (0, 1], got 0")
    return GenerationParams(
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=top_p,
        stop=_stop(body),
        seed=seed,
    )


def parse_completion(body: Any, limits: Limits | None = None) -> CompletionCall:
    """Validate a /v1/completions body; `prompt` is a string or a list of strings."""
    limits = limits or Limits()
    body = _require_object(body)
    model = _model(body)
    prompt = body.get("prompt")
    if prompt is None:
        raise ApiError(400, "missing required field `prompt`", code="missing_field", param="prompt")
    if isinstance(prompt, str):
        prompts: tuple[str, ...] = (prompt,)
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        prompts = tuple(prompt)
    else:
        raise invalid(
            "prompt", "expected a string or a non-empty list of strings (token ids are not served)"
        )
    if len(prompts) > limits.max_prompts:
        raise invalid(
            "prompt", f"at most {limits.max_prompts} prompts per request, got {len(prompts)}"
        )
    echo = body.get("echo", False)
    if not isinstance(echo, bool):
        raise invalid("echo", "expected true or false")
    params = _common(
        body, max_tokens_field="max_tokens", default_max=COMPLETION_MAX_TOKENS, limits=limits
    )
    return CompletionCall(model, prompts, params, echo, _integer(body, "logprobs", 0, MAX_LOGPROBS))


def _content(value: Any, field: str) -> str:
    """Message content: a string, null, or a list of `{"type": "text", "text": ...}` parts."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = []
        for k, part in enumerate(value):
            if not (isinstance(part, dict) and part.get("type") == "text"):
                raise invalid(f"{field}[{k}]", "only text content parts are served")
            text = part.get("text")
            if not isinstance(text, str):
                raise invalid(f"{field}[{k}].text", "expected a string")
            texts.append(text)
        return "".join(texts)
    raise invalid(field, "expected a string or a list of text parts")


def parse_chat(body: Any, limits: Limits | None = None) -> ChatCall:
    """Validate a /v1/chat/completions body (`messages` of `{role, content}`)."""
    limits = limits or Limits()
    body = _require_object(body)
    model = _model(body)
    messages = body.get("messages")
    if messages is None:
        raise ApiError(
            400, "missing required field `messages`", code="missing_field", param="messages"
        )
    if not isinstance(messages, list) or not messages:
        raise invalid("messages", "expected a non-empty list of messages")
    turns = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid(f"messages[{i}]", "expected an object with `role` and `content`")
        role = message.get("role")
        if not isinstance(role, str) or not role:
            raise invalid(f"messages[{i}].role", "expected a non-empty string")
        turns.append(Message(role, _content(message.get("content"), f"messages[{i}].content")))
    if body.get("logprobs"):
        raise ApiError(
            400,
            "`logprobs` is not supported on chat completions by this server; "
            "use /v1/completions with `echo` and `logprobs`",
            param="logprobs",
        )
    field = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    params = _common(body, max_tokens_field=field, default_max=CHAT_MAX_TOKENS, limits=limits)
    if params.max_tokens < 1:
        raise invalid(field, "chat completions need at least 1 token")
    return ChatCall(model, tuple(turns), params)


# -- responses -------------------------------------------------------------------------------


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


@dataclass(frozen=True)
class Choice:
    """One answered prompt: text, finish reason, token counts, optional logprobs object."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    logprobs: dict[str, Any] | None = None


def completion_response(model: str, choices: Sequence[Choice]) -> dict[str, Any]:
    return {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": i,
                "text": c.text,
                "logprobs": c.logprobs,
                "finish_reason": c.finish_reason,
            }
            for i, c in enumerate(choices)
        ],
        "usage": usage(
            sum(c.prompt_tokens for c in choices), sum(c.completion_tokens for c in choices)
        ),
    }


def chat_response(model: str, choice: Choice) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": choice.text},
                "logprobs": None,
                "finish_reason": choice.finish_reason,
            }
        ],
        "usage": usage(choice.prompt_tokens, choice.completion_tokens),
    }


def models_response(model: str, created: int) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": model, "object": "model", "created": created, "owned_by": "lmaudit"}],
    }
