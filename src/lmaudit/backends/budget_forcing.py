"""Budget forcing for Hugging Face models: cap or extend thinking, token by token.

Muennighoff et al. 2025 ("s1: Simple test-time scaling"): to cap thinking, append the
end-of-thinking delimiter (and an answer prefix) once the budget is spent; to extend it,
suppress the delimiter and append "Wait" instead. `generate_with_budget` decodes a batch of
prompts in one key/value-cached loop where each row follows `ThinkingControl`:

- **States**: a row starts *thinking* when its prompt ends inside an open thinking segment
  (the last OPEN tag of the prompt's decoded tail comes after its last CLOSE tag, as in
  DeepSeek-R1 chat templates), else *before* thinking until the model emits the OPEN tag;
  then *answer* once the thinking ends.
- **Delimiters are token sequences**: `tokenizer.encode(tag)` without special tokens; a tag
  counts as emitted when the generated ids end with that sequence (reasoning models emit
  their tags as these ids; another spelling of the same text is not recognised).
- **Thinking tokens** are the tokens the model generated while thinking, excluding the
  CLOSE tag's own tokens and inserted text. When a row has `budget` of them and has not
  closed, its next tokens are the CLOSE tag then `answer_prefix` (`forced_stop`).
- **Extension**: the first `extend` times the model completes the CLOSE tag (and every
  time it does so before `min_tokens` thinking tokens), the tag is taken back and the
  `wait` text fed instead; a multi-token tag's earlier tokens are hidden from attention
  (mask 0) and positions move back, so the model sees `... thought Wait` exactly.
- An end-of-sequence token ends the row in any state (the thinking is then unclosed).
  Stop strings apply to the answer only (the text after the thinking). `max_tokens`
  caps all completion tokens (generated and inserted): "length".
- Sampling draws each row with its own seeded generator (`hf_generate.sample_rows`) at
  every step (an inserted token discards its draw), so a rerun with the same seeds
  reproduces every sample.
- `token_logprobs` (with `params.logprobs`): the model's raw log-probability (temperature
  1) of each token it generated; inserted tokens (tags, wait text, answer prefix) have none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from lmaudit.backends.hf_generate import (
    _first_stop,
    _tokens_until_stop,
    chosen_logprobs,
    prefill,
    row_seeds,
    sample_rows,
)
from lmaudit.backends.hf_prefix import cache_argument, cache_of
from lmaudit.core.types import Generation, GenerationParams, ThinkingControl, ThinkingTrace

BEFORE, THINKING, ANSWER = "before", "thinking", "answer"


@dataclass
class ForcedRow:
    """One request's decoding state (mutable; the HF loop's and the vLLM rounds')."""

    state: str
    generated: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)  # one per generated token
    inserted: list[bool] = field(default_factory=list)  # per generated token
    queue: list[int] = field(default_factory=list)  # inserted tokens still to feed
    thinking: int = 0
    extensions: int = 0
    forced_stop: bool = False
    answer_start: int | None = None  # index in `generated` where the answer begins
    reason: str | None = None  # set when the row is done
    seen_thinking: bool = False


@dataclass(frozen=True)
class DelimiterIds:
    """The token ids of the tags, the wait text and the answer prefix."""

    open: tuple[int, ...]
    close: tuple[int, ...]
    wait: tuple[int, ...]
    answer_prefix: tuple[int, ...]

    @classmethod
    def of(cls, tokenizer: Any, control: ThinkingControl) -> DelimiterIds:
        def encode(text: str) -> tuple[int, ...]:
            return tuple(tokenizer.encode(text, add_special_tokens=False)) if text else ()

        ids = cls(encode(control.tags[0]), encode(control.tags[1]), encode(control.wait),
                  encode(control.answer_prefix))
        if not ids.open or not ids.close:
            raise ValueError(f"thinking tags {control.tags!r} encode to no tokens")
        if (control.extend or control.min_tokens) and not ids.wait:
            raise ValueError("extending thinking needs a wait text that encodes to tokens")
        return ids


def starts_inside_thinking(tokenizer: Any, prompt: Sequence[int], tags: Sequence[str]) -> bool:
    """Whether the prompt leaves a thinking segment open (its last OPEN after its last CLOSE)."""
    tail = tokenizer.decode(list(prompt[-64:]), skip_special_tokens=False)
    return tail.rfind(tags[0]) > tail.rfind(tags[1]) if tags[0] in tail else False


