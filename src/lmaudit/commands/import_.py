"""`lmaudit import`: other harnesses' logs as lmaudit run directories."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lmaudit.interop.import_store import ImportedTask


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import lm-evaluation-harness or Inspect logs as run directories",
        description=(
            "Write lmaudit run directories from another harness's per-sample logs, so "
            "that compare, report, audit and diff work on them. Metrics get lmaudit's "
            "intervals; the harness's reported value is kept beside each and checked "
            "(exit status 1 on a mismatch)."
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
    inspect = sources.add_parser("inspect", help="an Inspect AI log (.eval or .json)")
    inspect.add_argument("path", type=Path, help="the log file")
    inspect.add_argument("--out", type=Path, required=True, help="run directory to write")
    inspect.add_argument("--seed", type=int, default=0, help="seed for bootstrap intervals")
    inspect.set_defaults(func=run_inspect)


def _print(done: ImportedTask, title: str, harness: str) -> int:
    """Print one imported run's metrics; 1 when a value disagrees with the harness's."""
    from lmaudit.core.store import load_run
    from lmaudit.report.table import metrics_table

    print(metrics_table(load_run(done.run_dir).results["metrics"], title=title))
    status = 0
    for metric in done.metrics:
        if not metric.matches:
            status = 1
            print(f"MISMATCH {metric.name}: lmaudit {metric.value!r} vs {harness} "
                  f"{metric.reported!r}")
    if done.not_imported:
        print(f"not imported (per-sample values are not numbers): "
              f"{', '.join(done.not_imported)}")
    print(f"run stored in {done.run_dir}")
    return status


def run_lm_eval(args: argparse.Namespace) -> int:
    from lmaudit.interop.lm_eval_import import import_task, task_run_dir
    from lmaudit.interop.lm_eval_log import read_lm_eval_dir

    status = 0
    for log in read_lm_eval_dir(args.path, args.results):
        done = import_task(log, task_run_dir(args.out, log.task), seed=args.seed)
        title = f"{log.task} · {done.n_samples} documents · {log.results_file.name}"
        status = max(status, _print(done, title, "lm-eval"))
    return status


def run_inspect(args: argparse.Namespace) -> int:
    from lmaudit.interop.import_store import write_imported_run
    from lmaudit.interop.inspect_log import read_inspect_log, records, reported
    from lmaudit.interop.lm_eval_import import file_sha256

    log = read_inspect_log(args.path)
    rows, skipped = records(log)
    manifest = {"model_spec": log.model, "model_fingerprint": log.model,
                "log_file": str(args.path.resolve()), "log_sha256": file_sha256(args.path),
                "inspect_eval": dict(log.eval)}
    done = write_imported_run(args.out, rows, task=log.task, source="inspect",
                              manifest=manifest, reported=dict(reported(log)),
                              not_imported=skipped, seed=args.seed)
    return _print(done, f"{log.task} · {done.n_samples} samples · {args.path.name}", "Inspect")
