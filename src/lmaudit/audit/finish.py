"""The end of an audit: the Report stage's outputs (or, if the report cannot be built, the
stage table from `audit.json`, so the user still sees what was done; the runs stay as they
are).

`lmaudit.report` renders every output from the same typed report (`load_report`): the
terminal summary, `report.html` in the audit directory and, on request, JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmaudit import report
from lmaudit.audit.index import AuditIndex
from lmaudit.core.types import LmauditError

REPORT_HTML = "report.html"


@dataclass(frozen=True)
class AuditSummary:
    """What to print at the end, and the files written (None when not written)."""

    text: str
    html: Path | None
    json: Path | None
    error: str | None = None


def status_table(index: AuditIndex) -> str:
    """One line per stage: state, id, directory, error."""
    width = max((len(s.id) for s in index.stages), default=0)
    lines = [f"{s.state:<8} {s.id:<{width}}  {s.dir}" + (f"\n         {s.error}" if s.error
                                                           else "") for s in index.stages]
    return "\n".join([f"audit · suite {index.suite['name']} · {', '.join(index.models)}",
                      *lines])


def finish_audit(audit_dir: Path, index: AuditIndex, *, json_file: Path | None = None,
                 pricing: Any = None) -> AuditSummary:
    """Build the report of `audit_dir`: terminal summary, report.html, optional JSON;
    `pricing`: a `report.compute.Pricing` for the cost section."""
    try:
        built = report.load_report([Path(audit_dir)], pricing)
        html = report.write_html(built, Path(audit_dir) / REPORT_HTML)
        written = None
        if json_file is not None:
            json_file = Path(json_file)
            json_file.parent.mkdir(parents=True, exist_ok=True)
            payload = json.dumps(report.render_json(built), indent=2, ensure_ascii=False)
            json_file.write_text(payload + "\n", encoding="utf-8")
            written = json_file
        return AuditSummary(report.render_terminal(built), html, written)
    except (LmauditError, OSError) as error:
        message = f"the report could not be built: {error}"
        return AuditSummary(f"{status_table(index)}\n{message}", None, None, message)
