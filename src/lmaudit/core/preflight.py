"""Checks of a task's inputs that must fail before a model is loaded.

Loading a model takes seconds to minutes (and an API run may cost money); everything that
only depends on the task and its data is checked first: the data loads and holds samples,
every template fills, and every sample's requests can be built (enough few-shot examples
in the pool, every group of a grouped pool included). Once the model is loaded,
`preflight_backend` checks what the backend can do before any request is sent: the
request kinds and the thinking controls (`core.backend.check_thinking`).
"""

from __future__ import annotations

import sys

from lmaudit.core.backend import Backend, check_capabilities, check_thinking
from lmaudit.core.task import Task
from lmaudit.core.types import Sample


def preflight(task: Task, limit: int | None = None) -> list[Sample]:
    """The samples a run of `task` will evaluate (first `limit`), after building every
    sample's requests once; raises the task's own `LmauditError` on any problem."""
    samples = task.samples()
    selected = samples if limit is None else samples[:limit]
    for sample in selected:
        task.requests(sample)
    return selected


def preflight_backend(task: Task, backend: Backend, samples: list[Sample]) -> list[str]:
    """Fail (one line) when `backend` cannot answer `samples`' requests as asked; a
    thinking control it ignores (`thinking_effort` on HF, vLLM) is warned about once on
    stderr, and its line returned for the run's manifest (`thinking_not_applied`)."""
    check_capabilities(backend, task.request_kinds, task=task.name)
    requests = (request for sample in samples for request in task.requests(sample))
    ignored = check_thinking(backend, requests, task=task.name)
    for note in ignored:
        print(f"warning: {note}", file=sys.stderr)
    return ignored
