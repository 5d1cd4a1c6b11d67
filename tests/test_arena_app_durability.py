"""Acknowledged votes survive SIGKILL: a real uvicorn server process is killed mid-load.

The server runs in a subprocess (instant scripted models, SQLite WAL with synchronous=FULL);
voter threads vote on prepared battles and remember every vote answered 200; the process is
killed with SIGKILL while votes are in flight; every acknowledged vote must be in the database,
and a restarted server on the same database must go on accepting votes.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from arena_app_fixtures import free_port, kill_midway, prepare, start


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_acknowledged_votes_survive_sigkill(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'arena.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start(db_url, port)
    try:
        acked = kill_midway(server, base)
    finally:
        if server.poll() is None:
            server.kill()
    engine = create_engine(db_url)
    with engine.connect() as connection:
        stored = {row[0] for row in connection.execute(text("SELECT battle_id FROM votes"))}
    engine.dispose()
    assert set(acked) <= stored, f"{len(set(acked) - stored)} acknowledged votes lost"

    restarted = start(db_url, port)  # the same database serves again after the crash
    try:
        client, headers, ids = prepare(base, 1)
        response = client.post(f"/api/battles/{ids[0]}/vote", json={"choice": "b"},
                               headers=headers)
        assert response.status_code == 200
        assert httpx.get(f"{base}/api/leaderboard").json()["votes"] == len(stored) + 1
    finally:
        restarted.kill()
        restarted.wait(10)
