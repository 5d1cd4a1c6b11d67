"""`lmaudit serve`: an OpenAI-compatible HTTP server over any lmaudit model spec."""

from __future__ import annotations

import argparse
import os
from typing import Any

from lmaudit.commands._common import add_model_options, model_options
from lmaudit.core.types import LmauditError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a model over an OpenAI-compatible HTTP API",
        description=(
            "Serve a model (hf:, lab:, ...) over an OpenAI-compatible HTTP API: "
            "GET /v1/models, POST /v1/completions (echo + logprobs give prompt "
            "log-probabilities, as with vLLM), POST /v1/chat/completions, GET /health and "
            "GET /lmaudit/stats. Concurrent requests are batched for the model. Fault "
            "injection (--fault-rate) makes the server flaky on purpose, to test clients."
        ),
        epilog=(
            "examples:\n"
            "  lmaudit serve --model lab:demo-clean --port 8000\n"
            "  lmaudit serve --model hf:./my-model --port 8000 --served-name my-model \\\n"
            "      --api-key-env MY_KEY_VAR\n"
            "  lmaudit serve --model lab:demo-clean --port 8001 --fault-rate 0.2 \\\n"
            "      --faults 429,500,malformed,stall --stall-seconds 5"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_options(parser)
    parser.add_argument(
        "--port", type=int, default=8000, help="TCP port (default 8000; 0 picks a free one)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--served-name",
        metavar="NAME",
        help="model id that clients send as `model` (default: the spec)",
    )
    parser.add_argument(
        "--max-batch-wait-ms",
        type=float,
        default=5.0,
        metavar="MS",
        help="how long a request waits for others to batch with (default 5 ms); "
        "at most --batch-size requests go to the model together",
    )
    parser.add_argument(
        "--api-key-env",
        metavar="NAME",
        help="require `Authorization: Bearer <key>` where the key is this environment variable",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="close a connection idle this long, and answer 408 to a body that does not "
        "arrive in this time (default 30)",
    )
    parser.add_argument(
        "--max-prompts-per-request",
        type=int,
        default=256,
        metavar="N",
        help="refuse (400) a completions request listing more prompts (default 256)",
    )
    faults = parser.add_argument_group("fault injection (for testing clients)")
    faults.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="probability that a completion request gets a fault (default 0)",
    )
    faults.add_argument(
        "--faults",
        default="429,500,malformed,stall",
        metavar="KINDS",
        help="comma-separated kinds drawn uniformly: 429 (with Retry-After), 500, malformed "
        "(200 with truncated JSON), stall (answer after --stall-seconds) (default: all four)",
    )
    faults.add_argument(
        "--fault-seed", type=int, default=0, help="seed of the per-request fault draws"
    )
    faults.add_argument(
        "--stall-seconds",
        type=float,
        default=5.0,
        metavar="S",
        help="delay of a stalled answer (default 5)",
    )
    faults.add_argument(
        "--retry-after",
        type=int,
        default=1,
        metavar="S",
        help="Retry-After seconds sent with injected 429s (default 1)",
    )
    parser.set_defaults(func=run)


def _api_key(name: str | None) -> str | None:
    if not name:
        return None
    key = os.environ.get(name, "")
    if not key:
        raise LmauditError(f"environment variable {name} (from --api-key-env) is not set")
    return key


def run(args: argparse.Namespace) -> int:
    from lmaudit.backends.registry import load_backend
    from lmaudit.core.redact import redact
    from lmaudit.serve.app import ServerOptions, serve_forever
    from lmaudit.serve.faults import FaultPlan, parse_fault_kinds

    if args.batch_size < 1:
        raise LmauditError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.max_batch_wait_ms < 0:
        raise LmauditError(
            f"--max-batch-wait-ms must not be negative, got {args.max_batch_wait_ms}"
        )
    if not args.idle_timeout > 0:
        raise LmauditError(f"--idle-timeout must be positive, got {args.idle_timeout}")
    if args.max_prompts_per_request < 1:
        raise LmauditError(
            f"--max-prompts-per-request must be at least 1, got {args.max_prompts_per_request}"
        )
    if not 0 <= args.port <= 65535:
        raise LmauditError(f"--port must lie in [0, 65535], got {args.port}")
    plan = None
    if args.fault_rate != 0:
        plan = FaultPlan(
            rate=args.fault_rate,
            kinds=parse_fault_kinds(args.faults),
            seed=args.fault_seed,
            stall_s=args.stall_seconds,
            retry_after_s=args.retry_after,
        )
    options = ServerOptions(
        served_name=args.served_name or redact(args.model),
        max_batch_size=args.batch_size,
        max_batch_wait_ms=args.max_batch_wait_ms,
        api_key=_api_key(args.api_key_env),
        faults=plan,
        idle_timeout_s=args.idle_timeout,
        max_prompts_per_request=args.max_prompts_per_request,
    )
    backend = load_backend(args.model, model_options(args))

    def announce(url: str) -> None:
        print(f"serving {redact(args.model)} as {options.served_name} on {url}", flush=True)

    serve_forever(backend, args.host, args.port, options, announce)
    return 0
