"""Tokenization conventions of the Hugging Face backend (pure functions over token ids).

The conventions follow lm-evaluation-harness so that scores are comparable:

* Context/continuation split: trailing whitespace of the context moves to the continuation;
  the continuation's tokens are `encode(context + continuation)[len(encode(context)):]`.
  `encode` uses the tokenizer's own special-token rule (its post-processor decides whether
  a BOS token is prepended: Llama-style tokenizers add one, GPT-2-style do not), except that
  nothing is added when the text already starts with the BOS string.
* Empty context: the continuation is encoded without special tokens and conditioned on the
  prefix token (BOS if the tokenizer has one, else EOS); if the continuation itself starts
  with that token, its first token becomes the context.
* Too long: `context + continuation` is truncated from the left to `max_length + 1` tokens
  (the last token is never fed to the model), keeping the whole continuation.
* Rolling windows: disjoint windows of at most `max_length` predicted tokens, each with as much
  preceding context as fits; the first window is conditioned on the prefix token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lmaudit.core.types import LmauditError

Encoder = Callable[[str], list[int]]


@dataclass(frozen=True)
class TokenizedPair:
    """A loglikelihood request in token ids: score `continuation` given `context`."""

    context: tuple[int, ...]
    continuation: tuple[int, ...]


def move_trailing_whitespace(context: str, continuation: str) -> tuple[str, str]:
    """Move the context's trailing whitespace to the front of the continuation."""
    stripped = context.rstrip()
    return stripped, context[len(stripped) :] + continuation


def encode_pair(
    context: str,
    continuation: str,
    *,
    encode: Encoder,
    encode_plain: Encoder,
    prefix_token_id: int,
) -> TokenizedPair:
    """Split `context + continuation` into context and continuation token ids.

    `encode` applies the tokenizer's default special tokens; `encode_plain` adds none.
    """
    if context == "":
        tokens = encode_plain(continuation)
        if tokens and tokens[0] == prefix_token_id:
            return TokenizedPair(tuple(tokens[:1]), tuple(tokens[1:]))
        return TokenizedPair((prefix_token_id,), tuple(tokens))
    context, continuation = move_trailing_whitespace(context, continuation)
    if context == "":  # the context was only whitespace
        tokens = encode_plain(continuation)
        return TokenizedPair((prefix_token_id,), tuple(tokens))
    whole = encode(context + continuation)
    context_ids = encode(context)
    return TokenizedPair(tuple(context_ids), tuple(whole[len(context_ids) :]))


def fits(pair: TokenizedPair, max_length: int) -> bool:
    """True when the model input `context + continuation[:-1]` fits in `max_length` tokens."""
    return len(pair.context) + len(pair.continuation) <= max_length + 1


def truncate_left(pair: TokenizedPair, max_length: int) -> TokenizedPair:
    """Drop context tokens from the left so that the model input fits in `max_length`.

    Raises LmauditError when the continuation alone is longer than `max_length` tokens.
    """
    if len(pair.continuation) > max_length:
        raise LmauditError(
            f"continuation of {len(pair.continuation)} tokens does not fit the model's "
            f"max_length of {max_length} tokens"
        )
    if fits(pair, max_length):
        return pair
    keep = max_length + 1 - len(pair.continuation)
    return TokenizedPair(pair.context[len(pair.context) - keep :], pair.continuation)


def rolling_windows(
    tokens: Sequence[int], *, prefix_token_id: int, max_length: int
) -> list[TokenizedPair]:
    """Disjoint scoring windows that predict every token of `tokens` exactly once.

    With the stream `s = [prefix] + tokens`, token `tokens[j]` is predicted from `s[: j + 1]`.
    Windows predict `tokens[0 : max_length]`, then successive chunks of `max_length` tokens;
    a window predicting `tokens[a:b]` feeds the model `s[max(0, b - max_length) : b]`, i.e. the
    `max_length` tokens before `tokens[b - 1]`. Returned as (context, continuation) pairs
    whose `context + continuation[:-1]` is exactly that model input.
    """
    if max_length < 1:
        raise ValueError("max_length must be at least 1")
    stream = [prefix_token_id, *tokens]
    windows: list[TokenizedPair] = []
    start = 0
    while start < len(tokens):
        end = min(start + max_length, len(tokens))
        first_input = max(0, end - max_length)
        windows.append(
            TokenizedPair(tuple(stream[first_input : start + 1]), tuple(tokens[start:end]))
        )
        start = end
    return windows
