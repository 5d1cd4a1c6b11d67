"""The "Thinking budget" section in the terminal and in HTML (the JSON comes from the same
`BudgetCurve` objects through `render_json`): accuracy per budget as percent with its 95%
interval, mean thinking tokens, and the paired gain in points."""

from __future__ import annotations

import math
from collections.abc import Sequence

from lmaudit.report import fmt
from lmaudit.report.html_cards import e
from lmaudit.report.svg import ForestRow, forest_plot
from lmaudit.report.thinking_budget_model import BudgetCurve, BudgetPoint


def _tokens(point: BudgetPoint) -> str:
    t = point.thinking_tokens
    return "n/a" if t is None or not math.isfinite(t.value) else f"{t.value:.0f}"


def _gain(curve: BudgetCurve) -> str:
    if curve.gain is None or not math.isfinite(curve.gain.value):
        return "n/a"
    return f"{fmt.points(curve.gain.value)} {fmt.points_interval(curve.gain)} points"


def _title(curve: BudgetCurve) -> str:
    source = "one run, every budget" if curve.source == "sweep" else "one run per budget"
    setting = f" · {curve.setting}" if curve.setting else ""
    return f"{curve.model} · {curve.task}{setting} · {curve.metric} ({source})"


def thinking_text(curves: Sequence[BudgetCurve]) -> str:
    """Terminal lines of the section (empty without curves)."""
    if not curves:
        return ""
    lines = ["accuracy vs thinking budget (budget forcing; 95% intervals)"]
    for curve in curves:
        lines.append(f"  {_title(curve)}")
        for p in curve.points:
            lines.append(f"    budget {p.budget}: {fmt.number(p.accuracy.value, True)} "
                         f"{fmt.interval(p.accuracy, True)}, thinking tokens {_tokens(p)}")
        lines.append(f"    largest − smallest budget, paired: {_gain(curve)}; {curve.reading}")
    return "\n".join(lines)


def thinking_html(curves: Sequence[BudgetCurve]) -> str:
    """The HTML section (empty string without curves)."""
    if not curves:
        return ""
    blocks = []
    for curve in curves:
        rows = "".join(
            f"<tr><td class=num>{p.budget}</td>"
            f"<td class=num>{e(fmt.number(p.accuracy.value, True))} "
            f"{e(fmt.interval(p.accuracy, True))}</td>"
            f"<td class=num>{e(_tokens(p))}</td></tr>" for p in curve.points)
        plot = forest_plot([ForestRow(f"budget {p.budget}", p.accuracy) for p in curve.points],
                           title=f"{curve.metric} by thinking budget")
        blocks.append(
            f"<h3>{e(_title(curve))}</h3>" + plot
            + "<table><thead><tr><th>thinking budget (tokens)</th><th>accuracy [95% CI]</th>"
            "<th>mean thinking tokens</th></tr></thead><tbody>" + rows + "</tbody></table>"
            f"<p>Largest − smallest budget, paired over the same problems: {e(_gain(curve))}; "
            f"{e(curve.reading)}.</p>")
    return ('<section id="thinking"><h2>Thinking budget</h2><p class="muted">Budget forcing '
            "(s1): thinking capped at each budget by forcing the end-of-thinking delimiter."
            "</p>" + "".join(blocks) + "</section>")
