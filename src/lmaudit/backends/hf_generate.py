"""Batched text generation for causal LMs with stop strings, greedy or nucleus sampling.

Conventions: prompts are left-padded; a batch shares one `GenerationParams`. Sampling draws
each row from its own `torch.Generator` seeded with `params.seed` (temperature, then nucleus
filtering with the smallest set of tokens whose probability reaches `top_p`), so a seeded
request gives the same text whatever it is batched with; without a seed, rows draw from
generators seeded by the global torch RNG.
Repeated sampling (`sample_shared_prompts`): the samples of one prompt that differ only in
their seed share one prefill of the prompt; each keeps its own generator, so a rerun
reproduces every sample.
Budget (`fit_prompt`): the prompt is kept whole and `max_tokens` shrinks to what the
context leaves (never the reverse), and `budget_note` says so in one line.
`finish_reason` is "stop" when a stop string or an end-of-sequence token ended the text,
"length" when `max_tokens` ran out. `completion_tokens` counts the tokens generated up to and
including the one that completed the stop string or the EOS token.
Log-probabilities (`params.logprobs`): one per counted completion token, from the model's raw
logits (temperature 1, no nucleus cut; natural log), whatever the sampling settings.
Thinking budgets (`params.thinking`) are decoded by `budget_forcing`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from lmaudit.backends.hf_prefix import cache_argument, cache_of, select_cache_rows
from lmaudit.core.types import Generation, GenerationParams


@dataclass(frozen=True)
class FittedPrompt:
    """A prompt's token ids and how many new tokens may follow them in the context."""

    ids: list[int]
    max_new_tokens: int
    dropped: int = 0  # prompt tokens cut from the start (prompt alone over the context)


