"""The "Model editing" section (terminal and HTML) of an edit evaluation, and the report
that holds only that section (`lmaudit edit-eval`)."""

from __future__ import annotations

from html import escape

from lmaudit.editing.results import EditEvaluation, EditMetric
from lmaudit.report import fmt
from lmaudit.report.table import text_table
from lmaudit.stats import Estimate


def _value(estimate: Estimate | None, share: bool) -> str:
    if estimate is None:
        return "—"
    return f"{fmt.number(estimate.value, share)} {fmt.interval(estimate, share)}"


def _change(estimate: Estimate | None, share: bool) -> str:
    if estimate is None:
        return "—"
    if share:
        return f"{fmt.points(estimate.value)} {fmt.points_interval(estimate)}"
    return f"{estimate.value:+.4f} {fmt.interval(estimate, False)}"


def metric_cells(m: EditMetric) -> list[str]:
    """measure, n, before, after, change: shares in percent, changes in points."""
    share = m.unit == "share"
    return [m.name, m.measure + ("" if share else f" ({m.unit})"),
            f"{m.n_prompts} / {m.n_edits}", _value(m.before, share), _value(m.after, share),
            _change(m.change, share)]


HEADER = ["metric", "measure", "prompts / edits", "before", "after", "after − before"]


def editing_text(evaluation: EditEvaluation) -> str:
    """The terminal block."""
    lines = [f"model editing: {evaluation.n_edits} edits ({', '.join(evaluation.shapes)}) "
             f"from {evaluation.edits_file}; before {evaluation.before}, after "
             f"{evaluation.after}; 95% intervals clustered by edit",
             text_table(HEADER, [metric_cells(m) for m in evaluation.metrics])]
    lines += [f"  note: {n}" for n in evaluation.notes]
    return "\n".join(lines)


def editing_section(evaluation: EditEvaluation | None) -> str:
    """The HTML section (empty string without an edit evaluation)."""
    if evaluation is None:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADER)
    rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in metric_cells(m))
                   + "</tr>" for m in evaluation.metrics)
    notes = "".join(f'<p class="muted">{escape(n)}</p>' for n in evaluation.notes)
    return ('<section id="editing"><h2>Model editing</h2>'
            f"<p class=muted>{evaluation.n_edits} edits "
            f"({escape(', '.join(evaluation.shapes))}) from {escape(evaluation.edits_file)}: "
            f"before {escape(evaluation.before)}, after {escape(evaluation.after)}. Each "
            "measure is a mean over prompts with a 95% interval clustered by edit; "
            "after − before is paired on the same prompts. Reliability: the edit prompt; "
            "generalization: its paraphrases; locality: prompts the edit must leave alone; "
            "portability: questions whose answer follows from the edit.</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{notes}"
            "</section>")


def editing_report(evaluation: EditEvaluation) -> object:
    """An `AuditReport` that holds only the edit evaluation."""
    from lmaudit.report.model import AuditReport, Comparison
    from lmaudit.report.samples import sample_table

    return AuditReport(sources=(evaluation.edits_file,), audit=None, cards=(),
                       comparison=Comparison((), (), 0), prompt_sensitivity=(), provenance=(),
                       stages=(), samples=sample_table([]), editing=evaluation)
