"""`lmaudit contamination`: contamination checks (`scan`: corpus n-gram overlap)."""

from __future__ import annotations

import argparse
from typing import Any

from lmaudit.commands._common import add_task_options, parse_key_values


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "contamination",
        help="is a benchmark in a training corpus? (n-gram overlap scan)",
        description="Contamination checks for a benchmark.",
    )
    commands = parser.add_subparsers(dest="contamination_command", metavar="SUBCOMMAND")
    _register_scan(commands)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _register_scan(commands: Any) -> None:
    scan = commands.add_parser(
        "scan",
        help="word n-gram overlap of every benchmark item with a corpus",
        description=(
            "Stream a corpus (jsonl, parquet or text files, optionally .gz/.zst) and report "
            "per benchmark item its GPT-3-normalized n-gram overlap, its Llama-2 token "
            "contamination and its answer-anchored matches. Paraphrased copies are not "
            "visible to n-grams."
        ),
    )
    scan.add_argument(
        "--corpus", nargs="+", required=True, metavar="PATH",
        help="corpus files or directories (.jsonl/.parquet/text, optionally .gz or .zst)",
    )
    add_task_options(scan)
    scan.add_argument("--out", help="run directory (default runs/<time>-<task>-contamination)")
    scan.add_argument("--ngram", type=int, default=13, help="n-gram length in words (default 13)")
    scan.add_argument(
        "--span", type=int, default=10,
        help="minimum matched span (words) for Llama-2 token contamination (default 10)",
    )
    scan.add_argument(
        "--max-ngram-count", type=int, default=1000,
        help="ignore n-grams found in more corpus documents than this (common phrases; "
        "default 1000)",
    )
    scan.add_argument("--text-field", default="text", help="document text field (default text)")
    scan.add_argument(
        "--id-field", default="id",
        help="document id field (default id; missing ids become FILE@OFFSET or FILE#ROW)",
    )
    scan.add_argument("--workers", type=int, default=0, help="processes (default: all cores)")
    scan.add_argument(
        "--ray", metavar="ADDRESS",
        help="run on a Ray cluster through Ray Data (needs pip install 'ray[data]')",
    )
    scan.set_defaults(func=run_scan)


def run_scan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lmaudit.contamination.items import benchmark_grams
    from lmaudit.contamination.matching import ReadOptions
    from lmaudit.contamination.scan import ScanConfig, scan_corpus
    from lmaudit.contamination.scan_report import summary_text, write_scan_run
    from lmaudit.core.store import default_run_dir
    from lmaudit.core.types import LmauditError
    from lmaudit.tasks.registry import load_task

    for flag, value in (("--ngram", args.ngram), ("--span", args.span)):
        if value < 1:
            raise LmauditError(f"{flag} must be at least 1, got {value}")
    options = parse_key_values(args.task_option, flag="--task-option")
    samples = load_task(args.task, options).samples()
    config = ScanConfig(
        n=args.ngram, span=args.span, max_ngram_count=args.max_ngram_count,
        workers=args.workers, read=ReadOptions(args.text_field, args.id_field),
    )
    items = benchmark_grams(samples, config.n, config.span)
    result = scan_corpus(items, list(args.corpus), config, ray_address=args.ray)
    out = Path(args.out) if args.out else default_run_dir(args.task, "contamination")
    info = write_scan_run(
        out, result, config,
        {"task": args.task, "task_options": options, "corpus": list(args.corpus),
         "ray": args.ray},
    )
    print(summary_text(result, info))
    print(f"run directory: {out}")
    return 0
