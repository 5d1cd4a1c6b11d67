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
    change = parser.add_argument_group(
        "model change", "a before/after comparison: every task x every other model against "
        "the baseline (as `lmaudit audit --baseline`)")
    change.add_argument("--baseline", metavar="MODEL",
                        help="the model the others are compared with (its spec as the "
                        "report names it)")
    change.add_argument("--target", action="append", default=[], metavar="TASK",
                        help="with --baseline: a task the tuning meant to improve (repeatable)")
    change.add_argument("--role", action="append", default=[], metavar="TASK=ROLE",
                        help="with --baseline: a task's role (target, general, format, "
                        "safety; default general)")
    add_cost_options(parser)
    parser.set_defaults(func=run)


def change_option(args: argparse.Namespace) -> dict[str, Any] | None:
    """`--baseline`, `--target` and `--role` as load_report's `change`, None without them."""
    from lmaudit.core.types import LmauditError
    from lmaudit.report.change_model import ROLES

    if args.baseline is None:
        if args.target or args.role:
            raise LmauditError("--target and --role need --baseline")
        return None
    roles: dict[str, str] = {}
    for pair in args.role:
        task, equals, role = pair.partition("=")
        if not equals or role not in ROLES:
            raise LmauditError(f"--role expects TASK=ROLE with ROLE one of {', '.join(ROLES)}, "
                               f"got {pair!r}")
        roles[task] = role
    roles.update({task: "target" for task in args.target})
    return {"baseline": args.baseline, "roles": roles}


def add_cost_options(parser: argparse.ArgumentParser) -> None:
    """`--price`, `--prices` and `--compute-rate` (also on `lmaudit audit`)."""
    costs = parser.add_argument_group(
        "cost", "what each model costs, for the cost-accuracy frontier (without a price the "
        "frontier is drawn in tokens; a price recorded by `lmaudit run --price` is used "
        "when none is given here)")
    costs.add_argument("--price", action="append", default=[], metavar="MODEL=IN,OUT",
                       help="USD per million prompt (IN) and completion (OUT) tokens of a "
                       "model, e.g. 'openai:gpt-4o-mini=0.15,0.60'; MODEL may be a glob "
                       "('openai:*'); repeat for several models")
    costs.add_argument("--prices", type=Path, metavar="FILE",
                       help="price table, YAML: `model name or glob: {prompt: USD, "
                       "completion: USD}` (per million tokens); --price entries win")
    costs.add_argument("--compute-rate", action="append", default=[],
                       metavar="MODEL=USD_PER_HOUR",
                       help="for local models: cost = the run's recorded seconds × this "
                       "hourly rate (e.g. 'hf:*=2.50' for a GPU at $2.50/h)")


def pricing(args: argparse.Namespace) -> Any:
    """The `--price`, `--prices` and `--compute-rate` options as a `report.compute.Pricing`."""
    from lmaudit.core.usage import load_price_table
    from lmaudit.report.compute import Pricing, parse_compute_rate, parse_model_price

    prices = dict(load_price_table(args.prices)) if args.prices else {}
    prices.update(parse_model_price(text) for text in args.price)
    return Pricing(prices, dict(parse_compute_rate(text) for text in args.compute_rate))


def run(args: argparse.Namespace) -> int:
    import json

    from lmaudit.report import load_report, render_json, render_terminal, write_html

    report = load_report(args.dirs, pricing(args), change_option(args))
    path = write_html(report, args.out)  # files first: a closed stdout loses nothing
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(render_json(report), indent=2, ensure_ascii=False)
                             + "\n", encoding="utf-8")
    print(render_terminal(report))
    print(f"report: {path}")
    return 0
