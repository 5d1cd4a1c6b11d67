"""The Report stage: typed results rendered to the terminal, JSON and one offline HTML file.

`load_report` reads run, probe, contamination and audit directories into an `AuditReport`
(frozen dataclasses, `report.model`); `render_terminal`, `render_json` and `write_html`
render those same objects. A new capability adds a section, not a printer.
"""

from __future__ import annotations

from lmaudit.report.html import render_html, write_html
from lmaudit.report.json_render import render_json
from lmaudit.report.loading import load_report
from lmaudit.report.model import AuditReport, TrustCard
from lmaudit.report.terminal import render_terminal

__all__ = [
    "AuditReport",
    "TrustCard",
    "load_report",
    "render_html",
    "render_json",
    "render_terminal",
    "write_html",
]
