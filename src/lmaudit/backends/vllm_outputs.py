"""vLLM request layout and answers, as pure functions (no vLLM needed).

vLLM's `prompt_logprobs` (RequestOutput.prompt_logprobs) is a list with one entry per prompt
position: None for position 0, then a dict `token id -> Logprob(logprob, rank,
decoded_token)` that holds the prompt token at that position (`log p(token_i | tokens[:i])`
in nats and its vocabulary rank, 1 = argmax, ties share a rank) plus the top
`prompt_logprobs` tokens. A continuation token is greedy when its rank is 1 (so a tie counts
as greedy, whereas torch's argmax picks the lowest id).

Length limit: vLLM refuses a prompt that leaves no room for one generated token, so a scoring
prompt `context + continuation` holds at most `max_model_len - 1` tokens, i.e. the
`hf_tokens` model input `context + continuation[:-1]` at most `max_model_len - 2` tokens
(`scoring_max_length`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lmaudit.backends.hf_tokens import TokenizedPair, truncate_left
from lmaudit.core.types import (
    Generation,
    GenerationParams,
    LmauditError,
    RollingLoglikelihoodResult,
    Usage,
)


def scoring_max_length(max_model_len: int) -> int:
    """The `hf_tokens` max_length (model input = context + continuation[:-1]) under vLLM's
    rule that a prompt of `context + continuation` leaves room for one generated token."""
    if max_model_len < 3:
        raise LmauditError(f"max_model_len must be at least 3 tokens, got {max_model_len}")
    return max_model_len - 2


def scoring_pair(pair: TokenizedPair, max_model_len: int) -> TokenizedPair:
    """Truncate from the left so that the prompt fits: at most `max_model_len - 1` tokens."""
    return truncate_left(pair, scoring_max_length(max_model_len))


def scoring_sampling_kwargs() -> dict[str, Any]:
    """SamplingParams for scoring: one greedy token, prompt log-probs with the top-1 token."""
    return {"max_tokens": 1, "temperature": 0.0, "prompt_logprobs": 1, "detokenize": False}


def generation_sampling_kwargs(params: GenerationParams) -> dict[str, Any]:
    """SamplingParams for a GenerateRequest (greedy: temperature 0 and no nucleus cut)."""
    stops = [s for s in params.stop if s]
    kwargs: dict[str, Any] = {
        "n": 1,
        "max_tokens": params.max_tokens,
        "temperature": 0.0 if params.greedy else params.temperature,
        "top_p": 1.0 if params.greedy else params.top_p,
        "stop": stops or None,
        "seed": params.seed,
        "skip_special_tokens": True,
    }
    if params.logprobs:  # the sampled token's log-probability only (vLLM: logprobs=0)
        kwargs["logprobs"] = 0
    return kwargs


def chosen_token_logprobs(completion: Any) -> list[float] | None:
    """Each generated token's log-probability from a vLLM CompletionOutput (`logprobs`: one
    dict `token id -> Logprob` per generated token, holding the sampled token); None when
    the request asked for none. vLLM's default `logprobs_mode="raw_logprobs"` gives the
    model's log-softmax before temperature, penalties and top-p: the `Generation`
    convention (an engine started with another mode gives other numbers)."""
    entries = getattr(completion, "logprobs", None)
    if entries is None:
        return None
    tokens = list(completion.token_ids)
    if len(entries) != len(tokens):
        raise LmauditError(f"vLLM returned {len(entries)} log-probabilities for "
                           f"{len(tokens)} generated tokens")
    values = []
    for position, (entry, token) in enumerate(zip(entries, tokens, strict=True)):
        if not entry or token not in entry:
            raise LmauditError(f"vLLM returned no log-probability for generated token {position}")
        values.append(float(entry[token].logprob))
    return values


@dataclass(frozen=True)
class ContinuationScores:
    """Per continuation token: log p (nats) and whether the token was the argmax."""

    token_logprobs: tuple[float, ...]
    greedy: tuple[bool, ...]

    @property
    def logprob(self) -> float:
        return float(sum(self.token_logprobs))

    @property
    def is_greedy(self) -> bool:
        return all(self.greedy)


def continuation_scores(
    prompt_token_ids: Sequence[int],
    prompt_logprobs: Sequence[Mapping[int, Any] | None] | None,
    n_continuation: int,
) -> ContinuationScores:
    """Read the last `n_continuation` prompt tokens' scores from vLLM's `prompt_logprobs`.

    Each entry maps token id to an object with `.logprob` and `.rank` (1 = argmax; when
    `rank` is None the token counts as greedy if no listed token has a higher logprob).
    """
    n = len(prompt_token_ids)
    if prompt_logprobs is None or len(prompt_logprobs) != n:
        got = "none" if prompt_logprobs is None else str(len(prompt_logprobs))
        raise LmauditError(f"vLLM returned {got} prompt log-probabilities for {n} prompt tokens")
    if not 0 < n_continuation < n:
        raise LmauditError(
            f"cannot score {n_continuation} continuation tokens of a {n}-token prompt"
        )
    logprobs: list[float] = []
    greedy: list[bool] = []
    for position in range(n - n_continuation, n):
        entry = prompt_logprobs[position]
        token = prompt_token_ids[position]
        if entry is None or token not in entry:
            raise LmauditError(f"vLLM returned no log-probability for prompt position {position}")
        chosen = entry[token]
        logprobs.append(float(chosen.logprob))
        if chosen.rank is not None:
            greedy.append(int(chosen.rank) == 1)
        else:
            greedy.append(all(float(o.logprob) <= float(chosen.logprob) for o in entry.values()))
    return ContinuationScores(tuple(logprobs), tuple(greedy))


def output_usage(output: Any, latency_s: float) -> Usage:
    """Prompt and generated token counts of one vLLM RequestOutput."""
    completion = output.outputs[0] if output.outputs else None
    return Usage(
        prompt_tokens=len(output.prompt_token_ids or ()),
        completion_tokens=len(completion.token_ids) if completion is not None else 0,
        latency_s=latency_s,
    )


def generation_from_output(output: Any, latency_s: float) -> Generation:
    """A Generation from a vLLM RequestOutput (`finish_reason`: stop, length; abort raises)."""
    completion = output.outputs[0]
    reason = completion.finish_reason or "length"
    if reason not in ("stop", "length"):
        raise LmauditError(f"vLLM ended a generation with finish reason {reason!r}")
    usage = output_usage(output, latency_s)
    logprobs = chosen_token_logprobs(completion)
    return Generation(
        text=str(completion.text),
        finish_reason=reason,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        usage=usage,
        token_logprobs=None if logprobs is None else tuple(logprobs),
    )


def combine_windows(
    scores: Sequence[ContinuationScores], usages: Sequence[Usage]
) -> RollingLoglikelihoodResult:
    """One document's rolling result from its windows' scores (in order)."""
    lps = [lp for s in scores for lp in s.token_logprobs]
    usage = Usage(
        prompt_tokens=sum(u.prompt_tokens for u in usages),
        completion_tokens=sum(u.completion_tokens for u in usages),
        latency_s=max((u.latency_s for u in usages), default=0.0),
    )
    return RollingLoglikelihoodResult(float(sum(lps)), len(lps), tuple(lps), usage=usage)
