"""`lmaudit compare`: paired comparison of two runs on their shared samples."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="paired difference (B − A) with its interval and McNemar's exact test",
        description=(
            "Compare two runs sample by sample on the samples they share: each run's "
            "mean, the paired difference B − A with its 95% interval (clustered when "
            "samples carry a cluster), and McNemar's exact test for 0/1 metrics."
        ),
    )
    parser.add_argument("run_a", type=Path, help="run directory A")
    parser.add_argument("run_b", type=Path, help="run directory B")
    parser.add_argument("--metric", action="append", help="metric(s) to compare (default: all)")
    parser.add_argument("--json", type=Path, help="also write the comparison as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lmaudit.core.store import load_run
    from lmaudit.core.types import LmauditError
    from lmaudit.stats import compare_runs

    run_a, run_b = load_run(args.run_a), load_run(args.run_b)
    shared = [
        m
        for m in run_a.results.get("metrics", {})
        if m in run_b.results.get("metrics", {})
        and m in run_a.samples.columns
        and m in run_b.samples.columns
    ]
    metrics = args.metric or shared
    unknown = [m for m in metrics if m not in shared]
    if unknown:
        raise LmauditError(
            f"metric(s) {', '.join(unknown)} not per-sample in both runs; "
            f"comparable: {', '.join(shared) or 'none'}"
        )
    bounds = metric_bounds(run_a.manifest)
    comparisons = [
        compare_runs(run_a.samples, run_b.samples, m, bounds=bounds.get(m)) for m in metrics
    ]
    if not comparisons:
        raise LmauditError("the two runs share no per-sample metric")
    first = comparisons[0]
    print(f"A = {args.run_a}\nB = {args.run_b}")
    print(f"shared samples: {first.n_shared}  only A: {first.n_only_a}  only B: {first.n_only_b}")
    header = f"{'metric':<22}{'A':>9}{'B':>9}{'B − A':>9}  {'95% CI':<20}{'McNemar p':>10}"
    print(header)
    print("-" * len(header))
    for c in comparisons:
        d = c.difference
        p = f"{c.mcnemar.p_value:.4g}" if c.mcnemar is not None else "-"
        ci = f"[{d.ci_low:+.4f}, {d.ci_high:+.4f}]"
        print(
            f"{c.metric:<22}{c.mean_a.value:>9.4f}{c.mean_b.value:>9.4f}"
            f"{d.value:>+9.4f}  {ci:<20}{p:>10}"
        )
    if args.json:
        args.json.write_text(json.dumps([c.to_dict() for c in comparisons], indent=2) + "\n")
    return 0


def metric_bounds(manifest: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Ranges of the bounded metrics (`MetricSpec.bounds`) of the task a run evaluated,
    rebuilt from its manifest without loading data; empty when the task cannot be rebuilt
    (a moved task file), and the comparison then uses unbounded intervals for means."""
    from lmaudit.core.types import LmauditError
    from lmaudit.tasks.registry import load_task

    invocation = manifest.get("invocation")
    if not isinstance(invocation, dict) or not isinstance(invocation.get("task"), str):
        return {}
    options = invocation.get("task_options") or {}
    try:
        task = load_task(invocation["task"], {str(k): str(v) for k, v in options.items()})
    except LmauditError:
        return {}
    return {spec.name: spec.bounds for spec in task.metrics if spec.bounds is not None}
