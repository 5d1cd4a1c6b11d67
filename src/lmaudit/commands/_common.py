"""Argument helpers shared by sub-commands (not a sub-command: no `register`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lmaudit.core.types import LmauditError


def parse_key_values(pairs: Sequence[str] | None, *, flag: str) -> dict[str, str]:
    """`["a=1", "b=x"]` → `{"a": "1", "b": "x"}`; a malformed pair names the flag."""
    result: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LmauditError(f"{flag} expects KEY=VALUE, got {pair!r}")
        result[key.strip()] = value.strip()
    return result


def add_model_options(parser: argparse.ArgumentParser) -> None:
    from lmaudit.backends.registry import SPEC_HELP

    parser.add_argument("--model", required=True, metavar="SPEC", help=SPEC_HELP)
    parser.add_argument(
        "--batch-size", type=int, default=16, help="sequences per forward pass (default 16)"
    )
    parser.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", "float32", "bfloat16", "float16"],
        help="weights dtype (default: the checkpoint's, float32 on CPU)",
    )
    parser.add_argument(
        "--device", default="auto", help="cpu, cuda, cuda:N or auto (default: cuda if available)"
    )


def add_task_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--task",
        required=True,
        metavar="TASK",
        help="a registered task (see `lmaudit tasks`) or a path to a YAML task file",
    )
    parser.add_argument(
        "--task-option",
        action="append",
        metavar="KEY=VALUE",
        help="task option, repeatable, e.g. data=test.jsonl, subject=anatomy, fewshot=5",
    )


def model_options(args: argparse.Namespace) -> dict[str, object]:
    return {"batch_size": args.batch_size, "dtype": args.dtype, "device": args.device}
