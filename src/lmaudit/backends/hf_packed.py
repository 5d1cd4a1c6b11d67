"""`packed` shared-prefix rows: a context and its continuations in one row, 4D tree mask.

Row layout (left-padded to the batch width):

    pad ... pad | context c_0 .. c_{m-1} | a_0 .. a_{n_a-2} | b_0 .. b_{n_b-2} | ...
    positions:    0 .. m-1                 m .. m+n_a-2       m .. m+n_b-2

Continuation `a` scores a_0 from the logits at c_{m-1} and a_k from those at a_{k-1}; its
last token is never fed. Attention: context tokens are causal among themselves; a
continuation token sees the whole context and the earlier tokens of its own continuation;
pads see only themselves (no empty softmax rows). The mask is additive (0 or the dtype's
minimum), shape [batch, 1, width, width], which eager and SDPA attention take as given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lmaudit.backends.hf_scoring import PositionCollector, PositionScore, accepts
from lmaudit.backends.hf_tokens import TokenizedPair

PAD_SEGMENT = -1  # segment ids: -1 pad, 0 context, k >= 1 the k-th continuation of the row


def _layout(
    row: tuple[tuple[int, ...], list[int]], pairs: Sequence[TokenizedPair]
) -> tuple[list[int], list[int], list[int], dict[int, int]]:
    """Token ids, segment ids, position ids and the start of each continuation in a row."""
    context, members = row
    tokens, segments = list(context), [0] * len(context)
    positions = list(range(len(context)))
    starts: dict[int, int] = {}
    for k, i in enumerate(members, start=1):
        body = pairs[i].continuation[:-1]
        starts[i] = len(tokens)
        tokens += body
        segments += [k] * len(body)
        positions += range(len(context), len(context) + len(body))
    return tokens, segments, positions, starts


def tree_mask(segments: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive [batch, 1, width, width] mask from segment ids ([batch, width])."""
    query, key = segments.unsqueeze(2), segments.unsqueeze(1)
    width = segments.shape[1]
    causal_or_self = torch.ones((width, width), dtype=torch.bool).tril()
    allowed = (key == 0) | (key == query)  # the context, or the query's own continuation
    allowed &= (key != PAD_SEGMENT) & causal_or_self  # (a pad query sees its own pad key)
    allowed |= torch.eye(width, dtype=torch.bool)
    zero, blocked = torch.zeros((), dtype=dtype), torch.tensor(torch.finfo(dtype).min, dtype=dtype)
    return torch.where(allowed, zero, blocked).unsqueeze(1)


def score_packed_rows(
    model: Any,
    rows: Sequence[tuple[tuple[int, ...], list[int]]],
    pairs: Sequence[TokenizedPair],
    pad_id: int,
    with_stats: bool,
) -> dict[int, list[PositionScore]]:
    """Every continuation token of the pairs in `rows` (one forward), by pair index."""
    device = model.device
    layouts = [_layout(row, pairs) for row in rows]
    width = max(len(tokens) for tokens, *_ in layouts)
    tail = max(
        len(tokens) - len(row[0]) + 1 for (tokens, *_), row in zip(layouts, rows, strict=True)
    )
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    segments = torch.full((len(rows), width), PAD_SEGMENT, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (tokens, segs, pos, _) in enumerate(layouts):
        offset = width - len(tokens)
        ids[r, offset:] = torch.tensor(tokens, dtype=torch.long)
        segments[r, offset:] = torch.tensor(segs, dtype=torch.long)
        positions[r, offset:] = torch.tensor(pos, dtype=torch.long)
    dtype = model.dtype if model.dtype.is_floating_point else torch.float32
    keep = {"logits_to_keep": tail} if accepts(model, "logits_to_keep") else {}
    logits = model(
        input_ids=ids.to(device),
        attention_mask=tree_mask(segments, dtype).to(device),
        position_ids=positions.to(device),
        use_cache=False,
        **keep,
    ).logits
    first_kept = width - logits.shape[1]  # absolute column of logits[:, 0]
    collector = PositionCollector()
    for r, ((tokens, _, _, starts), (context, members)) in enumerate(
        zip(layouts, rows, strict=True)
    ):
        offset = width - len(tokens) - first_kept
        last_context = offset + len(context) - 1
        for i in members:
            n = len(pairs[i].continuation)
            columns = [last_context] + [offset + starts[i] + k for k in range(n - 1)]
            collector.add(r, columns, pairs[i].continuation, i)
    parts: dict[int, list[PositionScore]] = {}
    collector.score_into(logits, parts, with_stats)
    return parts
