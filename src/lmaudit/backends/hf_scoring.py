"""Scoring continuation tokens from logits, and the naive one-row-per-request path.

For each `TokenizedPair` the result holds the natural-log probability of every continuation
token, whether each token is the argmax of its next-token distribution (ties: the lowest
token id wins, as `torch.argmax`), and optionally the mean and variance of log p under the
next-token distribution (the Min-K%++ normalisers). Log-softmax runs in float32.

`score_naive` feeds one row per pair, `context + continuation[:-1]`, right-padded with no
attention mask (causal attention never looks at the right pads), longest rows first.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from lmaudit.backends.hf_tokens import TokenizedPair

# Called with the indices (into the `pairs` argument) of the pairs just finished.
DoneCallback = Callable[[list[int]], None]

# One scored position: (log p(target), target is argmax, E[log p], Var[log p]).
PositionScore = tuple[float, bool, float | None, float | None]


@dataclass(frozen=True)
class TokenScores:
    """Per-token results for one continuation (natural logs).

    `means[i]` and `variances[i]` are E[log p] and Var[log p] under the model's next-token
    distribution at continuation token i (present only when statistics were requested).
    """

    token_logprobs: tuple[float, ...]
    greedy: tuple[bool, ...]
    means: tuple[float, ...] | None = None
    variances: tuple[float, ...] | None = None

    @property
    def logprob(self) -> float:
        return float(sum(self.token_logprobs))

    @property
    def is_greedy(self) -> bool:
        return all(self.greedy)


def score_positions(
    logits: torch.Tensor, targets: Sequence[int], with_stats: bool
) -> list[PositionScore]:
    """Score `targets[n]` under `logits[n]` (shape [N, vocab]) in one vectorised pass."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    wanted = torch.tensor(list(targets), dtype=torch.long, device=logits.device)
    columns = [
        log_probs.gather(-1, wanted.unsqueeze(-1)).squeeze(-1),
        (log_probs.argmax(dim=-1) == wanted).float(),
    ]
    if with_stats:
        probs = log_probs.exp()
        mean = (probs * log_probs).sum(-1)
        second = (probs * log_probs.square()).sum(-1)
        columns += [mean, (second - mean.square()).clamp_min(0.0)]
    table = torch.stack(columns, dim=1).tolist()
    if with_stats:
        return [(row[0], row[1] > 0.5, row[2], row[3]) for row in table]
    return [(row[0], row[1] > 0.5, None, None) for row in table]


def to_token_scores(positions: Sequence[PositionScore], with_stats: bool) -> TokenScores:
    """Assemble the scored positions of one continuation, in token order."""
    logprobs = tuple(p[0] for p in positions)
    greedy = tuple(p[1] for p in positions)
    if not with_stats:
        return TokenScores(logprobs, greedy)
    means = tuple(float(p[2] or 0.0) for p in positions)
    variances = tuple(float(p[3] or 0.0) for p in positions)
    return TokenScores(logprobs, greedy, means, variances)


class PositionCollector:
    """Collects (row, column) positions of a [rows, columns, vocab] logits tensor for many
    pairs, then gathers and scores them all with one indexing op (few large ops are much
    cheaper than many small ones, above all on a CPU shared with other processes)."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.columns: list[int] = []
        self.targets: list[int] = []
        self.owners: list[int] = []

    def add(self, row: int, columns: Sequence[int], targets: Sequence[int], owner: int) -> None:
        """Logits at `(row, columns[k])` predict `targets[k]` for pair `owner`."""
        self.rows.extend([row] * len(columns))
        self.columns.extend(columns)
        self.targets.extend(targets)
        self.owners.extend([owner] * len(columns))

    def score_into(
        self, logits: torch.Tensor, parts: dict[int, list[PositionScore]], with_stats: bool
    ) -> None:
        """Append each owner's scored positions (in the order added) to `parts[owner]`."""
        if not self.targets:
            return
        device = logits.device
        rows = torch.tensor(self.rows, dtype=torch.long, device=device)
        columns = torch.tensor(self.columns, dtype=torch.long, device=device)
        scored = score_positions(logits[rows, columns], self.targets, with_stats)
        for owner, position in zip(self.owners, scored, strict=True):
            parts.setdefault(owner, []).append(position)


def accepts(model: Any, name: str) -> bool:
    """True when `model.forward` has a parameter called `name`."""
    return name in inspect.signature(model.forward).parameters


def empty_scores(with_stats: bool) -> TokenScores:
    return TokenScores((), (), () if with_stats else None, () if with_stats else None)


def batches(items: Sequence[int], size: int) -> list[list[int]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def score_naive(
    model: Any,
    pairs: Sequence[TokenizedPair],
    *,
    batch_size: int,
    pad_id: int,
    with_stats: bool = False,
    on_done: DoneCallback | None = None,
) -> list[TokenScores]:
    """Score each pair with one full `context + continuation[:-1]` row (pairs must fit)."""
    device = model.device
    order = sorted(
        range(len(pairs)),
        key=lambda i: (-(len(pairs[i].context) + len(pairs[i].continuation)), i),
    )
    results = [empty_scores(with_stats)] * len(pairs)
    for batch in batches([i for i in order if pairs[i].continuation], batch_size):
        rows = [list(pairs[i].context + pairs[i].continuation[:-1]) for i in batch]
        ids = torch.full((len(rows), max(len(r) for r in rows)), pad_id, dtype=torch.long)
        for r, row in enumerate(rows):
            ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
        logits = model(input_ids=ids.to(device), use_cache=False).logits
        collector = PositionCollector()
        for r, i in enumerate(batch):
            n_ctx, n_cont = len(pairs[i].context), len(pairs[i].continuation)
            columns = range(n_ctx - 1, n_ctx - 1 + n_cont)
            collector.add(r, columns, pairs[i].continuation, i)
        parts: dict[int, list[PositionScore]] = {}
        collector.score_into(logits, parts, with_stats)
        for i in batch:
            results[i] = to_token_scores(parts[i], with_stats)
        if on_done is not None:
            on_done(batch)
    empty = [i for i in order if not pairs[i].continuation]
    if on_done is not None and empty:
        on_done(empty)
    return results
