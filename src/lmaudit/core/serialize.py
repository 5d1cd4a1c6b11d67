"""Responses to JSON-ready dicts and back (for the request cache and the run journal).

The encoding is compact and lossless: floats go through `json` (repr round-trips), tuples
become lists, and the response type is named by a one-letter tag.
"""

from __future__ import annotations

from typing import Any

from lmaudit.core.types import (
    Generation,
    LoglikelihoodResult,
    Response,
    RollingLoglikelihoodResult,
    ThinkingTrace,
    Usage,
)


def _usage_to_list(usage: Usage | None) -> list[Any] | None:
    if usage is None:
        return None
    return [usage.prompt_tokens, usage.completion_tokens, usage.latency_s]


def _usage_from_list(value: Any, *, cached: bool) -> Usage | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError(f"usage must be [prompt, completion, latency], got {value!r:.80}")
    prompt, completion, latency = value
    return Usage(_int(prompt, "u[0]"), _int(completion, "u[1]"), _float(latency, "u[2]"), cached)


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    return value


def _float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    return float(value)


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    return value


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false, got {type(value).__name__}")
    return value


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"{name} must be a list, got {type(value).__name__}")
    return value


def _floats(value: Any, name: str) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise TypeError(f"{name} must be a list, got {type(value).__name__}")
    return tuple(_float(x, name) for x in value)


def response_to_dict(response: Response) -> dict[str, Any]:
    """A JSON-ready dict; `usage.cached` is not stored (it describes one run, not the answer)."""
    usage = _usage_to_list(response.usage)
    if isinstance(response, LoglikelihoodResult):
        encoded: dict[str, Any] = {
            "t": "l",
            "lp": response.logprob,
            "g": response.is_greedy,
            "n": response.n_tokens,
            "tl": list(response.token_logprobs),
            "u": usage,
        }
        if response.token_greedy:  # per-token argmax flags: written only when known
            encoded["tg"] = list(response.token_greedy)
        return encoded
    if isinstance(response, RollingLoglikelihoodResult):
        return {
            "t": "r",
            "lp": response.logprob,
            "n": response.n_tokens,
            "tl": list(response.token_logprobs),
            "u": usage,
        }
    data: dict[str, Any] = {
        "t": "g",
        "x": response.text,
        "f": response.finish_reason,
        "p": response.prompt_tokens,
        "c": response.completion_tokens,
        "u": usage,
    }
    if response.token_logprobs is not None:  # optional fields: older entries lack them
        data["tl"] = list(response.token_logprobs)
    if response.thinking is not None:
        trace = response.thinking
        data["th"] = [trace.tokens, trace.forced_stop, trace.extensions, trace.closed]
    return data


def _thinking_from_list(value: Any) -> ThinkingTrace:
    if not isinstance(value, list) or len(value) != 4:
        raise ValueError(f"th must be [tokens, forced, extensions, closed], got {value!r:.80}")
    return ThinkingTrace(_int(value[0], "th[0]"), _bool(value[1], "th[1]"),
                         _int(value[2], "th[2]"), _bool(value[3], "th[3]"))


def _token_greedy(data: dict[str, Any]) -> tuple[bool, ...]:
    """Per-token argmax flags; written only when known, so a present list is never empty."""
    if "tg" not in data:
        return ()
    flags = tuple(_bool(x, "tg") for x in _list(data["tg"], "tg"))
    if not flags:
        raise ValueError("tg, when present, lists one flag per token (got an empty list)")
    return flags


_FIELDS = {
    "l": {"t", "lp", "g", "n", "tl", "u", "tg"},
    "r": {"t", "lp", "n", "tl", "u"},
    "g": {"t", "x", "f", "p", "c", "u", "tl", "th"},
}


def response_from_dict(data: dict[str, Any], *, cached: bool = False) -> Response:
    """Inverse of `response_to_dict`; `cached` marks the usage as served from a cache.

    Strict: a field of the wrong type raises `TypeError` and a wrong shape `ValueError` or
    `KeyError` (nothing is coerced: a stored answer is exactly what was written)."""
    if not isinstance(data, dict):
        raise TypeError(f"a stored answer must be an object, got {type(data).__name__}")
    usage = _usage_from_list(data.get("u"), cached=cached)
    tag = data["t"]
    extra = set(data) - _FIELDS.get(tag, set(data))
    if extra:
        raise ValueError(f"unknown fields {sorted(extra)!r:.80} in a stored answer")
    if tag == "l":
        return LoglikelihoodResult(
            logprob=_float(data["lp"], "lp"),
            is_greedy=_bool(data["g"], "g"),
            n_tokens=_int(data["n"], "n"),
            token_logprobs=_floats(data["tl"], "tl"),
            token_greedy=_token_greedy(data),
            usage=usage,
        )
    if tag == "r":
        return RollingLoglikelihoodResult(
            logprob=_float(data["lp"], "lp"),
            n_tokens=_int(data["n"], "n"),
            token_logprobs=_floats(data["tl"], "tl"),
            usage=usage,
        )
    if tag == "g":
        return Generation(
            text=_str(data["x"], "x"),
            finish_reason=_str(data["f"], "f"),
            prompt_tokens=_int(data["p"], "p"),
            completion_tokens=_int(data["c"], "c"),
            usage=usage,
            token_logprobs=_floats(data["tl"], "tl") if "tl" in data else None,
            thinking=_thinking_from_list(data["th"]) if "th" in data else None,
        )
    raise ValueError(f"unknown response tag {tag!r:.40}")


def mark_cached(response: Response) -> Response:
    """The same answer with `usage.cached = True` (a zero Usage when it had none)."""
    import dataclasses

    usage = response.usage or Usage()
    return dataclasses.replace(response, usage=dataclasses.replace(usage, cached=True))
