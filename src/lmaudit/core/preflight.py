"""Checks of a task's inputs that must fail before a model is loaded.

Loading a model takes seconds to minutes (and an API run may cost money); everything that
only depends on the task and its data is checked first: the data loads and holds samples,
every template fills, and every sample's requests can be built (enough few-shot examples
in the pool, every group of a grouped pool included).
"""

from __future__ import annotations

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
