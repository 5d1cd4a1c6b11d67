"""Ray scale-out: chunk planning and the scheduling loop over a fake pool (fast, no Ray), and
one end-to-end run of two CPU replicas of a tiny HF model on a local Ray cluster."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from lmaudit.backends.ray_replicas import common_description, gpus_per_replica
from lmaudit.backends.replica_schedule import (
    ReplicaDied,
    admitted_prefix,
    answer_chunk,
    plan_chunks,
    request_cost,
    stream_over_pool,
)
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    GenerationParams,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Message,
    Request,
    RequestKind,
    Response,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
)


def ll(context: str, continuation: str) -> LoglikelihoodRequest:
    return LoglikelihoodRequest(context, continuation)


# -- planning -------------------------------------------------------------------------------------


def test_request_cost() -> None:
    assert request_cost(ll("abc", " de")) == 6
    assert request_cost(RollingLoglikelihoodRequest("hello")) == 5
    assert request_cost(RollingLoglikelihoodRequest("")) == 1  # never zero
    assert request_cost(GenerateRequest(prompt="hi", params=GenerationParams(max_tokens=10))) == 42
    chat = GenerateRequest(messages=(Message("user", "abc"),), params=GenerationParams(3))
    assert request_cost(chat) == 3 + 12


def test_plan_covers_every_request_once_and_never_mixes_kinds() -> None:
    requests: list[Request] = []
    for q in range(30):
        requests.append(RollingLoglikelihoodRequest("x" * (q + 1)))
        requests.append(ll(f"question {q}", " yes"))
        requests.append(GenerateRequest(prompt=f"p{q}"))
    chunks = plan_chunks(requests, replicas=3, chunks_per_replica=2, max_chunk_requests=8)
    flat = [i for chunk in chunks for i in chunk]
    assert sorted(flat) == list(range(len(requests)))
    kinds = [{requests[i].kind for i in chunk} for chunk in chunks]
    assert all(len(k) == 1 for k in kinds)
    # kinds in order of first appearance: rolling, loglikelihood, generate
    order = [next(iter(k)).value for k in kinds]
    assert order == sorted(order, key=["loglikelihood_rolling", "loglikelihood", "generate"].index)
    assert max(len(c) for c in chunks) <= 8


def test_plan_balances_cost_and_runs_longest_first() -> None:
    equal = [ll("c" * 10, str(i % 10)) for i in range(40)]
    # 40 requests with one shared context form one group: one chunk, whatever the target
    assert plan_chunks(equal, replicas=2, chunks_per_replica=2) == [tuple(range(40))]
    distinct = [RollingLoglikelihoodRequest("x" * 10) for _ in range(40)]
    chunks = plan_chunks(distinct, replicas=2, chunks_per_replica=2)
    assert [len(c) for c in chunks] == [10, 10, 10, 10]  # equal costs: 4 equal chunks
    sizes = [RollingLoglikelihoodRequest("x" * n) for n in (5, 50, 10, 40, 20, 30)]
    chunks = plan_chunks(sizes, replicas=1, chunks_per_replica=3)
    # longest first: 50, 40, 30, 20, 10, 5; total 155, target 51.7 per chunk:
    # [50, 40] reaches 90 >= 51.7, [30, 20] reaches 50 < 51.7 so 10 joins (60), then [5]
    assert chunks == [(1, 3), (5, 4, 2), (0,)]


def test_plan_keeps_options_of_a_question_together() -> None:
    requests = [
        ll(f"Question {q}: {'long ' * (q % 3)}?", f" option {o}") for q in range(6) for o in "ABCD"
    ]
    chunks = plan_chunks(requests, replicas=2, chunks_per_replica=4, max_chunk_requests=6)
    for chunk in chunks:
        contexts = {requests[i].context for i in chunk}
        assert len(chunk) == 4 * len(contexts)  # only whole questions
    assert sorted(i for c in chunks for i in c) == list(range(24))
    assert plan_chunks([], replicas=2) == []


def test_admitted_prefix_stops_at_the_first_refusal() -> None:
    requests = [ll("a", str(i)) for i in range(5)]
    asked: list[str] = []

    def admit(request: Request) -> bool:
        asked.append(request.continuation)  # type: ignore[union-attr]
        return request.continuation != "3"  # type: ignore[union-attr]

    assert admitted_prefix(requests, (1, 3, 4), admit) == ((1,), True)
    assert asked == ["1", "3"]  # never asked about 4
    assert admitted_prefix(requests, (0, 1), admit) == ((0, 1), False)
    assert admitted_prefix(requests, (2, 4), None) == ((2, 4), False)


def test_gpus_per_replica() -> None:
    assert gpus_per_replica("vllm:m", {}) == 1.0
    assert gpus_per_replica("vllm:m", {"tensor_parallel_size": 2}) == 2.0
    assert gpus_per_replica("hf:m", {"device": "cuda:0"}) == 1.0
    assert gpus_per_replica("hf:m", {"device": "cpu"}) == 0.0
    assert gpus_per_replica("lab:m", {}) == 0.0


def test_common_description_requires_one_fingerprint() -> None:
    a = Fingerprint("hf", "m", "abc", "float32")
    b = Fingerprint("hf", "m", "def", "float32")
    every = frozenset(RequestKind)
    caps, fingerprint = common_description("hf:m", [(every, a), (every, a)])
    assert caps == every and fingerprint == a
    with pytest.raises(LmauditError, match=r"load different models: hf:m@abc/float32, hf:m@def"):
        common_description("hf:m", [(every, a), (every, b)])


# -- the scheduling loop over a fake pool ---------------------------------------------------------


def answer(request: Request) -> Response:
    """A deterministic stand-in answer that names its request."""
    assert isinstance(request, LoglikelihoodRequest)
    return LoglikelihoodResult(-float(len(request.continuation)), True, 1)


class FakePool:
    """Synchronous replicas: a submitted chunk is answered when waited for (oldest first).

    `die[replica]` makes that replica's chunks raise ReplicaDied; `fail_on` raises an
    LmauditError for a chunk containing that request index."""

    def __init__(self, size: int, die: set[int] | None = None) -> None:
        self._size = size
        self.die = die or set()
        self.submitted: list[tuple[int, list[Request]]] = []
        self.pending: dict[int, tuple[int, list[Request]]] = {}
        self.cancelled: list[int] = []
        self.fail_message: str | None = None

    @property
    def size(self) -> int:
        return self._size

    def submit(self, replica: int, requests: list[Request]) -> int:
        handle = len(self.submitted)
        self.submitted.append((replica, requests))
        self.pending[handle] = (replica, requests)
        return handle

    def wait_any(self, handles: list[int]) -> int:
        return min(handles)

    def result(self, handle: int) -> list[Response]:
        replica, requests = self.pending.pop(handle)
        if replica in self.die:
            raise ReplicaDied(f"replica {replica} crashed")
        if self.fail_message is not None:
            raise LmauditError(self.fail_message)
        return [answer(r) for r in requests]

    def cancel(self, handles: list[int]) -> None:
        self.cancelled.extend(handles)


REQUESTS = [ll("ctx", "x" * (i + 1)) for i in range(10)]
CHUNKS = [(0, 1, 2), (3, 4), (5, 6, 7), (8, 9)]


def test_stream_yields_every_answer_and_uses_every_replica() -> None:
    pool = FakePool(2)
    counts: dict[int, int] = {}
    got = list(
        stream_over_pool(
            pool,
            REQUESTS,
            CHUNKS,
            on_answered=lambda r, n: counts.__setitem__(r, counts.get(r, 0) + n),
        )
    )
    assert [i for i, _ in got] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert all(response == answer(REQUESTS[i]) for i, response in got)
    assert [replica for replica, _ in pool.submitted] == [0, 1, 0, 1]
    assert counts == {0: 6, 1: 4}
    assert pool.cancelled == []


def test_admit_refusal_stops_dispatch() -> None:
    pool = FakePool(1)
    asked: list[int] = []

    def admit(request: Request) -> bool:
        asked.append(REQUESTS.index(request))  # type: ignore[arg-type]
        return len(asked) <= 4  # budget for 4 requests

    got = list(stream_over_pool(pool, REQUESTS, CHUNKS, admit))
    assert [i for i, _ in got] == [0, 1, 2, 3]
    assert asked == [0, 1, 2, 3, 4]  # asked up to the first refusal, never after
    assert [len(requests) for _, requests in pool.submitted] == [3, 1]
    nothing = FakePool(2)
    assert list(stream_over_pool(nothing, REQUESTS, CHUNKS, lambda _r: False)) == []
    assert nothing.submitted == []


def test_dead_replica_chunk_runs_again_elsewhere() -> None:
    pool = FakePool(3, die={0})
    got = dict(stream_over_pool(pool, REQUESTS, CHUNKS))
    assert sorted(got) == list(range(10))
    replicas = [replica for replica, _ in pool.submitted]
    assert replicas.count(0) == 1  # the dead replica gets nothing after its first chunk
    assert [len(r) for _, r in pool.submitted] == [3, 2, 3, 3, 2]  # chunk 0 sent twice


def test_chunk_failing_on_every_try_raises_after_max_retries() -> None:
    pool = FakePool(4, die={0, 1, 2})
    # chunk 0 dies on replica 0, then 1 (via retry), then 2 -> 3 tries, max_retries 2
    stream = stream_over_pool(pool, REQUESTS, [(0, 1, 2)], max_retries=2)
    with pytest.raises(LmauditError, match="failed on 3 replicas"):
        list(stream)
    all_dead = stream_over_pool(FakePool(2, die={0, 1}), REQUESTS, CHUNKS, max_retries=5)
    with pytest.raises(LmauditError, match="all 2 replicas died"):
        list(all_dead)


def test_request_error_raises_and_cancels_the_rest() -> None:
    pool = FakePool(2)
    pool.fail_message = "continuation does not fit"
    with pytest.raises(LmauditError, match="does not fit"):
        list(stream_over_pool(pool, REQUESTS, CHUNKS))
    assert pool.cancelled == [1]  # the chunk still running on the other replica


def test_closing_the_stream_cancels_chunks_in_flight() -> None:
    pool = FakePool(2)
    stream = stream_over_pool(pool, REQUESTS, CHUNKS)
    first = next(stream)
    assert first[0] == 0
    stream.close()
    assert pool.cancelled == [1, 2]  # chunk 1 running, chunk 2 sent as soon as chunk 0 finished
    assert len(pool.submitted) == 3


class RecordingBackend:
    """Batch methods that answer from the request text and record each call's size."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def loglikelihood(self, requests: Sequence[Any], progress: Any = None) -> list[Any]:
        self.calls.append(("ll", len(requests)))
        if progress is not None:
            progress(len(requests))
        return [LoglikelihoodResult(-1.0 * len(r.continuation), False, 1) for r in requests]

    def loglikelihood_rolling(self, requests: Sequence[Any], progress: Any = None) -> list[Any]:
        self.calls.append(("rolling", len(requests)))
        return [RollingLoglikelihoodResult(-2.0, len(r.text)) for r in requests]

    def generate(self, requests: Sequence[Any], progress: Any = None) -> list[Any]:
        self.calls.append(("generate", len(requests)))
        return [Generation(r.prompt.upper()) for r in requests]


