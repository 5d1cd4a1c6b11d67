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
    Usage,
)


def _usage_to_list(usage: Usage | None) -> list[Any] | None:
    if usage is None:
        return None
    return [usage.prompt_tokens, usage.completion_tokens, usage.latency_s]


def _usage_from_list(value: Any, *, cached: bool) -> Usage | None:
    if value is None:
        return None
    prompt, completion, latency = value
    return Usage(int(prompt), int(completion), float(latency), cached)


def response_to_dict(response: Response) -> dict[str, Any]:
    """A JSON-ready dict; `usage.cached` is not stored (it describes one run, not the answer)."""
    usage = _usage_to_list(response.usage)
    if isinstance(response, LoglikelihoodResult):
        return {
            "t": "l",
            "lp": response.logprob,
            "g": response.is_greedy,
            "n": response.n_tokens,
            "tl": list(response.token_logprobs),
            "u": usage,
        }
    if isinstance(response, RollingLoglikelihoodResult):
        return {
            "t": "r",
            "lp": response.logprob,
            "n": response.n_tokens,
            "tl": list(response.token_logprobs),
            "u": usage,
        }
    return {
        "t": "g",
        "x": response.text,
        "f": response.finish_reason,
        "p": response.prompt_tokens,
        "c": response.completion_tokens,
        "u": usage,
    }


def response_from_dict(data: dict[str, Any], *, cached: bool = False) -> Response:
    """Inverse of `response_to_dict`; `cached` marks the usage as served from a cache."""
    usage = _usage_from_list(data.get("u"), cached=cached)
    tag = data["t"]
    if tag == "l":
        return LoglikelihoodResult(
            logprob=float(data["lp"]),
            is_greedy=bool(data["g"]),
            n_tokens=int(data["n"]),
            token_logprobs=tuple(float(x) for x in data["tl"]),
            usage=usage,
        )
    if tag == "r":
        return RollingLoglikelihoodResult(
            logprob=float(data["lp"]),
            n_tokens=int(data["n"]),
            token_logprobs=tuple(float(x) for x in data["tl"]),
            usage=usage,
        )
    if tag == "g":
        return Generation(
            text=str(data["x"]),
            finish_reason=str(data["f"]),
            prompt_tokens=int(data["p"]),
            completion_tokens=int(data["c"]),
            usage=usage,
        )
    raise ValueError(f"unknown response tag {tag!r}")


def mark_cached(response: Response) -> Response:
    """The same answer with `usage.cached = True` (a zero Usage when it had none)."""
    import dataclasses

    usage = response.usage or Usage()
    return dataclasses.replace(response, usage=dataclasses.replace(usage, cached=True))
