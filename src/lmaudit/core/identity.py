"""Cached answers of a served model are reused only while the same model is served.

A backend whose identity can change behind the same name (an API server restarted with
other weights) has `identify() -> Fingerprint` (one authenticated call that asks the server
what it serves; see `OpenAIBackend.identify`) and `system_fingerprint` (the last one its
responses carried, or None). For such a backend the request cache records, per model
name (the fingerprint without its revision), the identity and system_fingerprint last seen:

* identity changed since the last run: the old answers are deleted and one warning says so
  (they are keyed by the old identity, so they could not be served anyway);
* the server sent a system_fingerprint last time: before a cached answer is reused, one of
  the cached requests is asked again. Another system_fingerprint (or none) means the serving
  configuration changed: the model's cached answers are deleted, a warning says so, and
  every request is asked afresh.
* a run whose fresh answers carry another system_fingerprint than the record deletes the
  answers stored before it started, and records the new one.

Backends without `identify` (local weights, keyed by revision or weights hash) are not
checked here. A backend asked many times in one run (an LLM judge, once per problem) keeps
one check for the run (`lmaudit.core.served_cache.ServedCache`): identified once, probed at
most once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from lmaudit.core.backend import Backend
from lmaudit.core.cache import RequestCache
from lmaudit.core.types import Fingerprint, Request, RequestKind, Response

logger = logging.getLogger(__name__)


def identify(backend: Any) -> Fingerprint:
    """The backend's fingerprint after asking it what it serves (when it can be asked)."""
    method = getattr(backend, "identify", None)
    if callable(method):
        fingerprint = method()
        assert isinstance(fingerprint, Fingerprint)
        return fingerprint
    fingerprint = backend.fingerprint
    assert isinstance(fingerprint, Fingerprint)
    return fingerprint


def served_name(fingerprint: Fingerprint) -> str:
    """The model's name without its revision: `backend:model/dtype`."""
    return f"{fingerprint.backend}:{fingerprint.model}/{fingerprint.dtype}"


def ask_fresh(backend: Backend, request: Request) -> Response:
    """One request answered by the backend (no cache, no journal)."""
    methods: dict[RequestKind, Callable[..., list[Any]]] = {
        RequestKind.LOGLIKELIHOOD: backend.loglikelihood,
        RequestKind.LOGLIKELIHOOD_ROLLING: backend.loglikelihood_rolling,
        RequestKind.GENERATE: backend.generate,
    }
    answer: Response = methods[request.kind]([request])[0]
    return answer


class ServedModelCheck:
    """The checks above for one `execute_requests` call (inactive without a cache or for
    backends without `identify`, and for fingerprints that are not cached)."""

    def __init__(self, backend: Any, cache: RequestCache | None, fingerprint: Fingerprint):
        self.backend = backend
        self.cache = cache
        self.fingerprint = fingerprint
        self.name = served_name(fingerprint)
        self.started = time.time()
        self.recorded: str | None = None
        self.probed = False  # one probe per check: a check kept for a run probes once
        self.active = (
            cache is not None
            and callable(getattr(backend, "identify", None))
            and fingerprint.revision not in ("", "unknown")
        )
        if self.active:
            self._reconcile()

    def _reconcile(self) -> None:
        assert self.cache is not None
        record = self.cache.served(self.name)
        key = self.fingerprint.key()
        if record is not None and record[0] == key:
            self.recorded = record[1]
            return
        if record is not None:
            dropped = self.cache.clear(record[0])
            logger.warning(
                "%s now serves another model (its GET /models entry changed): %d cached "
                "answers of the previous one deleted, every request is asked again",
                self.fingerprint.model,
                dropped,
            )
        self.cache.record_served(self.name, key, None)

    def needs_probe(self, hits: int) -> bool:
        """Whether one cached request must be asked again before `hits` answers are reused."""
        return self.active and not self.probed and self.recorded is not None and hits > 0

    def hits_still_valid(self) -> bool:
        """After the probe: True when the system_fingerprint is unchanged; else the model's
        cached answers are deleted (and a warning says so)."""
        assert self.cache is not None
        self.probed = True
        now = getattr(self.backend, "system_fingerprint", None)
        if now == self.recorded:
            return True
        dropped = self.cache.clear(self.fingerprint.key())
        logger.warning(
            "%s answers with system_fingerprint %s, not %s as when its answers were cached: "
            "%d cached answers deleted, every request is asked again",
            self.fingerprint.model,
            now or "(none)",
            self.recorded,
            dropped,
        )
        self.cache.record_served(self.name, self.fingerprint.key(), now)
        self.recorded = now
        return False

    def finish(self) -> None:
        """Record the system_fingerprint of this run's fresh answers (see the module doc)."""
        now = getattr(self.backend, "system_fingerprint", None)
        if not self.active or now is None or now == self.recorded:
            return
        assert self.cache is not None
        if self.recorded is not None:
            dropped = self.cache.clear(self.fingerprint.key(), before=self.started)
            logger.warning(
                "%s now answers with system_fingerprint %s, not %s: %d older cached answers "
                "deleted",
                self.fingerprint.model,
                now,
                self.recorded,
                dropped,
            )
        self.cache.record_served(self.name, self.fingerprint.key(), now)
        self.recorded = now
