"""Audits: one command that evaluates models on a suite and collects the evidence for or
against every score (runs, probes, contamination tests, prompt variants).

- `suite`: suite files (YAML) and the built-in suites in `suites/`;
- `plan`: the stages of an audit (one run directory each);
- `index`: `audit.json`, the audit directory's index of stages and their states;
- `stages`: each stage computed by the library function its command uses;
- `journaled`: a journaling backend wrapper (resumable probe stages);
- `prompts`: prompt variants of a task;
- `orchestrate`: `run_audit` (resumable, one model load per model);
- `finish`: the report at the end.
"""

from __future__ import annotations

from lmaudit.audit.index import AUDIT_JSON, AuditIndex, StageState, read_index
from lmaudit.audit.orchestrate import AuditOutcome, run_audit
from lmaudit.audit.stages import StageContext
from lmaudit.audit.suite import Suite, builtin_suites, load_suite

__all__ = [
    "AUDIT_JSON",
    "AuditIndex",
    "AuditOutcome",
    "StageContext",
    "StageState",
    "Suite",
    "builtin_suites",
    "load_suite",
    "read_index",
    "run_audit",
]
