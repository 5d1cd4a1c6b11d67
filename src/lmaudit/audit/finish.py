"""The end of an audit: the Report stage's outputs, or a status table while it is absent.

`lmaudit.report` renders every output from the same typed report (`load_report`): the
terminal summary, `report.html` in the audit directory and, on request, JSON. Until that
API is installed (or when the report cannot be built), `finish_audit` gives the stage table
from `audit.json` instead; the audit's runs stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def report_api() -> Any | None:
    """The `lmaudit.report` module when it offers the Report stage's API, else None."""
    import lmaudit.report as report

    names = ("load_report", "render_terminal", "write_html", "render_json")
    return report if all(hasattr(report, n) for n in names) else None


def status_table(index: AuditIndex) -> str:
    """One line per stage: state, id, directory, error."""
    width = max((len(s.id) for s in index.stages), default=0)
    lines = [f"{s.state:<8} {s.id:<{width}}  {s.dir}" + (f"\n         {s.error}" if s.error
                                                           else "") for s in index.stages]
    return "\n".join([f"audit · suite {index.suite['name']} · {', '.join(index.models)}",
                      *lines])


def finish_audit(audit_dir: Path, index: AuditIndex, *, json_file: Path | None = None
                 ) -> AuditSummary:
    """Build the report of `audit_dir`: terminal summary, report.html, optional JSON."""
    api = report_api()
    if api is None:
        return AuditSummary(status_table(index) + "\n(report stage not installed: no "
                            "report.html written)", None, None)
    try:
        report = api.load_report([Path(audit_dir)])
        html = Path(audit_dir) / REPORT_HTML
        api.write_html(report, html)
        written = None
        if json_file is not None:
            json_file = Path(json_file)
            json_file.parent.mkdir(parents=True, exist_ok=True)
            text = api.render_json(report)
            json_file.write_text(text if isinstance(text, str) else str(text), encoding="utf-8")
            written = json_file
        return AuditSummary(str(api.render_terminal(report)), html, written)
    except (LmauditError, OSError) as error:
        message = f"the report could not be built: {error}"
        return AuditSummary(f"{status_table(index)}\n{message}", None, None, message)
