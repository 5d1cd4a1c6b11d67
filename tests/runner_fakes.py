"""Test doubles for the runner: deterministic backends that log every request they answer.

Answers depend only on the request text (a hash), so an interrupted-and-resumed run must
equal an uninterrupted one. `sent_log`, when given, gets one line per answered request,
flushed at once, so a test can count work across a `kill -9`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lmaudit.core.backend import AdmitCallback, ProgressCallback
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Request,
    RequestKind,
    Response,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
    Sample,
    Usage,
    request_key,
)
from lmaudit.tasks.generic import GenerateTask, MultipleChoiceTask


def _unit(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def answer(request: Request) -> Response:
    key = request_key(request)
    if isinstance(request, LoglikelihoodRequest):
        return LoglikelihoodResult(-5 * _unit(key), _unit(key) > 0.5, 2, usage=Usage(10, 0, 0.001))
    if isinstance(request, RollingLoglikelihoodRequest):
        return RollingLoglikelihoodResult(-9 * _unit(key), 4)
    assert isinstance(request, GenerateRequest)
    text = str(int(_unit(key) * 4))  # answers 0..3
    return Generation(text, "stop", 12, 1, usage=Usage(12, 1, 0.002))


class CountingBackend:
    """A batch backend; `fail_after` raises after that many answers (a crashing server)."""

    def __init__(
        self,
        *,
        sent_log: Path | None = None,
        delay_s: float = 0.0,
        fail_after: int | None = None,
    ) -> None:
        self.sent: list[Request] = []
        self.sent_log = sent_log
        self.delay_s = delay_s
        self.fail_after = fail_after

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return frozenset(RequestKind)

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("fake", "counting", "v1", "n/a")

    def _answer(self, request: Request) -> Response:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise LmauditError("500 from fake server: internal error")
        if self.delay_s:
            time.sleep(self.delay_s)
        self.sent.append(request)
        if self.sent_log is not None:
            with self.sent_log.open("a") as handle:
                handle.write(request_key(request) + "\n")
        return answer(request)

    def _batch(self, requests: Sequence[Any], progress: ProgressCallback | None) -> list[Any]:
        out = []
        for request in requests:
            out.append(self._answer(request))
            if progress is not None:
                progress(1)
        return out

    loglikelihood = _batch
    loglikelihood_rolling = _batch
    generate = _batch


class StreamingCountingBackend(CountingBackend):
    """The same answers through `stream`, in reverse order, honouring `admit`."""

    def stream(
        self, requests: Sequence[Request], admit: AdmitCallback | None = None
    ) -> Iterator[tuple[int, Response]]:
        for index in reversed(range(len(requests))):
            if admit is not None and not admit(requests[index]):
                return
            yield index, self._answer(requests[index])


def quiz_samples(n: int) -> list[Sample]:
    return [
        Sample(f"q{i}", f"Question {i}: pick one.\nAnswer:", i % 4, choices=("a", "b", "c", "d"))
        for i in range(n)
    ]


def mc_task(n: int = 30) -> MultipleChoiceTask:
    samples = quiz_samples(n)
    return MultipleChoiceTask("quiz", lambda: samples)


def generate_task(n: int = 30) -> GenerateTask:
    samples = [Sample(f"g{i}", f"What is {i} mod 4?", str(i % 4)) for i in range(n)]
    return GenerateTask("modquiz", lambda: samples, scorer="exact", max_tokens=4)
