"""An in-process model for audit tests: it memorized the arith test split.

It answers a generation with the right number only for a test question it saw verbatim
(so fresh template instances drop), prefers the memorized option in multiple choice, and
gives memorized documents a lower loss than unseen ones (so Δ1 flags it). Every answered
request is counted per method, so a test can prove what a resumed audit recomputed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
    RollingLoglikelihoodResult,
)
from lmaudit.tasks import arith


def _memory() -> tuple[dict[str, str], set[str]]:
    items = arith.load_split("test")
    return ({arith.prompt_for(i): i.answer for i in items},
            {arith.format_document(i) for i in items})


class MemorizerBackend:
    """A deterministic memorizer; `fail_after` raises after that many answered requests."""

    def __init__(self, name: str = "memorizer", *, fail_after: int | None = None) -> None:
        self.name = name
        self.answers, self.documents = _memory()
        self.calls: Counter[str] = Counter()
        self.fail_after = fail_after
        self.closed = False

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return frozenset(RequestKind)

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("fake", self.name, "v1", "n/a")

    def _count(self, method: str, n: int) -> None:
        if self.fail_after is not None and sum(self.calls.values()) + n > self.fail_after:
            raise LmauditError("the fake model crashed")
        self.calls[method] += n

    def _recall(self, prompt: str) -> str | None:
        for question, answer in self.answers.items():
            if prompt.endswith(question):
                return answer
        return None

    def generate(self, requests: Sequence[GenerateRequest],
                 progress: Callable[[int], None] | None = None) -> list[Generation]:
        self._count("generate", len(requests))
        return [Generation(" " + (self._recall(r.prompt or "") or "0")) for r in requests]

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest],
                      progress: Callable[[int], None] | None = None
                      ) -> list[LoglikelihoodResult]:
        self._count("loglikelihood", len(requests))
        out = []
        for r in requests:
            if not r.context:  # a document: memorized ones have a low loss
                words = r.continuation.split()
                per = -0.2 if r.continuation in self.documents else -2.0
                token = tuple(per - 0.01 * (i % 3) for i in range(len(words)))
                out.append(LoglikelihoodResult(sum(token), False, len(token), token))
            else:
                hit = r.continuation.strip() == self._recall(r.context)
                out.append(LoglikelihoodResult(0.0 if hit else -1.0, hit, 1, (0.0,)))
        return out

    def loglikelihood_rolling(self, requests: Sequence[Any],
                              progress: Callable[[int], None] | None = None
                              ) -> list[RollingLoglikelihoodResult]:
        self._count("loglikelihood_rolling", len(requests))
        return [RollingLoglikelihoodResult(-1.0, 1) for _ in requests]

    def close(self) -> None:
        self.closed = True
