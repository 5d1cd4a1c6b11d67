"""HTML of the trust cards (server-rendered: readable without JavaScript).

Every text that came from a run (model names, task names, verdict lines) goes through
`html.escape`. Cards carry `data-model`, `data-task`, and each figure a `data-value` with
its full-precision value, so tests and scripts can read the numbers back.
"""

from __future__ import annotations

import math
from html import escape

from lmaudit.report import fmt
from lmaudit.report.model import TrustCard
from lmaudit.report.svg import reliability_diagram
from lmaudit.report.trust import SIGNAL_NAMES
from lmaudit.stats import Estimate

KEY_SIGNALS = ("delta1", "min_k", "min_k_plus_plus", "zlib")


def e(value: object) -> str:
    """Escaped text."""
    return escape(str(value), quote=True)


def value_attr(value: float) -> str:
    return "" if value is None or not math.isfinite(value) else repr(float(value))


def figure(cls: str, metric: str, estimate: Estimate) -> str:
    """`value [low, high]` with the value in a span carrying data-value."""
    share = fmt.is_share(metric, estimate)
    return (f'<span class="{cls}" data-metric="{e(metric)}" '
            f'data-value="{value_attr(estimate.value)}">{e(fmt.number(estimate.value, share))}'
            f'</span> <span class="ci">{e(fmt.interval(estimate, share))}</span>')


def _score(card: TrustCard) -> str:
    if card.score is None:
        return '<dt>score</dt><dd class="missing">no finished run</dd>'
    s = card.score
    extra = ""
    ref = card.reference
    if ref is not None and ref.chance is not None:
        extra += f' · chance {e(fmt.number(ref.chance, True))}'
    if ref is not None:
        extra += "".join(f" · {e(k)} {e(fmt.number(v, True))}" for k, v in ref.human.items())
    more = "".join(f"<dt>{e(name)}</dt><dd>{figure('card-metric', name, estimate)} "
                   f'<span class="muted">n = {estimate.n}</span></dd>'
                   for name, estimate in card.card_metrics)
    return (f"<dt>{e(s.metric)}</dt><dd>{figure('score', s.metric, s.estimate)} "
            f'<span class="muted">n = {s.n_samples}{extra}</span></dd>{more}')


def _probe(card: TrustCard) -> str:
    probe = card.probe
    family = probe.primary_family if probe is not None else None
    if probe is None or family is None:
        return '<dt>probe drop</dt><dd class="muted">not run</dd>'
    d = family.drop
    return (f'<dt>probe drop</dt><dd><span class="probe-drop" data-value="{value_attr(d.value)}">'
            f"{e(fmt.points(d.value))} points</span> {e(fmt.points_interval(d))} "
            f'<span class="muted">({e(family.family)}, {family.n_sets} sets, '
            f"McNemar p = {e(fmt.p_value(family.mcnemar.p_value))})</span><br>"
            f'<span class="verdict">{e(probe.analysis.verdict)}</span></dd>')


def _contamination(card: TrustCard) -> str:
    c = card.contamination
    if c is None:
        return '<dt>contamination</dt><dd class="muted">not tested</dd>'
    rows = []
    for s in c.signals:
        if s.key not in KEY_SIGNALS and s.verdict in ("no evidence", "not applicable"):
            continue
        est = "n/a" if s.estimate is None else f"{s.estimate:.3f}"
        ci = "" if s.ci_low is None or s.ci_high is None else (
            f" [{s.ci_low:.3f}, {s.ci_high:.3f}]")
        lab = c.operating.get(s.key)
        lab_text = f"; lab: {lab.describe()}" if lab is not None and lab.describe() else ""
        rows.append(f'<li data-signal="{e(s.key)}">{e(SIGNAL_NAMES.get(s.key, s.key))}: '
                    f"{e(est + ci)}, p = {e(fmt.p_value(s.p_value or math.nan))} — "
                    f"{e(s.verdict)}{e(lab_text)}</li>")
    return (f'<dt>contamination</dt><dd><span class="contamination-verdict">{e(c.overall)}'
            f"</span><ul>{''.join(rows)}</ul></dd>")


def _scan(card: TrustCard) -> str:
    scan = card.scan
    if scan is None:
        return ""
    return (f'<dt>corpus scan</dt><dd><span class="scan" data-value="{scan.dirty}">'
            f"{scan.dirty} of {scan.n_items} items dirty</span>, {scan.flagged_ngram} "
            f"flagged by {scan.ngram}-grams, {scan.answer_anchored} answer-anchored "
            f'<span class="muted">({scan.corpus_documents:,} documents, '
            f"{scan.corpus_bytes / 1e6:.1f} MB; {e(', '.join(scan.checks))})</span></dd>")


def _calibration(card: TrustCard) -> str:
    cal = card.calibration
    if cal is None:
        return ""
    parts = []
    if cal.ece is not None:
        parts.append(f"ECE {figure('ece', 'ece', cal.ece)}")
    if cal.brier is not None:
        parts.append(f"Brier {figure('brier', 'brier', cal.brier)}")
    diagram = reliability_diagram(cal.bins, f"reliability · {card.model} · {card.task}") \
        if cal.bins else ""
    return f"<dt>calibration</dt><dd>{' · '.join(parts)}<br>{diagram}</dd>"


def _failure_and_cost(card: TrustCard) -> str:
    out = ""
    if card.extraction_failure is not None:
        f = card.extraction_failure
        out += (f"<dt>extraction failures</dt><dd>{figure('extract-fail', 'extract_fail', f)}"
                "</dd>")
    if card.cost is not None:
        c = card.cost
        out += (f'<dt>tokens</dt><dd><span class="tokens">{fmt.tokens(c.prompt_tokens)} prompt '
                f"+ {fmt.tokens(c.completion_tokens)} completion</span> · "
                f"{e(fmt.usd(c.cost_usd))}</dd>")
    else:
        out += '<dt>tokens</dt><dd class="muted">not recorded</dd>'
    return out


def card_html(card: TrustCard) -> str:
    """One trust card as an `<article>`: the verdict sentence first, then the evidence."""
    level = card.trust.level.replace(" ", "-")
    missing = "".join(f'<li class="missing">{e(m)}</li>' for m in card.missing)
    return (
        f'<article class="card {level}" data-model="{e(card.model)}" data-task="{e(card.task)}"'
        f' data-trust="{e(card.trust.level)}">'
        f'<h3>{e(card.model)} · {e(card.task)} <span class="level">{e(card.trust.level)}'
        f'</span></h3><p class="sentence">{e(card.trust.sentence)}</p>'
        f"<dl>{_score(card)}{_probe(card)}{_contamination(card)}{_scan(card)}"
        f"{_calibration(card)}{_failure_and_cost(card)}</dl>"
        + (f"<ul>{missing}</ul>" if missing else "") + "</article>"
    )
