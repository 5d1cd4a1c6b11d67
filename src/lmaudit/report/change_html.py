"""HTML of the "Model change" section: the change matrix, role means and the
learning-vs-forgetting plot (inline SVG, escaped text, presentation attributes only)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from lmaudit.report import fmt
from lmaudit.report.change_model import ModelChange, Tradeoff
from lmaudit.report.change_text import cell_share, cell_text, change_value
from lmaudit.report.svg import BLUE, GREY, RED

_W, _H, _PAD = 460, 320, 48


def _n(x: float) -> str:
    return f"{x:.1f}"


def _range(values: Sequence[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)] + [0.0]
    low, high = min(finite), max(finite)
    margin = 0.1 * (high - low) or 0.05
    return low - margin, high + margin


def _signed(value: float) -> str:
    return "0" if value == 0 else f"{value:+g}"


def nice_ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Round tick values (multiples of 1, 2 or 5 x 10^k) inside [low, high], about
    `target` of them."""
    raw = (high - low) / max(target - 1, 1)
    if not (math.isfinite(raw) and raw > 0):
        return []
    power = 10.0 ** math.floor(math.log10(raw))

    def ticks(step: float) -> list[float]:
        return [round(k * step, 10)
                for k in range(math.ceil(low / step), math.floor(high / step) + 1)]

    steps = [m * power for m in (1, 2, 5, 10)]
    return ticks(min(steps, key=lambda step: abs(len(ticks(step)) - target)))


def tradeoff_plot(points: Sequence[Tradeoff], share: bool = True,
                  title: str = "learning vs forgetting") -> str:
    """One point per model: x = gain on the target task(s), y = mean gain elsewhere, each
    with its 95% interval as error bars; dashed lines at zero. Shares in points."""
    scale = 100.0 if share else 1.0
    xs = [v * scale for p in points for v in (p.target_gain.ci_low, p.target_gain.ci_high,
                                             p.target_gain.value)]
    ys = [v * scale for p in points for v in (p.elsewhere_gain.ci_low,
                                             p.elsewhere_gain.ci_high, p.elsewhere_gain.value)]
    (x_lo, x_hi), (y_lo, y_hi) = _range(xs), _range(ys)

    def px(v: float) -> float:
        return _PAD + (v - x_lo) / (x_hi - x_lo) * (_W - 2 * _PAD)

    def py(v: float) -> float:
        return _H - _PAD - (v - y_lo) / (y_hi - y_lo) * (_H - 2 * _PAD)

    body = [f'<rect x="{_PAD}" y="{_PAD}" width="{_W - 2 * _PAD}" height="{_H - 2 * _PAD}" '
            'fill="#fafafa" stroke="#ddd"/>',
            f'<line x1="{_n(px(0))}" y1="{_PAD}" x2="{_n(px(0))}" y2="{_H - _PAD}" '
            f'stroke="{GREY}" stroke-dasharray="4 3"/>',
            f'<line x1="{_PAD}" y1="{_n(py(0))}" x2="{_W - _PAD}" y2="{_n(py(0))}" '
            f'stroke="{GREY}" stroke-dasharray="4 3"/>']
    unit = "points" if share else "metric units"
    for xv in nice_ticks(x_lo, x_hi):
        body.append(f'<text x="{_n(px(xv))}" y="{_H - _PAD + 14}" font-size="10" '
                    f'text-anchor="middle">{_signed(xv)}</text>')
    for yv in nice_ticks(y_lo, y_hi):
        body.append(f'<text x="{_PAD - 4}" y="{_n(py(yv) + 3)}" font-size="10" '
                    f'text-anchor="end">{_signed(yv)}</text>')
    body.append(f'<text x="{_W / 2}" y="{_H - 10}" font-size="11" text-anchor="middle">'
                f"gain on the target task ({unit})</text>")
    body.append(f'<text x="12" y="{_H / 2}" font-size="11" text-anchor="middle" '
                f'transform="rotate(-90 12 {_H / 2})">mean change elsewhere ({unit})</text>')
    for p in points:
        x, y = p.target_gain.value * scale, p.elsewhere_gain.value * scale
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        colour = RED if p.elsewhere_gain.ci_high < 0 else BLUE
        xl, xh = p.target_gain.ci_low * scale, p.target_gain.ci_high * scale
        yl, yh = p.elsewhere_gain.ci_low * scale, p.elsewhere_gain.ci_high * scale
        if math.isfinite(xl) and math.isfinite(xh):
            body.append(f'<line x1="{_n(px(xl))}" y1="{_n(py(y))}" x2="{_n(px(xh))}" '
                        f'y2="{_n(py(y))}" stroke="{colour}"/>')
        if math.isfinite(yl) and math.isfinite(yh):
            body.append(f'<line x1="{_n(px(x))}" y1="{_n(py(yl))}" x2="{_n(px(x))}" '
                        f'y2="{_n(py(yh))}" stroke="{colour}"/>')
        label = escape(p.model)
        body.append(f'<circle cx="{_n(px(x))}" cy="{_n(py(y))}" r="4" fill="{colour}">'
                    f"<title>{label}: target {x:+.2f}, elsewhere {y:+.2f} {unit}</title>"
                    "</circle>")
        body.append(f'<text x="{_n(px(x) + 6)}" y="{_n(py(y) - 6)}" font-size="10">'
                    f"{label}</text>")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
            f'viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(title)}">'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def _td(text: str, num: bool = False) -> str:
    return f'<td{" class=num" if num else ""}>{escape(text)}</td>'


