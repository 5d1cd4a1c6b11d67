"""Vectorized 64-bit hashes of words and word n-grams, and a membership index.

Hashes are deterministic (no Python `hash`, no per-process seed), so benchmark n-grams
hashed in one process match corpus n-grams hashed in any worker or Ray task.

- A word's hash is the polynomial `sum_j b_j * P**j mod 2**64` over its normalized UTF-8
  bytes, then mixed (`_mix`). All words of a chunk are hashed at once from one prefix sum
  over the chunk's bytes.
- An n-gram's hash is `mix(sum_i w_i * Q**i mod 2**64)` over its n word hashes, again
  from one prefix sum over the word hashes. Different n give different hashes (up to
  2**-64 collisions).
- `GramIndex` holds the sorted hashes of benchmark n-grams plus a bitmap pre-filter on the
  top bits, so that almost every corpus n-gram is rejected with one array lookup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_U64 = np.uint64
_MOD = 2**64
_P = 0x100000001B3  # odd, so invertible mod 2**64
_Q = 0x9E3779B97F4A7C15
_P_INV = pow(_P, -1, _MOD)
_Q_INV = pow(_Q, -1, _MOD)
_BITMAP_BITS = 22

_powers: dict[int, np.ndarray] = {}
_buffers: dict[str, np.ndarray] = {}
_SPACE_MAX = np.uint8(0x20)


def _power_table(base: int, length: int) -> np.ndarray:
    """`base**i mod 2**64` for i in [0, length), cached and grown geometrically."""
    table = _powers.get(base)
    if table is None or len(table) < length:
        size = max(length, 2 * (0 if table is None else len(table)), 1 << 16)
        table = np.full(size, base, dtype=_U64)
        table[0] = 1
        np.cumprod(table, out=table)
        table.setflags(write=False)
        _powers[base] = table
    return table[:length]


def _mix(x: np.ndarray) -> np.ndarray:
    """A 64-bit finalizer (splitmix64 style) applied in place and returned."""
    x ^= x >> _U64(31)
    x *= _U64(0xBF58476D1CE4E5B9)
    x ^= x >> _U64(27)
    x *= _U64(0x94D049BB133111EB)
    x ^= x >> _U64(31)
    return x


@dataclass(frozen=True)
class WordHashes:
    """The words of a normalized chunk: `hashes[k]` of the word starting at byte `starts[k]`."""

    hashes: np.ndarray  # uint64
    starts: np.ndarray  # int64 byte offsets


def _buffer(name: str, length: int, dtype: type) -> np.ndarray:
    """A reusable scratch array (fresh large allocations cost page faults on every chunk)."""
    buf = _buffers.get(name)
    if buf is None or len(buf) < length:
        buf = np.empty(max(length, 1 << 16), dtype=dtype)
        _buffers[name] = buf
    return buf[:length]


def hash_words(normalized: bytes) -> WordHashes:
    """Hash every word of already normalized bytes; bytes <= 0x20 separate words."""
    data = np.frombuffer(normalized, dtype=np.uint8)
    n = len(data)
    if n == 0:
        return WordHashes(np.empty(0, _U64), np.empty(0, np.int64))
    space = _buffer("space", n + 2, np.bool_)
    space[0] = space[n + 1] = True
    np.less_equal(data, _SPACE_MAX, out=space[1 : n + 1])
    change = _buffer("change", n + 1, np.bool_)
    np.not_equal(space[1:], space[:-1], out=change)
    edges = np.flatnonzero(change)  # alternating word starts and (exclusive) ends
    starts = edges[0::2]
    ends = edges[1::2]
    prefix = _buffer("prefix", n + 1, _U64)
    prefix[0] = 0
    np.multiply(data, _power_table(_P, n), out=prefix[1:])
    np.cumsum(prefix[1:], out=prefix[1:])
    raw = prefix[ends] - prefix[starts]
    raw *= _power_table(_P_INV, n)[starts]
    return WordHashes(_mix(raw), starts.astype(np.int64, copy=False))


def gram_prefix(word_hashes: np.ndarray) -> np.ndarray:
    """Prefix sums `G[k] = sum_{i<k} w_i Q**i` (length len+1) for `grams_at`."""
    prefix = np.empty(len(word_hashes) + 1, dtype=_U64)
    prefix[0] = 0
    np.multiply(word_hashes, _power_table(_Q, len(word_hashes)), out=prefix[1:])
    np.cumsum(prefix[1:], out=prefix[1:])
    return prefix


def grams_at(prefix: np.ndarray, positions: np.ndarray, n: int) -> np.ndarray:
    """Hashes of the n-grams starting at word `positions` (each must have n words left)."""
    raw = prefix[positions + n] - prefix[positions]
    raw *= _power_table(_Q_INV, len(prefix))[positions]
    return _mix(raw)


def all_grams(prefix: np.ndarray, n: int) -> np.ndarray:
    """Hashes of every n-gram (len(prefix) - n of them; empty when too few words)."""
    count = len(prefix) - n
    if count <= 0:
        return np.empty(0, _U64)
    raw = prefix[n:] - prefix[:count]
    raw *= _power_table(_Q_INV, count)
    return _mix(raw)


def word_gram_hashes(words: list[str], n: int) -> np.ndarray:
    """n-gram hashes of a list of already normalized words (for benchmark items)."""
    if len(words) < n:
        return np.empty(0, _U64)
    return all_grams(gram_prefix(hash_words(" ".join(words).encode("utf-8")).hashes), n)


class GramIndex:
    """Membership test against a fixed set of 64-bit n-gram hashes."""

    def __init__(self, hashes: np.ndarray) -> None:
        self.keys = np.unique(np.asarray(hashes, dtype=_U64))
        self._shift = _U64(64 - _BITMAP_BITS)
        self._bitmap = np.zeros(1 << _BITMAP_BITS, dtype=bool)
        self._bitmap[self.keys >> self._shift] = True

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions into `hashes` that are members, their indices into `self.keys`)."""
        if len(self.keys) == 0 or len(hashes) == 0:
            empty = np.empty(0, np.int64)
            return empty, empty
        top = (hashes >> self._shift).view(np.int64)  # int64 indexing is the fast path
        candidates = np.flatnonzero(np.take(self._bitmap, top, mode="clip"))
        slots = np.searchsorted(self.keys, hashes[candidates])
        slots[slots == len(self.keys)] = 0
        hit = self.keys[slots] == hashes[candidates]
        return candidates[hit], slots[hit]
