"""Plain-text tables of metrics with their intervals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _fmt(value: Any) -> str:
    if value is None:
        return "nan"
    number = float(value)
    if number != number:
        return "nan"
    return f"{number:.4f}" if abs(number) < 1000 else f"{number:.1f}"


def metrics_table(metrics: Mapping[str, Mapping[str, Any]], *, title: str = "") -> str:
    """One line per metric: value, 95% interval, n, and how the interval was computed."""
    header = ("metric", "value", "95% CI", "n", "method")
    rows = [
        (
            name,
            _fmt(m.get("value")),
            f"[{_fmt(m.get('ci_low'))}, {_fmt(m.get('ci_high'))}]",
            str(m.get("n", "")),
            str(m.get("method", "")),
        )
        for name, m in metrics.items()
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, title: str = "") -> str:
    """Left-aligned plain-text columns under a header and a rule."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)
