"""Deterministic fault injection, so that HTTP clients can be tested against a flaky server.

Each inference request (POST /v1/completions or /v1/chat/completions that passed the API-key
check) draws, in order of arrival, two numbers from one `random.Random(seed)`: `u` in [0, 1)
and a kind index. When `u < rate` the request gets the kind `kinds[index]`:

* `429`: answered at once with status 429, an OpenAI-style rate-limit error and a
  `Retry-After` header (`retry_after_s` seconds);
* `500`: answered at once with status 500 and an OpenAI-style server error;
* `malformed`: answered at once with status 200 and a truncated (invalid) JSON body;
* `stall`: answered normally, but only after `stall_s` seconds (longer than a client's
  timeout, so that the client gives up and retries).

Every faulted answer carries the header `X-Lmaudit-Fault: <kind>`. A faulted request never
counts as completed in `/lmaudit/stats`, even a stalled one that is finally answered.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from lmaudit.core.types import LmauditError

FAULT_KINDS = ("429", "500", "malformed", "stall")
FAULT_HEADER = "X-Lmaudit-Fault"


@dataclass(frozen=True)
class FaultPlan:
    """Which faults to inject and how often (`rate` is the probability per request)."""

    rate: float
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    stall_s: float = 5.0
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise LmauditError(f"--fault-rate must lie in [0, 1], got {self.rate}")
        if not self.kinds:
            raise LmauditError("--faults needs at least one kind")
        unknown = [k for k in self.kinds if k not in FAULT_KINDS]
        if unknown:
            raise LmauditError(
                f"unknown fault kind(s) {', '.join(unknown)} in --faults; "
                f"known: {', '.join(FAULT_KINDS)}"
            )
        if self.stall_s < 0:
            raise LmauditError(f"--stall-seconds must not be negative, got {self.stall_s}")
        if self.retry_after_s < 0:
            raise LmauditError(f"--retry-after must not be negative, got {self.retry_after_s}")


def parse_fault_kinds(text: str) -> tuple[str, ...]:
    """`"429, 500,stall"` → `("429", "500", "stall")`, duplicates dropped, order kept."""
    kinds: list[str] = []
    for part in text.split(","):
        kind = part.strip().lower()
        if kind and kind not in kinds:
            kinds.append(kind)
    return tuple(kinds)


class FaultInjector:
    """Draws the fault (or None) of each request in arrival order; counts what it injected.

    Not thread-safe: call `draw` from the server's event loop only.
    """

    def __init__(self, plan: FaultPlan | None) -> None:
        self.plan = plan
        self._rng = random.Random(plan.seed if plan else 0)
        self.injected: dict[str, int] = {k: 0 for k in (plan.kinds if plan else ())}

    def draw(self) -> str | None:
        plan = self.plan
        if plan is None or plan.rate <= 0.0:
            return None
        u = self._rng.random()
        index = self._rng.randrange(len(plan.kinds))
        if u >= plan.rate:
            return None
        kind = plan.kinds[index]
        self.injected[kind] += 1
        return kind


def truncated_json(body: bytes) -> bytes:
    """The first half of a JSON body (at least one byte short of it): never valid JSON."""
    return body[: max(1, min(len(body) - 1, len(body) // 2))]


def expected_faults(plan: FaultPlan, n_requests: int) -> Sequence[str | None]:
    """The faults the first `n_requests` arrivals get under `plan` (for tests and clients)."""
    injector = FaultInjector(plan)
    return [injector.draw() for _ in range(n_requests)]
