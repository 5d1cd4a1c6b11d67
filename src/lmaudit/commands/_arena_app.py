"""`lmaudit arena serve` and `lmaudit arena export`: the voting web app and its battles file."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from lmaudit.arena.app import DEFAULT_URL, require_app_packages


def register_app_commands(commands: Any) -> None:
    """Add `serve` and `export` to the `arena` sub-commands."""
    serve = commands.add_parser(
        "serve",
        help="run the voting web app (anonymous battles, votes in a database, live leaderboard)",
        description=(
            "Serve the arena: a visitor writes a prompt, two random models answer side by "
            "side (names hidden until the vote), votes are stored in SQLite (WAL) or "
            "PostgreSQL; the leaderboard shows Bradley-Terry ratings with 95% intervals."
        ),
        epilog=(
            "example:\n  lmaudit arena serve --model small=hf:Qwen/Qwen2.5-0.5B-Instruct "
            "--model demo=lab:demo --db sqlite:///arena.db\n"
            "PostgreSQL: --db postgresql://user@host/arena (psycopg 3; the server's fsync and "
            "synchronous_commit=on make an acknowledged vote durable)\n"
            "admin token: $LMAUDIT_ARENA_ADMIN_TOKEN; cookie secret: $LMAUDIT_ARENA_SECRET"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--model", action="append", required=True, metavar="NAME=SPEC",
        help="a model of the arena (give at least two)",
    )
    serve.add_argument("--db", default=DEFAULT_URL, help=f"database URL (default {DEFAULT_URL})")
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--max-tokens", type=int, default=512, help="answer budget (default 512)")
    serve.add_argument("--device", default="auto", help="cpu, cuda or auto (hf/lab models)")
    serve.add_argument(
        "--secure-cookie", action="store_true",
        help="mark the session cookie Secure (behind HTTPS, e.g. a TLS proxy)",
    )
    serve.add_argument(
        "--trust-proxy", action="append", default=[], metavar="CIDR",
        help="address or network (10.0.0.0/8, ::1) of a reverse proxy in front of the arena; "
        "only from these does X-Forwarded-For name the client for the per-address rate limit "
        "(the rightmost hop that is not a listed proxy). Repeatable. Default: none, the "
        "header is ignored and the limit keys on the connecting address",
    )
    serve.set_defaults(func=run_serve)

    export = commands.add_parser(
        "export",
        help="write the arena's voted battles as JSONL for `lmaudit arena rank`",
        description="Write every voted battle (with the answers' style statistics) as JSONL.",
    )
    export.add_argument("--db", default=DEFAULT_URL, help=f"database URL (default {DEFAULT_URL})")
    export.add_argument("--out", type=Path, required=True, help="output JSONL file")
    export.set_defaults(func=run_export)


def _parse_models(items: list[str]) -> dict[str, str]:
    from lmaudit.core.types import LmauditError

    models: dict[str, str] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep or not name.strip() or not spec.strip():
            raise LmauditError(f"--model expects NAME=SPEC, got {item!r}")
        if name.strip() in models:
            raise LmauditError(f"--model {name.strip()!r} is given twice")
        models[name.strip()] = spec.strip()
    return models


def run_serve(args: argparse.Namespace) -> int:
    """Load the backends, build the app and serve it with uvicorn until interrupted."""
    require_app_packages()
    from lmaudit.arena.app.db import make_engine, shown_url, upgrade
    from lmaudit.arena.app.models import ModelPool
    from lmaudit.arena.app.security import TrustedProxies
    from lmaudit.arena.app.server import serve
    from lmaudit.arena.app.web import ArenaConfig, create_app
    from lmaudit.backends.registry import load_backend
    from lmaudit.core.types import GenerationParams

    specs = _parse_models(args.model)
    TrustedProxies.parse(args.trust_proxy)  # a malformed --trust-proxy fails before any loading
    engine = make_engine(args.db)  # so does a database that cannot be opened
    upgrade(engine)
    database = shown_url(engine)
    engine.dispose()
    backends = {}
    for name, spec in specs.items():
        options = {"device": args.device} if spec.split(":", 1)[0] in ("hf", "lab") else {}
        backends[name] = load_backend(spec, options)
    pool = ModelPool(backends, params=GenerationParams(max_tokens=args.max_tokens))
    config = ArenaConfig(
        db_url=args.db,
        secret=os.environ.get("LMAUDIT_ARENA_SECRET"),
        admin_token=os.environ.get("LMAUDIT_ARENA_ADMIN_TOKEN"),
        secure_cookie=args.secure_cookie,
        trusted_proxies=tuple(args.trust_proxy),
    )
    app = create_app(pool, config)
    print(f"arena: {len(backends)} models, database {database}, http://{args.host}:{args.port}/")
    serve(app, args.host, args.port)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Write the voted battles of the database at `--db` to `--out` (JSONL)."""
    require_app_packages()
    from sqlalchemy.orm import sessionmaker

    from lmaudit.arena.app.db import make_engine, upgrade
    from lmaudit.arena.app.store import battle_records

    engine = make_engine(args.db)
    upgrade(engine)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with args.out.open("w", encoding="utf-8") as handle:
        for record in battle_records(sessionmaker(engine)):
            handle.write(json.dumps(record) + "\n")
            count += 1
    engine.dispose()
    print(f"wrote {count} battles to {args.out}")
    return 0
