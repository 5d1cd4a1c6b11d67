"""The micro-batcher: concurrent requests reach the backend as few batched calls."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from lmaudit.core.types import GenerateRequest, GenerationParams
from lmaudit.serve.app import start_server_in_thread
from lmaudit.serve.batching import MicroBatcher
from test_serve_support import FakeBackend, http, tiny_backend


class Recorder:
    """A batch runner that records (key, items) per call; item 'bad' fails its batch."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batches: list[tuple[Hashable, list[Any]]] = []
        self.threads: set[str] = set()
        self.delay_s = delay_s

    def __call__(self, key: Hashable, items: Sequence[Any]) -> list[Any]:
        self.batches.append((key, list(items)))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay_s)
        if "bad" in items:
            raise ValueError("bad item")
        return [f"{key}:{item}" for item in items]


async def _submit_all(batcher: MicroBatcher, jobs: list[tuple[str, str]]) -> list[Any]:
    try:
        return await asyncio.gather(
            *(batcher.submit(key, item) for key, item in jobs), return_exceptions=True
        )
    finally:
        await batcher.close()


def test_batches_group_by_key_respect_the_size_limit_and_keep_order() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_batch_size=4, max_wait_s=0.05)
    jobs = [("a" if i % 3 else "b", str(i)) for i in range(12)]
    results = asyncio.run(_submit_all(batcher, jobs))
    assert results == [f"{k}:{i}" for k, i in jobs]
    # 8 items of key a in 2 full batches, 4 of key b in 1; each batch holds one key only
    assert sorted((k, len(items)) for k, items in recorder.batches) == [
        ("a", 4),
        ("a", 4),
        ("b", 4),
    ]
    assert all(
        item in [i for k2, i in jobs if k2 == k] for k, items in recorder.batches for item in items
    )
    assert len(recorder.threads) == 1 and not recorder.threads & {"MainThread"}
    assert (batcher.counters.calls, batcher.counters.items, batcher.counters.largest) == (3, 12, 4)


def test_a_failing_item_fails_alone() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_batch_size=8, max_wait_s=0.05)
    results = asyncio.run(_submit_all(batcher, [("k", "x"), ("k", "bad"), ("k", "y")]))
    assert results[0] == "k:x" and results[2] == "k:y"
    assert isinstance(results[1], ValueError)
    # one batch of 3 failed, then each item alone
    assert [len(items) for _, items in recorder.batches] == [3, 1, 1, 1]


def test_requests_arriving_during_a_batch_form_the_next_batch() -> None:
    recorder = Recorder(delay_s=0.2)
    batcher = MicroBatcher(recorder, max_batch_size=64, max_wait_s=0.0)

    async def main() -> list[Any]:
        first = asyncio.ensure_future(batcher.submit("k", "first"))
        await asyncio.sleep(0.05)  # the first batch (one item) is running now
        rest = [batcher.submit("k", str(i)) for i in range(10)]
        try:
            return [await first, *await asyncio.gather(*rest)]
        finally:
            await batcher.close()

    results = asyncio.run(main())
    assert results[0] == "k:first" and len(results) == 11
    assert [len(items) for _, items in recorder.batches] == [1, 10]


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tiny_backend(tmp_path_factory, "gpt2")


def test_sixteen_concurrent_http_requests_share_backend_calls(gpt2: Any) -> None:
    backend = gpt2
    calls: list[int] = []

    class Counting:
        capabilities = backend.capabilities
        fingerprint = backend.fingerprint
        model = backend.model
        tokenizer = backend.tokenizer
        max_length = backend.max_length

        def generate(self, requests: Sequence[GenerateRequest], progress: Any = None) -> Any:
            calls.append(len(requests))
            return backend.generate(requests)

    prompts = [f"Numbers: {i} {i + 1}" for i in range(16)]
    params = GenerationParams(max_tokens=4, temperature=0.0)
    expected = [
        backend.generate([GenerateRequest(prompt=p, params=params)])[0].text for p in prompts
    ]
    counting: Any = Counting()
    with start_server_in_thread(
        counting, served_name="tiny", max_batch_size=16, max_batch_wait_ms=100
    ) as server:

        def one(prompt: str) -> str:
            body = {"model": "tiny", "prompt": prompt, "max_tokens": 4, "temperature": 0}
            reply = http(f"{server.url}/completions", body)
            assert reply.status == 200, reply.data
            return str(reply.json()["choices"][0]["text"])

        with ThreadPoolExecutor(16) as pool:
            texts = list(pool.map(one, prompts))
        stats = server.stats()
    assert texts == expected  # batching changes nothing for greedy decoding
    assert sum(calls) == 16
    assert len(calls) < 16, calls
    assert stats["backend_calls"] == len(calls)
    assert stats["largest_batch"] == max(calls) > 1
    assert stats["max_in_flight"] > 1
    assert stats["requests_completed"] == 16


def test_different_generation_params_are_never_batched_together() -> None:
    backend = FakeBackend()
    with start_server_in_thread(
        backend, served_name="fake", max_batch_wait_ms=100, max_batch_size=16
    ) as server:

        def one(i: int) -> str:
            body = {"model": "fake", "prompt": f"p{i}", "max_tokens": 1 + i % 2}
            return str(http(f"{server.url}/completions", body).json()["choices"][0]["text"])

        with ThreadPoolExecutor(8) as pool:
            texts = list(pool.map(one, range(8)))
    assert texts == [f"{i}p"[: 1 + i % 2] for i in range(8)]
    assert sum(backend.calls) == 8
    assert len(backend.calls) >= 2  # two parameter groups, at least one call each
