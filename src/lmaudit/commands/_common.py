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


_API_KINDS = ("openai", "openai-chat")
_API_FLAGS = ("max_concurrency", "timeout", "max_retries", "endpoints", "prompts_per_request")


def add_model_options(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    from lmaudit.backends.registry import SPEC_HELP

    parser.add_argument("--model", required=required, metavar="SPEC", help=SPEC_HELP)
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
    api = parser.add_argument_group("API models (openai: and openai-chat: specs)")
    api.add_argument(
        "--max-concurrency",
        type=int,
        metavar="N",
        help="requests in flight at most (default 32; lowered automatically when the "
        "server answers 429/503, raised again as it recovers)",
    )
    api.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="per-request timeout (default 60)"
    )
    api.add_argument(
        "--max-retries",
        type=int,
        metavar="N",
        help="retries of a request on 429, 5xx, timeouts and malformed answers (default 8)",
    )
    api.add_argument(
        "--endpoints",
        metavar="URL,URL,...",
        help="spread requests over several servers of the same model (base URLs ending "
        "in /v1); replaces the base URL of the spec",
    )
    api.add_argument(
        "--prompts-per-request",
        type=int,
        metavar="N",
        help="send up to N prompts in one completions request as a list (default 1); needs "
        "a server that accepts prompt lists (vLLM, TGI, `lmaudit serve`; not every "
        "server does); openai: models only, chat cannot pack",
    )


def add_task_options(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--task",
        required=required,
        metavar="TASK",
        help="a registered task (see `lmaudit tasks`), a path to a lmaudit YAML task file, "
        "or an lm-evaluation-harness task: lm-eval:FILE.yaml (a task file), "
        "lm-eval:GROUP.yaml (a group file, scored with lm-eval's group aggregates) or "
        "lm-eval:DIR (every task file below DIR as one suite; --task-option tasks=NAME,... "
        "picks tasks, groups or tags of DIR)",
    )
    parser.add_argument(
        "--task-option",
        action="append",
        metavar="KEY=VALUE",
        help="task option, repeatable, e.g. data=test.jsonl, subject=anatomy, fewshot=5",
    )


def model_options(args: argparse.Namespace) -> dict[str, object]:
    """The backend options the spec's kind understands, from the command line."""
    kind = str(args.model).partition(":")[0]
    if kind not in _API_KINDS:
        for flag in _API_FLAGS:
            if getattr(args, flag, None) is not None:
                raise LmauditError(
                    f"--{flag.replace('_', '-')} applies to openai: and openai-chat: models only"
                )
        return {"batch_size": args.batch_size, "dtype": args.dtype, "device": args.device}
    options: dict[str, object] = {}
    for name in ("max_concurrency", "timeout", "max_retries", "prompts_per_request"):
        value = getattr(args, name, None)
        if value is not None:
            if value <= 0:
                raise LmauditError(f"--{name.replace('_', '-')} must be positive, got {value}")
            options[name] = value
    if getattr(args, "endpoints", None):
        urls = [u.strip() for u in args.endpoints.split(",") if u.strip()]
        if not urls:
            raise LmauditError("--endpoints expects comma-separated base URLs")
        options["endpoints"] = urls
    return options
