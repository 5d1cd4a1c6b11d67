"""Scale-out over backend replicas: N Ray actors, each a whole backend built from one spec.

`RayReplicaBackend` is a StreamingBackend: it plans chunks and streams them over its actors
with `replica_schedule` (chunking, admit, retries on dead replicas, cancellation). Each
actor runs a `ReplicaWorker`. A chunk cancelled by the driver stops at its replica's next
batch boundary (the worker checks Ray's cancellation flag in the backend's progress
callback).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping, Sequence
from typing import Any, TypeVar

from lmaudit.backends.replica_schedule import (
    ReplicaDied,
    answer_chunk,
    one_line,
    plan_chunks,
    stream_over_pool,
)
from lmaudit.core.backend import AdmitCallback, ProgressCallback
from lmaudit.core.types import (
    Fingerprint,
    GenerateRequest,
    Generation,
    LmauditError,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Request,
    RequestKind,
    Response,
    RollingLoglikelihoodRequest,
    RollingLoglikelihoodResult,
)


class ChunkCancelled(Exception):
    """Raised inside a replica when the driver cancelled the chunk it is running."""


class ReplicaWorker:
    """A backend built from a model spec; the body of each Ray actor. A failure to build
    the backend is kept and raised by `describe` (a clean message, not an actor death)."""

    def __init__(self, spec: str, options: Mapping[str, Any], in_ray: bool = True) -> None:
        from lmaudit.backends.registry import load_backend

        self.backend: Any = None
        self.startup_error: str | None = None
        try:
            self.backend = load_backend(spec, dict(options))
        except LmauditError as error:
            self.startup_error = str(error)
        except Exception as error:
            self.startup_error = f"{type(error).__name__}: {one_line(error)}"
        self.in_ray = in_ray
        self.answered = 0

    def describe(self) -> tuple[frozenset[RequestKind], Fingerprint]:
        if self.startup_error is not None:
            raise LmauditError(self.startup_error)
        return frozenset(self.backend.capabilities), self.backend.fingerprint

    def _check_cancelled(self) -> None:
        import ray

        if ray.get_runtime_context().is_canceled():
            raise ChunkCancelled("chunk cancelled by the driver")

    def run(self, requests: list[Request]) -> list[Response]:
        answers = answer_chunk(
            self.backend, requests, self._check_cancelled if self.in_ray else None
        )
        self.answered += len(answers)
        return answers

    def answered_count(self) -> int:
        return self.answered


# -- the Ray pool and the backend ---------------------------------------------------------------

_DEATHS = (
    "RayActorError",
    "WorkerCrashedError",
    "ObjectLostError",
    "OwnerDiedError",
    "NodeDiedError",
    "LocalRayletDiedError",
    "OutOfMemoryError",
)

T = TypeVar("T")


def gpus_per_replica(spec: str, options: Mapping[str, Any]) -> float:
    """GPUs each replica reserves: `tensor_parallel_size` for vLLM, 1 for a `cuda` device."""
    if spec.partition(":")[0] == "vllm":
        return float(options.get("tensor_parallel_size", 1))
    return 1.0 if str(options.get("device", "auto")).startswith("cuda") else 0.0


def common_description(
    spec: str, described: Sequence[tuple[frozenset[RequestKind], Fingerprint]]
) -> tuple[frozenset[RequestKind], Fingerprint]:
    """The capabilities and fingerprint every replica reported; raises if the replicas
    loaded different models (e.g. a hub id resolved to different commits on two nodes)."""
    fingerprints = sorted({fp.key() for _, fp in described})
    if len(fingerprints) != 1:
        raise LmauditError(f"replicas of {spec} load different models: {', '.join(fingerprints)}")
    return frozenset.intersection(*(caps for caps, _ in described)), described[0][1]


class _RayPool:
    """`ReplicaPool` over Ray actors running `ReplicaWorker`; handles are ObjectRefs."""

    def __init__(self, ray: Any, actors: list[Any]) -> None:
        self._ray = ray
        self._actors = actors
        found = (getattr(ray.exceptions, name, None) for name in _DEATHS)
        self._deaths = tuple(kind for kind in found if kind is not None)

    @property
    def size(self) -> int:
        return len(self._actors)

    def submit(self, replica: int, requests: list[Request]) -> Any:
        return self._actors[replica].run.remote(requests)

    def wait_any(self, handles: list[Any]) -> Any:
        ready, _ = self._ray.wait(handles, num_returns=1)
        return ready[0]

    def result(self, handle: Any) -> list[Response]:
        try:
            return list(self._ray.get(handle))
        except self._deaths as error:
            raise ReplicaDied(one_line(error)) from error
        except self._ray.exceptions.RayTaskError as error:
            cause = error.cause
            if isinstance(cause, LmauditError):
                raise LmauditError(str(cause)) from None
            raise LmauditError(
                f"a replica failed: {type(cause).__name__}: {one_line(cause)}"
            ) from error

    def cancel(self, handles: list[Any]) -> None:
        for handle in handles:
            self._ray.cancel(handle)


class RayReplicaBackend:
    """`replicas` copies of the backend `spec` names, as Ray actors (a StreamingBackend).

    `address`: an existing Ray cluster ("auto", "ray://host:10001", ...); None starts a
    local one with `replicas * num_cpus_per_replica` CPUs (unless Ray is already running in
    this process). Each replica reserves `num_cpus_per_replica` CPUs and
    `num_gpus_per_replica` GPUs (default: `gpus_per_replica`). Every node needs lmaudit
    installed. Answers equal those of one in-process backend whose batches do not depend
    on their neighbours (the HF backend's up to floating-point noise of batch padding).
    """

    def __init__(
        self,
        spec: str,
        options: Mapping[str, Any] | None = None,
        replicas: int = 2,
        address: str | None = None,
        *,
        num_cpus_per_replica: float = 1.0,
        num_gpus_per_replica: float | None = None,
        chunks_per_replica: int = 4,
        max_chunk_requests: int = 256,
        max_retries: int = 2,
    ) -> None:
        if replicas < 1:
            raise LmauditError(f"--replicas must be at least 1, got {replicas}")
        try:
            import ray
        except ImportError as error:
            raise LmauditError("Ray is not installed: pip install 'lmaudit[ray]'") from error
        self._ray = ray
        self._owns_ray = not ray.is_initialized()
        self._actors: list[Any] = []
        if self._owns_ray:
            where = "a local Ray cluster" if address is None else f"the Ray cluster at {address}"
            local_cpus = max(1, math.ceil(replicas * num_cpus_per_replica))
            try:
                ray.init(
                    address=address,
                    num_cpus=local_cpus if address is None else None,
                    ignore_reinit_error=True,
                    include_dashboard=False,
                )
            except Exception as error:
                raise LmauditError(f"cannot start {where}: {one_line(error)}") from error
        opts = dict(options or {})
        gpus = (
            gpus_per_replica(spec, opts) if num_gpus_per_replica is None else num_gpus_per_replica
        )
        actor = ray.remote(ReplicaWorker).options(num_cpus=num_cpus_per_replica, num_gpus=gpus)
        self._actors = [actor.remote(spec, opts) for _ in range(replicas)]
        try:
            described = ray.get([a.describe.remote() for a in self._actors])
        except Exception as error:
            self.close()
            cause = getattr(error, "cause", None)
            reason = str(cause) if isinstance(cause, LmauditError) else one_line(error)
            raise LmauditError(f"a replica of {spec} failed to start: {reason}") from None
        try:
            self._capabilities, self._fingerprint = common_description(spec, described)
        except LmauditError:
            self.close()
            raise
        self._pool = _RayPool(ray, self._actors)
        self._plan = {
            "replicas": replicas,
            "chunks_per_replica": chunks_per_replica,
            "max_chunk_requests": max_chunk_requests,
        }
        self._max_retries = max_retries

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return self._capabilities

    @property
    def fingerprint(self) -> Fingerprint:
        return self._fingerprint

    def plan(self, requests: Sequence[Request]) -> list[tuple[int, ...]]:
        """The chunks `stream` sends, in dispatch order."""
        return plan_chunks(requests, **self._plan)

    def stream(
        self, requests: Sequence[Request], admit: AdmitCallback | None = None
    ) -> Generator[tuple[int, Response], None, None]:
        return stream_over_pool(
            self._pool, requests, self.plan(requests), admit, max_retries=self._max_retries
        )

    def replica_counts(self) -> list[int]:
        """How many requests each replica has answered (asked of the actors)."""
        return [int(n) for n in self._ray.get([a.answered_count.remote() for a in self._actors])]

    def _collect(
        self, requests: Sequence[Request], progress: ProgressCallback | None, kind: type[T]
    ) -> list[T]:
        answers: list[T | None] = [None] * len(requests)
        for index, response in self.stream(requests):
            if not isinstance(response, kind):
                raise LmauditError(f"a replica answered {type(response).__name__}, not {kind}")
            answers[index] = response
            if progress is not None:
                progress(1)
        return [a for a in answers if a is not None]

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: ProgressCallback | None = None
    ) -> list[LoglikelihoodResult]:
        return self._collect(requests, progress, LoglikelihoodResult)

    def loglikelihood_rolling(
        self,
        requests: Sequence[RollingLoglikelihoodRequest],
        progress: ProgressCallback | None = None,
    ) -> list[RollingLoglikelihoodResult]:
        return self._collect(requests, progress, RollingLoglikelihoodResult)

    def generate(
        self, requests: Sequence[GenerateRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        return self._collect(requests, progress, Generation)

    def close(self) -> None:
        """Stop the replicas (and the local Ray cluster this backend started)."""
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns_ray = False

    def __enter__(self) -> RayReplicaBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
