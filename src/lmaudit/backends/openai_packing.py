"""Several prompts in one completions request: `prompt` as a list of strings.

The OpenAI completions API accepts a list of prompts and answers one choice per prompt,
each with its position in the list as `index` (vLLM, TGI's OpenAI layer and `lmaudit serve`
do; some servers, e.g. older llama.cpp builds, do not). Chat completions take one
conversation per request and are never packed.

Packing (`plan_packs`): requests that would send the same body apart from the prompt go
together, in request order, up to `size` per pack: generation requests with equal
`GenerationParams`, and all loglikelihood and rolling-loglikelihood requests (they share
one echo body). Packs are sent in the order of their first request.

Answers (`ordered_choices`): choice `index` i answers prompt i; every index 0..n-1 must be
present exactly once (else the body is malformed and the whole pack is retried).

Usage: the server reports token counts for the whole request; they are split across its
prompts so that the shares add up exactly to the totals (cost sums stay right):

* echo requests (loglikelihood): each choice's echoed tokens give its exact prompt and
  completion counts; these are used when they add up to the reported totals;
* otherwise (generation; echo counts that disagree with the totals) the totals are split
  in proportion to each prompt's length in characters (prompt tokens); completion tokens are
  each choice's `logprobs.tokens` count when every choice has one and they add up to the
  total, else the total split in proportion to each choice's text length in characters;
  all-zero weights split evenly. Shares are integers by the
  largest-remainder rule (ties to the earlier prompt). These per-prompt counts are
  estimates; only their sums are exact.

Latency: every prompt of a pack gets the pack's latency (from sending to the answer).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lmaudit.backends.openai_protocol import (
    EchoedTokens,
    MalformedResponse,
    checked_body,
    choice_text,
    generation_of,
    loglikelihood_of,
    rolling_of,
    usage_of,
)
from lmaudit.core.types import (
    GenerateRequest,
    Generation,
    LoglikelihoodResult,
    Request,
    RollingLoglikelihoodResult,
    Usage,
)

LIST_HINT = "if the server does not accept a list of prompts, use --prompts-per-request 1"


def pack_key(request: Request) -> Hashable:
    """Requests with equal keys send equal bodies apart from the prompt."""
    if isinstance(request, GenerateRequest):
        return ("generate", request.params)
    return ("echo",)


def plan_packs(requests: Sequence[Request], size: int) -> list[list[int]]:
    """Indices of `requests` grouped into packs of at most `size` (see the module docstring)."""
    if size <= 1:
        return [[i] for i in range(len(requests))]
    packs: list[list[int]] = []
    open_packs: dict[Hashable, list[int]] = {}
    for i, request in enumerate(requests):
        key = pack_key(request)
        pack = open_packs.get(key)
        if pack is None:
            pack = open_packs[key] = []
            packs.append(pack)
        pack.append(i)
        if len(pack) == size:
            del open_packs[key]
    return packs


def split_total(total: int, weights: Sequence[int]) -> list[int]:
    """`total` split into integer shares proportional to `weights` (largest remainder, ties
    to the earlier position; even when every weight is 0). The shares sum to `total`."""
    n = len(weights)
    if n == 0:
        return []
    if sum(weights) <= 0:
        weights = [1] * n
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    left = total - sum(shares)
    for i in sorted(range(n), key=lambda i: (-remainders[i], i))[:left]:
        shares[i] += 1
    return shares


def _shares(total: int, exact: Sequence[int] | None, weights: Sequence[int]) -> list[int]:
    if exact is not None and sum(exact) == total:
        return list(exact)
    return split_total(total, weights)


def split_usage(
    payload: Mapping[str, Any],
    latency_s: float,
    *,
    prompt_weights: Sequence[int],
    completion_weights: Sequence[int],
    exact_prompt: Sequence[int] | None = None,
    exact_completion: Sequence[int] | None = None,
) -> list[Usage]:
    """The body's `usage` split across its prompts (rules in the module docstring)."""
    total = usage_of(payload, latency_s)
    prompt = _shares(total.prompt_tokens, exact_prompt, prompt_weights)
    completion = _shares(total.completion_tokens, exact_completion, completion_weights)
    return [Usage(p, c, latency_s) for p, c in zip(prompt, completion, strict=True)]


def ordered_choices(payload: Any, n: int) -> list[Mapping[str, Any]]:
    """The body's choices in prompt order; MalformedResponse unless indices 0..n-1 each
    appear exactly once."""
    choices = checked_body(payload).get("choices")
    if not isinstance(choices, list):
        raise MalformedResponse("body has no choices")
    ordered: list[Mapping[str, Any] | None] = [None] * n
    for choice in choices:
        index = choice.get("index") if isinstance(choice, Mapping) else None
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise MalformedResponse(
                f"a choice has index {index!r}; expected 0..{n - 1} for {n} packed prompts"
            )
        if ordered[index] is not None:
            raise MalformedResponse(f"choice index {index} appears twice")
        ordered[index] = choice
    missing = [i for i, choice in enumerate(ordered) if choice is None]
    if missing:
        raise MalformedResponse(
            f"{len(choices)} choices for {n} packed prompts (no choice with index {missing[0]})"
        )
    return [choice for choice in ordered if choice is not None]


def _token_count(choice: Mapping[str, Any]) -> int | None:
    logprobs = choice.get("logprobs")
    tokens = logprobs.get("tokens") if isinstance(logprobs, Mapping) else None
    return len(tokens) if isinstance(tokens, list) else None


def parse_generation_pack(
    payload: Any, latency_s: float, prompts: Sequence[str]
) -> list[Generation]:
    """One Generation per packed prompt, in prompt order, with split token counts."""
    choices = ordered_choices(payload, len(prompts))
    texts = [choice_text(choice, chat=False) for choice in choices]
    counts = [_token_count(choice) for choice in choices]
    exact = None if None in counts else [int(c or 0) for c in counts]
    usages = split_usage(
        payload,
        latency_s,
        prompt_weights=[len(prompt) for prompt in prompts],
        completion_weights=exact if exact is not None else [len(text) for text in texts],
        exact_completion=exact,
    )
    return [
        generation_of(choice, usage, chat=False)
        for choice, usage in zip(choices, usages, strict=True)
    ]


@dataclass(frozen=True)
class EchoItem:
    """One packed echo prompt: its text, where the scored part starts, and which result."""

    prompt: str
    boundary: int
    rolling: bool


def parse_echo_pack(
    payload: Any, latency_s: float, items: Sequence[EchoItem], server: str
) -> list[LoglikelihoodResult | RollingLoglikelihoodResult]:
    """One (rolling) loglikelihood result per packed echo prompt, in prompt order."""
    choices = ordered_choices(payload, len(items))
    echoed = [
        EchoedTokens(choice, item.prompt, server)
        for choice, item in zip(choices, items, strict=True)
    ]
    in_prompt = [e.prompt_token_count() for e in echoed]
    generated = [len(e.starts) - n for e, n in zip(echoed, in_prompt, strict=True)]
    usages = split_usage(
        payload,
        latency_s,
        prompt_weights=[len(item.prompt) for item in items],
        completion_weights=generated,
        exact_prompt=in_prompt,
        exact_completion=generated,
    )
    return [
        rolling_of(e, item.boundary, usage)
        if item.rolling
        else loglikelihood_of(e, item.boundary, usage)
        for e, item, usage in zip(echoed, items, usages, strict=True)
    ]
