"""Inline SVG plots for the HTML report, drawn from the typed results (no matplotlib).

Every text is escaped; colours are presentation attributes (no `style` attributes, so the
report's Content-Security-Policy needs no 'unsafe-inline'). Axes show shares as percent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from lmaudit.stats import Estimate, ReliabilityBin

BLUE = "#3b6ea8"
RED = "#c0392b"
GREY = "#888888"
GREEN = "#2e8b57"


@dataclass(frozen=True)
class ForestRow:
    """One line of a forest plot: a label and an estimate with its interval (shares)."""

    label: str
    estimate: Estimate


@dataclass(frozen=True)
class Marker:
    """A vertical reference line (chance level, human baseline, original score)."""

    label: str
    value: float
    colour: str = GREY


def _n(x: float) -> str:
    return f"{x:.1f}"


def _svg(width: int, height: int, body: Sequence[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def _axis(x0: float, x1: float, y: float, low: float, high: float, ticks: int = 5,
          share: bool = True) -> list[str]:
    """A horizontal axis; tick labels in percent for shares, else in the metric's unit."""
    out = [f'<line x1="{_n(x0)}" y1="{_n(y)}" x2="{_n(x1)}" y2="{_n(y)}" stroke="#444"/>']
    for i in range(ticks + 1):
        value = low + (high - low) * i / ticks
        x = x0 + (x1 - x0) * i / ticks
        out.append(f'<line x1="{_n(x)}" y1="{_n(y)}" x2="{_n(x)}" y2="{_n(y + 4)}" '
                   'stroke="#444"/>')
        label = f"{100 * value:.0f}" if share else f"{value:.3g}"
        out.append(f'<text x="{_n(x)}" y="{_n(y + 16)}" font-size="10" '
                   f'text-anchor="middle">{label}</text>')
    return out


def _value(x: float, share: bool) -> str:
    return f"{100 * x:.1f}%" if share else f"{x:.4g}"


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def forest_plot(rows: Sequence[ForestRow], markers: Sequence[Marker] = (),
                title: str = "scores with 95% intervals", share: bool = True) -> str:
    """Points with horizontal interval bars, one row each. Shares: x from 0 to 100% (wider
    if a bound lies outside); other metrics: x spans the values with 5% margins."""
    values = [v for r in rows for v in (r.estimate.ci_low, r.estimate.ci_high,
                                         r.estimate.value) if math.isfinite(v)]
    if share:
        low, high = min([0.0, *values]), max([1.0, *values])
    else:
        low, high = (min(values), max(values)) if values else (0.0, 1.0)
        margin = 0.05 * (high - low) or max(abs(high), 1.0) * 0.05
        low, high = low - margin, high + margin
    label_w, plot_w, row_h = 260, 380, 22
    height = 30 + row_h * len(rows) + 30
    x0, x1 = label_w, label_w + plot_w

    def x(v: float) -> float:
        return x0 + (v - low) / (high - low) * plot_w

    body = [f'<rect x="{x0}" y="10" width="{plot_w}" height="{row_h * len(rows) + 10}" '
            'fill="#fafafa" stroke="#ddd"/>']
    for marker in markers:
        if math.isfinite(marker.value) and low <= marker.value <= high:
            mx = x(marker.value)
            body.append(f'<line x1="{_n(mx)}" y1="10" x2="{_n(mx)}" y2="{row_h * len(rows) + 20}"'
                        f' stroke="{marker.colour}" stroke-dasharray="4 3"/>')
            body.append(f'<text x="{_n(mx + 3)}" y="20" font-size="9" fill="{marker.colour}">'
                        f"{escape(marker.label)}</text>")
    for i, row in enumerate(rows):
        y = 25 + i * row_h
        e = row.estimate
        body.append(f'<text x="{label_w - 8}" y="{y + 4}" font-size="11" text-anchor="end">'
                    f"{escape(row.label)}</text>")
        if _finite(e.ci_low, e.ci_high):
            body.append(f'<line x1="{_n(x(e.ci_low))}" y1="{y}" x2="{_n(x(e.ci_high))}" '
                        f'y2="{y}" stroke="{BLUE}" stroke-width="2"/>')
        if math.isfinite(e.value):
            body.append(f'<circle cx="{_n(x(e.value))}" cy="{y}" r="4" fill="{BLUE}">'
                        f"<title>{escape(row.label)}: {_value(e.value, share)} "
                        f"[{_value(e.ci_low, share)}, {_value(e.ci_high, share)}]</title>"
                        "</circle>")
    body += _axis(x0, x1, row_h * len(rows) + 20, low, high, share=share)
    return _svg(x1 + 20, height, body, title)


