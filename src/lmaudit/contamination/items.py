"""Benchmark items as the n-gram scan sees them: normalized words, n-grams, gold answer.

Which text of an item is scanned: the item's own text, not the prompt template. When the
sample keeps its source row (`metadata["fields"]`, as row-based tasks do), every string
field of the row (and every string inside a list field, e.g. the options) is one segment
(for GSM8K: the question and the worked answer). Otherwise the segments are the prompt
(`Sample.input`) and the target text (the correct option for multiple choice). N-grams
never cross a segment boundary.

Gold answer (for answer anchoring): the correct option's text for multiple choice; for
a target holding GSM8K's "#### N" marker, the number N (`parse_gsm8k_target`); otherwise
the target text itself. An n-gram is answer-anchored when its window contains the whole
normalized answer word sequence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lmaudit.contamination.ngrams import word_gram_hashes
from lmaudit.contamination.normalize import normalized_words
from lmaudit.core.types import LmauditError, Sample


@dataclass(frozen=True)
class ItemText:
    """The scanned text of one item: segments and the gold answer (None if unknown)."""

    id: str
    segments: tuple[str, ...]
    answer: str | None


@dataclass(frozen=True)
class ItemGrams:
    """Word n-grams of one item. Positions are word indices into the item's words."""

    id: str
    n_words: int
    ngram_positions: np.ndarray  # int64, one per n-gram window
    ngram_hashes: np.ndarray  # uint64
    anchored: np.ndarray  # bool, the window contains the gold answer
    span_positions: np.ndarray  # windows of the token-contamination span length L
    span_hashes: np.ndarray


def gold_answer(sample: Sample) -> str | None:
    """The gold answer text used for answer anchoring (see the module docstring)."""
    if sample.choices is not None and isinstance(sample.target, int):
        if 0 <= sample.target < len(sample.choices):
            return sample.choices[sample.target]
        return None
    target = str(sample.target)
    if "####" in target:
        from lmaudit.scoring import parse_gsm8k_target

        try:
            return parse_gsm8k_target(target)
        except LmauditError:
            return None
    return target or None


def item_text(sample: Sample) -> ItemText:
    fields = sample.metadata.get("fields") if sample.metadata else None
    segments: list[str] = []
    if isinstance(fields, dict):
        for value in fields.values():
            if isinstance(value, str):
                segments.append(value)
            elif isinstance(value, list | tuple):
                segments.extend(v for v in value if isinstance(v, str))
    if not segments:
        segments = [sample.input]
        answer_text = gold_answer(sample) if sample.choices is not None else str(sample.target)
        if answer_text:
            segments.append(answer_text)
    return ItemText(sample.id, tuple(segments), gold_answer(sample))


def _windows(segments: list[list[str]], n: int) -> tuple[np.ndarray, np.ndarray]:
    positions: list[np.ndarray] = []
    hashes: list[np.ndarray] = []
    offset = 0
    for words in segments:
        grams = word_gram_hashes(words, n)
        positions.append(np.arange(offset, offset + len(grams), dtype=np.int64))
        hashes.append(grams)
        offset += len(words)
    if not positions:
        return np.empty(0, np.int64), np.empty(0, np.uint64)
    return np.concatenate(positions), np.concatenate(hashes)


def _answer_starts(words: list[str], answer: list[str]) -> np.ndarray:
    if not answer:
        return np.empty(0, np.int64)
    k = len(answer)
    return np.array(
        [i for i in range(len(words) - k + 1) if words[i : i + k] == answer], dtype=np.int64
    )


def item_grams(item: ItemText, n: int, span: int) -> ItemGrams:
    """n-grams (for overlap) and span-length windows (for token contamination) of an item."""
    segments = [normalized_words(s) for s in item.segments]
    words = [w for seg in segments for w in seg]
    ngram_positions, ngram_hashes = _windows(segments, n)
    span_positions, span_hashes = _windows(segments, span)
    answer = normalized_words(item.answer) if item.answer else []
    starts = _answer_starts(words, answer)
    if len(starts) and len(ngram_positions):
        inside = (starts[None, :] >= ngram_positions[:, None]) & (
            starts[None, :] + len(answer) <= ngram_positions[:, None] + n
        )
        anchored: np.ndarray = np.asarray(inside.any(axis=1), dtype=bool)
    else:
        anchored = np.zeros(len(ngram_positions), dtype=bool)
    return ItemGrams(
        item.id, len(words), ngram_positions, ngram_hashes, anchored,
        span_positions, span_hashes,
    )


def benchmark_grams(samples: Iterable[Sample], n: int, span: int) -> list[ItemGrams]:
    """`item_grams` of every sample, in order."""
    return [item_grams(item_text(s), n, span) for s in samples]
