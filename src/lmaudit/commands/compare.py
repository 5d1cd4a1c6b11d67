"""`lmaudit compare`: paired comparison of two runs on their shared samples."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="paired difference (B − A) with its interval and a paired test",
        description=(
            "Compare two runs sample by sample on the samples they share: each run's "
            "mean, the paired difference B − A with its 95% interval (clustered when "
            "samples carry a cluster) and its two-sided p: McNemar's exact test for a 0/1 "
            "metric on independent samples, else the paired t test (clustered, on G − 1 "
            "degrees of freedom, when samples share clusters)."
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
    from lmaudit.report.comparison import paired_test
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
    header = f"{'metric':<22}{'A':>9}{'B':>9}{'B − A':>9}  {'95% CI':<20}{'p':>10}  test"
    print(header)
    print("-" * len(header))
    tests = [paired_test(c) for c in comparisons]
    for c, (test, p) in zip(comparisons, tests, strict=True):
        d = c.difference
        ci = f"[{d.ci_low:+.4f}, {d.ci_high:+.4f}]"
        print(
            f"{c.metric:<22}{c.mean_a.value:>9.4f}{c.mean_b.value:>9.4f}"
            f"{d.value:>+9.4f}  {ci:<20}{p:>10.4g}  {test}"
        )
    if args.json:
        rows = [{**c.to_dict(), "test": {"name": test, "p_value": p}}
                for c, (test, p) in zip(comparisons, tests, strict=True)]
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
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
