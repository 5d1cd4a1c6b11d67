"""Run orchestration: task → requests → backend → scores → stats → run store.

The runner sees every request of a run before executing any (so the backend can sort,
batch and share prefixes globally), deduplicates identical requests, and checks the
backend's capabilities before the first request is sent.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lmaudit.core.aggregate import aggregate_records
from lmaudit.core.backend import Backend, check_capabilities
from lmaudit.core.store import RunWriter, base_manifest, spec_hash
from lmaudit.core.task import Task
from lmaudit.core.types import (
    Request,
    RequestKind,
    Response,
    Sample,
    SampleRecord,
)
from lmaudit.stats import Estimate


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run returns: where it is stored and its metrics."""

    run_dir: Path
    metrics: dict[str, Estimate]
    n_samples: int
    seconds: float


def execute_requests(
    backend: Backend, requests: Sequence[Request], *, show_progress: bool = True
) -> list[Response]:
    """Answer requests, each distinct request once, grouped by kind; results in input order."""
    unique: dict[Request, int] = {}
    for request in requests:
        unique.setdefault(request, len(unique))
    distinct = list(unique)
    answers: list[Response | None] = [None] * len(distinct)
    by_kind: dict[RequestKind, list[int]] = {}
    for i, request in enumerate(distinct):
        by_kind.setdefault(request.kind, []).append(i)
    methods: dict[RequestKind, Callable[..., list[Any]]] = {
        RequestKind.LOGLIKELIHOOD: backend.loglikelihood,
        RequestKind.LOGLIKELIHOOD_ROLLING: backend.loglikelihood_rolling,
        RequestKind.GENERATE: backend.generate,
    }
    for kind, indices in by_kind.items():
        batch = [distinct[i] for i in indices]
        with tqdm(
            total=len(batch),
            desc=kind.value,
            unit="req",
            disable=not show_progress,
            file=sys.stderr,
            dynamic_ncols=True,
        ) as bar:
            results = methods[kind](batch, progress=bar.update)
        for i, result in zip(indices, results, strict=True):
            answers[i] = result
    return [answers[unique[r]] for r in requests]  # type: ignore[misc]


def select_samples(task: Task, limit: int | None) -> list[Sample]:
    samples = task.samples()
    return samples if limit is None else samples[:limit]


def evaluate(
    task: Task, backend: Backend, samples: Sequence[Sample], *, show_progress: bool = True
) -> list[SampleRecord]:
    """Score samples with a backend: no I/O besides the backend's."""
    check_capabilities(backend, task.request_kinds, task=task.name)
    per_sample = [task.requests(sample) for sample in samples]
    flat = [request for requests in per_sample for request in requests]
    responses = execute_requests(backend, flat, show_progress=show_progress)
    records: list[SampleRecord] = []
    offset = 0
    for sample, requests in zip(samples, per_sample, strict=True):
        records.append(task.score(sample, responses[offset : offset + len(requests)]))
        offset += len(requests)
    return records


def results_payload(
    task: Task, metrics: dict[str, Estimate], n_samples: int, **extra: Any
) -> dict[str, Any]:
    higher = {m.name: m.higher_is_better for m in task.metrics}
    return {
        "task": task.name,
        "n_samples": n_samples,
        "metrics": {
            name: {**estimate.to_dict(), "higher_is_better": higher.get(name, False)}
            for name, estimate in metrics.items()
        },
        **extra,
    }


def run_task(
    task: Task,
    backend: Backend,
    run_dir: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    model_spec: str | None = None,
    show_progress: bool = True,
) -> RunOutcome:
    """Evaluate `task` on `backend` and store everything in `run_dir`."""
    start = time.perf_counter()
    spec = task.spec()
    samples = select_samples(task, limit)
    manifest = base_manifest(
        kind="run",
        model_spec=model_spec,
        model_fingerprint=backend.fingerprint.key(),
        task=task.name,
        task_spec=spec,
        task_spec_hash=spec_hash(spec),
        limit=limit,
        seed=seed,
        n_samples=len(samples),
    )
    writer = RunWriter(run_dir, manifest)
    records = evaluate(task, backend, samples, show_progress=show_progress)
    writer.append(records)
    metrics = aggregate_records(task.metrics, records, seed=seed)
    seconds = time.perf_counter() - start
    writer.finish(results_payload(task, metrics, len(records), seconds=round(seconds, 3)))
    return RunOutcome(run_dir=run_dir, metrics=metrics, n_samples=len(records), seconds=seconds)