def test_answer_chunk_groups_by_kind_and_keeps_order() -> None:
    backend = RecordingBackend()
    mixed: list[Request] = [
        GenerateRequest(prompt="ab"),
        ll("c", "xyz"),
        RollingLoglikelihoodRequest("four"),
        ll("c", "x"),
    ]
    checks: list[int] = []
    answers = answer_chunk(backend, mixed, check=lambda: checks.append(1))
    assert answers == [
        Generation("AB"),
        LoglikelihoodResult(-3.0, False, 1),
        RollingLoglikelihoodResult(-2.0, 4),
        LoglikelihoodResult(-1.0, False, 1),
    ]
    assert backend.calls == [("generate", 1), ("ll", 2), ("rolling", 1)]
    assert checks == [1]  # the one progress report (from loglikelihood) ran the check


# -- Ray end to end -------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_ray_replicas_answer_like_one_backend(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'lmaudit[ray]')")
    torch = pytest.importorskip("torch")
    from lmaudit.backends.hf import HFBackend
    from lmaudit.backends.ray_replicas import RayReplicaBackend
    from test_backends_hf_tiny import CORPUS, build_model

    torch.set_num_threads(1)
    directory = build_model(tmp_path / "gpt2", "gpt2")
    options: dict[str, Any] = {"dtype": "float32", "device": "cpu", "batch_size": 1}
    single = HFBackend(str(directory), dtype="float32", device="cpu", batch_size=1)
    ll_requests = [
        ll(text[:24], " " + word) for text in CORPUS for word in ("the", "Paris", "is blue")
    ]
    gen_requests = [
        GenerateRequest(prompt=text[:16], params=GenerationParams(max_tokens=6)) for text in CORPUS
    ] + [GenerateRequest(prompt="The", params=GenerationParams(6, temperature=0.9, seed=4))]
    with RayReplicaBackend(
        f"hf:{directory}", options, replicas=2, chunks_per_replica=2
    ) as replicas:
        assert replicas.fingerprint == single.fingerprint
        seen: list[int] = []
        ours = replicas.loglikelihood(ll_requests, progress=seen.append)
        assert sum(seen) == len(ll_requests)
        theirs = single.loglikelihood(ll_requests)
        # bitwise equal: batch_size 1 makes every forward independent of its neighbours
        # (with batch_size 4, padding gives float32 noise of ~1e-6 nats between chunkings)
        assert ours == theirs
        assert replicas.generate(gen_requests) == single.generate(gen_requests)
        counts = replicas.replica_counts()
        assert sum(counts) == len(ll_requests) + len(gen_requests)
        assert min(counts) > 0  # both replicas did work

        budget = 5
        asked: list[Request] = []

        def admit(request: Request) -> bool:
            asked.append(request)
            return len(asked) <= budget

        order = [i for chunk in replicas.plan(ll_requests) for i in chunk]
        got = dict(replicas.stream(ll_requests, admit))
        assert sorted(got) == sorted(order[:budget])  # first five in dispatch order
        assert len(asked) == budget + 1  # nothing asked after the refusal
        assert sum(replicas.replica_counts()) == sum(counts) + budget  # refused never sent

        stream = replicas.stream(ll_requests)
        next(stream)
        stream.close()  # cancels the chunks in flight; the replicas keep serving
        assert replicas.loglikelihood(ll_requests[:4]) == theirs[:4]
