"""The cost–accuracy plot (as ARC-AGI publishes it): cost per task on a log axis, accuracy
with its 95% interval as a vertical bar, the cost interval as a horizontal bar, and the
Pareto frontier's points joined by a line. Built on `report.svg`'s conventions: escaped
text, presentation attributes only (no `style`), an accessible title.

Every point has a tooltip and, where it does not overlap another, a label (the frontier's
first). Log axis: ticks at powers of ten spanning the data (with 2× and 5× ticks when it spans
fewer than two decades); points whose cost is not positive cannot sit on a log axis and
are left out, counted in the caption.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from lmaudit.report.compute_model import USD, CostPoint
from lmaudit.report.svg import BLUE, GREY, RED, _n, _svg

WIDTH, HEIGHT = 660, 380
X0, X1, Y0, Y1 = 64.0, 630.0, 16.0, 320.0


def cost_label(value: float, unit: str) -> str:
    """A tick label: `$0.001`, `$1`, `$2,000` for USD; `500`, `2k`, `1M` for tokens."""
    if unit == USD:
        digits = max(0, -math.floor(math.log10(value))) if value > 0 else 0
        return f"${value:,.{digits}f}"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def cost_text(value: float, unit: str) -> str:
    """Dollars with three significant digits, never in exponent form ($0.0000507, $0.25,
    $1,234.50); tokens as a whole number."""
    if not math.isfinite(value):
        return "n/a"
    if unit != USD:
        return f"{value:,.0f} tokens"
    digits = 2 if value <= 0 else max(2, 2 - math.floor(math.log10(value)))
    return f"${value:,.{digits}f}"


def _labels(points: Sequence[tuple[float, float, str]]) -> list[str]:
    """Point labels, right of (or left of, near the right edge) and above or below each
    point, in order; a label that would overlap one already placed is left out (the point
    keeps its tooltip). Width is estimated at 5.6 px per character (10 px font)."""
    placed: list[tuple[float, float, float, float]] = []
    out = []
    for px, py, text in points:
        width = 5.6 * len(text)
        left = px > X1 - width - 10
        x0 = px - 7 - width if left else px + 7
        for ty in (py - 6, py + 14):
            box = (x0, x0 + width, ty - 10, ty + 2)
            if all(box[1] < b[0] or box[0] > b[1] or box[3] < b[2] or box[2] > b[3]
                   for b in placed):
                placed.append(box)
                anchor = "end" if left else "start"
                tx = px - 7 if left else px + 7
                out.append(f'<text x="{_n(tx)}" y="{_n(ty)}" font-size="10" '
                           f'text-anchor="{anchor}">{escape(text)}</text>')
                break
    return out


def log_ticks(low: float, high: float) -> list[float]:
    """Tick values (powers of ten, plus 2× and 5× over a short span) covering [low, high]."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    if last == first:
        last += 1
    steps = (1.0, 2.0, 5.0) if last - first < 2 else (1.0,)
    ticks = [m * 10.0**k for k in range(first, last + 1) for m in steps]
    return [t for t in ticks if 10.0**first <= t <= 10.0**last]


