"""Command-line entry point: parses arguments, calls the library, prints.

Every module in `lmaudit.commands` defines `register(subparsers)`, which adds its
sub-command and sets `func` on the parser defaults; `func(args) -> int` returns the exit
code. Modules import heavy libraries (torch, transformers) inside `func`, never at import
time, so `lmaudit --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from lmaudit import __version__
from lmaudit.core.redact import redact, redact_logging
from lmaudit.core.types import LmauditError
from lmaudit.quiet import VERBOSE_HELP, quiet_third_party


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lmaudit",
        description=(
            "Evaluate language models and show how far every score can be trusted: "
            "confidence intervals, paired tests, memorization probes, contamination "
            "tests and pairwise ratings."
        ),
        epilog="Run `lmaudit COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"lmaudit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    import lmaudit.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"lmaudit.commands.{info.name}")
        module.register(subparsers)
    _add_verbose_everywhere(subparsers)
    return parser


def _add_verbose_everywhere(subparsers: argparse._SubParsersAction) -> None:
    """`--verbose` is accepted after any sub-command too (`lmaudit run ... --verbose`)."""
    for sub in subparsers.choices.values():
        sub.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
        )
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_verbose_everywhere(action)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="lmaudit: %(message)s")
    redact_logging()  # no credential inside a URL reaches a log line
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet_third_party(verbose=args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LmauditError as error:
        print(f"lmaudit: error: {redact(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lmaudit: interrupted; finished work is kept in the run directory", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
