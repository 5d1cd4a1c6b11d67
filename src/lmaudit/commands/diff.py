"""`lmaudit diff`: where two runs part, sample by sample, and what explains the gap."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmaudit.interop.diff import RunDiff


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="explain why two runs' scores differ, sample by sample",
        description=(
            "Align two runs by sample id (or by prompt content when ids differ) and, for "
            "every sample whose score differs, say where the runs first part: prompt, "
            "tokens, target, raw response, extracted answer, or only the comparison; then "
            "attribute the score gap (B − A) to those causes."
        ),
    )
    parser.add_argument("run_a", type=Path, help="run directory A")
    parser.add_argument("run_b", type=Path, help="run directory B")
    parser.add_argument("--metric", help="per-sample metric (default: the first shared)")
    parser.add_argument("--limit", type=int, default=20,
                        help="differing samples to list (default 20; all go to --json)")
    parser.add_argument("--json", type=Path, help="also write the diff as JSON")
    parser.set_defaults(func=run)


def render(diff: RunDiff, limit: int = 20) -> str:
    """The diff as terminal text: the gap, the causes table, the first `limit` samples."""
    from lmaudit.report.table import text_table

    lines = [
        f"metric {diff.metric}  aligned by {diff.aligned_by}: {diff.n_aligned} samples "
        f"(only A: {diff.n_only_a}, only B: {diff.n_only_b})",
        f"A {diff.mean_a:.4f}  B {diff.mean_b:.4f}  gap B − A {diff.gap:+.4f}  "
        f"({len(diff.samples)} samples differ)",
    ]
    if diff.causes:
        rows = [(c.cause, str(c.count), f"{c.gap:+.4f}") for c in diff.causes]
        lines += ["", text_table(("first parts at", "samples", "share of gap"), rows)]
        shown = [(d.key[:24], f"{d.score_a:g} → {d.score_b:g}", d.cause, d.detail[:100])
                 for d in diff.samples[:limit]]
        lines += ["", text_table(("sample", "score", "cause", "where"), shown)]
        if len(diff.samples) > limit:
            lines.append(f"… {len(diff.samples) - limit} more (see --json)")
    if diff.same_score_differences:
        quiet = ", ".join(f"{c.cause} {c.count}" for c in diff.same_score_differences)
        lines.append(f"same score, yet the runs part at: {quiet}")
    elif not diff.samples:
        lines.append("no difference: prompts, tokens, targets, responses and answers agree")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from lmaudit.core.store import load_run
    from lmaudit.interop.diff import diff_runs

    diff = diff_runs(load_run(args.run_a), load_run(args.run_b), args.metric)
    print(f"A = {args.run_a}\nB = {args.run_b}")
    print(render(diff, args.limit))
    if args.json:
        args.json.write_text(json.dumps(diff.to_dict(), indent=2, default=str) + "\n")
    return 0
