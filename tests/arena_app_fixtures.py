"""Shared pieces of the arena web-app tests: scripted backends, clients, a real server process.

`start` runs the app in a uvicorn subprocess (through `server.serve`, as `lmaudit arena serve`
does) and `kill_midway` votes from threads and SIGKILLs that process under load.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from lmaudit.arena.app.models import ModelPool
from lmaudit.arena.app.web import ArenaConfig, create_app
from lmaudit.core.types import Fingerprint, GenerateRequest, Generation, LmauditError, RequestKind

HOSTILE = "<script>window.pwned=1</script> **bold** <img src=x onerror=\"window.pwned=2\">"
ADMIN = "admin-token-for-tests"


class ScriptedBackend:
    """Answers at once with a fixed text, `{prompt}` replaced by the prompt (or fails)."""

    def __init__(self, reply: str, *, fail: bool = False, chat: bool = True) -> None:
        self.reply = reply
        self.fail = fail
        self.chat = chat
        self.prompts: list[str] = []

    @property
    def capabilities(self) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE})

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint("fake", "scripted", "v1", "n/a")

    def loglikelihood(self, requests: Sequence[Any], progress: Any = None) -> list[Any]:
        raise LmauditError("generation only")

    def loglikelihood_rolling(self, requests: Sequence[Any], progress: Any = None) -> list[Any]:
        raise LmauditError("generation only")

    def generate(self, requests: Sequence[GenerateRequest], progress: Any = None) -> list[Any]:
        if self.fail:
            raise RuntimeError("backend exploded at /secret/path/model.py line 42")
        out = []
        for request in requests:
            if request.messages is None:
                assert request.prompt is not None
                prompt = request.prompt
            elif not self.chat:
                raise LmauditError("no chat template, so it cannot take chat messages")
            else:
                prompt = request.messages[-1].content
            self.prompts.append(prompt)
            out.append(Generation(self.reply.replace("{prompt}", prompt), "stop", 3, 5))
        return out


def make_pool(**replies: str) -> ModelPool:
    """A pool of scripted models, name -> reply (default: alpha, beta, gamma)."""
    replies = replies or {"alpha": "I am **first**.", "beta": "- one\n- list", "gamma": HOSTILE}
    return ModelPool({name: ScriptedBackend(text) for name, text in replies.items()})


def make_client(db_url: str, pool: ModelPool | None = None, **config: Any) -> TestClient:
    """A test client over a fresh app; server errors come back as responses, not raises."""
    settings = {"secret": "s3cret", "admin_token": ADMIN, **config}
    app = create_app(pool or make_pool(), ArenaConfig(db_url=db_url, **settings))
    return TestClient(app, raise_server_exceptions=False)


def csrf(client: TestClient) -> dict[str, str]:
    """Headers with this client's CSRF token (sets the session cookie on first use)."""
    token = client.get("/api/session").json()["csrf_token"]
    return {"X-CSRF-Token": token}


def battle(client: TestClient, headers: dict[str, str], prompt: str = "hi") -> tuple[str, str]:
    """Create a battle and read its whole stream; returns (battle id, stream body)."""
    response = client.post("/api/battles", json={"prompt": prompt}, headers=headers)
    assert response.status_code == 200, response.text
    battle_id = response.json()["battle_id"]
    body = client.get(f"/api/battles/{battle_id}/stream").text
    return battle_id, body


def racing_vote_codes(db_url: str) -> tuple[str, list[int]]:
    """Twelve votes on one battle sent at once by as many threads: (battle id, their
    status codes)."""
    from concurrent.futures import ThreadPoolExecutor

    client = make_client(db_url)
    headers = csrf(client)
    battle_id, _ = battle(client, headers)
    choices = ["a", "b", "tie", "both_bad"] * 3

    def vote(choice: str) -> int:
        url = f"/api/battles/{battle_id}/vote"
        return client.post(url, json={"choice": choice}, headers=headers).status_code

    with ThreadPoolExecutor(len(choices)) as pool:
        return battle_id, list(pool.map(vote, choices))


TESTS = Path(__file__).resolve().parent
SERVER = """
import sys
from arena_app_fixtures import make_pool
from lmaudit.arena.app.server import serve
from lmaudit.arena.app.web import ArenaConfig, create_app
config = ArenaConfig(db_url=sys.argv[1], secret="s", rate_capacity=1e6, rate_per_s=1e6)
serve(create_app(make_pool(), config), "127.0.0.1", int(sys.argv[2]), log_level="error")
"""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(db_url: str, port: int) -> subprocess.Popen[bytes]:
    """The arena server in a subprocess, once it answers."""
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
    """A new session with `n` answered battles: (client, CSRF headers, battle ids)."""
    client = httpx.Client(base_url=base, timeout=10)
    headers = {"X-CSRF-Token": client.get("/api/session").json()["csrf_token"]}
    ids = []
    for i in range(n):
        reply = client.post("/api/battles", json={"prompt": f"p{i}"}, headers=headers)
        battle_id = reply.json()["battle_id"]
        client.get(f"/api/battles/{battle_id}/stream")
        ids.append(battle_id)
    return client, headers, ids


def _vote_all(
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


def kill_midway(
    server: subprocess.Popen[bytes], base: str, battles: int = 20, after: int = 15
) -> list[str]:
    """Vote on 4 x `battles` prepared battles from 4 threads; SIGKILL the server once `after`
    votes are acknowledged; return the acknowledged battle ids."""
    voters = [prepare(base, battles) for _ in range(4)]
    acked: list[str] = []
    threads = [threading.Thread(target=_vote_all, args=(client, headers, ids, acked))
               for client, headers, ids in voters]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(acked) < after and time.monotonic() < deadline:
        time.sleep(0.005)
    server.send_signal(signal.SIGKILL)
    server.wait(10)
    for thread in threads:
        thread.join(20)
    assert after <= len(acked) < 4 * battles, f"{len(acked)} acknowledged: the kill came late"
    return acked
