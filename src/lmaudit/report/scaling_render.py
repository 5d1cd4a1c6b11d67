"""The "Scaling" section (terminal and HTML) of a size sweep, and the report holding it."""

from __future__ import annotations

import math
from html import escape

from lmaudit.report import fmt
from lmaudit.report.scaling_model import ScalingMetric, ScalingSection
from lmaudit.report.svg_scaling import metric_panel, size_label
from lmaudit.report.table import text_table
from lmaudit.stats import Estimate

METHOD_NOTE = (
    "Slope: OLS slope of the per-size means on log10(size), per tenfold size, tested over "
    "items (paired across sizes). Shape: the two-lines test (slopes before and after the "
    "worst or best interior size, both significant with opposite signs). p-values are "
    "Holm-adjusted across the sweep's metrics. Step share: the largest change between "
    "adjacent sizes over the total change (1 = all in one jump)."
)


def _cell(metric: ScalingMetric, estimate: Estimate) -> str:
    share = metric.unit == "share"
    return f"{fmt.number(estimate.value, share)} {fmt.interval(estimate, share)}"


def _slope(metric: ScalingMetric) -> str:
    s = metric.slope
    scale, unit = (100.0, " pts") if metric.unit == "share" else (1.0, "")
    if not math.isfinite(s.estimate):
        return "n/a"
    ci = (f" [{scale * s.ci_low:+.3g}, {scale * s.ci_high:+.3g}]"
          if math.isfinite(s.ci_low) else "")
    return f"{scale * s.estimate:+.3g}{unit}{ci}"


def _shape(metric: ScalingMetric, alpha: float) -> str:
    tested = [s for s in metric.shapes if math.isfinite(s.p_adjusted)]
    if not tested:
        return "—"
    best = min(tested, key=lambda s: s.p_adjusted)
    if best.p_adjusted >= alpha:
        return f"none (p {fmt.p_value(best.p_adjusted)})"
    at = f" at {size_label(best.breakpoint)}" if best.breakpoint else ""
    return f"{best.shape}{at} p {fmt.p_value(best.p_adjusted)}"


def _header(section: ScalingSection) -> list[str]:
    return ["metric", *(size_label(s) for s in section.sizes), "slope per 10x",
            "p Holm", "shape (two lines)", "step share", "verdict"]


def _row(metric: ScalingMetric, alpha: float) -> list[str]:
    share = "n/a" if not math.isfinite(metric.largest_step_share) \
        else f"{metric.largest_step_share:.2f}"
    return [metric.name, *(_cell(metric, e) for e in metric.estimates), _slope(metric),
            fmt.p_value(metric.slope.p_adjusted), _shape(metric, alpha), share, metric.verdict]


def _calibration_rows(section: ScalingSection) -> list[list[str]]:
    c = section.calibration
    if c is None:
        return []
    return [["ECE (10 equal-mass bins)", *(f"{e.value:.4f} {fmt.interval(e, False)}"
                                          for e in c.ece)],
            [f"RMS error ({c.rms_bin_size}-item bins)",
             *(f"{e.value:.4f} {fmt.interval(e, False)}" for e in c.rms)]]


def _summary(section: ScalingSection) -> str:
    sizes = section.sizes
    return (f"task {section.task}, {len(section.models)} models from {size_label(sizes[0])} "
            f"to {size_label(sizes[-1])} {section.size_unit}, {section.n_items} items; "
            f"95% intervals")


