"""Find benchmark n-grams in corpus chunks (the inner loop; runs in every worker).

Per chunk: normalize all bytes at once, hash all words, hash the windows of the shorter
length m = min(n, span) everywhere, keep the few that are benchmark m-grams (bitmap then
binary search), drop windows that cross a document boundary, and only at those positions
hash the n-gram and the span-gram. The result is, per shard, the distinct
(benchmark gram, document) pairs found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmaudit.contamination.corpus_io import Chunk, Shard, iter_chunks
from lmaudit.contamination.ngrams import (
    GramIndex,
    all_grams,
    gram_prefix,
    grams_at,
    hash_words,
)
from lmaudit.contamination.normalize import normalize_bytes


@dataclass(frozen=True)
class GramSets:
    """What workers look for: sorted unique hashes of benchmark n-grams and span-grams."""

    n: int
    span: int
    ngram_keys: np.ndarray
    span_keys: np.ndarray


@dataclass(frozen=True)
class ReadOptions:
    text_field: str = "text"
    id_field: str = "id"
    chunk_bytes: int = 1 << 18


@dataclass(frozen=True)
class ShardMatches:
    """Distinct (gram, document) pairs of one shard.

    `ngram_slots[i]` indexes `GramSets.ngram_keys` and `ngram_docs[i]` names the document;
    `span_slots` are the span-grams seen (document ids are not kept for them).
    `bytes_read` counts raw document text bytes (UTF-8).
    """

    ngram_slots: np.ndarray
    ngram_docs: list[str]
    span_slots: np.ndarray
    bytes_read: int
    documents: int


class ChunkMatcher:
    """Holds the gram indexes (built once per worker) and scans chunks."""

    def __init__(self, grams: GramSets) -> None:
        self.n = grams.n
        self.span = grams.span
        self.short = min(grams.n, grams.span)
        self.ngram_index = GramIndex(grams.ngram_keys)
        self.span_index = (
            self.ngram_index if grams.span == grams.n else GramIndex(grams.span_keys)
        )
        self.short_index = self.ngram_index if self.short == grams.n else self.span_index

    def match(self, chunk: Chunk) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(ngram slots, their document indices, span slots, their document indices)."""
        normalized = normalize_bytes(chunk.data)
        words = hash_words(normalized)
        count = len(words.hashes)
        empty = np.empty(0, np.int64)
        if count < self.short:
            return empty, empty, empty, empty
        prefix = gram_prefix(words.hashes)
        found, _ = self.short_index.find(all_grams(prefix, self.short))
        if len(found) == 0:
            return empty, empty, empty, empty
        separators = np.flatnonzero(np.frombuffer(normalized, dtype=np.uint8) == 0)
        doc_of = np.searchsorted(separators, words.starts[found])
        ngram_slots, ngram_docs = self._lookup(prefix, found, doc_of, self.n, self.ngram_index,
                                               words.starts, separators)
        span_slots, span_docs = self._lookup(prefix, found, doc_of, self.span, self.span_index,
                                             words.starts, separators)
        return ngram_slots, ngram_docs, span_slots, span_docs

    @staticmethod
    def _lookup(
        prefix: np.ndarray,
        found: np.ndarray,
        doc_of: np.ndarray,
        length: int,
        index: GramIndex,
        starts: np.ndarray,
        separators: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        fits = found + length <= len(prefix) - 1
        positions, docs = found[fits], doc_of[fits]
        same_doc = np.searchsorted(separators, starts[positions + length - 1]) == docs
        positions, docs = positions[same_doc], docs[same_doc]
        hits, slots = index.find(grams_at(prefix, positions, length))
        return slots, docs[hits]


def _distinct_pairs(slots: list[np.ndarray], docs: list[np.ndarray]) -> np.ndarray:
    if not slots:
        return np.empty((0, 2), np.int64)
    pairs = np.stack([np.concatenate(slots), np.concatenate(docs)], axis=1)
    return np.unique(pairs, axis=0) if len(pairs) else pairs


def scan_shard(matcher: ChunkMatcher, shard: Shard, options: ReadOptions) -> ShardMatches:
    """Scan one shard, keeping the ids of matched documents only."""
    ngram_slots: list[np.ndarray] = []
    ngram_docs: list[np.ndarray] = []
    span_slots: list[np.ndarray] = []
    doc_ids: list[str] = []
    bytes_read = 0
    documents = 0
    for chunk in iter_chunks(
        shard, text_field=options.text_field, id_field=options.id_field,
        chunk_bytes=options.chunk_bytes,
    ):
        n_slots, n_docs, s_slots, _ = matcher.match(chunk)
        if len(n_slots):
            matched, local = np.unique(n_docs, return_inverse=True)
            ngram_slots.append(n_slots)
            ngram_docs.append(local.reshape(-1) + len(doc_ids))
            doc_ids.extend(chunk.doc_ids[d] for d in matched.tolist())
        if len(s_slots):
            span_slots.append(np.unique(s_slots))
        bytes_read += len(chunk.data) - len(chunk.doc_ids) + 1
        documents += len(chunk.doc_ids)
    pairs = _distinct_pairs(ngram_slots, ngram_docs)
    spans = np.unique(np.concatenate(span_slots)) if span_slots else np.empty(0, np.int64)
    return ShardMatches(
        pairs[:, 0], [doc_ids[i] for i in pairs[:, 1].tolist()], spans, bytes_read, documents
    )
