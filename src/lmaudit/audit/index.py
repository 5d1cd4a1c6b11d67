"""`audit.json`: the index of an audit directory (its runs and their stage states).

```json
{"format": "lmaudit.audit/1",
 "suite": {"name": "demo", "path": null, "sha256": "..."},
 "models": ["lab:demo-clean", "lab:demo-contaminated"],
 "command": ["lmaudit", "audit", "..."],
 "created": "2026-01-01T00:00:00+00:00", "lmaudit_version": "0.1.0",
 "references": {"arith": {"chance": 0.0, "human": null},
                "mmlu": {"chance": 0.25, "human": {"expert": 0.898}}},
 "stages": [{"id": "run/lab:demo-clean/arith", "kind": "run", "model": "lab:demo-clean",
             "task": "arith", "variant": null, "dir": "runs/demo-clean/arith",
             "state": "done", "error": null}],
 "change": {"baseline": "lab:base", "roles": {"arith": "target"}}}
```

`change` is present only in a before/after audit (`--baseline`): the baseline model and
each task's role (target, general, format, safety).

`kind` is `run`, `probe`, `contamination` or `prompt_variant`; `variant` is null for a run,
the probe's name (e.g. `symbolic`), `likelihood` or `scan` for contamination (a scan has
`model: null`), the prompt variant's name. `dir` is relative to the audit directory.
`state` is `pending`, `running`, `done` or `failed` (then `error` holds one line).
The file is rewritten atomically (temporary file + `os.replace`) after every state change.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from lmaudit import __version__
from lmaudit.audit.plan import StagePlan
from lmaudit.audit.suite import Suite
from lmaudit.core.types import LmauditError

AUDIT_JSON = "audit.json"
FORMAT = "lmaudit.audit/1"
STATES = ("pending", "running", "done", "failed")


@dataclass(frozen=True)
class StageState:
    """One row of `stages` in audit.json."""

    id: str
    kind: str
    model: str | None
    task: str
    variant: str | None
    dir: str
    state: str = "pending"
    error: str | None = None


@dataclass(frozen=True)
class AuditIndex:
    """The whole of audit.json."""

    suite: dict[str, Any]
    models: tuple[str, ...]
    command: tuple[str, ...]
    created: str
    lmaudit_version: str
    references: dict[str, Any]
    stages: tuple[StageState, ...]
    change: dict[str, Any] | None = None  # before/after: {"baseline": spec, "roles": {..}}

    def to_dict(self) -> dict[str, Any]:
        change = {} if self.change is None else {"change": self.change}
        return {
            "format": FORMAT,
            "suite": dict(self.suite),
            "models": list(self.models),
            "command": list(self.command),
            "created": self.created,
            "lmaudit_version": self.lmaudit_version,
            "references": self.references,
            "stages": [asdict(s) for s in self.stages],
            **change,
        }

    def with_state(self, stage_id: str, state: str, error: str | None = None) -> AuditIndex:
        """A copy with one stage's state (and error) changed."""
        if state not in STATES:
            raise ValueError(f"unknown stage state {state!r}")
        stages = tuple(
            replace(s, state=state, error=error) if s.id == stage_id else s for s in self.stages
        )
        return replace(self, stages=stages)

    def with_task_references(self, task: str, references: Mapping[str, Any]) -> AuditIndex:
        """A copy in which a task whose suite gives no reference lines (chance and human
        both null) takes `references` (the task's own)."""
        current = self.references.get(task) or {}
        if current.get("chance") is not None or current.get("human") is not None:
            return self
        return replace(self, references={**self.references, task: dict(references)})

    def stage(self, stage_id: str) -> StageState:
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise KeyError(stage_id)


def new_index(
    suite: Suite, models: Sequence[str], stages: Sequence[StagePlan], command: Sequence[str],
    change: Mapping[str, Any] | None = None,
) -> AuditIndex:
    """The index of a fresh audit: every stage pending. `change`: the baseline and task
    roles of a before/after audit (kept in audit.json as `change`)."""
    return AuditIndex(
        suite={"name": suite.name, "path": None if suite.path is None else str(suite.path),
               "sha256": suite.sha256},
        models=tuple(models),
        command=tuple(command),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        lmaudit_version=__version__,
        references={t.id: t.references.to_dict() for t in suite.tasks},
        stages=tuple(StageState(s.id, s.kind, s.model, s.task, s.variant, s.dir)
                     for s in stages),
        change=None if change is None else dict(change),
    )


def write_index(audit_dir: Path, index: AuditIndex) -> Path:
    """Write audit.json atomically (a reader never sees a half-written file)."""
    path = Path(audit_dir) / AUDIT_JSON
    tmp = path.with_name(f".{AUDIT_JSON}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(index.to_dict(), indent=2, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_index(audit_dir: Path) -> AuditIndex | None:
    """The audit.json of a directory, None when it has none."""
    path = Path(audit_dir) / AUDIT_JSON
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != FORMAT:
            raise LmauditError(f"{path}: unknown format {raw.get('format')!r}")
        return AuditIndex(
            suite=dict(raw["suite"]), models=tuple(raw["models"]), command=tuple(raw["command"]),
            created=str(raw["created"]), lmaudit_version=str(raw["lmaudit_version"]),
            references=dict(raw["references"]),
            stages=tuple(StageState(**s) for s in raw["stages"]),
            change=raw.get("change"),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise LmauditError(f"{path} is damaged ({error}); choose another --out") from None


def resumed_index(previous: AuditIndex, fresh: AuditIndex, audit_dir: Path) -> AuditIndex:
    """Continue `previous` (the stored index) with the plan of `fresh`: same suite (sha256)
    and models, or a clear error. Finished stages keep their state; the others start over
    as pending (a stage left `running` by a killed audit resumes from its run directory)."""
    if previous.suite.get("sha256") != fresh.suite.get("sha256"):
        raise LmauditError(
            f"{audit_dir} holds an audit of another suite ({previous.suite.get('name')}, "
            f"sha256 {str(previous.suite.get('sha256'))[:12]}); choose another --out"
        )
    if previous.models != fresh.models:
        raise LmauditError(
            f"{audit_dir} holds an audit of models {', '.join(previous.models)}; "
            "give the same --model list or choose another --out"
        )
    done = {s.id for s in previous.stages if s.state == "done"}
    stages = tuple(replace(s, state="done") if s.id in done else s for s in fresh.stages)
    resumed = replace(fresh, created=previous.created, stages=stages)
    for task, refs in previous.references.items():  # task-given lines found last time
        if task in fresh.references and refs:
            resumed = resumed.with_task_references(task, refs)
    return resumed
