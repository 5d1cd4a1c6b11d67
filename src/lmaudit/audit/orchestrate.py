"""The audit: plan the stages, run each one not finished yet, keep `audit.json` current.

- Stages run grouped by model: each model is loaded once, used by all its stages, then
  freed before the next one is loaded (model-independent corpus scans run first).
- A stage whose directory holds its completion marker is skipped (never recomputed); an
  unfinished one (e.g. left `running` by a killed audit) resumes from its directory.
- A failing stage records a one-line error and the audit goes on with the others.
- `audit.json` is rewritten atomically after every state change.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmaudit.audit.index import AuditIndex, new_index, read_index, resumed_index, write_index
from lmaudit.audit.plan import StagePlan, plan_stages
from lmaudit.audit.stages import (
    StageContext,
    check_finished_stages,
    check_stage_inputs,
    run_stage,
    stage_done,
)
from lmaudit.audit.suite import Suite
from lmaudit.core.types import LmauditError

log = logging.getLogger(__name__)
ModelLoader = Callable[[str], Any]
_MAX_ERROR = 400


@dataclass(frozen=True)
class AuditOutcome:
    """A finished (or partly failed) audit: its index, and which stages this call computed
    and which it found finished already."""

    audit_dir: Path
    index: AuditIndex
    computed: tuple[str, ...]
    skipped: tuple[str, ...]
    seconds: float

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.index.stages if s.state == "failed")


def one_line(error: BaseException) -> str:
    """An exception as one line of at most 400 characters (LmauditError without its type)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if not isinstance(error, LmauditError):
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 1] + "…"


def change_plan(suite: Suite, models: Sequence[str], baseline: str | None,
                targets: Sequence[str]) -> dict[str, Any] | None:
    """audit.json's `change` entry: the baseline and every task's role; None without a
    baseline. `targets` given: exactly those tasks are `target` (others keep their suite
    role, a suite `target` becoming `general`)."""
    if baseline is None:
        if targets:
            raise LmauditError("--target needs --baseline (the model the others are "
                               "compared with)")
        return None
    if baseline not in models:
        raise LmauditError(f"--baseline {baseline}: not one of the --model specs "
                           f"({', '.join(models)})")
    if len(models) < 2:
        raise LmauditError("--baseline needs at least one other --model to compare with it")
    ids = [t.id for t in suite.tasks]
    for task in targets:
        if task not in ids:
            raise LmauditError(f"--target {task}: suite {suite.name} has no such task "
                               f"(tasks: {', '.join(ids)})")
    roles = {}
    for t in suite.tasks:
        role = t.role
        if targets:
            role = "target" if t.id in targets else ("general" if role == "target" else role)
        roles[t.id] = role
    return {"baseline": baseline, "roles": roles}


def free_model(backend: Any) -> None:
    """Close a backend and give its memory back (CUDA cache included)."""
    close = getattr(backend, "close", None)
    if callable(close):
        close()
    del backend
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _groups(stages: Sequence[StagePlan]) -> list[tuple[str | None, list[StagePlan]]]:
    groups: dict[str | None, list[StagePlan]] = {}
    for stage in stages:
        groups.setdefault(stage.model, []).append(stage)
    return list(groups.items())


class _Progress:
    """Keeps the index, writes audit.json on every change, prints one line per stage."""

    def __init__(self, audit_dir: Path, index: AuditIndex, echo: Callable[[str], None]):
        self.audit_dir, self.index, self.echo = audit_dir, index, echo
        self.total = len(index.stages)
        write_index(audit_dir, index)

    def set(self, stage: StagePlan, state: str, error: str | None = None) -> None:
        self.index = self.index.with_state(stage.id, state, error)
        write_index(self.audit_dir, self.index)

    def say(self, stage: StagePlan, text: str) -> None:
        number = [s.id for s in self.index.stages].index(stage.id) + 1
        self.echo(f"[{number}/{self.total}] {stage.id}: {text}")


def run_audit(
    suite: Suite,
    models: Sequence[str],
    audit_dir: Path,
    *,
    load_model: ModelLoader,
    limit: int | None = None,
    context: StageContext | None = None,
    command: Sequence[str] = (),
    echo: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    baseline: str | None = None,
    targets: Sequence[str] = (),
) -> AuditOutcome:
    """Audit `models` on `suite` into `audit_dir` (resuming an audit already there).

    `load_model(spec)` builds a backend; it is called once per model that has unfinished
    stages. `baseline` (one of `models`) makes it a before/after audit whose report holds
    the change matrix; `targets` (task ids) replace the suite's `role: target` tasks.
    Raises LmauditError before any work when the plan or its inputs are invalid or the
    directory holds another audit; stage failures are recorded, not raised.
    """
    start = time.perf_counter()
    context = context or StageContext()
    audit_dir = Path(audit_dir)
    stages = plan_stages(suite, models, limit=limit)
    check_stage_inputs(stages)
    fresh = new_index(suite, models, stages, command,
                      change_plan(suite, models, baseline, targets))
    previous = read_index(audit_dir)
    index = fresh if previous is None else resumed_index(previous, fresh, audit_dir)
    check_finished_stages(stages, audit_dir)
    audit_dir.mkdir(parents=True, exist_ok=True)
    for stage in stages:  # the directories say what is finished, whatever the index said
        finished = stage_done(stage, audit_dir)
        index = index.with_state(stage.id, "done" if finished else "pending")
    progress = _Progress(audit_dir, index, echo)
    computed: list[str] = []
    skipped = [s.id for s in stages if stage_done(s, audit_dir)]
    for model, group in _groups(stages):
        todo = [s for s in group if not stage_done(s, audit_dir)]
        if not todo:
            continue
        backend = None
        if model is not None:
            try:
                backend = load_model(model)
            except Exception as error:  # recorded; the audit goes on
                message = f"model {model} could not be loaded: {one_line(error)}"
                for stage in todo:
                    progress.set(stage, "failed", message)
                    progress.say(stage, "failed: " + message)
                continue
        try:
            for stage in todo:
                _run_one(stage, audit_dir, backend, context, progress)
                computed.append(stage.id)
        finally:
            if backend is not None:
                free_model(backend)
    return AuditOutcome(audit_dir, progress.index, tuple(computed), tuple(skipped),
                        time.perf_counter() - start)


def _run_one(
    stage: StagePlan, audit_dir: Path, backend: Any, context: StageContext, progress: _Progress
) -> None:
    progress.set(stage, "running")
    began = time.perf_counter()
    try:
        references = run_stage(stage, audit_dir, backend, context)
    except Exception as error:  # recorded; the audit goes on
        log.debug("stage %s failed", stage.id, exc_info=True)
        progress.set(stage, "failed", one_line(error))
        progress.say(stage, f"failed: {one_line(error)}")
        return
    if references is not None:
        progress.index = progress.index.with_task_references(stage.task, references)
    progress.set(stage, "done")
    progress.say(stage, f"done ({time.perf_counter() - began:.1f} s)")

