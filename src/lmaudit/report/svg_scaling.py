"""Inline SVG of a scaling sweep: one panel per metric against size on a log axis.

Each panel shows the per-size estimates joined by a line, their 95% intervals as vertical
bars, and the chance level as a dashed line where the metric has one. Shares are drawn in
percent on a 0-100% axis (widened to the chance level); other metrics span their values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from lmaudit.report.svg import BLUE, GREY, RED, _n, _svg
from lmaudit.stats import Estimate

WIDTH, HEIGHT = 330, 200
LEFT, RIGHT, TOP, BOTTOM = 52, 14, 34, 34


def size_label(size: float) -> str:
    """`27k`, `1.5M`, `7B`, `3e21`: a size in a few characters."""
    for factor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= factor and size < 1e15:
            return f"{size / factor:.3g}{suffix}"
    return f"{size:.3g}"


def _span(estimates: Sequence[Estimate], chance: float | None, share: bool) -> tuple[float, float]:
    values = [v for e in estimates for v in (e.value, e.ci_low, e.ci_high) if math.isfinite(v)]
    if chance is not None:
        values.append(chance)
    if share:
        return min([0.0, *values]), max([1.0, *values])
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    margin = 0.08 * (high - low) or max(abs(high), 1.0) * 0.05
    floor = 0.0 if low >= 0 else -math.inf  # a non-negative metric's axis stops at 0
    return max(low - margin, floor), high + margin


def metric_panel(
    title: str, sizes: Sequence[float], estimates: Sequence[Estimate], *,
    chance: float | None = None, share: bool = False, unit_label: str = "", subtitle: str = "",
) -> str:
    """One metric against size (log10 x axis), intervals as bars, chance dashed; `title`
    and `subtitle` print above the plot."""
    xs = [math.log10(s) for s in sizes]
    x_low, x_high = min(xs), max(xs)
    pad = 0.08 * (x_high - x_low) or 0.5
    x_low, x_high = x_low - pad, x_high + pad
    y_low, y_high = _span(estimates, chance, share)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def py(y: float) -> float:
        return TOP + (1 - (y - y_low) / (y_high - y_low)) * plot_h

    body = [f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
            'stroke="#ddd"/>',
            f'<text x="8" y="13" font-size="11" font-weight="bold">{escape(title)}</text>',
            f'<text x="8" y="25" font-size="9" fill="{GREY}">{escape(subtitle)}</text>']
    for i in range(5):
        value = y_low + (y_high - y_low) * i / 4
        label = f"{100 * value:.0f}%" if share else f"{value:.3g}"
        body.append(f'<text x="{LEFT - 4}" y="{_n(py(value) + 3)}" font-size="9" '
                    f'text-anchor="end">{label}</text>')
    for x, size in zip(xs, sizes, strict=True):
        body.append(f'<text x="{_n(px(x))}" y="{HEIGHT - BOTTOM + 13}" font-size="9" '
                    f'text-anchor="middle">{escape(size_label(size))}</text>')
    body.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" font-size="9" '
                f'text-anchor="middle" fill="{GREY}">size (log scale){escape(unit_label)}</text>')
    if chance is not None and y_low <= chance <= y_high:
        y = py(chance)
        body.append(f'<line x1="{LEFT}" y1="{_n(y)}" x2="{LEFT + plot_w}" y2="{_n(y)}" '
                    f'stroke="{RED}" stroke-dasharray="4 3"/>')
        body.append(f'<text x="{LEFT + plot_w - 2}" y="{_n(y - 3)}" font-size="9" '
                    f'text-anchor="end" fill="{RED}">chance</text>')
    points = [(px(x), py(e.value)) for x, e in zip(xs, estimates, strict=True)
              if math.isfinite(e.value)]
    if len(points) > 1:
        path = " ".join(f"{_n(a)},{_n(b)}" for a, b in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{BLUE}"/>')
    for x, e, size in zip(xs, estimates, sizes, strict=True):
        if math.isfinite(e.ci_low) and math.isfinite(e.ci_high):
            body.append(f'<line x1="{_n(px(x))}" y1="{_n(py(e.ci_low))}" x2="{_n(px(x))}" '
                        f'y2="{_n(py(e.ci_high))}" stroke="{BLUE}" stroke-width="2"/>')
        if math.isfinite(e.value):
            shown = f"{100 * e.value:.1f}%" if share else f"{e.value:.4g}"
            body.append(f'<circle cx="{_n(px(x))}" cy="{_n(py(e.value))}" r="3.5" '
                        f'fill="{BLUE}"><title>{escape(size_label(size))}: {shown}</title>'
                        "</circle>")
    return _svg(WIDTH, HEIGHT, body, title)
