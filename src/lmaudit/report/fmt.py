"""Number formats shared by the terminal and HTML renderers.

Shares (accuracies, rates: metrics whose interval method is Wilson or whose name says so)
print as percent with one decimal, intervals as `[low, high]` in the same unit; drops and
differences of shares print as signed points. Other metrics print with four decimals.
NaN prints as `n/a`.
"""

from __future__ import annotations

import math

from lmaudit.stats import Estimate

SHARE_PREFIXES = ("acc", "exact", "pass", "extract_fail", "em", "f1")


def is_share(metric: str, estimate: Estimate) -> bool:
    """Whether a metric is a share in [0, 1] (printed as percent): a proportion
    (`Estimate.proportion`, whatever its interval: Wilson or, clustered, t), a Wilson
    interval of a run stored before that flag, or a share by name; not a bounded mean's
    `wilson-bounded*` (e.g. a Brier score in [0, 2])."""
    method = estimate.method.removeprefix("paired-")
    return (estimate.proportion or method in ("wilson", "wilson-clusters")
            or metric.startswith(SHARE_PREFIXES))


def number(value: float, share: bool) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{100 * value:.1f}%" if share else f"{value:.4f}"


def interval(estimate: Estimate, share: bool) -> str:
    if not (math.isfinite(estimate.ci_low) and math.isfinite(estimate.ci_high)):
        return "[n/a]"
    if share:
        return f"[{100 * estimate.ci_low:.1f}, {100 * estimate.ci_high:.1f}]"
    return f"[{estimate.ci_low:.4f}, {estimate.ci_high:.4f}]"


def points(value: float) -> str:
    """A signed difference of shares in percentage points."""
    return "n/a" if not math.isfinite(value) else f"{100 * value:+.1f}"


def points_interval(estimate: Estimate) -> str:
    if not (math.isfinite(estimate.ci_low) and math.isfinite(estimate.ci_high)):
        return "[n/a]"
    return f"[{100 * estimate.ci_low:+.1f}, {100 * estimate.ci_high:+.1f}]"


def p_value(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.2g}" if value >= 1e-4 else f"{value:.1e}"


def tokens(count: int) -> str:
    return f"{count:,}"


def usd(value: float | None) -> str:
    return "no price given" if value is None else f"${value:,.4f}"
