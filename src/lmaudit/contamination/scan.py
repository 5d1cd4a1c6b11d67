"""Corpus overlap scan: which benchmark items have word n-grams in a training corpus.

Three measures per item (all on GPT-3-normalized words, `lmaudit.contamination.normalize`):

- n-gram overlap (GPT-3, Brown et al. 2020, app. C): `matched_ngrams` is the number of the
  item's n-gram windows (default n = 13) found in at least one corpus document;
  `overlap_ratio` = matched / all windows. An n-gram found in more than
  `max_ngram_count` documents is treated as a common phrase and ignored (counted in
  `frequent_ngrams`). An item is *flagged* when `matched_ngrams > 0`.
- token contamination (Llama 2, Touvron et al. 2023, app. A.6): the share of the item's
  words covered by windows of `span` (default 10) consecutive words that occur in the
  corpus. Llama 2 used model tokens and a skip-gram budget; here tokens are normalized
  words and spans match exactly (the union of matched span-windows). Subsets as in the
  paper: clean < 20 %, not clean >= 20 %, not dirty < 80 %, dirty >= 80 %. The frequency
  filter does not apply to this measure.
- answer anchoring: matched n-grams whose window contains the gold answer
  (`lmaudit.contamination.items`).

What n-grams cannot see: a paraphrase or an item whose words were mapped to others
shares no long n-gram with the original; such copies are invisible to this scan.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from lmaudit.contamination.corpus_io import Shard, plan_shards
from lmaudit.contamination.items import ItemGrams
from lmaudit.contamination.matching import (
    ChunkMatcher,
    GramSets,
    ReadOptions,
    ShardMatches,
    scan_shard,
)

CLEAN_BELOW = 0.20
DIRTY_FROM = 0.80
INVISIBLE_NOTE = (
    "n-gram overlap only sees verbatim (normalized) copies: paraphrased or word-mapped "
    "copies of an item share no long n-gram and are not visible to this scan"
)


@dataclass(frozen=True)
class ScanConfig:
    """n: n-gram length (words); span: Llama-2 minimum matched span (words);
    max_ngram_count: n-grams in more documents than this are ignored; workers: processes
    (0 = all local cores)."""

    n: int = 13
    span: int = 10
    max_ngram_count: int = 1000
    workers: int = 0
    read: ReadOptions = field(default_factory=ReadOptions)
    shard_bytes: int = 16 << 20


@dataclass(frozen=True)
class ItemOverlap:
    """One benchmark item's result (one row of items.parquet)."""

    id: str
    n_words: int
    n_ngrams: int
    matched_ngrams: int
    frequent_ngrams: int
    overlap_ratio: float
    answer_anchored_ngrams: int
    token_contamination: float  # fraction of words in matched spans, 0..1
    category: str  # "clean" (< 20 %), "dirty" (>= 80 %) or "between"
    doc_ids: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return self.matched_ngrams > 0


@dataclass(frozen=True)
class ScanResult:
    items: list[ItemOverlap]
    bytes_read: int
    documents: int
    seconds: float
    workers: int


def gram_sets(items: Sequence[ItemGrams], n: int, span: int) -> GramSets:
    def keys(arrays: Iterable[np.ndarray]) -> np.ndarray:
        listed = list(arrays)
        return np.unique(np.concatenate(listed)) if listed else np.empty(0, np.uint64)

    return GramSets(
        n, span, keys(i.ngram_hashes for i in items), keys(i.span_hashes for i in items)
    )


_worker: tuple[ChunkMatcher, ReadOptions] | None = None


def _init_worker(grams: GramSets, read: ReadOptions) -> None:
    global _worker
    _worker = (ChunkMatcher(grams), read)


def _scan_in_worker(shard: Shard) -> ShardMatches:
    assert _worker is not None
    return scan_shard(_worker[0], shard, _worker[1])


def run_local(shards: list[Shard], grams: GramSets, read: ReadOptions, workers: int
              ) -> Iterable[ShardMatches]:
    """Scan shards in `workers` processes (1: in this process), yielding as they finish."""
    if workers <= 1 or len(shards) <= 1:
        matcher = ChunkMatcher(grams)
        for shard in shards:
            yield scan_shard(matcher, shard, read)
        return
    context = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
    with context.Pool(workers, _init_worker, (grams, read)) as pool:
        yield from pool.imap_unordered(_scan_in_worker, shards)


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def scan_corpus(
    items: Sequence[ItemGrams],
    corpus: list[str],
    config: ScanConfig = ScanConfig(),
    *,
    ray_address: str | None = None,
) -> ScanResult:
    """Scan corpus files / directories for the items' n-grams (see the module docstring)."""
    import time

    started = time.perf_counter()
    grams = gram_sets(items, config.n, config.span)
    shards = plan_shards(corpus, config.shard_bytes)
    workers = config.workers or default_workers()
    if ray_address is not None:
        from lmaudit.contamination.ray_scan import run_ray

        results: Iterable[ShardMatches] = run_ray(ray_address, shards, grams, config.read)
    else:
        results = run_local(shards, grams, config.read, workers)
    merged = merge_matches(results, grams, config.max_ngram_count)
    overlaps = item_overlaps(items, grams, merged, config)
    return ScanResult(
        overlaps, merged.bytes_read, merged.documents, time.perf_counter() - started, workers
    )


