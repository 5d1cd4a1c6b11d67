"""Run independent bootstrap chunks in worker processes (fork where available).

Large read-only inputs go in `shared`: with the fork start method children inherit them
without pickling; elsewhere they are passed with each job.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

Result = TypeVar("Result")

_SHARED: dict[str, Any] = {}


def default_workers() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def shared(job: Mapping[str, Any], name: str) -> Any:
    """A shared input, from the job when it travelled with it, else from the parent."""
    return job[name] if name in job else _SHARED[name]


def map_chunks(
    function: Callable[[dict[str, Any]], Result],
    jobs: Sequence[dict[str, Any]],
    workers: int | None,
    inputs: Mapping[str, Any],
) -> list[Result]:
    """`[function(job) for job in jobs]`, spread over `workers` processes."""
    workers = min(default_workers() if workers is None else max(1, workers), len(jobs))
    if workers <= 1:
        return [function({**job, **inputs}) for job in jobs]
    fork = "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if fork else None)
    payload = list(jobs) if fork else [{**job, **inputs} for job in jobs]
    _SHARED.update(inputs)
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            return list(pool.map(function, payload))
    finally:
        for name in inputs:
            _SHARED.pop(name, None)
