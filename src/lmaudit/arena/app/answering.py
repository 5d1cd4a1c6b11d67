"""A battle's answers, generated once: requests that ask for the same answer share it.

Reading a battle's stream (a GET, outside the POST rate limits) generates the answers it
does not have yet, and so does the form route that creates a battle. Without sharing,
N requests opened at once on one unanswered battle would run 2N generations. Here the first
request for a (battle, side) starts one task that generates and stores it; every request
for it, the first included, waits for that task's result (or error) without a thread of its
own, and a request that goes away (its client disconnected) cancels only its own wait.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool

from lmaudit.arena.app import store
from lmaudit.arena.app.models import ModelPool


class SharedAnswers:
    """Generate and store one side's answer of a battle, once per (battle, side) at a time."""

    def __init__(self, pool: ModelPool, maker: sessionmaker[Any]) -> None:
        self.pool = pool
        self.maker = maker
        self._lock = threading.Lock()  # requests may run on different event loops in tests
        self._running: dict[tuple[str, str], Future[str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # asyncio keeps only weak references

    async def __call__(self, battle_id: str, side: str, model: str, prompt: str) -> str:
        """The stored text of the answer (the first one stored, if another request won)."""
        key = (battle_id, side)
        with self._lock:
            shared = self._running.get(key)
            if shared is None:
                shared = Future()
                shared.set_running_or_notify_cancel()  # a waiter's cancel cannot cancel it
                self._running[key] = shared
                task = asyncio.get_running_loop().create_task(
                    self._answer(key, shared, model, prompt))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return await asyncio.wrap_future(shared)

    async def _answer(self, key: tuple[str, str], shared: Future[str], model: str,
                      prompt: str) -> None:
        battle_id, side = key
        try:
            reply = await run_in_threadpool(self.pool.answer, model, prompt)
            text = await run_in_threadpool(
                store.save_answer, self.maker, battle_id, side, reply.text, reply.finish_reason
            )
        except Exception as error:
            shared.set_exception(error)
        except BaseException:  # cancelled (the server stops): the waiters get an error
            shared.set_exception(RuntimeError("the answer was cancelled"))
            raise
        else:
            shared.set_result(text)
        finally:
            with self._lock:
                del self._running[key]