def frontier_plot(points: Sequence[CostPoint], title: str, share: bool = True) -> str:
    """The plot of `points` (one task, one unit); frontier points are red and joined."""
    drawn = [p for p in points if math.isfinite(p.cost_per_task.value)
             and p.cost_per_task.value > 0 and math.isfinite(p.accuracy.value)]
    left_out = len(points) - len(drawn)
    if not drawn:
        return _svg(10, 10, [], title)
    unit = drawn[0].unit
    costs = [v for p in drawn for v in (p.cost_per_task.value, p.cost_per_task.ci_low,
                                        p.cost_per_task.ci_high) if math.isfinite(v) and v > 0]
    ticks = log_ticks(min(costs), max(costs))
    lo, hi = math.log10(ticks[0]), math.log10(ticks[-1])
    accs = [v for p in drawn for v in (p.accuracy.ci_low, p.accuracy.ci_high, p.accuracy.value)
            if math.isfinite(v)]
    a_lo, a_hi = (min(0.0, *accs), max(1.0, *accs)) if share else (min(accs), max(accs))
    if a_hi <= a_lo:
        a_lo, a_hi = a_lo - 0.5, a_hi + 0.5

    def x(cost: float) -> float:
        return X0 + (math.log10(cost) - lo) / (hi - lo) * (X1 - X0)

    def y(acc: float) -> float:
        return Y1 - (acc - a_lo) / (a_hi - a_lo) * (Y1 - Y0)

    body = [f'<rect x="{X0}" y="{Y0}" width="{X1 - X0}" height="{Y1 - Y0}" fill="#fafafa" '
            'stroke="#ddd"/>']
    for t in ticks:
        tx = x(t)
        major = math.isclose(math.log10(t), round(math.log10(t)))
        body.append(f'<line x1="{_n(tx)}" y1="{Y0}" x2="{_n(tx)}" y2="{Y1 + 4}" '
                    f'stroke="{"#ccc" if major else "#eee"}"/>')
        body.append(f'<text class="log-tick" x="{_n(tx)}" y="{Y1 + 16}" font-size="10" '
                    f'text-anchor="middle">{escape(cost_label(t, unit))}</text>')
    for i in range(6):
        acc = a_lo + (a_hi - a_lo) * i / 5
        label = f"{100 * acc:.0f}%" if share else f"{acc:.3g}"
        body.append(f'<text x="{X0 - 6}" y="{_n(y(acc) + 3)}" font-size="10" '
                    f'text-anchor="end">{label}</text>')
        body.append(f'<line x1="{X0 - 3}" y1="{_n(y(acc))}" x2="{X1}" y2="{_n(y(acc))}" '
                    'stroke="#eee"/>')
    axis = "USD per task" if unit == USD else "tokens per task"
    body.append(f'<text x="{(X0 + X1) / 2}" y="{HEIGHT - 22}" font-size="11" '
                f'text-anchor="middle">cost: {axis} (log scale)</text>')
    body.append(f'<text x="14" y="{(Y0 + Y1) / 2}" font-size="11" text-anchor="middle" '
                f'transform="rotate(-90 14 {(Y0 + Y1) / 2})">accuracy (95% interval)</text>')
    front = sorted((p for p in drawn if p.on_frontier), key=lambda p: p.cost_per_task.value)
    if len(front) > 1:
        path = " ".join(f"{_n(x(p.cost_per_task.value))},{_n(y(p.accuracy.value))}"
                        for p in front)
        body.append(f'<polyline class="frontier" points="{path}" fill="none" stroke="{RED}" '
                    'stroke-width="1.5"/>')
    drawn.sort(key=lambda p: p.on_frontier)  # the frontier's points on top
    for p in drawn:
        px, py = x(p.cost_per_task.value), y(p.accuracy.value)
        colour = RED if p.on_frontier else BLUE
        a, c = p.accuracy, p.cost_per_task
        if math.isfinite(a.ci_low) and math.isfinite(a.ci_high):
            body.append(f'<line x1="{_n(px)}" y1="{_n(y(a.ci_low))}" x2="{_n(px)}" '
                        f'y2="{_n(y(a.ci_high))}" stroke="{colour}" stroke-width="1.5"/>')
        if math.isfinite(c.ci_low) and math.isfinite(c.ci_high) and c.ci_low > 0:
            body.append(f'<line x1="{_n(x(c.ci_low))}" y1="{_n(py)}" x2="{_n(x(c.ci_high))}" '
                        f'y2="{_n(py)}" stroke="{GREY}"/>')
        tip = (f"{p.label}: accuracy {100 * a.value:.1f}% [{100 * a.ci_low:.1f}, "
               f"{100 * a.ci_high:.1f}], {cost_text(c.value, unit)} per task"
               if share else f"{p.label}: {a.value:.4g}, {cost_text(c.value, unit)} per task")
        body.append(f'<circle cx="{_n(px)}" cy="{_n(py)}" r="4.5" fill="{colour}">'
                    f"<title>{escape(tip)}</title></circle>")
    body += _labels([(x(p.cost_per_task.value), y(p.accuracy.value), p.label)
                     for p in reversed(drawn)])
    if left_out:
        body.append(f'<text x="{X0}" y="{HEIGHT - 6}" font-size="10" fill="{GREY}">'
                    f"{left_out} point(s) at zero or unknown cost not drawn</text>")
    return _svg(WIDTH, HEIGHT, body, title)
