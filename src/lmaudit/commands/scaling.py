"""`lmaudit scaling`: one task on models of several sizes; every metric vs size, tested."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

DESCRIPTION = """\
Run one task on models of several sizes and report every metric against size on a log
axis, with 95% intervals and the chance level: the task's own exact match beside
partial-credit metrics (the target's log-likelihood per token and per-token accuracy,
teacher-forced; for multiple choice also the Brier score over the choices), so a jump in
exact match can be told from a jump in the model. Each metric gets a slope test over
log10(size) that flags inverse scaling, and a two-lines test that flags U shapes (worse,
then better) and inverted U shapes; p-values are Holm-adjusted across metrics. For a task
with choices, calibration (ECE, RMS error) vs size.

Every model's run is a run directory under OUT/runs (resumable: re-running the same
command continues a killed sweep and reuses finished runs). Writes OUT/report.html and
OUT/scaling.json and prints the table.
"""

EPILOG = """\
examples:
  lmaudit scaling --lab-sweep --out runs/scaling-lab
  lmaudit scaling --model hf:EleutherAI/pythia-70m=7.0e7 \\
      --model hf:EleutherAI/pythia-160m=1.6e8 --model hf:EleutherAI/pythia-410m=4.1e8 \\
      --task arith_mc --out runs/pythia-arith
  lmaudit scaling --model lab:lab-xs --model lab:lab-s --model lab:lab-m \\
      --task lab_codes --size-unit flops

sizes: SPEC=SIZE with SIZE a number such as 1.2e6, 350M or 7B (parameters, or training
FLOPs with --size-unit flops). A lab model's size may be left out: its lab card gives
the parameter count N, and training compute is estimated as 6 N D FLOPs (D: tokens trained).
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "scaling", help="one task on models of several sizes: metrics vs size, "
        "inverse-scaling and U-shape tests, calibration vs size",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", action="append", metavar="SPEC[=SIZE]",
                        help="a model and its size; repeat for each size (at least 2; 3 or "
                        "more for the U-shape test)")
    parser.add_argument("--task", metavar="TASK",
                        help="a generation or multiple-choice task (see `lmaudit tasks`)")
    parser.add_argument("--task-option", action="append", metavar="KEY=VALUE",
                        help="task option, repeatable")
    parser.add_argument("--lab-sweep", action="store_true",
                        help="train (or reuse from the lab folder) lab-xs, lab-s and lab-m and "
                        "sweep them on lab_codes: offline, about a minute on an idle 2-core CPU")
    parser.add_argument("--size-unit", choices=("params", "flops"), default="params",
                        help="what SIZE counts: parameters (default) or training FLOPs")
    parser.add_argument("--metric", action="append",
                        help="metric(s) to analyse (default: the task's first metric, "
                        "target_logprob, target_token_acc; multiple choice adds brier, "
                        "p_correct)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N samples")
    parser.add_argument("--seed", type=int, default=0, help="seed (runs and bootstrap)")
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="level of the tests after Holm's correction (default 0.05)")
    parser.add_argument("--out", type=Path, help="sweep folder (default runs/scaling-<task>)")
    parser.add_argument("--batch-size", type=int, default=16,
                        help="sequences per forward pass of hf:/lab: models (default 16)")
    parser.add_argument("--device", default="auto",
                        help="device of hf:/lab: models (default: auto)")
    parser.add_argument("--no-cache", action="store_true", help="skip the request cache")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="request cache (default $LMAUDIT_CACHE_DIR or ~/.cache/lmaudit/cache)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run)


def _lab_points(args: argparse.Namespace) -> list[str]:
    from lmaudit.core.types import LmauditError
    from lmaudit.lab.sizes import SIZE_CONFIGS, SWEEP_TASK, train_size_sweep

    if args.model or (args.task and args.task != SWEEP_TASK):
        raise LmauditError(f"--lab-sweep chooses the models and the task ({SWEEP_TASK}); "
                           "leave out --model and --task")
    args.task = SWEEP_TASK
    train_size_sweep(progress=not args.no_progress)
    return [f"lab:{name}" for name in SIZE_CONFIGS]


def run(args: argparse.Namespace) -> int:
    from lmaudit.commands._common import parse_key_values
    from lmaudit.core.cache import default_cache_dir
    from lmaudit.core.types import LmauditError
    from lmaudit.scaling.analysis import default_metrics, scaling_section
    from lmaudit.scaling.sweep import (
        load_sweep_runs,
        parse_model_point,
        resolve_sizes,
        run_sweep,
    )
    from lmaudit.tasks.partial_credit import PartialCreditTask
    from lmaudit.tasks.registry import load_task

    specs = _lab_points(args) if args.lab_sweep else list(args.model or [])
    if not args.task or len(specs) < 2:
        raise LmauditError("give --task and at least two --model SPEC=SIZE (or --lab-sweep)")
    if args.limit is not None and args.limit < 1:
        raise LmauditError(f"--limit must be a positive number, got {args.limit}")
    if not 0 < args.alpha < 1:
        raise LmauditError(f"--alpha must lie between 0 and 1, got {args.alpha}")
    points = [parse_model_point(s) for s in specs]
    sizes = resolve_sizes(points, args.size_unit)
    task_options = parse_key_values(args.task_option, flag="--task-option")
    base = load_task(args.task, task_options)
    task = PartialCreditTask(base)
    metrics = args.metric or default_metrics(task.metrics)
    known = {m.name for m in task.metrics}
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise LmauditError(f"--metric {unknown[0]}: task {task.name} reports "
                           f"{', '.join(sorted(known))}")
    out = args.out or Path("runs") / f"scaling-{task.name}"
    model_options: dict[str, Any] = {}
    if all(p.spec.partition(":")[0] in ("hf", "lab") for p in points):
        model_options = {"batch_size": args.batch_size, "device": args.device}
    run_dirs = run_sweep(
        points, task, out, limit=args.limit, seed=args.seed, model_options=model_options,
        cache_dir=None if args.no_cache else (args.cache_dir or default_cache_dir()),
        show_progress=not args.no_progress,
        invocation={"task": args.task, "task_options": task_options, "limit": args.limit,
                    "seed": args.seed},
    )
    loaded = [*metrics, *(["confidence"] if "confidence" in known else [])]
    runs = load_sweep_runs(points, sizes, run_dirs, list(dict.fromkeys(loaded)))
    references = getattr(base, "references", None)
    chance = references().get("chance") if callable(references) else None
    section = scaling_section(runs, task.name, task.metrics, metrics, args.size_unit,
                              task_chance=chance, alpha=args.alpha, seed=args.seed)
    _write(section, out)
    return 0


def _write(section: Any, out: Path) -> None:
    from lmaudit.report.html import write_html
    from lmaudit.report.json_render import render_json
    from lmaudit.report.scaling_render import scaling_report
    from lmaudit.report.terminal import render_terminal

    report: Any = scaling_report(section, with_samples=True)
    print(render_terminal(report))
    write_html(report, out / "report.html")
    (out / "scaling.json").write_text(json.dumps(render_json(report), indent=2) + "\n",
                                      encoding="utf-8")
    print(f"\nreport: {out / 'report.html'} · data: {out / 'scaling.json'}")
