"""The models of an arena: named lmaudit backends, random pairing, answers in chunks.

Backends are synchronous and batched; an answer is generated in a worker thread and, since
the lmaudit Backend protocol returns finished text, streamed to the client in small chunks
after it is done. Answers longer than `max_answer_chars` are cut there (finish reason
"length_limit").
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from lmaudit.core.backend import Backend
from lmaudit.core.types import GenerateRequest, GenerationParams, LmauditError, Message

CHUNK_CHARS = 24
DEFAULT_PARAMS = GenerationParams(max_tokens=512)


@dataclass(frozen=True)
class Reply:
    """A finished answer and why it ended."""

    text: str
    finish_reason: str


class ModelPool:
    """Named backends; `pair` draws two distinct ones uniformly at random."""

    def __init__(
        self,
        backends: Mapping[str, Backend],
        *,
        params: GenerationParams = DEFAULT_PARAMS,
        max_answer_chars: int = 20_000,
        rng: random.Random | None = None,
    ) -> None:
        if len(backends) < 2:
            raise LmauditError("the arena needs at least two models (--model NAME=SPEC twice)")
        self.backends = dict(backends)
        self.params = params
        self.max_answer_chars = max_answer_chars
        self._rng = rng or random.SystemRandom()
        self._plain: set[str] = set()  # models that take plain prompts, not chat messages

    @property
    def names(self) -> tuple[str, ...]:
        """The model names, sorted."""
        return tuple(sorted(self.backends))

    def pair(self) -> tuple[str, str]:
        """Two distinct model names in random order (model_a, model_b)."""
        a, b = self._rng.sample(list(self.names), 2)
        return a, b

    def answer(self, model: str, prompt: str) -> Reply:
        """Generate the model's answer to a one-turn chat prompt (blocking).

        The prompt goes as one user message; a backend that refuses chat messages (a base
        model without a chat template) gets it as a plain prompt instead, from then on.
        """
        backend = self.backends[model]
        generation = None
        if model not in self._plain:
            chat = GenerateRequest(messages=(Message("user", prompt),), params=self.params)
            try:
                generation = backend.generate([chat])[0]
            except LmauditError:
                self._plain.add(model)
        if generation is None:
            generation = backend.generate([GenerateRequest(prompt=prompt, params=self.params)])[0]
        text = generation.text
        if len(text) > self.max_answer_chars:
            return Reply(text[: self.max_answer_chars], "length_limit")
        return Reply(text, generation.finish_reason)


def chunks(text: str, size: int = CHUNK_CHARS) -> Iterator[str]:
    """The text in pieces of at most `size` characters (empty text yields nothing)."""
    for start in range(0, len(text), size):
        yield text[start : start + size]
