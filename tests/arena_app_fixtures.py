"""Shared pieces of the arena web-app tests: scripted instant backends and a client helper."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
