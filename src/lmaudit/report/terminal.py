"""`render_terminal`: the compact summary, one trust card per model × task."""

from __future__ import annotations

from lmaudit.report import fmt
from lmaudit.report.model import AuditReport, TrustCard
from lmaudit.report.trust import SIGNAL_NAMES

LEVEL_MARK = {"trusted": "TRUSTED", "caution": "CAUTION", "not trusted": "NOT TRUSTED"}


def card_text(card: TrustCard) -> str:
    """A few lines: score, probe, contamination, calibration, failures, tokens, sentence."""
    lines = [f"== {card.model} · {card.task}  [{LEVEL_MARK.get(card.trust.level, '?')}]"]
    if card.score is not None:
        s = card.score
        share = fmt.is_share(s.metric, s.estimate)
        lines.append(f"  score          {s.metric} {fmt.number(s.estimate.value, share)} "
                     f"{fmt.interval(s.estimate, share)}  n = {s.n_samples}")
    else:
        lines.append("  score          missing")
    for name, estimate in card.card_metrics:
        share = fmt.is_share(name, estimate)
        lines.append(f"  {name:<14} {fmt.number(estimate.value, share)} "
                     f"{fmt.interval(estimate, share)}  n = {estimate.n}")
    family = card.probe.primary_family if card.probe is not None else None
    if family is not None:
        lines.append(f"  probe drop     {fmt.points(family.drop.value)} points "
                     f"{fmt.points_interval(family.drop)} ({family.family}, "
                     f"{family.n_sets} sets, McNemar p = {fmt.p_value(family.mcnemar.p_value)})")
    if card.contamination is not None:
        c = card.contamination
        flagged = [SIGNAL_NAMES.get(s.key, s.key) for s in c.signals
                   if s.verdict in ("strong evidence", "weak evidence")]
        tail = f" ({', '.join(flagged)})" if flagged else ""
        lines.append(f"  contamination  {c.overall}{tail}")
    if card.scan is not None:
        lines.append(f"  corpus scan    {card.scan.dirty} of {card.scan.n_items} items dirty, "
                     f"{card.scan.flagged_ngram} flagged by {card.scan.ngram}-grams")
    extras = []
    if card.calibration is not None and card.calibration.ece is not None:
        extras.append(f"ECE {card.calibration.ece.value:.3f}")
    if card.calibration is not None and card.calibration.brier is not None:
        extras.append(f"Brier {card.calibration.brier.value:.3f}")
    if card.extraction_failure is not None:
        extras.append(f"extraction failures {fmt.number(card.extraction_failure.value, True)}")
    if card.cost is not None:
        extras.append(f"tokens {fmt.tokens(card.cost.prompt_tokens + card.cost.completion_tokens)}"
                      + ("" if card.cost.cost_usd is None else f", {fmt.usd(card.cost.cost_usd)}"))
    if extras:
        lines.append("  " + " · ".join(extras))
    lines.append(f"  → {card.trust.sentence}")
    return "\n".join(lines)


def render_terminal(report: AuditReport) -> str:
    """Every card, then the paired comparisons that stay significant after Holm."""
    blocks = [card_text(c) for c in report.cards]
    significant = [r for r in report.comparison.rows if r.p_holm < 0.05]
    if report.sampling:  # repeated sampling
        from lmaudit.report.sampling_render import sampling_text

        blocks.append(sampling_text(report.sampling))
    if report.comparison.rows:
        lines = [f"paired comparisons: {report.comparison.n_tests} tests, "
                 f"{len(significant)} significant after Holm (alpha 0.05)"]
        for r in significant:
            share = fmt.is_share(r.metric, r.mean_a)
            diff = (f"{fmt.points(r.difference.value)} points" if share
                    else f"{r.difference.value:+.4f}")
            lines.append(f"  {r.task} {r.metric}: {r.model_b} − {r.model_a} = {diff} "
                         f"(p Holm {fmt.p_value(r.p_holm)}, BH {fmt.p_value(r.p_bh)})")
        blocks.append("\n".join(lines))
    if report.diffs:  # lmaudit diff
        from lmaudit.report.diff_render import diff_text

        blocks.append(diff_text(report.diffs))
    if report.change is not None:
        from lmaudit.report.change_text import change_text

        blocks.append(change_text(report.change))
    if report.editing is not None:
        from lmaudit.report.editing_render import editing_text

        blocks.append(editing_text(report.editing))
    if report.compute is not None and not report.compute.empty:
        from lmaudit.report.compute_render import compute_text

        blocks.append(compute_text(report.compute))
    if report.thinking:  # thinking budget
        from lmaudit.report.thinking_budget_render import thinking_text

        blocks.append(thinking_text(report.thinking))
    if report.scaling is not None:  # scaling sweeps
        from lmaudit.report.scaling_render import scaling_text

        blocks.append(scaling_text(report.scaling))
    if report.notes:
        blocks.append("notes:\n" + "\n".join(f"  {n}" for n in report.notes))
    return "\n\n".join(blocks)
