"""Run orchestration: task → requests → backend → scores → stats → run store.

The runner sees every request of a run before executing any (so the backend can sort,
batch and share prefixes globally), deduplicates identical requests, and checks the
backend's capabilities before the first request is sent. Each answer goes, as it
arrives, to the run journal (crash-safe resume), the request cache and the cost meter.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lmaudit.core.aggregate import aggregate_records
from lmaudit.core.backend import Backend, StreamingBackend, check_capabilities
from lmaudit.core.cache import RequestCache, cache_key, is_cacheable
from lmaudit.core.identity import ServedModelCheck, ask_fresh, identify
from lmaudit.core.journal import ResponseJournal
from lmaudit.core.preflight import preflight_backend
from lmaudit.core.runlock import RunLock
from lmaudit.core.store import RunWriter, base_manifest, prepare_run_manifest, spec_hash
from lmaudit.core.task import Task, task_annotations
from lmaudit.core.types import (
    LmauditError,
    Request,
    RequestKind,
    Response,
    Sample,
    SampleRecord,
    request_key,
)
from lmaudit.core.usage import BudgetExhausted, CostMeter, sample_usage, usage_summary
from lmaudit.stats import Estimate

_CACHE_BATCH = 256


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run returns: where it is stored and its metrics."""

    run_dir: Path
    metrics: dict[str, Estimate]
    n_samples: int
    seconds: float
    usage: dict[str, Any] | None = None
    scoring_path: dict[str, Any] | None = None


class _AnswerSink:
    """Where every answer goes the moment it arrives: the answer list, the run journal,
    the request cache (in batches) and the cost meter."""

    def __init__(
        self,
        distinct: Sequence[Request],
        keys: Sequence[str],
        answers: list[Response | None],
        *,
        journal: ResponseJournal | None,
        cache: RequestCache | None,
        cache_keys: dict[int, str],
        model_key: str,
        meter: CostMeter | None,
        bar: tqdm[Any] | None,
    ) -> None:
        self.distinct, self.keys, self.answers = distinct, keys, answers
        self.journal, self.cache, self.cache_keys = journal, cache, cache_keys
        self.model_key, self.meter, self.bar = model_key, meter, bar
        self._pending: list[tuple[str, str, Response]] = []
        self._last_flush = time.monotonic()

    def put(self, index: int, response: Response) -> None:
        self.answers[index] = response
        if self.journal is not None:
            self.journal.append(self.keys[index], response)
        if self.meter is not None:
            self.meter.settle(self.distinct[index], response)
        key = self.cache_keys.get(index)
        if key is not None and not (response.usage is not None and response.usage.cached):
            self._pending.append((key, self.model_key, response))
            if len(self._pending) >= _CACHE_BATCH or time.monotonic() - self._last_flush > 1.0:
                self.flush()
        if self.bar is not None:
            self.bar.update(1)

    def flush(self) -> None:
        if self.cache is not None and self._pending:
            self.cache.put_many(self._pending)
        self._pending = []
        self._last_flush = time.monotonic()


