"""`lmaudit probe generate`: instances of a template directory as JSON lines.

Instance indices: for seed S and count N, template t yields instances
`S * SEED_STRIDE + 1 ... S * SEED_STRIDE + N` (each deterministic in (template id,
index), see `lmaudit.probes.templates.instantiate`); with `original`, instance 0 (the
template's original values) comes first. A template that cannot be parsed, or whose
conditions cannot be met, is reported as (source, reason); the others still run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmaudit.core.types import LmauditError
from lmaudit.probes.templates import (
    Instance,
    TemplateError,
    instantiate,
    load_template_dir,
    original_instance,
)

SEED_STRIDE = 100_000
NAMED_LIBRARIES = ("arith",)


def resolve_template_dir(name_or_dir: str) -> Path:
    """A directory path, or a bundled library name (`arith`)."""
    path = Path(name_or_dir)
    if path.is_dir():
        return path
    if name_or_dir in NAMED_LIBRARIES:
        from lmaudit.tasks.arith import DATA_DIR

        return DATA_DIR
    raise LmauditError(
        f"--templates {name_or_dir!r}: not a directory nor a bundled library "
        f"({', '.join(NAMED_LIBRARIES)})"
    )


def instance_record(instance: Instance) -> dict[str, Any]:
    """One output line: template_id, instance, variables (JSON-safe), question, answer."""
    return {
        "template_id": instance.template_id,
        "instance": instance.instance,
        "variables": instance.plain_variables(),
        "question": instance.question,
        "answer": instance.answer,
    }


@dataclass(frozen=True)
class GenerateResult:
    records: list[dict[str, Any]]
    failures: list[tuple[str, str]]
    n_templates: int


def generate_instances(
    templates_dir: str | Path, n: int, seed: int = 0, *, original: bool = False
) -> GenerateResult:
    """Every loadable template's instances (see the module docstring), and the failures."""
    if n < 0:
        raise LmauditError(f"--n must be non-negative, got {n}")
    if seed < 0:
        raise LmauditError(f"--seed must be non-negative, got {seed}")
    templates, failures = load_template_dir(templates_dir)
    records: list[dict[str, Any]] = []
    for template in templates:
        try:
            records.extend(instance_record(i) for i in _instances(template, n, seed, original))
        except TemplateError as error:
            failures.append((template.path or template.id, str(error)))
    return GenerateResult(records, failures, len(templates))


def _instances(template: Any, n: int, seed: int, original: bool) -> Iterator[Instance]:
    made: list[Instance] = []
    if original:
        made.append(original_instance(template))
    base = seed * SEED_STRIDE
    made.extend(instantiate(template, base + k) for k in range(1, n + 1))
    yield from made  # all or nothing per template: a failure drops the template's lines
