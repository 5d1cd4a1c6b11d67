"""`lmaudit audit`: evaluate models on a suite and collect the evidence behind every score."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lmaudit.commands._common import add_model_options, model_options

DESCRIPTION = """\
Audit one or several models on a suite: for every task of the suite, a run (every metric
with its 95% interval), the memorization probes, the contamination tests and the prompt
variants the suite lists, each stored as a run directory under --out and indexed in
audit.json. Each model is loaded once. A killed or failed audit continues where it stopped
when started again with the same --out: finished stages are never recomputed, unfinished
runs resume from their journal. Ends with the report (report.html in --out) and a short
summary: one trust card per model.

Before/after: with --baseline, every other model is compared with the baseline on every
task of the suite (the change matrix: paired difference with its 95% interval, McNemar or
paired t p-values, Holm-adjusted over the whole matrix), per task role (target, general,
format, safety: the suite's `role:` keys, or --target) and in a learning-vs-forgetting plot
(x: gain on the target task, y: mean change on the others; one point per model).
"""

EPILOG = """\
built-in suites: demo (arith, arith_mc on the lab models), reasoning (gsm8k + GSM-Symbolic,
math500, aime24, aime25, gpqa_diamond), knowledge (mmlu, arc_challenge, mmlu_pro, hellaswag,
truthfulqa_mc1/mc2), instructions (ifeval, humaneval, mbpp); or a YAML suite file (see
lmaudit.audit.suite for its keys).

examples:
  lmaudit audit --model lab:demo-clean --model lab:demo-contaminated --suite demo
  lmaudit audit --model hf:Qwen/Qwen2.5-0.5B --suite reasoning --limit 100 --out runs/qwen
  lmaudit audit --model hf:Qwen/Qwen2.5-0.5B --suite knowledge \\
      --task-option mmlu:subject=anatomy --json audit.json
  lmaudit audit --model lab:base --model lab:tuned-r4 --model lab:tuned-r16 \\
      --baseline lab:base --target arith --suite my_suite.yaml
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit", help="audit models on a suite: runs, probes, contamination, one report",
        description=DESCRIPTION, epilog=EPILOG, conflict_handler="resolve",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_options(parser, required=False)
    from lmaudit.backends.registry import SPEC_HELP

    parser.add_argument("--model", action="append", required=True, metavar="SPEC",
                        help=f"a model to audit, repeatable. {SPEC_HELP}")
    parser.add_argument("--suite", required=True, metavar="NAME_OR_FILE",
                        help="a built-in suite (demo, reasoning, knowledge, instructions) or a "
                        "YAML file")
    parser.add_argument("--baseline", metavar="SPEC",
                        help="one of the --model specs: compare every other model with it "
                        "(the change matrix of a before/after audit)")
    parser.add_argument("--target", action="append", metavar="TASK",
                        help="with --baseline: the task the tuning meant to improve "
                        "(repeatable; replaces the suite's `role: target` tasks)")
    parser.add_argument("--out", type=Path,
                        help="audit directory (default runs/audit-<time>-<suite>); an audit "
                        "already there is continued")
    parser.add_argument("--limit", type=int, help="evaluate only the first N items per task")
    parser.add_argument("--task-option", action="append", metavar="TASK:KEY=VALUE",
                        help="override a task option of the suite, repeatable, e.g. "
                        "gsm8k:data=test.jsonl")
    parser.add_argument("--seed", type=int, default=0, help="seed for sampling and bootstrap")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the report as JSON to FILE")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    from lmaudit.commands.report import add_cost_options

    add_cost_options(parser)  # the report's cost section only; runs are not metered
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the request cache")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="request cache directory (default $LMAUDIT_CACHE_DIR or "
                        "~/.cache/lmaudit/cache)")
    parser.set_defaults(func=run_audit_command)


def task_overrides(suite: Any, pairs: list[str] | None) -> Any:
    """The suite with `TASK:KEY=VALUE` overrides applied to its tasks' options."""
    from dataclasses import replace

    from lmaudit.core.types import LmauditError

    tasks = {t.id: t for t in suite.tasks}
    for pair in pairs or ():
        task_id, colon, rest = pair.partition(":")
        key, equals, value = rest.partition("=")
        if not colon or not equals or not key.strip():
            raise LmauditError(f"--task-option expects TASK:KEY=VALUE, got {pair!r}")
        if task_id not in tasks:
            raise LmauditError(f"--task-option {pair!r}: suite {suite.name} has no task "
                               f"{task_id!r} (tasks: {', '.join(tasks)})")
        task = tasks[task_id]
        tasks[task_id] = replace(task, options={**task.options, key.strip(): value.strip()})
    return replace(suite, tasks=tuple(tasks.values()))


def backend_options(args: argparse.Namespace, spec: str) -> dict[str, object]:
    """The command's backend options for one model: API flags apply to API models only."""
    values = vars(args).copy()
    values["model"] = spec
    if spec.partition(":")[0] not in ("openai", "openai-chat"):
        for name in ("max_concurrency", "timeout", "max_retries", "endpoints",
                     "prompts_per_request"):
            values[name] = None
    return model_options(argparse.Namespace(**values))


def reproducing_command(args: argparse.Namespace, out: Path) -> list[str]:
    """The command line that reproduces (or continues) this audit."""
    command = ["lmaudit", "audit"]
    for spec in args.model:
        command += ["--model", spec]
    command += ["--suite", str(args.suite), "--out", str(out)]
    if getattr(args, "baseline", None):
        command += ["--baseline", args.baseline]
    for task in getattr(args, "target", None) or ():
        command += ["--target", task]
    if args.limit is not None:
        command += ["--limit", str(args.limit)]
    for pair in args.task_option or ():
        command += ["--task-option", pair]
    if args.seed:
        command += ["--seed", str(args.seed)]
    for text in getattr(args, "price", None) or ():
        command += ["--price", text]
    if getattr(args, "prices", None):
        command += ["--prices", str(args.prices)]
    for text in getattr(args, "compute_rate", None) or ():
        command += ["--compute-rate", text]
    for flag in ("batch_size", "dtype", "device"):
        default = {"batch_size": 16, "dtype": "auto", "device": "auto"}[flag]
        if getattr(args, flag, default) != default:
            command += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    return command


def run_audit_command(args: argparse.Namespace) -> int:
    import datetime as dt

    from lmaudit.audit.finish import finish_audit
    from lmaudit.audit.orchestrate import run_audit
    from lmaudit.audit.stages import StageContext
    from lmaudit.audit.suite import load_suite
    from lmaudit.backends.registry import load_backend
    from lmaudit.core.cache import RequestCache, default_cache_dir

    suite = task_overrides(load_suite(args.suite), args.task_option)
    options = {spec: backend_options(args, spec) for spec in args.model}
    recorded = {spec: {k: v for k, v in o.items() if k != "endpoints"}
                for spec, o in options.items()}
    out = args.out or Path("runs") / (
        f"audit-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{suite.name}")
    cache = None if args.no_cache else RequestCache(args.cache_dir or default_cache_dir())
    try:
        outcome = run_audit(
            suite, args.model, out, load_model=lambda spec: load_backend(spec, options[spec]),
            limit=args.limit, command=reproducing_command(args, out),
            context=StageContext(seed=args.seed, cache=cache, show_progress=not args.no_progress,
                                 model_options=recorded),
            baseline=args.baseline, targets=tuple(args.target or ()),
        )
    finally:
        if cache is not None:
            cache.close()
    from lmaudit.commands.report import pricing

    summary = finish_audit(out, outcome.index, json_file=args.json, pricing=pricing(args))
    print(summary.text)
    for stage in outcome.index.stages:
        if stage.state == "failed":
            print(f"failed: {stage.id}: {stage.error}", file=sys.stderr)
    if summary.html is not None:
        print(f"report: {summary.html}")
    print(f"audit stored in {out} ({len(outcome.computed)} stages computed, "
          f"{len(outcome.skipped)} already done, {outcome.seconds:.0f} s)")
    return 1 if outcome.failed or summary.error else 0