def reliability_diagram(bins: Sequence[ReliabilityBin], title: str = "reliability") -> str:
    """Accuracy per confidence bin (bars) against the diagonal of perfect calibration."""
    size, pad = 160, 28
    body = [f'<rect x="{pad}" y="8" width="{size}" height="{size}" fill="#fafafa" '
            'stroke="#ccc"/>',
            f'<line x1="{pad}" y1="{8 + size}" x2="{pad + size}" y2="8" stroke="{GREY}" '
            'stroke-dasharray="3 3"/>']
    for b in bins:
        if b.count == 0 or not _finite(b.accuracy, b.lower, b.upper):
            continue
        bx = pad + b.lower * size
        width = max(1.0, (b.upper - b.lower) * size - 1)
        bh = b.accuracy * size
        body.append(f'<rect x="{_n(bx)}" y="{_n(8 + size - bh)}" width="{_n(width)}" '
                    f'height="{_n(bh)}" fill="{BLUE}" fill-opacity="0.75">'
                    f"<title>confidence {b.lower:.1f}–{b.upper:.1f}: accuracy "
                    f"{100 * b.accuracy:.1f}% (n = {b.count})</title></rect>")
    body.append(f'<text x="{pad + size / 2}" y="{size + 24}" font-size="9" '
                'text-anchor="middle">confidence</text>')
    body.append(f'<text x="10" y="{8 + size / 2}" font-size="9" text-anchor="middle" '
                f'transform="rotate(-90 10 {8 + size / 2})">accuracy</text>')
    return _svg(size + pad + 8, size + 30, body, title)


def instance_set_histogram(per_set: Sequence[float], original: float,
                           title: str = "accuracy per instance set") -> str:
    """Histogram of per-instance-set accuracy (shares) with the original score marked,
    the GSM-Symbolic figure. Bin width: range / 15, at least one point."""
    values = [v for v in per_set if math.isfinite(v)]
    marks = [*values, original] if math.isfinite(original) else values
    if not values:
        return _svg(10, 10, [], title)
    width_pts = max(0.01, (max(values) - min(values)) / 15)
    low = max(0.0, min(marks) - 0.05)
    high = min(1.0, max(marks) + 0.05)
    if high - low < 0.1:
        low, high = max(0.0, low - 0.05), min(1.0, high + 0.05)
    n_bins = max(1, math.ceil((max(values) - min(values)) / width_pts) + 1)
    counts = [0] * n_bins
    for v in values:
        counts[min(n_bins - 1, int((v - min(values)) / width_pts + 0.5))] += 1
    plot_w, plot_h, x0, y0 = 380, 130, 30, 10

    def x(v: float) -> float:
        return x0 + (v - low) / (high - low) * plot_w

    top = max(counts)
    body = []
    for i, count in enumerate(counts):
        if not count:
            continue
        centre = min(values) + i * width_pts
        bx, bw = x(centre - width_pts / 2), max(2.0, width_pts / (high - low) * plot_w - 1)
        bh = count / top * plot_h
        body.append(f'<rect x="{_n(bx)}" y="{_n(y0 + plot_h - bh)}" width="{_n(bw)}" '
                    f'height="{_n(bh)}" fill="{BLUE}"><title>{100 * centre:.1f}%: {count} '
                    "sets</title></rect>")
    if math.isfinite(original):
        ox = x(original)
        body.append(f'<line x1="{_n(ox)}" y1="{y0}" x2="{_n(ox)}" y2="{y0 + plot_h}" '
                    f'stroke="{RED}" stroke-width="2" stroke-dasharray="5 3"/>')
        right = ox > x0 + plot_w * 0.7
        anchor, tx = ("end", ox - 3) if right else ("start", ox + 3)
        body.append(f'<text x="{_n(tx)}" y="{y0 + 10}" font-size="10" fill="{RED}" '
                    f'text-anchor="{anchor}">original {100 * original:.1f}%</text>')
    body += _axis(x0, x0 + plot_w, y0 + plot_h, low, high)
    return _svg(x0 + plot_w + 20, y0 + plot_h + 26, body, title)