def fit_prompt(
    ids: Sequence[int], max_tokens: int, max_length: int, prefix_id: int
) -> FittedPrompt:
    """Fit a prompt and `max_tokens` new tokens into `max_length` tokens.

    A prompt shorter than `max_length` is kept whole and the budget is
    `min(max_tokens, max_length - len(ids))` (never a prompt cut for the budget's sake).
    Only a prompt that leaves no room for a new token loses its first tokens: it keeps its
    last `max(max_length - max_tokens, ceil(max_length / 2))` (at least one) and the budget
    is what remains; `dropped` counts the tokens cut. An empty prompt is the prefix
    (BOS/EOS) token. `max_tokens <= 0` generates nothing.
    """
    kept = list(ids) or [prefix_id]
    if max_tokens <= 0:
        return FittedPrompt(kept[-max_length:], 0, max(0, len(kept) - max_length))
    room = max_length - len(kept)
    if room >= 1:
        return FittedPrompt(kept, min(max_tokens, room))
    keep = min(max_length, max(1, max_length - max_tokens, (max_length + 1) // 2))
    return FittedPrompt(kept[-keep:], max(1, max_length - keep), len(kept) - keep)


def _span(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def budget_note(max_tokens: int, fitted: Sequence[FittedPrompt], max_length: int) -> str | None:
    """One line saying how `fit_prompt` changed the requests (None when nothing changed)."""
    shrunk = [f.max_new_tokens for f in fitted if f.max_new_tokens < max_tokens]
    cut = [f.dropped for f in fitted if f.dropped]
    parts = []
    if shrunk:
        parts.append(
            f"max_tokens {max_tokens} does not fit the model's {max_length}-token context: "
            f"{len(shrunk)} of {len(fitted)} prompts get {_span(shrunk)} new tokens instead "
            "(a prompt that fits is kept whole)"
        )
    if cut:
        parts.append(
            f"{len(cut)} of {len(fitted)} prompts are longer than the model's "
            f"{max_length}-token context and lost their first {_span(cut)} tokens"
        )
    return "; ".join(parts) or None


def _stopping_criteria(
    tokenizer: Any, prompt_width: int, stops: Sequence[str]
) -> Any:  # transformers.StoppingCriteria
    """Per-row criterion: the decoded tail of the generated tokens contains a stop string."""
    from transformers import StoppingCriteria

    tail_tokens = max(len(s) for s in stops) + 8

    class StopStrings(StoppingCriteria):
        def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
            done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            generated = input_ids[:, prompt_width:]
            for r in range(generated.shape[0]):
                tail = tokenizer.decode(generated[r, -tail_tokens:], skip_special_tokens=True)
                done[r] = any(s in tail for s in stops)
            return done

    return StopStrings()


def eos_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """End-of-sequence ids: the model's generation config (one or several) and the tokenizer's."""
    ids: set[int] = set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(int(x) for x in configured)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    """Index of the earliest occurrence of any stop string in `text`, if any."""
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(hits) if hits else None


def _tokens_until_stop(tokenizer: Any, tokens: list[int], stops: Sequence[str]) -> int:
    """Smallest k such that decode(tokens[:k]) contains a stop string (binary search)."""
    low, high = 1, len(tokens)
    while low < high:
        mid = (low + high) // 2
        text = tokenizer.decode(tokens[:mid], skip_special_tokens=True)
        if _first_stop(text, stops) is not None:
            high = mid
        else:
            low = mid + 1
    return low


def finish_generation(
    tokenizer: Any,
    generated: list[int],
    *,
    eos_ids: set[int],
    stops: Sequence[str],
    prompt_tokens: int,
    logprobs: Sequence[float] | None = None,
) -> Generation:
    """Turn one row of generated token ids into a Generation (cut at EOS, then at stops);
    `logprobs` (one per generated token) are kept for the counted tokens."""
    eos_at = next((k for k, t in enumerate(generated) if t in eos_ids), None)
    body = generated if eos_at is None else generated[:eos_at]
    text = tokenizer.decode(body, skip_special_tokens=True)
    cut = _first_stop(text, stops)
    if cut is not None:
        reason, n = "stop", _tokens_until_stop(tokenizer, body, stops)
        text = text[:cut]
    elif eos_at is not None:
        reason, n = "stop", eos_at + 1
    else:
        reason, n = "length", len(generated)
    kept = None if logprobs is None else tuple(float(x) for x in logprobs[:n])
    return Generation(text, reason, prompt_tokens, n, token_logprobs=kept)


def chosen_logprobs(logits: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """log p(chosen[r]) under row r of raw `logits` (rows x vocab): temperature 1, natural log."""
    return torch.log_softmax(logits.float(), dim=-1).gather(1, chosen[:, None]).squeeze(1)


def sample_rows(
    scores: torch.Tensor, generators: Sequence[torch.Generator], params: GenerationParams
) -> torch.Tensor:
    """One token per row of `scores` (rows x vocab logits), row r drawn with
    `generators[r]`: temperature, then nucleus filtering (the smallest set of tokens whose
    probability reaches `top_p`). Every path that samples uses this, so a seed draws the
    same tokens whichever path computed the logits."""
    probs = torch.softmax(scores.float() / params.temperature, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    if params.top_p < 1.0:
        before = sorted_probs.cumsum(-1) - sorted_probs  # mass of better tokens
        sorted_probs[before >= params.top_p] = 0.0
    picks = [torch.multinomial(sorted_probs[r], 1, generator=generators[r])
             for r in range(scores.shape[0])]
    return order.gather(1, torch.cat(picks).unsqueeze(1)).squeeze(1)


def row_seeds(seeds: Sequence[int | None]) -> list[int]:
    """Each row's seed; a row without one gets a seed drawn from the global torch RNG."""
    return [int(s) if s is not None else int(torch.randint(0, 2**62, (1,))) for s in seeds]


def _nucleus_sampler(params: GenerationParams, seeds: Sequence[int | None]) -> Any:
    """Samples each row's next token with its own generator; returns one-hot scores.

    Decoding then runs greedy over these scores, so the argmax is the sampled token.
    """
    from transformers import LogitsProcessor

    fixed = row_seeds(seeds)

    class NucleusSampler(LogitsProcessor):
        def __init__(self) -> None:
            self.generators: list[torch.Generator] = []

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            if not self.generators:
                self.generators = [
                    torch.Generator(device=scores.device).manual_seed(s) for s in fixed
                ]
            chosen = sample_rows(scores, self.generators, params)
            one_hot = torch.full_like(scores, float("-inf"))
            one_hot.scatter_(1, chosen.unsqueeze(1), 0.0)
            return one_hot

    return NucleusSampler()


def _generation_config(params: GenerationParams, pad_id: int, eos_ids: list[int]) -> Any:
    """An explicit greedy GenerationConfig, so nothing is inherited from model defaults."""
    from transformers import GenerationConfig

    return GenerationConfig(
        max_new_tokens=params.max_tokens,
        min_new_tokens=0,
        do_sample=False,
        num_beams=1,
        num_return_sequences=1,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        pad_token_id=pad_id,
        eos_token_id=eos_ids or None,
        return_dict_in_generate=True,
        output_logits=params.logprobs,  # raw logits, before the sampler's one-hot scores
    )


def left_pad(prompts: Sequence[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask (1 on prompt tokens) of `prompts` left-padded with
    `pad_id` to the longest one; long tensors on the CPU."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for r, prompt in enumerate(prompts):
        ids[r, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
        mask[r, width - len(prompt) :] = 1
    return ids, mask


def prefill(
    model: Any, prompts: Sequence[list[int]], pad_id: int
) -> tuple[Any, torch.Tensor, torch.Tensor]:
    """One cached forward pass over `prompts` left-padded (`left_pad`): the model output,
    the attention mask and the position ids (counted from each row's first real token), both
    on the model's device, for a hand-written decoding loop to continue."""
    ids, mask = left_pad(prompts, pad_id)
    ids, mask = ids.to(model.device), mask.to(model.device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
    return out, mask, positions


def generate_batch(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[list[int]],
    params: GenerationParams,
    *,
    pad_id: int,
    eos_ids: set[int],
    seeds: Sequence[int | None] | None = None,
) -> list[Generation]:
    """Generate for left-padded `prompts` (token ids) that share `params`; sampling row r
    uses `seeds[r]` (default: `params.seed` for every row)."""
    device = model.device
    ids, mask = left_pad(prompts, pad_id)
    width = ids.shape[1]
    stops = tuple(s for s in params.stop if s)
    criteria = [_stopping_criteria(tokenizer, width, stops)] if stops else None
    config = _generation_config(params, pad_id, sorted(eos_ids))
    if seeds is None:
        seeds = [params.seed] * len(prompts)
    processors = None if params.greedy else [_nucleus_sampler(params, seeds)]
    out = model.generate(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        generation_config=config,
        stopping_criteria=criteria,
        logits_processor=processors,
    )
    sequences = out.sequences
    per_row: list[list[float] | None] = [None] * len(prompts)
    if params.logprobs:
        steps = [chosen_logprobs(step_logits, sequences[:, width + k])
                 for k, step_logits in enumerate(out.logits)]
        table = torch.stack(steps, dim=1).tolist() if steps else [[] for _ in prompts]
        per_row = list(table)
    return [
        finish_generation(
            tokenizer,
            sequences[r, width:].tolist(),
            eos_ids=eos_ids,
            stops=stops,
            prompt_tokens=len(prompt),
            logprobs=per_row[r],
        )
        for r, prompt in enumerate(prompts)
    ]


def sample_shared_prompts(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[list[int]],
    seeds: Sequence[Sequence[int | None]],
    params: GenerationParams,
    *,
    pad_id: int,
    eos_ids: set[int],
) -> list[list[Generation]]:
    """`len(seeds[p])` samples of each prompt `prompts[p]`, one prefill per prompt.

    The prompts run through the model once (left-padded together); the key/value cache is
    then copied to one row per sample, and every decoding step samples row r with its own
    generator seeded with its seed (`sample_rows`; a None seed draws one from the global
    torch RNG). A rerun with the same prompts and seeds gives the same samples, and a seeded
    sample's tokens depend on its seed, not on which other samples share its batch (up to
    floating-point differences between batch shapes). A row ends at an end-of-sequence
    token or a stop string, as in `generate_batch` (`finish_generation`); its generator
    keeps drawing while others run, as Hugging Face's `generate` does, so both paths draw
    the same tokens from the same logits. Returns the generations per prompt, in seed order.
    """
    device = model.device
    flat = row_seeds([s for group in seeds for s in group])
    owner = [p for p, group in enumerate(seeds) for _ in group]
    if params.max_tokens <= 0 or not owner:
        return [[Generation("", "length", len(prompts[p]), 0) for _ in group]
                for p, group in enumerate(seeds)]
    out, mask, positions = prefill(model, prompts, pad_id)
    rows = torch.tensor(owner, dtype=torch.long, device=device)
    keyword = cache_argument(model)
    cache = select_cache_rows(cache_of(out), rows)  # one copy of its prompt's cache per sample
    logits = out.logits[rows, -1, :].float()
    mask, position = mask[rows], positions[rows, -1]
    generators = [torch.Generator(device=device).manual_seed(s) for s in flat]
    stops = tuple(s for s in params.stop if s)
    criterion = _stopping_criteria(tokenizer, 0, stops) if stops else None
    eos = torch.tensor(sorted(eos_ids), dtype=torch.long, device=device)
    done = torch.zeros(len(owner), dtype=torch.bool, device=device)
    steps: list[torch.Tensor] = []
    logprob_steps: list[torch.Tensor] = []
    for step in range(params.max_tokens):
        chosen = torch.where(done, pad_id, sample_rows(logits, generators, params))
        steps.append(chosen)
        if params.logprobs:
            logprob_steps.append(chosen_logprobs(logits, chosen))
        done |= torch.isin(chosen, eos)
        if criterion is not None:
            done |= criterion(torch.stack(steps, dim=1), None)
        if bool(done.all()) or step == params.max_tokens - 1:
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        position = position + 1
        out = model(input_ids=chosen[:, None], attention_mask=mask,
                    position_ids=position[:, None], use_cache=True, **{keyword: cache})
        cache = cache_of(out)
        logits = out.logits[:, -1, :].float()
    generated = torch.stack(steps, dim=1).tolist()
    logprobs = torch.stack(logprob_steps, dim=1).tolist() if logprob_steps else None
    results: list[list[Generation]] = [[] for _ in prompts]
    for r, p in enumerate(owner):
        results[p].append(finish_generation(
            tokenizer, generated[r], eos_ids=eos_ids, stops=stops,
            prompt_tokens=len(prompts[p]), logprobs=None if logprobs is None else logprobs[r]))
    return results