def _ends_with(tokens: Sequence[int], suffix: Sequence[int]) -> bool:
    return len(tokens) >= len(suffix) and tuple(tokens[len(tokens) - len(suffix):]) == suffix


def _advance(row: ForcedRow, token: int, inserted: bool, ids: DelimiterIds,
             control: ThinkingControl) -> int | None:
    """Record `token` (its log-probability is already in `row.logprobs`) and update the
    row's state. Returns None, or when the token completed a CLOSE tag that is taken back
    for an extension, how many of the tag's tokens were already fed (to hide)."""
    row.generated.append(token)
    row.inserted.append(inserted)
    if inserted:
        return None
    if row.state == BEFORE and _ends_with(row.generated, ids.open):
        row.state, row.seen_thinking = THINKING, True
    elif row.state == THINKING:
        row.thinking += 1
        if _ends_with(row.generated, ids.close):
            row.thinking -= len(ids.close)
            if control.extends(row.thinking, row.extensions):  # take it back: "Wait"
                row.extensions += 1
                del row.generated[-len(ids.close):]
                del row.logprobs[len(row.generated):]
                del row.inserted[len(row.generated):]
                row.queue = list(ids.wait)
                return len(ids.close) - 1
            row.state, row.answer_start = ANSWER, len(row.generated)
            row.queue = list(ids.answer_prefix)
    return None


def finish_row(tokenizer: Any, row: ForcedRow, params: GenerationParams, prompt_tokens: int,
            eos_ids: set[int]) -> Generation:
    """The row's Generation: EOS dropped from the text, stop strings cut the answer only."""
    body = row.generated[:-1] if row.generated and row.generated[-1] in eos_ids else row.generated
    text = tokenizer.decode(body, skip_special_tokens=True)
    n, reason = len(row.generated), row.reason or "length"
    stops = [s for s in params.stop if s]
    if row.answer_start is not None and stops:
        head = len(tokenizer.decode(body[: row.answer_start], skip_special_tokens=True))
        cut = _first_stop(text[head:], stops)
        if cut is not None:
            answer = body[row.answer_start:]
            n = row.answer_start + _tokens_until_stop(tokenizer, answer, stops)
            text, reason = text[: head + cut], "stop"
    closed = row.answer_start is not None
    trace = ThinkingTrace(row.thinking, row.forced_stop, row.extensions,
                          closed) if row.seen_thinking else ThinkingTrace(0, False, 0, False)
    logprobs = None
    if params.logprobs:  # the model's own tokens only
        logprobs = tuple(lp for lp, ins in zip(row.logprobs[:n], row.inserted[:n], strict=True)
                         if not ins)
    return Generation(text, reason, prompt_tokens, n, token_logprobs=logprobs, thinking=trace)


