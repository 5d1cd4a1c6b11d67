"""A backend wrapper that journals every answer in a stage's run directory.

`lmaudit run` resumes through its journal (`core.journal.ResponseJournal`); probe runs
(`probes.runner.run_probe`) keep no journal of their own. The audit gives them one by
wrapping the model: answers already in the stage directory's `responses.jsonl` are not
asked again, the others are asked in chunks and appended as each chunk finishes. A killed
probe stage thus resumes with at most one chunk of work lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lmaudit.core.backend import Backend, ProgressCallback
from lmaudit.core.journal import ResponseJournal
from lmaudit.core.types import Fingerprint, Request, RequestKind, Response, request_key

DEFAULT_CHUNK = 64


class JournaledBackend:
    """`backend`, with every answer journaled in `run_dir` and journaled answers reused.

    Only the three Backend methods go through the journal; `capabilities` and
    `fingerprint` are the wrapped model's. Use as a context manager (closes the journal).
    """

    def __init__(self, backend: Backend, run_dir: Path, *, chunk_size: int = DEFAULT_CHUNK):
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        self.backend = backend
        self.journal = ResponseJournal(Path(run_dir))
        self.chunk_size = max(1, chunk_size)
        self.reused = 0
        self.sent = 0

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return self.backend.capabilities

    @property
    def thinking_controls(self) -> frozenset[str] | None:
        return getattr(self.backend, "thinking_controls", None)

    @property
    def fingerprint(self) -> Fingerprint:
        return self.backend.fingerprint

    def _answer(
        self,
        method: Callable[..., list[Any]],
        requests: Sequence[Request],
        progress: ProgressCallback | None,
    ) -> list[Any]:
        keys = [request_key(r) for r in requests]
        answers: list[Response | None] = [self.journal.answers.get(k) for k in keys]
        known = sum(a is not None for a in answers)
        self.reused += known
        if progress is not None and known:
            progress(known)
        missing = [i for i, a in enumerate(answers) if a is None]
        for start in range(0, len(missing), self.chunk_size):
            chunk = missing[start : start + self.chunk_size]
            results = method([requests[i] for i in chunk], progress)
            for i, result in zip(chunk, results, strict=True):
                answers[i] = result
                self.journal.append(keys[i], result)
                self.journal.answers[keys[i]] = result
            self.sent += len(chunk)
        return answers

    def loglikelihood(self, requests: Sequence[Any], progress: ProgressCallback | None = None
                      ) -> list[Any]:
        return self._answer(self.backend.loglikelihood, requests, progress)

    def loglikelihood_rolling(
        self, requests: Sequence[Any], progress: ProgressCallback | None = None
    ) -> list[Any]:
        return self._answer(self.backend.loglikelihood_rolling, requests, progress)

    def generate(self, requests: Sequence[Any], progress: ProgressCallback | None = None
                 ) -> list[Any]:
        return self._answer(self.backend.generate, requests, progress)

    def close(self) -> None:
        """Close the journal (not the wrapped model)."""
        self.journal.close()

    def __enter__(self) -> JournaledBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
