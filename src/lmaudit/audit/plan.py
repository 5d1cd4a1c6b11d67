"""Stage planning: a suite × models → the ordered list of stages of an audit.

Each stage is one run directory inside the audit directory:

- `run`: id `run/<model>/<task>`, dir `runs/<model>/<task>`;
- `prompt_variant` (variant: its name): `prompt_variant/<model>/<task>/<name>`,
  dir `runs/<model>/<task>@<name>`;
- `probe` (variant: its name): `probe/<model>/<task>/<name>`, dir `probes/<model>/<task>-<name>`;
- `contamination` (variant `likelihood`): `contamination/<model>/<task>/likelihood`,
  dir `contamination/<model>/<task>`;
- `contamination` (variant `scan`): `contamination/-/<task>/scan`, dir `contamination-scan/<task>`.

A scan does not depend on a model: its `model` is None.

`<model>` in ids is the model spec as given; in directories it is the spec's target with
anything but letters, digits and `-_.` replaced (`lab:demo-clean` → `demo-clean`), with the
kind prefixed (`hf_...`) when two models of an audit would otherwise share a folder.
Stages are grouped by model (model-independent scans first) so that each model is loaded
once and freed before the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lmaudit.audit.suite import Suite, TaskSpec
from lmaudit.core.types import LmauditError

KINDS = ("run", "probe", "contamination", "prompt_variant")


@dataclass(frozen=True)
class StagePlan:
    """One planned stage: what to compute (`spec`: the suite entry) and where (`dir`,
    relative to the audit directory, POSIX separators)."""

    id: str
    kind: str
    model: str | None
    task: str
    variant: str | None
    dir: str
    task_spec: TaskSpec
    limit: int | None


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text) or "_"


def model_dirs(models: Sequence[str]) -> dict[str, str]:
    """A distinct folder name per model spec (see the module docstring)."""
    if len(set(models)) != len(models):
        raise LmauditError("--model: each model may be given once")
    short = {m: _safe(m.partition(":")[2] or m) for m in models}
    names = list(short.values())
    return {m: (s if names.count(s) == 1 else _safe(m)) for m, s in short.items()}


def effective_limit(task: TaskSpec, limit: int | None) -> int | None:
    """The smaller of the suite's per-task limit and the command's `--limit`."""
    limits = [n for n in (task.limit, limit) if n is not None]
    return min(limits) if limits else None


def plan_stages(
    suite: Suite, models: Sequence[str], *, limit: int | None = None
) -> list[StagePlan]:
    """Every stage of auditing `models` on `suite`, in execution order."""
    if not models:
        raise LmauditError("an audit needs at least one --model")
    if limit is not None and limit < 1:
        raise LmauditError(f"--limit must be a positive number, got {limit}")
    folders = model_dirs(models)
    stages = [
        StagePlan(f"contamination/-/{t.id}/scan", "contamination", None, t.id, "scan",
                  f"contamination-scan/{t.id}", t, effective_limit(t, limit))
        for t in suite.tasks if t.scan is not None
    ]
    for model in models:
        folder = folders[model]
        for t in suite.tasks:
            n = effective_limit(t, limit)
            stages.append(StagePlan(f"run/{model}/{t.id}", "run", model, t.id, None,
                                    f"runs/{folder}/{t.id}", t, n))
            stages.extend(
                StagePlan(f"prompt_variant/{model}/{t.id}/{p.name}", "prompt_variant", model,
                          t.id, p.name, f"runs/{folder}/{t.id}@{p.name}", t, n)
                for p in t.prompts
            )
            stages.extend(
                StagePlan(f"probe/{model}/{t.id}/{p.name}", "probe", model, t.id, p.name,
                          f"probes/{folder}/{t.id}-{p.name}", t, n)
                for p in t.probes
            )
            if t.likelihood is not None:
                stages.append(StagePlan(
                    f"contamination/{model}/{t.id}/likelihood", "contamination", model, t.id,
                    "likelihood", f"contamination/{folder}/{t.id}", t, n,
                ))
    return stages
