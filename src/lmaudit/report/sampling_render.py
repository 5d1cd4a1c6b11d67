"""Terminal text and HTML for the "Repeated sampling" section (`report.sampling_curves`):
per run, a line chart of every series against k (log2 axis, 95% intervals as vertical
bars), the same numbers as a table, and the sentence saying what more samples bought.
Every text is escaped; presentation attributes only (the report's CSP allows no `style`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape as e

from lmaudit.report.sampling_curves import SampleCurves, Series
from lmaudit.report.svg import BLUE, GREEN, GREY, RED, _n, _svg

COLOURS = (BLUE, GREEN, RED, "#8e44ad", "#d68910", "#16a085", GREY)
WIDTH, HEIGHT = 560, 300
X0, X1, Y0, Y1 = 56.0, 400.0, 16.0, 250.0
RULE = ("pass@k: unbiased (Chen et al.), k = 1 is the mean over all answers; maj@k: the vote "
        "of the first k answers (ties: the answer voted first); best-of-k: the answer a "
        "verifier picks among the first k (oracle: a right one when there is one, the upper "
        "bound). Intervals: 95%, problems (or the task's clusters) as the unit.")


def _pct(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{100 * value:.1f}"


def _cell(series: Series, k: int) -> str:
    point = next((p for p in series.points if p.k == k), None)
    if point is None:
        return ""
    est = point.estimate
    return f"{_pct(est.value)} [{_pct(est.ci_low)}, {_pct(est.ci_high)}]"


def brier_line(curves: SampleCurves) -> str:
    """The vote share as a confidence that the vote is right: its Brier score (0 is best)."""
    b = curves.vote_brier
    if b is None or not math.isfinite(b.value):
        return ""
    return (f"vote share as the confidence that the majority answer is right: Brier "
            f"{b.value:.3f} [{b.ci_low:.3f}, {b.ci_high:.3f}] (0 best; always saying 50%: 0.25)")


def _ks(curves: SampleCurves) -> list[int]:
    return sorted({p.k for s in curves.series for p in s.points})


def sampling_text(section: Sequence[SampleCurves]) -> str:
    """The terminal block: one table per run (percent, 95% interval) and its reading."""
    lines = ["repeated sampling (accuracy %, 95% interval)"]
    for curves in section:
        lines.append(f"  {curves.model} · {curves.task} · {curves.samples} answers per "
                     f"problem (pass@1 = {curves.metric})")
        for series in curves.series:
            cells = "  ".join(f"k={k}: {_cell(series, k)}" for k in _ks(curves)
                              if _cell(series, k))
            lines.append(f"    {series.name:<24} {cells}")
        lines.append(f"    {curves.reading()}")
        if brier_line(curves):
            lines.append(f"    {brier_line(curves)}")
    return "\n".join(lines)


def _y_top(curves: SampleCurves) -> float:
    """The y axis' top: the highest interval bound rounded up to 25%, 50% or 100%."""
    highs = [p.estimate.ci_high for s in curves.series for p in s.points
             if math.isfinite(p.estimate.ci_high)]
    highs += [p.estimate.value for s in curves.series for p in s.points
              if math.isfinite(p.estimate.value)]
    peak = max(highs, default=1.0)
    return next(t for t in (0.25, 0.5, 1.0) if peak <= t)


