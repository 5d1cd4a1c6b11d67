"""`lmaudit import`: other harnesses' logs as lmaudit run directories."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import lm-evaluation-harness or Inspect logs as run directories",
        description=(
            "Write lmaudit run directories from another harness's per-sample logs, so "
            "that compare, report, audit and diff work on them. Metrics get lmaudit's "
            "intervals; lm-eval's reported value is kept beside each and checked."
        ),
    )
    sources = parser.add_subparsers(dest="source", metavar="SOURCE", required=True)
    lm_eval = sources.add_parser(
        "lm-eval", help="an lm_eval --output_path directory written with --log_samples")
    lm_eval.add_argument("path", type=Path, help="the --output_path directory")
    lm_eval.add_argument("--results", type=Path,
                         help="which results_*.json to import (default: the newest)")
    lm_eval.add_argument("--out", type=Path, required=True,
                         help="directory to hold one run directory per task")
    lm_eval.add_argument("--seed", type=int, default=0, help="seed for bootstrap intervals")
    lm_eval.set_defaults(func=run_lm_eval)


def run_lm_eval(args: argparse.Namespace) -> int:
    from lmaudit.core.store import load_run
    from lmaudit.interop.lm_eval_import import import_task, task_run_dir
    from lmaudit.interop.lm_eval_log import read_lm_eval_dir
    from lmaudit.report.table import metrics_table

    logs = read_lm_eval_dir(args.path, args.results)
    status = 0
    for log in logs:
        done = import_task(log, task_run_dir(args.out, log.task), seed=args.seed)
        metrics = load_run(done.run_dir).results["metrics"]
        print(metrics_table(metrics, title=f"{log.task} · {done.n_samples} documents · "
                                           f"{log.results_file.name}"))
        for metric in done.metrics:
            if not metric.matches:
                status = 1
                print(f"MISMATCH {metric.name}: lmaudit {metric.value!r} vs lm-eval "
                      f"{metric.lm_eval_value!r}")
        if done.not_imported:
            print(f"not imported (per-sample values are not numbers): "
                  f"{', '.join(done.not_imported)}")
        print(f"run stored in {done.run_dir}")
    return status
