"""Pure tokenization conventions of the HF backend, on a toy character-level encoder."""

from __future__ import annotations

import pytest

from lmaudit.backends.hf_tokens import (
    TokenizedPair,
    encode_pair,
    fits,
    move_trailing_whitespace,
    truncate_left,
)
from lmaudit.core.types import LmauditError

BOS = 0


def encode(text: str) -> list[int]:
    """Toy tokenizer: one token per character, with a BOS token prepended."""
    return [BOS, *(ord(c) for c in text)]


def encode_plain(text: str) -> list[int]:
    return [ord(c) for c in text]


def pair(context: str, continuation: str) -> TokenizedPair:
    return encode_pair(
        context, continuation, encode=encode, encode_plain=encode_plain, prefix_token_id=BOS
    )


def test_trailing_whitespace_moves_to_continuation() -> None:
    assert move_trailing_whitespace("Answer: \n ", "B") == ("Answer:", " \n B")
    assert pair("ab ", "c") == TokenizedPair((BOS, 97, 98), (32, 99))


def test_continuation_is_whole_encoding_minus_context_encoding() -> None:
    assert pair("ab", " c") == TokenizedPair((BOS, 97, 98), (32, 99))


def test_empty_context_uses_prefix_token_or_the_continuations_own_first_token() -> None:
    assert pair("", "hi") == TokenizedPair((BOS,), (104, 105))
    assert pair("", "\x00hi") == TokenizedPair((BOS,), (104, 105))  # starts with prefix id 0
    assert pair("  ", "x") == TokenizedPair((BOS,), (32, 32, 120))


def test_left_truncation_keeps_max_length_plus_one_tokens() -> None:
    p = TokenizedPair(tuple(range(10)), (100, 101, 102))
    assert not fits(p, 11) and fits(p, 12)
    assert truncate_left(p, 12) is p
    short = truncate_left(p, 8)  # keeps 9 tokens: 6 context + 3 continuation
    assert short == TokenizedPair((4, 5, 6, 7, 8, 9), (100, 101, 102))
    with pytest.raises(LmauditError, match="max_length of 2"):
        truncate_left(p, 2)
