"""Per-token log-probabilities of a prompt (and completion), for `echo` and `logprobs`.

This is how vLLM-style clients compute log-likelihoods over HTTP: POST /v1/completions
with `echo=true, logprobs=k, max_tokens=0` returns, for every prompt token, its natural-log
probability given the tokens before it (the first token has none: `null`).

Tokenization follows the HF backend's rule for prompts: the tokenizer's default special
tokens (a BOS token is prepended when its post-processor adds one), none when the text
already starts with the BOS string. A completion is appended as its own tokens encoded
without special tokens (the generated ids are not kept, so they are re-encoded from text).

Conventions of the OpenAI legacy `logprobs` object built here:
* `tokens[i]`: the token decoded on its own (`tokenizer.decode([id])`; special tokens kept);
  a token that is only part of a character is written `bytes:\\xe6\\x97` (as OpenAI does);
* `token_logprobs[i]`: log p(token i | tokens before it), natural log, `None` for token 0;
* `top_logprobs[i]`: the `k` most likely next tokens at position i as `{text: logprob}`, plus
  the actual token when it is not among them (so up to k+1 entries; when two ids decode to
  the same text the more likely one's value is kept); `None` for token 0;
* `text_offset[i]`: the character offset in `prompt + completion` where token i starts (from
  the fast tokenizer's offset mapping; never decreasing; a zero-width special token gets the
  end of the text before it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from lmaudit.core.types import LmauditError


@dataclass(frozen=True)
class ScoredText:
    """Token-level log-probabilities of `prompt + completion` (natural logs)."""

    tokens: tuple[str, ...]
    text_offset: tuple[int, ...]
    token_logprobs: tuple[float | None, ...]
    top_logprobs: tuple[Mapping[str, float] | None, ...]
    prompt_tokens: int  # the first `prompt_tokens` tokens belong to the prompt


@runtime_checkable
class PromptScorer(Protocol):
    """What a backend needs for `echo`/`logprobs`. Methods run in the worker thread."""

    def count_tokens(self, prompts: Sequence[str]) -> list[int]:
        """Number of tokens of each prompt, as the model sees it."""
        ...

    def score_texts(self, items: Sequence[tuple[str, str]], top_k: int) -> list[ScoredText]:
        """Score each `(prompt, completion)`; `top_k` alternatives per position."""
        ...


def openai_logprobs(scored: ScoredText, *, first: int = 0) -> dict[str, Any]:
    """The OpenAI legacy `logprobs` object for tokens `first:` of `scored`."""
    return {
        "tokens": list(scored.tokens[first:]),
        "token_logprobs": list(scored.token_logprobs[first:]),
        "top_logprobs": [None if t is None else dict(t) for t in scored.top_logprobs[first:]],
        "text_offset": list(scored.text_offset[first:]),
    }


def token_offsets(spans: Sequence[tuple[int, int]]) -> list[int]:
    """Start offsets of tokens from `(start, end)` character spans, never decreasing;
    a zero-width span (special token) starts where the text before it ended."""
    offsets: list[int] = []
    last_start = last_end = 0
    for start, end in spans:
        begin = last_end if start == end else start
        begin = max(begin, last_start)
        offsets.append(begin)
        last_start, last_end = begin, max(last_end, end)
    return offsets


def _byte_level_alphabet() -> dict[str, int]:
    """The byte-level BPE alphabet (GPT-2 convention): printable Latin-1 bytes stand for
    themselves, the other bytes for code points 256, 257, ... in byte order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("\u00a1"), ord("\u00ac") + 1),
        *range(ord("\u00ae"), ord("\u00ff") + 1),
    ]
    chars = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return {c: b for b, c in chars.items()}


_BYTE_LEVEL = _byte_level_alphabet()
_BYTE_FALLBACK = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def token_bytes(raw_token: str) -> bytes | None:
    """The bytes of a vocabulary entry: a byte-fallback token `<0xE6>` or a byte-level BPE
    token (`Ã¦`); None when it is neither."""
    match = _BYTE_FALLBACK.fullmatch(raw_token)
    if match:
        return bytes([int(match.group(1), 16)])
    if raw_token and all(c in _BYTE_LEVEL for c in raw_token):
        return bytes(_BYTE_LEVEL[c] for c in raw_token)
    return None


