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
from typing import Any

from lmaudit.core.types import GenerateRequest, LmauditError, LoglikelihoodRequest

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


class TokenizerRules:
    """The conventions above applied to one Hugging Face tokenizer; shared by every backend
    that tokenizes itself (HF, vLLM) so that their scores stay comparable.

    `prefix_token_id` conditions empty contexts and the first rolling window; `name` is the
    model's name for error messages; `chat_template` wraps plain prompts as one user turn.
    """

    def __init__(
        self, tokenizer: Any, prefix_token_id: int, *, name: str, chat_template: bool = False
    ) -> None:
        self.tokenizer = tokenizer
        self.prefix_token_id = prefix_token_id
        self.name = name
        self.chat_template = chat_template

    @classmethod
    def of(cls, tokenizer: Any, *, name: str, chat_template: bool = False) -> TokenizerRules:
        """Rules with the prefix token BOS, else EOS; a tokenizer with neither is an error."""
        prefix = tokenizer.bos_token_id
        if prefix is None:
            prefix = tokenizer.eos_token_id
        if prefix is None:
            raise LmauditError(
                f"the tokenizer of model {name!r} has neither a BOS nor an EOS token"
            )
        return cls(tokenizer, int(prefix), name=name, chat_template=chat_template)

    def encode(self, text: str) -> list[int]:
        """The tokenizer's own special tokens, but no second BOS when the text has one."""
        bos = self.tokenizer.bos_token
        add_special = not (bos and text.startswith(bos))
        return list(self.tokenizer.encode(text, add_special_tokens=add_special))

    def encode_plain(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def pair(self, request: LoglikelihoodRequest) -> TokenizedPair:
        """The (context, continuation) token ids scored for `request`, before truncation."""
        return encode_pair(
            request.context,
            request.continuation,
            encode=self.encode,
            encode_plain=self.encode_plain,
            prefix_token_id=self.prefix_token_id,
        )

    def prompt_ids(self, request: GenerateRequest, max_length: int) -> list[int]:
        """Prompt token ids for generation, left-truncated so `max_tokens` new ones fit in
        `max_length` (see `encode_prompt`; `hf_generate.fit_prompt` keeps the prompt whole
        and shrinks the budget instead)."""
        ids = self.encode_prompt(request)
        keep = max(1, max_length - request.params.max_tokens)
        return ids[-keep:] if ids else [self.prefix_token_id]

    def encode_prompt(self, request: GenerateRequest) -> list[int]:
        """All the prompt's token ids (none dropped; possibly empty). Messages (or a plain
        prompt when `chat_template`) go through the tokenizer's chat template; a model
        without one cannot take messages."""
        turns: list[dict[str, str]] | None = None
        if request.messages is not None:
            turns = [{"role": m.role, "content": m.content} for m in request.messages]
        elif self.chat_template:
            turns = [{"role": "user", "content": request.prompt or ""}]
        if turns is not None:
            if not getattr(self.tokenizer, "chat_template", None):
                raise LmauditError(
                    f"model {self.name!r} has no chat template, so it cannot take chat messages"
                )
            text = self.tokenizer.apply_chat_template(
                turns, add_generation_prompt=True, tokenize=False
            )
            return list(self.encode_plain(str(text)))
        return list(self.encode(request.prompt or ""))