def curves_plot(curves: SampleCurves) -> str:
    """Accuracy against k (log2 x axis; y from 0 to 25%, 50% or 100%) for every series."""
    ks = _ks(curves)
    top, y_top = max(ks[-1], 2), _y_top(curves)

    def x(k: int) -> float:
        return X0 + math.log2(k) / math.log2(top) * (X1 - X0)

    def y(v: float) -> float:
        return Y1 - max(0.0, min(y_top, v)) / y_top * (Y1 - Y0)

    body = [f'<rect x="{_n(X0)}" y="{_n(Y0)}" width="{_n(X1 - X0)}" height="{_n(Y1 - Y0)}" '
            'fill="#fafafa" stroke="#ddd"/>']
    for i in range(5):
        tick = y_top * i / 4
        ty = y(tick)
        body.append(f'<line x1="{_n(X0 - 4)}" y1="{_n(ty)}" x2="{_n(X0)}" y2="{_n(ty)}" '
                    'stroke="#444"/>')
        body.append(f'<text x="{_n(X0 - 7)}" y="{_n(ty + 3)}" font-size="10" '
                    f'text-anchor="end">{100 * tick:g}</text>')
    body.append(f'<text x="14" y="{_n((Y0 + Y1) / 2)}" font-size="11" text-anchor="middle" '
                f'transform="rotate(-90 14 {_n((Y0 + Y1) / 2)})">accuracy (%)</text>')
    for k in ks:
        body.append(f'<text x="{_n(x(k))}" y="{_n(Y1 + 14)}" font-size="10" '
                    f'text-anchor="middle">{k}</text>')
    body.append(f'<text x="{_n((X0 + X1) / 2)}" y="{_n(Y1 + 30)}" font-size="11" '
                'text-anchor="middle">k (answers per problem, log scale)</text>')
    for i, series in enumerate(curves.series):
        colour = COLOURS[i % len(COLOURS)]
        shift = (i - (len(curves.series) - 1) / 2) * 3  # keep interval bars apart
        pts = [(x(p.k) + shift, p) for p in series.points if math.isfinite(p.estimate.value)]
        if len(pts) > 1:
            path = " ".join(f"{_n(px)},{_n(y(p.estimate.value))}" for px, p in pts)
            body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                        'stroke-width="1.5"/>')
        for px, p in pts:
            est = p.estimate
            if math.isfinite(est.ci_low) and math.isfinite(est.ci_high):
                body.append(f'<line x1="{_n(px)}" y1="{_n(y(est.ci_low))}" x2="{_n(px)}" '
                            f'y2="{_n(y(est.ci_high))}" stroke="{colour}"/>')
            body.append(f'<circle cx="{_n(px)}" cy="{_n(y(est.value))}" r="3" fill="{colour}">'
                        f"<title>{e(series.name)} k={p.k}: {_pct(est.value)}% "
                        f"[{_pct(est.ci_low)}, {_pct(est.ci_high)}]</title></circle>")
        ly = Y0 + 8 + 16 * i
        body.append(f'<line x1="{_n(X1 + 12)}" y1="{_n(ly)}" x2="{_n(X1 + 28)}" y2="{_n(ly)}" '
                    f'stroke="{colour}" stroke-width="2"/>')
        body.append(f'<text x="{_n(X1 + 32)}" y="{_n(ly + 4)}" font-size="10">'
                    f"{e(series.name)}</text>")
    return _svg(WIDTH, HEIGHT, body, f"{curves.model} · {curves.task}: accuracy vs k")


def _table(curves: SampleCurves) -> str:
    ks = _ks(curves)
    head = "".join(f"<th>k={k}</th>" for k in ks)
    rows = "".join(
        f"<tr><td>{e(s.name)}</td>" + "".join(f"<td class=num>{e(_cell(s, k))}</td>" for k in ks)
        + "</tr>" for s in curves.series)
    return f"<table class=sampling><tr><th>series</th>{head}</tr>{rows}</table>"


def sampling_html(section: Sequence[SampleCurves]) -> str:
    """The HTML section (empty string when no run drew several answers per problem)."""
    if not section:
        return ""
    parts = ['<section id="sampling"><h2>Repeated sampling</h2>'
             f"<p class=muted>{e(RULE)}</p>"]
    for curves in section:
        parts.append(f"<h3>{e(curves.model)} · {e(curves.task)} · {curves.samples} answers "
                     f"per problem</h3>")
        parts.append(curves_plot(curves))
        parts.append(_table(curves))
        parts.append(f"<p>{e(curves.reading())}</p>")
        if brier_line(curves):
            parts.append(f"<p class=muted>{e(brier_line(curves))}</p>")
    parts.append("</section>")
    return "".join(parts)
