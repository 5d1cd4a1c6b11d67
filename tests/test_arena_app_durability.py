"""Acknowledged votes survive SIGKILL: a real uvicorn server process is killed mid-load.

The server runs in a subprocess (instant scripted models, SQLite WAL with synchronous=FULL);
voter threads vote on prepared battles and remember every vote answered 200; the process is
killed with SIGKILL while votes are in flight; every acknowledged vote must be in the database,
and a restarted server on the same database must go on accepting votes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

TESTS = Path(__file__).resolve().parent
SERVER = """
import sys, uvicorn
from arena_app_fixtures import make_pool
from lmaudit.arena.app.web import ArenaConfig, create_app
config = ArenaConfig(db_url=sys.argv[1], secret="s", rate_capacity=1e6, rate_per_s=1e6)
uvicorn.run(create_app(make_pool(), config), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="error")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(db_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}
    process = subprocess.Popen([sys.executable, "-c", SERVER, db_url, str(port)], env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/session", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the arena server did not start")


def prepare(base: str, n: int) -> tuple[httpx.Client, dict[str, str], list[str]]:
    client = httpx.Client(base_url=base, timeout=10)
    headers = {"X-CSRF-Token": client.get("/api/session").json()["csrf_token"]}
    ids = []
    for i in range(n):
        battle_id = client.post("/api/battles", json={"prompt": f"p{i}"}, headers=headers).json()[
            "battle_id"
        ]
        client.get(f"/api/battles/{battle_id}/stream")
        ids.append(battle_id)
    return client, headers, ids


def vote_all(
    client: httpx.Client, headers: dict[str, str], ids: list[str], acked: list[str]
) -> None:
    for battle_id in ids:
        try:
            response = client.post(
                f"/api/battles/{battle_id}/vote", json={"choice": "a"}, headers=headers
            )
        except httpx.HTTPError:
            return  # the server is gone
        if response.status_code == 200:
            acked.append(battle_id)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_acknowledged_votes_survive_sigkill(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'arena.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start(db_url, port)
    try:
        voters = [prepare(base, 40) for _ in range(4)]
        acked: list[str] = []
        threads = [
            threading.Thread(target=vote_all, args=(client, headers, ids, acked))
            for client, headers, ids in voters
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(acked) < 30 and time.monotonic() < deadline:
            time.sleep(0.005)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        for thread in threads:
            thread.join(20)
    finally:
        if server.poll() is None:
            server.kill()
    assert 30 <= len(acked) < 160, f"{len(acked)} votes acknowledged; the kill came too late"
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
