"""Shared-prefix scoring: each distinct context runs once for all its continuations.

Pairs are grouped by identical context ids; the last context position scores every
continuation's first token, so single-token continuations (A/B/C/D answers) cost nothing
extra. Two modes score the remaining tokens:

* `packed` (default): one row per context holding the context followed by tokens 0..n-2 of
  each of its continuations, with a 4D additive attention mask (each continuation token sees
  the context and the earlier tokens of its own continuation, nothing else) and position ids
  restarting after the context for each continuation. One forward per batch of contexts,
  left-padded, logits kept only for the tail that holds the continuations. Needs a model
  that honours custom 4D masks (eager/SDPA attention in recent transformers).
* `copy`: the contexts run once (left padding, position ids, key/value cache kept); then one
  row per continuation, right-padded, attends to a row-wise copy of its context's cache
  through a plain 2D mask, positions continuing after the context.

The backend checks the modes against the naive path once and falls back in this order:
packed, copy, naive.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch

from lmaudit.backends.hf_packed import score_packed_rows
from lmaudit.backends.hf_scoring import (
    DoneCallback,
    PositionCollector,
    PositionScore,
    TokenScores,
    accepts,
    batches,
    empty_scores,
    to_token_scores,
)
from lmaudit.backends.hf_tokens import TokenizedPair

MODES = ("packed", "copy")


def shared_prefix_supported(model: Any) -> str | None:
    """None unless `model`'s architecture rules the shared-prefix path out (then the reason).

    Only what a short self-check could miss is decided here, from the config: encoder-decoder
    models and attention that is not full (sliding windows, mixed layer types), whose effect
    shows only on long inputs. Whether `forward()` honours position ids, custom masks and a
    key/value cache is decided by trying it (`mode_failure`), never by reading signatures,
    which change between transformers releases.
    """
    config = model.config
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder model"
    layer_types = getattr(config, "layer_types", None) or ()
    if any(t != "full_attention" for t in layer_types):
        return f"layer types {sorted(set(layer_types))} are not all full attention"
    if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        return "sliding-window attention"
    return None


def cache_of(output: Any) -> Any:
    """The key/value cache a forward returned (`cache` in transformers >= 5.x, else
    `past_key_values`)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def cache_argument(model: Any) -> str:
    """The keyword `model.forward` takes a key/value cache by: `cache` where the model names
    it so (newer transformers, which deprecate the old name), else `past_key_values`."""
    return "cache" if accepts(model, "cache") else "past_key_values"


def select_cache_rows(cache: Any, rows: torch.Tensor) -> Any:
    """A new cache holding `cache`'s batch rows `rows` (repeats allowed); `cache` is untouched."""
    if hasattr(cache, "layers"):  # transformers >= 4.56 Cache objects
        selected = copy.copy(cache)
        selected.layers = [copy.copy(layer) for layer in cache.layers]
        for layer in selected.layers:
            layer.batch_select_indices(rows)
        return selected
    if isinstance(cache, tuple):  # legacy tuple of (key, value) per layer
        return tuple(tuple(t.index_select(0, rows) for t in layer) for layer in cache)
    if hasattr(cache, "to_legacy_cache"):  # transformers < 4.56 DynamicCache
        legacy = select_cache_rows(cache.to_legacy_cache(), rows)
        return type(cache).from_legacy_cache(legacy)
    raise TypeError(f"unsupported key/value cache type {type(cache).__name__}")


def score_shared_prefix(
    model: Any,
    pairs: Sequence[TokenizedPair],
    *,
    batch_size: int,
    pad_id: int,
    mode: str = "packed",
    max_row_length: int | None = None,
    with_stats: bool = False,
    on_done: DoneCallback | None = None,
) -> list[TokenScores]:
    """Score pairs running each distinct context once (pairs must fit the model).

    `batch_size` bounds the rows of every forward: contexts per forward (`copy` mode: also
    continuations per continuation pass). In `packed` mode a context whose continuations do
    not fit in one row of `max_row_length` tokens is split over several rows.
    """
    if mode not in MODES:
        raise ValueError(f"unknown shared-prefix mode {mode!r}")
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, pair in enumerate(pairs):
        if pair.continuation:
            groups.setdefault(pair.context, []).append(i)
    if mode == "packed":
        config = model.config
        limit = max_row_length or getattr(config, "max_position_embeddings", None) or 2048
        units = [u for c, members in groups.items() for u in split_rows(c, members, pairs, limit)]
    else:
        units = list(groups.items())
    units.sort(key=lambda u: (-row_length(u, pairs), u[0], u[1]))
    results = [empty_scores(with_stats)] * len(pairs)
    for batch in batches(range(len(units)), batch_size):
        rows = [units[k] for k in batch]
        if mode == "packed":
            parts = score_packed_rows(model, rows, pairs, pad_id, with_stats)
        else:
            parts = _score_context_batch(model, rows, pairs, pad_id, batch_size, with_stats)
        done = [i for _, members in rows for i in members]
        for i in done:
            results[i] = to_token_scores(parts[i], with_stats)
        if on_done is not None:
            on_done(done)
    empty = [i for i, p in enumerate(pairs) if not p.continuation]
    if on_done is not None and empty:
        on_done(empty)
    return results


Row = tuple[tuple[int, ...], list[int]]  # a context and the pairs scored with it


def row_length(row: Row, pairs: Sequence[TokenizedPair]) -> int:
    """Tokens a packed row holds: the context plus all but the last token of each option."""
    return len(row[0]) + sum(len(pairs[i].continuation) - 1 for i in row[1])


