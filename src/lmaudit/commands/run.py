"""`lmaudit run`: evaluate a model on a task and store the run (resumable, cached, costed)."""

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
from lmaudit.commands._sampling import add_sampling_options, sampled_task, sampling_invocation


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="evaluate a model on a task; every metric with its 95%% interval",
        description=(
            "Evaluate a model on a task. Writes a run directory (manifest.json, "
            "responses.jsonl journal, samples.parquet, results.json) and prints every metric "
            "with its 95% confidence interval. Every answer is journaled as it arrives: a "
            "killed or failed run continues with --resume (or by re-running the same command "
            "with the same --out) without sending finished requests again. Answers are also "
            "kept in a request cache shared by all runs (--no-cache to skip it)."
        ),
        epilog=(
            "examples:\n"
            "  lmaudit run --model hf:Qwen/Qwen2.5-0.5B --task gsm8k --limit 100\n"
            "  lmaudit run --model hf:./my-model --task mmlu --task-option subject=anatomy\n"
            "  lmaudit run --model lab:demo-contaminated --task arith --out runs/arith-dirty\n"
            "  lmaudit run --model openai:Qwen/Qwen2.5-7B@http://localhost:8000/v1 \\\n"
            "      --task gsm8k --max-concurrency 64 --out runs/qwen-gsm8k\n"
            "  lmaudit run --model openai-chat:gpt-4o-mini#MY_KEY_VAR --task gsm8k \\\n"
            "      --price 0.15,0.60 --max-cost 2.50\n"
            "  lmaudit run --model lab:demo-clean --task arith --samples 8 --temperature 0.6 \\\n"
            "      --verifier self --verifier oracle --limit 100\n"
            "  lmaudit run --resume runs/qwen-gsm8k"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_options(parser, required=False)
    add_task_options(parser, required=False)
    parser.add_argument("--trust-task-code", action="store_true",
                        help="run an lm-eval task file's `!function` hooks (Python code)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N samples")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for bootstrap and of the first sample (sample i: seed + i)")
    parser.add_argument("--out", type=Path, help="run directory (default: runs/<time>-<task>)")
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue an unfinished run: model, task and options come from its manifest",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_sampling_options(parser)
    cache = parser.add_argument_group("request cache")
    cache.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the request cache"
    )
    cache.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="cache directory (default $LMAUDIT_CACHE_DIR or ~/.cache/lmaudit/cache)",
    )
    cost = parser.add_argument_group("cost (US dollars per million tokens)")
    cost.add_argument(
        "--price",
        metavar="PROMPT,COMPLETION",
        help="price of the model, e.g. 0.15,0.60 (overrides --prices)",
    )
    cost.add_argument(
        "--prices",
        type=Path,
        metavar="FILE",
        help="price table, YAML: `model name or glob: {prompt: USD, completion: USD}` "
        "(default: ~/.cache/lmaudit/prices.yaml when it exists)",
    )
    cost.add_argument(
        "--max-cost",
        type=float,
        metavar="USD",
        help="stop before the run could spend more than this (resume later with a larger one)",
    )
    scale = parser.add_argument_group("scale-out")
    scale.add_argument(
        "--replicas",
        type=int,
        metavar="N",
        help="run N copies of the model as Ray actors (a local Ray cluster unless "
        "--ray-address) and share the requests among them",
    )
    scale.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="use the Ray cluster at ADDRESS (auto, ray://host:10001) instead of starting "
        "a local one; every node needs lmaudit installed",
    )
    parser.set_defaults(func=run)


def _invocation_from_resume(args: argparse.Namespace) -> None:
    """Fill model, task and options from the manifest of the run being resumed."""
    from lmaudit.core.redact import MASK, redact
    from lmaudit.core.store import MANIFEST, read_json_object
    from lmaudit.core.types import LmauditError

    path = args.resume / MANIFEST
    if not path.is_file():
        raise LmauditError(f"nothing to resume: {args.resume} holds no {MANIFEST}")
    invocation = read_json_object(path).get("invocation") or {}
    if not isinstance(invocation, dict) or not invocation:
        raise LmauditError(f"{path} does not say how the run was started; rerun it instead")
    for name in ("model", "task"):
        stored = invocation.get(name)
        given = getattr(args, name)
        if given is not None and redact(given) != stored:
            raise LmauditError(f"--resume: the run used --{name} {stored}, not {redact(given)}")
        if given is None and MASK in str(stored):
            raise LmauditError(
                f"--resume: the run's --{name} {stored} held a credential, which is never "
                f"stored; give it again: --{name} SPEC"
            )
        setattr(args, name, given if given is not None else stored)
    args.stored_task_options = invocation.get("task_options") or {}
    args.stored_model_options = invocation.get("model_options") or {}
    args.limit = invocation.get("limit") if args.limit is None else args.limit
    args.seed = invocation.get("seed", args.seed)
    args.stored_sampling = invocation.get("sampling")
    args.out = args.resume