class HFPromptScorer:
    """Prompt log-probabilities from a transformers causal LM and its fast tokenizer.

    Rows are scored in batches of `batch_size`, longest first, right-padded without an
    attention mask (causal attention never looks at the pads), under `torch.inference_mode`,
    on the model's device and dtype; log-softmax runs in float32.
    """

    def __init__(self, model: Any, tokenizer: Any, *, max_length: int, batch_size: int = 8):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        pad = tokenizer.pad_token_id
        self._pad_id = int(pad if pad is not None else (tokenizer.eos_token_id or 0))
        self._decoded: dict[int, str] = {}

    def token_text(self, token_id: int) -> str:
        """The token's text; `bytes:\\xNN...` for a token that is part of a character."""
        text = self._decoded.get(token_id)
        if text is None:
            text = str(self.tokenizer.decode([token_id]))
            if "\ufffd" in text:
                raw = token_bytes(str(self.tokenizer.convert_ids_to_tokens(token_id)))
                if raw is not None:
                    text = "bytes:" + "".join(f"\\x{b:02x}" for b in raw)
            self._decoded[token_id] = text
        return text

    def _encode(self, text: str, *, plain: bool) -> tuple[list[int], list[tuple[int, int]]]:
        bos = self.tokenizer.bos_token
        special = not plain and not (bos and text.startswith(bos))
        encoded = self.tokenizer(text, add_special_tokens=special, return_offsets_mapping=True)
        spans = [(int(s), int(e)) for s, e in encoded["offset_mapping"]]
        return list(encoded["input_ids"]), spans

    def count_tokens(self, prompts: Sequence[str]) -> list[int]:
        return [len(self._encode(p, plain=False)[0]) for p in prompts]

    def score_texts(self, items: Sequence[tuple[str, str]], top_k: int) -> list[ScoredText]:
        import torch

        rows: list[list[int]] = []
        spans: list[list[tuple[int, int]]] = []
        prompt_lengths: list[int] = []
        for prompt, completion in items:
            ids, prompt_spans = self._encode(prompt, plain=False)
            prompt_lengths.append(len(ids))
            if completion:
                more, more_spans = self._encode(completion, plain=True)
                ids += more
                prompt_spans += [(s + len(prompt), e + len(prompt)) for s, e in more_spans]
            if len(ids) > self.max_length:
                raise LmauditError(
                    f"the text to score has {len(ids)} tokens, more than the model's "
                    f"max_length of {self.max_length}"
                )
            rows.append(ids)
            spans.append(prompt_spans)
        scores: list[tuple[list[float], list[dict[str, float]]]] = [([], [])] * len(rows)
        order = sorted(range(len(rows)), key=lambda i: (-len(rows[i]), i))
        order = [i for i in order if len(rows[i]) > 1]
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                scored_batch = self._score_batch([rows[i] for i in batch], top_k)
                for i, scored in zip(batch, scored_batch, strict=True):
                    scores[i] = scored
        out = []
        for row, row_spans, n_prompt, (chosen, tops) in zip(
            rows, spans, prompt_lengths, scores, strict=True
        ):
            out.append(
                ScoredText(
                    tokens=tuple(self.token_text(t) for t in row),
                    text_offset=tuple(token_offsets(row_spans)),
                    token_logprobs=(None, *chosen) if row else (),
                    top_logprobs=(None, *tops) if row else (),
                    prompt_tokens=n_prompt,
                )
            )
        return out

    def _score_batch(
        self, rows: list[list[int]], top_k: int
    ) -> list[tuple[list[float], list[dict[str, float]]]]:
        """Log p of tokens 1.. of each row (length >= 2) and the top-k alternatives."""
        import torch

        device = self.model.device
        ids = torch.full((len(rows), max(len(r) for r in rows)), self._pad_id, dtype=torch.long)
        for r, row in enumerate(rows):
            ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
        logits = self.model(input_ids=ids.to(device), use_cache=False).logits
        results = []
        for r, row in enumerate(rows):
            log_probs = torch.log_softmax(logits[r, : len(row) - 1].float(), dim=-1)
            targets = torch.tensor(row[1:], dtype=torch.long, device=log_probs.device)
            chosen = log_probs.gather(1, targets.unsqueeze(1)).squeeze(1).tolist()
            k = min(top_k, log_probs.shape[-1])
            tops: list[dict[str, float]] = []
            top_ids: list[list[int]] = [[] for _ in chosen]
            top_values: list[list[float]] = [[] for _ in chosen]
            if k > 0:
                values, indices = log_probs.topk(k, dim=-1)
                top_ids, top_values = indices.tolist(), values.tolist()
            for position in range(len(chosen)):
                top: dict[str, float] = {}
                for token_id, value in zip(top_ids[position], top_values[position], strict=True):
                    top.setdefault(self.token_text(token_id), value)
                top.setdefault(self.token_text(row[position + 1]), chosen[position])
                tops.append(top)
            results.append((chosen, tops))
        return results


def scorer_for(backend: Any, *, batch_size: int = 8) -> PromptScorer | None:
    """The backend itself when it implements PromptScorer; an HFPromptScorer when it exposes
    a transformers `model` and a fast `tokenizer` (HF and lab backends); else None."""
    if isinstance(backend, PromptScorer):
        return backend
    model = getattr(backend, "model", None)
    tokenizer = getattr(backend, "tokenizer", None)
    if model is None or tokenizer is None or not getattr(tokenizer, "is_fast", False):
        return None
    max_length = getattr(backend, "max_length", None)
    return HFPromptScorer(
        model,
        tokenizer,
        max_length=max_length if isinstance(max_length, int) else 2048,
        batch_size=batch_size,
    )


def has_chat_template(backend: Any) -> bool | None:
    """Whether the backend's tokenizer has a chat template; None when it has no tokenizer."""
    tokenizer = getattr(backend, "tokenizer", None)
    if tokenizer is None:
        return None
    return bool(getattr(tokenizer, "chat_template", None))