@dataclass
class MergedMatches:
    """Per benchmark n-gram: documents containing it (count and up to max+1 ids)."""

    doc_counts: np.ndarray
    doc_ids: dict[int, list[str]]
    span_seen: np.ndarray
    bytes_read: int = 0
    documents: int = 0


def merge_matches(
    results: Iterable[ShardMatches], grams: GramSets, max_ngram_count: int
) -> MergedMatches:
    """Add up shard results; documents never span shards, so counts simply add."""
    merged = MergedMatches(
        np.zeros(len(grams.ngram_keys), np.int64), {},
        np.zeros(len(grams.span_keys), dtype=bool),
    )
    for part in results:
        merged.bytes_read += part.bytes_read
        merged.documents += part.documents
        np.add.at(merged.doc_counts, part.ngram_slots, 1)
        merged.span_seen[part.span_slots] = True
        for slot, doc in zip(part.ngram_slots.tolist(), part.ngram_docs, strict=True):
            ids = merged.doc_ids.setdefault(slot, [])
            if len(ids) <= max_ngram_count:
                ids.append(doc)
    return merged


def _slots_per_item(keys: np.ndarray, per_item: list[np.ndarray]) -> list[np.ndarray]:
    if not per_item:
        return []
    slots = np.searchsorted(keys, np.concatenate(per_item))
    return np.split(slots, np.cumsum([len(h) for h in per_item])[:-1])


def item_overlaps(
    items: Sequence[ItemGrams], grams: GramSets, merged: MergedMatches, config: ScanConfig
) -> list[ItemOverlap]:
    """Per-item measures from the merged corpus matches, in item order."""
    ngram_slots = _slots_per_item(grams.ngram_keys, [i.ngram_hashes for i in items])
    span_slots = _slots_per_item(grams.span_keys, [i.span_hashes for i in items])
    return [
        item_overlap(item, slots, spans, merged, config)
        for item, slots, spans in zip(items, ngram_slots, span_slots, strict=True)
    ]


def item_overlap(
    item: ItemGrams,
    slots: np.ndarray,
    span_slots: np.ndarray,
    merged: MergedMatches,
    config: ScanConfig,
) -> ItemOverlap:
    """One item's measures; `slots` / `span_slots` locate its grams in the gram sets."""
    counts = merged.doc_counts[slots] if len(slots) else np.empty(0, np.int64)
    frequent = counts > config.max_ngram_count
    matched = (counts > 0) & ~frequent
    doc_ids: list[str] = []
    if matched.any():
        doc_ids = sorted({d for s in set(slots[matched].tolist()) for d in merged.doc_ids[s]})
    share = 0.0
    if merged.span_seen.any() and item.n_words:
        covered = np.zeros(item.n_words, dtype=bool)
        for start in item.span_positions[merged.span_seen[span_slots]].tolist():
            covered[start : start + config.span] = True
        share = float(covered.mean())
    category = "clean" if share < CLEAN_BELOW else "dirty" if share >= DIRTY_FROM else "between"
    n_ngrams = len(item.ngram_hashes)
    return ItemOverlap(
        id=item.id,
        n_words=item.n_words,
        n_ngrams=n_ngrams,
        matched_ngrams=int(matched.sum()),
        frequent_ngrams=int(frequent.sum()),
        overlap_ratio=float(matched.sum() / n_ngrams) if n_ngrams else 0.0,
        answer_anchored_ngrams=int((matched & item.anchored).sum()),
        token_contamination=share,
        category=category,
        doc_ids=tuple(doc_ids),
    )


def subset_counts(items: Sequence[ItemOverlap]) -> dict[str, int]:
    """Llama-2 subsets (overlapping: clean ⊂ not dirty, dirty ⊂ not clean) and flags."""
    shares = np.array([i.token_contamination for i in items], dtype=float)
    return {
        "items": len(items),
        "flagged_ngram": sum(i.flagged for i in items),
        "answer_anchored": sum(i.answer_anchored_ngrams > 0 for i in items),
        "clean": int((shares < CLEAN_BELOW).sum()),
        "not_clean": int((shares >= CLEAN_BELOW).sum()),
        "not_dirty": int((shares < DIRTY_FROM).sum()),
        "dirty": int((shares >= DIRTY_FROM).sum()),
    }
