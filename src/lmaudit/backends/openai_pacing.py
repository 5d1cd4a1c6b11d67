"""Pacing of the OpenAI-compatible backend: retry policy, concurrency limit, endpoint choice.

Concurrency: at most `max_concurrency` requests in flight, governed by an AIMD limit. It
starts at min(4, max) and grows by one per success (slow start) until the first 429/503,
which halves it (at most once per round of in-flight requests); afterwards it grows by
1/limit per success (about one per round trip), never above `max_concurrency`.

Back-off: full jitter, `uniform(0, min(backoff_max, backoff_base * 2**(k-1)))` seconds
before retry k. Endpoints: the one with the fewest outstanding requests (ties in turn); an
endpoint that failed is avoided for `min(backoff_max, backoff_base * 2**failures)` seconds.
All of it runs on the engine's event-loop thread only.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from lmaudit.core.types import LmauditError


@dataclass(frozen=True)
class RetryPolicy:
    """Per-request timeout (s), retry count and back-off (s) settings."""

    max_retries: int = 8
    timeout: float = 60.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Full jitter: uniform(0, min(backoff_max, backoff_base * 2**(retry - 1)))."""
        return rng.uniform(0.0, min(self.backoff_max, self.backoff_base * 2.0 ** (retry - 1)))


class AdaptiveLimit:
    """AIMD limit on requests in flight (see the module docstring). Loop-thread only."""

    def __init__(self, maximum: int, initial: int = 4) -> None:
        if maximum < 1:
            raise LmauditError(f"max_concurrency must be at least 1, got {maximum}")
        self.maximum = maximum
        self.limit = float(min(maximum, initial))
        self.in_flight = 0
        self.peak = 0
        self._slow_start = True
        self._last_cut = -1.0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> float:
        """Wait for a slot; returns the time it was granted (pass it to `release`)."""
        if self.in_flight < int(self.limit) and not self._waiters:
            self.in_flight += 1
        else:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self.in_flight -= 1  # the slot was handed over just before the cancel
                    self._wake()
                else:
                    self._waiters.remove(waiter)
                raise
        self.peak = max(self.peak, self.in_flight)
        return time.monotonic()

    def release(self, granted_at: float, outcome: bool | None) -> None:
        """Free a slot: outcome True = success, False = throttled (429/503), None = neither."""
        self.in_flight -= 1
        if outcome:
            step = 1.0 if self._slow_start else 1.0 / self.limit
            self.limit = min(float(self.maximum), self.limit + step)
        elif outcome is False and granted_at >= self._last_cut:
            self.limit = max(1.0, self.limit / 2.0)
            self._slow_start = False
            self._last_cut = time.monotonic()
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < int(self.limit):
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)


class Endpoint:
    """A base URL (with credentials for requests) and its display form (without)."""

    __slots__ = ("base", "display", "down_until", "failed", "failures", "outstanding", "served")

    def __init__(self, base: str, display: str) -> None:
        self.base = base.rstrip("/")
        self.display = display.rstrip("/")
        self.outstanding = 0
        self.failures = 0
        self.down_until = 0.0
        self.served = 0
        self.failed = 0

    def url(self, path: str) -> str:
        """`path` (e.g. "/completions") under the base URL, before the base URL's query."""
        head, sep, query = self.base.partition("?")
        return head.rstrip("/") + path + sep + query


class EndpointPool:
    """Least-outstanding choice among endpoints, avoiding recently failed ones."""

    def __init__(self, endpoints: Sequence[Endpoint], policy: RetryPolicy) -> None:
        if not endpoints:
            raise LmauditError("no endpoint given")
        self.endpoints = list(endpoints)
        self.policy = policy
        self._turn = 0

    def pick(self, avoid: Endpoint | None = None) -> Endpoint:
        endpoints = self.endpoints
        if len(endpoints) == 1:
            return endpoints[0]
        now = time.monotonic()
        self._turn += 1
        n = len(endpoints)
        return min(
            endpoints,
            key=lambda e: (
                e.down_until > now,
                e is avoid,
                e.outstanding,
                (endpoints.index(e) - self._turn) % n,
            ),
        )

    def failed(self, endpoint: Endpoint) -> None:
        endpoint.failed += 1
        endpoint.failures += 1
        cooldown = self.policy.backoff_base * 2.0 ** min(endpoint.failures, 16)
        endpoint.down_until = time.monotonic() + min(self.policy.backoff_max, cooldown)

    @staticmethod
    def succeeded(endpoint: Endpoint) -> None:
        endpoint.failures = 0
        endpoint.down_until = 0.0
        endpoint.served += 1
