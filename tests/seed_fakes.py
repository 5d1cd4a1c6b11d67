"""Test doubles for the seed-benchmark tasks: backends whose answers a test scripts."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    RequestKind,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
)


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


class ScriptedBackend:
    """Generation by `reply(request)`; log-likelihoods by `logprob(context, continuation)`.
    Every request is kept in `seen`."""

    def __init__(
        self,
        reply: Callable[[GenerateRequest], str] | None = None,
        logprob: Callable[[str, str], float] | None = None,
    ) -> None:
        self.reply = reply
        self.logprob = logprob
        self.seen: list[Any] = []

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        kinds = set()
        if self.reply is not None:
            kinds.add(RequestKind.GENERATE)
        if self.logprob is not None:
            kinds.add(RequestKind.LOGLIKELIHOOD)
        return frozenset(kinds)

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("scripted", "seed-fake", "1", "none")

    def generate(
        self, requests: Sequence[GenerateRequest], progress: Any = None
    ) -> list[Generation]:
        assert self.reply is not None
        self.seen.extend(requests)
        return [Generation(self.reply(r), "stop", 10, 20) for r in requests]

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: Any = None
    ) -> list[LoglikelihoodResult]:
        assert self.logprob is not None
        self.seen.extend(requests)
        return [
            LoglikelihoodResult(self.logprob(r.context, r.continuation), False, 1)
            for r in requests
        ]

    def loglikelihood_rolling(
        self, requests: Sequence[RollingLoglikelihoodRequest], progress: Any = None
    ) -> list[RollingLoglikelihoodResult]:
        raise NotImplementedError
