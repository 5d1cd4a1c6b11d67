"""The "Cost and test-time compute" section in the terminal and in HTML (the JSON comes
from the same objects through `render_json`). Costs print with three significant digits,
in dollars or tokens; accuracies as percent; lengths in the analysis's unit."""

from __future__ import annotations

import math
from collections.abc import Sequence

from lmaudit.report import fmt
from lmaudit.report.compute_model import ComputeSection, LengthEvidence, TaskFrontier
from lmaudit.report.html_cards import e, value_attr
from lmaudit.report.svg_frontier import cost_text, frontier_plot
from lmaudit.stats import Estimate


def cost_interval(estimate: Estimate | None, unit: str) -> str:
    if estimate is None or not (math.isfinite(estimate.ci_low) and math.isfinite(estimate.ci_high)):
        return "[n/a]"
    low, high = cost_text(estimate.ci_low, unit), cost_text(estimate.ci_high, unit)
    return f"[{low}, {high.removesuffix(' tokens')}]"


def _signed(estimate: Estimate | None, digits: str = ".1f") -> str:
    if estimate is None or not math.isfinite(estimate.value):
        return "n/a"
    bounds = ("[n/a]" if not (math.isfinite(estimate.ci_low) and math.isfinite(estimate.ci_high))
              else f"[{estimate.ci_low:+{digits}}, {estimate.ci_high:+{digits}}]")
    return f"{estimate.value:+{digits}} {bounds}"


def length_line(ev: LengthEvidence) -> str:
    a = ev.analysis
    return (f"naive r {_signed(a.naive_correlation, '.2f')}; correct − incorrect "
            f"{a.unit}: pooled {_signed(a.naive_difference)}, within problems "
            f"{_signed(a.within_difference)} over {a.n_mixed} problems with both → "
            f"{a.verdict}")


def compute_text(section: ComputeSection) -> str:
    """The section's terminal lines (empty when it holds nothing)."""
    if section.empty:
        return ""
    lines = ["cost and test-time compute (* = on the cost–accuracy frontier)"]
    for f in section.frontiers:
        share = True  # every point's per-problem scores lie in [0, 1] (report.compute)
        lines.append(f"  {f.task} · {f.metric}, cost per task in {f.unit}")
        for p in sorted(f.points, key=lambda p: p.cost_per_task.value):
            per_correct = ("" if p.cost_per_correct is None
                           else f", {cost_text(p.cost_per_correct.value, p.unit)} per correct")
            lines.append(f"    {'*' if p.on_frontier else ' '} {p.label}: "
                         f"{fmt.number(p.accuracy.value, share)} "
                         f"{fmt.interval(p.accuracy, share)}, "
                         f"{cost_text(p.cost_per_task.value, p.unit)} per task"
                         f"{per_correct} ({p.cost_source})")
    for ev in section.lengths:
        lines.append(f"  length vs correctness, {ev.label}: {length_line(ev)}")
    lines += [f"  note: {n}" for n in section.notes]
    return "\n".join(lines)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], cls: str) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _td(text: str, num: bool = False, value: float | None = None) -> str:
    attr = "" if value is None else f' data-value="{value_attr(value)}"'
    return f'<td{" class=num" if num else ""}{attr}>{e(text)}</td>'


def _frontier_html(f: TaskFrontier) -> str:
    share = True  # every point's per-problem scores lie in [0, 1] (report.compute)
    plot = frontier_plot(f.points, f"{f.task}: {f.metric} against cost per task ({f.unit}, "
                         "log scale)", share)
    rows = [[_td(p.model), _td(p.setting or "default"),
             _td(fmt.number(p.accuracy.value, share), True, p.accuracy.value),
             _td(fmt.interval(p.accuracy, share), True),
             _td(cost_text(p.cost_per_task.value, p.unit), True, p.cost_per_task.value),
             _td(cost_interval(p.cost_per_task, p.unit), True),
             _td("n/a" if p.cost_per_correct is None
                 else cost_text(p.cost_per_correct.value, p.unit), True,
                 None if p.cost_per_correct is None else p.cost_per_correct.value),
             _td(cost_interval(p.cost_per_correct, p.unit), True),
             _td(str(p.n_problems), True), _td(p.cost_source),
             _td("yes" if p.on_frontier else "")] for p in f.points]
    return (f"<h3>{e(f.task)} · {e(f.metric)}</h3>" + plot
            + _table(["model", "setting", "accuracy", "95% CI", "cost per task", "95% CI",
                      "cost per correct", "95% CI", "problems", "cost from", "frontier"],
                     rows, "cost"))


def _length_html(ev: LengthEvidence) -> str:
    a = ev.analysis
    rows = [[_td("naive point-biserial r"), _td(_signed(a.naive_correlation, ".3f"), True)],
            [_td(f"pooled correct − incorrect ({a.unit})"), _td(_signed(a.naive_difference),
                                                                 True)],
            [_td(f"within problems correct − incorrect ({a.unit}), {a.n_mixed} problems"),
             _td(_signed(a.within_difference), True)],
            [_td("relative length of incorrect answers (1 = as long as the problem's "
                 "correct ones)"),
             _td("n/a" if a.relative_incorrect is None
                 else f"{a.relative_incorrect.value:.2f} "
                 f"[{a.relative_incorrect.ci_low:.2f}, {a.relative_incorrect.ci_high:.2f}]",
                 True)]]
    bins = [[_td(b.stratum), _td(f"{b.low:,.0f}–{b.high:,.0f}", True), _td(str(b.n), True),
             _td(str(b.n_problems), True), _td(f"{b.mean_length:,.1f}", True),
             _td(fmt.number(b.accuracy.value, True), True, b.accuracy.value),
             _td(fmt.interval(b.accuracy, True), True)] for b in a.bins]
    out = (f"<h3>{e(ev.label)}</h3><p>Verdict: <strong class=length-verdict>"
           f"{e(a.verdict)}</strong> ({a.n_answers:,} answers to {a.n_problems:,} problems; "
           f"length: {e(ev.measure)})</p>" + _table(["reading", "estimate [95% CI]"], rows,
                                                    "length"))
    if bins:
        out += ("<p class=muted>Accuracy by length within difficulty strata (difficulty: the "
                "problem's own accuracy over its answers; problems always or never solved "
                "left out).</p>" + _table(["stratum", f"length ({e(a.unit)})", "answers",
                                           "problems", "mean length", "accuracy",
                                           "95% CI (clustered)"], bins, "length-bins"))
    return out


def compute_html(section: ComputeSection | None) -> str:
    """The HTML section (empty string when there is nothing to show)."""
    if section is None or section.empty:
        return ""
    parts = ['<section id="compute"><h2>Cost and test-time compute</h2>'
             "<p class=muted>Cost per task: what one problem cost with every answer the "
             "setting drew; cost per correct: total cost over problems solved. Intervals: "
             "bootstrap over problems. The line joins the settings no other beats on both "
             "cost and accuracy (the Pareto frontier).</p>"]
    parts += [_frontier_html(f) for f in section.frontiers]
    if section.lengths:
        parts.append("<h3>Reasoning length and correctness</h3><p class=muted>"
                     + e(section.lengths[0].analysis.rule) + "</p>")
        parts += [_length_html(ev) for ev in section.lengths]
    if section.notes:
        parts.append("<ul>" + "".join(f'<li class="missing">{e(n)}</li>'
                                      for n in section.notes) + "</ul>")
    parts.append("</section>")
    return "".join(parts)