def scaling_text(section: ScalingSection) -> str:
    """The terminal block."""
    lines = [f"scaling: {_summary(section)}",
             text_table(_header(section), [_row(m, section.alpha) for m in section.metrics])]
    if section.reading:
        lines.append(f"  reading: {section.reading}")
    for m in section.metrics:
        if m.chance is not None:
            lines.append(f"  chance level of {m.name}: {fmt.number(m.chance, m.unit == 'share')}")
    c = section.calibration
    if c is not None:
        lines.append(text_table(["calibration", *(size_label(s) for s in c.sizes)],
                                _calibration_rows(section)))
        lines.append(f"  ECE slope per 10x {c.ece_slope.value:+.4f} "
                     f"{fmt.interval(c.ece_slope, False)}, bootstrap p "
                     f"{fmt.p_value(c.ece_slope_p)}")
    lines.append("  " + METHOD_NOTE)
    lines += [f"  note: {n}" for n in section.notes]
    for model in section.models:
        lines.append(f"  {size_label(model.size)}: {model.model} ({model.run_dir})")
    return "\n".join(lines)


def _panel(section: ScalingSection, metric: ScalingMetric) -> str:
    unit = "" if metric.unit in ("share", "") else f"{metric.unit}, "
    arrow = "higher is better" if metric.higher_is_better else "lower is better"
    return metric_panel(metric.label, section.sizes, metric.estimates, chance=metric.chance,
                        share=metric.unit == "share", subtitle=f"{metric.name}: {unit}{arrow}",
                        unit_label=f", {section.size_unit}")


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def scaling_html(section: ScalingSection | None) -> str:
    """The HTML section (empty string without a sweep)."""
    if section is None:
        return ""
    panels = "".join(_panel(section, m) for m in section.metrics)
    c = section.calibration
    calibration = ""
    if c is not None:
        ece = metric_panel("calibration error (ECE)", c.sizes, c.ece,
                           subtitle="10 equal-mass bins: lower is better",
                           unit_label=f", {section.size_unit}")
        calibration = ("<h3>Calibration vs size</h3>" + ece
                       + _table(["calibration", *(size_label(s) for s in c.sizes)],
                                _calibration_rows(section))
                       + f"<p class=muted>ECE slope per 10x {c.ece_slope.value:+.4f} "
                       f"{escape(fmt.interval(c.ece_slope, False))}, paired bootstrap p "
                       f"{escape(fmt.p_value(c.ece_slope_p))}.</p>")
    notes = "".join(f'<p class="muted">{escape(n)}</p>' for n in section.notes)
    models = "".join(f"<li>{escape(size_label(m.size))} {escape(section.size_unit)}: "
                     f"{escape(m.model)} <span class=muted>({escape(m.run_dir)})</span></li>"
                     for m in section.models)
    return ('<section id="scaling"><h2>Scaling</h2>'
            f"<p class=muted>{escape(_summary(section))}. Exact match needs every token "
            "right; the partial-credit metrics (the target's log-likelihood and per-token "
            "accuracy) move with each token, so a jump in exact match with a smooth "
            "partial-credit curve is a jump in the metric, not in the model.</p>"
            + (f"<p><strong>Reading:</strong> {escape(section.reading)}.</p>"
               if section.reading else "")
            + f'<div class="scaling-panels">{panels}</div>'
            + _table(_header(section), [_row(m, section.alpha) for m in section.metrics])
            + f"<p class=muted>{escape(METHOD_NOTE)}</p>" + calibration + notes
            + f"<ul>{models}</ul></section>")


def scaling_report(section: ScalingSection, *, with_samples: bool = False) -> object:
    """An `AuditReport` that holds only the sweep; `with_samples` reads every model's
    samples from its run directory for the sample viewer (scored on the first metric)."""
    from lmaudit.core.store import load_run
    from lmaudit.report.model import AuditReport, Comparison
    from lmaudit.report.samples import RunSamples, sample_table

    runs = [RunSamples(f"{m.model} ({size_label(m.size)})", section.task, None,
                       load_run(m.run_dir).samples, section.metrics[0].name if section.metrics
                       else None) for m in section.models] if with_samples else []
    return AuditReport(sources=tuple(m.run_dir for m in section.models), audit=None, cards=(),
                       comparison=Comparison((), (), 0), prompt_sensitivity=(), provenance=(),
                       stages=(), samples=sample_table(runs), scaling=section)
