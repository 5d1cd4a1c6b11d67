"""`write_html`: the report as one offline HTML file.

No CDN and no network: the stylesheet and the script are inline, and a
Content-Security-Policy forbids every other load (`default-src 'none'`; the inline style
and script are allowed by their sha256 hashes; images only as `data:`). The summary
(cards, comparison, probes, prompt sensitivity, reproducibility) is plain HTML and reads
without JavaScript; the script only drives the sample viewer. Model text is escaped
server-side and written with `textContent` client-side, so it is shown, never run.
"""

from __future__ import annotations

import base64
import hashlib
import os
from html import escape
from pathlib import Path

from lmaudit.contamination.verdicts import LIMITATIONS, THRESHOLDS_NOTE
from lmaudit.report.change_html import change_section
from lmaudit.report.compute_render import compute_html
from lmaudit.report.diff_render import diff_html  # lmaudit diff
from lmaudit.report.editing_render import editing_section
from lmaudit.report.html_cards import card_html
from lmaudit.report.html_sections import (
    comparison_section,
    probes_section,
    prompts_section,
    reproducibility_section,
)
from lmaudit.report.model import AuditReport
from lmaudit.report.sampling_render import sampling_html  # repeated sampling
from lmaudit.report.scaling_render import scaling_html  # scaling sweeps
from lmaudit.report.thinking_budget_render import thinking_html  # thinking budget
from lmaudit.report.viewer import CSS, SCRIPT, data_block


def csp_hash(source: str) -> str:
    """A CSP source expression allowing exactly this inline element content."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(style: str, script: str) -> str:
    return ("default-src 'none'; "
            f"script-src {csp_hash(script)}; style-src {csp_hash(style)}; "
            "img-src data:; font-src 'none'; connect-src 'none'; base-uri 'none'; "
            "form-action 'none'")


def _header(report: AuditReport) -> str:
    if report.audit is not None:
        a = report.audit
        what = (f"suite {escape(a.suite_name or '?')} · {len(report.models)} model(s) · "
                f"{len(report.tasks)} task(s) · created {escape(a.created or '?')}")
    else:
        n = len(report.sources)
        what = (f"{n} {'directory' if n == 1 else 'directories'} · "
                f"{len(report.models)} model(s)")
    levels = {lvl: sum(c.trust.level == lvl for c in report.cards)
              for lvl in ("trusted", "caution", "not trusted")}
    counts = " · ".join(f"{n} {lvl}" for lvl, n in levels.items() if n)
    if report.scaling is not None and not report.cards:  # scaling sweeps
        sweep = report.scaling
        return (f"<header><h1>lmaudit report</h1><div>scaling · task {escape(sweep.task)} · "
                f"{len(sweep.models)} models · {sweep.n_items} items</div></header>")
    if report.editing is not None and not report.cards:  # lmaudit edit-eval
        edit = report.editing
        return (f"<header><h1>lmaudit report</h1><div>model editing · {edit.n_edits} edits · "
                f"before {escape(edit.before)} · after {escape(edit.after)}</div></header>")
    return (f"<header><h1>lmaudit report</h1><div>{what}</div>"
            f"<div>{escape(counts)} · {len(report.samples):,} samples</div></header>")


def _contamination_footnote(report: AuditReport) -> str:
    """The contamination report's own thresholds and limitations, once, when any card has
    a contamination test."""
    if not any(c.contamination is not None for c in report.cards):
        return ""
    return (f'<p class="muted contamination-note">{escape(THRESHOLDS_NOTE)} '
            f"{escape(LIMITATIONS)}</p>")


def _nav(report: AuditReport) -> str:
    links = [("summary", "Trust cards"), ("comparison", "Comparison"), ("probes", "Probes")]
    if report.change is not None:
        links.insert(2, ("change", "Model change"))
    if report.diffs:  # lmaudit diff
        links.insert(2, ("diffs", "Why scores differ"))
    if report.editing is not None:
        links = [("editing", "Model editing"), *(links if report.cards else [])]
    if report.prompt_sensitivity:
        links.append(("prompts", "Prompt sensitivity"))
    if report.sampling:  # repeated sampling
        links.append(("sampling", "Repeated sampling"))
    if report.compute is not None and not report.compute.empty:
        links.append(("compute", "Cost and compute"))
    if report.thinking:  # thinking budget
        links.append(("thinking", "Thinking budget"))
    if report.scaling is not None:  # scaling sweeps
        links = [*(links if report.cards else []), ("scaling", "Scaling")]
    links += [("samples", "Samples"), ("reproducibility", "Reproducibility")]
    return "<nav>" + "".join(f'<a href="#{k}">{v}</a>' for k, v in links) + "</nav>"

VIEWER = (
    '<section id="samples"><h2>Samples</h2>'
    "<noscript><p>The sample viewer needs JavaScript; everything above reads without it."
    "</p></noscript>"
    '<div id="viewer" hidden><div id="viewer-controls">'
    '<label>task <select id="f-task"><option value="">all</option></select></label>'
    '<label>model <select id="f-model"><option value="">all</option></select></label>'
    '<label>variant <select id="f-variant"><option value="">all</option></select></label>'
    '<label>answer <select id="f-correct"><option value="">any</option>'
    '<option value="correct">correct</option><option value="wrong">wrong</option>'
    "</select></label>"
    '<label><input type="checkbox" id="f-disagree"> models disagree</label>'
    '<input type="search" id="f-search" placeholder="search prompts, responses, ids"'
    ' size="32">'
    '<button type="button" id="viewer-prev">previous</button>'
    '<span id="viewer-page"></span>'
    '<button type="button" id="viewer-next">next</button>'
    '<span id="viewer-count" class="muted"></span></div>'
    '<table id="viewer-table"><thead><tr><th>model</th><th>task</th><th>variant</th>'
    "<th>id</th><th>score</th><th>response</th><th>extracted</th><th>target</th></tr>"
    '</thead><tbody id="viewer-rows"></tbody></table>'
    '<div id="viewer-detail" class="detail"></div></div></section>'
)


def render_html(report: AuditReport, *, compress: bool | None = None) -> str:
    """The whole page as a string (`compress`: see `viewer.data_block`)."""
    cards = "".join(card_html(c) for c in report.cards)
    script = SCRIPT
    runs = (
        '<section id="summary"><h2>Trust cards</h2><div class="cards">' + cards
        + "</div>" + _contamination_footnote(report) + "</section>"
        + comparison_section(report) + diff_html(report.diffs)  # lmaudit diff
        + change_section(report.change)
        + probes_section(report) + prompts_section(report)
    ) if report.cards or (report.editing is None and report.scaling is None) else ""  # scaling
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="'
        + escape(content_security_policy(CSS, script)) + '">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>lmaudit report</title><style>" + CSS + "</style></head><body>"
        + _header(report) + _nav(report) + editing_section(report.editing) + runs
        + sampling_html(report.sampling)  # repeated sampling
        + compute_html(report.compute) + thinking_html(report.thinking)  # thinking budget
        + scaling_html(report.scaling)  # scaling sweeps
        + VIEWER + reproducibility_section(report)
        + data_block(report.samples, compress) + "<script>" + script + "</script></body></html>"
    )


def write_html(report: AuditReport, path: Path, *, compress: bool | None = None) -> Path:
    """Write the report to `path` (atomically: a temporary file, then a rename).
    `compress`: samples as gzip + base64 (default: only when large, `viewer.data_block`)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(render_html(report, compress=compress), encoding="utf-8")
    os.replace(tmp, target)
    return target
