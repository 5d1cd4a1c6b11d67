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
    """`info` lists entries per model; `clear` deletes them. A cache file that is damaged
    or of a foreign schema cannot be listed; `clear` (without --model-fingerprint) then
    deletes exactly that file and its SQLite side files, nothing else in the directory."""
    from lmaudit.core.cache import CacheDamaged, RequestCache, default_cache_dir, remove_cache_file
    from lmaudit.core.types import LmauditError

    directory = args.cache_dir or default_cache_dir()
    try:
        with RequestCache(directory) as cache:
            if args.action == "clear":
                deleted = cache.clear(args.model_fingerprint)
                print(f"deleted {deleted} cached answers from {cache.path}")
                return 0
            stats = cache.stats()
    except CacheDamaged as damaged:
        if args.action != "clear":
            raise
        if args.model_fingerprint is not None:
            raise LmauditError(
                f"{damaged}; --model-fingerprint cannot pick entries out of a damaged file"
            ) from damaged
        removed = remove_cache_file(damaged.path)
        print(f"deleted the damaged cache file {damaged.path} ({len(removed)} files)")
        return 0
    print(f"{cache.path}: {sum(stats.values())} cached answers")
    for model, count in sorted(stats.items(), key=lambda kv: -kv[1]):
        print(f"  {count:>9,}  {model}")
    return 0
