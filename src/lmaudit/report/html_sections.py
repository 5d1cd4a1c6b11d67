"""HTML of the comparison, probe, prompt-sensitivity and reproducibility sections."""

from __future__ import annotations

import math
from collections.abc import Sequence

from lmaudit.probes.analysis import verdict
from lmaudit.report import fmt
from lmaudit.report.html_cards import e, value_attr
from lmaudit.report.model import AuditReport, ProbeEvidence
from lmaudit.report.svg import GREEN, ForestRow, Marker, forest_plot, instance_set_histogram


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """Cells are already escaped HTML."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(rows_cell for rows_cell in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _td(text: str, num: bool = False, value: float | None = None) -> str:
    attr = "" if value is None else f' data-value="{value_attr(value)}"'
    return f'<td{" class=num" if num else ""}{attr}>{e(text)}</td>'


def comparison_section(report: AuditReport) -> str:
    parts = ['<section id="comparison"><h2>Comparison across models</h2>']
    for task in report.tasks:
        cards = [c for c in report.cards if c.task == task and c.score is not None]
        if not cards:
            continue
        ref = report.references.get(task)
        markers = []
        if ref is not None and ref.chance is not None:
            markers.append(Marker("chance", ref.chance))
        if ref is not None:
            markers += [Marker(k, v, GREEN) for k, v in ref.human.items()]
        rows = [ForestRow(c.model, c.score.estimate) for c in cards if c.score is not None]
        first = cards[0].score
        metric = first.metric if first else ""
        share = first is not None and fmt.is_share(first.metric, first.estimate)
        parts.append(f"<h3>{e(task)} · {e(metric)}</h3>"
                     + forest_plot(rows, markers if share else (),
                                   f"{task}: {metric} with 95% intervals", share))
    comp = report.comparison
    if comp.rows:
        header = ["task", "metric", "A", "B", "n shared", "A", "B", "B − A", "95% CI", "test",
                  "p", "p Holm", "p BH"]
        rows_html = []
        for r in comp.rows:
            share = fmt.is_share(r.metric, r.mean_a)
            diff = (fmt.points(r.difference.value) + " pts" if share
                    else f"{r.difference.value:+.4f}")
            ci = (fmt.points_interval(r.difference) if share
                  else fmt.interval(r.difference, False))
            rows_html.append([
                _td(r.task), _td(r.metric), _td(r.model_a), _td(r.model_b),
                _td(str(r.n_shared), True), _td(fmt.number(r.mean_a.value, share), True),
                _td(fmt.number(r.mean_b.value, share), True),
                _td(diff, True, r.difference.value), _td(ci, True), _td(r.test),
                _td(fmt.p_value(r.p_value), True, r.p_value),
                _td(fmt.p_value(r.p_holm), True, r.p_holm),
                _td(fmt.p_value(r.p_bh), True, r.p_bh)])
        parts.append(f"<h3>Paired differences on shared samples</h3><p class=muted>"
                     f"{comp.n_tests} tests; Holm controls the family-wise error rate and "
                     "Benjamini–Hochberg the false discovery rate over all of them (every "
                     "task, metric and pair).</p>" + _table(header, rows_html, "paired"))
    else:
        parts.append('<p class="muted">No two models share a task: no paired comparison.</p>')
    if comp.power:
        rows_html = [[_td(p.task), _td(p.metric), _td(str(p.n), True),
                      _td(fmt.number(p.baseline, True), True),
                      _td(f"{100 * p.mde:.1f} points", True, p.mde),
                      _td(f"{100 * p.mde_worst:.1f} points", True, p.mde_worst)]
                     for p in comp.power]
        parts.append("<h3>Smallest detectable difference</h3><p class=muted>At 80% power, "
                     "two-sided alpha 0.05, two models at the observed mean accuracy and "
                     "at 50% (the worst case); normal approximation, independent samples "
                     "(conservative for paired items).</p>"
                     + _table(["task", "metric", "items", "mean", "detectable at the mean",
                               "detectable at 50%"], rows_html, "power"))
    parts.append("</section>")
    return "".join(parts)


def _probe_block(probe: ProbeEvidence) -> str:
    out = [f"<h3>{e(probe.model)} · {e(probe.task)}</h3>"]
    hist = probe.histogram_family
    if hist is not None:
        out.append(instance_set_histogram(
            hist.sets.per_set, probe.analysis.original.value,
            f"{probe.model} · {probe.task}: {hist.family} accuracy per instance set"))
        finite = [v for v in hist.sets.per_set if math.isfinite(v)]
        if finite:
            mean = sum(finite) / len(finite)
            out.append(f'<p class="muted">{e(hist.family)}: {hist.n_sets} instance sets, mean '
                       f"{100 * mean:.1f}%, range {100 * min(finite):.1f}–"
                       f"{100 * max(finite):.1f}%; original "
                       f"{100 * probe.analysis.original.value:.1f}%"
                       "</p>")
    rows = [[_td(f.family), _td(str(f.n_items), True), _td(str(f.n_sets), True),
             _td(fmt.number(f.original.value, True), True),
             _td(fmt.number(f.variant.value, True), True),
             _td(fmt.points(f.drop.value), True, f.drop.value),
             _td(fmt.points_interval(f.drop), True), _td(fmt.p_value(f.mcnemar.p_value), True),
             _td(verdict(f))] for f in probe.families]
    out.append(_table(["family", "items", "sets", "original", "variant", "drop (points)",
                       "95% CI (clustered)", "McNemar p", "verdict"], rows, "probe"))
    return "".join(out)


def probes_section(report: AuditReport) -> str:
    probes = [c.probe for c in report.cards if c.probe is not None]
    if not probes:
        return ('<section id="probes"><h2>Probes</h2><p class="muted">No probe run in this '
                "report.</p></section>")
    return ('<section id="probes"><h2>Probes</h2>'
            + "".join(_probe_block(p) for p in probes) + "</section>")


def prompts_section(report: AuditReport) -> str:
    if not report.prompt_sensitivity:
        return ""
    parts = ['<section id="prompts"><h2>Prompt sensitivity</h2>']
    for spread in report.prompt_sensitivity:
        rows = [ForestRow(name, est) for name, est in spread.variants]
        share = fmt.is_share(spread.metric, spread.variants[0][1])
        size = f"{100 * spread.spread:.1f} points" if share else f"{spread.spread:.4g}"
        parts.append(f"<h3>{e(spread.model)} · {e(spread.task)} · {e(spread.metric)}</h3>"
                     f'<p>spread across {len(rows)} prompts: <span class="prompt-spread" '
                     f'data-value="{value_attr(spread.spread)}">{size}</span></p>'
                     + forest_plot(rows, (), f"{spread.model} · {spread.task}: score per "
                                   "prompt variant", share))
    parts.append("</section>")
    return "".join(parts)


def reproducibility_section(report: AuditReport) -> str:
    parts = ['<section id="reproducibility"><h2>Reproducibility</h2>']
    audit = report.audit
    if audit is not None:
        command = " ".join(audit.command)
        parts.append(f"<p>Reproduce the audit: <code class=command>{e(command)}</code></p>"
                     f"<p class=muted>suite {e(audit.suite_name)} "
                     f"(sha256 {e(audit.suite_sha256 or 'n/a')}) · lmaudit "
                     f"{e(audit.lmaudit_version or '?')} · created {e(audit.created or '?')}</p>")
    else:
        parts.append("<p>Rebuild this report: <code class=command>lmaudit report "
                     + e(" ".join(report.sources)) + "</code></p>")
    rows = [[_td(p.label), _td(p.lmaudit_version or ""), _td((p.git_hash or "")[:12]),
             _td(p.model_fingerprint or ""), _td((p.task_spec_hash or "")[:16]),
             _td(p.prompt_template_hash or ""), _td("" if p.seed is None else str(p.seed)),
             _td(p.scoring_path or ""), _td(p.path)] for p in report.provenance]
    parts.append(_table(["run", "lmaudit", "git", "model fingerprint", "task spec hash",
                         "prompt template hash", "seed", "scoring path", "directory"],
                        rows, "provenance"))
    libraries: dict[str, set[str]] = {}
    for p in report.provenance:
        for name, version in p.libraries.items():
            libraries.setdefault(name, set()).add(version)
    if libraries:
        parts.append("<p class=muted>libraries: " + e(", ".join(
            f"{k} {'/'.join(sorted(v))}" for k, v in sorted(libraries.items()))) + "</p>")
    if report.stages:
        rows = [[_td(s.id), _td(s.kind), _td(s.state), _td(s.error or "")]
                for s in report.stages]
        parts.append("<h3>Stages</h3>" + _table(["stage", "kind", "state", "error"], rows,
                                                "stages"))
    if report.notes:
        parts.append("<ul>" + "".join(f'<li class="missing">{e(n)}</li>' for n in report.notes)
                     + "</ul>")
    parts.append("</section>")
    return "".join(parts)