def split_rows(
    context: tuple[int, ...], members: list[int], pairs: Sequence[TokenizedPair], limit: int
) -> list[Row]:
    """Spread a context's continuations over rows of at most `limit` packed tokens."""
    rows: list[Row] = [(context, [])]
    for i in members:
        if rows[-1][1] and row_length((context, [*rows[-1][1], i]), pairs) > limit:
            rows.append((context, []))
        rows[-1][1].append(i)
    return rows


def _score_context_batch(
    model: Any,
    rows: Sequence[Row],
    pairs: Sequence[TokenizedPair],
    pad_id: int,
    batch_size: int,
    with_stats: bool,
) -> dict[int, list[PositionScore]]:
    """`copy` mode: every continuation token of the pairs in `rows`, by pair index."""
    contexts = [c for c, _ in rows]
    members = [(r, i) for r, (_, row_members) in enumerate(rows) for i in row_members]
    device = model.device
    width = max(len(c) for c in contexts)
    ids = torch.full((len(contexts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(contexts), width), dtype=torch.long)
    for r, ctx in enumerate(contexts):
        ids[r, width - len(ctx) :] = torch.tensor(ctx, dtype=torch.long)
        mask[r, width - len(ctx) :] = 1
    keep: dict[str, Any] = {"logits_to_keep": 1} if accepts(model, "logits_to_keep") else {}
    out = model(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        position_ids=(mask.cumsum(-1) - 1).clamp_min(0).to(device),
        use_cache=True,
        **keep,
    )
    last_logits, cache = out.logits[:, -1:, :], cache_of(out)
    del out
    parts: dict[int, list[PositionScore]] = {}
    first = PositionCollector()
    for r, i in members:
        first.add(r, [0], pairs[i].continuation[:1], i)
    first.score_into(last_logits, parts, with_stats)
    longer = [(r, i) for r, i in members if len(pairs[i].continuation) > 1]
    if longer:
        longer.sort(key=lambda m: (-len(pairs[m[1]].continuation), m[1]))
        for chunk in batches(range(len(longer)), batch_size):
            entries = [longer[k] for k in chunk]
            _copy_pass(model, cache, entries, pairs, mask, pad_id, with_stats, parts)
    return parts


def _copy_pass(
    model: Any,
    cache: Any,
    entries: Sequence[tuple[int, int]],
    pairs: Sequence[TokenizedPair],
    context_mask: torch.Tensor,
    pad_id: int,
    with_stats: bool,
    parts: dict[int, list[PositionScore]],
) -> None:
    """One row per continuation against a row-wise copy of its context's cache (2D mask)."""
    device = model.device
    rows = torch.tensor([r for r, _ in entries], dtype=torch.long)
    inputs = [pairs[i].continuation[:-1] for _, i in entries]
    span = max(len(x) for x in inputs)
    ids = torch.full((len(entries), span), pad_id, dtype=torch.long)
    cont_mask = torch.zeros((len(entries), span), dtype=torch.long)
    for k, tokens in enumerate(inputs):
        ids[k, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        cont_mask[k, : len(tokens)] = 1
    ctx_mask = context_mask.index_select(0, rows)
    out = model(
        input_ids=ids.to(device),
        attention_mask=torch.cat([ctx_mask, cont_mask], dim=1).to(device),
        position_ids=(ctx_mask.sum(-1, keepdim=True) + torch.arange(span)).to(device),
        use_cache=True,
        **{cache_argument(model): select_cache_rows(cache, rows.to(device))},
    )
    collector = PositionCollector()
    for k, (_, i) in enumerate(entries):
        targets = pairs[i].continuation[1:]
        collector.add(k, range(len(targets)), targets, i)
    collector.score_into(out.logits, parts, with_stats)


def check_sample(pairs: Sequence[TokenizedPair]) -> tuple[list[TokenizedPair], bool]:
    """A small ragged sample for `mode_failure`: the shortest and the longest context (up to
    4 continuations each), preferring contexts with multi-token continuations. The flag says
    whether the sample exercises the continuation pass at all."""
    by_context: dict[tuple[int, ...], list[TokenizedPair]] = {}
    for pair in pairs:
        if pair.continuation:
            by_context.setdefault(pair.context, []).append(pair)
    multi = [c for c, ps in by_context.items() if any(len(p.continuation) > 1 for p in ps)]
    contexts = sorted(multi or by_context, key=len)
    if not contexts:
        return [], False
    picked = dict.fromkeys([contexts[0], contexts[-1]])
    return [p for c in picked for p in by_context[c][:4]], bool(multi)


def mode_failure(
    model: Any, sample: Sequence[TokenizedPair], mode: str, *, pad_id: int, tolerance: float
) -> str | None:
    """None when `mode` reproduces the naive scores of `sample` within `tolerance` nats per
    token; otherwise why not (an exception, or the largest gap)."""
    from lmaudit.backends.hf_scoring import score_naive

    try:
        fast = score_shared_prefix(model, sample, batch_size=8, pad_id=pad_id, mode=mode)
    except Exception as error:  # an architecture this mode does not fit
        return f"{mode} mode failed: {type(error).__name__}: {error}"
    slow = score_naive(model, sample, batch_size=8, pad_id=pad_id)
    gap = max(
        (
            abs(a - b)
            for f, s in zip(fast, slow, strict=True)
            for a, b in zip(f.token_logprobs, s.token_logprobs, strict=True)
        ),
        default=0.0,
    )
    return f"{mode} mode differs from the naive path by {gap:.3g} nats" if gap > tolerance else None
