"""A battle's answers, generated once: requests that ask for the same answer share it.

Reading a battle's stream (a GET, outside the POST rate limits) generates the answers it
does not have yet, and so does the form route that creates a battle. Without sharing,
N requests opened at once on one unanswered battle would run 2N generations. Here the first
request for a (battle, side) generates and stores it; requests arriving meanwhile wait for
that result (or its error) without a thread of their own.
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

    async def __call__(self, battle_id: str, side: str, model: str, prompt: str) -> str:
        """The stored text of the answer (the first one stored, if another request won)."""
        key = (battle_id, side)
        with self._lock:
            running = self._running.get(key)
            if running is None:
                shared: Future[str] = Future()
                self._running[key] = shared
        if running is not None:
            return await asyncio.wrap_future(running)
        try:
            reply = await run_in_threadpool(self.pool.answer, model, prompt)
            text = await run_in_threadpool(
                store.save_answer, self.maker, battle_id, side, reply.text, reply.finish_reason
            )
        except Exception as error:
            shared.set_exception(error)
            raise
        except BaseException:  # cancelled: the waiters get an ordinary error
            shared.set_exception(RuntimeError("the answering request was cancelled"))
            raise
        else:
            shared.set_result(text)
            return text
        finally:
            with self._lock:
                del self._running[key]