def change_section(change: ModelChange | None) -> str:
    """The section (empty string when the report has no baseline)."""
    if change is None:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in
                   ["task", "role", "metric", "baseline", *change.models])
    rows = []
    for task in change.tasks:
        base = next((c for c in change.cells if c.task == task), None)
        share = base is not None and cell_share(base)
        baseline = fmt.number(base.baseline_mean.value, share) if base else "n/a"
        rows.append("<tr>" + _td(task) + _td(change.role_of(task))
                    + _td(base.metric if base else "?") + _td(baseline, True)
                    + "".join(_td(cell_text(change.cell(m, task)), True)
                              for m in change.models) + "</tr>")
    parts = ['<section id="change"><h2>Model change</h2>',
             f"<p class=muted>Each cell: model − baseline {escape(change.baseline)} on the "
             "items both scored, with its 95% paired interval (points for shares); * marks "
             f"p &lt; 0.05 after Holm over all {change.n_tests} cells (McNemar exact for 0/1 "
             "metrics on independent items, paired bootstrap for ratio metrics such as bits "
             "per byte, else paired t, clustered where the items are).</p>",
             f'<table class="change"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
             "</tbody></table>"]
    if change.role_changes:
        role_rows = "".join(
            "<tr>" + _td(r.model) + _td(r.role) + _td(", ".join(r.tasks))
            + _td(change_value(r.gain, all(cell_share(c) for c in change.cells
                                           if c.task in r.tasks)), True) + "</tr>"
            for r in change.role_changes)
        parts.append("<h3>Mean gain by role</h3><p class=muted>Positive = better (a "
                     "lower-is-better metric counts its decrease as a gain); the mean of "
                     "the role's tasks with a normal interval, tasks taken as independent."
                     "</p><table><thead><tr><th>model</th><th>role</th><th>tasks</th>"
                     f"<th>mean gain</th></tr></thead><tbody>{role_rows}</tbody></table>")
    if change.tradeoffs:
        share = all(cell_share(c) for c in change.cells)
        parts.append("<h3>Learning vs forgetting</h3><p class=muted>One point per model: "
                     "the gain on the target task(s) against the mean change on every other "
                     "task, 95% intervals as bars; red: the change elsewhere is below zero "
                     "with its whole interval (forgetting).</p>"
                     + tradeoff_plot(change.tradeoffs, share))
    parts += [f'<p class="muted">{escape(n)}</p>' for n in change.notes]
    return "".join(parts) + "</section>"
