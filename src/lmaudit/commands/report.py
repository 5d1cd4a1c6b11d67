"""`lmaudit report`: one offline HTML report (and optionally JSON) from existing directories."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="build one offline HTML report from run, probe, contamination or audit dirs",
        description=(
            "Read run directories (`lmaudit run`/`score`), probe runs, contamination test "
            "directories and audit directories, and write one self-contained HTML file: a "
            "trust card per model and task, comparisons with adjusted p-values, probes, "
            "prompt sensitivity, a sample viewer and what reproduces each number. Prints "
            "the compact summary."
        ),
    )
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="directories to read")
    parser.add_argument("--out", type=Path, required=True, help="HTML file to write")
    parser.add_argument("--json", type=Path, help="also write the report's objects as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from lmaudit.report import load_report, render_json, render_terminal, write_html

    report = load_report(args.dirs)
    path = write_html(report, args.out)  # files first: a closed stdout loses nothing
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(render_json(report), indent=2, ensure_ascii=False)
                             + "\n", encoding="utf-8")
    print(render_terminal(report))
    print(f"report: {path}")
    return 0