def execute_requests(
    backend: Backend,
    requests: Sequence[Request],
    *,
    show_progress: bool = True,
    cache: RequestCache | None = None,
    journal: ResponseJournal | None = None,
    meter: CostMeter | None = None,
    chunk_size: int = 512,
    served: ServedModelCheck | None = None,
) -> list[Response]:
    """Answer requests, each distinct request once; results in input order.

    Answers already in the `journal` (a resumed run) or the `cache` are not sent again;
    with a cache, a served model is identified first and its cached answers are reused only
    while it is the same model (see `lmaudit.core.identity`: one request may be re-asked).
    A streaming backend answers everything at once and each answer is journaled as it
    arrives; other backends get chunks of `chunk_size` requests of one kind (the journal
    then advances chunk by chunk). `meter` may refuse requests (the budget): the finished
    answers are kept and `BudgetExhausted` is raised. `served`: the check of a backend
    asked many times in a run (a judge; `lmaudit.core.served_cache`), made once for the run
    instead of here.
    """
    unique: dict[Request, int] = {}
    for request in requests:
        unique.setdefault(request, len(unique))
    distinct = list(unique)
    keys = [request_key(r) for r in distinct]
    answers: list[Response | None] = [None] * len(distinct)
    if journal is not None:
        for i, key in enumerate(keys):
            known = journal.answers.get(key)
            answers[i] = known
            if meter is not None and known is not None:
                meter.settle(distinct[i], known)  # earlier attempts' spending counts
    if served is not None and cache is not None:
        check, fingerprint = served, served.fingerprint
    else:
        fingerprint = identify(backend) if cache is not None else backend.fingerprint
        check = ServedModelCheck(backend, cache, fingerprint)
    cache_keys: dict[int, str] = {}
    if cache is not None:
        cache_keys = {
            i: cache_key(fingerprint, distinct[i])
            for i, answer in enumerate(answers)
            if answer is None and is_cacheable(fingerprint, distinct[i])
        }
        hits = cache.get_many(list(cache_keys.values()))
        hit_indices = [i for i, key in cache_keys.items() if key in hits]
        if check.needs_probe(len(hit_indices)):
            probe = hit_indices[0]
            if meter is not None and not meter.admit(distinct[probe]):
                hits = {}  # the check cannot be paid for: nothing cached is reused
            else:
                fresh = ask_fresh(backend, distinct[probe])
                answers[probe] = fresh
                if meter is not None:
                    meter.settle(distinct[probe], fresh)
                if journal is not None:
                    journal.append(keys[probe], fresh)
                if not check.hits_still_valid():
                    hits = {}
                cache.put_many([(cache_keys[probe], fingerprint.key(), fresh)])
        for i, key in cache_keys.items():
            if key in hits and answers[i] is None:
                answers[i] = hits[key]
                if journal is not None:
                    journal.append(keys[i], hits[key])
    pending = [i for i, answer in enumerate(answers) if answer is None]
    streaming = isinstance(backend, StreamingBackend)
    with tqdm(
        total=len(distinct),
        initial=len(distinct) - len(pending),
        desc="requests",
        unit="req",
        disable=not show_progress or not distinct,
        file=sys.stderr,
        dynamic_ncols=True,
    ) as bar:
        sink = _AnswerSink(
            distinct,
            keys,
            answers,
            journal=journal,
            cache=cache,
            cache_keys=cache_keys,
            model_key=fingerprint.key(),
            meter=meter,
            bar=bar if streaming else None,
        )
        try:
            if streaming:
                _answer_streaming(backend, distinct, pending, sink, meter)  # type: ignore[arg-type]
            else:
                _answer_in_chunks(backend, distinct, pending, sink, meter, bar, chunk_size)
        finally:
            sink.flush()
            check.finish()
    missing = sum(answer is None for answer in answers)
    if missing:
        done = len(distinct) - missing
        if meter is not None and meter.refused:
            raise BudgetExhausted(
                f"stopped before exceeding the budget of ${meter.budget:.4f}: spent "
                f"${meter.spent:.4f}; {done} of {len(distinct)} requests answered, "
                f"{missing} not sent"
            )
        raise LmauditError(f"the backend answered only {done} of {len(distinct)} requests")
    return [answers[unique[r]] for r in requests]  # type: ignore[misc]


def _answer_streaming(
    backend: StreamingBackend,
    distinct: Sequence[Request],
    pending: Sequence[int],
    sink: _AnswerSink,
    meter: CostMeter | None,
) -> None:
    if not pending:
        return
    stream = backend.stream(
        [distinct[i] for i in pending], admit=None if meter is None else meter.admit
    )
    try:
        for j, response in stream:
            sink.put(pending[j], response)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def _answer_in_chunks(
    backend: Backend,
    distinct: Sequence[Request],
    pending: Sequence[int],
    sink: _AnswerSink,
    meter: CostMeter | None,
    bar: tqdm[Any],
    chunk_size: int,
) -> None:
    methods: dict[RequestKind, Callable[..., list[Any]]] = {
        RequestKind.LOGLIKELIHOOD: backend.loglikelihood,
        RequestKind.LOGLIKELIHOOD_ROLLING: backend.loglikelihood_rolling,
        RequestKind.GENERATE: backend.generate,
    }
    by_kind: dict[RequestKind, list[int]] = {}
    for i in pending:
        by_kind.setdefault(distinct[i].kind, []).append(i)
    for kind, indices in by_kind.items():
        bar.set_description(kind.value)
        for start in range(0, len(indices), chunk_size):
            chunk = indices[start : start + chunk_size]
            if meter is not None:
                admitted = 0
                while admitted < len(chunk) and meter.admit(distinct[chunk[admitted]]):
                    admitted += 1
                chunk = chunk[:admitted]
            if not chunk:
                return
            results = methods[kind]([distinct[i] for i in chunk], progress=bar.update)
            for i, result in zip(chunk, results, strict=True):
                sink.put(i, result)
            if meter is not None and meter.refused:
                return


def select_samples(task: Task, limit: int | None) -> list[Sample]:
    samples = task.samples()
    return samples if limit is None else samples[:limit]


