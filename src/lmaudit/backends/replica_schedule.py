"""Planning and scheduling for backend replicas, independent of Ray.

`plan_chunks` cuts a request list into chunks: one kind per chunk, longest first,
loglikelihood requests that share a context kept together (so the HF backend's shared-prefix
scoring still applies), chunk costs balanced. `stream_over_pool` sends chunks to idle
replicas of a `ReplicaPool` and yields every answer of a chunk when the chunk finishes;
`admit` is asked for each request, in dispatch order, just before its chunk is sent, and
after the first refusal nothing more is sent. A replica that dies (`ReplicaDied`: crash, lost
node) costs only time: its chunk runs again on another replica, at most `max_retries` times.
A request that fails inside a live replica (e.g. a continuation longer than the model's
window) would fail the same way anywhere, so its `LmauditError` propagates at once. Closing
the stream, or an error, cancels the chunks in flight.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator, Hashable, Sequence
from typing import Any, Protocol, TypeVar

from lmaudit.core.backend import AdmitCallback
from lmaudit.core.types import (
    LmauditError,
    LoglikelihoodRequest,
    Request,
    RequestKind,
    Response,
    RollingLoglikelihoodRequest,
)

CHARS_PER_TOKEN = 4  # rough: converts generation budgets (tokens) to the character cost scale


def one_line(error: BaseException) -> str:
    """The error message on one line, at most 300 characters."""
    text = " ".join(str(error).split())
    return (text[:300] + "...") if len(text) > 300 else text or type(error).__name__


# -- planning (pure) ----------------------------------------------------------------------------


def request_cost(request: Request) -> int:
    """Relative cost of a request in characters: its text, plus `CHARS_PER_TOKEN` per token a
    generation may produce. At least 1."""
    if isinstance(request, LoglikelihoodRequest):
        size = len(request.context) + len(request.continuation)
    elif isinstance(request, RollingLoglikelihoodRequest):
        size = len(request.text)
    else:
        size = len(request.prompt or "") + sum(len(m.content) for m in request.messages or ())
        size += CHARS_PER_TOKEN * request.params.max_tokens
    return max(1, size)


def plan_chunks(
    requests: Sequence[Request],
    *,
    replicas: int,
    chunks_per_replica: int = 4,
    max_chunk_requests: int = 256,
) -> list[tuple[int, ...]]:
    """Cut request indices into chunks, in dispatch order.

    Kinds keep their order of first appearance and never share a chunk. Within a kind,
    loglikelihood requests with the same context form one group (never split); groups run
    longest first (by their costliest request; ties keep input order) and are cut into about
    `max(replicas * chunks_per_replica, n / max_chunk_requests)` chunks of similar total
    `request_cost`, none above `max_chunk_requests` requests unless one group is larger.
    """
    if replicas < 1 or chunks_per_replica < 1 or max_chunk_requests < 1:
        raise ValueError("replicas, chunks_per_replica and max_chunk_requests must be >= 1")
    costs = [request_cost(r) for r in requests]
    kinds: dict[RequestKind, dict[Hashable, list[int]]] = {}
    for i, request in enumerate(requests):
        key: Hashable = request.context if isinstance(request, LoglikelihoodRequest) else i
        kinds.setdefault(request.kind, {}).setdefault(key, []).append(i)
    chunks: list[tuple[int, ...]] = []
    for groups in kinds.values():
        ordered = sorted(groups.values(), key=lambda g: (-max(costs[i] for i in g), g[0]))
        n = sum(len(g) for g in ordered)
        total = sum(costs[i] for g in ordered for i in g)
        wanted = max(
            math.ceil(n / max_chunk_requests), min(len(ordered), replicas * chunks_per_replica)
        )
        target = total / wanted
        current: list[int] = []
        current_cost = 0
        for group in ordered:
            too_many = len(current) + len(group) > max_chunk_requests
            if current and (current_cost >= target or too_many):
                chunks.append(tuple(current))
                current, current_cost = [], 0
            current.extend(group)
            current_cost += sum(costs[i] for i in group)
        if current:
            chunks.append(tuple(current))
    return chunks


def admitted_prefix(
    requests: Sequence[Request], chunk: Sequence[int], admit: AdmitCallback | None
) -> tuple[tuple[int, ...], bool]:
    """The indices of `chunk` that `admit` lets through, asked in order up to the first
    refusal; and whether a request was refused."""
    if admit is None:
        return tuple(chunk), False
    for position, index in enumerate(chunk):
        if not admit(requests[index]):
            return tuple(chunk[:position]), True
    return tuple(chunk), False


# -- scheduling over a pool of replicas (no Ray) ------------------------------------------------


class ReplicaDied(Exception):
    """A replica is gone (crash, lost node): its chunk may run again on another replica."""


Handle = TypeVar("Handle", bound=Hashable)


class ReplicaPool(Protocol[Handle]):
    """Replicas numbered 0 .. size - 1, each running one chunk at a time."""

    @property
    def size(self) -> int: ...

    def submit(self, replica: int, requests: list[Request]) -> Handle: ...

    def wait_any(self, handles: list[Handle]) -> Handle:
        """Block until one of `handles` is finished; return it."""
        ...

    def result(self, handle: Handle) -> list[Response]:
        """The answers, in request order; raises ReplicaDied or LmauditError."""
        ...

    def cancel(self, handles: list[Handle]) -> None: ...


def stream_over_pool(
    pool: ReplicaPool[Any],
    requests: Sequence[Request],
    chunks: Sequence[Sequence[int]],
    admit: AdmitCallback | None = None,
    *,
    max_retries: int = 2,
    on_answered: Callable[[int, int], None] | None = None,
) -> Generator[tuple[int, Response], None, None]:
    """Run `chunks` of `requests` on the pool's replicas; yield (index, response).

    `on_answered(replica, n)` records which replica answered how many requests.
    """
    waiting: deque[Sequence[int]] = deque(chunks)
    retries: deque[tuple[tuple[int, ...], int]] = deque()  # admitted chunks to run again
    idle: deque[int] = deque(range(pool.size))
    dead: set[int] = set()
    running: dict[Any, tuple[tuple[int, ...], int, int]] = {}  # handle -> chunk, replica, tries
    refused = False

    def dispatch() -> None:
        """Give idle replicas work: retried chunks first, then new (admitted) chunks."""
        nonlocal refused
        while idle and (retries or (waiting and not refused)):
            if retries:
                chunk, tries = retries.popleft()
            else:
                chunk, refused = admitted_prefix(requests, waiting.popleft(), admit)
                tries = 0
                if not chunk:
                    continue
            replica = idle.popleft()
            running[pool.submit(replica, [requests[i] for i in chunk])] = (chunk, replica, tries)

    try:
        dispatch()
        while running:
            handle = pool.wait_any(list(running))
            chunk, replica, tries = running.pop(handle)
            try:
                answers = pool.result(handle)
            except ReplicaDied as error:
                dead.add(replica)
                if tries >= max_retries:
                    raise LmauditError(
                        f"a chunk of {len(chunk)} requests failed on {tries + 1} replicas; "
                        f"last error: {error}"
                    ) from error
                if len(dead) == pool.size:
                    raise LmauditError(
                        f"all {pool.size} replicas died; last error: {error}"
                    ) from error
                retries.append((chunk, tries + 1))
                dispatch()
                continue
            if len(answers) != len(chunk):
                raise LmauditError(
                    f"replica {replica} answered {len(answers)} of {len(chunk)} requests"
                )
            idle.append(replica)
            dispatch()  # keep the replica busy while the caller handles these answers
            if on_answered is not None:
                on_answered(replica, len(chunk))
            yield from zip(chunk, answers, strict=True)
    finally:
        if running:
            pool.cancel(list(running))


def answer_chunk(
    backend: Any, requests: Sequence[Request], check: Callable[[], None] | None = None
) -> list[Response]:
    """Answer mixed requests with a backend's batch methods (grouped by kind, input order);
    `check()` runs after every finished batch (and may raise to stop)."""
    methods: dict[RequestKind, Callable[..., list[Any]]] = {
        RequestKind.LOGLIKELIHOOD: backend.loglikelihood,
        RequestKind.LOGLIKELIHOOD_ROLLING: backend.loglikelihood_rolling,
        RequestKind.GENERATE: backend.generate,
    }
    by_kind: dict[RequestKind, list[int]] = {}
    for i, request in enumerate(requests):
        by_kind.setdefault(request.kind, []).append(i)
    answers: list[Response | None] = [None] * len(requests)
    for kind, indices in by_kind.items():
        progress = None if check is None else (lambda _n: check())
        results = methods[kind]([requests[i] for i in indices], progress=progress)
        for i, result in zip(indices, results, strict=True):
            answers[i] = result
    return [a for a in answers if a is not None]
