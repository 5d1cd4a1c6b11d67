"""`lab_codes`: recall of the lab's code facts (`lmaudit.lab.codes`), for offline size sweeps.

Prompt `The code of <person> is`, greedy answer stopped at the first newline, scored by
exact match (`exact`: whitespace-normalized equality with the code, e.g. `4 8 1 9 3`).
"""

from __future__ import annotations

from lmaudit.core.task import Task
from lmaudit.core.types import Sample
from lmaudit.tasks.generic import GenerateTask
from lmaudit.tasks.registry import TaskOptions, register_task


@register_task(
    "lab_codes",
    "recall of the lab's code facts (lab size sweeps); exact match on a multi-digit code",
    task_type="generate",
)
def lab_codes_task(**options: str) -> Task:
    """The first `facts` facts with codes of `digits` digits (defaults 200 and 5: the
    corpus the `lab-xs`/`lab-s`/`lab-m` models train on)."""
    from lmaudit.lab.codes import DEFAULT_DIGITS, DEFAULT_FACTS, MAX_FACTS, code_facts

    opts = TaskOptions("lab_codes", options, {
        "facts": f"number of facts, 1 to {MAX_FACTS} (default {DEFAULT_FACTS})",
        "digits": f"digits per code (default {DEFAULT_DIGITS})",
    })
    n = opts.integer("facts", DEFAULT_FACTS, minimum=1)
    digits = opts.integer("digits", DEFAULT_DIGITS, minimum=1)

    def load() -> list[Sample]:
        return [Sample(f.id, f.prompt, f.code) for f in code_facts(n, digits)]

    return GenerateTask(
        "lab_codes", load, scorer="exact", max_tokens=2 * digits + 2, stop=("\n",),
        config={"task_version": "lab_codes-v1", "options": opts.spec()},
    )