def evaluate_with_responses(
    task: Task,
    backend: Backend,
    samples: Sequence[Sample],
    *,
    show_progress: bool = True,
    cache: RequestCache | None = None,
    journal: ResponseJournal | None = None,
    meter: CostMeter | None = None,
    chunk_size: int = 512,
) -> tuple[list[SampleRecord], list[Response]]:
    """Score samples with a backend; also return each distinct answer once (for usage)."""
    check_capabilities(backend, task.request_kinds, task=task.name)
    per_sample = [task.requests(sample) for sample in samples]
    flat = [request for requests in per_sample for request in requests]
    responses = execute_requests(
        backend,
        flat,
        show_progress=show_progress,
        cache=cache,
        journal=journal,
        meter=meter,
        chunk_size=chunk_size,
    )
    records: list[SampleRecord] = []
    offset = 0
    for sample, requests in zip(samples, per_sample, strict=True):
        answered = responses[offset : offset + len(requests)]
        record = task.score(sample, answered)
        usage = sample_usage(answered)
        if usage.prompt_tokens or usage.completion_tokens or usage.latency_s:
            record = dataclasses.replace(record, usage=usage)
        records.append(record)
        offset += len(requests)
    distinct = list({id(r): r for r in responses}.values())
    return records, distinct


def evaluate(
    task: Task, backend: Backend, samples: Sequence[Sample], *, show_progress: bool = True
) -> list[SampleRecord]:
    """Score samples with a backend: no I/O besides the backend's."""
    return evaluate_with_responses(task, backend, samples, show_progress=show_progress)[0]


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
        **task_annotations(task),
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
    cache: RequestCache | None = None,
    meter: CostMeter | None = None,
    invocation: dict[str, Any] | None = None,
    resume: bool = False,
    chunk_size: int = 512,
) -> RunOutcome:
    """Evaluate `task` on `backend` and store everything in `run_dir`.

    The served model is identified first (an API backend asks its server, so a wrong key
    fails here). `run_dir` is locked while it is written (a second writer refuses). Every
    answer is journaled in `run_dir` as it arrives; an unfinished `run_dir` of the same
    model and task is resumed without sending its journaled requests again.
    `invocation` (model spec and options, task and options, limit, seed) is stored in the
    manifest so that `lmaudit run --resume RUN_DIR` can rebuild the run; credentials in
    URLs are redacted from everything stored.
    """
    start = time.perf_counter()
    spec = task.spec()
    samples = select_samples(task, limit)
    for verifier in getattr(task, "verifiers", ()):  # a judge's replies go in the cache too
        use_cache = getattr(verifier, "use_cache", None)
        if callable(use_cache):  # the judge is identified here, once for the run
            use_cache(cache)
    ignored = preflight_backend(task, backend, samples)  # fails before any request is sent
    fingerprint = identify(backend)
    served = getattr(backend, "served_model", None)
    manifest = base_manifest(
        kind="run",
        model_spec=model_spec,
        model_fingerprint=fingerprint.key(),
        **({"served_model": served} if served else {}),
        task=task.name,
        task_spec=spec,
        task_spec_hash=spec_hash(spec),
        limit=limit,
        seed=seed,
        n_samples=len(samples),
        invocation=invocation,
        **({"thinking_not_applied": ignored} if ignored else {}),
    )
    run_dir = Path(run_dir)
    prepare_run_manifest(run_dir, manifest, resume=resume)  # refuse early, before locking
    with RunLock(run_dir):
        manifest = prepare_run_manifest(run_dir, manifest, resume=resume)
        writer = RunWriter(run_dir, manifest)
        journal = ResponseJournal(run_dir)
        try:
            records, responses = evaluate_with_responses(
                task,
                backend,
                samples,
                show_progress=show_progress,
                cache=cache,
                journal=journal,
                meter=meter,
                chunk_size=chunk_size,
            )
        except LmauditError as error:
            raise type(error)(
                f"{error}. Finished answers are kept in {run_dir}; continue with "
                f"`lmaudit run --resume {run_dir}`"
            ) from error
        finally:
            journal.close()
        prompt_format = getattr(backend, "prompt_format", None)
        if isinstance(prompt_format, dict):  # chat template hash and BOS handling
            writer.update_manifest(prompt_format=prompt_format)
        notes = getattr(backend, "generation_notes", None)
        if notes:  # e.g. max_tokens shrunk to fit the context: said once, recorded here
            writer.update_manifest(generation_budget=list(notes))
        writer.append(records)
        metrics = aggregate_records(task.metrics, records, seed=seed)
        seconds = time.perf_counter() - start
        price = None if meter is None else meter.price
        extra: dict[str, Any] = {"seconds": round(seconds, 3)}
        usage = usage_summary(responses, price)
        if usage["prompt_tokens"] or usage["completion_tokens"] or usage["cached"] or price:
            extra["usage"] = usage
        scoring_path = getattr(backend, "scoring_path", None)
        if scoring_path is not None:  # how multiple choice was scored (packed, copy, naive)
            extra["scoring_path"] = scoring_path
            writer.update_manifest(scoring_path=scoring_path)
        writer.finish(results_payload(task, metrics, len(records), **extra))
    return RunOutcome(
        run_dir=run_dir,
        metrics=metrics,
        n_samples=len(records),
        seconds=seconds,
        usage=extra.get("usage"),
        scoring_path=scoring_path,
    )
