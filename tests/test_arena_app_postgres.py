"""The arena web app on a real PostgreSQL server started by `pgserver` (bundled PostgreSQL 16).

The server lives in its own temporary directory for the module (deleted afterwards); the
whole module skips with one line when pgserver is missing or its server cannot start. The
app reaches it through psycopg 3 over its Unix socket.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from arena_app_fixtures import (
    ADMIN,
    battle,
    csrf,
    free_port,
    kill_midway,
    make_client,
    racing_vote_codes,
    start,
)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    # its own short directory: pytest's numbered temp dirs are pruned by concurrent runs, and
    # the server's Unix socket path must stay short
    data = tempfile.mkdtemp(prefix="arena-pg-")
    try:
        import pgserver

        server = pgserver.get_server(data, cleanup_mode="delete")
        server.psql("CREATE DATABASE arena;")
    except Exception as error:  # any failure to start means: no PostgreSQL here
        shutil.rmtree(data, ignore_errors=True)
        pytest.skip(f"PostgreSQL tests skipped: pgserver could not start a server ({error})")
    uri = server.get_uri("arena")
    yield uri.replace("postgresql://", "postgresql+psycopg://", 1)
    server.cleanup()


def test_flow_and_unique_vote_on_postgres(pg_url: str, tmp_path: Path) -> None:
    client = make_client(pg_url)
    headers = csrf(client)
    battle_id, _ = battle(client, headers, "hello postgres")
    url = f"/api/battles/{battle_id}/vote"
    assert client.post(url, json={"choice": "a"}, headers=headers).status_code == 200
    assert client.post(url, json={"choice": "b"}, headers=headers).status_code == 409
    engine = create_engine(pg_url)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text("INSERT INTO votes (battle_id, session_id, choice, created_at) "
                 "VALUES (:b, 'x', 'b', now())"),
            {"b": battle_id},
        )
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        votes = connection.execute(text("SELECT count(*) FROM votes WHERE battle_id = :b"),
                                   {"b": battle_id}).scalar()
    engine.dispose()
    assert votes == 1
    exported = client.get("/api/admin/export", headers={"Authorization": f"Bearer {ADMIN}"})
    rows = [json.loads(line) for line in exported.text.splitlines()]
    assert any(r["prompt_id"] == battle_id and r["winner"] == "model_a" for r in rows)
    from lmaudit.cli import main

    out = tmp_path / "pg.jsonl"
    assert main(["arena", "export", "--db", pg_url, "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == len(rows)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_acknowledged_votes_survive_sigkill_on_postgres(pg_url: str) -> None:
    port = free_port()
    server = start(pg_url, port)
    try:
        acked = kill_midway(server, f"http://127.0.0.1:{port}")
    finally:
        if server.poll() is None:
            server.kill()
    engine = create_engine(pg_url)
    with engine.connect() as connection:
        stored = {row[0] for row in connection.execute(text("SELECT battle_id FROM votes"))}
    engine.dispose()
    assert set(acked) <= stored, f"{len(set(acked) - stored)} acknowledged votes lost"


def test_durable_commits_even_where_the_database_default_is_off(pg_url: str) -> None:
    from lmaudit.arena.app.db import make_engine

    def setting(engine: Any) -> str:
        with engine.connect() as connection:
            return str(connection.execute(text("SHOW synchronous_commit")).scalar())

    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("ALTER DATABASE arena SET synchronous_commit = off"))
    try:
        plain, app = create_engine(pg_url), make_engine(pg_url)
        assert (setting(plain), setting(app)) == ("off", "on")
        plain.dispose()
        app.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text("ALTER DATABASE arena RESET synchronous_commit"))
        admin.dispose()


def test_requests_reconnect_after_the_server_drops_connections(pg_url: str) -> None:
    client = make_client(pg_url)
    headers = csrf(client)
    first, _ = battle(client, headers)  # the pool now holds open connections
    app_engine = client.app.state.engine  # type: ignore[attr-defined]
    with app_engine.connect() as connection:  # the app asks for durable commits on every one
        assert connection.execute(text("SHOW synchronous_commit")).scalar() == "on"
    engine = create_engine(pg_url)
    with engine.connect() as connection:  # what a server restart does to the app's pool
        ended = connection.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )).scalar()
    engine.dispose()
    assert ended and ended >= 1
    vote = client.post(f"/api/battles/{first}/vote", json={"choice": "b"}, headers=headers)
    assert vote.status_code == 200, vote.text  # retried once on a new connection
    second, _ = battle(client, headers)
    assert client.get(f"/api/battles/{second}").status_code == 200


def test_pool_opened_at_startup(pg_url: str) -> None:
    from lmaudit.arena.app.db import POOL_SIZE

    with make_client(pg_url) as client:  # runs the app's startup
        assert client.app.state.engine.pool.checkedin() == POOL_SIZE  # type: ignore[attr-defined]


def test_racing_votes_one_wins_on_postgres(pg_url: str) -> None:
    battle_id, codes = racing_vote_codes(pg_url)
    assert sorted(codes) == [200] + [409] * (len(codes) - 1)  # one vote per battle
    engine = create_engine(pg_url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM votes WHERE battle_id = :b"),
                                    {"b": battle_id}).scalar()
    engine.dispose()
    assert stored == 1