def generate_with_budget(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[list[int]],
    params: GenerationParams,
    *,
    pad_id: int,
    eos_ids: set[int],
    seeds: Sequence[int | None] | None = None,
) -> list[Generation]:
    """Generate for `prompts` under `params.thinking` (module docstring); row r samples
    with `seeds[r]` (default `params.seed`), greedy at temperature 0."""
    control = params.thinking or ThinkingControl()
    ids = DelimiterIds.of(tokenizer, control)
    rows = [ForcedRow(THINKING if starts_inside_thinking(tokenizer, p, control.tags) else BEFORE)
            for p in prompts]
    for row in rows:
        row.seen_thinking = row.state == THINKING
    if params.max_tokens <= 0 or not prompts:
        return _finish_all(tokenizer, rows, prompts, params, eos_ids)
    device = model.device
    out, mask, positions = prefill(model, prompts, pad_id)
    keyword, cache = cache_argument(model), cache_of(out)
    logits, position = out.logits[:, -1, :].float(), positions[:, -1].clone()
    generators = [torch.Generator(device=device).manual_seed(s)
                  for s in row_seeds(seeds if seeds is not None else [params.seed] * len(rows))]
    while True:  # every row ends: a taken-back tag costs steps, extensions are finite
        drawn = logits.argmax(-1) if params.greedy else sample_rows(logits, generators, params)
        chosen: list[int] = drawn.tolist()  # one device sync per step, then plain ints
        inserted = [False] * len(rows)
        for r, row in enumerate(rows):
            if row.reason is not None:
                chosen[r] = pad_id
                continue
            if (not row.queue and row.state == THINKING and control.budget is not None
                    and row.thinking >= control.budget):
                row.queue, row.forced_stop = list(ids.close + ids.answer_prefix), True
                row.state = ANSWER
                row.answer_start = len(row.generated) + len(ids.close)
            if row.queue:
                chosen[r], inserted[r] = row.queue.pop(0), True
        step_logprobs = (chosen_logprobs(logits, torch.tensor(chosen, device=device)).tolist()
                         if params.logprobs else [0.0] * len(rows))  # a vocabulary softmax
        feed = [1] * len(rows)
        for r, row in enumerate(rows):
            if row.reason is not None:
                feed[r] = 0
                continue
            token = chosen[r]
            row.logprobs.append(step_logprobs[r])
            hidden = _advance(row, token, inserted[r], ids, control)
            if hidden is not None:  # feed the wait text instead of the tag's last token
                if hidden:  # hide the tag's fed tokens: the model sees "... thought Wait"
                    mask[r, mask.shape[1] - hidden:] = 0
                    position[r] -= hidden
                chosen[r] = token = row.queue.pop(0)
                row.generated.append(token)
                row.inserted.append(True)
                row.logprobs.append(0.0)  # inserted: left out of token_logprobs
            elif token in eos_ids and not inserted[r]:
                row.reason = "stop"
            if row.reason is None and _answer_stopped(tokenizer, row, params.stop):
                row.reason = "stop"
            if row.reason is None and len(row.generated) >= params.max_tokens:
                row.reason = "length"
        if all(row.reason is not None for row in rows):
            break
        fed = torch.tensor(feed, dtype=torch.long, device=device)
        mask = torch.cat([mask, fed[:, None]], dim=1)
        position = position + fed
        out = model(input_ids=torch.tensor(chosen, dtype=torch.long, device=device)[:, None],
                    attention_mask=mask, position_ids=position[:, None], use_cache=True,
                    **{keyword: cache})
        cache, logits = cache_of(out), out.logits[:, -1, :].float()
    return _finish_all(tokenizer, rows, prompts, params, eos_ids)


def _finish_all(tokenizer: Any, rows: Sequence[ForcedRow], prompts: Sequence[list[int]],
                params: GenerationParams, eos_ids: set[int]) -> list[Generation]:
    return [finish_row(tokenizer, row, params, len(prompt), eos_ids)
            for row, prompt in zip(rows, prompts, strict=True)]


def _answer_stopped(tokenizer: Any, row: ForcedRow, stops: Sequence[str]) -> bool:
    """Whether the answer's decoded tail holds a stop string (thinking is never stopped)."""
    wanted = [s for s in stops if s]
    if not wanted or row.answer_start is None or len(row.generated) <= row.answer_start:
        return False
    tail = row.generated[max(row.answer_start, len(row.generated) - max(map(len, wanted)) - 8):]
    return _first_stop(tokenizer.decode(tail, skip_special_tokens=True), wanted) is not None


def generate_forced_batches(
    model: Any,
    tokenizer: Any,
    requests: Sequence[Any],
    prompts: Sequence[list[int]],
    params: GenerationParams,
    members: Sequence[int],
    *,
    batch_size: int,
    pad_id: int,
    eos_ids: set[int],
    progress: Callable[[int], None] | None = None,
) -> dict[int, Generation]:
    """`generate_with_budget` over the requests `members` (indices into `requests` and
    `prompts`, all under `params` but for their seeds), longest prompts first, `batch_size`
    rows per call (`progress` after each); returns the generation per request index."""
    order = sorted(members, key=lambda i: (-len(prompts[i]), i))
    found: dict[int, Generation] = {}
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        outputs = generate_with_budget(
            model, tokenizer, [prompts[i] for i in batch], params, pad_id=pad_id,
            eos_ids=eos_ids, seeds=[requests[i].params.seed for i in batch])
        found.update(zip(batch, outputs, strict=True))
        if progress is not None:
            progress(len(batch))
    return found
