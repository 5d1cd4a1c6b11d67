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
from lmaudit.core.types import LmauditError


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
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    import lmaudit.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"lmaudit.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="lmaudit: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LmauditError as error:
        print(f"lmaudit: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lmaudit: interrupted; finished work is kept in the run directory", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
