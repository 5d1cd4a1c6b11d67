"""`lmaudit run`: evaluate a model on a task and store the run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lmaudit.commands._common import (
    add_model_options,
    add_task_options,
    model_options,
    parse_key_values,
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="evaluate a model on a task; every metric with its 95%% interval",
        description=(
            "Evaluate a model on a task. Writes a run directory (manifest.json, "
            "samples.parquet, results.json) and prints every metric with its 95%% "
            "confidence interval."
        ),
        epilog=(
            "examples:\n"
            "  lmaudit run --model hf:Qwen/Qwen2.5-0.5B --task gsm8k --limit 100\n"
            "  lmaudit run --model hf:./my-model --task mmlu --task-option subject=anatomy\n"
            "  lmaudit run --model lab:contaminated --task arith --out runs/arith-dirty"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_options(parser)
    add_task_options(parser)
    parser.add_argument("--limit", type=int, help="evaluate only the first N samples")
    parser.add_argument("--seed", type=int, default=0, help="seed for sampling and bootstrap")
    parser.add_argument("--out", type=Path, help="run directory (default: runs/<time>-<task>)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lmaudit.backends.registry import load_backend
    from lmaudit.core.runner import run_task
    from lmaudit.core.store import default_run_dir
    from lmaudit.core.types import LmauditError
    from lmaudit.report.table import metrics_table
    from lmaudit.tasks.registry import load_task

    if args.limit is not None and args.limit < 1:
        raise LmauditError(f"--limit must be a positive number, got {args.limit}")
    task = load_task(args.task, parse_key_values(args.task_option, flag="--task-option"))
    backend = load_backend(args.model, model_options(args))
    run_dir = args.out or default_run_dir(task.name, args.model)
    outcome = run_task(
        task,
        backend,
        run_dir,
        limit=args.limit,
        seed=args.seed,
        model_spec=args.model,
        show_progress=not args.no_progress,
    )
    metrics = {name: est.to_dict() for name, est in outcome.metrics.items()}
    title = f"{task.name} · {args.model} · {outcome.n_samples} samples · {outcome.seconds:.1f} s"
    print(metrics_table(metrics, title=title))
    print(f"run stored in {outcome.run_dir}")
    return 0
