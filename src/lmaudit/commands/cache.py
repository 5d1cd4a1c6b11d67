"""`lmaudit cache`: what the request cache holds, and clearing it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cache",
        help="show or clear the request cache (answers reused across runs)",
        description=(
            "The request cache keeps every answer keyed by model fingerprint and request "
            "(generation parameters included), so a repeated request is never sent twice. "
            "Sampled generations without a seed are not cached."
        ),
    )
    parser.add_argument(
        "action", choices=["info", "clear"], help="info: entries per model; clear: delete"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="cache directory (default $LMAUDIT_CACHE_DIR or ~/.cache/lmaudit/cache)",
    )
    parser.add_argument(
        "--model-fingerprint",
        metavar="KEY",
        help="with clear: only this model's entries (as `info` lists them)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lmaudit.core.cache import RequestCache, default_cache_dir

    with RequestCache(args.cache_dir or default_cache_dir()) as cache:
        if args.action == "clear":
            deleted = cache.clear(args.model_fingerprint)
            print(f"deleted {deleted} cached answers from {cache.path}")
            return 0
        stats = cache.stats()
        print(f"{cache.path}: {sum(stats.values())} cached answers")
        for model, count in sorted(stats.items(), key=lambda kv: -kv[1]):
            print(f"  {count:>9,}  {model}")
    return 0
