"""A micro-batcher: concurrent HTTP requests become one batched backend call.

Requests are submitted from the event loop with a hashable group key (request kind plus
everything a batch must share, e.g. the generation parameters). One dispatcher task takes
the group whose first item arrived earliest, waits until that item is `max_wait_s` old or
the group holds `max_batch_size` items, and runs the group's items (at most
`max_batch_size`) as one call of the blocking `run_batch` in a single worker thread, so the
event loop stays free and the model is never used by two threads at once. Items that arrive
while a batch runs are collected meanwhile, so batches grow with the load.

When a batch of several items fails, each item is retried alone, so one bad request (e.g. a
prompt that is too long) does not fail the requests batched with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

# Runs one batch in the worker thread: (group key, items) -> one result per item, in order.
BatchRunner = Callable[[Hashable, Sequence[Any]], Sequence[Any]]


@dataclass
class _Entry:
    item: Any
    future: asyncio.Future[Any]


@dataclass
class _Group:
    first_arrival: float
    entries: list[_Entry] = field(default_factory=list)


@dataclass(frozen=True)
class _Failure:
    error: BaseException


@dataclass
class BatchCounters:
    """Backend calls made (retries of single items included) and the items they carried."""

    calls: int = 0
    items: int = 0
    largest: int = 0


class MicroBatcher:
    """Collects items per group key and runs them in batches in one worker thread."""

    def __init__(
        self, run_batch: BatchRunner, *, max_batch_size: int = 16, max_wait_s: float = 0.005
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must not be negative, got {max_wait_s}")
        self._run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.counters = BatchCounters()
        self._groups: dict[Hashable, _Group] = {}
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lmaudit-backend")
        self._closed = False

    async def submit(self, key: Hashable, item: Any) -> Any:
        """Queue `item` in group `key`; return its result (or raise its error)."""
        if self._closed:
            raise RuntimeError("the micro-batcher is closed")
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._arrived = asyncio.Event()
            self._task = loop.create_task(self._dispatch(), name="lmaudit-micro-batcher")
        assert self._arrived is not None
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(loop.time())
        future: asyncio.Future[Any] = loop.create_future()
        group.entries.append(_Entry(item, future))
        self._arrived.set()
        return await future

    async def close(self) -> None:
        """Stop dispatching; pending requests fail; a running backend call is abandoned."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for group in self._groups.values():
            for entry in group.entries:
                if not entry.future.done():
                    entry.future.set_exception(RuntimeError("the server is shutting down"))
        self._groups.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _next_batch(self) -> tuple[Hashable, list[_Entry]]:
        """Wait for the oldest group to be full or old enough; take its first items."""
        assert self._arrived is not None
        loop = asyncio.get_running_loop()
        while not self._groups:
            self._arrived.clear()
            await self._arrived.wait()
        key, group = next(iter(self._groups.items()))  # dicts keep insertion order
        deadline = group.first_arrival + self.max_wait_s
        while len(group.entries) < self.max_batch_size:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        taken = group.entries[: self.max_batch_size]
        rest = group.entries[self.max_batch_size :]
        del self._groups[key]
        if rest:  # requeue behind the other groups, already due
            self._groups[key] = _Group(group.first_arrival, rest)
        return key, taken

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            key, entries = await self._next_batch()
            live = [e for e in entries if not e.future.done()]  # cancelled by a gone client
            if not live:
                continue
            try:
                outcomes = await loop.run_in_executor(
                    self._executor, self._run_isolated, key, [e.item for e in live]
                )
            except Exception as error:  # e.g. the executor was shut down
                outcomes = [_Failure(error)] * len(live)
            for entry, outcome in zip(live, outcomes, strict=True):
                if entry.future.done():
                    continue
                if isinstance(outcome, _Failure):
                    entry.future.set_exception(outcome.error)
                else:
                    entry.future.set_result(outcome)

    def _call(self, key: Hashable, items: list[Any]) -> list[Any]:
        counters = self.counters
        counters.calls += 1
        counters.items += len(items)
        counters.largest = max(counters.largest, len(items))
        results = list(self._run_batch(key, items))
        if len(results) != len(items):
            raise RuntimeError(
                f"the backend returned {len(results)} results for {len(items)} requests"
            )
        return results

    def _run_isolated(self, key: Hashable, items: list[Any]) -> list[Any]:
        """Runs in the worker thread: the whole batch, else each item alone after a failure."""
        try:
            return self._call(key, items)
        except Exception as error:
            if len(items) == 1:
                return [_Failure(error)]
        outcomes: list[Any] = []
        for item in items:
            try:
                outcomes.extend(self._call(key, [item]))
            except Exception as error:
                outcomes.append(_Failure(error))
        return outcomes