def _meter(args: argparse.Namespace, backend: Any) -> Any:
    from lmaudit.core.types import LmauditError
    from lmaudit.core.usage import (
        CostMeter,
        find_price,
        load_price_table,
        parse_price,
    )
    from lmaudit.lab.paths import lmaudit_home

    price = None
    if args.price:
        price = parse_price(args.price)
    else:
        table_path = args.prices or lmaudit_home() / "prices.yaml"
        if args.prices is not None or table_path.is_file():
            table = load_price_table(table_path)
            model = backend.fingerprint.model
            price = find_price(table, [model, model.split("@")[0], args.model])
            if price is None and args.max_cost is not None:
                raise LmauditError(f"{table_path} has no price for {model.split('@')[0]!r}")
    if args.max_cost is not None and args.max_cost <= 0:
        raise LmauditError(f"--max-cost must be positive, got {args.max_cost}")
    return CostMeter(price, args.max_cost)


def run(args: argparse.Namespace) -> int:
    from lmaudit.backends.registry import load_scaled_backend
    from lmaudit.commands._finished import print_finished_run
    from lmaudit.core.cache import RequestCache, default_cache_dir
    from lmaudit.core.preflight import preflight
    from lmaudit.core.redact import redact
    from lmaudit.core.runner import run_task
    from lmaudit.core.store import default_run_dir
    from lmaudit.core.task import task_annotations
    from lmaudit.core.types import LmauditError
    from lmaudit.report.table import metrics_table
    from lmaudit.tasks.registry import load_task

    if args.resume is not None:
        _invocation_from_resume(args)
    elif not args.model or not args.task:
        raise LmauditError("--model and --task are required (or --resume RUN_DIR)")
    if args.limit is not None and args.limit < 1:
        raise LmauditError(f"--limit must be a positive number, got {args.limit}")
    task_options = {
        **getattr(args, "stored_task_options", {}),
        **parse_key_values(args.task_option, flag="--task-option"),
        **({"trust_task_code": "yes"} if getattr(args, "trust_task_code", False) else {}),
    }
    task = load_task(args.task, task_options)
    sampling = (getattr(args, "stored_sampling", None) if args.resume is not None
                else sampling_invocation(args))
    task = sampled_task(task, sampling, args.seed)
    preflight(task, args.limit)  # data, templates and few-shot fail before the model loads
    options = {**getattr(args, "stored_model_options", {}), **model_options(args)}
    if args.replicas is not None and args.replicas < 1:
        raise LmauditError(f"--replicas must be at least 1, got {args.replicas}")
    task_ref = args.task
    if Path(task_ref).suffix in (".yaml", ".yml") and Path(task_ref).exists():
        task_ref = str(Path(task_ref).resolve())
    invocation = {
        "model": args.model,
        "model_options": {k: v for k, v in options.items() if k != "endpoints"},
        "task": task_ref,
        "task_options": task_options,
        "limit": args.limit,
        "seed": args.seed,
        **({"sampling": sampling} if sampling is not None else {}),
    }
    # a finished run: its results again (with --resume, whatever options it was run with)
    expected = {} if args.resume is not None else {"invocation": invocation}
    if args.out is not None and print_finished_run(args.out, "run", expected):
        return 0
    backend: Any = load_scaled_backend(
        args.model, options, replicas=args.replicas or 1, ray_address=args.ray_address
    )
    meter = _meter(args, backend)
    cache = None if args.no_cache else RequestCache(args.cache_dir or default_cache_dir())
    run_dir = args.out or default_run_dir(task.name, args.model)
    try:
        outcome = run_task(
            task,
            backend,
            run_dir,
            limit=args.limit,
            seed=args.seed,
            model_spec=args.model,
            show_progress=not args.no_progress,
            cache=cache,
            meter=meter,
            invocation=invocation,
            resume=args.resume is not None,
        )
    finally:
        if cache is not None:
            cache.close()
        close = getattr(backend, "close", None)
        if callable(close):
            close()
    metrics = {name: est.to_dict() for name, est in outcome.metrics.items()}
    title = (
        f"{task.name} · {redact(args.model)} · {outcome.n_samples} samples · "
        f"{outcome.seconds:.1f} s"
    )
    print(metrics_table(metrics, title=title))
    for note in task_annotations(task).get("notes", []):
        print(f"note: {note}")
    if outcome.usage:
        print(usage_line(outcome.usage))
    if outcome.scoring_path:
        print(scoring_path_line(outcome.scoring_path))
    print(f"run stored in {outcome.run_dir}")
    return 0


def scoring_path_line(path: dict[str, Any]) -> str:
    """One line: the multiple-choice scoring path a run used and, if not packed, why."""
    reasons = "; ".join(path.get("reasons") or [])
    return f"multiple-choice scoring: {path['mode']}" + (f" ({reasons})" if reasons else "")


def usage_line(usage: dict[str, Any]) -> str:
    """One line: requests, cache hits, tokens, latency percentiles, cost."""
    parts = [
        f"{usage['requests']} requests ({usage['cached']} from cache)",
        f"{usage['prompt_tokens']:,} prompt + {usage['completion_tokens']:,} completion tokens",
    ]
    if "latency_p50_s" in usage:
        parts.append(
            f"latency p50 {usage['latency_p50_s'] * 1000:.0f} ms, "
            f"p90 {usage['latency_p90_s'] * 1000:.0f} ms, "
            f"p99 {usage['latency_p99_s'] * 1000:.0f} ms"
        )
    if "cost_usd" in usage:
        parts.append(f"cost ${usage['cost_usd']:.4f}")
    return "usage: " + " · ".join(parts)
