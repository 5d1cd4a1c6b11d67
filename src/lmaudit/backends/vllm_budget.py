"""Budget forcing on vLLM (Muennighoff et al. 2025), as rounds of ordinary generation.

vLLM decodes a whole request per call, so thinking is steered between calls (the s1
authors' recipe); prefix caching makes each round's re-sent prefix cheap. Each round sends
`prompt + tokens so far` as token ids; per request and round:

- *before* thinking (the prompt does not leave a segment open): generate until the OPEN
  tag (`stop=[OPEN]`, kept in the output), then thinking;
- *thinking*: generate at most `budget - thinking so far` tokens (and what `max_tokens`
  leaves) with `stop=[CLOSE]` kept in the output. Stopped by CLOSE: thinking tokens are
  the round's tokens less the tag's (`encode(CLOSE)` when the output ends with those ids,
  else one); with extensions left (`extend`, `min_tokens`) the tag is dropped and the
  `wait` ids appended, else the answer follows (after `answer_prefix`). Stopped by the
  budget: the CLOSE ids and the answer prefix are appended (`forced_stop`). End of
  sequence: the generation ends.
- *answer*: the request's own stop strings and the remaining `max_tokens`.

The same rules and counting as the HF loop (`budget_forcing`), whose `finish_row` builds the
Generation: stop strings cut the answer only, inserted ids have no log-probability. Round
r > 0 samples with seed `seed + r * ROUND_SEED_STEP` (a rerun reproduces every round).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lmaudit.backends.budget_forcing import (
    ANSWER,
    BEFORE,
    THINKING,
    DelimiterIds,
    ForcedRow,
    finish_row,
    starts_inside_thinking,
)
from lmaudit.backends.vllm_outputs import chosen_token_logprobs, generation_sampling_kwargs
from lmaudit.core.types import GenerateRequest, Generation, ThinkingControl, Usage

ROUND_SEED_STEP = 1_000_003
RunRound = Callable[[Sequence[Sequence[int]], Sequence[Mapping[str, Any]]], list[tuple[Any, float]]]


def _round_kwargs(request: GenerateRequest, row: ForcedRow, control: ThinkingControl,
                  round_index: int) -> dict[str, Any]:
    params = request.params
    room = params.max_tokens - len(row.generated)
    seed = None if params.seed is None else params.seed + round_index * ROUND_SEED_STEP
    if row.state == THINKING and control.budget is not None:
        room = min(room, control.budget - row.thinking)
    stop = params.stop if row.state == ANSWER else (
        control.tags[0] if row.state == BEFORE else control.tags[1],)
    kwargs = generation_sampling_kwargs(
        dataclasses.replace(params, max_tokens=room, seed=seed, stop=tuple(stop)))
    if row.state != ANSWER:
        kwargs["include_stop_str_in_output"] = True
    return kwargs


def _insert(row: ForcedRow, ids: Sequence[int]) -> None:
    row.generated.extend(ids)
    row.inserted.extend([True] * len(ids))
    row.logprobs.extend([0.0] * len(ids))


def _close(row: ForcedRow, ids: DelimiterIds, *, forced: bool) -> None:
    """End the thinking: the CLOSE ids (unless the model wrote them), then the prefix."""
    if forced:
        _insert(row, ids.close)
        row.forced_stop = True
    row.state, row.answer_start = ANSWER, len(row.generated)
    _insert(row, ids.answer_prefix)


def _take(row: ForcedRow, completion: Any, ids: DelimiterIds, control: ThinkingControl,
          cap: int) -> None:
    """Update one row with one round's vLLM CompletionOutput."""
    tokens = [int(t) for t in completion.token_ids]
    lps = chosen_token_logprobs(completion)
    row.generated.extend(tokens)
    row.inserted.extend([False] * len(tokens))
    row.logprobs.extend(lps if lps is not None else [0.0] * len(tokens))
    tag_hit = completion.finish_reason == "stop" and completion.stop_reason is not None
    if row.state == BEFORE:
        if tag_hit:
            row.state, row.seen_thinking = THINKING, True
        else:
            row.reason = completion.finish_reason or "length"
        return
    if row.state == ANSWER:
        row.reason = completion.finish_reason or "length"
        return
    if tag_hit:  # the model closed its thinking
        tag = len(ids.close) if tuple(tokens[-len(ids.close):]) == ids.close else 1
        row.thinking += len(tokens) - tag
        if control.extends(row.thinking, row.extensions):
            row.extensions += 1
            for stored in (row.generated, row.inserted, row.logprobs):
                del stored[len(stored) - tag:]
            _insert(row, ids.wait)
        else:
            _close(row, ids, forced=False)
    elif completion.finish_reason == "stop":  # end of sequence inside the thinking
        row.thinking += len(tokens)
        row.reason = "stop"
    else:
        row.thinking += len(tokens)
        if len(row.generated) >= cap:
            row.reason = "length"
        else:  # the budget ran out
            _close(row, ids, forced=True)
    if row.reason is None and len(row.generated) >= cap:
        row.reason = "length"


def generate_forced(
    run: RunRound,
    tokenizer: Any,
    requests: Sequence[GenerateRequest],
    prompts: Sequence[list[int]],
    *,
    eos_ids: set[int],
) -> list[Generation]:
    """Budget-forced generations for `requests` (each with `params.thinking`), `prompts`
    their token ids; `run` answers one round's prompts (vLLM outputs, call latency)."""
    controls = [r.params.thinking or ThinkingControl() for r in requests]
    ids = [DelimiterIds.of(tokenizer, c) for c in controls]
    rows = [ForcedRow(THINKING if starts_inside_thinking(tokenizer, p, c.tags) else BEFORE)
            for p, c in zip(prompts, controls, strict=True)]
    latency = [0.0] * len(rows)
    for row in rows:
        row.seen_thinking = row.state == THINKING
    round_index = 0
    while True:
        for r, row in enumerate(rows):  # a spent budget closes before any call
            control, cap = controls[r], requests[r].params.max_tokens
            if row.reason is None and len(row.generated) >= cap:
                row.reason = "length"
            elif (row.reason is None and row.state == THINKING and control.budget is not None
                  and row.thinking >= control.budget):
                _close(row, ids[r], forced=True)
        active = [r for r, row in enumerate(rows)
                  if row.reason is None and requests[r].params.max_tokens > len(rows[r].generated)]
        for r, row in enumerate(rows):
            if row.reason is None and r not in active:
                row.reason = "length"
        if not active:
            break
        answered = run(
            [[*prompts[r], *rows[r].generated] for r in active],
            [_round_kwargs(requests[r], rows[r], controls[r], round_index) for r in active])
        for r, (output, seconds) in zip(active, answered, strict=True):
            latency[r] += seconds
            _take(rows[r], output.outputs[0], ids[r], controls[r], requests[r].params.max_tokens)
        round_index += 1
    results = []
    for r, row in enumerate(rows):
        generation = finish_row(tokenizer, row, requests[r].params, len(prompts[r]), eos_ids)
        usage = Usage(len(prompts[r]), generation.completion_tokens, latency[r])
        results.append(dataclasses.replace(generation, usage=usage))
    return results
