"""Answers generated once: concurrent requests for one battle side share one generation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from arena_app_fixtures import ScriptedBackend
from lmaudit.arena.app import store
from lmaudit.arena.app.answering import SharedAnswers
from lmaudit.arena.app.db import make_engine, upgrade
from lmaudit.arena.app.models import ModelPool


def setup(tmp_path: Path, fail: bool = False) -> tuple[SharedAnswers, ScriptedBackend, str]:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    upgrade(engine)
    maker = sessionmaker(engine, expire_on_commit=False)
    x = ScriptedBackend("answer to {prompt}", fail=fail)
    pool = ModelPool({"x": x, "y": ScriptedBackend("other")})
    battle_id = store.create_battle(maker, "session", "hi", "x", "y")
    return SharedAnswers(pool, maker), x, battle_id


async def ask(answers: SharedAnswers, battle_id: str, times: int) -> list[str | BaseException]:
    return await asyncio.gather(*(answers(battle_id, "a", "x", "hi") for _ in range(times)),
                                return_exceptions=True)


def test_concurrent_requests_share_one_generation(tmp_path: Path) -> None:
    answers, backend, battle_id = setup(tmp_path)
    assert asyncio.run(ask(answers, battle_id, 5)) == ["answer to hi"] * 5
    assert backend.prompts == ["hi"]  # one generation for five requests
    stored = store.get_battle(answers.maker, battle_id)
    assert stored is not None and stored.answers == {"a": "answer to hi"}
    assert answers._running == {}  # nothing left registered once it is done
    asyncio.run(ask(answers, battle_id, 1))  # a later request may generate again ...
    assert len(backend.prompts) == 2
    stored = store.get_battle(answers.maker, battle_id)
    assert stored is not None and stored.answers == {"a": "answer to hi"}  # ... first kept


def test_a_failed_generation_fails_every_waiting_request(tmp_path: Path) -> None:
    answers, _, battle_id = setup(tmp_path, fail=True)
    results = asyncio.run(ask(answers, battle_id, 4))
    assert all(isinstance(r, RuntimeError) and "exploded" in str(r) for r in results)
    assert answers._running == {}
    with pytest.raises(RuntimeError, match="exploded"):  # the next request tries anew
        asyncio.run(answers(battle_id, "a", "x", "hi"))


def test_a_request_that_goes_away_cancels_only_its_own_wait(tmp_path: Path) -> None:
    answers, backend, battle_id = setup(tmp_path)

    async def scenario() -> list[str]:
        first, second, third = (asyncio.create_task(answers(battle_id, "a", "x", "hi"))
                                for _ in range(3))
        await asyncio.sleep(0)  # all three registered, the generation started
        first.cancel()  # the request that started it disconnects ...
        second.cancel()  # ... and so does one that was waiting
        return [await third]

    assert asyncio.run(scenario()) == ["answer to hi"]
    assert backend.prompts == ["hi"]  # the generation ran once, to the end
    stored = store.get_battle(answers.maker, battle_id)
    assert stored is not None and stored.answers == {"a": "answer to hi"}
