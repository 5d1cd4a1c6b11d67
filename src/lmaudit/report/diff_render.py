"""The report's "why the scores differ" section (`lmaudit.interop.diff_pairs.PairDiff`):
terminal lines and HTML, from the same objects. Gaps are B − A in the metric's units."""

from __future__ import annotations

from collections.abc import Sequence

from lmaudit.interop.diff_pairs import PairDiff
from lmaudit.report.html_cards import e


def _headline(pair: PairDiff) -> str:
    d = pair.diff
    return (f"{pair.task} {d.metric}: {pair.model_b} − {pair.model_a} = {d.gap:+.4f} over "
            f"{d.n_aligned} samples aligned by {d.aligned_by}; {pair.n_differing} differ")


def _same_score(pair: PairDiff) -> str:
    """Where samples with equal scores still part (as `lmaudit diff` says it), or ""."""
    quiet = ", ".join(f"{c.cause} {c.count}" for c in pair.diff.same_score_differences)
    return f"same score, yet the runs part at: {quiet}" if quiet else ""


def diff_text(diffs: Sequence[PairDiff]) -> str:
    """One headline per pair, then where the differing samples first part."""
    lines = ["why the scores differ (lmaudit diff):"]
    for pair in diffs:
        lines.append(f"  {_headline(pair)}")
        for share in pair.diff.causes:
            lines.append(f"    first part at {share.cause:<10} {share.count:>4} samples  "
                         f"share of gap {share.gap:+.4f}")
        if _same_score(pair):
            lines.append(f"    {_same_score(pair)}")
        elif not pair.diff.causes:
            lines.append("    no difference: prompts, responses and answers agree")
    return "\n".join(lines)


def diff_html(diffs: Sequence[PairDiff]) -> str:
    """The section (empty when no pair of runs shares samples)."""
    if not diffs:
        return ""
    parts = ['<section id="diffs"><h2>Why the scores differ</h2>']
    for pair in diffs:
        parts.append(f"<h3>{e(_headline(pair))}</h3>")
        rows = "".join(f"<tr><td>{e(s.cause)}</td><td class=num>{s.count}</td>"
                       f"<td class=num>{s.gap:+.4f}</td></tr>" for s in pair.diff.causes)
        if rows:
            parts.append("<table><thead><tr><th>first part at</th><th>samples</th>"
                         f"<th>share of gap</th></tr></thead><tbody>{rows}</tbody></table>")
            shown = "".join(
                f"<tr><td>{e(d.key)}</td><td class=num>{d.score_a:g} → {d.score_b:g}</td>"
                f"<td>{e(d.cause)}</td><td>{e(d.detail)}</td></tr>"
                for d in pair.diff.samples)
            parts.append("<table><thead><tr><th>sample</th><th>score</th><th>cause</th>"
                         f"<th>where</th></tr></thead><tbody>{shown}</tbody></table>")
        else:
            parts.append('<p class="muted">No sample differs in score.</p>')
        if _same_score(pair):
            parts.append(f'<p class="muted">{e(_same_score(pair))}</p>')
    return "".join(parts) + "</section>"
