"""Normalization, hashing, item n-grams and corpus reading of the scan (hand-checked values)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lmaudit.contamination.corpus_io import Chunk, iter_chunks, plan_shards
from lmaudit.contamination.items import ItemText, item_grams
from lmaudit.contamination.matching import ChunkMatcher, GramSets
from lmaudit.contamination.ngrams import (
    GramIndex,
    gram_prefix,
    grams_at,
    hash_words,
    word_gram_hashes,
)
from lmaudit.contamination.normalize import normalize_text, normalized_words
from lmaudit.core.types import LmauditError


def test_normalization_is_gpt3_style() -> None:
    # ASCII lower-cased, string.punctuation deleted (not replaced), non-ASCII kept
    assert normalize_text("Don't STOP, me-now! Janet’s $1,200.") == "dont stop menow janet’s 1200"
    assert normalized_words(" A\tb\n\nC -- d ") == ["a", "b", "c", "d"]


def test_word_hashes_depend_on_words_only() -> None:
    words = hash_words(b"  cat dog\ncat\x00dog  ")
    assert words.starts.tolist() == [2, 6, 10, 14]
    assert words.hashes[0] == words.hashes[2]
    assert words.hashes[1] == words.hashes[3]
    assert words.hashes[0] != words.hashes[1]


def test_chunk_gram_hashes_equal_item_gram_hashes() -> None:
    words = ["one", "two", "three", "four", "five", "six"]
    prefix = gram_prefix(hash_words(b"zero one two three four five six seven").hashes)
    in_chunk = grams_at(prefix, np.arange(1, 5), 3)
    assert in_chunk.tolist() == word_gram_hashes(words, 3).tolist()
    assert len(set(word_gram_hashes(words, 2).tolist()) & set(in_chunk.tolist())) == 0


def test_gram_index_finds_members_only() -> None:
    keys = np.array([5, 1 << 63, 12345678901234567], dtype=np.uint64)
    index = GramIndex(keys)
    probe = np.array([7, 12345678901234567, 5, 5, 1 << 62], dtype=np.uint64)
    positions, slots = index.find(probe)
    assert positions.tolist() == [1, 2, 3]
    assert index.keys[slots].tolist() == [12345678901234567, 5, 5]


def test_matcher_ignores_windows_across_documents() -> None:
    item = ItemText("x", ("a b c d",), None)
    grams = item_grams(item, 4, 2)
    sets = GramSets(4, 2, np.unique(grams.ngram_hashes), np.unique(grams.span_hashes))
    matcher = ChunkMatcher(sets)
    # doc 0 ends with "a b", doc 1 starts with "c d": no 4-gram, but span-grams in each
    n_slots, _, s_slots, s_docs = matcher.match(Chunk(b"x a b\x00c d y", ["d0", "d1"]))
    assert len(n_slots) == 0
    assert sorted(zip(s_slots.tolist(), s_docs.tolist(), strict=True)) == sorted(
        [(int(np.searchsorted(sets.span_keys, grams.span_hashes[0])), 0),
         (int(np.searchsorted(sets.span_keys, grams.span_hashes[2])), 1)]
    )
    n_slots, n_docs, _, _ = matcher.match(Chunk(b"q\x00z A, b C d!", ["d0", "d1"]))
    assert n_slots.tolist() == [0] and n_docs.tolist() == [1]


def test_item_grams_stay_inside_segments_and_mark_the_answer() -> None:
    # question 5 words, answer segment 4 words ending in the answer "42"; n = 3
    item = ItemText("q", ("w1 w2 w3 w4 w5", "so it is 42"), "42")
    grams = item_grams(item, 3, 2)
    assert grams.n_words == 9
    # windows: question 0..2 (3 windows), answer 5..6 (2 windows); none across segments
    assert grams.ngram_positions.tolist() == [0, 1, 2, 5, 6]
    # only the window starting at word 6 ("it is 42") contains the answer word at 8
    assert grams.anchored.tolist() == [False, False, False, False, True]
    assert grams.span_positions.tolist() == [0, 1, 2, 3, 5, 6, 7]


def test_jsonl_shards_split_on_line_starts_and_name_offsets(tmp_path: Path) -> None:
    lines = [json.dumps({"text": f"doc {k} " + "x" * (k % 7)}) + "\n" for k in range(40)]
    lines.insert(9, "\n")  # a blank line is skipped
    path = tmp_path / "c.jsonl"
    path.write_text("".join(lines))
    offsets, position = [], 0
    for line in lines:
        if line.strip():
            offsets.append(f"c.jsonl@{position}")
        position += len(line)

    def ids(shard_bytes: int, chunk_bytes: int) -> list[str]:
        return [
            doc_id
            for shard in plan_shards([str(path)], shard_bytes)
            for chunk in iter_chunks(shard, chunk_bytes=chunk_bytes)
            for doc_id in chunk.doc_ids
        ]

    assert ids(1 << 20, 1 << 20) == offsets
    assert ids(37, 50) == offsets  # many shards cutting lines, small chunks
    assert ids(100, 1) == offsets


def test_malformed_jsonl_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine"}\n{"body": "no text field"}\n')
    shard = plan_shards([str(path)])[0]
    with pytest.raises(LmauditError, match=r"bad.jsonl @ byte 17: not a JSON object"):
        list(iter_chunks(shard))
